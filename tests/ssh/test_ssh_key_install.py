"""After a password login the console offers to install the user's public key; accepted, the next
login needs no password. Real sshd reading the account's own ``~/.ssh/authorized_keys``, a throwaway
account with a password and a home (making it needs root; CI runs as root), the transport's own
prompts, ``edgectl devices authorize-key`` and the GUI's offer dialog."""

from __future__ import annotations

import io
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from console.cli.cmd_devices import TerminalPrompts
from console.core.devices.session import make_transport
from console.transport.ssh import SshTransport
from console.transport.ssh_config import Hop
from console.transport.ssh_keys import (
    KeyInstallError,
    KeyOffer,
    _key_id,
    new_key_offer,
    parse_public_key,
    save_new_key,
)
from console.transport.ssh_prompts import SshPrompts
from console.ui.devices.hostkey_dialog import DialogPrompts
from console.ui.devices.key_install_dialog import KeyInstallDialog, install_outcome
from console.ui.devices.secret_dialog import SecretDialog
from tests.support.ssh import SshServer, SshWorld, fingerprint, keygen
from tests.support.ssh_flows import Answers, Terminal, _run
from tests.support.ssh_gui import Answerer


@dataclass
class Account:
    name: str
    password: str
    home: Path

    @property
    def uid(self) -> int:
        return pwd.getpwnam(self.name).pw_uid

    @property
    def authorized_keys(self) -> Path:
        return self.home / ".ssh" / "authorized_keys"


@pytest.fixture
def account() -> Iterator[Account]:
    """A login with a password and an empty home of its own, deleted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("making a throwaway account for password login needs root")
    base = Path(tempfile.mkdtemp(prefix="eoc-homes-"))
    base.chmod(0o755)  # the account must reach its home
    name = "eoc%s" % secrets.token_hex(4)
    password = secrets.token_urlsafe(12)
    subprocess.run(["useradd", "-m", "-d", str(base / name), "-s", "/bin/sh", name], check=True,
                   capture_output=True, timeout=30)
    try:
        subprocess.run(["chpasswd"], input="%s:%s\n" % (name, password), text=True, check=True,
                       capture_output=True, timeout=30)
        yield Account(name, password, base / name)
    finally:
        uid = pwd.getpwnam(name).pw_uid
        # The closed logins' sshd processes end on their own, shortly: wait for them to exit.
        leftovers = [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid]
        psutil.wait_procs(leftovers, timeout=15)
        subprocess.run(["userdel", "-f", name], check=True, capture_output=True, timeout=30)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def keyed_server(ssh_world: SshWorld, short_tmp: Path) -> SshServer:
    """An sshd that reads each account's own authorized_keys, as a robot's does."""
    server = SshServer(short_tmp / "sshd-home")
    server.extra = ["AuthorizedKeysFile .ssh/authorized_keys"]
    server.start()
    ssh_world.servers.append(server)
    ssh_world.trust(server)
    return server


@pytest.fixture
def user_key(ssh_world: SshWorld) -> Path:
    """The user's own ~/.ssh/id_ed25519, which no device knows yet."""
    return keygen(ssh_world.ssh_dir / "id_ed25519")


class KeyAnswers(Answers):
    def __init__(self, passwords: list[str | None], offer: bool) -> None:
        super().__init__(passwords=passwords)
        self.offer = offer
        self.outcomes: list[tuple[bool, str | None]] = []

    def offer_key_install(self, offer: KeyOffer) -> bool:
        self.asked.append(("offer", offer.key.fingerprint, offer.key.source, offer.where))
        return self.offer

    def key_install_done(self, offer: KeyOffer, added: bool, error: str | None) -> None:
        self.outcomes.append((added, error))

    def no_key_offer(self, hop: Hop, reason: str) -> None:
        self.asked.append(("no offer", reason))


def _login(world: SshWorld, server: SshServer, account: Account, prompts: SshPrompts) -> str:
    world.env.ssh_prompts = prompts
    transport = make_transport(world.entry(server=server, user=account.name, key=None), world.env)
    assert isinstance(transport, SshTransport)
    try:
        return transport.connection().run("id -un").stdout.decode().strip()
    finally:
        transport.close()


