"""Which versions a model's history says were rolled back, read from store.history entries."""

from __future__ import annotations

from console.core.models.rollback_record import last_rollback, rolled_back_versions
from device_runtime.protocol import StoreHistoryEntry


def _e(t: float, action: str, result: str, frm: str | None, to: str | None, why: str = "") -> StoreHistoryEntry:
    return StoreHistoryEntry(t, "a%d" % t, action, result, "ann@lab", frm, to, why)


def test_an_operator_rollback_marks_the_version_it_left_until_it_is_committed_again() -> None:
    entries = [_e(1, "deploy", "committed", None, "1.0.0"), _e(2, "deploy", "committed", "1.0.0", "1.0.1"),
               _e(3, "rollback", "committed", "1.0.1", "1.0.0", "crashes at start")]
    left = rolled_back_versions("det", entries)
    assert set(left) == {"1.0.1"} and left["1.0.1"].why == "crashes at start" and not left["1.0.1"].automatic
    assert left["1.0.1"].sentence().startswith("det 1.0.1 was rolled back to 1.0.0 on ")
    assert left["1.0.1"].sentence().endswith(' by ann@lab: "crashes at start"')
    entries.append(_e(4, "activate", "committed", "1.0.0", "1.0.1"))
    assert rolled_back_versions("det", entries) == {}
    last = last_rollback("det", entries)
    assert last is not None and last.version == "1.0.1" and last.t == 3


def test_a_failed_activation_the_store_reverted_counts_as_rolled_back() -> None:
    entries = [_e(1, "deploy", "committed", None, "1.0.0"),
               _e(2, "deploy", "rolled_back", "1.0.0", "1.0.1", "health check failed: camera")]
    left = rolled_back_versions("det", entries)
    assert left["1.0.1"].automatic and left["1.0.1"].to_version == "1.0.0"
    assert "failed its checks" in left["1.0.1"].sentence() and "camera" in left["1.0.1"].sentence()
    assert last_rollback("det", entries[:1]) is None
