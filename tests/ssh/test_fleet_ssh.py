"""``edgectl fleet`` over real sshd servers on 127.0.0.1: a robot whose host key nobody confirmed is
named unreachable with the command that trusts it; once trusted, a signed package rolls out to both
over SFTP, each robot verifying it with the key it trusts."""

from __future__ import annotations

import io
import json
from pathlib import Path

from console.cli.main import main
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.models.packages import build_package
from tests.support.ssh import RUNTIME, SshServer, SshWorld
from tests.support.store import SIGN_KEY, make_onnx, public_line


def _run(env: ConsoleEnv, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env.stdout, env.stderr = out, err
    code = main(list(argv), env)
    return code, out.getvalue(), err.getvalue()


def test_fleet_over_ssh(ssh_world: SshWorld, second_server: SshServer, tmp_path: Path) -> None:
    env = ssh_world.env
    first = ssh_world.servers[0]
    ssh_world.trust(first)  # the second robot's key is not confirmed yet
    for name, server in (("robot-a", first), ("robot-b", second_server)):
        code, _, err = _run(env, "devices", "add", name, "--host", server.address, "--port", str(server.port),
                            "--user", env.local_user, "--key", str(ssh_world.client_key), "--runtime", RUNTIME,
                            "--tag", "lab")
        assert code == ExitCode.OK, err

    code, out, err = _run(env, "fleet", "status", "--tag", "lab", "--json")
    assert code == ExitCode.UNREACHABLE, err
    rows = {row["device"]: row for row in json.loads(out)["devices"]}
    assert rows["robot-a"]["status"] == "ok" and rows["robot-a"]["runtime"]
    assert rows["robot-b"]["status"] == "unreachable"
    assert rows["robot-b"]["why"].startswith("the host key of [127.0.0.1]:%d is not known" % second_server.port)
    assert rows["robot-b"]["why"].endswith("edgectl devices trust robot-b --fingerprint %s"
                                           % second_server.host_fingerprint)

    ssh_world.trust(second_server)
    key = tmp_path / "tests.pub"
    key.write_text(public_line() + "\n")
    package = tmp_path / "detector-1.0.0.tar.gz"
    build_package(make_onnx(tmp_path / "m.onnx"), package, "detector", "1.0.0", "tests", key=SIGN_KEY)
    for name in ("robot-a", "robot-b"):
        code, _, err = _run(env, "--device", name, "keys", "trust", str(key))
        assert code == ExitCode.OK, err
    code, out, err = _run(env, "fleet", "deploy", str(package), "--tag", "lab", "--canary", "1", "--json")
    assert code == ExitCode.OK, err
    record = json.loads(out)
    assert record["plan"]["planned"] == [["robot-a"], ["robot-b"]]
    assert {d: (p["phase"], p["status"], p["detail"]["result"]) for d, p in record["final"].items()} == {
        "robot-a": ("activate", "ok", "committed"), "robot-b": ("activate", "ok", "committed")}
    code, out, err = _run(env, "fleet", "status", "--tag", "lab", "--json")
    assert code == ExitCode.OK, err
    assert [row["models"] for row in json.loads(out)["devices"]] == [{"detector": "1.0.0"}] * 2
