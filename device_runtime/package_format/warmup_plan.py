"""Which shape the warm-up feeds each input: chosen before anything is stored, recorded in the manifest.

Given sizes (``--shape``) and a real sample (``--sample``) win; otherwise fixed dimensions are used as
declared and a dynamic first dimension (a batch) becomes 1. Any other dynamic dimension has no safe
default (a detector on 1x1 pixels fails inside, a recurrent model on a sequence of 1 may too), so the
plan refuses, naming the inputs and the flag to add, instead of guessing.
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Sequence, Tuple

from device_runtime.package_format.errors import Code, StoreError
from device_runtime.package_format.manifest import TensorSpec
from device_runtime.package_format.tensors import OTHER_KINDS, is_fixed, spell

SampleInfo = Mapping[str, Tuple[str, List[int]]]  # input name -> (dtype, shape) of the sample's array


def _refuse(message: str) -> StoreError:
    return StoreError(Code.LOAD_FAILED, message)


def _fits(declared: Sequence[object], shape: Sequence[int]) -> bool:
    return len(declared) == len(shape) and all(
        not is_fixed(declared[i]) or declared[i] == size for i, size in enumerate(shape))


def example_flag(spec: TensorSpec) -> str:
    dims = [str(d) if is_fixed(d) else ("1" if i == 0 else "N") for i, d in enumerate(spec.shape)]
    return "--shape %s:%s" % (spec.name, "x".join(dims))


def plan_shapes(inputs: Sequence[TensorSpec], given: Mapping[str, List[int]],
                sample: SampleInfo) -> Dict[str, List[int]]:
    """The shape fed to every input; raises StoreError saying what is missing and which flag gives it."""
    names = {t.name: t for t in inputs}
    for name in list(given) + list(sample):
        if name not in names:
            raise _refuse("%r is not an input of the model (its inputs: %s)" % (name, ", ".join(names) or "none"))
    shapes: Dict[str, List[int]] = {}
    missing: List[TensorSpec] = []
    for spec in inputs:
        if spec.name in sample:
            dtype, shape = sample[spec.name]
            if dtype != spec.dtype:
                raise _refuse("the sample's %r is %s, the input is %s: save it as %s" % (
                    spec.name, dtype, spec.dtype, spec.dtype))
            chosen = list(shape)
            source = "the sample's %r" % spec.name
        elif spec.name in given:
            chosen = list(given[spec.name])
            source = "--shape %s:%s" % (spec.name, spell(chosen))
        elif spec.dtype in OTHER_KINDS:
            raise _refuse("input %r is a %s, which the warm-up cannot feed: export the model with tensor inputs"
                          % (spec.name, spec.dtype))
        elif all(is_fixed(d) for d in spec.shape[1:]):
            shapes[spec.name] = [d if is_fixed(d) else 1 for d in spec.shape]
            continue
        else:
            missing.append(spec)
            continue
        if not _fits(spec.shape, chosen):
            raise _refuse("%s is %s, which does not fit input %r of shape %s" % (
                source, spell(chosen), spec.name, spell(spec.shape)))
        shapes[spec.name] = chosen
    if missing:
        raise _refuse("the warm-up cannot choose sizes for the dynamic dimensions of %s: add %s with real sizes "
                      "(one --shape per input), or --sample FILE.npz holding a real input for each" % (
                          ", ".join("input %r %s" % (s.name, spell(s.shape)) for s in missing),
                          " ".join(example_flag(s) for s in missing)))
    return shapes
