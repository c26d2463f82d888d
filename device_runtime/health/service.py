"""The daemon's health service: runs the checks every ``interval_s`` and on demand, keeps a
history (on disk too, so it outlives a restart), publishes each report on the ``health``
topic, and gives the store's activation a health gate (the same checks, polled until they pass
or the grace period ends)."""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import shutil
import subprocess
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Sequence, Tuple

from device_runtime import __version__, config_file
from device_runtime.config_file import ConfigProblem
from device_runtime.health.checks import Snapshot, model_gate, overall, run_checks
from device_runtime.health.history_log import HISTORY_FILE, HistoryLog
from device_runtime.protocol import (
    HEALTH_FAIL,
    SEVERITY_CRITICAL,
    TOPIC_HEALTH,
    AlertEvent,
    DeviceState,
    ErrorCode,
    HealthConfig,
    HealthHistory,
    HealthQuery,
    HealthReport,
    LatencyWindow,
    ProtocolError,
    Record,
)
from device_runtime.server.events import EventBus
from device_runtime.server.service import Handler, Service

log = logging.getLogger("edge_runtime.health")

CONFIG_FILE = os.path.join("config", "health.json")
RESET = "edgectl health-config --reset (or --set KEY=VALUE), or Settings… on the Health page"
HISTORY_LEN = 2880  # a day of reports at the default 30 s


def check_config(cfg: HealthConfig) -> None:
    """Refuse settings that make no sense, saying which and why; raises ProtocolError."""
    problems = []
    if cfg.latency_budget_ms is not None and cfg.latency_budget_ms <= 0:
        problems.append("latency_budget_ms must be above 0")
    for name in ("min_free_memory_mb", "min_free_disk_mb"):
        if getattr(cfg, name) < 0:
            problems.append("%s cannot be negative" % name)
    if not 20.0 <= cfg.max_temperature_c <= 120.0:
        problems.append("max_temperature_c must be between 20 and 120 °C")
    if not 1.0 <= cfg.max_telemetry_age_s <= 3600.0:
        problems.append("max_telemetry_age_s must be between 1 and 3600 s")
    if not 5.0 <= cfg.interval_s <= 3600.0:
        problems.append("interval_s must be between 5 and 3600 s")
    if cfg.restart_service is not None and (not cfg.restart_service or any(c in cfg.restart_service for c in " /;")):
        problems.append("restart_service must be a systemd unit name such as robot-ai.service")
    if problems:
        raise ProtocolError(ErrorCode.BAD_FIELD, "health settings refused: %s" % "; ".join(problems))


