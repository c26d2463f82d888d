"""Helpers for job tests: a protocol client that follows job events, and ONNX models built here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.jobs_client import JobClient


@pytest.fixture
def job_client(daemon: Any) -> Iterator[JobClient]:
    client = JobClient(daemon.socket_path)
    yield client
    client.close()


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ONNX models built once per test session: the demo classifier and variants."""
    from tests.support.job_models import write_models

    directory = tmp_path_factory.mktemp("models")
    write_models(directory)
    return directory
