"""The Deploy wizard over the real local runtime: an ONNX model packaged, uploaded, verified,
activated and health-checked; refusals shown as what happened and what to do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from console.core.app import ConsoleCore
from console.core.devices.keys import KeyStore
from console.core.env import ConsoleEnv
from console.core.models.tracker import succeeded
from console.ui.devices.qt_session import QtSession
from console.ui.models.deploy_wizard import DeployWizard
from console.ui.models.qt_models import QtModels
from device_runtime.package_format.signing import parse_public_key
from device_runtime.protocol import STORE_UPLOAD_CHUNK, StoreKey
from tests.support.models_page import WHO, deploy_versions, device_history, device_versions, robot_holds_the_swap_lock
from tests.support.store import make_onnx, make_package, public_line, snapshot

pytestmark = pytest.mark.gui

KEY_ID = parse_public_key(public_line()).key_id


@pytest.fixture
def store(qtbot: QtBot, core: ConsoleCore, local_model: QtSession, tmp_path: Path) -> Iterator[QtModels]:
    deploy_versions(local_model.session, tmp_path)
    model = QtModels(local_model, WHO, tmp_path / "keys")
    qtbot.waitUntil(lambda: model.tracker.snapshot.loaded, timeout=20_000)
    yield model
    model.close()


@pytest.fixture
def wizard(qtbot: QtBot, store: QtModels, tmp_path: Path) -> DeployWizard:
    widget = DeployWizard(store, tmp_path / "keys")
    qtbot.addWidget(widget)
    widget.show()
    return widget


def _confirm(qtbot: QtBot, wizard: DeployWizard) -> None:
    """Press Deploy…, check the one question, and answer Deploy."""
    wizard.deploy_button.click()
    box = wizard.confirm_box
    assert box is not None
    go = next(b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.AcceptRole)
    go.click()
    qtbot.waitUntil(lambda: wizard.final is not None or wizard.refusal is not None, timeout=60_000)


def test_an_onnx_model_deploys_end_to_end(qtbot: QtBot, wizard: DeployWizard, local_model: QtSession,
                                          tmp_path: Path) -> None:
    model = make_onnx(tmp_path / "Detector.onnx", seed=7)
    wizard.set_file(model)
    assert wizard.onnx_form.isVisibleTo(wizard)
    assert (wizard.name_edit.text(), wizard.version_edit.text()) == ("detector", "1.1.1")
    wizard.version_edit.setText("1.0.0")
    assert wizard.problem.text() == ("detector 1.0.0 is already on This computer: give this build a new version "
                                     "(next free: 1.1.1).")
    assert not wizard.deploy_button.isEnabled()
    wizard.version_edit.setText("1.2.0")
    assert wizard.deploy_button.isEnabled() and wizard.problem.text() == ""
    assert wizard.question() == ("Deploy detector 1.2.0 to This computer? It is verified, loaded and switched in, "
                                 "then health-checked; if anything fails, 1.1.0 stays active.")
    uploads: list[tuple[int, int]] = []
    wizard.models.uploadProgress.connect(lambda _tag, done, total: uploads.append((done, total)))
    _confirm(qtbot, wizard)
    assert wizard.final is not None and succeeded(wizard.final), wizard.refusal
    assert wizard.outcome.text().startswith("Done: detector 1.2.0 is active and committed.")
    stages = wizard.stage_list.text().splitlines()
    assert stages[0] == "✓ packaging Detector.onnx as detector 1.2.0"
    assert stages[1] == "✓ uploading detector-1.2.0.tar.gz"
    assert any(s.startswith("✓ loading detector 1.2.0 and running a warm-up inference") for s in stages)
    assert any(s.startswith("✓ health check") for s in stages)
    assert stages[-1] == "✓ detector 1.2.0 is active"
    assert uploads and uploads[-1][0] == uploads[-1][1] and wizard.upload_bar.value() == 100
    assert wizard.close_button.isEnabled()
    versions = device_versions(local_model.session)
    assert (versions.active, versions.previous) == ("1.2.0", "1.1.0")
    last = device_history(local_model.session).entries[-1]
    assert (last.action, last.result, last.who) == ("deploy", "committed", WHO)


def test_a_package_signed_by_an_untrusted_key_is_refused_with_the_reason(
        qtbot: QtBot, wizard: DeployWizard, local_model: QtSession, ui_env: ConsoleEnv, tmp_path: Path) -> None:
    package = make_package(tmp_path, "detector", "2.0.0", signed=True, seed=5)
    root = ui_env.local_root
    before = snapshot(root / "models"), snapshot(root / "active")
    wizard.set_file(package)
    assert wizard.about.text().startswith("Package detector 2.0.0 · fp32 · onnxruntime · ")
    assert wizard.about.text().endswith(" · signed by key %s" % KEY_ID)
    _confirm(qtbot, wizard)
    assert wizard.final is not None and not succeeded(wizard.final)
    refusal = wizard.refusal_view
    assert refusal.isVisibleTo(wizard)
    assert refusal.what.text() == "The package is signed with a key this device does not trust."
    assert refusal.todo.text() == ("Trust that public key on the device (edgectl --device local keys trust KEY.pub), "
                                   "or sign the package with a key it already trusts.")
    assert not refusal.details.isVisibleTo(wizard)
    refusal.details_button.click()
    assert refusal.details.isVisibleTo(wizard)
    assert "which this device does not trust" in refusal.details.text()
    assert wizard.stage_list.text().splitlines()[-1].startswith("✕ ")
    assert (snapshot(root / "models"), snapshot(root / "active")) == before
    assert device_versions(local_model.session).active == "1.1.0"


def test_a_version_that_exists_with_other_contents_is_refused(qtbot: QtBot, wizard: DeployWizard,
                                                              local_model: QtSession, tmp_path: Path) -> None:
    package = make_package(tmp_path, "detector", "1.0.0", signed=False, seed=9)
    wizard.set_file(package)
    _confirm(qtbot, wizard)
    assert wizard.refusal is not None
    assert wizard.refusal.what == "This version is already on the device with different contents."
    assert wizard.refusal.todo == "A version never changes: give the new build a new version number."
    assert "already stored with different contents" in wizard.refusal.details
    assert device_versions(local_model.session).active == "1.1.0"


def test_a_file_that_is_not_a_package_never_reaches_the_device(wizard: DeployWizard, tmp_path: Path) -> None:
    fake = tmp_path / "model.tar.gz"
    fake.write_bytes(b"not a gzip archive at all")
    wizard.set_file(fake)
    assert wizard.problem.text().startswith("This is not a model package the device can read: ")
    assert not wizard.deploy_button.isEnabled()
    wizard.set_file(tmp_path / "missing.onnx")
    assert wizard.problem.text().endswith("is not a file: pick a package or an ONNX model.")
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    wizard.set_file(other)
    assert wizard.problem.text() == "notes.txt is neither a .tar.gz package nor an .onnx model."
    assert not wizard.deploy_button.isEnabled()


def test_signing_keys_are_offered_and_used(qtbot: QtBot, store: QtModels, local_model: QtSession,
                                           tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys")
    info = keys.new("release")
    local_model.session.request("store.keys.trust", StoreKey(info.public_line, "tests"))
    wizard = DeployWizard(store, tmp_path / "keys")
    qtbot.addWidget(wizard)
    wizard.show()
    assert [wizard.key_combo.itemText(i) for i in range(wizard.key_combo.count())] == ["Unsigned", "release"]
    # The device trusts "release", so it is chosen for the operator: it would refuse an unsigned package.
    qtbot.waitUntil(lambda: wizard.key_combo.currentText() == "release", timeout=20_000)
    wizard.set_file(make_onnx(tmp_path / "detector.onnx", seed=11))
    _confirm(qtbot, wizard)
    assert wizard.final is not None and succeeded(wizard.final), wizard.refusal
    newest = device_versions(local_model.session).versions[0]
    assert (newest.version, newest.signer) == ("1.1.1", info.key_id)


def test_a_key_the_device_does_not_trust_is_offered_but_not_chosen(
        qtbot: QtBot, store: QtModels, tmp_path: Path) -> None:
    KeyStore(tmp_path / "keys").new("laptop")
    answers: list[list[str]] = []
    store.trustedKeys.connect(answers.append)  # before the wizard asks: its answer is not missed
    wizard = DeployWizard(store, tmp_path / "keys")
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitUntil(lambda: bool(answers), timeout=20_000)
    assert answers == [[]]
    assert [wizard.key_combo.itemText(i) for i in range(wizard.key_combo.count())] == ["Unsigned", "laptop"]
    assert wizard.key_combo.currentText() == "Unsigned"


def test_a_stopped_upload_resumes_where_it_stopped(qtbot: QtBot, wizard: DeployWizard, local_model: QtSession,
                                                   ui_env: ConsoleEnv, tmp_path: Path) -> None:
    wizard.set_file(make_onnx(tmp_path / "detector.onnx", seed=3, padding_bytes=3 * STORE_UPLOAD_CHUNK))
    stopped: list[int] = []

    def stop_after_the_first_chunk(tag: str, done: int, _total: int) -> None:
        if not stopped:  # runs on the worker, as the Stop button's event would, before the next chunk
            stopped.append(done)
            wizard.models.cancel_upload(tag)

    wizard.models.uploadProgress.connect(stop_after_the_first_chunk, Qt.ConnectionType.DirectConnection)
    _confirm(qtbot, wizard)
    assert wizard.refusal is not None and wizard.refusal.what == "The upload was stopped; nothing was deployed."
    assert wizard.resume_button.isVisibleTo(wizard) and wizard.close_button.isEnabled()
    incoming = ui_env.local_root / "incoming"
    assert [p.stat().st_size for p in incoming.glob("*.part")] == [STORE_UPLOAD_CHUNK] == stopped
    assert device_versions(local_model.session).active == "1.1.0"

    wizard.resume_button.click()
    assert not wizard.resume_button.isVisibleTo(wizard) and wizard.running
    qtbot.waitUntil(lambda: wizard.final is not None or wizard.refusal is not None, timeout=60_000)
    assert wizard.final is not None and succeeded(wizard.final), wizard.refusal
    assert wizard.resumed_from == STORE_UPLOAD_CHUNK
    assert wizard.upload_label.text().endswith("(resumed at %.1f KB)" % (STORE_UPLOAD_CHUNK / 1000))
    assert device_versions(local_model.session).active == "1.1.1"
    assert not list(incoming.glob("*.part"))


def _broken_onnx(path: Path) -> Path:
    """A model ONNX Runtime refuses to load: its MatMul reads a weight that is not there."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("MatMul", ["x", "W_missing"], ["y"])], "broken",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_a_model_that_does_not_load_fails_and_the_active_version_stays(
        qtbot: QtBot, wizard: DeployWizard, local_model: QtSession, tmp_path: Path) -> None:
    wizard.set_file(_broken_onnx(tmp_path / "detector.onnx"))
    _confirm(qtbot, wizard)
    assert wizard.final is not None and not succeeded(wizard.final)
    assert wizard.refusal is not None
    assert wizard.refusal.what == "The model could not be loaded or failed its warm-up inference on the device."
    assert "the model does not load" in wizard.refusal.details
    versions = device_versions(local_model.session)
    assert versions.active == "1.1.0" and versions.versions[0].status == ["failed"]

    def shown_as_failed() -> bool:
        entry = wizard.models.tracker.entry("detector")
        return entry is not None and entry.versions.versions[0].status == ["failed"]

    qtbot.waitUntil(shown_as_failed, timeout=10_000)  # the page's mirror hears of it too


