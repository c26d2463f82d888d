"""What ``edge-runtime doctor`` says about the board's identity: each fact with the file or call
it came from, so a user on a board we have never seen can send one line that shows what went wrong.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
from typing import Any, Callable, List, NamedTuple, Optional, Tuple

from device_runtime.collectors.jetpack import jetpack_for_l4t, jetpack_label, read_l4t
from device_runtime.collectors.jetson_identity import BoardIdentity, read_identity
from device_runtime.process import python_command

log = logging.getLogger(__name__)

Importer = Callable[[str], Any]
# TensorRT's DLA count and the call that gave it, or None and why there is none.
DlaCount = Callable[[], Tuple[Optional[int], str]]


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


def tensorrt_dla_cores_in_child(timeout_s: float = 120.0) -> Tuple[Optional[int], str]:
    """:func:`tensorrt_dla_cores` asked in a child process: a TensorRT Builder initialises CUDA, and
    the daemon would otherwise keep that context (hundreds of MB on a Jetson) for its whole life."""
    argv = [*python_command(), "-m", "device_runtime.collectors.identity_facts"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, "asking TensorRT in a child process failed: %s" % exc
    try:
        count, source = json.loads(done.stdout.strip().splitlines()[-1])
        return (None if count is None else int(count)), str(source)
    except (ValueError, IndexError, TypeError):
        return None, "asking TensorRT in a child process failed (status %s): %s" % (
            done.returncode, done.stderr.strip()[-300:] or "no output")


def checked_dla_cores(identity: BoardIdentity, ask: Optional[DlaCount] = None) -> int:
    """The module table's DLA count, cross-checked with TensorRT's own where TensorRT is importable.
    On a mismatch TensorRT's count is used and the mismatch logged: trtexec --useDLACore and the
    builder check a DLA core against TensorRT's count, not against the table."""
    table = identity.dla_cores
    if ask is None:
        if importlib.util.find_spec("tensorrt") is None:
            return table or 0
        ask = tensorrt_dla_cores_in_child
    count, source = ask()
    if count is None:
        if table is None:
            log.warning("DLA cores: the module table does not know this board and %s; assuming none", source)
        return table or 0
    if table is None:
        log.info("DLA cores: %d from %s (the module table does not know this SKU)", count, source)
    elif count != table:
        log.warning("DLA cores: the module table (%s) says %d, %s says %d; using TensorRT's count, which "
                    "trtexec --useDLACore checks against", _table_key(identity), table, source, count)
    return count


def _table_key(identity: BoardIdentity) -> str:
    return identity.part if identity.known and identity.part else identity.how


def _dla_fact(identity: BoardIdentity, importer: Importer) -> Fact:
    table = identity.dla_cores
    where = "module table (%s)" % _table_key(identity)
    trt_count, trt_source = tensorrt_dla_cores(importer)
    if trt_count is None:
        value = "unknown" if table is None else str(table)
        return Fact("dla cores", value, "%s; not cross-checked: %s" % (where, trt_source))
    if table is None:
        return Fact("dla cores", str(trt_count), "%s (the module table does not know this SKU)" % trt_source)
    if table == trt_count:
        return Fact("dla cores", str(table), "%s; %s agrees" % (where, trt_source))
    return Fact("dla cores", str(trt_count), trt_source,
                "the %s says %d: DLA builds follow TensorRT's count, which trtexec --useDLACore checks "
                "against; send this doctor output to the project so the table can be fixed" % (where, table))


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
                          "module table (%s)" % _table_key(identity)))
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


if __name__ == "__main__":  # the child of tensorrt_dla_cores_in_child: one JSON line on stdout
    sys.stdout.write(json.dumps(tensorrt_dla_cores()) + "\n")
