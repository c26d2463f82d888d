"""``edgectl audit`` on the real local device: operator actions with the OS user, newest first."""

from __future__ import annotations

import io
import json
import os
import pwd

from console.cli.main import main
from console.core.app import ConsoleCore
from console.core.devices.audit import audit_line, list_audit, row
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from device_runtime.protocol import AuditEntry


def _run(env: ConsoleEnv, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env.stdout, env.stderr = out, err
    code = main(list(argv), env)
    return code, out.getvalue(), err.getvalue()


def test_audit_lists_config_changes_with_the_os_user(console_env: ConsoleEnv) -> None:
    code, out, _ = _run(console_env, "audit")
    assert code == ExitCode.OK and out == "no operator actions recorded on This computer\n"
    assert _run(console_env, "health-config", "--set", "latency_budget_ms=25")[0] == ExitCode.OK
    assert _run(console_env, "thresholds", "--set", "hold_s=3")[0] == ExitCode.OK
    me = pwd.getpwuid(os.getuid()).pw_name

    code, out, _ = _run(console_env, "audit", "--json")
    entries = [json.loads(line) for line in out.splitlines()]
    assert code == ExitCode.OK
    assert [(e["actor"], e["action"]) for e in entries] == [(me, "config"), (me, "config")]
    assert entries[0]["detail"].startswith("alerts.thresholds.set") and entries[1]["detail"].startswith(
        "health.config.set")
    assert entries[0]["t"] >= entries[1]["t"]

    code, out, _ = _run(console_env, "audit", "--limit", "1")
    assert code == ExitCode.OK and len(out.splitlines()) == 1
    assert "  %s" % me in out and "  config  " in out and out.rstrip().endswith("ok")

    code, _, err = _run(console_env, "audit", "--limit", "0")
    assert code == ExitCode.USAGE and "--limit must be 1 to 2000 (got 0)" in err

    core = ConsoleCore(console_env)
    try:
        session = core.session("local")
        session.connect()
        assert [e.action for e in list_audit(session, 5)] == ["config", "config"]
    finally:
        core.close()


def test_a_refused_action_reads_failed_with_its_reason() -> None:
    entry = AuditEntry(0.0, "tech", "config", "health.config.set {}", "interval_s must be between 5 and 3600 s")
    assert row(entry)[4] == "failed: interval_s must be between 5 and 3600 s"
    assert audit_line(entry).endswith("failed: interval_s must be between 5 and 3600 s")
    assert row(AuditEntry(0.0, "tech", "rollback", "store.rollback {}"))[4] == "ok"
