"""The latency probe: the active version of one stored model, run at 1 to 30 Hz in a child process.

Each inference's time reaches the :class:`LatencyService` as source ``probe:<model>`` (stage
``total``, and ``infer`` too for a TensorRT engine, whose total holds the copies), so the probe
shows up in the same windows, chart and health check as the robot's own reports. The service
reconciles what should run with what runs on every store action, job event and change of
throttling, and every ``TICK_S`` besides (so a change made behind the daemon's back waits no
longer): a deploy or rollback reloads the new version, a running GPU job or throttling pauses
it (and says why), and the end of either resumes it. ``probe.set`` checks everything it can
before it changes anything: a refused setting leaves the probe as it was.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from device_runtime.latency.probe_config import load_settings, save_settings
from device_runtime.latency.probe_plan import ProbeRefused, backoff_reason, check_rate, is_throttling, resolve_shapes
from device_runtime.latency.probe_process import ProbeProcess
from device_runtime.latency.service import LatencyService
from device_runtime.package_format.errors import StoreError
from device_runtime.package_format.manifest import Manifest, check_name
from device_runtime.protocol import (
    JOB_RUNNING,
    PROBE_FAILED,
    PROBE_OFF,
    PROBE_PAUSED,
    PROBE_RUNNING,
    PROBE_SOURCE_PREFIX,
    TOPIC_JOB,
    TOPIC_PROBE,
    TOPIC_STORE,
    AlertEvent,
    ErrorCode,
    JobInfo,
    ProbeSettings,
    ProbeStatus,
    ProtocolError,
    Record,
    decode,
)
from device_runtime.server.events import EventBus
from device_runtime.server.service import Handler, Service
from device_runtime.store.store import Store

log = logging.getLogger("edge_runtime.probe")

TICK_S = 10.0
BUS_KEY = -7  # the probe's own subscription to job events; client sessions count up from 1
STORE_BUS_KEY = -8  # and to store actions (a deploy or rollback changes the active version)


class ProbeService(Service):
    name = "probe"

    def __init__(self, root: str, bus: EventBus, latency: LatencyService, store: Store,
                 alerts: Callable[[], List[AlertEvent]], tensorrt: Optional[str],
                 clock: Callable[[], float] = time.time) -> None:
        self.root = root
        self.bus = bus
        self.latency = latency
        self.store = store
        self.alerts = alerts
        self.tensorrt = tensorrt
        self.clock = clock
        self.settings, self.config_problem = load_settings(root)
        self.status = ProbeStatus(PROBE_FAILED if self.config_problem else PROBE_OFF,
                                  reason=self._problem_words(), since=clock())
        self.gpu_jobs: Dict[str, JobInfo] = {}
        self.process: Optional[ProbeProcess] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._running: Optional[Tuple[str, str]] = None  # (model, version) the process runs
        self._failed_for: Optional[Tuple[str, str, str]] = None  # do not retry the same thing every second
        self._paused_for: Optional[str] = None
        self._stages: Tuple[str, ...] = ("total",)  # what the running child's readings hold (its ready line)
        self._throttling = False
        self._manifests: Dict[Tuple[str, str], Manifest] = {}
        # ((model, version), the settings' shapes object, what _planned returns)
        self._plan_cache: Optional[Tuple[Tuple[str, Optional[str]], Dict[str, List[int]],
                                         Tuple[str, Manifest, Dict[str, List[int]], str]]] = None
        bus.subscribe(BUS_KEY, [TOPIC_JOB], self._on_job_frame)  # before the job service can start any job
        bus.subscribe(STORE_BUS_KEY, [TOPIC_STORE], self._on_store_frame)
        latency.feeders.append(self._drain)  # readings come in on the latency service's publish timer

    # -- protocol ---------------------------------------------------------------------------
    def handlers(self) -> Dict[str, Handler]:
        return {"probe.get": lambda _params: self.status, "probe.set": self._set}

    def _set(self, params: Record) -> Record:
        assert isinstance(params, ProbeSettings)
        try:
            rate = check_rate(params.rate_hz)
        except ProbeRefused as exc:
            raise ProtocolError(ErrorCode.BAD_FIELD, str(exc)) from None
        model = params.model if params.model is not None else self.settings.model
        if rate > 0:
            if not model:
                raise ProtocolError(ErrorCode.BAD_FIELD, "name the model the probe should run (store.models lists "
                                                         "them)")
            try:
                self._plan(model, params.shapes)
            except ProbeRefused as exc:
                raise ProtocolError(ErrorCode.FAILED, str(exc)) from None
        before = self.settings
        self.settings = ProbeSettings(model, rate, dict(params.shapes))
        save_settings(self.root, self.settings)
        log.info("probe set to %s at %g Hz", model or "no model", rate)
        self._failed_for, self.config_problem = None, None
        if self.process is not None and (before.model != model or before.shapes != self.settings.shapes):
            self._stop()  # another model or other inputs: load again
        self._reconcile()
        return self.status

    def _plan(self, model: str, shapes: Dict[str, List[int]]) -> Tuple[str, Manifest, Dict[str, List[int]]]:
        """The active version, its manifest and the input shapes; ProbeRefused saying why not."""
        try:
            check_name(model)
        except StoreError as exc:
            raise ProbeRefused(exc.message.replace("manifest.json: ", "")) from None
        version = self.store.active_version(model)
        if version is None:
            known = self.store.model_names()
            if model not in known:
                raise ProbeRefused("no model named %s in this device's store (stored: %s); deploy it first"
                                   % (model, ", ".join(known) or "none"))
            raise ProbeRefused("%s has no active version on this device; activate one first" % model)
        manifest = self._manifests.get((model, version))
        if manifest is None:
            try:
                manifest = self.store.manifest(model, version)  # versions are immutable: read once
            except StoreError as exc:
                raise ProbeRefused(exc.message) from None
            self._manifests = {(model, version): manifest}
        if manifest.backend == "tensorrt" and not self.tensorrt:
            raise ProbeRefused("%s %s is a TensorRT engine and this device has no TensorRT, so the probe cannot run "
                               "it; deploy an ONNX Runtime package of it, or install TensorRT" % (model, version))
        recorded = dict(manifest.warmup.shapes) if manifest.warmup is not None else {}  # the deploy's warm-up
        recorded.update(shapes)
        return version, manifest, resolve_shapes(model, manifest.inputs, recorded)

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._reconcile()
        self._timer = loop.call_later(TICK_S, self._tick)

    def _tick(self) -> None:
        assert self._loop is not None
        self._reconcile()
        self._timer = self._loop.call_later(TICK_S, self._tick)

    def on_sample(self, t: float, values: Dict[str, float]) -> None:
        throttling = any(is_throttling(a) for a in self.alerts())
        if throttling != self._throttling:
            self._throttling = throttling
            self._reconcile()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.bus.unsubscribe(BUS_KEY)
        self.bus.unsubscribe(STORE_BUS_KEY)
        if self._drain in self.latency.feeders:
            self.latency.feeders.remove(self._drain)
        self._stop()

    def _drain(self) -> None:
        if self.process is not None:
            self.process.drain()

    def version_of_source(self, source: str) -> Optional[str]:
        """The version behind a ``probe:<model>`` source's readings (what the probe runs)."""
        if self._running is not None and source == PROBE_SOURCE_PREFIX + self._running[0]:
            return self._running[1]
        return None

    # -- reconciling ------------------------------------------------------------------------
    def _on_job_frame(self, frame: bytes) -> None:
        try:
            job = JobInfo.from_wire(decode(frame).data)  # type: ignore[union-attr]
        except (ProtocolError, AttributeError):
            return
        if job.gpu and job.state == JOB_RUNNING:
            self.gpu_jobs[job.id] = job
        elif self.gpu_jobs.pop(job.id, None) is None:
            return
        if self._loop is not None:
            self._reconcile()

    def _on_store_frame(self, _frame: bytes) -> None:
        """Any step of a store action may have moved the active version (an activation flips it
        mid-action, a failed one flips it back): look again, at the cost of a readlink."""
        if self._loop is not None:
            self._reconcile()

    def _problem_words(self) -> str:
        problem = self.config_problem
        return "" if problem is None else "%s; set the probe again: %s" % (problem.message, problem.fix)

    def _reconcile(self) -> None:
        model, rate = self.settings.model, self.settings.rate_hz
        if not model or rate <= 0:
            self._stop()
            self._publish(ProbeStatus(PROBE_FAILED if self.config_problem else PROBE_OFF, model,
                                      reason=self._problem_words() or "the probe is off"))
            return
        try:
            version, manifest, shapes, shapes_key = self._planned(model)
        except ProbeRefused as exc:
            self._stop()
            self._publish(ProbeStatus(PROBE_FAILED, model, rate_hz=rate, reason=str(exc)))
            return
        key = (model, version, shapes_key)
        if self._running is not None and self._running != (model, version):
            log.info("probe: %s changed from %s to %s; reloading", model, self._running[1], version)
            self._stop()
        reason = backoff_reason(list(self.gpu_jobs.values()), self.alerts())
        if self.process is None:
            if self._failed_for == key:
                return
            base = self._base(model, version, rate, manifest, shapes)
            if reason is not None:
                self._publish(self._with(base, PROBE_PAUSED, reason))
                return
            self._launch(model, version, manifest, shapes)
            self._publish(self._with(base, PROBE_RUNNING, "loading %s %s" % (model, version)))
            return
        if reason != self._paused_for:
            self._paused_for = reason
            self.process.send({"pause": reason is not None})
        if rate != self.status.rate_hz:
            self.process.send({"rate": rate})
        state = PROBE_PAUSED if reason else PROBE_RUNNING
        why = reason or ("" if self.status.provider else "loading %s %s" % (model, version))
        current = self.status
        if (current.state, current.model, current.version, current.rate_hz, current.reason, current.backend,
                current.shapes) == (state, model, version, rate, why, manifest.backend, shapes):
            return  # the common tick: running as published, nothing to build or send
        self._publish(self._with(self._base(model, version, rate, manifest, shapes), state, why))

    def _planned(self, model: str) -> Tuple[str, Manifest, Dict[str, List[int]], str]:
        """:meth:`_plan` for the current settings, and its shapes as a key. Worked out again only
        when the active version or the settings changed."""
        given = self.settings.shapes
        cached = self._plan_cache
        if cached is not None and cached[1] is given and cached[0] == (model, self.store.active_version(model)):
            return cached[2]
        version, manifest, shapes = self._plan(model, given)
        planned = (version, manifest, shapes, json.dumps(shapes, sort_keys=True))
        self._plan_cache = ((model, version), given, planned)
        return planned

    @staticmethod
    def _base(model: str, version: str, rate: float, manifest: Manifest, shapes: Dict[str, List[int]]) -> ProbeStatus:
        return ProbeStatus(PROBE_RUNNING, model, version, rate, source=PROBE_SOURCE_PREFIX + model,
                           backend=manifest.backend, shapes=shapes)

    def _with(self, base: ProbeStatus, state: str, reason: str) -> ProbeStatus:
        current = self.status
        same = current.model == base.model and current.version == base.version
        return ProbeStatus(state, base.model, base.version, base.rate_hz, reason, base.source, base.backend,
                           current.provider if same else None, base.shapes, current.count if same else 0,
                           current.busy_s if same else 0.0, current.last_ms if same else None)

    def _launch(self, model: str, version: str, manifest: Manifest, shapes: Dict[str, List[int]]) -> None:
        assert self._loop is not None
        directory = self.store.version_dir(model, version)
        request: Dict[str, Any] = {
            "path": os.path.join(directory, manifest.entry), "backend": manifest.backend,
            "inputs": [{"name": spec.name, "dtype": spec.dtype, "shape": shapes[spec.name]}
                       for spec in manifest.inputs],
            "rate_hz": self.settings.rate_hz, "paused": False,
            "version_compatible": bool(manifest.engine and manifest.engine.version_compatible),
            # the package's real input (deploy --sample): fed where its shape is the one probed
            "sample": os.path.join(directory, manifest.warmup.sample) if manifest.warmup and manifest.warmup.sample
            else None,
        }
        key = (model, version, json.dumps(shapes, sort_keys=True))
        process = ProbeProcess(self._loop, os.path.join(self.root, "latency", "probe.log"),
                               lambda line: self._on_line(key, line), lambda values: self._on_readings(key, values),
                               lambda code, tail: self._on_exit(key, code, tail))
        process.start(request)
        self.process, self._running, self._paused_for = process, (model, version), None
        self._stages = ("total",)  # until its ready line names them
        log.info("probe: running %s %s at %g Hz (pid %s)", model, version, self.settings.rate_hz, process.pid)

    def _stop(self) -> None:
        if self.process is not None:
            self.process.stop()
        self.process, self._running, self._paused_for = None, None, None

    # -- the child's lines ------------------------------------------------------------------
    def _on_readings(self, key: Tuple[str, str, str], values: List[float]) -> None:
        """A batch: the offset to wall-clock time, then the end and each stage's time per
        inference, ``total`` last. Slices and maps, no Python loop per reading: this runs every
        second."""
        stages = self._stages
        width = 1 + len(stages)
        readings = values[1:]
        total = readings[width - 1::width]
        if not total or len(readings) != width * len(total):
            return  # not a whole batch: nothing to count
        t = list(map(values[0].__add__, readings[0::width]))
        self.latency.add_probe_readings(PROBE_SOURCE_PREFIX + key[0], t,
                                        {stage: readings[i::width] for i, stage in enumerate(stages, start=1)})
        self.status.count += len(total)
        self.status.busy_s += sum(total)
        self.status.last_ms = total[-1] * 1000.0

    def _on_line(self, key: Tuple[str, str, str], line: Dict[str, Any]) -> None:
        if "ready" in line:
            if self.process is not None:
                self.process.quiet()  # from now on its batches wait for the latency service's publish
            ready = line["ready"] if isinstance(line["ready"], dict) else {}
            self.status.provider = str(ready.get("provider", "")) or None
            stages = ready.get("stages")
            if isinstance(stages, list) and stages and stages[-1] == "total" and all(
                    isinstance(s, str) for s in stages):
                self._stages = tuple(stages)
            if self.status.state == PROBE_RUNNING:
                self.status.reason = ""
            self._publish(self.status, force=True)
        elif "error" in line:
            self._fail(key, "%s %s cannot be probed: %s" % (key[0], key[1], line["error"]))

    def _on_exit(self, key: Tuple[str, str, str], code: int, tail: str) -> None:
        self.process, self._running, self._paused_for = None, None, None
        if self._failed_for != key:
            what = "was killed by signal %d" % -code if code < 0 else "exited with code %d" % code
            self._fail(key, "the probe process for %s %s %s%s; set the probe again to retry" % (
                key[0], key[1], what, ": " + tail if tail else ""))

    def _fail(self, key: Tuple[str, str, str], reason: str) -> None:
        self._failed_for = key
        log.warning("probe: %s", reason)
        self._publish(self._with(self.status, PROBE_FAILED, reason))

    def _publish(self, status: ProbeStatus, force: bool = False) -> None:
        old = self.status
        changed = (status.state, status.model, status.version, status.rate_hz, status.reason, status.provider) != (
            old.state, old.model, old.version, old.rate_hz, old.reason, old.provider)
        if status is not old:
            status.since = self.clock() if changed else old.since
            self.status = status
        if changed or force:
            self.bus.publish(TOPIC_PROBE, self.status)


class SourceVersions:
    """``version_of`` for the latency aggregator: the probe's version for ``probe:<model>``, the
    model's active version for a reported source named like a stored model, else None."""

    def __init__(self, store: Store, probe: Optional[ProbeService] = None) -> None:
        self.store = store
        self.probe = probe

    def __call__(self, source: str) -> Optional[str]:
        if source.startswith(PROBE_SOURCE_PREFIX):
            return self.probe.version_of_source(source) if self.probe is not None else None
        try:
            check_name(source)
        except StoreError:
            return None  # not a name the store could hold
        return self.store.active_version(source)
