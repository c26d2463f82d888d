"""What a model's store history says about rollbacks: which version was rolled back (when, by whom,
why), and whether a version is still one to stay away from.

Commissioning's rollback drill and field mode both read it: the drill only switches to a version
kept good, and field mode shows the last rollback and never offers the version it left in one tap.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from device_runtime.package_format.semver import SemVer, is_semver
from device_runtime.protocol import StoreHistoryEntry

COMMITTED = "committed"
ROLLED_BACK = "rolled_back"


@dataclass(frozen=True)
class RolledBack:
    """``version`` was left: by an operator's rollback (``automatic`` False) or by the store itself
    when its activation failed its checks (``automatic`` True)."""

    model: str
    version: str
    to_version: str | None
    t: float
    who: str
    why: str
    automatic: bool

    def sentence(self) -> str:
        """``1.0.1 was rolled back to 1.0.0 on 2026-12-07 10:02 by ann@lab: "crashes at start"``."""
        when = datetime.datetime.fromtimestamp(self.t).strftime("%Y-%m-%d %H:%M")
        if self.automatic:
            return "%s %s failed its checks on %s and was rolled back to %s: %s" % (
                self.model, self.version, when, self.to_version or "no version", self.why or "no reason recorded")
        reason = ': "%s"' % self.why if self.why else " (no reason given)"
        return "%s %s was rolled back to %s on %s by %s%s" % (
            self.model, self.version, self.to_version or "no version", when, self.who or "someone", reason)


def rolled_back_versions(model: str, entries: Sequence[StoreHistoryEntry]) -> dict[str, RolledBack]:
    """Each version that was rolled back and has not been committed again since, with its rollback.
    ``entries`` oldest first, as ``store.history`` gives them."""
    left: dict[str, RolledBack] = {}
    for e in entries:
        if e.action == "rollback" and e.result == COMMITTED and e.from_version and e.from_version != e.to_version:
            left[e.from_version] = RolledBack(model, e.from_version, e.to_version, e.t, e.who, e.why, False)
        elif e.action in ("deploy", "activate", "rollback") and e.result == ROLLED_BACK and e.to_version:
            left[e.to_version] = RolledBack(model, e.to_version, e.from_version, e.t, e.who, e.why or e.detail, True)
        elif e.result == COMMITTED and e.to_version:
            left.pop(e.to_version, None)  # committed again since: an operator chose it anew
    return left


def last_rollback(model: str, entries: Sequence[StoreHistoryEntry]) -> RolledBack | None:
    """The newest rollback of the model (operator's or automatic), even if undone since."""
    for e in reversed(entries):
        if e.action == "rollback" and e.result == COMMITTED and e.from_version and e.from_version != e.to_version:
            return RolledBack(model, e.from_version, e.to_version, e.t, e.who, e.why, False)
        if e.action in ("deploy", "activate", "rollback") and e.result == ROLLED_BACK and e.to_version:
            return RolledBack(model, e.to_version, e.from_version, e.t, e.who, e.why or e.detail, True)
    return None


def newer(version: str, than: str) -> bool:
    return is_semver(version) and is_semver(than) and SemVer(version) > SemVer(than)
