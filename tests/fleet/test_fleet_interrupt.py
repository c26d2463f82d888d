"""Ctrl-C in the middle of a rollout: the devices under way finish their step, the others are not
touched, and the record says where it stopped; ``fleet resume`` takes it to the end."""

from __future__ import annotations

import pytest

from console.core.app import ConsoleCore
from console.core.exit_codes import ExitCode
from console.core.fleet.records import RolloutLog
from console.core.fleet.rollout import DeployPlan, Fleet, FleetProgress
from console.core.fleet.runner import DeviceOutcome
from console.core.fleet.waves import parse_waves
from tests.support.lab import Lab


def test_ctrl_c_leaves_the_devices_not_reached_untouched_and_resume_finishes(lab: Lab) -> None:
    def interrupt(phase: str, outcome: DeviceOutcome) -> None:
        raise KeyboardInterrupt  # the operator presses Ctrl-C as the first device's upload is reported

    core = ConsoleCore(lab.env)
    log = RolloutLog(lab.env.data_dir / "rollouts")
    try:
        fleet = Fleet({d: core.session(d) for d in lab.sockets}, "tests", log, parallel=1,
                      progress=FleetProgress(outcome=interrupt))
        with pytest.raises(KeyboardInterrupt):
            fleet.deploy(DeployPlan(lab.packages["1.0.0"], list(lab.sockets), parse_waves("100%")))
    finally:
        core.close()
    records, problems = log.records()
    assert problems == [] and len(records) == 1
    assert records[0].stopped.startswith("interrupted during the upload: the devices under way finished that step")
    assert records[0].finished is not None
    stored = {}
    for device in ("robot-1", "robot-3", "robot-4"):
        code, versions = lab.json("--device", device, "versions", "detector", "--json")
        assert code == ExitCode.OK
        stored[device] = [v["version"] for v in versions["versions"]]
    # the first device's upload had finished: the package is stored there; the last two were never started
    assert stored == {"robot-1": ["1.0.0"], "robot-3": [], "robot-4": []}

    code, record = lab.json("fleet", "resume", records[0].id, "--json")
    assert code == ExitCode.OK, record
    assert record["selector"] == {"resumes": records[0].id} and record["devices"] == list(lab.sockets)
    assert {d: p["status"] for d, p in record["final"].items()} == dict.fromkeys(lab.sockets, "ok")
    assert lab.active() == dict.fromkeys(lab.sockets, "1.0.0")
    assert log.load(records[0].id).closed == "resumed by %s" % record["id"]
    code, _, err = lab.run("fleet", "resume", records[0].id)
    assert code == ExitCode.ERROR and "is resumed by %s: there is nothing to resume" % record["id"] in err
    code, _, err = lab.run("fleet", "abandon", record["id"])
    assert code == ExitCode.ERROR and "is done: there is nothing to abandon" in err
