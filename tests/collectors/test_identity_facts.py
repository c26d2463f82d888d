"""The doctor's identity facts, and the DLA count cross-checked with TensorRT's own.

TensorRT cannot be installed on CI machines: the strict engine fakes stand in, with the DLA count
added (tests/support/trt_dla.py; every name checked against the recorded bindings wheels).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from device_runtime.collectors.identity_facts import identity_facts, one_line, tensorrt_dla_cores
from tests.support.trt_dla import importer_of, tensorrt_with_dla

BOARDS = Path(__file__).resolve().parents[1] / "fixtures" / "boards"


def no_tensorrt(name: str) -> Any:
    raise ImportError("No module named %r" % name)


def facts_of(tree: str, importer: Callable[[str], Any]) -> dict[str, Any]:
    root = BOARDS / tree
    facts = identity_facts(str(root / "proc"), str(root / "etc"), str(root / "no-dpkg"), importer)
    return {f.name: f for f in facts}


def test_tensorrt_agrees() -> None:
    facts = facts_of("identity/orin-nx-8gb", importer_of(tensorrt_with_dla("10.3.0", 1)))
    dla = facts["dla cores"]
    assert dla.value == "1" and dla.note == ""
    assert dla.source == "module table (p3767-0001); tensorrt 10.3.0 Builder.num_DLA_cores agrees"


def test_tensorrt_disagrees_and_the_doctor_says_so() -> None:
    facts = facts_of("identity/orin-nx-8gb", importer_of(tensorrt_with_dla("10.3.0", 2)))
    dla = facts["dla cores"]
    assert dla.value == "2" and dla.source == "tensorrt 10.3.0 Builder.num_DLA_cores"
    assert dla.note.startswith("the module table (p3767-0001) says 1: DLA builds follow TensorRT's count")


def test_an_unknown_sku_takes_tensorrts_count(tmp_path: Path) -> None:
    tree = tmp_path / "proc" / "device-tree"
    tree.mkdir(parents=True)
    (tree / "compatible").write_bytes(b"nvidia,p3768-0000+p3767-0099\0nvidia,p3767-0099\0nvidia,tegra234\0")
    facts = identity_facts(str(tmp_path / "proc"), str(tmp_path), str(tmp_path / "status"),
                           importer_of(tensorrt_with_dla("8.6.1", 1)))
    by_name = {f.name: f for f in facts}
    assert by_name["board"].value == "Jetson Orin family"
    assert by_name["dla cores"].value == "1"
    assert by_name["dla cores"].source == ("tensorrt 8.6.1 Builder.num_DLA_cores (the module table does not "
                                           "know this SKU)")
    assert by_name["l4t"].value == "unknown" and "no installed nvidia-l4t-core" in by_name["l4t"].source


def test_without_tensorrt_the_table_stands_alone() -> None:
    facts = facts_of("thor", no_tensorrt)
    assert facts["dla cores"].value == "0"
    assert facts["dla cores"].source.endswith("not cross-checked: TensorRT is not importable here")


def test_a_failing_builder_is_named() -> None:
    broken = tensorrt_with_dla("10.3.0", 0)

    def no_gpu(logger: Any) -> Any:
        raise RuntimeError("CUDA initialization failure with error: 35")

    broken.Builder = no_gpu
    count, source = tensorrt_dla_cores(importer_of(broken))
    assert count is None
    assert source == "tensorrt 10.3.0 Builder.num_DLA_cores failed: CUDA initialization failure with error: 35"


@pytest.mark.parametrize("tree", ["orin-nano", "thor", "identity/xavier-nx"])
def test_one_line_carries_every_fact(tree: str) -> None:
    root = BOARDS / tree
    facts = identity_facts(str(root / "proc"), str(root / "etc"), str(root / "no-dpkg"), no_tensorrt)
    line = one_line(facts)
    assert [part.split("=", 1)[0] for part in line.split("; ")] == [
        "model", "compatible", "board", "compute_cap", "dla_cores", "l4t", "jetpack"]


def test_not_a_jetson(tmp_path: Path) -> None:
    facts = identity_facts(str(tmp_path), str(tmp_path), str(tmp_path / "status"), no_tensorrt)
    assert [(f.name, f.value) for f in facts] == [("model", "none"), ("compatible", "none")]
