"""The store's children ready their heap for a big load: after ``reserve_heap(N)``, allocating and
filling N bytes costs (almost) no page fault, where it costs one a page without it; the reserve is
capped by the memory available. Each case runs in a process of its own: the tuning is process-wide."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from device_runtime import heap

MB = 1 << 20
PAGE = 4096

FAULTS = r"""
import ctypes, json, resource, sys
from device_runtime import heap
reserve, use = int(sys.argv[1]), int(sys.argv[2])
reserved = heap.reserve_heap(reserve) if reserve else 0
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
blocks = [libc.malloc(ctypes.c_size_t(use // 8)) for _ in range(8)]  # as a load's tensors: plain malloc
for block in blocks:
    libc.memset(ctypes.c_void_p(block), 1, ctypes.c_size_t(use // 8))
after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
print(json.dumps({"reserved": reserved, "faults": after - before, "blocks": sum(1 for b in blocks if b)}))
"""


def _faults(reserve: int, use: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", FAULTS, str(reserve), str(use)], capture_output=True, text=True,
                         check=True, cwd=str(Path(__file__).resolve().parents[2]))
    return json.loads(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc is what is tuned")
def test_a_reserved_heap_takes_a_big_load_without_page_faults() -> None:
    use = 96 * MB
    cold = _faults(0, use)
    ready = _faults(128 * MB, use)
    assert ready["reserved"] == 128 * MB
    assert cold["blocks"] == ready["blocks"] == 8
    assert cold["faults"] > use // PAGE // 2, cold  # a fault a page (or so) without the reserve
    assert ready["faults"] < cold["faults"] / 10, (ready, cold)


def test_the_reserve_is_capped_by_the_memory_available(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:        8000000 kB\nMemFree:          100000 kB\nMemAvailable:     409600 kB\n")
    assert heap.available_bytes(str(meminfo)) == 400 * MB
    assert heap.available_bytes(str(tmp_path / "missing")) == 0
    meminfo.write_text("MemTotal: 8000000 kB\n")
    assert heap.available_bytes(str(meminfo)) == 0
    calls: list[tuple[str, int]] = []

    def malloc(size: object) -> int:
        calls.append(("malloc", getattr(size, "value", size)))  # type: ignore[arg-type]
        return 0  # as if there were no room: nothing is touched

    class FakeLibc:  # records what would be asked of glibc (the real one would tune this test process)
        def __init__(self) -> None:
            self.malloc = malloc

        def mallopt(self, option: int, value: int) -> int:
            calls.append(("mallopt", option))
            return 1

    monkeypatch.setattr(heap, "_libc", FakeLibc)
    monkeypatch.setattr(heap, "available_bytes", lambda meminfo="": 400 * MB)
    assert heap.reserve_heap(1 << 40) == 0  # malloc found no room
    assert ("malloc", 100 * MB) in calls, "a quarter of the 400 MB available, not the terabyte asked"
    calls.clear()
    monkeypatch.setattr(heap, "available_bytes", lambda meminfo="": 0)
    assert heap.reserve_heap(64 * MB) == 0
    assert not [c for c in calls if c[0] == "malloc"], "nothing is reserved where the memory available is unknown"
