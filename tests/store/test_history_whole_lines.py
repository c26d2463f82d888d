"""The model history on a full disk: an append is a whole line or nothing, a torn line anywhere is
cut at start-up (keeping a whole entry glued after it), and recovery records only what it proved."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from device_runtime.store import activation, history, recovery
from device_runtime.store.store import Store
from tests.support.disk import (
    fill_unbuffered,
)
from tests.support.store import make_package


def _lines(store: Store, name: str = "detector") -> list[str]:
    return Path(history.history_path(store.root, name)).read_text().splitlines()


def test_an_append_cut_short_by_a_full_disk_leaves_no_partial_line(small_disk: Path) -> None:
    root = str(small_disk / "root")
    history.append(root, "detector", "a1", "deploy", history.STARTED, to_version="1.0.0")
    path = Path(history.history_path(root, "detector"))
    before = path.read_bytes()
    fill_unbuffered(small_disk / "filler")
    with pytest.raises(OSError) as info:  # a line longer than what is left of the file's last page
        history.append(root, "detector", "a1", "deploy", history.FAILED, to_version="1.0.0", detail="x" * 20000)
    assert info.value.errno == errno.ENOSPC
    assert path.read_bytes() == before  # truncated back: the next append starts on a line of its own
    (small_disk / "filler").unlink()
    history.append(root, "detector", "a1", "deploy", history.FAILED, to_version="1.0.0", why="disk full")
    assert [e["result"] for e in history.read(root, "detector")] == ["started", "failed"]


def test_start_up_cuts_torn_lines_anywhere_and_keeps_whole_entries_glued_to_them(store: Store) -> None:
    history.append(store.root, "detector", "a1", "import", history.IMPORTED, to_version="1.0.0")
    whole = json.dumps({"id": "a2", "action": "import", "result": history.IMPORTED, "to": "1.1.0"})
    path = Path(history.history_path(store.root, "detector"))
    with open(path, "ab") as handle:  # what an older daemon left: half a line, the next one glued on
        handle.write(b'{"action":"deploy","id":"a3","res' + whole.encode() + b"\n")
        handle.write(b'{"action":"broken"\n')
    history.append(store.root, "detector", "a4", "import", history.IMPORTED, to_version="1.2.0")
    with open(path, "ab") as handle:
        handle.write(b'{"action":"torn tail')
    assert history.repair_torn_lines(store.root, "detector") == 3
    assert [e["id"] for e in history.read(store.root, "detector")] == ["a1", "a2", "a4"]
    assert all(json.loads(line) for line in _lines(store))
    assert history.repair_torn_lines(store.root, "detector") == 0  # idempotent


def _committed(store: Store, tmp_path: Path, *versions: str) -> None:
    for seed, version in enumerate(versions):
        store.import_package(str(make_package(tmp_path, version=version, seed=seed)))
        assert activation.activate(store, activation.Plan("detector", version)).result == "committed"


def test_recovery_records_unknown_when_later_actions_followed(store: Store, tmp_path: Path) -> None:
    _committed(store, tmp_path, "1.0.0", "1.1.0")
    # A rollback whose last line was lost, then a deploy that ran to its end (here: its started line).
    history.append(store.root, "detector", "rb1", "rollback", history.STARTED, from_version="1.1.0",
                   to_version="1.0.0")
    history.append(store.root, "detector", "d2", "deploy", history.STARTED, from_version="1.1.0",
                   to_version="1.1.0")
    recovery.recover(store)
    final = {e["id"]: e for e in history.read(store.root, "detector") if e["result"] != history.STARTED}
    assert final["rb1"]["result"] == history.UNKNOWN and "later actions followed" in final["rb1"]["why"]
    assert final["d2"]["result"] == history.INTERRUPTED  # from == to: nothing proves a commit


def test_recovery_says_committed_only_when_the_commit_record_names_the_target(store: Store, tmp_path: Path) -> None:
    _committed(store, tmp_path, "1.0.0", "1.1.0")
    history.append(store.root, "detector", "ok", "deploy", history.STARTED, from_version="1.0.0",
                   to_version="1.1.0")
    recovery.recover(store)
    history.append(store.root, "detector", "rb", "rollback", history.STARTED, from_version="1.1.0",
                   to_version="1.0.0")
    recovery.recover(store)  # the commit record still says 1.1.0: the rollback did not happen
    final = {e["id"]: e for e in history.read(store.root, "detector") if e["result"] != history.STARTED}
    assert final["ok"]["result"] == history.COMMITTED and "commit record names 1.1.0" in final["ok"]["why"]
    assert final["rb"]["result"] == history.INTERRUPTED
    assert store.state("detector").committed == "1.1.0"
