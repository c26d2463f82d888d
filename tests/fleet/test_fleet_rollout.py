"""A staged rollout over four real daemons where one robot fails its own health gate: the rollout stops,
says which and why, rolls the failed wave back, leaves the rest untouched; then a fleet rollback."""

from __future__ import annotations

from console.core.exit_codes import ExitCode
from tests.support.lab import Lab


def test_rollout_stops_at_the_robot_that_fails_its_health_gate(lab: Lab) -> None:
    code, record = lab.json("fleet", "deploy", str(lab.packages["1.0.0"]), "--tag", "lab", "--canary", "1",
                            "--waves", "50%,100%", "--json")
    assert code == ExitCode.OK, record
    assert record["plan"]["planned"] == [["robot-1"], ["robot-2"], ["robot-3", "robot-4"]]
    assert {d: o["status"] for d, o in record["final"].items()} == dict.fromkeys(lab.sockets, "ok")
    assert lab.active() == dict.fromkeys(lab.sockets, "1.0.0")
    code, record = lab.json("fleet", "deploy", str(lab.packages["1.0.0"]), "--tag", "lab", "--json")
    assert code == ExitCode.OK, record  # again: every robot already runs it, and says so
    assert {d: o["detail"]["result"] for d, o in record["final"].items()} == dict.fromkeys(lab.sockets, "unchanged")

    # robot-3's health now names a robot application that does not exist: its health gate fails
    code, _, err = lab.run("--device", "robot-3", "health-config", "--set", "restart_service=no-such-robot.service")
    assert code == ExitCode.OK, err
    code, out, err = lab.run("fleet", "deploy", str(lab.packages["1.1.0"]), "--tag", "lab", "--canary", "1",
                             "--waves", "3,100%", "--max-failures", "0", "--rollback-failed-wave", "--why", "new nms")
    assert code == ExitCode.ERROR, out + err
    assert "wave 2 of 3: activating on robot-2, robot-3" in err
    assert "the rollout stopped: 1 device failed by wave 2 (more than --max-failures 0)" in err
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  robot-")}
    assert lines["robot-1"].split()[1:4] == ["ok", "activate", "detector"] and "1.1.0 (committed)" in lines["robot-1"]
    assert lines["robot-2"].split()[1:4] == ["ok", "rollback", "detector"] and "1.0.0 (committed)" in lines["robot-2"]
    assert lines["robot-3"].split()[1:3] == ["failed", "activate"]
    assert "the health check failed: Robot application running: no-such-robot.service" in lines["robot-3"]
    assert lines["robot-3"].endswith(". Run edgectl --device robot-3 health: it shows each check and how to fix it.")
    assert lines["robot-4"].split()[1:3] == ["skipped", "activate"] and "the package stays stored" in lines["robot-4"]
    assert out.splitlines()[-2].startswith("stopped: 1 device failed by wave 2 (more than --max-failures 0); "
                                           "1 failed, 2 ok, 1 skipped. Record: ")
    assert out.splitlines()[-1].startswith("To go on with the devices left: edgectl fleet resume ")
    assert lab.active() == {"robot-1": "1.1.0", "robot-2": "1.0.0", "robot-3": "1.0.0", "robot-4": "1.0.0"}
    code, versions, = lab.json("--device", "robot-4", "versions", "detector", "--json")
    assert {v["version"] for v in versions["versions"]} == {"1.0.0", "1.1.0"}  # stored, never activated

    code, listing = lab.json("fleet", "rollouts", "--json")
    assert code == ExitCode.OK and [r["kind"] for r in listing] == ["deploy", "deploy", "deploy"]
    stopped = listing[-1]
    assert stopped["stopped"].startswith("1 device failed by wave 2") and stopped["who"] == lab.env.operator
    assert stopped["what"] == {"package": str(lab.packages["1.1.0"]), "model": "detector", "version": "1.1.0"}
    phases = [(p["phase"], p["wave"], p["device"], p["status"]) for p in stopped["phases"]]
    assert phases[:4] == [("upload", None, d, "ok") for d in lab.sockets]
    assert phases[4:] == [("activate", 1, "robot-1", "ok"), ("activate", 2, "robot-2", "ok"),
                          ("activate", 2, "robot-3", "failed"), ("rollback", 2, "robot-2", "ok"),
                          ("activate", 3, "robot-4", "skipped")]
    assert all(p["seconds"] > 0 for p in stopped["phases"][:-1])
    code, out, _ = lab.run("fleet", "rollouts")
    assert code == ExitCode.OK and out.splitlines()[-1].endswith("stopped: 1 device failed by wave 2 (more than "
                                                                 "--max-failures 0)")
    code, out, _ = lab.run("fleet", "rollouts", stopped["id"])
    assert code == ExitCode.OK and "rollback 2     robot-2" in out

    code, record = lab.json("fleet", "rollback", "detector", "--tag", "canary", "--json")
    assert code == ExitCode.OK, record
    assert record["final"]["robot-1"]["detail"]["version"] == "1.0.0"
    assert lab.active() == dict.fromkeys(lab.sockets, "1.0.0")
    code, out, err = lab.run("fleet", "rollback", "no-such-model", "--devices", "robot-1,robot-2")
    assert code == ExitCode.ERROR
    refused = [line for line in out.splitlines() if line.startswith("  robot-")]
    assert len(refused) == 2 and all(line.split()[1:3] == ["failed", "rollback"] for line in refused)
    assert refused[0].endswith("no-such-model has no previous version to roll back to (active: none); name one with "
                               "--to. edgectl --device robot-1 versions MODEL lists what it holds."), refused
