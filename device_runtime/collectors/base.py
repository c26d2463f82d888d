"""The collector interface: metrics declared as data, values read on demand."""

from __future__ import annotations

import os
import re
from typing import Dict, List, Optional, Sequence, Tuple

from device_runtime.protocol import MetricSpec


def metric_slug(text: str, fallback: str, keep: str = "") -> str:
    """A label as a metric name's part: each run of other characters than ASCII letters, digits
    and ``keep`` becomes one ``_``, without ``_`` at either end, lowercase; ``fallback`` when
    nothing is left. Metric names are stable ids (charts, thresholds, Prometheus, fixtures): a
    change here renames series."""
    pattern = "[^A-Za-z0-9%s]+" % re.escape(keep) if keep else "[^A-Za-z0-9]+"
    return re.sub(pattern, "_", text).strip("_").lower() or fallback


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

    def state(self) -> Dict[str, str]:
        """What is not a number (power mode, jetson_clocks, throttle reasons in words)."""
        return {}

    def sources(self) -> Dict[str, str]:
        """Where each metric is read from now (a file, an NVML function), for the doctor."""
        return {}

    def close(self) -> None:
        """Release held files and libraries."""


class HeldFile:
    """A sysfs attribute kept open and re-read with pread: no open/close per sample, which
    matters at 10-20 Hz over dozens of hwmon files on a small Jetson."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY)

    def read_text(self) -> str:
        return os.pread(self.fd, 4096, 0).decode("utf-8", "replace").strip()

    def read_int(self) -> int:
        data = os.pread(self.fd, 64, 0)
        try:
            return int(data)  # int() takes b"1234\n" as it is: no split for the common case
        except ValueError:
            return int(data.split()[0])

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


def read_scaled(entries: Sequence[Tuple[str, int, float]], out: Dict[str, float]) -> None:
    """Read (name, fd, factor) integer attributes into ``out`` in one tight loop: at 10-20 Hz
    over dozens of files the per-metric call overhead is most of a collector's cost. A file that
    fails this time is left out of ``out``."""
    pread = os.pread
    for name, fd, factor in entries:
        try:
            data = pread(fd, 64, 0)
            out[name] = int(data) * factor
        except ValueError:
            try:
                out[name] = int(data.split()[0]) * factor
            except (ValueError, IndexError):
                continue
        except OSError:
            continue


def read_products(entries: Sequence[Tuple[str, int, int, float]], out: Dict[str, float]) -> None:
    """Like :func:`read_scaled` for (name, fd, fd, factor): two attributes multiplied."""
    pread = os.pread
    for name, first, second, factor in entries:
        try:
            out[name] = int(pread(first, 64, 0)) * int(pread(second, 64, 0)) * factor
        except (OSError, ValueError):
            continue


def read_text(path: str) -> Optional[str]:
    """The stripped content of a small file, or None when it is missing or unreadable."""
    try:
        with open(path, "rb") as handle:
            return handle.read(65536).decode("utf-8", "replace").replace("\x00", "").strip()
    except OSError:
        return None