class HealthService(Service):
    name = "health"

    def __init__(
        self,
        root: str,
        bus: EventBus,
        memory_total_mb: float,
        had_gpu: bool,
        alerts: Callable[[], List[AlertEvent]] = list,
        latency: Callable[[], List[LatencyWindow]] = list,
        state: Callable[[], Optional[DeviceState]] = lambda: None,
        models: Callable[[], Mapping[str, Optional[str]]] = dict,
        clock: Callable[[], float] = time.time,
        unit_state: Optional[Callable[[str], str]] = None,
        settings: Callable[[], Sequence[ConfigProblem]] = list,
    ) -> None:
        self.root = root
        self.bus = bus
        self.memory_total_mb = memory_total_mb
        self.had_gpu = had_gpu
        self._alerts = alerts
        self._latency = latency
        self._state = state
        self._models = models
        self._clock = clock
        self._unit_state = unit_state or systemctl_is_active
        self._settings = settings  # the other stored settings files' problems
        self.started = clock()
        self.config_problem: Optional[ConfigProblem] = None  # why the stored settings were set aside
        self.config = self._load()
        self._log = HistoryLog(os.path.join(root, HISTORY_FILE), HISTORY_LEN)
        self.history: Deque[HealthReport] = collections.deque(self._log.load(), maxlen=HISTORY_LEN)
        self.last: Optional[HealthReport] = None  # this run's: one from before a restart is stale
        self._values: Mapping[str, float] = {}
        self._last_sample_t: Optional[float] = None
        self._lock = threading.Lock()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._timer: Optional[asyncio.TimerHandle] = None

    # -- config ---------------------------------------------------------------------------
    @property
    def config_path(self) -> str:
        return os.path.join(self.root, CONFIG_FILE)

    def _load(self) -> HealthConfig:
        """The stored settings; a file that cannot be used is moved aside (``health.json.bad``)
        and reported by the ``settings`` check until new settings are set, so a bad file
        neither stops the daemon nor fails every deploy's health gate."""
        cfg, self.config_problem = config_file.load(self.config_path, "health settings", RESET, _parse)
        return HealthConfig() if cfg is None else cfg

    def _save(self, cfg: HealthConfig) -> None:
        config_file.save(self.config_path, cfg.to_wire())

    # -- service --------------------------------------------------------------------------
    def handlers(self) -> Dict[str, Handler]:
        return {
            "health.run": lambda _: self.run(),
            "health.last": lambda _: self.last or self.run(),
            "health.history": self._history,
            "health.config.get": lambda _: self.config,
            "health.config.set": self._set_config,
        }

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._timer = loop.call_later(min(self.config.interval_s, 5.0), self._periodic)

    def _periodic(self) -> None:
        assert self._loop is not None
        try:
            self.run()
        except Exception:  # the next run tries again
            log.exception("health run failed")
        self._timer = self._loop.call_later(self.config.interval_s, self._periodic)

    def on_sample(self, t: float, values: Dict[str, float]) -> None:
        self._values = values
        self._last_sample_t = t

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    # -- running ---------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        cfg = self.config
        try:
            disk_free: Optional[float] = shutil.disk_usage(self.root).free / 1e6
        except OSError:
            disk_free = None
        service_state = self._unit_state(cfg.restart_service) if cfg.restart_service else None
        return Snapshot(
            now=self._clock(), config=cfg, runtime_version=__version__, started=self.started,
            last_sample_t=self._last_sample_t, values=self._values, memory_total_mb=self.memory_total_mb,
            had_gpu=self.had_gpu, disk_free_mb=disk_free, alerts=self._alerts(), latency=self._latency(),
            state=self._state(), models=self._models(), service_state=service_state,
            config_problems=self.config_problems(),
        )

    def config_problems(self) -> List[ConfigProblem]:
        own = [self.config_problem] if self.config_problem is not None else []
        return own + list(self._settings())

    def run(self, snap: Optional[Snapshot] = None) -> HealthReport:
        snap = snap or self.snapshot()
        checks = run_checks(snap)
        report = HealthReport(snap.now, overall(checks), checks)
        with self._lock:
            changed = self.last is None or self.last.overall != report.overall
            self.last = report
            self.history.append(report)
            self._log.append(report, self.history)
        if changed:
            log.info("device is %s", report.overall)
        self.bus.publish(TOPIC_HEALTH, report)
        return report

    def gate(self, grace_s: float, model: Optional[str] = None, poll_s: float = 1.0) -> Tuple[bool, str]:
        """For a deploy or rollback of ``model``: wait until no device-wide critical check fails and
        ``model`` itself is active, for at most ``grace_s``. Other models' state never counts: one
        stored, inactive model must not block every later change."""
        deadline = time.monotonic() + grace_s
        while True:
            snap = self.snapshot()
            report = self.run(snap)
            failed = ["%s: %s" % (c.title, c.message) for c in report.checks
                      if c.status == HEALTH_FAIL and c.severity == SEVERITY_CRITICAL and c.name != "model"]
            if model is not None:
                problem = model_gate(snap, model)
                if problem is not None:
                    failed.append("Model active: %s" % problem)
            if not failed:
                return True, "healthy: %s" % report.overall
            if time.monotonic() + poll_s > deadline:
                return False, "; ".join(failed)
            time.sleep(poll_s)  # runs on the store's worker thread, never on the daemon's loop

    def _history(self, params: Record) -> Record:
        assert isinstance(params, HealthQuery)
        cutoff = self._clock() - max(0.0, params.seconds)
        with self._lock:
            return HealthHistory([r for r in self.history if r.t >= cutoff])

    def _set_config(self, params: Record) -> Record:
        assert isinstance(params, HealthConfig)
        check_config(params)
        self._save(params)
        self.config = params
        self.config_problem = None
        log.info("health settings changed: %s", params.to_wire())
        return params


def _parse(data: Dict[str, Any]) -> HealthConfig:
    cfg = HealthConfig.from_wire(data)
    check_config(cfg)
    return cfg


def systemctl_is_active(unit: str) -> str:
    try:
        out = subprocess.run(["systemctl", "is-active", unit], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        return "unknown (systemctl: %s)" % exc
    return out.stdout.strip() or "unknown"
