"""The PyInstaller console bundle, built from this checkout and run the way a technician runs
it: no virtual environment on PATH, a fresh HOME, offscreen Qt. It must print its version and
take a real screenshot of the built-in local device (whose runtime it carries)."""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from tests.support.installers import REPO

BUILD = REPO / "build" / "test-bundle"

# Building the bundle takes a minute or more on a small machine; the build runs in the first
# test's fixture, so these tests get a longer limit than the suite's default.
pytestmark = pytest.mark.timeout(1200)


def _source_digest() -> str:
    """Rebuild only when the code, resources or spec changed since the last build here."""
    h = hashlib.sha256()
    for top in ("console", "device_runtime", "resources", "installers/console", "pyproject.toml"):
        path = REPO / top
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for f in files:
            if f.is_file() and "__pycache__" not in f.parts:
                h.update(str(f.relative_to(REPO)).encode())
                h.update(f.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def bundle() -> Path:
    digest = _source_digest()
    stamp = BUILD / "source.sha256"
    folder = BUILD / "edge-console"
    if not (stamp.exists() and stamp.read_text() == digest and (folder / "edge-console").exists()):
        shutil.rmtree(BUILD, ignore_errors=True)
        BUILD.mkdir(parents=True)
        subprocess.run(
            ["bash", str(REPO / "installers" / "console" / "build-bundle.sh"), "--dist", str(BUILD)],
            check=True, capture_output=True, timeout=1200,
        )
        stamp.write_text(digest)
    return folder


def _clean_env(home: Path) -> dict[str, str]:
    # Nothing of the build machine's Python: no venv on PATH, and PYTHONHOME/PYTHONPATH that
    # would break a bundle that still leaned on an outside interpreter.
    return {
        "HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONHOME": str(home / "no-python"),
        "PYTHONPATH": str(home / "no-python"),
        "XDG_RUNTIME_DIR": str(home / "run"),
        "LANG": "C.UTF-8",
    }


def test_bundle_prints_its_version(bundle: Path, short_tmp: Path) -> None:
    out = subprocess.run([str(bundle / "edge-console"), "--version"], env=_clean_env(short_tmp),
                         capture_output=True, text=True, timeout=60, check=True)
    from console import __version__

    assert out.stdout.strip() == "edge-console %s" % __version__
    assert list((bundle / "_internal" / "runtime-wheel").glob("edge_operator_console-*.whl")), "runtime wheel"
    assert list((bundle / "_internal").glob("libpython3*.so*")), "the bundle carries its own Python"
    assert (bundle / "_internal" / "installers" / "device" / "install.sh").is_file(), "for Install runtime"
    assert (bundle / "edge-console.desktop").read_text().count("Exec=edge-console") == 1


def test_bundle_takes_a_screenshot_of_the_local_device(bundle: Path, short_tmp: Path) -> None:
    env = _clean_env(short_tmp)
    (short_tmp / "run").mkdir(mode=0o700)
    shot = short_tmp / "shot.png"
    try:
        run = subprocess.run([str(bundle / "edge-console"), "--screenshot", str(shot)], env=env,
                             capture_output=True, text=True, timeout=180, check=False)
        assert run.returncode == 0, run.stderr
    finally:
        socket_path = short_tmp / "run" / "edge-runtime" / "edge-runtime.sock"
        subprocess.run([str(bundle / "edge-python"), "-m", "device_runtime", "stop", "--socket", str(socket_path)],
                       env=env, capture_output=True, timeout=60, check=False)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 800 and height >= 600
    assert os.path.getsize(shot) > 20_000  # a drawn window, not an empty canvas
