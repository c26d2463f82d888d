"""The health history on disk: it outlives a daemon restart, a line cut short by a crash is
skipped and never glued to the next one, the file stays bounded, and a disk that refuses
writes never stops a health run."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from device_runtime import protocol as p
from device_runtime.health.history_log import HistoryLog
from device_runtime.server.bridge import start_daemon
from tests.support.daemons import stop_daemon
from tests.support.wire import RawClient


def report(t: float, overall: str = p.HEALTHY) -> p.HealthReport:
    return p.HealthReport(t, overall, [p.HealthCheck("runtime", "Runtime is up", p.SEVERITY_CRITICAL, p.HEALTH_PASS,
                                                     "up %d s" % t)])


def test_the_history_outlives_a_daemon_restart(short_tmp: Path) -> None:
    socket_path, root = short_tmp / "rt" / "edge-runtime.sock", short_tmp / "root"
    before: list[float] = []
    start_daemon(str(socket_path), str(root), ["--rate", "10"])
    try:
        client = RawClient(socket_path)
        client.handshake()
        for _ in range(3):
            before.append(p.HealthReport.from_wire(client.call("health.run").result).t)  # type: ignore[union-attr]
        client.close()
    finally:
        stop_daemon(socket_path)
    start_daemon(str(socket_path), str(root), ["--rate", "10"])
    try:
        client = RawClient(socket_path)
        client.handshake()
        history = client.call("health.history", {"seconds": 3600})
        assert isinstance(history, p.Response)
        times = [r["t"] for r in history.result["reports"]]
        assert set(before) <= set(times)  # the runs before the restart, then whatever this daemon ran
        assert times == sorted(times)
        client.close()
    finally:
        stop_daemon(socket_path)


def test_a_line_cut_short_is_skipped_and_the_next_report_starts_a_line_of_its_own(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "health" / "history.jsonl"
    log = HistoryLog(str(path), keep=10)
    kept = [report(1.0), report(2.0)]
    for r in kept:
        log.append(r, kept)
    with open(path, "ab") as handle:
        handle.write(b'{"t": 3.0, "overall": "heal')  # the daemon died mid-write
    with caplog.at_level(logging.WARNING, logger="edge_runtime.health"):
        again = HistoryLog(str(path), keep=10)
        loaded = again.load()
    assert [r.t for r in loaded] == [1.0, 2.0]
    assert "skipped 1 damaged line" in caplog.text
    again.append(report(4.0), [*loaded, report(4.0)])
    assert [r.t for r in HistoryLog(str(path), keep=10).load()] == [1.0, 2.0, 4.0]
    assert not os.path.exists(str(path) + ".tmp")


def test_the_file_is_compacted_to_the_last_reports_it_keeps(tmp_path: Path) -> None:
    path = tmp_path / "health" / "history.jsonl"
    log = HistoryLog(str(path), keep=5)
    history: list[p.HealthReport] = []
    for i in range(23):
        history.append(report(float(i)))
        log.append(history[-1], history)
        assert len(path.read_text().splitlines()) <= 10  # never more than twice what it keeps
    assert [r.t for r in HistoryLog(str(path), keep=5).load()] == [18.0, 19.0, 20.0, 21.0, 22.0]


def test_a_disk_that_refuses_writes_is_logged_once_and_never_stops_a_run(caplog: pytest.LogCaptureFixture) -> None:
    log = HistoryLog("/dev/full", keep=5)  # every write fails with "No space left on device"
    with caplog.at_level(logging.WARNING, logger="edge_runtime.health"):
        for i in range(3):
            log.append(report(float(i)), [report(float(i))])
    warnings = [r for r in caplog.records if "cannot write the health history" in r.getMessage()]
    assert len(warnings) == 1 and "No space left on device" in warnings[0].getMessage()
