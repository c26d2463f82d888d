"""``edgectl alerts`` and ``edgectl thresholds`` end to end, against a real daemon reading the
Orin NX fixture tree (zones at 86-91 °C: over the default 85 °C warning)."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest

from console.cli.main import main
from console.core.app import ConsoleCore
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.telemetry.thresholds import set_thresholds
from device_runtime.protocol import AlertThresholds
from device_runtime.server.bridge import start_daemon

BOARDS = Path(__file__).resolve().parents[1] / "fixtures" / "boards"
ZONES = {"cpu-thermal", "gpu-thermal", "soc0-thermal", "tj-thermal"}


class Output(io.StringIO):
    """stdout that another thread may read while edgectl writes."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        with self.lock:
            return super().write(text)

    def lines(self) -> list[str]:
        with self.lock:
            return self.getvalue().splitlines()


def _run(env: ConsoleEnv, *argv: str, out: Output | None = None) -> tuple[int, str, str]:
    stdout, err = out or Output(), io.StringIO()
    env.stdout, env.stderr = stdout, err
    code = main(list(argv), env)
    return code, stdout.getvalue(), err.getvalue()


@pytest.fixture
def hot_env(console_env: ConsoleEnv) -> ConsoleEnv:
    start_daemon(str(console_env.local_socket), str(console_env.local_root),
                 ["--rate", "10", "--sys-root", str(BOARDS / "orin-nx-16gb" / "sys")])
    return console_env


def _wait_for_alerts(env: ConsoleEnv, count: int) -> list[dict[str, object]]:
    deadline = env.clock() + 20
    while env.clock() < deadline:
        code, out, err = _run(env, "alerts", "--json")
        assert code == ExitCode.OK, err
        alerts = [json.loads(line) for line in out.splitlines()]
        if len(alerts) >= count:
            return alerts
    raise AssertionError("fewer than %d alerts within 20 s" % count)


def test_thresholds_show_set_and_refuse_bad_input(hot_env: ConsoleEnv) -> None:
    code, out, _ = _run(hot_env, "thresholds", "--json")
    assert code == ExitCode.OK and json.loads(out) == AlertThresholds().to_wire()
    code, out, _ = _run(hot_env, "thresholds")
    assert "temperature_warning_c    85 °C" in out and "zone.*" in out
    code, _, err = _run(hot_env, "thresholds", "--set", "temperature_warning_c=200")
    assert code == ExitCode.USAGE
    assert "Temperature warning must be between -40 and 150 °C (got 200)" in err and "Nothing was changed" in err
    code, _, err = _run(hot_env, "thresholds", "--set", "fan=3")
    assert code == ExitCode.USAGE and "Unknown threshold 'fan'" in err
    code, out, _ = _run(hot_env, "thresholds", "--json")
    assert json.loads(out) == AlertThresholds().to_wire()  # nothing reached the device
    code, out, _ = _run(hot_env, "thresholds", "--set", "hold_s=0", "zone.tj-thermal=80", "--json")
    assert code == ExitCode.OK
    assert json.loads(out)["hold_s"] == 0.0 and json.loads(out)["zone_limits_c"] == {"tj-thermal": 80.0}
    code, out, _ = _run(hot_env, "thresholds")
    assert "zone.tj-thermal          80 °C" in out


def test_alerts_lists_then_follows_ends(hot_env: ConsoleEnv) -> None:
    assert _run(hot_env, "thresholds", "--set", "hold_s=0")[0] == ExitCode.OK
    alerts = _wait_for_alerts(hot_env, 4)
    assert {a["source"] for a in alerts} == ZONES
    assert all(a["kind"] == "temperature" and a["end"] is None for a in alerts)
    code, out, _ = _run(hot_env, "alerts")
    assert code == ExitCode.OK
    assert out.count("WARNING   Temperature") == 4 and out.count("ongoing (") == 4
    assert "tj-thermal is at 91.0 °C" in out

    stdout = Output()

    def cool_down() -> None:  # once the back-fill is printed, raise the limit: every alert ends
        deadline = hot_env.clock() + 20
        while len(stdout.lines()) < 4 and hot_env.clock() < deadline:
            threading.Event().wait(0.05)
        core = ConsoleCore(hot_env)
        try:
            session = core.session("local")
            session.connect()
            set_thresholds(session, AlertThresholds(temperature_warning_c=93.0, hold_s=0.0))
        finally:
            core.close()

    helper = threading.Thread(target=cool_down)
    helper.start()
    code, _, err = _run(hot_env, "alerts", "--follow", "--json", "--seconds", "6", out=stdout)
    helper.join()
    assert code == ExitCode.OK, err
    events = [json.loads(line) for line in stdout.lines()]
    ended = {e["source"] for e in events[4:] if e["end"] is not None}
    assert ended == ZONES
    code, _, err = _run(hot_env, "alerts", "--seconds", "1")
    assert code == ExitCode.USAGE and "--seconds only applies with --follow" in err
