"""Fixtures for the store tests: a store over a temp root that trusts the test key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from device_runtime.store.store import Store
from tests.store.helpers import public_line


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(str(tmp_path / "root"))
    s.trust_key(public_line())
    yield s
