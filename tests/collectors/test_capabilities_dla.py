"""The DLA count in the device's Capabilities, cross-checked with TensorRT's own where TensorRT is
importable: trtexec --useDLACore checks a core against TensorRT's count, so on a mismatch that count
is used and the mismatch logged. TensorRT cannot be installed on CI machines: the strict engine fakes
stand in (tests/support/trt_dla.py), in this process and in the child process the daemon asks.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import pytest

from device_runtime.capabilities import probe
from device_runtime.collectors.identity_facts import tensorrt_dla_cores, tensorrt_dla_cores_in_child
from tests.support.trt_dla import importer_of, tensorrt_with_dla

REPO = Path(__file__).resolve().parents[2]
ORIN_NX_8GB = REPO / "tests" / "fixtures" / "boards" / "identity" / "orin-nx-8gb"  # the table says 1 DLA core
LOGGER = "device_runtime.collectors.identity_facts"


def caps_of(tree: Path, ask: Any = None) -> Any:
    return probe(root=str(tree), proc_root=str(tree / "proc"), etc_root=str(tree / "etc"),
                 var_root=str(tree / "var"), tensorrt_dla=ask)


def asking(trt: Any) -> Any:
    return lambda: tensorrt_dla_cores(importer_of(trt))


def test_tensorrts_count_wins_a_mismatch_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    trt = tensorrt_with_dla("10.3.0", 2)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        caps = caps_of(ORIN_NX_8GB, asking(trt))
    assert caps.dla_cores == 2 and caps.board == "Jetson Orin NX 8GB"
    assert ("builder.num_DLA_cores",) in trt.calls
    assert ("DLA cores: the module table (p3767-0001) says 1, tensorrt 10.3.0 Builder.num_DLA_cores says 2; using "
            "TensorRT's count, which trtexec --useDLACore checks against") in caplog.text


def test_an_agreeing_tensorrt_changes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert caps_of(ORIN_NX_8GB, asking(tensorrt_with_dla("8.6.1", 1))).dla_cores == 1
    assert caplog.text == ""


def test_a_failing_tensorrt_leaves_the_table() -> None:
    broken = tensorrt_with_dla("10.3.0", 2)

    def no_gpu(logger: Any) -> Any:
        raise RuntimeError("CUDA initialization failure with error: 35")

    broken.Builder = no_gpu
    assert caps_of(ORIN_NX_8GB, asking(broken)).dla_cores == 1


def test_not_a_jetson_never_asks(tmp_path: Path) -> None:
    def ask() -> Any:
        raise AssertionError("TensorRT asked about DLA cores on a machine that is no Jetson")

    assert caps_of(tmp_path, ask).dla_cores == 0


@pytest.fixture
def importable_tensorrt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``tensorrt`` that this process finds and the child processes it starts import: the 10.3.0
    fake saying 2 DLA cores."""
    package = tmp_path / "site" / "tensorrt"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from tests.support.trt_dla import tensorrt_with_dla\n"
        "globals().update(vars(tensorrt_with_dla('10.3.0', 2)))\n")
    monkeypatch.setenv("PYTHONPATH", "%s:%s" % (package.parent, REPO))
    monkeypatch.syspath_prepend(str(package.parent))
    monkeypatch.delitem(sys.modules, "tensorrt", raising=False)
    return package


def test_the_child_process_answers(importable_tensorrt: Path) -> None:
    assert tensorrt_dla_cores_in_child() == (2, "tensorrt 10.3.0 Builder.num_DLA_cores")


def test_by_default_an_importable_tensorrt_is_asked_in_a_child(importable_tensorrt: Path) -> None:
    assert caps_of(ORIN_NX_8GB).dla_cores == 2
    assert "tensorrt" not in sys.modules  # this process never imported it


def test_a_child_that_cannot_import_tensorrt_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "tensorrt"
    package.mkdir()
    (package / "__init__.py").write_text("raise ImportError('libnvinfer.so.10: cannot open shared object file')\n")
    monkeypatch.setenv("PYTHONPATH", "%s:%s" % (tmp_path, REPO))
    count, source = tensorrt_dla_cores_in_child()
    assert count is None and source == "TensorRT is not importable here"
