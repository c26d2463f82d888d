"""Ctrl-C in the middle of a rollout: the devices under way finish their step, the others are not
touched, and the record says where it stopped."""

from __future__ import annotations

import pytest

from console.core.app import ConsoleCore
from console.core.exit_codes import ExitCode
from console.core.fleet.records import RolloutLog
from console.core.fleet.rollout import DeployPlan, Fleet, FleetProgress
from console.core.fleet.runner import DeviceOutcome
from console.core.fleet.waves import parse_waves
from tests.fleet.lab import Lab


def test_ctrl_c_during_the_upload_leaves_the_devices_not_reached_untouched(lab: Lab) -> None:
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
