"""The health checks, each a pure function of a :class:`Snapshot` of the device.

A check that does not apply (nothing configured, no such hardware) says ``skip`` and why,
never a silent pass; where a setting would turn it on, its ``fix`` says which. Severity
decides the overall verdict: a failed critical check makes the device unhealthy, a failed
warning makes it degraded.
"""

from __future__ import annotations

import os
from typing import Callable, Dict, List, Mapping, Optional, Sequence

from device_runtime.config_file import ConfigProblem
from device_runtime.durations import duration
from device_runtime.protocol import (
    DEGRADED,
    HEALTH_FAIL,
    HEALTH_PASS,
    HEALTH_SKIP,
    HEALTHY,
    SEVERITY_CRITICAL,
    SEVERITY_WARNING,
    UNHEALTHY,
    AlertEvent,
    DeviceState,
    HealthCheck,
    HealthConfig,
    LatencyWindow,
)


class Snapshot:
    """Everything the checks read, gathered once per run."""

    def __init__(
        self,
        now: float,
        config: HealthConfig,
        runtime_version: str,
        started: float,
        last_sample_t: Optional[float],
        values: Mapping[str, float],
        memory_total_mb: float,
        had_gpu: bool,
        disk_free_mb: Optional[float],
        alerts: Sequence[AlertEvent],
        latency: Sequence[LatencyWindow],
        state: Optional[DeviceState],
        models: Mapping[str, Optional[str]],  # model name -> active version (None: none active)
        service_state: Optional[str],  # systemctl is-active of config.restart_service
        config_problems: Sequence[ConfigProblem] = (),  # stored settings files that cannot be used
    ) -> None:
        self.now = now
        self.config = config
        self.runtime_version = runtime_version
        self.started = started
        self.last_sample_t = last_sample_t
        self.values = values
        self.memory_total_mb = memory_total_mb
        self.had_gpu = had_gpu
        self.disk_free_mb = disk_free_mb
        self.alerts = alerts
        self.latency = latency
        self.state = state
        self.models = models
        self.service_state = service_state
        self.config_problems = config_problems


Check = Callable[[Snapshot], HealthCheck]


def _c(name: str, title: str, severity: str, status: str, message: str, fix: str = "") -> HealthCheck:
    """``fix``: for a failed check how to fix it, for a skipped one how to turn it on."""
    return HealthCheck(name, title, severity, status, message, "" if status == HEALTH_PASS else fix)


def _setting(example: str) -> str:
    return "Settings… on the Health page, or edgectl health-config --set %s" % example


def runtime(s: Snapshot) -> HealthCheck:
    up = s.now - s.started
    return _c("runtime", "Runtime is up", SEVERITY_CRITICAL, HEALTH_PASS,
              "edge-runtime %s, up %s" % (s.runtime_version, duration(up)))


def telemetry(s: Snapshot) -> HealthCheck:
    title = "Telemetry is fresh"
    if s.last_sample_t is None:
        return _c("telemetry", title, SEVERITY_CRITICAL, HEALTH_FAIL, "no telemetry sample taken yet",
                  "restart the runtime (systemctl restart edge-runtime) and see its log")
    age = s.now - s.last_sample_t
    if age > s.config.max_telemetry_age_s:
        return _c("telemetry", title, SEVERITY_CRITICAL, HEALTH_FAIL,
                  "the last sample is %s old (limit %s)" % (duration(age), duration(s.config.max_telemetry_age_s)),
                  "the runtime's loop is stalled or overloaded: check its CPU use and log")
    return _c("telemetry", title, SEVERITY_CRITICAL, HEALTH_PASS, "last sample %s ago" % duration(age))


def gpu(s: Snapshot) -> HealthCheck:
    title = "GPU is visible"
    names = [k for k in s.values if k.startswith("gpu.") and k.endswith(".util")] + [
        k for k in s.values if k == "jetson.gpu.load"]
    if names:
        return _c("gpu", title, SEVERITY_CRITICAL, HEALTH_PASS, "GPU load readable (%s)" % ", ".join(sorted(names)))
    if not s.had_gpu or not s.config.expect_gpu:
        return _c("gpu", title, SEVERITY_CRITICAL, HEALTH_SKIP, "this device has no NVIDIA GPU the runtime can read")
    return _c("gpu", title, SEVERITY_CRITICAL, HEALTH_FAIL, "the GPU seen at start-up no longer answers",
              "check the driver (nvidia-smi or tegrastats) and dmesg for GPU errors; a reboot may be needed")