def test_a_held_swap_lock_is_named_and_the_stored_version_can_be_activated_past_it(
        qtbot: QtBot, wizard: DeployWizard, local_model: QtSession, ui_env: ConsoleEnv, tmp_path: Path) -> None:
    wizard.set_file(make_onnx(tmp_path / "detector.onnx", seed=21))
    with robot_holds_the_swap_lock(ui_env, "docking"):
        _confirm(qtbot, wizard)
        assert wizard.refusal is not None and wizard.final is not None
        assert wizard.refusal.what == "The robot is holding the swap lock (it must not be disturbed right now)."
        assert any("holds the swap inhibit lock (docking)" in line for line in wizard.stage_list.text().splitlines())
        assert device_versions(local_model.session).active == "1.1.0"
        assert wizard.override_button.isVisibleTo(wizard)
        wizard.override_button.click()
        qtbot.waitUntil(lambda: wizard.final is not None or wizard.refusal is not None, timeout=60_000)
    assert wizard.final is not None and succeeded(wizard.final), wizard.refusal
    assert device_versions(local_model.session).active == "1.1.1"
    last = device_history(local_model.session).entries[-1]
    assert (last.action, last.result) == ("activate", "committed") and "override:" in last.detail


def test_warm_up_sizes_for_a_dynamic_model_are_asked_for_and_recorded(qtbot: QtBot, wizard: DeployWizard,
                                                                      local_model: QtSession) -> None:
    from tests.zoo import BY_NAME

    wizard.set_file(BY_NAME["rapidocr-cls-v2"].path())
    wizard.shape_edit.setText("x:1xQ")
    assert wizard.problem.text() == ("Warm-up sizes: size 'x:1xQ': 'q' is not a positive whole number; dimensions "
                                     "are joined by 'x', e.g. image:1x3x320x320.")
    assert not wizard.deploy_button.isEnabled()
    wizard.shape_edit.setText("")
    assert wizard.deploy_button.isEnabled()
    _confirm(qtbot, wizard)  # no sizes: refused on the laptop, before anything reaches the device
    assert wizard.refusal is not None
    assert "was refused here: the warm-up cannot choose sizes" in wizard.refusal.what
    assert "input 'x' ?x3x?x?" in wizard.refusal.what and "--shape x:1x3xNxN" in wizard.refusal.what
    assert wizard.refusal.todo.startswith("Nothing was sent to This computer")
    name = wizard.name_edit.text()
    assert device_versions(local_model.session, name).versions == []

    wizard.close()
    again = DeployWizard(wizard.models)
    qtbot.addWidget(again)
    again.show()
    again.set_file(BY_NAME["rapidocr-cls-v2"].path())
    again.shape_edit.setText("x:1x3x48x192")
    assert again.deploy_button.isEnabled(), again.problem.text()
    _confirm(qtbot, again)
    assert again.final is not None and succeeded(again.final), again.refusal
    assert device_versions(local_model.session, name).active == "1.0.0"
