"""The latency reporting path: wire format, aggregation, and a real daemon receiving datagrams
from LatencyReporter and pushing statistics to a subscribed client."""

from __future__ import annotations

import math
import socket
import struct
from pathlib import Path

import pytest

from device_runtime import latency_wire as wire
from device_runtime import protocol as p
from device_runtime.latency.aggregate import LatencyAggregator
from device_runtime.report import LatencyReporter, default_latency_socket
from tests.support.wire import RawClient


def test_a_datagram_laid_out_as_the_readme_says_is_read() -> None:
    # Built field by field the way a C node would, not with our own pack().
    name = b"detector"
    data = struct.pack("<4sBBHddddd", b"EOL1", 1, 0b010, len(name), 1700000000.5, 0.012, 0.0, 0.009, 0.0) + name
    report = wire.unpack(data)
    assert report.model == "detector" and report.t == 1700000000.5
    assert report.stages == {"total": 0.012, "infer": 0.009}
    assert wire.unpack(wire.pack(name, 1.0, 0.02, 0.001, None, 0.003)).stages == {
        "total": 0.02, "preprocess": 0.001, "postprocess": 0.003}


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "shorter than"),
        (b"XXXX" + bytes(60), "bad magic"),
        (struct.pack("<4sBBHddddd", b"EOL1", 9, 0, 1, 1.0, 0.1, 0, 0, 0) + b"m", "version 9"),
        (struct.pack("<4sBBHddddd", b"EOL1", 1, 0, 5, 1.0, 0.1, 0, 0, 0) + b"m", "name length 5"),
        (struct.pack("<4sBBHddddd", b"EOL1", 1, 0, 2, 1.0, 0.1, 0, 0, 0) + b"\xff\xfe", "not UTF-8"),
        (struct.pack("<4sBBHddddd", b"EOL1", 1, 0, 1, 1.0, -0.1, 0, 0, 0) + b"m", "total must be"),
        (struct.pack("<4sBBHddddd", b"EOL1", 1, 2, 1, 1.0, 0.1, 0, math.nan, 0) + b"m", "infer must be"),
        (struct.pack("<4sBBHddddd", b"EOL1", 1, 0, 1, math.inf, 0.1, 0, 0, 0) + b"m", "timestamp"),
    ],
)
def test_malformed_datagrams_are_refused_with_the_reason(data: bytes, why: str) -> None:
    with pytest.raises(wire.WireError, match=why):
        wire.unpack(data)


def test_a_batch_with_one_bad_value_keeps_the_good_records() -> None:
    good = wire.pack(b"det", 1.0, 0.01, None, None, None)
    bad = wire.pack(b"det", 1.0, -5.0, None, None, None)
    reports, problem = wire.unpack_all(good + bad + good)
    assert len(reports) == 2 and problem is not None and "total must be" in problem
    reports, problem = wire.unpack_all(good + b"EOL1" + bytes(10) + good)
    assert len(reports) == 1 and problem is not None and "wire version 0" in problem
    assert wire.unpack_all(b"") == ([], "empty datagram")


def test_windows_give_nearest_rank_percentiles_and_drop_silent_sources() -> None:
    agg = LatencyAggregator(window_s=10.0, version_of=lambda source: "1.2.0" if source == "det" else None)
    for i in range(1, 101):  # 1..100 ms over 10 s
        agg.add("det", 100.0 + i * 0.1, {"total": i / 1000.0})
    agg.add("seg", 95.0, {"total": 0.5})  # outside the window at t=110
    (window,) = agg.windows(110.0)
    assert (window.source, window.stage, window.count) == ("det", "total", 100)
    assert (window.p50_ms, window.p95_ms, window.p99_ms, window.max_ms) == pytest.approx((50, 95, 99, 100))
    assert window.rate_hz == pytest.approx(10.0, rel=0.02) and window.version == "1.2.0"
    assert agg.windows(200.0) == []
    assert [w.t for w in agg.recent(200.0, 120.0)] == [110.0]


def test_memory_per_source_is_bounded() -> None:
    agg = LatencyAggregator(max_readings=1000)
    for i in range(50_000):
        agg.add("fast", 1000.0 + i * 1e-4, {"total": 0.001})
    (window,) = agg.windows(1005.0)
    assert window.count == 1000


def test_reporter_without_a_daemon_neither_blocks_nor_raises(short_tmp: Path) -> None:
    reporter = LatencyReporter("detector", socket_path=str(short_tmp / "nobody" / "latency.sock"))
    for _ in range(1000):
        reporter.record(0.01, infer=0.008)
    reporter.record(float("nan"))
    reporter.record(-1.0)
    reporter.close()
    assert reporter.sent == 0 and reporter.dropped == 1002
    reporter.record(0.01)  # after close: still no exception
    assert reporter.dropped == 1003
    with pytest.raises(ValueError):
        LatencyReporter("x" * 65)


def test_default_socket_follows_the_environment(short_tmp: Path) -> None:
    assert default_latency_socket({"EDGE_RUNTIME_LATENCY_SOCKET": "/x/l.sock"}) == "/x/l.sock"
    assert default_latency_socket({"XDG_RUNTIME_DIR": str(short_tmp)}) in (
        str(short_tmp / "edge-runtime" / "latency.sock"), "/run/edge-runtime/latency.sock")


def test_a_real_daemon_turns_reports_into_pushed_windows(daemon) -> None:
    latency_socket = daemon.socket_path.parent / "latency.sock"
    assert latency_socket.exists() and latency_socket.stat().st_mode & 0o777 == 0o660
    client = RawClient(daemon.socket_path)
    client.handshake()
    assert isinstance(client.call("events.subscribe", {"topics": [p.TOPIC_LATENCY]}), p.Response)
    # A malformed datagram first must not disturb anything.
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as raw:
        raw.sendto(b"garbage", str(latency_socket))
    with LatencyReporter("detector", socket_path=str(latency_socket)) as reporter:
        for i in range(200):
            reporter.record(0.010 + (i % 10) * 0.001, preprocess=0.002, infer=0.007)
            if i % 40 == 39:
                reporter.flush()
                # A round trip on the control socket lets the daemon's loop drain the datagram
                # queue (the kernel's net.unix.max_dgram_qlen may be as small as 10).
                assert isinstance(client.call("ping"), p.Response)
        reporter.flush()
        assert (reporter.sent, reporter.dropped) == (200, 0)
    def windows_of(message: p.AnyMessage) -> dict[tuple[str, str], p.LatencyWindow]:
        if not (isinstance(message, p.Event) and message.topic == p.TOPIC_LATENCY):
            return {}
        return {(w.source, w.stage): w for w in p.LatencyWindows.from_wire(message.data).windows}

    # A window published while the burst was still being sent holds part of it: wait for the whole.
    event = client.recv_until(lambda m: getattr(windows_of(m).get(("detector", "total")), "count", 0) == 200)
    windows = windows_of(event)
    total = windows[("detector", "total")]
    assert total.p50_ms == pytest.approx(14.0) and total.max_ms == pytest.approx(19.0)
    assert set(windows) == {("detector", s) for s in ("total", "preprocess", "infer")}
    recent = client.call("latency.recent", {"seconds": 60})
    assert isinstance(recent, p.Response) and recent.result["windows"]
    client.close()
