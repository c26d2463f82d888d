"""Model activations (deploys, activations, rollbacks) as the Dashboard marks them: a line on
every chart at the moment the running version changed, and a row in its event list, so a jump
in GPU load or temperature can be read against the deploy that caused it.

They come from each model's history on the device (``store.history``), which the Models page
keeps current, so the marks cover what any console or ``edgectl`` did, before this console
connected too.
"""

from __future__ import annotations

from dataclasses import dataclass

from console.core.models.rollback_record import newer, rolled_back_versions
from console.core.models.tracker import StoreSnapshot
from device_runtime.protocol import StoreHistoryEntry

MARKED_ACTIONS = ("deploy", "activate", "rollback")
# committed: the version changed; rolled_back: it ran until its checks failed and was reverted
MARKED_RESULTS = ("committed", "rolled_back")
VERBS = {"deploy": "Deploy", "activate": "Activate", "rollback": "Rollback", "reactivation": "Re-activation"}


@dataclass(frozen=True)
class Activation:
    t: float  # device time, as the charts'
    model: str
    action: str  # deploy, activate, rollback
    result: str  # committed, rolled_back
    from_version: str | None
    to_version: str | None
    who: str = ""
    kind: str = ""  # what happened, for people: deploy, activate, rollback or reactivation (of a version left)

    @property
    def key(self) -> str:
        return "%s|%s|%r" % (self.model, self.action, self.t)

    @property
    def verb(self) -> str:
        kind = self.kind or self.action
        return VERBS.get(kind, kind.capitalize())

    @property
    def label(self) -> str:
        """``Deploy detector 1.3.2 → 1.4.0``; a reverted one says so."""
        text = "%s %s %s → %s" % (self.verb, self.model, self.from_version or "none", self.to_version or "?")
        if self.result == "rolled_back":
            text += ", rolled back (it failed its checks)"
        return text


    def chart_label(self, with_model: bool) -> str:
        """Short, for a chart: ``Deploy 1.4.0``, ``Rollback to 1.3.2`` (the model named when
        several changed in view); the event list has the whole :attr:`label`."""
        version = self.to_version or "?"
        target = "to %s" % version if (self.kind or self.action) == "rollback" else version
        text = " ".join(part for part in (self.verb, self.model if with_model else "", target) if part)
        return text + " (rolled back)" if self.result == "rolled_back" else text


def activations(snapshot: StoreSnapshot) -> list[Activation]:
    """Every marked activation of every model on the device, oldest first."""
    found = []
    for name, entry in snapshot.models.items():
        for number, e in enumerate(entry.history):
            if e.action in MARKED_ACTIONS and e.result in MARKED_RESULTS:
                found.append(Activation(e.t, name, e.action, e.result, e.from_version, e.to_version, e.who,
                                        kind_of(name, entry.history[:number], e)))
    return sorted(found, key=lambda a: a.t)


def kind_of(name: str, before: list[StoreHistoryEntry], e: StoreHistoryEntry) -> str:
    """A switch back onto a version that was rolled back, or forward onto one that ran before, is a
    re-activation, whatever the command was called (the field mode's button used to say Rollback)."""
    if e.action == "deploy" or not e.to_version:
        return e.action
    ran_before = any(b.result == "committed" and b.to_version == e.to_version for b in before)
    if e.to_version in rolled_back_versions(name, before) or (
            ran_before and e.from_version is not None and newer(e.to_version, e.from_version)):
        return "reactivation"
    return e.action