def test_declined_then_accepted_offer_and_the_next_login_needs_no_password(
        ssh_world: SshWorld, keyed_server: SshServer, account: Account, user_key: Path) -> None:
    pub = user_key.with_suffix(".pub")
    declined = KeyAnswers([account.password], offer=False)
    assert _login(ssh_world, keyed_server, account, declined) == account.name
    where = "~/.ssh/authorized_keys of %s on 127.0.0.1" % account.name
    assert declined.asked[-1] == ("offer", fingerprint(pub), str(pub), where)
    assert declined.outcomes == [] and not (account.home / ".ssh").exists()

    accepted = KeyAnswers([account.password], offer=True)
    assert _login(ssh_world, keyed_server, account, accepted) == account.name
    assert accepted.outcomes == [(True, None)]
    assert account.authorized_keys.read_text() == pub.read_text()
    assert (account.home / ".ssh").stat().st_mode & 0o777 == 0o700
    assert account.authorized_keys.stat().st_mode & 0o777 == 0o600
    assert account.authorized_keys.stat().st_uid == account.uid  # written as the account, over its login

    key_only = KeyAnswers([], offer=True)
    assert _login(ssh_world, keyed_server, account, key_only) == account.name
    assert key_only.asked == []  # no password asked, nothing offered
    assert "Accepted publickey for %s" % account.name in keyed_server.read_log()


def test_edgectl_authorize_key_appends_once_and_checks_the_key_login(
        ssh_world: SshWorld, keyed_server: SshServer, account: Account, user_key: Path) -> None:
    other = parse_public_key(Path(str(ssh_world.client_key) + ".pub").read_text(), "other")
    (account.home / ".ssh").mkdir(mode=0o700)
    account.authorized_keys.write_text("%s someone-else" % " ".join([other.key_type, other.blob]))  # no newline
    os.chown(account.home / ".ssh", account.uid, -1)
    os.chown(account.authorized_keys, account.uid, -1)
    dest = "%s@127.0.0.1:%d" % (account.name, keyed_server.port)
    before = account.authorized_keys.read_text()
    line = user_key.with_suffix(".pub").read_text().strip()

    ssh_world.env.ssh_prompts = answers = KeyAnswers([account.password], offer=True)
    code, out, err = _run(ssh_world.env, "devices", "authorize-key", dest)
    assert code == 0, err
    assert "installed ssh-ed25519 %s" % fingerprint(user_key.with_suffix(".pub")) in out
    assert "a login to %s without a password works now" % dest in out
    assert [a[0] for a in answers.asked] == ["password"]  # the command's own login offers nothing more
    assert account.authorized_keys.read_text() == before + "\n" + line + "\n"  # appended, nothing rewritten

    ssh_world.env.ssh_prompts = answers = KeyAnswers([], offer=True)
    code, out, err = _run(ssh_world.env, "devices", "authorize-key", dest)
    assert code == 0, err
    assert out.startswith("already in place: ssh-ed25519") and answers.asked == []
    assert account.authorized_keys.read_text() == before + "\n" + line + "\n"

    code, _, err = _run(ssh_world.env, "devices", "authorize-key", dest, "--key", str(ssh_world.home / "nope.pub"))
    assert code != 0 and "cannot read" in err and "nope.pub" in err


