"""The GUI side of SSH devices, against a real sshd: Add device, host key and secret dialogs, reconnect."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from console.core.app import ConsoleCore
from console.core.devices.session import State
from console.ui.devices.add_device_dialog import AddDeviceDialog
from console.ui.devices.hostkey_dialog import ChangedHostKeyDialog, DialogPrompts, UnknownHostKeyDialog
from console.ui.devices.secret_dialog import SecretDialog
from console.ui.main_window import MainWindow
from console.ui.theme import Theme, apply_theme
from tests.support.ssh import RUNTIME, SshWorld
from tests.support.ssh_flows import _plant_other_key
from tests.support.ssh_gui import Answerer

pytestmark = pytest.mark.gui


@pytest.fixture
def theme(qapp: QApplication) -> Theme:
    return apply_theme(qapp, "light")


@pytest.fixture
def gui_core(ssh_world: SshWorld) -> Iterator[ConsoleCore]:
    core = ConsoleCore(ssh_world.env)
    core.registry.add(ssh_world.entry("robot"))
    yield core
    core.close()


@pytest.fixture
def window(qtbot: QtBot, gui_core: ConsoleCore, theme: Theme) -> Iterator[Callable[[str], MainWindow]]:
    made: list[MainWindow] = []

    def make(device: str) -> MainWindow:
        win = MainWindow(gui_core, theme, device, rate_hz=10.0)
        qtbot.addWidget(win)
        made.append(win)
        return win

    yield make
    for win in made:
        win.shutdown()


def test_unknown_host_key_dialog_then_live_and_reconnecting(qtbot: QtBot, ssh_world: SshWorld,
                                                             window: Callable[[str], MainWindow]) -> None:
    server = ssh_world.servers[0]
    trust = Answerer(UnknownHostKeyDialog, lambda d: d.trust_button.click())
    win = window("robot")
    qtbot.waitUntil(lambda: bool(trust.seen), timeout=15000)
    dialog = trust.seen[0]
    assert dialog.fingerprint.text() == server.host_fingerprint
    model = win.models["robot"]
    qtbot.waitUntil(lambda: model.state is State.CONNECTED and model.store is not None
                    and model.store.received > 2, timeout=20000)
    assert "[127.0.0.1]:%d" % server.port in ssh_world.env.known_hosts_path.read_text()
    assert "robot · connected · runtime" in win.status_label.text()

    server.kill_sessions()
    qtbot.waitUntil(lambda: "reconnecting" in win.sidebar.state_text("robot"), timeout=10000)
    received = model.store.received
    qtbot.waitUntil(lambda: model.state is State.CONNECTED and model.store is not None
                    and model.store.received > received + 2, timeout=20000)
    assert "connected" in win.sidebar.state_text("robot")


def test_cancelled_host_key_leaves_the_device_unreachable(qtbot: QtBot, ssh_world: SshWorld,
                                                          window: Callable[[str], MainWindow]) -> None:
    cancel = Answerer(UnknownHostKeyDialog, lambda d: d.cancel_button.click())
    win = window("robot")
    model = win.models["robot"]
    qtbot.waitUntil(lambda: model.state is State.FAILED, timeout=15000)
    assert cancel.seen and "is not known" in model.message
    assert not ssh_world.env.known_hosts_path.exists()


def test_changed_host_key_dialog_names_both_fingerprints(qtbot: QtBot, ssh_world: SshWorld, short_tmp: Path,
                                                         window: Callable[[str], MainWindow]) -> None:
    server = ssh_world.servers[0]
    old = _plant_other_key(ssh_world.env.known_hosts_path, server, short_tmp)
    close = Answerer(ChangedHostKeyDialog, lambda d: d.reject())
    win = window("robot")
    model = win.models["robot"]
    qtbot.waitUntil(lambda: model.state is State.FAILED, timeout=15000)
    dialog = close.seen[0]
    texts = " ".join(label.text() for label in dialog.findChildren(type(dialog.advice)))
    assert old in texts and server.host_fingerprint in texts and "do not connect" in texts
    qtbot.waitUntil(lambda: "changed" in win.status_label.text(), timeout=5000)


def test_add_device_dialog_checks_then_adds(qtbot: QtBot, ssh_world: SshWorld, gui_core: ConsoleCore,
                                           window: Callable[[str], MainWindow]) -> None:
    ssh_world.trust(ssh_world.servers[0])
    win = window("robot")

    def fill_bad(dialog: AddDeviceDialog) -> None:
        dialog.name.setText("robot")  # taken
        dialog.host.setText("two words")
        dialog.key.setText("/no/such/key")
        dialog.submit()
        errors = dialog.error.text()
        assert "already exists" in errors and "not a host name" in errors and "/no/such/key" in errors
        dialog.name.setText("robot-12")
        dialog.host.setText("127.0.0.1")
        dialog.port.setValue(ssh_world.servers[0].port)
        dialog.user.setText(ssh_world.env.local_user)
        dialog.key.setText(str(ssh_world.client_key))
        dialog.runtime.setText(RUNTIME)
        dialog.submit()

    add = Answerer(AddDeviceDialog, fill_bad)
    win.sidebar.add_button.click()
    assert add.seen
    assert gui_core.registry.is_registered("robot-12")
    assert win.current == "robot-12"
    model = win.models["robot-12"]
    qtbot.waitUntil(lambda: model.state is State.CONNECTED, timeout=20000)


@pytest.mark.parametrize(("action", "expected"), [("accept", "s3cret"), ("cancel", None)])
def test_secret_dialog_answers_a_worker_thread(qtbot: QtBot, action: str, expected: str | None) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    prompts = DialogPrompts(parent)

    def answer(dialog: SecretDialog) -> None:
        assert "Passphrase for the private key /k/id" in dialog.prompt.text()
        dialog.secret.setText("s3cret")
        (dialog.accept if action == "accept" else dialog.reject)()

    answerer = Answerer(SecretDialog, answer)
    result: list[str | None] = []
    worker = threading.Thread(target=lambda: result.append(prompts.passphrase("/k/id", False)))
    worker.start()
    qtbot.waitUntil(lambda: bool(result), timeout=10000)
    worker.join(timeout=5)
    assert result == [expected] and len(answerer.seen) == 1


def test_a_device_is_edited_and_removed_from_the_sidebar(qtbot: QtBot, ssh_world: SshWorld,
                                                         gui_core: ConsoleCore, theme: Theme) -> None:
    server = ssh_world.servers[0]
    ssh_world.trust(server)
    gui_core.registry.replace(ssh_world.entry("robot", port=1, tags=["lab-a"]))  # a wrong port: unreachable
    win = MainWindow(gui_core, theme, "robot", rate_hz=10.0, first_launch=False)
    qtbot.addWidget(win)
    win.show()
    model = win.model()
    assert model is not None
    qtbot.waitUntil(lambda: model.state in (State.RECONNECTING, State.FAILED), timeout=20_000)
    assert win.sidebar.edit_button.isEnabled() and win.sidebar.remove_button.isEnabled()
    win.sidebar.edit_button.click()
    dialog = win.findChild(AddDeviceDialog)
    assert dialog is not None and dialog.windowTitle() == "Edit robot" and dialog.name.isReadOnly()
    assert dialog.port.value() == 1
    dialog.port.setValue(server.port)
    dialog.submit()
    assert gui_core.registry.get("robot").port == server.port
    assert gui_core.registry.get("robot").tags == ["lab-a"]  # what the form does not show stays
    fresh = win.model()
    assert fresh is not None and fresh is not model
    qtbot.waitUntil(lambda: fresh.state is State.CONNECTED, timeout=20_000)  # reconnected with the saved entry
    asked: list[str] = []
    win.confirm = lambda title, text: asked.append(text) or True  # type: ignore[method-assign]
    win.sidebar.remove_button.click()
    assert asked == ["Remove robot from this console? Nothing changes on the device; its pages close and you "
                     "can add it again."]
    assert not gui_core.registry.is_registered("robot") and win.current == "local"
    assert "robot" not in win.models and win.sidebar.list.count() == 1
    assert not win.sidebar.edit_button.isEnabled()  # the built-in device is neither edited nor removed
    win.shutdown()
