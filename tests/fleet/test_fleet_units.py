"""The fleet's parts without daemons: wave plans, the bound on parallel work, how an outcome is classed,
and the rollout records."""

from __future__ import annotations

import io
import threading

import pytest

from console.cli.main import main
from console.core.devices.client import ConnectionLost, DeviceError
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.fleet.records import RolloutLog, RolloutRecord, new_id
from console.core.fleet.runner import FAILED, OK, UNREACHABLE, DeviceFailed, DeviceOutcome, run_each
from console.core.fleet.waves import parse_waves, plan_waves
from console.transport.base import TransportError

ROBOTS = ["r%d" % i for i in range(1, 9)]


@pytest.mark.parametrize(("canary", "waves", "plan"), [
    (1, "25%,100%", [["r1"], ["r2"], ["r3", "r4", "r5", "r6", "r7", "r8"]]),
    (1, "100%", [["r1"], ROBOTS[1:]]),
    (0, "100%", [ROBOTS]),
    (2, "25%,50%,100%", [["r1", "r2"], ["r3", "r4"], ROBOTS[4:]]),  # 25% ends where the canary did: dropped
    (1, "3,8", [["r1"], ["r2", "r3"], ROBOTS[3:]]),
    (9, "100%", [ROBOTS]),
])
def test_waves_end_at_their_share_of_the_targets(canary: int, waves: str, plan: list[list[str]]) -> None:
    assert plan_waves(ROBOTS, canary, parse_waves(waves)) == [w for w in plan if w]


@pytest.mark.parametrize(("waves", "words"), [
    ("25%,50%", "the waves end at 4 of 8 devices; end them with 100%"),
    ("half", "wave 'half' is neither a percentage (25%) nor a number of devices (2)"),
    ("0%,100%", "wave 0% is out of range"),
    ("150%", "wave 150% is out of range"),
])
def test_a_plan_that_cannot_be_followed_is_refused_by_name(waves: str, words: str) -> None:
    with pytest.raises(ValueError, match="^" + words.replace("(", r"\(").replace(")", r"\)")):
        plan_waves(ROBOTS, 1, parse_waves(waves))


@pytest.mark.parametrize("parallel", [1, 3])
def test_run_each_runs_exactly_parallel_devices_at_once(parallel: int) -> None:
    together = threading.Barrier(parallel, timeout=30)  # breaks unless `parallel` devices run at once
    lock = threading.Lock()
    running, most = [0], [0]

    def work(device: str) -> dict[str, object]:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        if device in ROBOTS[:parallel]:
            together.wait()
        with lock:
            running[0] -= 1
        return {"seen": device}

    outcomes = run_each(ROBOTS, work, "The work", parallel)
    assert [o.device for o in outcomes] == ROBOTS and all(o.status == OK for o in outcomes)
    assert most[0] == parallel and not together.broken


def test_each_failure_is_classed_and_kept_with_its_device() -> None:
    raised: dict[str, BaseException] = {
        "r1": DeviceFailed("rolled back: the health check failed", {"version": "1.1.0"}),
        "r2": TransportError("ssh: connect to host 10.0.0.2 port 22: No route to host"),
        "r3": ConnectionLost("the device closed the connection"),
        "r4": DeviceError("no space left for the package", "no_space"),
        "r5": KeyError("version"),
    }

    def work(device: str) -> dict[str, object]:
        if device in raised:
            raise raised[device]
        return {}

    heard: list[str] = []
    outcomes = {o.device: o for o in run_each(ROBOTS[:6], work, "The upload", 4, lambda o: heard.append(o.device))}
    assert sorted(heard) == ROBOTS[:6]
    assert (outcomes["r1"].status, outcomes["r1"].detail) == (FAILED, {"version": "1.1.0"})
    assert outcomes["r2"].status == UNREACHABLE and outcomes["r2"].why.startswith("ssh: connect to host 10.0.0.2")
    assert outcomes["r2"].why.endswith("Check that it is on and its runtime is up: edgectl --device r2 status")
    assert outcomes["r3"].status == UNREACHABLE
    assert outcomes["r4"].status == FAILED and outcomes["r4"].why.startswith(
        "The device does not have enough free disk space for this package. no space left for the package.")
    assert outcomes["r5"].status == FAILED and outcomes["r5"].why.startswith("The upload failed.")
    assert outcomes["r6"].status == OK and outcomes["r6"].seconds >= 0