def test_gui_offer_dialog_installs_the_key(qtbot: QtBot, ssh_world: SshWorld, keyed_server: SshServer,
                                          account: Account, user_key: Path) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    prompts = DialogPrompts(parent)

    def type_password(dialog: SecretDialog) -> None:
        dialog.secret.setText(account.password)
        dialog.accept()

    def check_and_install(dialog: KeyInstallDialog) -> None:
        assert dialog.fingerprint.text() == fingerprint(user_key.with_suffix(".pub"))
        assert dialog.where.text() == "~/.ssh/authorized_keys of %s on 127.0.0.1" % account.name
        assert dialog.install_button.isDefault()
        dialog.install_button.click()

    password = Answerer(SecretDialog, type_password)
    offer = Answerer(KeyInstallDialog, check_and_install)
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(_login(ssh_world, keyed_server, account, prompts)))
    worker.start()
    qtbot.waitUntil(lambda: bool(result), timeout=30000)
    worker.join(timeout=5)
    assert result == [account.name] and password.seen and offer.seen
    outcome = prompts.outcome
    assert outcome is not None and "Installed your key" in outcome.text() and "needs no password" in outcome.text()
    outcome.accept()
    assert account.authorized_keys.read_text() == user_key.with_suffix(".pub").read_text()
    assert _login(ssh_world, keyed_server, account, SshPrompts()) == account.name  # refuses every question


def test_public_key_lines_are_checked_and_matched_past_options(ssh_world: SshWorld) -> None:
    key = parse_public_key(Path(str(ssh_world.client_key) + ".pub").read_text(), "k.pub")
    assert key.key_type == "ssh-ed25519" and key.comment == "eoc-test"
    assert key.fingerprint == fingerprint(Path(str(ssh_world.client_key) + ".pub"))
    assert _key_id('from="10.0.0.0/8",no-pty %s' % key.line) == (key.key_type, key.blob)
    assert _key_id("# a comment") is None
    for bad in ("", "ssh-ed25519", "ssh-ed25519 not-base64!", "ssh-ed25519 AAAA"):
        with pytest.raises(KeyInstallError):
            parse_public_key(bad, "bad.pub")


def test_a_laptop_without_a_key_is_offered_a_new_one_made_only_when_accepted(
        ssh_world: SshWorld, keyed_server: SshServer, account: Account) -> None:
    private, pub = ssh_world.ssh_dir / "id_ed25519", ssh_world.ssh_dir / "id_ed25519.pub"
    declined = KeyAnswers([account.password], offer=False)  # ~/.ssh holds no key pair, and there is no agent
    assert _login(ssh_world, keyed_server, account, declined) == account.name
    assert [a[0] for a in declined.asked] == ["password", "offer"] and declined.asked[-1][2] == str(pub)
    assert not private.exists() and not pub.exists() and not (account.home / ".ssh").exists()

    accepted = KeyAnswers([account.password], offer=True)  # the next login (a reconnect) asks again
    assert _login(ssh_world, keyed_server, account, accepted) == account.name
    assert [a[0] for a in accepted.asked] == ["password", "offer"] and accepted.outcomes == [(True, None)]
    assert private.stat().st_mode & 0o777 == 0o600
    assert accepted.asked[-1][1] == fingerprint(pub) and pub.read_text().endswith(" edge-console\n")
    assert account.authorized_keys.read_text() == pub.read_text()

    key_only = KeyAnswers([], offer=True)
    assert _login(ssh_world, keyed_server, account, key_only) == account.name
    assert key_only.asked == []
    assert "Accepted publickey for %s" % account.name in keyed_server.read_log()


def test_a_key_file_without_its_pub_is_never_replaced(
        ssh_world: SshWorld, keyed_server: SshServer, account: Account) -> None:
    private = keygen(ssh_world.ssh_dir / "id_ed25519")
    private.with_suffix(".pub").unlink()
    before = private.read_bytes()
    answers = KeyAnswers([account.password], offer=True)
    assert _login(ssh_world, keyed_server, account, answers) == account.name
    assert [a[0] for a in answers.asked] == ["password", "no offer"] and private.read_bytes() == before
    assert answers.asked[-1][1] == ("your key %s cannot be offered: its public half %s.pub is missing. Make it with "
                                    "ssh-keygen -y -f %s > %s.pub, then connect again to be offered the install"
                                    % (private, private, private, private))
    assert not (account.home / ".ssh").exists()


