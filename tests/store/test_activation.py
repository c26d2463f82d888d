"""Activation on a real store: hooks, automatic rollback, swap gating, downgrades, the floor, retention,
the integrity scrub and several models side by side."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

import pytest

from console.core.models.packages import write_package
from device_runtime.package_format.errors import Code, StoreError
from device_runtime.package_format.manifest import FileEntry, Manifest, TensorSpec
from device_runtime.package_format.signing import sign
from device_runtime.store import activation, history, retention, scrub
from device_runtime.store.config import StoreConfig, save_config
from device_runtime.store.store import Store
from tests.support.store import SIGN_KEY, make_package, snapshot


def deploy(store: Store, tmp: Path, version: str, name: str = "detector", **options: object) -> activation.Outcome:
    store.import_package(str(make_package(tmp, name=name, version=version, **options)))  # type: ignore[arg-type]
    return activation.activate(store, activation.Plan(name, version, activation.DEPLOY))


def test_deploy_then_automatic_rollback_when_the_health_check_fails(store: Store, tmp_path: Path) -> None:
    assert deploy(store, tmp_path, "1.0.0").result == "committed"
    save_config(store.root, StoreConfig(health_hook=["sh", "-c", "echo camera pipeline stalled; exit 3"],
                                        health_grace_s=5))
    outcome = deploy(store, tmp_path, "1.1.0")
    assert outcome.result == "rolled_back"
    assert "health check failed" in outcome.message and "camera pipeline stalled" in outcome.message
    assert store.active_version("detector") == "1.0.0"
    state = store.state("detector")
    assert state.committed == "1.0.0" and "health check failed" in state.failed["1.1.0"]
    last = history.read(store.root, "detector")[-1]
    assert last["result"] == history.ROLLED_BACK and "health check failed" in last["why"]
    assert "failed" in next(v.status for v in store.versions("detector") if v.version == "1.1.0")


def test_the_restart_hook_runs_for_the_new_version_and_again_for_the_old_one_on_failure(store: Store,
                                                                                         tmp_path: Path) -> None:
    log = tmp_path / "restarts.log"
    restart = ["sh", "-c", 'echo "$EDGE_MODEL $EDGE_VERSION $(readlink "$EDGE_MODEL_DIR")" >> %s' % log]
    save_config(store.root, StoreConfig(restart_hook=restart))
    assert deploy(store, tmp_path, "1.0.0").result == "committed"
    save_config(store.root, StoreConfig(restart_hook=restart, health_hook=["false"]))
    assert deploy(store, tmp_path, "1.1.0").result == "rolled_back"
    assert log.read_text().splitlines() == [
        "detector 1.0.0 ../models/detector/1.0.0",
        "detector 1.1.0 ../models/detector/1.1.0",
        "detector 1.0.0 ../models/detector/1.0.0",
    ]


def test_a_failing_restart_hook_rolls_back(store: Store, tmp_path: Path) -> None:
    assert deploy(store, tmp_path, "1.0.0").result == "committed"
    save_config(store.root, StoreConfig(restart_hook=["sh", "-c", 'test "$EDGE_VERSION" = 1.0.0']))
    outcome = deploy(store, tmp_path, "1.1.0")
    assert outcome.result == "rolled_back" and "restart hook failed" in outcome.message
    assert store.active_version("detector") == "1.0.0"


def test_a_model_that_does_not_load_is_never_swapped_in(store: Store, tmp_path: Path) -> None:
    assert deploy(store, tmp_path, "1.0.0").result == "committed"
    junk = tmp_path / "model.onnx"
    junk.write_bytes(b"this is not an onnx model" * 40)
    import hashlib

    manifest = Manifest("detector", "1.1.0", "2026-01-01T00:00:00Z", "tests", "onnxruntime", "model.onnx",
                        [FileEntry("model.onnx", junk.stat().st_size, hashlib.sha256(junk.read_bytes()).hexdigest(),
                                   "model")], [TensorSpec("x", "float32", [1, 8])], [TensorSpec("y", "float32", [1])])
    raw = manifest.canonical_bytes()
    write_package(tmp_path / "junk.tar.gz", raw, sign(SIGN_KEY, raw).to_bytes(), {"model.onnx": junk})
    store.import_package(str(tmp_path / "junk.tar.gz"))
    outcome = activation.activate(store, activation.Plan("detector", "1.1.0"))
    assert outcome.result == "failed" and outcome.code == Code.LOAD_FAILED
    assert "does not load" in outcome.message
    assert store.active_version("detector") == "1.0.0"
    assert "does not load" in store.state("detector").failed["1.1.0"]


def _hold(path: str, reason: str) -> int:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    os.write(fd, reason.encode())
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def test_the_inhibit_lock_makes_activation_wait_then_refuse_or_override(store: Store, tmp_path: Path) -> None:
    assert deploy(store, tmp_path, "1.0.0").result == "committed"
    store.import_package(str(make_package(tmp_path, version="1.1.0")))
    fd = _hold(store.path("run", "inhibit.lock"), "mission 42 in progress")
    try:
        stages: list[str] = []
        outcome = activation.activate(store, activation.Plan("detector", "1.1.0", wait_s=0.3),
                                      lambda f, s: stages.append(s))
        assert outcome.result == "failed" and outcome.code == Code.INHIBITED
        assert "mission 42 in progress" in outcome.message and "--force" in outcome.message
        assert any("waiting" in s and "mission 42" in s for s in stages)
        assert store.active_version("detector") == "1.0.0" and "1.1.0" not in store.state("detector").failed
        forced = activation.activate(store, activation.Plan("detector", "1.1.0", force=True, wait_s=0.1))
        assert forced.result == "committed"
        assert "override" in history.read(store.root, "detector")[-1]["detail"]
    finally:
        os.close(fd)


def test_activation_waits_for_the_inhibit_lock_and_goes_on_when_it_is_released(store: Store,
                                                                                 tmp_path: Path) -> None:
    assert deploy(store, tmp_path, "1.0.0").result == "committed"
    store.import_package(str(make_package(tmp_path, version="1.1.0")))
    fd = _hold(store.path("run", "inhibit.lock"), "docking")
    released = threading.Event()

    def progress(fraction: float, stage: str) -> None:
        if stage.startswith("waiting") and not released.is_set():
            os.close(fd)  # the robot finishes its mission while we wait
            released.set()

    outcome = activation.activate(store, activation.Plan("detector", "1.1.0", wait_s=30), progress)
    assert released.is_set() and outcome.result == "committed"
    assert "override" not in history.read(store.root, "detector")[-1]["detail"]


def test_downgrades_need_intent_and_are_recorded(store: Store, tmp_path: Path) -> None:
    assert deploy(store, tmp_path, "1.0.0").result == "committed"
    assert deploy(store, tmp_path, "2.0.0").result == "committed"
    before = snapshot(Path(store.root))
    with pytest.raises(StoreError) as info:
        activation.activate(store, activation.Plan("detector", "1.0.0", activation.DEPLOY))
    assert info.value.code == Code.DOWNGRADE and "explicit intent" in info.value.message
    assert snapshot(Path(store.root)) == before
    outcome = activation.activate(store, activation.Plan("detector", "1.0.0", allow_downgrade=True))
    assert outcome.result == "committed" and outcome.downgrade
    started = [e for e in history.read(store.root, "detector") if e["result"] == history.STARTED]
    assert started[-1]["detail"] == "downgrade"


def test_rollback_works_at_or_above_the_floor_and_not_below(store: Store, tmp_path: Path) -> None:
    assert deploy(store, tmp_path, "1.0.0", security_counter=1).result == "committed"
    assert deploy(store, tmp_path, "1.1.0", security_counter=1).result == "committed"
    assert activation.rollback(store, "detector").result == "committed"
    assert store.active_version("detector") == "1.0.0"
    assert activation.rollback(store, "detector").version == "1.1.0"
    assert deploy(store, tmp_path, "2.0.0", security_counter=2).result == "committed"
    assert store.state("detector").floor == 2
    with pytest.raises(StoreError) as info:
        activation.rollback(store, "detector")
    assert info.value.code == Code.BELOW_FLOOR and "floor 2" in info.value.message
    assert store.active_version("detector") == "2.0.0"


def test_retention_keeps_the_newest_and_never_active_previous_or_pinned(store: Store, tmp_path: Path) -> None:
    save_config(store.root, StoreConfig(keep=2))
    assert deploy(store, tmp_path, "1.0.0").result == "committed"
    store.pin("detector", "1.0.0", True)
    for version in ("1.1.0", "1.2.0", "1.3.0", "1.4.0"):
        assert deploy(store, tmp_path, version).result == "committed"
    assert activation.rollback(store, "detector", to="1.3.0").result == "committed"
    kept = store.stored_versions("detector")
    assert "1.0.0" in kept and "1.3.0" in kept and "1.4.0" in kept
    assert "1.1.0" not in kept and "1.2.0" not in kept
    store.pin("detector", "1.0.0", False)
    assert retention.apply(store, "detector") == ["1.0.0"]


def test_the_scrub_flags_a_silently_corrupted_version_which_is_never_activated(store: Store, tmp_path: Path) -> None:
    assert deploy(store, tmp_path, "1.0.0").result == "committed"
    assert deploy(store, tmp_path, "1.1.0").result == "committed"
    model = Path(store.version_dir("detector", "1.0.0")) / "model.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x10
    stat = model.stat()
    model.write_bytes(bytes(data))
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # bit rot keeps size and mtime
    fresh = Store(store.root)
    found = scrub.scrub(fresh, threading.Event())
    assert [(n, v) for n, v, _ in found] == [("detector", "1.0.0")]
    assert "no longer matches its sha256" in fresh.state("detector").corrupt["1.0.0"]
    with pytest.raises(StoreError) as info:
        activation.rollback(fresh, "detector")
    assert info.value.code == Code.CORRUPT and "never activated" in info.value.message
    assert fresh.active_version("detector") == "1.1.0"
    assert "corrupt" in next(v.status for v in fresh.versions("detector") if v.version == "1.0.0")


def test_a_changed_file_is_caught_at_activation_even_before_the_scrub(store: Store, tmp_path: Path) -> None:
    assert deploy(store, tmp_path, "1.0.0").result == "committed"
    assert deploy(store, tmp_path, "1.1.0").result == "committed"
    model = Path(store.version_dir("detector", "1.0.0")) / "model.onnx"
    data = bytearray(model.read_bytes())
    data[-1] ^= 1
    model.write_bytes(bytes(data))
    outcome = activation.rollback(store, "detector")
    assert outcome.result == "failed" and outcome.code == Code.CORRUPT
    assert store.active_version("detector") == "1.1.0"
    assert "1.0.0" in store.state("detector").corrupt


def test_several_models_each_with_their_own_active_version(store: Store, tmp_path: Path) -> None:
    assert deploy(store, tmp_path, "1.0.0", name="detector").result == "committed"
    assert deploy(store, tmp_path, "3.1.0", name="segmenter").result == "committed"
    assert deploy(store, tmp_path, "1.1.0", name="detector").result == "committed"
    assert activation.rollback(store, "detector").result == "committed"
    assert store.model_names() == ["detector", "segmenter"]
    assert store.active_version("detector") == "1.0.0" and store.active_version("segmenter") == "3.1.0"
    assert os.readlink(store.active_link("segmenter")) == "../models/segmenter/3.1.0"
