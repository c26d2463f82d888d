"""The install preflight: read-only facts over a real sshd, judged right for this machine; the verdict
on outputs of real Jetson tools (formats as NVIDIA's L4T, nvcc and nvpmodel print them)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from console import __version__ as console_version
from console.core.install.preflight import FAIL, OK, WARN, parse_facts, verdict
from console.core.install.runtime import InstallError, InstallOptions, RuntimeInstaller
from console.core.settings import DeviceEntry
from tests.support.robots import SYSTEM_PYTHON, Robot, start_robot
from tests.support.ssh import SshWorld


@pytest.fixture
def robot(ssh_world: SshWorld, short_tmp: Path) -> Robot:
    return start_robot(ssh_world, short_tmp)


def _local_python(expr: str) -> str:
    return subprocess.run([SYSTEM_PYTHON, "-c", "import sys; print(%s)" % expr], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_preflight_reports_this_machine(robot: Robot) -> None:
    installer = RuntimeInstaller(robot.world.env, robot.entry())
    try:
        pre = installer.preflight(InstallOptions(force_user=True))
    finally:
        installer.close()
    facts = pre.facts
    assert facts.get("arch") == platform.machine() and pre.check("arch").status == OK
    assert facts.get("python_version") == _local_python("'%d.%d.%d' % sys.version_info[:3]")
    assert pre.check("python").status == OK and SYSTEM_PYTHON in pre.check("python").sentence
    assert pre.check("venv").status == OK  # the installers' tests need python3-venv on this machine too
    assert facts.get("glibc") == os.confstr("CS_GNU_LIBC_VERSION")
    assert facts.get("home") == str(robot.home) and facts.get("user_prefix") == str(robot.data_home / "edge-runtime")
    jetson = Path("/etc/nv_tegra_release").exists()
    assert ("not a Jetson" in pre.check("jetpack").sentence) is not jetson
    nvcc = Path("/usr/local/cuda/bin/nvcc").exists() or Path("/usr/local/cuda/version.json").exists()
    assert pre.check("cuda").status == (OK if nvcc else WARN)
    trt = subprocess.run([SYSTEM_PYTHON, "-c", "import tensorrt"], capture_output=True, check=False).returncode == 0
    assert pre.check("tensorrt").status == (OK if trt else WARN)
    if not trt:
        assert "do not import with %s" % SYSTEM_PYTHON in pre.check("tensorrt").sentence
    assert facts.get("sudo") == ("root" if os.geteuid() == 0 else facts.get("sudo"))
    assert facts.get("systemd") == ("yes" if Path("/run/systemd/system").is_dir() else "no")
    free_mb = shutil.disk_usage(robot.server.root).free // (1 << 20)
    reported = int(facts.get("free_user_kb")) // 1024
    assert abs(reported - free_mb) < max(64, free_mb // 50), (reported, free_mb)
    assert pre.check("runtime").sentence.startswith("none in ")
    assert pre.ok, pre.refusal()
    assert not robot.data_home.exists() and not (robot.home / ".config").exists()  # read only


def test_a_missing_python_fails_the_preflight_and_the_install_refuses(robot: Robot) -> None:
    installer = RuntimeInstaller(robot.world.env, robot.entry(python="/usr/bin/python2.1"))
    try:
        with pytest.raises(InstallError) as caught:
            installer.install(InstallOptions(force_user=True))
    finally:
        installer.close()
    assert caught.value.stage == "preflight"
    assert "not installing on robot" in str(caught.value) and "/usr/bin/python2.1 is not on the device" in str(
        caught.value)
    assert not robot.data_home.exists()


def test_the_local_device_needs_no_install(ssh_world: SshWorld) -> None:
    with pytest.raises(InstallError, match="not an SSH device"):
        RuntimeInstaller(ssh_world.env, DeviceEntry(name="local", kind="local"))


# Lines as the tools print them: /etc/nv_tegra_release of JetPack 6.2 and 4.6, nvcc of CUDA 11.4
# (JetPack 5), nvpmodel -q of an Orin.
ORIN = """arch=aarch64
user=nvidia
uid=1000
home=/home/nvidia
data_home=/home/nvidia/.local/share
user_prefix=/home/nvidia/.local/share/edge-runtime
glibc=glibc 2.35
python_path=/usr/bin/python3
python_version=3.10.12
venv=yes
tensorrt=10.3.0
l4t=# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, DATE: Wed Jan  8 01:49:37 UTC 2025
nvcc=Cuda compilation tools, release 12.6, V12.6.68
power=NV Power Mode: MAXN_SUPER
sudo=no
systemd=yes
user_systemd=yes
free_user_kb=52428800
runtime:/home/nvidia/.local/share/edge-runtime=edge-runtime 0.0.9
"""


def test_verdict_on_an_orin() -> None:
    pre = verdict(parse_facts(ORIN))
    assert pre.ok
    assert pre.check("jetpack").sentence == "L4T R36.4.3 (JetPack 6)"
    assert pre.check("cuda").sentence == "CUDA 12.6"
    assert pre.check("tensorrt").sentence == "TensorRT 10.3.0 imports with python3"
    assert pre.check("power").sentence == "MAXN_SUPER"
    assert pre.check("sudo").status == WARN and "user install" in pre.check("sudo").sentence
    assert pre.check("systemd").status == OK and "user service" in pre.check("systemd").sentence
    runtime = pre.check("runtime")
    assert runtime.status == WARN and "0.0.9" in runtime.sentence and console_version in runtime.sentence
    assert pre.facts.python_minor == "3.10"


@pytest.mark.parametrize(("change", "key", "words"), [
    ({"python_version": "3.6.9", "l4t": "# R32 (release), REVISION: 7.4"}, "python", "needs 3.8 or newer"),
    ({"venv": "no"}, "venv", "install python3-venv"),
    ({"arch": "armv7l"}, "arch", "wheels for x86_64 and aarch64 only"),
    ({"free_user_kb": str(100 * 1024)}, "disk", "100 MB free"),
    ({"glibc": "glibc 2.12"}, "glibc", "older than 2.17"),
])
def test_each_fail_refuses_with_its_reason(change: dict[str, str], key: str, words: str) -> None:
    facts = parse_facts(ORIN)
    facts.raw.update(change)
    pre = verdict(facts)
    assert not pre.ok and pre.check(key).status == FAIL
    assert words in pre.check(key).sentence and words in pre.refusal()
    assert [c.key for c in pre.failures] == [key]
