"""doctor's installation checks on temp trees: broken permissions, sshd settings, GPU nodes."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from device_runtime import install_checks as ic


def test_a_store_open_to_other_users_fails_with_the_fix(tmp_path: Path) -> None:
    root = tmp_path / "state"
    root.mkdir(mode=0o750)
    os.chmod(root, 0o750)
    assert ic.check_state_dir(str(root)).status == ic.OK
    os.chmod(root, 0o777)
    check = ic.check_state_dir(str(root))
    assert check.status == ic.FAIL
    assert "other users can access it (mode 0777)" in check.message
    assert "chmod 0750 %s" % root in check.fix
    assert ic.check_state_dir(str(tmp_path / "missing")).status == ic.WARN


def test_a_world_open_socket_fails(short_tmp: Path) -> None:
    path = short_tmp / "rt.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    try:
        os.chmod(path, 0o660)
        assert ic.check_socket(str(path)).status == ic.OK
        os.chmod(path, 0o666)
        check = ic.check_socket(str(path))
        assert check.status == ic.FAIL and "0666" in check.message and "chmod 0660" in check.fix
    finally:
        sock.close()
    plain = short_tmp / "plain"
    plain.write_text("")
    assert ic.check_socket(str(plain)).status == ic.FAIL
    assert ic.check_socket(str(short_tmp / "none")).status == ic.WARN


def _sshd(tmp_path: Path, main: str, extra: str | None = None) -> str:
    ssh = tmp_path / "etc" / "ssh"
    (ssh / "sshd_config.d").mkdir(parents=True)
    (ssh / "sshd_config").write_text(main)
    if extra is not None:
        (ssh / "sshd_config.d" / "50-robot.conf").write_text(extra)
    return str(tmp_path / "etc")


def test_ssh_hardening_is_read_from_sshd_config_and_its_includes(tmp_path: Path) -> None:
    etc = _sshd(
        tmp_path,
        "Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication yes\nPermitRootLogin yes\n"
        "Match User guest\n  PasswordAuthentication yes\n",
        "PasswordAuthentication no\nAllowGroups robot-operators\n",
    )
    checks = {c.name: c for c in ic.check_ssh(etc)}
    # The included file comes first, and sshd keeps the first value it reads.
    assert checks["ssh-password"].status == ic.OK
    assert checks["ssh-root"].status == ic.FAIL and "PermitRootLogin no" in checks["ssh-root"].fix
    assert checks["ssh-users"].status == ic.OK and "groups robot-operators" in checks["ssh-users"].message


def test_ssh_defaults_warn_about_passwords_and_open_logins(tmp_path: Path) -> None:
    checks = {c.name: c for c in ic.check_ssh(_sshd(tmp_path, "# stock file\n"))}
    assert checks["ssh-password"].status == ic.WARN
    assert checks["ssh-root"].status == ic.OK  # OpenSSH's default is prohibit-password
    assert checks["ssh-users"].status == ic.WARN and "AllowUsers" in checks["ssh-users"].fix


def test_gpu_nodes_and_tensorrt(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    dev.mkdir()
    assert ic.check_gpu(str(dev)).status == ic.WARN
    assert ic.check_gpu(str(dev), gpu_count=2).message.startswith("2 NVIDIA GPU")
    node = dev / "nvhost-gpu"
    node.write_text("")
    assert ic.check_gpu(str(dev)).status == ic.OK

    def missing(name: str) -> object:
        raise ImportError(name)

    def broken(name: str) -> object:
        raise OSError("libnvinfer.so.8: cannot open shared object file")

    assert ic.check_tensorrt(missing).status == ic.WARN
    check = ic.check_tensorrt(broken)
    assert check.status == ic.FAIL and "libnvinfer" in check.message


def test_service_state_comes_from_systemctl(tmp_path: Path) -> None:
    def inactive(argv: list[str]) -> subprocess.CompletedProcess[str]:
        assert argv == ["systemctl", "is-active", "edge-runtime.service"]
        return subprocess.CompletedProcess(argv, 3, stdout="failed\n", stderr="")

    assert ic.check_service(inactive, str(tmp_path / "no-systemd")).status == ic.WARN
    check = ic.check_service(inactive, str(tmp_path))
    assert check.status == ic.FAIL and "failed" in check.message and "journalctl" in check.fix


def test_doctor_reports_a_broken_permission_it_was_given(short_tmp: Path) -> None:
    import io
    import json

    from device_runtime.cli import RuntimeEnv, main

    root = short_tmp / "state"
    root.mkdir()
    os.chmod(root, 0o777)
    out, err = io.StringIO(), io.StringIO()
    env = RuntimeEnv(environ={"HOME": str(short_tmp)}, stdout=out, stderr=err)
    code = main(["doctor", "--root", str(root), "--socket", str(short_tmp / "rt.sock")], env)
    assert code == 1
    text = out.getvalue()
    assert "fail state" in text and "other users can access it (mode 0777)" in text
    assert "fix: chown edge-runtime:edge-runtime %s && chmod 0750 %s" % (root, root) in text
    assert "problem(s) to fix" in text

    os.chmod(root, 0o750)
    out = io.StringIO()
    main(["doctor", "--json", "--root", str(root), "--socket", str(short_tmp / "rt.sock")],
         RuntimeEnv(environ={"HOME": str(short_tmp)}, stdout=out, stderr=err))
    install = {c["name"]: c for c in json.loads(out.getvalue())["install"]}
    assert install["state"]["status"] == "ok"
