"""What ``edge-runtime doctor`` says about the board's identity: each fact with the file or call
it came from, so a user on a board we have never seen can send one line that shows what went wrong.
"""

from __future__ import annotations

import os
from typing import Any, Callable, List, NamedTuple, Optional, Tuple

from device_runtime.collectors.jetpack import jetpack_for_l4t, jetpack_label, read_l4t
from device_runtime.collectors.jetson_identity import BoardIdentity, read_identity

Importer = Callable[[str], Any]


class Fact(NamedTuple):
    name: str
    value: str
    source: str
    note: str = ""  # a disagreement between sources, with what to do


def tensorrt_dla_cores(importer: Importer = __import__) -> Tuple[Optional[int], str]:
    """TensorRT's own count of DLA cores, and the call that gave it (or why there is none)."""
    try:
        trt = importer("tensorrt")
    except ImportError:
        return None, "TensorRT is not importable here"
    except Exception as exc:  # a broken install raises all sorts (missing libnvinfer.so, ...)
        return None, "importing tensorrt failed: %s" % exc
    call = "tensorrt %s Builder.num_DLA_cores" % getattr(trt, "__version__", "?")
    try:
        return int(trt.Builder(trt.Logger(trt.Logger.WARNING)).num_DLA_cores), call
    except Exception as exc:  # no GPU visible to this user, a driver mismatch, ...
        return None, "%s failed: %s" % (call, exc)


def _dla_fact(identity: BoardIdentity, importer: Importer) -> Fact:
    table = identity.dla_cores
    where = "module table (%s)" % (identity.part if identity.known else identity.how)
    trt_count, trt_source = tensorrt_dla_cores(importer)
    if trt_count is None:
        value = "unknown" if table is None else str(table)
        return Fact("dla cores", value, "%s; not cross-checked: %s" % (where, trt_source))
    if table is None:
        return Fact("dla cores", str(trt_count), "%s (the module table does not know this SKU)" % trt_source)
    if table == trt_count:
        return Fact("dla cores", str(table), "%s; %s agrees" % (where, trt_source))
    return Fact("dla cores", str(table), where,
                "%s says %d: DLA builds follow the table; if TensorRT is right about this board, "
                "send this doctor output to the project" % (trt_source, trt_count))


def identity_facts(proc_root: str = "/proc", etc_root: str = "/etc", dpkg_status: str = "/var/lib/dpkg/status",
                   importer: Importer = __import__) -> List[Fact]:
    identity = read_identity(proc_root)
    tree = os.path.join(proc_root, "device-tree")
    compatible = os.path.join(tree, "compatible")
    facts = [
        Fact("model", repr(identity.model) if identity.model else "none", os.path.join(tree, "model")),
        Fact("compatible", " | ".join(identity.compatible) or "none", compatible),
    ]
    if identity.compatible or identity.model:
        facts.append(Fact("board", identity.name or "not a known Jetson", "%s: %s" % (compatible, identity.how)))
    if identity.soc is not None:
        facts.append(Fact("compute cap", identity.compute_capability or "unknown",
                          "module table (%s)" % (identity.part if identity.known else identity.how)))
        facts.append(_dla_fact(identity, importer))
    release = read_l4t(etc_root, dpkg_status)
    if release.version is not None:
        facts.append(Fact("l4t", release.version, release.source))
        source = ("jetson-stats' NVIDIA_JETPACK table" if jetpack_for_l4t(release.version)
                  else "not in this runtime's table")
        facts.append(Fact("jetpack", jetpack_label(release.version), source))
    elif identity.soc is not None:
        facts.append(Fact("l4t", "unknown", release.source))
    return facts


def one_line(facts: List[Fact]) -> str:
    """Every fact on one line, for a bug report."""
    return "; ".join("%s=%s" % (f.name.replace(" ", "_"), f.value) for f in facts)
