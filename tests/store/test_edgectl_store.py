"""edgectl package / keys / deploy / rollback / versions / history / pin end to end on a real local daemon."""

from __future__ import annotations

import io
import json
import os
import pwd
import socket
from pathlib import Path

from console.cli.main import ExitCode, main
from console.core.env import ConsoleEnv
from tests.support.store import make_onnx, read_members, write_members


def _run(env: ConsoleEnv, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env.stdout, env.stderr = out, err
    code = main(list(argv), env)
    return code, out.getvalue(), err.getvalue()


def test_deploy_rollback_versions_history_on_the_local_device(console_env: ConsoleEnv, tmp_path: Path) -> None:
    model = make_onnx(tmp_path / "Front Camera.onnx")
    code, out, err = _run(console_env, "deploy", str(model))
    assert code == ExitCode.OK, err
    assert "packaged Front Camera.onnx as front-camera 1.0.0" in out and "front-camera 1.0.0 is active" in out
    assert "loading front-camera 1.0.0 and running a warm-up inference" in out
    code, out, err = _run(console_env, "deploy", str(model), "--name", "front-camera", "--why", "retrained")
    assert code == ExitCode.OK, err
    assert "front-camera 1.0.1 is active and committed" in out

    code, out, _ = _run(console_env, "versions", "front-camera", "--json")
    versions = json.loads(out)
    assert versions["active"] == "1.0.1" and versions["previous"] == "1.0.0"
    assert [v["version"] for v in versions["versions"]] == ["1.0.1", "1.0.0"]
    assert versions["versions"][0]["status"] == ["active"] and versions["versions"][0]["signer"] is None

    code, out, err = _run(console_env, "rollback", "front-camera", "--why", "false positives")
    assert code == ExitCode.OK, err
    assert "front-camera 1.0.0 is active and committed" in out
    code, out, _ = _run(console_env, "versions", "front-camera")
    assert "1.0.0          active" in out and "1.0.1          previous" in out

    code, out, _ = _run(console_env, "history", "front-camera", "--json")
    entries = json.loads(out)["entries"]
    final = [(e["action"], e["result"], e["from_version"], e["to_version"]) for e in entries
             if e["result"] in ("committed", "rolled_back")]
    assert final == [("deploy", "committed", None, "1.0.0"), ("deploy", "committed", "1.0.0", "1.0.1"),
                     ("rollback", "committed", "1.0.1", "1.0.0")]
    assert entries[-1]["why"] == "false positives" and entries[-1]["detail"].startswith("load check skipped")
    # Who did it, even where the shell sets neither USER nor LOGNAME (a service, cron, sudo -i)
    assert "USER" not in console_env.environ and "LOGNAME" not in console_env.environ
    who = "%s@%s" % (pwd.getpwuid(os.getuid()).pw_name, socket.gethostname())
    assert {e["who"] for e in entries} == {who}
    code, out, _ = _run(console_env, "history", "front-camera")
    assert "rollback  committed    1.0.1 -> 1.0.0" in out

    assert _run(console_env, "pin", "front-camera", "1.0.1")[0] == ExitCode.OK
    code, out, _ = _run(console_env, "versions", "front-camera", "--json")
    assert json.loads(out)["versions"][0]["status"] == ["previous", "pinned"]
    assert _run(console_env, "unpin", "front-camera", "1.0.1")[0] == ExitCode.OK


def test_signed_packages_keys_and_refusals(console_env: ConsoleEnv, tmp_path: Path) -> None:
    model = make_onnx(tmp_path / "det.onnx")
    code, out, _ = _run(console_env, "keys", "new", "release")
    assert code == ExitCode.OK and "made key release" in out
    key_file = console_env.config_dir / "keys" / "release.key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    code, public, _ = _run(console_env, "keys", "export", "release")
    assert public.startswith("ed25519 ")
    package = tmp_path / "det-2.0.0.tar.gz"
    code, out, err = _run(console_env, "package", "build", str(model), "--name", "detector", "--version", "2.0.0",
                          "--key", "release", "-o", str(package))
    assert code == ExitCode.OK, err
    code, out, _ = _run(console_env, "package", "inspect", str(package), "--json")
    report = json.loads(out)
    assert report["verified"] and report["manifest"]["inputs"][0]["shape"] == ["batch", 8]

    # The device does not trust the key yet: refused, store untouched.
    code, _, err = _run(console_env, "deploy", str(package))
    assert code == ExitCode.ERROR and "does not trust" in err and "keys trust" in err
    code, out, _ = _run(console_env, "keys", "trust", str(console_env.config_dir / "keys" / "release.pub"))
    assert code == ExitCode.OK and "now trusts key" in out
    code, out, err = _run(console_env, "deploy", str(package))
    assert code == ExitCode.OK, err
    assert "signature by key" in out and "detector 2.0.0 is active" in out

    members = read_members(package)
    info, data = members[2]
    members[2] = (info, data[:-1] + bytes([data[-1] ^ 1]))
    tampered = write_members(tmp_path / "tampered.tar.gz", members)
    code, out, _ = _run(console_env, "package", "inspect", str(tampered))
    assert code == ExitCode.ERROR and "sha256" in out
    (tmp_path / "x").mkdir()
    code, _, err = _run(console_env, "deploy", str(tampered))
    assert code == ExitCode.ERROR and "sha256" in err
    code, out, _ = _run(console_env, "versions", "detector", "--json")
    assert [v["version"] for v in json.loads(out)["versions"]] == ["2.0.0"]

    code, _, err = _run(console_env, "rollback", "detector")
    assert code == ExitCode.ERROR and "no previous version" in err
    code, _, err = _run(console_env, "rollback", "nothing-here", "--to", "1.0.0")
    assert code == ExitCode.ERROR and "not in this device's store" in err
