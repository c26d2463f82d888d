"""console.core.models.tracker without Qt: rollback plans and their sentences, refusals in words, the
history timeline, versions offered, health words, and the field-mode setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.core.devices.client import DeviceError
from console.core.models.tracker import (
    default_model_name,
    explain_action,
    explain_error,
    health_problems,
    health_words,
    move_text,
    next_version,
    result_words,
    rollback_blocker,
    rollback_plan,
    status_words,
    timeline,
)
from console.core.settings import Settings, load_settings, save_settings
from device_runtime.protocol import (
    HealthCheck,
    HealthReport,
    StoreAction,
    StoreHistoryEntry,
    StoreVersion,
    StoreVersions,
)


def _versions(active: str | None, previous: str | None, *kept: str, corrupt: str = "") -> StoreVersions:
    rows = []
    for version in kept:
        status = [s for s, hit in (("active", version == active), ("previous", version == previous),
                                   ("corrupt", version == corrupt)) if hit]
        rows.append(StoreVersion(version, status))
    return StoreVersions("detector", rows, active, previous)


def test_the_big_button_returns_to_the_previous_version_and_names_both() -> None:
    plan = rollback_plan(_versions("1.4.0", "1.3.2", "1.4.0", "1.3.2", "1.2.0"))
    assert plan is not None and not plan.downgrade and plan.target == "1.3.2"
    assert plan.button_text() == "Roll back detector from 1.4.0 to 1.3.2"
    assert plan.question("robot-07") == "Roll back detector from 1.4.0 to 1.3.2 on robot-07?"


def test_an_older_chosen_version_is_an_explicit_downgrade() -> None:
    plan = rollback_plan(_versions("1.4.0", "1.3.2", "1.4.0", "1.3.2", "1.2.0"), to="1.2.0")
    assert plan is not None and plan.downgrade
    assert plan.intent_text().startswith("I mean to downgrade detector to the older 1.2.0 (the active 1.4.0 is newer)")
    newer = rollback_plan(_versions("1.2.0", "1.4.0", "1.4.0", "1.3.2", "1.2.0"), to="1.3.2")
    assert newer is not None and not newer.downgrade
    assert newer.button_text() == "Switch detector from 1.2.0 to 1.3.2"


@pytest.mark.parametrize(("versions", "to"), [
    (_versions("1.0.0", None, "1.0.0"), None),  # nothing earlier kept
    (_versions(None, None), None),  # nothing active
    (_versions("1.4.0", "1.3.2", "1.4.0", "1.3.2"), "1.4.0"),  # already active
    (_versions("1.4.0", "1.3.2", "1.4.0", "1.3.2"), "0.9.0"),  # not kept on the device
])
def test_no_rollback_is_offered_where_there_is_nowhere_to_go(versions: StoreVersions, to: str | None) -> None:
    assert rollback_plan(versions, to) is None


def test_a_corrupt_target_blocks_the_button_with_a_reason() -> None:
    versions = _versions("1.4.0", "1.3.2", "1.4.0", "1.3.2", corrupt="1.3.2")
    assert rollback_blocker(versions, "1.3.2") == "detector 1.3.2 is damaged on the device and cannot be activated"
    assert rollback_blocker(versions, "1.4.0") is None


def test_status_words_carry_a_word_and_a_level() -> None:
    assert status_words(StoreVersion("1.0.0", ["previous", "pinned"])) == [("↺ previous", "info"),
                                                                           ("⚑ pinned", "info")]
    assert status_words(StoreVersion("1.0.0", ["failed"])) == [("✕ failed", "bad")]
    assert status_words(StoreVersion("1.0.0", [])) == [("kept", "muted")]


def test_refusals_say_what_happened_and_what_to_do() -> None:
    action = StoreAction("a1", "deploy", "failed", code="untrusted_key", message="signed by key ab12 ...",
                         notes=["note one"])
    refusal = explain_action(action, "robot-07")
    assert refusal.what == "The package is signed with a key this device does not trust."
    assert "edgectl --device robot-07 keys trust KEY.pub" in refusal.todo
    assert refusal.details == "signed by key ab12 ...\nnote one"
    odd = explain_action(StoreAction("a2", "rollback", "failed", code="something_new", message="boom"), "r")
    assert odd.what == "The device could not finish the rollback." and odd.details == "boom"


def test_errors_before_an_action_starts() -> None:
    space = explain_error(DeviceError("not enough disk space to receive x.tar.gz: ...", "no_space"), "Deploying x",
                          "robot-07")
    assert space.what == "The device does not have enough free disk space for this package."
    lost = explain_error(DeviceError("connection lost", "timeout"), "Deploying x", "robot-07")
    assert lost.what == "robot-07 could not be reached."
    other = explain_error(OSError("disk on fire"), "Deploying x", "robot-07")
    assert (other.what, other.details) == ("Deploying x failed.", "disk on fire")


def test_the_timeline_is_newest_first_and_folds_started_lines() -> None:
    entries = [StoreHistoryEntry(1.0, "a", "deploy", "started", to_version="1.0.0"),
               StoreHistoryEntry(2.0, "a", "deploy", "committed", to_version="1.0.0"),
               StoreHistoryEntry(3.0, "b", "pin", "changed", to_version="1.0.0"),
               StoreHistoryEntry(4.0, "c", "rollback", "started", from_version="1.1.0", to_version="1.0.0")]
    rows = timeline(entries)
    assert [(e.id, e.result) for e in rows] == [("c", "started"), ("b", "changed"), ("a", "committed")]
    assert [move_text(e) for e in rows] == ["1.1.0 → 1.0.0", "1.0.0", "none → 1.0.0"]
    assert [result_words(e)[0] for e in rows] == ["◐ started", "⚑ pinned", "✓ committed"]


def test_versions_and_names_offered_for_an_onnx_model() -> None:
    assert next_version(None) == "1.0.0"
    assert next_version(_versions("1.4.0", None, "1.4.0", "1.10.2", "2.0.0-rc.1")) == "2.0.1"
    assert default_model_name(Path("/m/Front Camera v2.onnx")) == "front-camera-v2"
    assert default_model_name(Path("/m/__.onnx")) == "model"


def test_health_in_words() -> None:
    assert health_words(None) == ("… Checking health", "muted")
    bad = HealthReport(1.0, "unhealthy", [HealthCheck("gpu", "GPU is visible", "critical", "fail", "no GPU found"),
                                          HealthCheck("disk", "Disk has room", "warning", "pass", "12 GB free")])
    assert health_words(bad) == ("✕ Unhealthy", "bad")
    assert health_problems(bad) == ["GPU is visible: no GPU found"]
    assert health_words(HealthReport(1.0, "degraded")) == ("▲ Degraded", "warn")


def test_field_mode_setting_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    save_settings(path, Settings(field_mode=True))
    assert load_settings(path).field_mode is True
    assert Settings.from_json({"version": 1, "field_mode": "yes"}).field_mode is False  # not a bool: default
