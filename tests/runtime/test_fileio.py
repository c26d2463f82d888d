"""The one atomic file write both sides use: whole new file or the old one, nothing left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from device_runtime.fileio import replacing, write_atomic


def test_a_file_is_replaced_whole_with_the_mode_asked_for(tmp_path: Path) -> None:
    target = tmp_path / "settings.json"
    target.write_text("old\n")
    write_atomic(target, b"new\n", mode=0o600)
    assert target.read_bytes() == b"new\n"
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]


def test_text_goes_through_the_encoding_and_newline_given(tmp_path: Path) -> None:
    target = tmp_path / "rows.csv"
    with replacing(str(target), encoding="utf-8", newline="") as handle:
        handle.write("a,°C\r\n")
    assert target.read_bytes() == "a,°C\r\n".encode()


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "known_hosts"
    target.write_text("kept\n")
    with pytest.raises(UnicodeEncodeError), replacing(target, encoding="ascii") as handle:
        handle.write("first line\n")
        handle.write("é\n")
    assert target.read_text() == "kept\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["known_hosts"]


def test_a_folder_in_the_way_is_an_error_and_nothing_is_left(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(IsADirectoryError):
        write_atomic(tmp_path / "out", b"data")
    assert os.listdir(tmp_path) == ["out"] and os.listdir(tmp_path / "out") == []
