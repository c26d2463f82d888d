"""The one reader of the daemon's stored settings files: each way a file can be unusable is
named, the file is set aside whole, and a missing file is no problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from device_runtime import config_file


def _parse(data: dict[str, Any]) -> int:
    if not isinstance(data.get("n"), int):
        raise ValueError("n must be a whole number")
    return int(data["n"])


@pytest.mark.parametrize(("raw", "reason"), [
    (b'{"n": ', "not valid JSON"),
    (b'{"n": 1, "name": "caf\xe9"}', "not UTF-8 text (byte 22)"),
    (b"[1, 2]", "expected a JSON object, found list"),
    (json.dumps({"n": 1, "hooks": [["run", "robot\ud800"]]}).encode(), "hooks[0][1] is not valid Unicode text"),
    (json.dumps({"n": 1, "zones": {"gpu\udfff": 70}}).encode(), "a key of zones is not valid Unicode text"),
    (b'{"n": "one"}', "n must be a whole number"),
], ids=["cut-off", "latin-1", "array", "surrogate-value", "surrogate-key", "refused-value"])
def test_an_unusable_file_is_set_aside_whole_with_its_reason(tmp_path: Path, raw: bytes, reason: str) -> None:
    path = tmp_path / "thing.json"
    path.write_bytes(raw)
    value, problem = config_file.load(str(path), "thing settings", "edgectl thing --reset", _parse)
    assert value is None and problem is not None
    assert reason in problem.reason and problem.path == str(path) and problem.fix == "edgectl thing --reset"
    assert not path.exists() and (tmp_path / "thing.json.bad").read_bytes() == raw
    assert problem.message == ("the thing settings in %s cannot be used (%s): the file was moved to %s.bad, using "
                               "the default thing settings" % (path, problem.reason, path))


def test_a_missing_file_is_the_defaults_and_a_good_one_is_read(tmp_path: Path) -> None:
    path = tmp_path / "thing.json"
    assert config_file.load(str(path), "thing settings", "-", _parse) == (None, None)
    path.write_text('{"n": 7}')
    assert config_file.load(str(path), "thing settings", "-", _parse) == (7, None)
    assert path.exists()


def test_a_file_that_cannot_be_moved_is_reported_in_place(tmp_path: Path) -> None:
    path = tmp_path / "thing.json"
    path.write_text("{")
    (tmp_path / "thing.json.bad").mkdir()  # a directory where the bad copy would go
    (tmp_path / "thing.json.bad" / "keep").write_text("x")
    _, problem = config_file.load(str(path), "thing settings", "-", _parse)
    assert problem is not None and problem.kept.startswith("left in place (") and path.read_text() == "{"
