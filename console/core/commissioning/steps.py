"""The commissioning steps. Each takes the run's :class:`StepContext` and its :class:`StepResult`
(to add details and progress) and returns (status, reason). Everything runs on the device:
the load is a benchmark job, the smoke test accuracy jobs, the drill real store actions.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from console.core.commissioning.checklist import FAIL, PASS, SKIP, CommissionError, Commissioning, StepResult
from console.core.devices.client import DeviceError
from console.core.devices.session import DeviceSession
from console.core.health.monitor import HealthMonitor
from console.core.jobs.specs import SpecError, default_shapes, missing_shapes
from console.core.jobs.tracker import JobTracker
from console.core.telemetry.alerts import AlertFeed, kind_label
from console.transport.base import TransportError
from device_runtime.protocol import (
    DEVICE_STATE,
    HEALTH_FAIL,
    HEALTH_SKIP,
    JOB_SUCCEEDED,
    STORE_HISTORY,
    STORE_MODELS,
    STORE_VERSIONS,
    BenchmarkResult,
    BenchmarkSpec,
    Empty,
    HealthConfig,
    HealthReport,
    JobInfo,
    Record,
    StoreHistoryEntry,
    StoreHistoryQuery,
    StoreModelRef,
    StoreVersions,
    ValidateReport,
    ValidateSpec,
)

Outcome = tuple[str, str]
THROTTLE_KINDS = ("thermal_throttle", "power_cap", "temperature")
LIVE_LATENCY_S = 30.0


def resolve_model(session: DeviceSession, wanted: str | None) -> str | None:
    """The model to commission: the one named, else the device's only model (None: none deployed)."""
    reply = session.call(STORE_MODELS, Empty())
    names = sorted(m.name for m in reply.models)
    if wanted is not None:
        if wanted not in names:
            raise CommissionError("the device has no model %r (it has: %s)" % (wanted, ", ".join(names) or "none"))
        return wanted
    if len(names) > 1:
        raise CommissionError("the device has several models (%s): choose the one to commission" % ", ".join(names))
    return names[0] if names else None


class StepFailed(Exception):
    """A step cannot go on; the message is its reason."""


class StepContext:
    """What the steps share: clients on the session, the health settings, the load's result."""

    def __init__(self, run: Commissioning) -> None:
        self.run = run
        self.session = run.session
        self.options = run.options
        self.facts: dict[str, str] = {}
        self.model = run.model
        self.health = HealthMonitor(self.session)
        self.load: BenchmarkResult | None = None
        self._config: HealthConfig | None = None
        self._tracker: JobTracker | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._described: dict[str, ValidateReport] = {}
        if self.model:
            self.facts["model"] = self.model

    def close(self) -> None:
        if self._tracker is not None:
            self._tracker.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def config(self) -> HealthConfig:
        if self._config is None:
            self._config = self.health.get_config()
        return self._config

    def versions(self) -> StoreVersions:
        assert self.model is not None
        reply = self.session.call(STORE_VERSIONS, StoreModelRef(self.model))
        return reply

    def history(self) -> list[StoreHistoryEntry]:
        assert self.model is not None
        reply = self.session.call(STORE_HISTORY, StoreHistoryQuery(self.model, limit=1000))
        return list(reply.entries)

    def model_file(self) -> str:
        """The device path of the active version's ONNX file (the store's layout, a contract)."""
        assert self.model is not None
        models = self.session.call(STORE_MODELS, Empty())
        for model in models.models:
            if model.name == self.model and model.active_model_path:
                return model.active_model_path
        raise SpecError("%s has no active ONNX file for %s on the device: deploy it (or a package with "
                        "model.onnx), then commission again" % (self.session.entry.display_name, self.model))

    def scratch(self) -> Path:
        if self._tmp is None:
            self.run.env.data_dir.mkdir(parents=True, exist_ok=True)
            self._tmp = tempfile.TemporaryDirectory(prefix="commission-", dir=str(self.run.env.data_dir))
        return Path(self._tmp.name)

    def describe(self, step: StepResult, model: str) -> ValidateReport:
        """The model's inputs and outputs, read on the device by a validate job (once per file)."""
        if model not in self._described:
            info = self.job(step, "validate", ValidateSpec(model), "commissioning: read %s" % model, timeout=600)
            if info.state != JOB_SUCCEEDED or info.result is None:
                raise StepFailed(job_failure("reading the model %s" % model, info))
            self._described[model] = ValidateReport.from_wire(info.result)
        return self._described[model]

    def job(self, step: StepResult, kind: str, spec: Record, label: str, timeout: float) -> JobInfo:
        """Run one job to its end, showing its progress on ``step``; cancelling the run cancels it."""
        if self._tracker is None:
            self._tracker = JobTracker(self.session)
            self._tracker.start()
        tracker = self._tracker
        info = tracker.submit(kind, spec, label)

        def cancel() -> None:
            try:
                tracker.cancel(info.id)
            except Exception:  # the job may have ended meanwhile
                return

        def show(update: JobInfo) -> None:
            left = " (%.0f s left)" % update.eta_s if update.eta_s else ""
            self.run.update(step, progress="%s %s: %.0f %%%s" % (kind, update.stage or update.state,
                                                                 100 * update.progress, left))

        self.run.cancel_hooks.append(cancel)
        try:
            final = tracker.wait(info.id, on_update=show, timeout=timeout, poll_s=2.0)
        finally:
            self.run.cancel_hooks.remove(cancel)
        self.run.check_cancelled()
        return final


