"""The warm-up loader a receiving child starts with an upload: the backend is imported in its own
process while the bytes arrive, the staged model is loaded the moment it is named, a model that does
not load says why, and a loader nobody names a model to, or whose parent dies, goes away."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import onnx
import psutil
import pytest
from onnx import TensorProto, helper

from console.core.models.packages import manifest_for_onnx
from device_runtime.package_format.manifest import Manifest
from device_runtime.store.warmup import Loader


def _staged(folder: Path, broken: bool = False) -> tuple[str, Manifest]:
    folder.mkdir()
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(folder / "model.onnx"))
    manifest = manifest_for_onnx(folder / "model.onnx", "relu", "1.0.0", "tests")
    if broken:  # the files matched their manifest, but the backend cannot read the model
        (folder / "model.onnx").write_bytes(b"\x08\x07" + os.urandom(64))
    return str(folder), manifest


def test_a_staged_model_is_loaded_and_warmed_up_by_the_loader(tmp_path: Path) -> None:
    folder, manifest = _staged(tmp_path / "staged")
    loader = Loader()
    outcome = loader.warm(folder, manifest)
    assert outcome["warm"]["ok"] is True
    assert outcome["warm"]["provider"] == "CPUExecutionProvider"
    assert outcome["warm"]["load_s"] >= 0 and outcome["warm"]["infer_ms"] >= 0
    loader.close()  # the result came as its line: the loader's exit is reaped here
    assert loader.proc.returncode == 0


def test_a_loader_that_readies_its_heap_for_the_model_loads_it(tmp_path: Path) -> None:
    folder, manifest = _staged(tmp_path / "staged")
    loader = Loader(reserve=32 << 20)  # as a receiving child starts it: the upload's size
    outcome = loader.warm(folder, manifest)
    assert outcome["warm"]["ok"] is True, outcome
    loader.close()
    assert loader.proc.returncode == 0


def test_the_warm_up_session_runs_once_so_its_weights_are_not_prepacked(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import device_runtime.store.warmup as warmup
    from device_runtime.engines.ort_session import open_session

    folder, manifest = _staged(tmp_path / "staged")
    sessions: list[object] = []

    def recorded(*args: object, **kwargs: object) -> object:
        sessions.append(open_session(*args, **kwargs))  # type: ignore[arg-type]
        return sessions[-1]

    monkeypatch.setattr(warmup, "open_session", recorded)
    assert warmup.warm(folder, manifest)["ok"] is True
    [session] = sessions
    options = session.get_session_options()  # type: ignore[attr-defined]
    assert options.get_session_config_entry("session.disable_prepacking") == "1"


def test_a_model_the_backend_cannot_load_is_a_warm_error_with_its_words(tmp_path: Path) -> None:
    folder, manifest = _staged(tmp_path / "staged", broken=True)
    outcome = Loader().warm(folder, manifest)
    assert set(outcome) == {"warm_error"}
    assert outcome["warm_error"].startswith("InvalidProtobuf: "), outcome
    assert "Protobuf parsing failed" in outcome["warm_error"]


def test_a_loader_that_crashes_says_how_it_ended(tmp_path: Path) -> None:
    folder, manifest = _staged(tmp_path / "staged")
    loader = Loader()
    loader.proc.send_signal(signal.SIGKILL)
    loader.proc.wait()
    outcome = loader.warm(folder, manifest)
    assert set(outcome) == {"warm_error"}
    assert "the loader" in outcome["warm_error"], outcome


def test_a_loader_that_dies_without_a_result_is_quoted_from_its_stderr(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import device_runtime.store.warmup as warmup

    folder, manifest = _staged(tmp_path / "staged")
    dies = ("import sys; sys.stdin.readline(); sys.stderr.write('x' * 200000 + ' Illegal instruction (core dumped)'); "
            "sys.exit(132)")  # more than a pipe holds: it must not block the loader
    monkeypatch.setattr(warmup, "python_command", lambda: [sys.executable, "-c", dies])
    loader = Loader()
    outcome = loader.warm(folder, manifest)
    assert set(outcome) == {"warm_error"}
    assert outcome["warm_error"].endswith("Illegal instruction (core dumped)"), outcome["warm_error"][-80:]
    assert len(outcome["warm_error"]) <= 300
    loader.close()
    assert loader.proc.returncode == 132


def test_a_loader_never_given_a_model_ends_quietly() -> None:
    loader = Loader()
    loader.close()
    assert loader.proc.returncode == 0
    assert loader.proc.stdout is not None and loader.proc.stdout.closed


PARENT = """
import sys
from device_runtime.package_format.manifest import parse_manifest_bytes
from device_runtime.store.warmup import Loader
loader = Loader()
print(loader.proc.pid, flush=True)
loader.warm(sys.argv[1], parse_manifest_bytes(open(sys.argv[2], "rb").read()))
"""


def test_the_loader_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    """A receiving child the daemon kills (a stopped deploy, a stop of the daemon) leaves no loader
    behind, even one in the middle of a load: here the model is a FIFO, so the load waits on it."""
    folder, manifest = _staged(tmp_path / "staged")
    model = Path(folder) / "model.onnx"
    model.unlink()
    os.mkfifo(model)
    (tmp_path / "manifest.json").write_bytes(manifest.canonical_bytes())
    parent = subprocess.Popen([sys.executable, "-c", PARENT, folder, str(tmp_path / "manifest.json")],
                              stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    writer: list[int] = []
    try:
        assert parent.stdout is not None
        loader = psutil.Process(int(parent.stdout.readline()))
        opening = threading.Thread(target=lambda: writer.append(os.open(model, os.O_WRONLY)), daemon=True)
        opening.start()
        opening.join(timeout=60)  # returns once the loader has opened the model to load it
        assert writer, "the loader never started loading the model"
        parent.kill()
        parent.wait()
        loader.wait(timeout=20)  # raises psutil.TimeoutExpired if it outlived its parent
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for fd in writer:
            os.close(fd)