@pytest.mark.parametrize(("said", "why"), [
    ("cannot reach 10.0.0.2:22 (timed out); is the device on and on the network?",
     "cannot reach 10.0.0.2:22 (timed out); is the device on and on the network? Check that"),
    ("the device closed the connection.", "the device closed the connection. Check that"),
    ("the device closed the connection", "the device closed the connection. Check that"),
])
def test_an_unreachable_device_is_named_in_whole_sentences(said: str, why: str) -> None:
    def work(device: str) -> dict[str, object]:
        raise TransportError(said)

    (outcome,) = run_each(["r1"], work, "The status")
    assert outcome.status == UNREACHABLE and outcome.why.startswith(why), outcome.why


def test_rollouts_name_a_damaged_record_and_an_unknown_id(console_env: ConsoleEnv) -> None:
    log = RolloutLog(console_env.data_dir / "rollouts")
    record = RolloutRecord(new_id("rollback", "detector", 1.0e9), "rollback", "ana@laptop", 1.0e9,
                           {"model": "detector"}, ["r1", "r2"])
    record.add("rollback", None, [DeviceOutcome("r1", OK, seconds=0.4, detail={"model": "detector",
                                                                                "version": "1.0.0"})])
    log.save(record)
    (log.directory / "20261207-000000-deploy-x-0000.json").write_text("{not json", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    console_env.stdout, console_env.stderr = out, err
    assert main(["fleet", "rollouts"], console_env) == ExitCode.ERROR
    assert "20261207-000000-deploy-x-0000.json cannot be read" in err.getvalue()
    assert "move it away or remove it" in err.getvalue()
    line, = out.getvalue().splitlines()
    assert line.startswith(record.id) and "ana@laptop" in line and "1 ok, 1 skipped" in line
    assert log.load(record.id).final()["r2"].outcome.why == "not reached"
    assert main(["fleet", "rollouts", "no-such-rollout"], console_env) == ExitCode.ERROR
    assert "no readable rollout 'no-such-rollout'" in err.getvalue()


def test_a_cut_off_rollout_is_listed_as_such_and_can_be_abandoned(console_env: ConsoleEnv) -> None:
    log = RolloutLog(console_env.data_dir / "rollouts")
    record = RolloutRecord("20261207-101500-deploy-detector-1.1.0-aaaa", "deploy", "ana@laptop", 1.0e9,
                           {"package": "/nowhere/detector-1.1.0.tar.gz"}, ["r1", "r2"],
                           plan={"canary": 1, "waves": ["100%"], "max_failures": 0, "rollback_failed_wave": False})
    record.add("upload", None, [DeviceOutcome("r1", OK), DeviceOutcome("r2", OK)])
    record.add("activate", 1, [DeviceOutcome("r1", OK)])
    log.save(record)  # as a console killed during wave 2 leaves it: no end recorded
    assert record.open and record.unfinished() == ["r2"]
    out, err = io.StringIO(), io.StringIO()
    console_env.stdout, console_env.stderr = out, err
    assert main(["fleet", "rollouts"], console_env) == ExitCode.OK
    assert out.getvalue().rstrip().endswith("cut off: no end was recorded (the console stopped); resume or abandon it")
    assert main(["fleet", "resume", record.id], console_env) == ExitCode.ERROR
    assert "deployed /nowhere/detector-1.1.0.tar.gz, which is no longer there" in err.getvalue()
    assert main(["fleet", "abandon", record.id], console_env) == ExitCode.OK
    assert "abandoned by %s" % console_env.operator in out.getvalue()
    closed = log.load(record.id)
    assert not closed.open and closed.finished is not None and closed.state().startswith("abandoned by ")
