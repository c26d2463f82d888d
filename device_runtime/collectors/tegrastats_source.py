"""Jetson telemetry from a ``tegrastats`` child process, for boards whose sysfs we cannot read
(a container without /sys, a locked-down image). The sysfs collector is preferred: tegrastats
prints at most once per interval and needs a process, but it is always there on L4T.
"""

from __future__ import annotations

import subprocess
import threading
import time
from typing import IO, Any, Callable, Dict, List, Optional, Tuple

from device_runtime.collectors.base import Collector, metric_slug
from device_runtime.protocol import MetricSpec
from device_runtime.tegrastats import TegrastatsSample, parse_line

Popen = Callable[..., Any]


def sample_values(sample: TegrastatsSample) -> Dict[str, float]:
    """The metric values one tegrastats line carries, named like the sysfs collector's."""
    out: Dict[str, float] = {}
    gpu, emc = sample.gpu, sample.emc
    if gpu is not None and gpu.load is not None:
        out["jetson.gpu.load"] = gpu.load
    if gpu is not None and gpu.freq_mhz is not None:
        out["jetson.gpu.freq"] = gpu.freq_mhz
    if emc is not None and emc.load is not None:
        out["jetson.emc.load"] = emc.load
    if emc is not None and emc.freq_mhz is not None:
        out["jetson.emc.freq"] = emc.freq_mhz
    for core in sample.cpus:
        if core.freq_mhz is not None:
            out[f"cpu.core.{core.index}.freq"] = core.freq_mhz
    for name, rail in sample.rails.items():
        out[f"power.{metric_slug(name, 'x')}"] = rail.current_mw
    return out


def sample_specs(sample: TegrastatsSample) -> List[MetricSpec]:
    specs: List[MetricSpec] = []
    for name in sample_values(sample):
        if name == "jetson.gpu.load":
            specs.append(MetricSpec(name, "GPU", "%", "GPU", "GPU load", min=0, max=100))
        elif name == "jetson.gpu.freq":
            specs.append(MetricSpec(name, "current", "MHz", "GPU", "GPU frequency", min=0))
        elif name == "jetson.emc.load":
            specs.append(MetricSpec(name, "EMC load", "%", "Memory", "EMC load", min=0, max=100))
        elif name == "jetson.emc.freq":
            specs.append(MetricSpec(name, "EMC", "MHz", "Memory", "EMC", min=0))
        elif name.startswith("cpu.core."):
            core = name.split(".")[2]
            specs.append(MetricSpec(name, f"core {core}", "MHz", "CPU", "CPU frequency", min=0))
    for rail in sample.rails:
        specs.append(MetricSpec(f"power.{metric_slug(rail, 'x')}", rail, "mW", "Power", "Power rails", min=0))
    return specs


class TegrastatsCollector(Collector):
    """Runs ``tegrastats --interval N`` and serves the newest parsed line.

    The constructor waits (up to ``first_line_timeout`` seconds) for the first line, because the
    metrics a board prints are only known from it; with 0 it returns at once and the metrics are
    declared when the first line comes (a fallback chosen while the daemon samples must not stall
    it). ``popen`` and ``clock`` are injectable so tests feed recorded lines through a stand-in process.
    """

    name = "tegrastats"

    def __init__(self, path: str = "/usr/bin/tegrastats", interval_ms: int = 1000,
                 popen: Popen = subprocess.Popen, clock: Callable[[], float] = time.monotonic,
                 first_line_timeout: float = 5.0) -> None:
        self.path = path
        self._clock = clock
        self._stale_after = max(3.0 * interval_ms / 1000.0, 2.0)
        self._lock = threading.Lock()
        self._first = threading.Event()
        self._latest: Optional[Tuple[float, TegrastatsSample]] = None
        self._why: Optional[str] = None
        self._specs: List[MetricSpec] = []
        self._thread: Optional[threading.Thread] = None
        try:
            self._proc = popen([path, "--interval", str(int(interval_ms))], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True, bufsize=1)
        except OSError as exc:
            self._proc = None
            self._why = f"cannot run {path}: {exc}"
            return
        self._thread = threading.Thread(target=self._pump, args=(self._proc.stdout,), name="tegrastats",
                                        daemon=True)
        self._thread.start()
        if first_line_timeout > 0 and not self._first.wait(first_line_timeout):
            self._why = f"{path} printed nothing within {first_line_timeout:g} s"
        with self._lock:
            if self._latest is not None:
                self._specs = sample_specs(self._latest[1])

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            sample = parse_line(line)
            if not sample.cpus and sample.ram_total_mb is None:
                continue  # a warning or a blank line, not a stats line
            with self._lock:
                self._latest = (self._clock(), sample)
            self._first.set()
        with self._lock:
            code = self._proc.poll() if self._proc is not None else None
            self._why = "tegrastats exited" + ("" if code is None else f" with status {code}")
        self._first.set()

    def latest(self) -> Optional[TegrastatsSample]:
        with self._lock:
            return self._latest[1] if self._latest else None

    def failure(self) -> Optional[str]:
        """Why this source gives nothing for good (it cannot run, exited, or printed nothing in
        time), or None while it runs."""
        with self._lock:
            return self._why

    def metrics(self) -> List[MetricSpec]:
        with self._lock:
            if not self._specs and self._latest is not None:
                self._specs = sample_specs(self._latest[1])
            return list(self._specs)

    def sources(self) -> Dict[str, str]:
        latest = self.latest()
        return {name: "tegrastats (%s)" % self.path for name in sample_values(latest)} if latest else {}

    def collect(self) -> Dict[str, float]:
        with self._lock:
            latest = self._latest
        if latest is None or self._clock() - latest[0] > self._stale_after:
            return {}  # no fresh line: every metric is absent, none is reported as zero
        return sample_values(latest[1])

    def absent(self) -> Dict[str, str]:
        with self._lock:
            return {"tegrastats": self._why} if self._why else {}

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
