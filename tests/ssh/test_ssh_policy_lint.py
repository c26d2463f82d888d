"""The CI check that forbids blind host key policies and agent forwarding, run on planted trees."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "installers" / "dev" / "check_ssh_policy.py"
GOOD_PIN = '[project]\ndependencies = ["paramiko>=3.4.0"]\n'


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(root)], capture_output=True, text=True, timeout=60,
                          check=False)


def test_the_repository_passes() -> None:
    result = _check(SCRIPT.parents[2])
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("line", [
    "client.set_missing_host_key_policy(paramiko." + "AutoAdd" + "Policy())",
    "from paramiko import " + "Warning" + "Policy",
    "channel.request_forward" + "_agent(handler)",
])
def test_a_planted_use_fails_naming_file_and_line(short_tmp: Path, line: str) -> None:
    (short_tmp / "pyproject.toml").write_text(GOOD_PIN)
    pkg = short_tmp / "pkg"
    pkg.mkdir()
    (pkg / "ok.py").write_text("import paramiko\n")
    (pkg / "bad.py").write_text("import paramiko\n\n%s\n" % line)
    result = _check(short_tmp)
    assert result.returncode == 1
    assert "pkg/bad.py:3:" in result.stdout and "ok.py" not in result.stdout


def test_virtualenvs_are_not_scanned(short_tmp: Path) -> None:
    (short_tmp / "pyproject.toml").write_text(GOOD_PIN)
    site = short_tmp / ".venv" / "lib" / "paramiko"
    site.mkdir(parents=True)
    (site / "client.py").write_text("class " + "AutoAdd" + "Policy: ...\n")
    assert _check(short_tmp).returncode == 0


@pytest.mark.parametrize(("pin", "ok"), [
    ('"paramiko>=3.4.0"', True), ('"paramiko>=3.4"', True), ('"paramiko>=4"', True),
    ('"paramiko>=3.3.1"', False), ('"paramiko<4"', False), ('"paramiko"', False),
])
def test_paramiko_must_be_pinned_to_the_terrapin_fix(short_tmp: Path, pin: str, ok: bool) -> None:
    (short_tmp / "pyproject.toml").write_text("[project]\ndependencies = [%s]\n" % pin)
    result = _check(short_tmp)
    assert (result.returncode == 0) is ok, result.stdout
    if not ok:
        assert "Terrapin" in result.stdout
