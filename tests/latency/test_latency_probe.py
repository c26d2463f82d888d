"""The latency probe in a real daemon: the demo model deployed through the store, real ONNX Runtime
in the probe's child process, real benchmark jobs for the back-off."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core.devices.client import DeviceError
from device_runtime.demo_model import DEMO_NAME
from device_runtime.latency.probe_config import config_path
from device_runtime.protocol import (
    JOB_SUCCEEDED,
    PROBE_OFF,
    PROBE_PAUSED,
    PROBE_RUNNING,
    BenchmarkSpec,
    Empty,
    JobInfo,
    JobRef,
    JobSubmit,
    ProbeSettings,
    ProbeStatus,
)
from tests.support.daemons import RunningDaemon
from tests.support.probe import DEMO_SHAPES, ProbeHarness

SOURCE = "probe:" + DEMO_NAME


@pytest.fixture
def harness(daemon: RunningDaemon, tmp_path: Path) -> Iterator[ProbeHarness]:
    h = ProbeHarness(daemon, tmp_path)
    yield h
    h.close()


def _set(h: ProbeHarness, rate: float, shapes: dict[str, list[int]] | None = None,
         model: str | None = DEMO_NAME) -> ProbeStatus:
    status = h.session.request("probe.set", ProbeSettings(model, rate, shapes if shapes is not None else DEMO_SHAPES))
    assert isinstance(status, ProbeStatus)
    return status


def test_probe_pushes_windows_with_the_active_version_and_follows_a_rollback(harness: ProbeHarness,
                                                                             daemon: RunningDaemon) -> None:
    harness.deploy_demo("1.0.0")
    harness.deploy_demo("1.1.0")
    status = _set(harness, 10.0)
    assert (status.state, status.version, status.source) == (PROBE_RUNNING, "1.1.0", SOURCE)
    loaded = harness.wait_status(lambda s: s.provider is not None)
    assert loaded.provider == "CPUExecutionProvider" and loaded.shapes == DEMO_SHAPES
    total = harness.wait_window(lambda w: w.source == SOURCE and w.count >= 5)
    assert total.stage == "total"  # ONNX Runtime's model time is its end-to-end time: one stage
    assert total.version == "1.1.0" and 0 < total.p50_ms <= total.p95_ms <= total.p99_ms <= total.max_ms
    assert 5.0 <= total.rate_hz <= 12.0
    saved = json.loads(Path(config_path(str(daemon.root))).read_text())
    assert saved == {"version": 1, "model": DEMO_NAME, "rate_hz": 10.0, "shapes": DEMO_SHAPES}

    rolled = harness.store.rollback(DEMO_NAME)
    assert rolled.result == "committed", rolled.message
    # The store action's own event moved the probe on, before the rollback's reply: no polling.
    now = harness.session.request("probe.get", Empty())
    assert isinstance(now, ProbeStatus) and (now.version, now.state) == ("1.0.0", PROBE_RUNNING)
    harness.wait_status(lambda s: s.version == "1.0.0" and s.state == PROBE_RUNNING and s.provider is not None)
    window = harness.wait_window(lambda w: w.source == SOURCE and w.version == "1.0.0")
    assert window.stage == "total"

    off = _set(harness, 0.0)
    assert off.state == PROBE_OFF and off.reason == "the probe is off"


def test_probe_backs_off_while_a_gpu_job_runs_and_resumes_after(harness: ProbeHarness, tmp_path: Path) -> None:
    harness.deploy_demo("1.0.0")
    _set(harness, 5.0)
    harness.wait_window(lambda w: w.source == SOURCE)
    spec = BenchmarkSpec(str(tmp_path / "demo.onnx"), shapes=DEMO_SHAPES, warmup_s=0.2, seconds=3.0)
    job = harness.session.request("jobs.submit", JobSubmit("benchmark", spec.to_wire(), "probe back-off"))
    assert isinstance(job, JobInfo) and job.gpu
    paused = harness.wait_status(lambda s: s.state == PROBE_PAUSED)
    assert "benchmark job %s" % job.id in paused.reason and "resumes" in paused.reason
    counted = harness.session.request("probe.get", Empty())
    assert isinstance(counted, ProbeStatus)
    resumed = harness.wait_status(lambda s: s.state == PROBE_RUNNING)
    assert resumed.reason == ""
    done = harness.session.request("jobs.get", JobRef(job.id))
    assert isinstance(done, JobInfo) and done.state == JOB_SUCCEEDED
    # While paused no inference ran. Readings reach the daemon in one batch a second, so those
    # taken just before the pause may still be counted after it: at most about one batch (5 at
    # 5 Hz), where a probe that kept running through the 3.2 s job would have added 16 or more.
    assert resumed.count - counted.count <= 8
    harness.wait_window(lambda w: w.source == SOURCE and w.t > (done.finished or 0) + 1.5)


def test_a_shape_that_does_not_fit_is_refused_and_changes_nothing(harness: ProbeHarness,
                                                                  daemon: RunningDaemon) -> None:
    harness.deploy_demo("1.0.0")
    with pytest.raises(DeviceError, match="fixed dimension 1 of 3"):
        _set(harness, 10.0, shapes={"image": [1, 4, 64, 64]})
    with pytest.raises(DeviceError, match="has no input named pixels; its inputs are image"):
        _set(harness, 10.0, shapes={"pixels": [1, 3, 64, 64]})
    status = harness.session.request("probe.get", Empty())
    assert isinstance(status, ProbeStatus) and status.state == PROBE_OFF
    assert not Path(config_path(str(daemon.root))).exists()
    # with no shape given, the probe feeds the shapes the deploy's warm-up recorded in the manifest
    assert _set(harness, 10.0, shapes={}).shapes == {"image": [1, 3, 64, 64]}
    assert _set(harness, 0.0).state == PROBE_OFF


@pytest.mark.parametrize(("rate", "why"), [
    (0.5, "rate 0.5 Hz is out of range: the probe runs at 1 to 30 Hz, or 0 (off)"),
    (31.0, "rate 31 Hz is out of range"),
    (-1.0, "rate -1.0 Hz is not a rate"),
])
def test_rates_outside_1_to_30_hz_are_refused(harness: ProbeHarness, rate: float, why: str) -> None:
    with pytest.raises(DeviceError, match=why.replace("(", r"\(").replace(")", r"\)")):
        _set(harness, rate)


def test_unknown_models_and_a_missing_model_name_are_refused(harness: ProbeHarness) -> None:
    with pytest.raises(DeviceError, match="no model named detector in this device's store"):
        _set(harness, 5.0, model="detector")
    with pytest.raises(DeviceError, match="name the model the probe should run"):
        _set(harness, 5.0, model=None)
