"""edgectl against a real sshd: device names of every kind, devices add/remove/trust, host key prompts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from console.cli.main import ExitCode
from tests.support.ssh import RUNTIME, SshWorld
from tests.support.ssh_flows import Terminal, _destination, _plant_other_key, _run, _use_client_key


def test_status_by_user_at_host_port(ssh_world: SshWorld) -> None:
    _use_client_key(ssh_world)
    ssh_world.trust(ssh_world.servers[0])
    code, out, err = _run(ssh_world.env, "--device", _destination(ssh_world), "status", "--json")
    assert code == ExitCode.OK, err
    report = json.loads(out)
    assert report["device"] == _destination(ssh_world) and report["runtime_version"]


def test_unknown_host_key_without_a_terminal_is_refused_with_instructions(ssh_world: SshWorld) -> None:
    _use_client_key(ssh_world)
    server, dest = ssh_world.servers[0], _destination(ssh_world)
    code, _, err = _run(ssh_world.env, "--device", dest, "status")
    assert code == ExitCode.UNREACHABLE
    assert server.host_fingerprint in err and "ssh-ed25519" in err
    assert "edgectl devices trust %s --fingerprint %s" % (dest, server.host_fingerprint) in err
    assert not ssh_world.env.known_hosts_path.exists()

    code, _, err = _run(ssh_world.env, "devices", "trust", dest, "--fingerprint", "SHA256:not-this-one")
    assert code == ExitCode.UNREACHABLE and "not a fingerprint you gave" in err
    code, out, err = _run(ssh_world.env, "devices", "trust", dest, "--fingerprint", server.host_fingerprint)
    assert code == ExitCode.OK, err
    assert "trusted [127.0.0.1]:%d ssh-ed25519 %s" % (server.port, server.host_fingerprint) in out
    code, out, err = _run(ssh_world.env, "--device", dest, "status")
    assert code == ExitCode.OK, err


def test_unknown_host_key_on_a_terminal_is_asked(ssh_world: SshWorld) -> None:
    _use_client_key(ssh_world)
    server, dest = ssh_world.servers[0], _destination(ssh_world)
    code, _, err = _run(ssh_world.env, "--device", dest, "status", stdin=Terminal("n\n"))
    assert code == ExitCode.UNREACHABLE and "Trust it and connect? [y/N]" in err
    code, out, err = _run(ssh_world.env, "--device", dest, "status", stdin=Terminal("y\n"))
    assert code == ExitCode.OK, err
    assert server.host_fingerprint in err and "runtime" in out
    assert server.host_fingerprint not in _run(ssh_world.env, "--device", dest, "status")[2]


def test_devices_add_list_status_remove(ssh_world: SshWorld) -> None:
    server = ssh_world.servers[0]
    ssh_world.trust(server)
    env = ssh_world.env
    code, out, err = _run(env, "devices", "add", "robot-07", "--host", "127.0.0.1", "--port", str(server.port),
                          "--user", env.local_user, "--key", str(ssh_world.client_key), "--runtime", RUNTIME,
                          "--label", "Robot 07")
    assert code == ExitCode.OK, err
    assert "edgectl --device robot-07 status" in out
    code, out, _ = _run(env, "devices")
    assert "robot-07" in out and "%s@127.0.0.1:%d" % (env.local_user, server.port) in out
    code, out, err = _run(env, "--device", "robot-07", "status")
    assert code == ExitCode.OK, err
    assert "device            robot-07 (%s@127.0.0.1:%d)" % (env.local_user, server.port) in out
    code, out, _ = _run(env, "devices", "remove", "robot-07")
    assert code == ExitCode.OK and "removed robot-07" in out
    code, _, err = _run(env, "--device", "robot-07", "status")
    assert code == ExitCode.UNKNOWN_DEVICE and "user@host[:port]" in err


def test_devices_add_refuses_bad_input_and_saves_nothing(ssh_world: SshWorld) -> None:
    env = ssh_world.env
    cases = [
        (["local", "--host", "h"], "not a usable device name"),
        (["bad name", "--host", "h"], "not a usable device name"),
        (["r1", "--host", "h", "--port", "70000"], "port 70000 is out of range"),
        (["r1", "--host", "h", "--key", "/no/such/key"], "key file /no/such/key does not exist"),
        (["r1", "--host", "two words"], "is not a host name"),
    ]
    for argv, message in cases:
        code, _, err = _run(env, "devices", "add", *argv)
        assert code == ExitCode.USAGE and message in err, (argv, err)
    assert not env.settings_path.exists()
    assert _run(env, "devices", "add", "r1", "--host", "h")[0] == ExitCode.OK
    code, _, err = _run(env, "devices", "add", "r1", "--host", "other")
    assert code == ExitCode.USAGE and "already exists" in err


def test_ssh_config_alias_is_a_device_name(ssh_world: SshWorld) -> None:
    server = ssh_world.servers[0]
    ssh_world.trust(server)
    ssh_world.write_ssh_config("Host robo\n  HostName 127.0.0.1\n  Port %d\n  IdentityFile %s\n"
                               % (server.port, ssh_world.client_key))
    code, out, err = _run(ssh_world.env, "--device", "robo", "status")
    assert code == ExitCode.OK, err
    assert "127.0.0.1:%d" % server.port in out


def test_trust_replace_after_a_reinstall(ssh_world: SshWorld, short_tmp: Path) -> None:
    _use_client_key(ssh_world)
    server, dest = ssh_world.servers[0], _destination(ssh_world)
    old = _plant_other_key(ssh_world.env.known_hosts_path, server, short_tmp)
    code, _, err = _run(ssh_world.env, "--device", dest, "status")
    assert code == ExitCode.UNREACHABLE and old in err and server.host_fingerprint in err
    code, out, err = _run(ssh_world.env, "devices", "trust", dest, "--replace", "--fingerprint",
                          server.host_fingerprint)
    assert code == ExitCode.OK, err
    assert "forgot 1 saved key" in out and server.host_fingerprint in out
    listed = subprocess.run(["ssh-keygen", "-lf", str(ssh_world.env.known_hosts_path)], capture_output=True,
                            text=True, check=True, timeout=30).stdout
    assert server.host_fingerprint in listed and old not in listed