def robot_state(ctx: StepContext) -> str:
    """What the robot is left doing, read from it now: ``robot-07 runs detector 1.0.0, healthy``."""
    device = ctx.session.entry.display_name
    try:
        running = "no deployed model" if ctx.model is None else "%s %s" % (
            ctx.model, ctx.versions().active or "with no active version")
        overall = ctx.health.run().overall
    except (DeviceError, TransportError, OSError) as exc:
        return "%s could not be read after commissioning (%s): check it on the Models and Health pages" % (
            device, str(exc).rstrip(".") or type(exc).__name__)
    return "%s runs %s, %s" % (device, running, overall)


def job_failure(what: str, info: JobInfo) -> str:
    return "%s %s: %s" % (what, info.state, (info.error or "no reason given").rstrip("."))


def _check(report: HealthReport, name: str) -> tuple[str, str, str]:
    for check in report.checks:
        if check.name == name:
            return check.status, check.message, check.fix
    return HEALTH_SKIP, "the device has no %s check" % name, ""


def runtime(ctx: StepContext, step: StepResult) -> Outcome:
    caps = ctx.session.capabilities
    assert caps is not None
    facts = {"board": caps.board_model, "hostname": caps.hostname, "os": caps.os, "arch": caps.arch,
             "runtime": ctx.session.runtime_version or "unknown", "jetpack": caps.jetpack or "not a Jetson",
             "l4t": caps.l4t or "none", "cuda": caps.cuda or "none", "tensorrt": caps.tensorrt or "none",
             "onnxruntime": caps.onnxruntime or "none", "backends": ", ".join(caps.backends) or "none",
             "gpus": ", ".join(g.name for g in caps.gpus) or "none"}
    facts["serial reported by the device"] = caps.serial or "none"
    ctx.facts.update(facts)  # the report's Device table
    report = ctx.health.run()
    problems = []
    if not caps.backends:
        problems.append("no inference backend on the device (neither ONNX Runtime nor TensorRT): install "
                        "edge-runtime with its device extra")
    for name in ("runtime", "telemetry"):
        status, message, fix = _check(report, name)
        if status == HEALTH_FAIL:
            problems.append("%s (%s)" % (message, fix) if fix else message)
    if problems:
        return FAIL, "; ".join(problems)
    stack = "JetPack %s" % caps.jetpack if caps.jetpack else caps.os
    return PASS, "edge-runtime %s on %s, %s; backends: %s" % (
        facts["runtime"], caps.board_model, stack, facts["backends"])


