"""The collector interface: metrics declared as data, values read on demand."""

from __future__ import annotations

import os
from typing import Dict, List, Optional

from device_runtime.protocol import MetricSpec


class Collector:
    """A source of telemetry.

    ``metrics()`` declares every series the collector can produce on this machine (known
    after construction, which discovers the hardware). ``collect()`` returns the values it
    could read now; a metric it could not read is left out, never reported as zero.
    ``absent()`` says, per metric or capability, why it is not available here.
    """

    name = "collector"

    def metrics(self) -> List[MetricSpec]:
        raise NotImplementedError

    def collect(self) -> Dict[str, float]:
        raise NotImplementedError

    def absent(self) -> Dict[str, str]:
        return {}

    def close(self) -> None:
        """Release held files and libraries."""


class RateTracker:
    """Turns monotonically increasing counters into per-second rates."""

    def __init__(self) -> None:
        self._last: Dict[str, float] = {}
        self._last_t: Dict[str, float] = {}

    def rate(self, key: str, value: float, now: float) -> Optional[float]:
        prev = self._last.get(key)
        prev_t = self._last_t.get(key)
        self._last[key] = value
        self._last_t[key] = now
        if prev is None or prev_t is None or now <= prev_t or value < prev:
            return None
        return (value - prev) / (now - prev_t)


class HeldFile:
    """A sysfs attribute kept open and re-read with pread: no open/close per sample, which
    matters at 10-20 Hz over dozens of hwmon files on a small Jetson."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY)

    def read_text(self) -> str:
        return os.pread(self.fd, 4096, 0).decode("utf-8", "replace").strip()

    def read_int(self) -> int:
        return int(os.pread(self.fd, 64, 0).split()[0])

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


def read_text(path: str) -> Optional[str]:
    """The stripped content of a small file, or None when it is missing or unreadable."""
    try:
        with open(path, "rb") as handle:
            return handle.read(65536).decode("utf-8", "replace").replace("\x00", "").strip()
    except OSError:
        return None
