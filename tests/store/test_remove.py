"""edgectl remove and prune on a real local daemon: what goes, what is refused, and the record of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.cli.main import ExitCode
from console.core.env import ConsoleEnv
from device_runtime.package_format.errors import StoreError
from device_runtime.store import activation, removal
from device_runtime.store.store import Store
from tests.support.store import edgectl, make_onnx, make_package


def _versions(env: ConsoleEnv, name: str) -> dict[str, object]:
    code, out, err = edgectl(env, "versions", name, "--json")
    assert code == ExitCode.OK, err
    loaded: dict[str, object] = json.loads(out)
    return loaded


def test_remove_versions_and_models_with_the_active_one_confirmed(console_env: ConsoleEnv, tmp_path: Path) -> None:
    for seed in range(4):
        code, _out, err = edgectl(console_env, "deploy", str(make_onnx(tmp_path / ("m%d.onnx" % seed), seed)),
                               "--name", "cam", "--import-only" if seed == 3 else "--why", *(
                                   [] if seed == 3 else ["seed %d" % seed]))
        assert code == ExitCode.OK, err
    assert _versions(console_env, "cam")["active"] == "1.0.2"

    code, out, err = edgectl(console_env, "remove", "cam", "--version", "1.0.0", "--why", "superseded")
    assert code == ExitCode.OK, err
    assert out.strip() == "removed cam 1.0.0 from the device"

    code, _out, err = edgectl(console_env, "remove", "cam", "--version", "1.0.2")
    assert code == ExitCode.ERROR
    assert "cam 1.0.2 is the active version" in err and "--confirm-active 1.0.2" in err
    code, _out, err = edgectl(console_env, "remove", "cam", "--version", "1.0.2", "--confirm-active", "1.0.1")
    assert code == ExitCode.ERROR and "is the active version" in err
    assert _versions(console_env, "cam")["active"] == "1.0.2"

    code, _out, err = edgectl(console_env, "pin", "cam", "1.0.3")
    assert code == ExitCode.OK, err
    code, _out, err = edgectl(console_env, "remove", "cam", "--version", "1.0.3")
    assert code == ExitCode.ERROR and "unpin it first (edgectl unpin cam 1.0.3)" in err
    assert edgectl(console_env, "unpin", "cam", "1.0.3")[0] == ExitCode.OK

    # prune keeps the newest one and, whatever its age, the active and previous ones
    code, out, err = edgectl(console_env, "prune", "--keep", "1", "--dry-run")
    assert code == ExitCode.OK, err
    assert out == ""  # 1.0.3 newest, 1.0.2 active, 1.0.1 previous
    code, out, err = edgectl(console_env, "rollback", "cam")
    assert code == ExitCode.OK, err  # active 1.0.1, previous 1.0.2
    code, out, err = edgectl(console_env, "remove", "cam", "--version", "1.0.2")
    assert code == ExitCode.OK, err
    assert [v["version"] for v in _versions(console_env, "cam")["versions"]] == ["1.0.3", "1.0.1"]  # type: ignore[attr-defined]

    code, out, err = edgectl(console_env, "remove", "cam")
    assert code == ExitCode.ERROR and "removing the whole model cam leaves cam with no active version" in err
    code, out, err = edgectl(console_env, "remove", "cam", "--confirm-active", "1.0.1", "--why", "retired")
    assert code == ExitCode.OK, err
    assert out.strip() == "removed cam (the whole model: 1.0.1, 1.0.3) from the device"

    code, out, _ = edgectl(console_env, "history", "cam", "--json")
    removes = [(e["action"], e["result"], e["why"], e["detail"]) for e in json.loads(out)["entries"]
               if e["action"] == "remove"]
    assert removes == [
        ("remove", "removed", "superseded", "removed 1.0.0"),
        ("remove", "removed", "", "removed 1.0.2"),
        ("remove", "removed", "retired",
         "removed 1.0.1, 1.0.3 and the model's state; 1.0.1 was the active version, cam now has none"),
    ]
    code, out, err = edgectl(console_env, "deploy", str(make_onnx(tmp_path / "other.onnx", 9)), "--name", "other")
    assert code == ExitCode.OK, err  # its health gate ran the checks after the removal
    code, out, _ = edgectl(console_env, "health", "--json")
    assert "cam" not in {c["name"]: c for c in json.loads(out)["checks"]}["model"]["message"]
    code, out, _ = edgectl(console_env, "audit", "--json")
    assert code == ExitCode.OK
    assert out.count("store.remove") >= 3


def test_prune_removes_all_but_the_newest(console_env: ConsoleEnv, tmp_path: Path) -> None:
    for seed in range(4):
        assert edgectl(console_env, "deploy", str(make_onnx(tmp_path / ("p%d.onnx" % seed), seed)), "--name", "det",
                    "--import-only")[0] == ExitCode.OK
    code, out, err = edgectl(console_env, "prune", "--keep", "2")
    assert code == ExitCode.OK, err
    assert out.splitlines() == ["removed det 1.0.1 from the device", "removed det 1.0.0 from the device"]
    assert [v["version"] for v in _versions(console_env, "det")["versions"]] == ["1.0.3", "1.0.2"]  # type: ignore[attr-defined]
    code, _out, err = edgectl(console_env, "prune", "--keep", "0")
    assert code == ExitCode.USAGE and "edgectl remove MODEL" in err


def test_removing_a_model_keeps_its_security_floor(store: Store, tmp_path: Path) -> None:
    store.import_package(str(make_package(tmp_path, name="gate", version="2.0.0", security_counter=3)))
    assert activation.activate(store, activation.Plan("gate", "2.0.0")).result == "committed"
    assert removal.remove(store, "gate", confirm_active="2.0.0") == ["2.0.0"]
    assert "gate" not in store.model_names()
    with pytest.raises(StoreError, match="below this device's floor 3 for gate"):
        store.import_package(str(make_package(tmp_path, name="gate", version="1.0.0", security_counter=1)))
