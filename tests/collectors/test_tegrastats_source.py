"""TegrastatsCollector fed by a stand-in process that replays recorded tegrastats output."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from device_runtime.collectors.tegrastats_source import TegrastatsCollector

LINES = Path(__file__).resolve().parents[1] / "fixtures" / "tegrastats"


class ReplayProcess:
    """Plays recorded lines on stdout, then EOF, like a tegrastats that was stopped."""

    def __init__(self, argv: list[str], lines: str, **_: Any) -> None:
        self.argv = argv
        self.stdout = io.StringIO(lines)
        self.returncode: int | None = None
        self.terminated = False

    def poll(self) -> int | None:
        return self.returncode

    def terminate(self) -> None:
        self.terminated = True
        self.returncode = -15

    def wait(self, timeout: float | None = None) -> int:
        return self.returncode or 0

    def kill(self) -> None:
        self.returncode = -9


def replay(name: str, started: list[ReplayProcess]) -> Any:
    def popen(argv: list[str], **kwargs: Any) -> ReplayProcess:
        proc = ReplayProcess(argv, "some warning\n" + (LINES / f"{name}.txt").read_text(), **kwargs)
        started.append(proc)
        return proc

    return popen


def test_serves_the_latest_line_with_declared_metrics() -> None:
    started: list[ReplayProcess] = []
    now = [100.0]
    collector = TegrastatsCollector("/usr/bin/tegrastats", 500, popen=replay("agx-orin-jp7", started),
                                    clock=lambda: now[0])
    try:
        assert started[0].argv == ["/usr/bin/tegrastats", "--interval", "500"]
        values = collector.collect()
        assert values["jetson.gpu.load"] == 12.0 and values["jetson.emc.freq"] == 3199.0
        assert values["power.vdd_cpu_cv"] == 3268.0 and values["cpu.core.11.freq"] == 2201.0
        assert set(values) == {s.name for s in collector.metrics()}
        now[0] += 60.0  # the process stopped printing: stale values are not served
        assert collector.collect() == {}
    finally:
        collector.close()  # joins the reader, which has seen EOF
    assert "exited" in collector.absent()["tegrastats"]
    assert started[0].stdout.closed


def test_missing_binary_is_absent_not_fatal() -> None:
    def popen(argv: list[str], **_: Any) -> Any:
        raise FileNotFoundError(argv[0])

    collector = TegrastatsCollector("/nope/tegrastats", popen=popen)
    assert collector.metrics() == [] and collector.collect() == {}
    assert "cannot run /nope/tegrastats" in collector.absent()["tegrastats"]
    collector.close()