def test_gui_says_why_no_key_is_offered(qtbot: QtBot, ssh_world: SshWorld, keyed_server: SshServer,
                                        account: Account) -> None:
    keygen(ssh_world.ssh_dir / "id_ed25519").with_suffix(".pub").unlink()
    parent = QWidget()
    qtbot.addWidget(parent)
    prompts = DialogPrompts(parent)

    def type_password(dialog: SecretDialog) -> None:
        dialog.secret.setText(account.password)
        dialog.accept()

    password = Answerer(SecretDialog, type_password)
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(_login(ssh_world, keyed_server, account, prompts)))
    worker.start()
    qtbot.waitUntil(lambda: bool(result), timeout=30000)
    worker.join(timeout=5)
    assert result == [account.name] and password.seen
    outcome = prompts.outcome
    assert outcome is not None and outcome.text().startswith(
        "You logged in to %s@127.0.0.1:%d with a password, and the next login asks for it again: your key "
        % (account.name, keyed_server.port))
    assert "ssh-keygen -y -f" in outcome.text()
    outcome.accept()


def test_gui_offer_of_a_new_key_names_where_it_goes(qtbot: QtBot, ssh_world: SshWorld) -> None:
    hop = Hop("robot-07", "10.0.0.7", 22, "nvidia", identity_files=[str(ssh_world.ssh_dir / "id_ed25519")])
    offer = new_key_offer(hop)
    assert offer is not None and offer.new_private_key is not None
    dialog = KeyInstallDialog(offer)
    qtbot.addWidget(dialog)
    assert dialog.source.text() == "new, saved as %s and %s.pub" % (
        ssh_world.ssh_dir / "id_ed25519", ssh_world.ssh_dir / "id_ed25519")
    assert dialog.fingerprint.text() == offer.key.fingerprint and offer.key.fingerprint.startswith("SHA256:")
    save_new_key(offer)
    assert "Made a new key in %s" % (ssh_world.ssh_dir / "id_ed25519") in install_outcome(offer, True, None)
    with pytest.raises(KeyInstallError, match="appeared meanwhile"):
        save_new_key(offer)


def test_edgectl_asks_on_a_terminal_and_never_without_one(ssh_world: SshWorld) -> None:
    key = parse_public_key(Path(str(ssh_world.client_key) + ".pub").read_text(), "/home/me/.ssh/id_ed25519.pub")
    offer = KeyOffer(Hop("robot-07", "10.0.0.7", 22, "nvidia"), key)
    env = ssh_world.env
    for typed, expected in (("y\n", True), ("\n", False)):
        env.stdin, env.stderr = Terminal(typed), io.StringIO()
        assert TerminalPrompts(env).offer_key_install(offer) is expected
        question = env.stderr.getvalue()
        assert "You logged in to nvidia@10.0.0.7:22 with a password" in question and key.fingerprint in question
        assert "~/.ssh/authorized_keys of nvidia on 10.0.0.7" in question and question.endswith("[y/N] ")
    env.stdin, env.stderr = io.StringIO("y\n"), io.StringIO()  # a script: not a terminal
    assert TerminalPrompts(env).offer_key_install(offer) is False and env.stderr.getvalue() == ""
    env.stderr = io.StringIO()
    TerminalPrompts(env).key_install_done(offer, False, "the device refused SFTP")
    assert env.stderr.getvalue() == "edgectl: the key was not installed: the device refused SFTP\n"


def test_edgectl_says_why_no_key_is_offered(ssh_world: SshWorld, keyed_server: SshServer, account: Account) -> None:
    private = keygen(ssh_world.ssh_dir / "id_ed25519")
    private.with_suffix(".pub").unlink()
    env = ssh_world.env
    env.stderr = io.StringIO()
    prompts = TerminalPrompts(env)
    prompts.password = lambda user, host, retry: account.password  # type: ignore[method-assign]
    assert _login(ssh_world, keyed_server, account, prompts) == account.name
    said = env.stderr.getvalue()
    assert said.startswith("edgectl: you logged in to %s@127.0.0.1:%d with a password; no key install is offered: "
                           % (account.name, keyed_server.port)), said
    assert "ssh-keygen -y -f %s" % private in said