def memory(s: Snapshot) -> HealthCheck:
    title = "Memory headroom"
    used = s.values.get("mem.used")
    if used is None or not s.memory_total_mb:
        return _c("memory", title, SEVERITY_WARNING, HEALTH_SKIP, "memory use is not readable on this device")
    free = s.memory_total_mb - used
    text = "%.0f MB free of %.0f MB" % (free, s.memory_total_mb)
    if free < s.config.min_free_memory_mb:
        text += " (minimum %.0f MB)" % s.config.min_free_memory_mb
        return _c("memory", title, SEVERITY_WARNING, HEALTH_FAIL, text,
                  "stop what is not needed, or deploy a smaller model or engine")
    return _c("memory", title, SEVERITY_WARNING, HEALTH_PASS, text)


def disk(s: Snapshot) -> HealthCheck:
    title = "Disk headroom"
    if s.disk_free_mb is None:
        return _c("disk", title, SEVERITY_WARNING, HEALTH_SKIP, "free space of the store is not readable")
    text = "%.0f MB free for the model store" % s.disk_free_mb
    if s.disk_free_mb < s.config.min_free_disk_mb:
        return _c("disk", title, SEVERITY_WARNING, HEALTH_FAIL, text + " (minimum %.0f MB)" % s.config.min_free_disk_mb,
                  "remove old model versions (retention keeps the active, previous and pinned ones) or logs")
    return _c("disk", title, SEVERITY_WARNING, HEALTH_PASS, text)


def temperature(s: Snapshot) -> HealthCheck:
    title = "Temperature"
    temps = {k: v for k, v in s.values.items()
             if k.startswith("temp.") or (k.startswith("gpu.") and k.endswith(".temp"))}
    if not temps:
        return _c("temperature", title, SEVERITY_WARNING, HEALTH_SKIP, "no temperature sensor is readable")
    hottest = max(temps, key=lambda k: temps[k])
    text = "hottest %s at %.1f °C" % (hottest, temps[hottest])
    if temps[hottest] > s.config.max_temperature_c:
        return _c("temperature", title, SEVERITY_WARNING, HEALTH_FAIL,
                  text + " (limit %.0f °C)" % s.config.max_temperature_c,
                  "check the fan and airflow; lower the power mode if it stays hot")
    return _c("temperature", title, SEVERITY_WARNING, HEALTH_PASS, text)


def throttling(s: Snapshot) -> HealthCheck:
    title = "No throttling"
    active = [a for a in s.alerts if a.end is None and a.kind in ("thermal_throttle", "power_cap", "clocks_below_max")]
    if active:
        return _c("throttling", title, SEVERITY_WARNING, HEALTH_FAIL,
                  "; ".join("%s: %s" % (a.source, a.message) for a in active),
                  "latency numbers taken now are not comparable; cool the device or raise its power mode")
    return _c("throttling", title, SEVERITY_WARNING, HEALTH_PASS, "no throttling or power capping active")


def latency(s: Snapshot) -> HealthCheck:
    title = "Inference latency within budget"
    budget = s.config.latency_budget_ms
    totals = {}
    for window in s.latency:
        if window.stage == "total" and s.now - window.t <= 15.0:
            totals[window.source] = window  # the newest per source wins (windows come in time order)
    if budget is None:
        return _c("latency", title, SEVERITY_WARNING, HEALTH_SKIP, "no latency budget set",
                  "set a budget: " + _setting("latency_budget_ms=20"))
    if not totals:
        return _c("latency", title, SEVERITY_WARNING, HEALTH_SKIP, "no inference latency reported in the last 15 s",
                  "turn the latency probe on (Dashboard, Inference latency; or edgectl probe), or report from the "
                  "robot's process with LatencyReporter")
    over = ["%s p99 %.2f ms" % (src, w.p99_ms) for src, w in sorted(totals.items()) if w.p99_ms > budget]
    if over:
        text = "%s over the %.2f ms budget" % (", ".join(over), budget)
        return _c("latency", title, SEVERITY_WARNING, HEALTH_FAIL, text,
                  "check throttling and other GPU work; roll back if a deploy made it slower")
    return _c("latency", title, SEVERITY_WARNING, HEALTH_PASS,
              ", ".join("%s p99 %.2f ms" % (src, w.p99_ms) for src, w in sorted(totals.items()))
              + " (budget %.2f ms)" % budget)


def models(s: Snapshot) -> HealthCheck:
    """Active models pass; a model stored with no active version (a failed first deploy, an import
    only) is information, never a failure: it must not block deploys and rollbacks of the others."""
    title = "Model active"
    if not s.models:
        return _c("model", title, SEVERITY_CRITICAL, HEALTH_SKIP, "no model is deployed on this device",
                  "deploy one: Models page, or edgectl deploy")
    active = ["%s %s" % (n, v) for n, v in sorted(s.models.items()) if v is not None]
    stored = sorted(name for name, version in s.models.items() if version is None)
    text = ", ".join(active)
    if stored:
        text += "%sstored, not active: %s" % ("; " if active else "", ", ".join(stored))
    if not active:
        return _c("model", title, SEVERITY_CRITICAL, HEALTH_SKIP, text,
                  "activate a version (edgectl deploy, or rollback MODEL --to VERSION) or remove the model "
                  "(edgectl remove MODEL)")
    return _c("model", title, SEVERITY_CRITICAL, HEALTH_PASS, text)


