"""``edgectl fleet status`` over real daemons: facts per device, and an unreachable one named with why."""

from __future__ import annotations

import time

from console.core.exit_codes import ExitCode
from tests.support.lab import Lab


def test_status_reports_every_device_and_names_the_unreachable_one(lab: Lab) -> None:
    code, _, err = lab.run("--device", "robot-2", "deploy", str(lab.packages["1.0.0"]))
    assert code == ExitCode.OK, err
    gone = lab.sockets["robot-4"].parent / "gone.sock"
    code, _, err = lab.run("devices", "add", "robot-9", "--socket", str(gone), "--tag", "lab")
    assert code == ExitCode.OK, err

    code, status = lab.json("fleet", "status", "--tag", "lab", "--json")
    assert code == ExitCode.UNREACHABLE
    rows = {row["device"]: row for row in status["devices"]}
    assert list(rows) == ["robot-1", "robot-2", "robot-3", "robot-4", "robot-9"]
    for name in ("robot-1", "robot-2", "robot-3", "robot-4"):
        row = rows[name]
        assert (row["status"], row["state"]) == ("ok", "connected"), row
        assert row["runtime"] and row["board"] and row["seconds"] > 0
        assert row["models"] == ({"detector": "1.0.0"} if name == "robot-2" else {})
    assert {rows[n]["health"] for n in ("robot-1", "robot-2", "robot-3")} == {"healthy"}
    hot = rows["robot-4"]  # the Orin NX tree's CPU zone reads 91 °C: over the 85 °C health limit, a warning
    assert (hot["hottest_c"], hot["hottest_sensor"]) == (91.0, "temp.cpu-thermal")
    assert (hot["health"], hot["failing_checks"]) == ("degraded", ["Temperature"])
    deadline = time.monotonic() + 30  # the daemon opens an alert once the heat has held for hold_s (2 s)
    while not hot["open_alerts"]:
        assert time.monotonic() < deadline, "no alert opened on the hot board within 30 s"
        _, status = lab.json("fleet", "status", "--devices", "robot-4", "--json")
        hot = status["devices"][0]
    assert hot["open_alerts"] == len(hot["alerts"]) >= 1
    assert "cpu-thermal is at 91.0 °C, over its warning limit of 85 °C." in hot["alerts"]
    code, out, _ = lab.run("fleet", "status", "--devices", "robot-4")
    assert code == ExitCode.OK
    hottest, unit, alerts, models = out.splitlines()[1].split()[-4:]
    assert (hottest, unit, models) == ("91.0", "°C", "-") and int(alerts) >= 1
    assert rows["robot-1"]["tags"] == ["canary", "lab"]
    lost = rows["robot-9"]
    assert lost["status"] == "unreachable" and "models" not in lost
    assert "no edge-runtime daemon is listening on %s" % gone in lost["why"]
    assert "edgectl --device robot-9 status" in lost["why"]

    code, out, err = lab.run("fleet", "status", "--tag", "canary")
    assert code == ExitCode.OK, err
    header, row = out.splitlines()
    assert header.split()[:3] == ["DEVICE", "STATE", "BOARD"]
    assert row.startswith("robot-1          connected") and " healthy " in row
    assert err.startswith("status    robot-1          ok")

    code, out, err = lab.run("fleet", "status", "--tag", "no-such-tag")
    assert code == ExitCode.USAGE and "no registered device carries no-such-tag" in err
