"""Fixtures for the device installers: an offline wheelhouse built from this checkout for the
system Python (the interpreter the .deb and install.sh use on a device)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.installers import (
    DEVICE,
    REPO,
    SYSTEM_PYTHON,
    exposure,
    handshake_through_bridge,
    system_python_problem,
)


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    problem = system_python_problem()
    if problem:
        pytest.fail(problem)  # installers/dev/system-packages.sh installs both
    out = tmp_path_factory.mktemp("wheelhouse")
    subprocess.run(
        ["bash", str(DEVICE / "wheelhouse.sh"), "-o", str(out)],
        env={"PATH": "/usr/bin:/bin", "PYTHON": SYSTEM_PYTHON, "HOME": str(out)},
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture
def clean_prefix(tmp_path: Path) -> Iterator[Path]:
    prefix = tmp_path / "opt"
    yield prefix
    shutil.rmtree(prefix, ignore_errors=True)


__all__ = ["DEVICE", "REPO", "exposure", "handshake_through_bridge", "json"]