def power(ctx: StepContext, step: StepResult) -> Outcome:
    state = ctx.session.call(DEVICE_STATE, Empty())
    clocks = {True: "on", False: "off", None: "unknown"}[state.clocks_locked]
    step.details.append("power mode: %s; jetson_clocks: %s" % (state.power_mode or "unknown", clocks))
    status, message, fix = _check(ctx.health.run(), "clocks")
    if status == HEALTH_SKIP:
        return SKIP, ("no expected power mode or jetson_clocks setting in the device's health settings; set them "
                      "first (edgectl health-config --set expected_power_mode=MAXN expect_clocks_locked=on)")
    if status == HEALTH_FAIL:
        return FAIL, "%s; %s" % (message, fix) if fix else message
    return PASS, message


def thermal(ctx: StepContext, step: StepResult) -> Outcome:
    caps = ctx.session.capabilities
    if ctx.model is not None:
        try:
            model, what = ctx.model_file(), "%s (active version)" % ctx.model
        except SpecError as exc:
            return FAIL, str(exc)
    elif caps is not None and caps.demo_model:
        model, what = caps.demo_model, "the demo model"
    else:
        return FAIL, "no model to put the device under load: deploy the robot's model first"
    seconds = ctx.options.load_seconds
    limit = ctx.config().max_temperature_c
    try:
        described = ctx.describe(step, model)
    except StepFailed as exc:
        return FAIL, str(exc)
    shapes = default_shapes(described)
    missing = missing_shapes(described, shapes)
    if missing:
        return FAIL, "the load cannot feed %s: %s" % (what, missing)
    feed = AlertFeed(ctx.session)
    feed.start()
    try:
        info = ctx.job(step, "benchmark", BenchmarkSpec(model=model, shapes=shapes, seconds=seconds, warmup_s=1.0,
                                                        label="commissioning load"),
                       "commissioning: thermal load", timeout=seconds + 600)
    finally:
        feed.detach()
    if info.state != JOB_SUCCEEDED or info.result is None:
        return FAIL, job_failure("the load (a benchmark of %s)" % what, info)
    result = BenchmarkResult.from_wire(info.result)
    ctx.load = result
    step.details.append("load: %s for %.0f s, %.1f inferences/s, p99 %.2f ms"
                        % (what, result.duration_s, result.throughput_qps, result.latency.p99))
    temps = result.conditions.temperatures_c
    alerts = [a for a in feed.log.between(info.started or 0.0, info.finished or ctx.session.clock())
              if a.kind in THROTTLE_KINDS]
    for alert in alerts:
        step.details.append("alert during the load: %s on %s: %s" % (kind_label(alert.kind), alert.source,
                                                                      alert.message))
    problems = []
    if result.conditions.throttled:
        problems.append("the device throttled (%s)" % ", ".join(result.conditions.throttle_reasons))
    if alerts:
        problems.append("%d throttling or temperature alert(s) during the load" % len(alerts))
    if temps:
        zone = max(temps, key=lambda z: temps[z])
        step.details.append("hottest: %s" % ", ".join("%s %.1f °C" % (z, t) for z, t in
                                                      sorted(temps.items(), key=lambda kv: -kv[1])[:5]))
        if temps[zone] > limit:
            problems.append("%s reached %.1f °C, over the %.0f °C limit" % (zone, temps[zone], limit))
    if problems:
        return FAIL, "; ".join(problems) + ": check the fan, airflow and power mode"
    if not temps:
        return SKIP, ("no temperature sensor is readable on this device, so thermals cannot be judged (the %.0f s "
                      "load ran without throttling alerts)" % result.duration_s)
    zone = max(temps, key=lambda z: temps[z])
    return PASS, "%.0f s under load: hottest %s %.1f °C (limit %.0f °C), no throttling" % (
        result.duration_s, zone, temps[zone], limit)


def step_functions() -> dict[str, Callable[[StepContext, StepResult], Outcome]]:
    from console.core.commissioning.model_steps import latency, rollback, smoke

    return {"runtime": runtime, "power": power, "thermal": thermal, "smoke": smoke, "latency": latency,
            "rollback": rollback}
