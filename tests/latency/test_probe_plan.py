"""The probe's pure decisions: input shapes from settings or manifest, when to back off, its
settings file (a damaged one is reported, never overwritten behind the user's back), and how a
child's batch of readings splits into stages."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_runtime.latency.probe import ProbeService
from device_runtime.latency.probe_config import config_path, load_settings, save_settings
from device_runtime.latency.probe_plan import ProbeRefused, backoff_reason, resolve_shapes
from device_runtime.latency.service import LatencyService
from device_runtime.package_format.manifest import TensorSpec
from device_runtime.protocol import AlertEvent, JobInfo, ProbeSettings
from device_runtime.server.events import EventBus
from device_runtime.store.store import Store


def _alert(kind: str, source: str = "gpu0", end: float | None = None) -> AlertEvent:
    return AlertEvent("a1", kind, "warning", source, "hot", 100.0, end)


def test_shapes_come_from_settings_then_the_manifest_profile_then_static_dims() -> None:
    inputs = [TensorSpec("image", "float32", ["batch", 3, 64, 64]),
              TensorSpec("mask", "uint8", [None, 64], {"min": [1, 64], "opt": [4, 64], "max": [8, 64]}),
              TensorSpec("scale", "float32", [1])]
    shapes = resolve_shapes("det", inputs, {"image": [2, 3, 64, 64]})
    assert shapes == {"image": [2, 3, 64, 64], "mask": [4, 64], "scale": [1]}
    with pytest.raises(ProbeRefused, match=r"'image' \[batch, 3, 64, 64\] \(dynamic: batch\).*--shape image:1x3x64x64"):
        resolve_shapes("det", inputs, {})
    with pytest.raises(ProbeRefused, match="has 4 dimensions"):
        resolve_shapes("det", inputs, {"image": [3, 64, 64]})
    with pytest.raises(ProbeRefused, match="dimension 0 of the shape given is 0"):
        resolve_shapes("det", inputs, {"image": [0, 3, 64, 64]})


@pytest.mark.parametrize(("alert", "pauses"), [
    (_alert("thermal_throttle"), True),
    (_alert("power_cap", "oc1"), True),
    (_alert("clocks_below_max", "gpu"), True),
    (_alert("clocks_below_max", "cpu"), False),  # governors hold busy CPU cores below their cap all day
    (_alert("temperature"), False),
    (_alert("thermal_throttle", end=120.0), False),  # over
])
def test_throttling_alerts_pause_the_probe(alert: AlertEvent, pauses: bool) -> None:
    reason = backoff_reason([], [alert])
    assert (reason is not None) == pauses
    if reason is not None:
        assert "throttles" in reason and alert.source in reason and "resumes when the alert ends" in reason


def test_a_gpu_job_is_named_in_the_reason() -> None:
    job = JobInfo(id="j1", kind="build", state="running", spec={}, label="fp16 engine", created=1.0, gpu=True)
    reason = backoff_reason([job], [_alert("thermal_throttle")])
    assert reason is not None and reason.startswith("paused while the build job j1 (fp16 engine) runs")


def test_settings_round_trip_and_a_damaged_file_is_reported(tmp_path: Path) -> None:
    assert load_settings(str(tmp_path)) == (ProbeSettings(), None)
    save_settings(str(tmp_path), ProbeSettings("det", 5.0, {"x": [1, 8]}))
    assert load_settings(str(tmp_path)) == (ProbeSettings("det", 5.0, {"x": [1, 8]}), None)
    path = Path(config_path(str(tmp_path)))
    for text, reason in (('{"model": "det", "rate_hz": "fast"}', "rate_hz must be a number"),
                         ('{"model": "det", "rate_hz": 500}', "rate 500 Hz is out of range")):
        path.write_text(text)
        settings, problem = load_settings(str(tmp_path))
        assert settings == ProbeSettings() and problem is not None and reason in problem.message
        assert "%s.bad" % path in problem.message and problem.fix.startswith("edgectl probe --off")
        assert not path.exists() and Path("%s.bad" % path).read_text() == text  # set aside, kept


def test_readings_are_split_into_the_stages_the_child_named(tmp_path: Path) -> None:
    """A TensorRT child names two stages (infer, then total with the copies); ONNX Runtime's
    one. The daemon slices each batch by what the running child's ready line said."""
    bus = EventBus()
    latency = LatencyService(str(tmp_path / "latency.sock"), bus)
    probe = ProbeService(str(tmp_path), bus, latency, Store(str(tmp_path / "store")), list, "10.3.0")
    key = ("det", "1.0.0", "{}")
    probe._on_line(key, {"ready": {"provider": "tensorrt 10.3.0", "stages": ["infer", "total"]}})
    probe._on_readings(key, [1000.0, 1.0, 0.002, 0.003, 1.1, 0.004, 0.006])
    windows = {w.stage: w for w in latency.aggregator.windows(1001.2)}
    assert set(windows) == {"infer", "total"}
    assert (windows["infer"].max_ms, windows["total"].max_ms) == (pytest.approx(4.0), pytest.approx(6.0))
    assert probe.status.count == 2 and probe.status.busy_s == pytest.approx(0.009)

    probe._on_line(key, {"ready": {"provider": "CPUExecutionProvider", "stages": ["total"]}})
    probe._on_readings(key, [1000.0, 1.2, 0.005])
    probe._on_readings(key, [1000.0, 1.3, 0.002, 0.003])  # not whole readings of one stage: dropped
    assert probe.status.count == 3
    assert [w.count for w in latency.aggregator.windows(1001.4) if w.stage == "total"] == [3]
    probe.close()
    latency.close()
