"""Fixtures for the store tests: a store over a temp root that trusts the test key, and a small full disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from device_runtime.store.store import Store
from tests.support.disk import small_disk  # noqa: F401 - a fixture the full-disk tests use by name
from tests.support.store import public_line


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(str(tmp_path / "root"))
    s.trust_key(public_line())
    yield s
