"""Crash consistency: the fault hook kills the store (SIGKILL, os._exit) or raises at every mutating step.

Each case copies a prepared store (1.0.0 and 1.1.0 committed, restart hook configured, keep 1),
runs one action in a forked child whose fault hook fires at one point, then "restarts": a fresh
Store runs start-up recovery. Afterwards exactly one complete, verified version is active, the
history is consistent, nothing is left over, and a further deploy works.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

from device_runtime.store import activation, history, recovery
from device_runtime.store.config import StoreConfig, load_config, save_config
from device_runtime.store.store import FAULT_POINTS, Store
from device_runtime.store.upload import Incoming
from device_runtime.store.verify import hash_problems, read_manifest
from tests.support.store import make_package, public_line

KINDS = ("sigkill", "exit", "exception")
ACTION_POINTS = {
    "upload": ["upload.append", "upload.finish", "import.unpack", "import.fsync", "import.rename", "import.history"],
    "deploy": ["import.unpack", "import.fsync", "import.rename", "import.history", "activate.begin",
               "activate.trial", "activate.swap", "activate.swap.rename", "activate.hook", "activate.health",
               "activate.commit", "activate.finish", "retention.remove"],
    "rollback": ["activate.begin", "activate.trial", "activate.swap", "activate.swap.rename", "activate.hook",
                 "activate.health", "activate.commit", "activate.finish"],
    "failing-deploy": ["rollback.swap", "rollback.record"],
    "recovery": ["cleanup.remove", "recover.swap", "recover.record"],
}
CASES = [(action, point, seed) for action, points in ACTION_POINTS.items() for point in points for seed in (0, 1)]


class InjectedFault(RuntimeError):
    pass


def fault_hook(point: str, kind: str, marker: Path, occurrence: int = 1) -> Any:
    seen = [0]

    def hook(at: str) -> None:
        if at != point:
            return
        seen[0] += 1
        if seen[0] != occurrence:
            return
        marker.write_text(at)
        if kind == "sigkill":
            os.kill(os.getpid(), signal.SIGKILL)
        if kind == "exit":
            os._exit(70)
        raise InjectedFault("injected fault at %s" % at)
    return hook


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("prepared")
    root = tmp / "root"
    store = Store(str(root))
    store.trust_key(public_line())
    save_config(str(root), StoreConfig(keep=1, restart_hook=["true"]))
    packages = {v: make_package(tmp, version=v, padding_bytes=3 << 20 if v == "1.2.0" else 0)
                for v in ("1.0.0", "1.1.0", "1.2.0", "1.3.0")}
    for version in ("1.0.0", "1.1.0"):
        store.import_package(str(packages[version]))
        assert activation.activate(store, activation.Plan("detector", version)).result == "committed"
    return {"root": root, **{k: p for k, p in packages.items()}}


def _leftovers(root: Path) -> list[str]:
    found = []
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            if name.startswith((".staging-", ".trash-", ".tmp-")) or ".swap-" in name:
                found.append(os.path.join(directory, name))
    return found


def act(root: Path, action: str, packages: dict[str, Path], hook: Any) -> None:
    store = Store(str(root), fault=hook)
    if action == "upload":
        incoming = Incoming(store)
        data = packages["1.2.0"].read_bytes()
        import hashlib

        sha = hashlib.sha256(data).hexdigest()
        offset = incoming.begin(sha, len(data))
        while offset < len(data):
            offset = incoming.append(sha, offset, data[offset:offset + (1 << 20)])
        store.import_package(incoming.finish(sha))
    elif action in ("deploy", "failing-deploy"):
        store.import_package(str(packages["1.2.0"]))
        activation.activate(store, activation.Plan("detector", "1.2.0", activation.DEPLOY))
    elif action == "rollback":
        activation.rollback(store, "detector")
    else:
        recovery.recover(store)


def _child(root: Path, action: str, packages: dict[str, Path], point: str, kind: str, marker: Path,
           occurrence: int) -> None:
    try:
        act(root, action, packages, fault_hook(point, kind, marker, occurrence))
    except InjectedFault:
        os._exit(0)
    os._exit(0)


def run_child(root: Path, action: str, packages: dict[str, Path], point: str, kind: str, marker: Path,
              occurrence: int = 1) -> int | None:
    process = multiprocessing.get_context("fork").Process(
        target=_child, args=(root, action, packages, point, kind, marker, occurrence))
    process.start()
    process.join(120)
    return process.exitcode


def assert_consistent(root: Path, packages: dict[str, Path], deploy_after: bool = True) -> Store:
    store = Store(str(root))
    recovery.recover(store)
    assert _leftovers(root) == []
    state = store.state("detector")
    assert state.trial is None
    active = store.active_version("detector")
    assert active is not None and active == state.committed
    directory = store.version_dir("detector", active)
    assert hash_problems(directory, read_manifest(directory)) == []
    for keep in (state.committed, state.previous, *state.pinned):
        if keep:
            assert os.path.isdir(store.version_dir("detector", keep)), keep
    entries = history.read(str(root), "detector")
    finals: dict[str, int] = {}
    started = {e["id"] for e in entries if e["result"] == history.STARTED}
    for e in entries:
        if e["result"] in history.FINAL_RESULTS:
            finals[e["id"]] = finals.get(e["id"], 0) + 1
            assert e["id"] in started, e
    assert all(finals.get(i) == 1 for i in started), (started, finals)
    committed = [e for e in entries if e["result"] == history.COMMITTED]
    assert committed[-1]["to"] == state.committed
    assert set(store.stored_versions("detector")) <= {e["to"] for e in entries if e["result"] == history.IMPORTED}
    if deploy_after:
        further_deploy(store, packages)
    return store


def further_deploy(store: Store, packages: dict[str, Path]) -> None:
    store.import_package(str(packages["1.3.0"]))
    outcome = activation.activate(store, activation.Plan("detector", "1.3.0", activation.DEPLOY))
    assert outcome.result == "committed", outcome.message
    assert store.active_version("detector") == "1.3.0"


def test_the_cases_cover_every_fault_point() -> None:
    covered = {point for points in ACTION_POINTS.values() for point in points}
    assert covered == set(FAULT_POINTS)
    assert len(covered) >= 10


@pytest.mark.slow
@pytest.mark.parametrize(("action", "point", "seed"), CASES)
def test_crash_at_every_mutating_step(prepared: dict[str, Path], tmp_path: Path, action: str, point: str,
                                      seed: int) -> None:
    root = tmp_path / "root"
    shutil.copytree(prepared["root"], root, symlinks=True)
    kind = KINDS[(CASES.index((action, point, seed)) + seed) % len(KINDS)]
    marker = tmp_path / "fired"
    occurrence = 1 + seed if point in ("upload.append", "cleanup.remove") else 1
    if action == "failing-deploy":
        save_config(str(root), StoreConfig(keep=1, restart_hook=["true"], health_hook=["false"]))
    if action == "recovery":
        assert run_child(root, "deploy", prepared, "activate.health", "sigkill", tmp_path / "first") == -9
        (root / "models" / ".staging-leftover").mkdir()
        (root / "models" / ".staging-leftover" / "model.onnx").write_bytes(b"half")
        os.symlink("../models/detector/1.0.0", root / "active" / ".detector.swap-dead")
        (root / "state" / ".tmp-detector.json-dead").write_bytes(b"{")
    code = run_child(root, action, prepared, point, kind, marker, occurrence)
    assert marker.read_text() == point, "the fault at %s never fired" % point
    assert code == {"sigkill": -9, "exit": 70, "exception": 0}[kind]
    save_config(str(root), StoreConfig(keep=1, restart_hook=["true"]))
    store = assert_consistent(root, prepared, deploy_after=False)
    if action == "failing-deploy":
        assert "1.2.0" in store.state("detector").failed
        assert store.active_version("detector") == "1.1.0"
    further_deploy(store, prepared)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["activate.trial", "activate.swap.rename", "activate.health", "rollback.swap"])
def test_a_crash_at_the_same_point_forever_ends_in_a_clear_failed_state(prepared: dict[str, Path], tmp_path: Path,
                                                                        point: str) -> None:
    root = tmp_path / "root"
    shutil.copytree(prepared["root"], root, symlinks=True)
    if point == "rollback.swap":
        save_config(str(root), StoreConfig(keep=1, restart_hook=["true"], health_hook=["false"]))
    for attempt in range(3):
        marker = tmp_path / ("fired-%d" % attempt)
        assert run_child(root, "deploy", prepared, point, "sigkill", marker) == -9
        assert marker.exists()
        # The restart runs with the same fault still armed: recovery must not need that step.
        assert run_child(root, "recovery", prepared, point, "sigkill", tmp_path / "never") == 0
        assert not (tmp_path / "never").exists()
    assert load_config(str(root)).keep == 1
    store = assert_consistent(root, prepared, deploy_after=False)
    state = store.state("detector")
    assert store.active_version("detector") == "1.1.0"
    assert "interrupted" in state.failed["1.2.0"] and "back on 1.1.0" in state.failed["1.2.0"]
    entries = history.read(str(root), "detector")
    interrupted = [e for e in entries if e["result"] == history.INTERRUPTED]
    assert len(interrupted) == 3
    assert entries[-1]["result"] == history.INTERRUPTED  # nothing was retried on its own
