"""Health and audit on a real daemon: run on demand, pushed reports, persisted settings that
refuse nonsense, and an audit trail naming the connection's OS user."""

from __future__ import annotations

import json
import os
import pwd
from pathlib import Path

from device_runtime import protocol as p
from device_runtime.server.bridge import start_daemon
from tests.support.daemons import stop_daemon
from tests.support.wire import RawClient


def test_health_runs_on_demand_and_is_pushed(daemon) -> None:
    client = RawClient(daemon.socket_path)
    client.handshake()
    assert isinstance(client.call("events.subscribe", {"topics": [p.TOPIC_HEALTH]}), p.Response)
    client.send(p.Request(7, "health.run", {}))
    # The report is published before the reply is written: collect both, in any order.
    pushed: list[p.Event] = []
    reply: p.Response | None = None
    while reply is None or not pushed:
        message = client.recv()
        if isinstance(message, p.Event) and message.topic == p.TOPIC_HEALTH:
            pushed.append(message)
        elif isinstance(message, p.Response) and message.id == 7:
            reply = message
    report = p.HealthReport.from_wire(reply.result)
    names = [c.name for c in report.checks]
    assert names[:2] == ["runtime", "telemetry"] and "disk" in names and "model" in names
    assert report.overall in (p.HEALTHY, p.DEGRADED, p.UNHEALTHY)
    assert report.t in [p.HealthReport.from_wire(e.data).t for e in pushed]
    history = client.call("health.history", {"seconds": 600})
    assert isinstance(history, p.Response) and len(history.result["reports"]) >= 1
    client.close()


def test_settings_are_validated_persisted_and_audited(short_tmp: Path) -> None:
    socket_path = short_tmp / "rt" / "edge-runtime.sock"
    root = short_tmp / "root"
    start_daemon(str(socket_path), str(root), ["--rate", "10"])
    try:
        client = RawClient(socket_path)
        client.handshake()
        bad = client.call("health.config.set", {"latency_budget_ms": -1, "restart_service": "rm -rf /"})
        assert isinstance(bad, p.ErrorReply) and "latency_budget_ms must be above 0" in bad.message
        assert "systemd unit name" in bad.message
        good = client.call("health.config.set", {"latency_budget_ms": 20.0, "restart_service": "no-such-unit.service"})
        assert isinstance(good, p.Response)
        report = p.HealthReport.from_wire(client.call("health.run").result)  # type: ignore[union-attr]
        service = next(c for c in report.checks if c.name == "service")
        assert service.status == p.HEALTH_FAIL and "no-such-unit.service" in service.message
        assert report.overall == p.UNHEALTHY
        client.close()
    finally:
        stop_daemon(socket_path)

    saved = json.loads((root / "config" / "health.json").read_text())
    assert saved["latency_budget_ms"] == 20.0
    lines = (root / "audit.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    me = pwd.getpwuid(os.getuid()).pw_name
    assert [(e["action"], e["actor"]) for e in entries] == [("config", me), ("config", me), ("health check", me)]
    assert "latency_budget_ms must be above 0" in entries[0]["result"] and entries[1]["result"] == "ok"

    # After a restart the settings and the audit trail are still there.
    start_daemon(str(socket_path), str(root), ["--rate", "10"])
    try:
        client = RawClient(socket_path)
        client.handshake()
        cfg = client.call("health.config.get")
        assert isinstance(cfg, p.Response) and cfg.result["latency_budget_ms"] == 20.0
        audit = client.call("audit.list", {"limit": 10})
        assert isinstance(audit, p.Response) and len(audit.result["entries"]) == 3
        client.close()
    finally:
        stop_daemon(socket_path)


def test_a_corrupt_settings_file_falls_back_to_defaults(short_tmp: Path) -> None:
    socket_path = short_tmp / "rt" / "edge-runtime.sock"
    root = short_tmp / "root"
    (root / "config").mkdir(parents=True)
    (root / "config" / "health.json").write_text("{not json")
    start_daemon(str(socket_path), str(root), [])
    try:
        client = RawClient(socket_path)
        client.handshake()
        cfg = client.call("health.config.get")
        assert isinstance(cfg, p.Response) and cfg.result == p.HealthConfig().to_wire()
        client.close()
    finally:
        stop_daemon(socket_path)
    assert "using the default health settings" in (root / "logs" / "daemon.log").read_text()
