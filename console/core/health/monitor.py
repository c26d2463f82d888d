"""Device health on the console, without Qt: the last report, live ``health`` events, history,
and the device's health settings (fields as data, ``KEY=VALUE`` parsing, validation in words).

:class:`HealthMonitor` follows one session: ``start`` subscribes, then reads the last report and
the history (subscribing first means a report pushed meanwhile is not lost). Pushed reports
arrive on the connection's reader thread; the monitor only parses and stores them there.
"""

from __future__ import annotations

import collections
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from console.core.devices.client import DeviceError
from console.core.devices.session import DeviceSession, Subscription
from device_runtime.protocol import (
    DEGRADED,
    HEALTH_CONFIG_GET,
    HEALTH_CONFIG_SET,
    HEALTH_FAIL,
    HEALTH_HISTORY,
    HEALTH_LAST,
    HEALTH_PASS,
    HEALTH_RUN,
    HEALTH_SKIP,
    HEALTHY,
    SEVERITY_CRITICAL,
    TOPIC_HEALTH,
    UNHEALTHY,
    Empty,
    ErrorCode,
    Event,
    HealthConfig,
    HealthQuery,
    HealthReport,
    ProtocolError,
)

UNKNOWN = "unknown"  # no report yet (not connected, or an older runtime)
OVERALL_LABELS = {HEALTHY: "healthy", DEGRADED: "degraded", UNHEALTHY: "unhealthy", UNKNOWN: "health unknown"}
STATUS_LABELS = {HEALTH_PASS: "PASS", HEALTH_FAIL: "FAIL", HEALTH_SKIP: "SKIP"}
MAX_HISTORY = 2880  # a day of reports at the device's default 30 s

ReportListener = Callable[[HealthReport], None]


def overall_label(overall: str | None) -> str:
    return OVERALL_LABELS.get(overall or UNKNOWN, overall or UNKNOWN)


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status.upper())


def critical_failures(report: HealthReport) -> list[str]:
    """Titles of the critical checks that failed: what makes a device unhealthy."""
    return [c.title for c in report.checks if c.status == HEALTH_FAIL and c.severity == SEVERITY_CRITICAL]


class HealthUnavailable(DeviceError):
    """The device's runtime has no health service (an older runtime)."""


def _unavailable(session: DeviceSession, exc: DeviceError) -> DeviceError:
    if exc.code == ErrorCode.UNKNOWN_METHOD:
        return HealthUnavailable("%s's runtime does not report health (%s). Update edge-runtime on the device."
                                 % (session.entry.display_name, str(exc).rstrip(".")), exc.code)
    return exc


class HealthMonitor:
    """Keeps the last report and a bounded history of one device; ``listeners`` hear each new report."""

    def __init__(self, session: DeviceSession, max_history: int = MAX_HISTORY) -> None:
        self.session = session
        self.listeners: list[ReportListener] = []
        self.rejected = 0  # pushed reports that could not be read (a newer runtime's fields)
        self._history: collections.deque[HealthReport] = collections.deque(maxlen=max_history)
        self._lock = threading.Lock()
        self._follow: Subscription | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def attach(self) -> None:
        if self._follow is None:
            self._follow = self.session.follow([TOPIC_HEALTH], self._on_event)

    def detach(self) -> None:
        follow, self._follow = self._follow, None
        if follow is not None:
            follow.close()

    def start(self, history_s: float = 3600.0, timeout: float = 30.0) -> HealthReport:
        """Subscribe, then read the history and the last report (after every connect).
        Raises :class:`HealthUnavailable` for a runtime without health checks."""
        self.attach()
        try:
            self.session.subscribe_events([TOPIC_HEALTH])
            history = self.session.call(HEALTH_HISTORY, HealthQuery(history_s), timeout=timeout)
            last = self.session.call(HEALTH_LAST, Empty(), timeout=timeout)
        except DeviceError as exc:
            raise _unavailable(self.session, exc) from None
        for report in history.reports:
            self._take(report, notify=False)
        self._take(last)
        return last

    # -- reading -----------------------------------------------------------------------------
    @property
    def last(self) -> HealthReport | None:
        with self._lock:
            return self._history[-1] if self._history else None

    @property
    def overall(self) -> str:
        last = self.last
        return last.overall if last is not None else UNKNOWN

    def history(self, since: float = 0.0) -> list[HealthReport]:
        """Reports at or after ``since`` (device time), oldest first."""
        with self._lock:
            return [r for r in self._history if r.t >= since]

    # -- requests ----------------------------------------------------------------------------
    def fetch_last(self, timeout: float = 60.0) -> HealthReport:
        """The device's last report (it runs the checks when it has none yet)."""
        try:
            report = self.session.call(HEALTH_LAST, Empty(), timeout=timeout)
        except DeviceError as exc:
            raise _unavailable(self.session, exc) from None
        self._take(report)
        return report

    def run(self, timeout: float = 60.0) -> HealthReport:
        """Run every check now on the device (it also pushes the report to every subscriber)."""
        try:
            report = self.session.call(HEALTH_RUN, Empty(), timeout=timeout)
        except DeviceError as exc:
            raise _unavailable(self.session, exc) from None
        self._take(report)
        return report

    def get_config(self) -> HealthConfig:
        try:
            reply = self.session.call(HEALTH_CONFIG_GET, Empty())
        except DeviceError as exc:
            raise _unavailable(self.session, exc) from None
        return reply

    def set_config(self, config: HealthConfig) -> HealthConfig:
        """Validate here, then store on the device; returns what the device now uses."""
        problems = validate_config(config)
        if problems:
            raise HealthConfigError(" ".join(problems))
        reply = self.session.call(HEALTH_CONFIG_SET, config)
        return reply

    # -- events ------------------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        try:
            report = HealthReport.from_wire(event.data)
        except ProtocolError:
            self.rejected += 1
            return
        self._take(report)

    def _take(self, report: HealthReport, notify: bool = True) -> None:
        with self._lock:
            if any(r.t == report.t for r in list(self._history)[-8:]):
                return  # the same run, seen as a reply and as a pushed event
            if self._history and report.t < self._history[-1].t:
                ordered = sorted([*self._history, report], key=lambda r: r.t)
                self._history.clear()
                self._history.extend(ordered)
                return  # an older report from the history back-fill: kept, but it is not news
            self._history.append(report)
        if notify:
            for listener in list(self.listeners):
                listener(report)


