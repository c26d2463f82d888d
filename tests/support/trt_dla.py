"""TensorRT stand-ins that answer ``Builder.num_DLA_cores``: the strict engine fakes of
tests/support/trt_fakes.py (names checked against the recorded bindings wheels) with that one
property added, itself checked to be a name the recorded wheel registers."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from tests.support.trt_fakes import make_trt
from tests.support.trt_record import registers


def tensorrt_with_dla(version: str, dla_cores: int) -> types.SimpleNamespace:
    trt = make_trt(version)
    assert registers(trt.record, "num_DLA_cores"), "TensorRT %s registers no num_DLA_cores" % trt.record

    class Builder(trt.Builder):  # type: ignore[misc,name-defined]
        @property
        def num_DLA_cores(self) -> int:  # the binding's own name
            trt.calls.append(("builder.num_DLA_cores",))
            return dla_cores

    trt.Builder = Builder
    return trt


def importer_of(module: Any) -> Callable[[str], Any]:
    def importer(name: str) -> Any:
        assert name == "tensorrt"
        return module
    return importer