def model_gate(s: Snapshot, name: str) -> Optional[str]:
    """Why the deploy or rollback of ``name`` must not commit, judged on that model alone."""
    if s.models.get(name) is None:
        return "%s has no active version after the switch" % name
    return None


def restart_service(s: Snapshot) -> HealthCheck:
    title = "Robot application running"
    unit = s.config.restart_service
    if not unit:
        return _c("service", title, SEVERITY_CRITICAL, HEALTH_SKIP, "no restart-hook service configured",
                  "name the robot application's systemd unit: " + _setting("restart_service=robot-ai.service"))
    if s.service_state == "active":
        return _c("service", title, SEVERITY_CRITICAL, HEALTH_PASS, "%s is active" % unit)
    return _c("service", title, SEVERITY_CRITICAL, HEALTH_FAIL, "%s is %s" % (unit, s.service_state or "unknown"),
              "see journalctl -u %s; roll back the model if it started failing after a deploy" % unit)


def clocks(s: Snapshot) -> HealthCheck:
    title = "Power mode and clocks as expected"
    cfg = s.config
    if cfg.expected_power_mode is None and cfg.expect_clocks_locked is None:
        return _c("clocks", title, SEVERITY_WARNING, HEALTH_SKIP, "no expected power mode or clock setting configured",
                  "say what the robot should run at: " + _setting("expected_power_mode=MAXN expect_clocks_locked=on"))
    state = s.state or DeviceState()
    problems: List[str] = []
    found: List[str] = []
    if cfg.expected_power_mode is not None:
        found.append("power mode %s" % (state.power_mode or "unknown"))
        if (state.power_mode or "").lower() != cfg.expected_power_mode.lower():
            problems.append("power mode is %s, expected %s" % (state.power_mode or "unknown", cfg.expected_power_mode))
    if cfg.expect_clocks_locked is not None:
        found.append("jetson_clocks %s" % {True: "on", False: "off", None: "unknown"}[state.clocks_locked])
        if state.clocks_locked is not cfg.expect_clocks_locked:
            problems.append("jetson_clocks is %s, expected %s" % (
                {True: "on", False: "off", None: "unknown"}[state.clocks_locked],
                "on" if cfg.expect_clocks_locked else "off"))
    if problems:
        return _c("clocks", title, SEVERITY_WARNING, HEALTH_FAIL, "; ".join(problems),
                  "sudo nvpmodel -m <mode> and sudo jetson_clocks (or --restore), then re-check")
    return _c("clocks", title, SEVERITY_WARNING, HEALTH_PASS, ", ".join(found))


def settings(s: Snapshot) -> HealthCheck:
    """Names every stored settings file the daemon set aside or cannot use, and the command that
    sets each again. A warning while the defaults in use are safe (a deploy must not fail on
    it); critical when deploys stay refused until a file is fixed (store.json's hooks)."""
    title = "Stored settings readable"
    problems = s.config_problems
    if not problems:
        return _c("settings", title, SEVERITY_WARNING, HEALTH_PASS, "stored settings in use (or the defaults)")
    severity = SEVERITY_CRITICAL if any(p.blocking for p in problems) else SEVERITY_WARNING
    fix = "; ".join("%s: %s" % (os.path.basename(p.path), p.fix) for p in problems)
    return _c("settings", title, severity, HEALTH_FAIL, "; ".join(p.message for p in problems), fix)


# The checks in the order a person reads them.
CHECKS: List[Check] = [runtime, telemetry, gpu, models, restart_service, memory, disk, temperature, throttling,
                       latency, clocks, settings]


def overall(results: Sequence[HealthCheck]) -> str:
    failed = [r for r in results if r.status == HEALTH_FAIL]
    if any(r.severity == SEVERITY_CRITICAL for r in failed):
        return UNHEALTHY
    return DEGRADED if failed else HEALTHY


def run_checks(snapshot: Snapshot, checks: Sequence[Check] = CHECKS) -> List[HealthCheck]:
    results = []
    for check in checks:
        try:
            results.append(check(snapshot))
        except Exception as exc:  # a broken check is reported as a failure of that check
            name = getattr(check, "__name__", "check")
            results.append(_c(name, name, SEVERITY_WARNING, HEALTH_FAIL, "the check itself failed: %s" % exc,
                              "report this as a runtime bug"))
    return results


__all__ = ["CHECKS", "Dict", "Snapshot", "overall", "run_checks"]