# -- settings ---------------------------------------------------------------------------------

class HealthConfigError(ValueError):
    """Input that cannot become health settings; the message says what is wrong and what is allowed."""


@dataclass(frozen=True)
class ConfigField:
    key: str
    label: str
    kind: str  # "float", "opt_float", "opt_str", "opt_bool", "bool"
    unit: str
    help: str
    low: float = -math.inf
    high: float = math.inf


CONFIG_FIELDS = (
    ConfigField("latency_budget_ms", "Latency budget", "opt_float", "ms",
                "p99 inference latency every source must stay under; empty: no budget", 0.0, math.inf),
    ConfigField("expected_power_mode", "Expected power mode", "opt_str", "",
                "e.g. MAXN or 15W; empty: not checked"),
    ConfigField("expect_clocks_locked", "jetson_clocks expected", "opt_bool", "",
                "on, off, or empty: not checked"),
    ConfigField("restart_service", "Robot application unit", "opt_str", "",
                "the systemd unit the deploy restarts, checked active, e.g. robot-ai.service; empty: none"),
    ConfigField("expect_gpu", "Expect a GPU", "bool", "", "a device that had a GPU at start must still see it"),
    ConfigField("min_free_memory_mb", "Minimum free memory", "float", "MB", "less is a warning", 0.0),
    ConfigField("min_free_disk_mb", "Minimum free disk", "float", "MB", "for the model store; less is a warning", 0.0),
    ConfigField("max_temperature_c", "Maximum temperature", "float", "°C", "hotter is a warning", 20.0, 120.0),
    ConfigField("max_telemetry_age_s", "Maximum telemetry age", "float", "s",
                "older telemetry makes the device unhealthy", 1.0, 3600.0),
    ConfigField("interval_s", "Check interval", "float", "s", "how often the device runs the checks", 5.0, 3600.0),
)
CONFIG_FIELD_BY_KEY = {f.key: f for f in CONFIG_FIELDS}
_TRUE = ("on", "true", "yes", "1")
_FALSE = ("off", "false", "no", "0")


def format_config_value(f: ConfigField, value: object) -> str:
    """How a setting reads in a form or a table: empty for "not set", on/off for booleans."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return "%g" % value
    return str(value)


def parse_config_value(f: ConfigField, text: str) -> object:
    """One field's text -> its value; raises :class:`HealthConfigError` naming the field."""
    raw = text.strip()
    if f.kind in ("opt_float", "opt_str", "opt_bool") and not raw:
        return None
    if f.kind == "opt_str":
        return raw
    if f.kind in ("bool", "opt_bool"):
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        empty = " or empty" if f.kind == "opt_bool" else ""
        raise HealthConfigError("%s must be on or off%s, not %r." % (f.label, empty, text))
    try:
        value = float(raw)
    except ValueError:
        raise HealthConfigError("%s must be a number in %s, not %r." % (f.label, f.unit, text)) from None
    if not math.isfinite(value):
        raise HealthConfigError("%s must be a finite number, not %r." % (f.label, text))
    return value


def validate_config(cfg: HealthConfig) -> list[str]:
    """Every problem as a sentence (the device's own rules, said before anything is sent)."""
    problems = []
    if cfg.latency_budget_ms is not None and not cfg.latency_budget_ms > 0:
        problems.append("Latency budget must be above 0 ms (or empty for no budget).")
    for f in CONFIG_FIELDS:
        if f.kind != "float":
            continue
        value = getattr(cfg, f.key)
        if not math.isfinite(value) or not f.low <= value <= f.high:
            bounds = ("at least %g %s" % (f.low, f.unit) if f.high == math.inf
                      else "between %g and %g %s" % (f.low, f.high, f.unit))
            problems.append("%s must be %s (got %g)." % (f.label, bounds, value))
    unit = cfg.restart_service
    if unit is not None and (not unit or any(c in unit for c in " /;")):
        problems.append("Robot application unit must be a systemd unit name such as robot-ai.service (got %r)." % unit)
    return problems


def apply_assignments(base: HealthConfig, items: list[str]) -> HealthConfig:
    """``["latency_budget_ms=20", "restart_service=robot.service", "expected_power_mode="]`` on
    ``base`` (an empty value clears an optional setting). Raises :class:`HealthConfigError`."""
    wire = base.to_wire()
    problems = []
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep:
            raise HealthConfigError("%r is not KEY=VALUE (for example latency_budget_ms=20)." % item)
        f = CONFIG_FIELD_BY_KEY.get(key)
        if f is None:
            raise HealthConfigError("Unknown health setting %r. Known: %s." % (key, ", ".join(CONFIG_FIELD_BY_KEY)))
        if f.kind in ("float", "bool") and not value.strip():
            problems.append("%s cannot be empty." % f.label)
            continue
        try:
            wire[key] = parse_config_value(f, value)
        except HealthConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise HealthConfigError(" ".join(problems))
    config = HealthConfig.from_wire(wire)
    problems = validate_config(config)
    if problems:
        raise HealthConfigError(" ".join(problems))
    return config
