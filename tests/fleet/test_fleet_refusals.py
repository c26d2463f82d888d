"""Over real daemons: a package refused while uploading stops the rollout before any activation, and
``fleet run-health`` names the unhealthy robot and its failing check."""

from __future__ import annotations

from console.core.exit_codes import ExitCode
from device_runtime.store.config import REQUIRE_SIGNATURE, StoreConfig, save_config
from tests.support.lab import GRACE_S, Lab


def test_a_refused_upload_stops_the_rollout_before_anything_activates(lab: Lab) -> None:
    save_config(str(lab.sockets["robot-4"].parent / "root"), StoreConfig(policy=REQUIRE_SIGNATURE,
                                                                         health_grace_s=GRACE_S))
    code, record = lab.json("fleet", "deploy", str(lab.packages["1.0.0"]), "--tag", "lab", "--json")
    assert code == ExitCode.ERROR
    assert record["stopped"] == "1 of 4 uploads failed (more than --max-failures 0): nothing was activated"
    final = record["final"]
    assert (final["robot-4"]["phase"], final["robot-4"]["status"]) == ("upload", "failed")
    why = final["robot-4"]["why"]
    assert why.startswith("the package is not signed and this device requires signed packages")
    assert why.endswith("Sign it with a key the device trusts (edgectl package sign PKG --key KEY).")
    for name in ("robot-1", "robot-2", "robot-3"):
        assert (final[name]["phase"], final[name]["status"]) == ("activate", "skipped")
    assert lab.active() == dict.fromkeys(lab.sockets)  # the model is stored, active nowhere

    code, _, err = lab.run("fleet", "deploy", str(lab.packages["1.0.0"]), "--tag", "lab", "--waves", "50%")
    assert code == ExitCode.USAGE and "the waves end at 2 of 4 devices; end them with 100%; nothing was sent" in err
    code, _, err = lab.run("fleet", "deploy", str(lab.packages["1.0.0"]))
    assert code == ExitCode.USAGE and "choose the devices: --tag TAG (repeat) and/or --devices A,B" in err


def test_run_health_names_the_unhealthy_robot(lab: Lab) -> None:
    code, _, err = lab.run("--device", "robot-3", "health-config", "--set", "restart_service=no-such-robot.service")
    assert code == ExitCode.OK, err
    code, rows = lab.json("fleet", "run-health", "--devices", "robot-2,robot-3", "--json")
    assert code == ExitCode.ERROR
    by_device = {row["device"]: row for row in rows}
    assert by_device["robot-2"]["status"] == "ok" and by_device["robot-2"]["detail"]["health"] == "healthy"
    sick = by_device["robot-3"]
    assert sick["status"] == "failed" and sick["detail"]["health"] == "unhealthy"
    assert sick["why"].startswith("unhealthy: Robot application running: no-such-robot.service is")
