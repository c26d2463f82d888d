"""The models on one device as the console shows them: versions, history, rollback plans, refusals.

The Models page, the Deploy wizard and field mode all read one :class:`StoreTracker`. It mirrors
the device's store (``store.models``, ``store.versions``, ``store.history``) and follows every
store action live on ``TOPIC_STORE``, whoever started it (this console, edgectl, another laptop).
Everything that turns records into words lives here, without Qt, so edgectl-style tests can
check the sentences an operator will read.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from console.core.devices.client import DeviceError
from console.core.devices.session import DeviceSession, Subscription
from console.core.models.packages import PackageError
from console.core.models.store_client import ActionProgress, StoreClient
from device_runtime.package_format.errors import Code
from device_runtime.package_format.semver import SemVer, is_semver
from device_runtime.protocol import (
    DEGRADED,
    HEALTH_LAST,
    HEALTHY,
    STORE_ACTION,
    STORE_ACTION_RUNNING,
    STORE_ACTION_SUCCEEDED,
    STORE_ACTIVATE,
    STORE_HISTORY,
    STORE_MODELS,
    STORE_PIN,
    STORE_UNPIN,
    STORE_VERSIONS,
    TOPIC_HEALTH,
    TOPIC_STORE,
    Empty,
    ErrorCode,
    Event,
    HealthReport,
    ProtocolError,
    StoreAction,
    StoreActionRef,
    StoreActivate,
    StoreHistoryEntry,
    StoreHistoryQuery,
    StoreModel,
    StoreModelRef,
    StorePin,
    StoreVersion,
    StoreVersions,
)

HISTORY_LIMIT = 200
KEEP_ACTIONS = 50

# status word -> (shown text, level); levels map to green / blue / amber / red in the GUI.
STATUS_WORDS = {
    "active": ("● active", "ok"),
    "trial": ("◐ on trial", "warn"),
    "previous": ("↺ previous", "info"),
    "pinned": ("⚑ pinned", "info"),
    "failed": ("✕ failed", "bad"),
    "corrupt": ("✕ corrupt", "bad"),
}
RESULT_WORDS = {
    "committed": ("✓ committed", "ok"), "rolled_back": ("↺ rolled back", "warn"), "failed": ("✕ failed", "bad"),
    "interrupted": ("✕ interrupted", "bad"), "imported": ("stored", "info"), "changed": ("changed", "info"),
    "started": ("◐ started", "warn"), "unknown": ("? outcome unknown", "warn"),
}
POLICY_WORDS = {
    "require-signature": "require-signature: only packages signed by a trusted key are accepted",
    "allow-unsigned": "allow-unsigned: unsigned packages are accepted; signed ones must verify",
}
HEALTH_WORDS = {HEALTHY: ("● Healthy", "ok"), DEGRADED: ("▲ Degraded", "warn")}

# A refused or failed store action: what happened and what to do, by the store's code.
_REFUSALS: dict[str, tuple[str, str]] = {
    Code.BAD_SIGNATURE: ("The package's signature does not match its contents: it was changed after signing.",
                         "Get the package again from its source, or rebuild and sign it."),
    Code.UNSIGNED: ("The package is not signed and this device accepts signed packages only.",
                    "Sign it with a key the device trusts (edgectl package sign PKG --key KEY)."),
    Code.UNTRUSTED_KEY: ("The package is signed with a key this device does not trust.",
                         "Trust that public key on the device (edgectl --device DEVICE keys trust KEY.pub), "
                         "or sign the package with a key it already trusts."),
    Code.HASH_MISMATCH: ("A file in the package does not match the checksum in its manifest.",
                         "The package is damaged: copy or rebuild it and deploy again."),
    Code.BAD_PACKAGE: ("The file is not a valid model package.",
                       "Build the package again with edgectl package build, or pick the right file."),
    Code.BAD_MANIFEST: ("The package's manifest is missing or invalid.",
                        "Build the package again with edgectl package build."),
    Code.VERSION_CONFLICT: ("This version is already on the device with different contents.",
                            "A version never changes: give the new build a new version number."),
    Code.BELOW_FLOOR: ("The package is older than this device's security floor for the model.",
                       "Deploy a newer build (with a security counter at or above the floor)."),
    Code.DOWNGRADE: ("The package is older than the active version.",
                     "To go back on purpose, use Roll back on the Models page and confirm the downgrade."),
    Code.INCOMPATIBLE_ENGINE: ("The package's TensorRT engine was built for another TensorRT version or GPU.",
                               "Rebuild the engine for this device from the package's ONNX (see Details)."),
    Code.NO_SPACE: ("The device does not have enough free disk space for this package.",
                    "Free space on the device or lower its retention, then deploy again."),
    Code.NOT_FOUND: ("The device does not have what was asked for.", "Refresh the Models page and try again."),
    Code.CORRUPT: ("That version is damaged on the device's disk and is never activated.",
                   "Deploy the package again under a new version."),
    Code.INHIBITED: ("The robot is holding the swap lock (it must not be disturbed right now).",
                     "Wait until the robot's task is done and try again."),
    Code.LOAD_FAILED: ("The model could not be loaded or failed its warm-up inference on the device.",
                       "Check the model with a validate job on the Optimize page; the previous version stays "
                       "active."),
    Code.HOOK_FAILED: ("The robot's restart hook failed; the previous version was put back.",
                       "Check the robot application's service on the device (see Details)."),
    Code.HEALTH_FAILED: ("The health check failed after the switch; the previous version was put back.",
                         "See Details and the Health page for what failed."),
    Code.BUSY: ("The device's store is busy with another action.", "Wait for it to finish and try again."),
    Code.IO: ("The device could not read or write its store.", "See Details; the previous version stays active."),
    Code.BAD_REQUEST: ("The device refused the request as given.", "See Details for what it expects."),
    ErrorCode.NOT_ALLOWED: ("This needs the device's admin role; you are an operator there.",
                            "Ask an admin (root, or the edge-runtime-admin group) to do it, or to add you to "
                            "that group (see Details)."),
    ErrorCode.TOO_MANY_CONNECTIONS: ("The device has too many connections open for this user.",
                                     "Close consoles or edgectl commands still connected to it, then try again."),
}
# Every code the store (or the daemon's roles and limits) sends: a request failing with one was
# understood and refused by the device.
STORE_CODES = frozenset(_REFUSALS)


@dataclass(frozen=True)
class Refusal:
    """A failure in three parts: what happened, what to do, and the device's own text."""

    what: str
    todo: str
    details: str

    def text(self) -> str:
        return "%s %s" % (self.what, self.todo)


def explain_action(action: StoreAction, device_name: str) -> Refusal:
    """``device_name`` is the name edgectl knows the device by, for the commands the advice gives."""
    what, todo = _REFUSALS.get(action.code or "", ("The device could not finish the %s." % action.kind,
                                                   "See Details; the previous version stays active."))
    details = "\n".join([action.message, *action.notes]).strip()
    return Refusal(what, todo.replace("DEVICE", device_name), details)


def explain_error(exc: BaseException, what_failed: str, device: str) -> Refusal:
    """A request that failed before any action started (upload, packaging, an unreachable device)."""
    text = (getattr(exc, "message", None) or str(exc)).strip() or type(exc).__name__
    if isinstance(exc, DeviceError) and exc.code in _REFUSALS:  # by its code, never by its words
        what, todo = _REFUSALS[exc.code]
        return Refusal(what, todo.replace("DEVICE", device), text)
    if isinstance(exc, DeviceError) and exc.code not in ("failed", "bad_field"):
        return Refusal("%s could not be reached." % device, "Check the connection and try again.", text)
    if isinstance(exc, PackageError):  # refused on this computer, before a byte was sent
        return Refusal("%s was refused here: %s." % (what_failed, text.rstrip(".")),
                       "Nothing was sent to %s; change what it says (in the wizard: Warm-up sizes or sample), then "
                       "deploy again." % device, text)
    return Refusal("%s failed." % what_failed, "See Details; nothing on %s was changed." % device, text)


def status_words(version: StoreVersion) -> list[tuple[str, str]]:
    """Each status of a version as (text, level); a version with none is simply kept."""
    words = [STATUS_WORDS[s] for s in version.status if s in STATUS_WORDS]
    return words or [("kept", "muted")]


def when_text(t: float) -> str:
    return datetime.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S") if t else "-"


def created_text(created: str) -> str:
    """``2025-03-01T12:00:00Z`` as ``2025-03-01 12:00 UTC`` (the manifest's creation time)."""
    return created.replace("T", " ")[:16] + (" UTC" if created.endswith("Z") else "") if created else "-"


def signer_text(signer: str | None) -> str:
    return "key %s" % signer if signer else "unsigned"


def policy_text(policy: str) -> str:
    return POLICY_WORDS.get(policy, policy or "unknown")


def health_words(report: HealthReport | None) -> tuple[str, str]:
    if report is None:
        return "… Checking health", "muted"
    return HEALTH_WORDS.get(report.overall, ("✕ Unhealthy", "bad"))


def health_problems(report: HealthReport | None) -> list[str]:
    """The failing checks, each as 'title: message'."""
    if report is None:
        return []
    return ["%s: %s" % (c.title, c.message) for c in report.checks if c.status == "fail"]


def timeline(entries: list[StoreHistoryEntry]) -> list[StoreHistoryEntry]:
    """Newest first; an action's 'started' line is dropped once its final line is there."""
    finished = {e.id for e in entries if e.result != "started"}
    return [e for e in reversed(entries) if e.result != "started" or e.id not in finished]


def move_text(entry: StoreHistoryEntry) -> str:
    """``1.4.0 → 1.3.2``; an import or a pin touches one version and names just that one."""
    if entry.action in ("import", "pin", "unpin"):
        return entry.to_version or entry.from_version or "-"
    return "%s → %s" % (entry.from_version or "none", entry.to_version or "none")


def result_words(entry: StoreHistoryEntry) -> tuple[str, str]:
    if entry.action in ("pin", "unpin") and entry.result == "changed":
        return ("⚑ pinned", "info") if entry.action == "pin" else ("unpinned", "info")
    return RESULT_WORDS.get(entry.result, (entry.result, "muted"))


@dataclass(frozen=True)
class RollbackPlan:
    """Where a rollback goes. ``downgrade``: the operator chose an older version that is not the
    previous one, an intent the dialog makes them state."""

    name: str
    active: str
    target: str
    downgrade: bool = False

    @property
    def verb(self) -> str:
        newer = is_semver(self.target) and is_semver(self.active) and SemVer(self.target) > SemVer(self.active)
        return "Switch" if newer else "Roll back"

    def button_text(self) -> str:
        return "%s %s from %s to %s" % (self.verb, self.name, self.active, self.target)

    def question(self, device: str) -> str:
        return "%s on %s?" % (self.button_text(), device)

    def intent_text(self) -> str:
        return ("I mean to downgrade %s to the older %s (the active %s is newer); record it as a downgrade"
                % (self.name, self.target, self.active))


def rollback_plan(versions: StoreVersions, to: str | None = None) -> RollbackPlan | None:
    """The rollback the big button offers (``to`` None: the previous version), or None."""
    active = versions.active
    target = to or versions.previous
    if active is None or target is None or target == active:
        return None
    if target not in {v.version for v in versions.versions}:
        return None
    explicit = to is not None and to != versions.previous
    downgrade = explicit and is_semver(target) and is_semver(active) and SemVer(target) < SemVer(active)
    return RollbackPlan(versions.name, active, target, downgrade)


def rollback_blocker(versions: StoreVersions, target: str) -> str | None:
    """Why a version cannot be activated, in words; None when it can."""
    for v in versions.versions:
        if v.version == target and ("corrupt" in v.status):
            return "%s %s is damaged on the device and cannot be activated" % (versions.name, target)
    return None


@dataclass
class RemovalPlan:
    """What a Remove asks the operator: the words naming what goes, and the active version it confirms."""

    name: str
    version: str | None  # None: the whole model
    question: str
    confirm_active: str | None  # the active version this removal takes away, named in the question


def removal_plan(versions: StoreVersions, version: str | None) -> RemovalPlan:
    active = versions.active
    if version is None:
        stored = ", ".join(v.version for v in versions.versions) or "no stored version"
        question = "Remove the whole model %s from the device (%s)?" % (versions.name, stored)
        takes_active = active is not None
    else:
        question = "Remove %s %s from the device?" % (versions.name, version)
        takes_active = version == active
    if takes_active:
        question += (" %s is the ACTIVE version: %s will have no active version and stops running on the robot."
                     % (active, versions.name))
    return RemovalPlan(versions.name, version, question, active if takes_active else None)


def default_model_name(model: Path) -> str:
    stem = "".join(c if c.isalnum() or c in "._-" else "-" for c in model.stem.lower()).strip(".-_")
    return stem[:64] or "model"


def next_version(versions: StoreVersions | None) -> str:
    """The next patch version after the newest kept one (1.0.0 for a new model)."""
    known = [SemVer(v.version) for v in (versions.versions if versions else []) if is_semver(v.version)]
    if not known:
        return "1.0.0"
    major, minor, patch = max(known).core
    return "%d.%d.%d" % (major, minor, patch + 1)


@dataclass
class ModelEntry:
    model: StoreModel
    versions: StoreVersions
    history: list[StoreHistoryEntry] = field(default_factory=list)


@dataclass
class StoreSnapshot:
    policy: str = ""
    models: dict[str, ModelEntry] = field(default_factory=dict)
    loaded: bool = False


ChangeListener = Callable[[], None]
ActionListener = Callable[[StoreAction], None]


class StoreTracker:
    """One device's store, mirrored. Blocking methods must run off the GUI thread; listeners run
    on whichever thread brought the news (the reader thread for pushed actions)."""

    def __init__(self, session: DeviceSession, who: str = "") -> None:
        self.session = session
        self.client = StoreClient(session, who)
        self.snapshot = StoreSnapshot()
        self.health: HealthReport | None = None
        self.actions: dict[str, StoreAction] = {}
        self.change_listeners: list[ChangeListener] = []
        self.action_listeners: list[ActionListener] = []
        self._lock = threading.Lock()
        self._store_follow: Subscription | None = None
        self._health_follow: Subscription | None = None

    # -- blocking: call from a worker --------------------------------------------------------
    def attach(self) -> None:
        """Follow store actions live (once; the session restores the subscription on reconnect)."""
        if self._store_follow is None:
            self._store_follow = self.session.follow([TOPIC_STORE], self.handle_event, subscribe=True)

    def close(self) -> None:
        """Stop following the device's store actions and health reports."""
        for follow in (self._store_follow, self._health_follow):
            if follow is not None:
                follow.close()
        self._store_follow = self._health_follow = None
        self.client.close()

    def load(self) -> StoreSnapshot:
        """Read every model's versions and history; listeners hear of it once, at the end."""
        self.attach()
        listing = self.session.call(STORE_MODELS, Empty())
        models: dict[str, ModelEntry] = {}
        for model in listing.models:
            versions = self.session.call(STORE_VERSIONS, StoreModelRef(model.name))
            history = self.session.call(STORE_HISTORY, StoreHistoryQuery(model.name, HISTORY_LIMIT))
            models[model.name] = ModelEntry(model, versions, history.entries)
        self.snapshot = StoreSnapshot(listing.policy, models, True)
        self._settle_actions()
        self._changed()
        return self.snapshot

    def _settle_actions(self) -> None:
        """Ask after actions still shown as running: their last event may have been lost with a link."""
        with self._lock:
            running = [a.id for a in self.actions.values() if a.state == STORE_ACTION_RUNNING]
        for action_id in running:
            try:
                fresh = self.session.call(STORE_ACTION, StoreActionRef(action_id))
            except DeviceError:
                fresh = None  # the device no longer knows it (restarted): it is not running
            with self._lock:
                if fresh is not None:
                    self.actions[action_id] = fresh
                else:
                    self.actions.pop(action_id, None)

    def load_health(self) -> HealthReport:
        """The device's last health report; later ones arrive on ``TOPIC_HEALTH``."""
        if self._health_follow is None:
            self._health_follow = self.session.follow([TOPIC_HEALTH], self._on_health, subscribe=True)
        report = self.session.call(HEALTH_LAST, Empty())
        self.health = report
        self._changed()
        return report

    def pin(self, name: str, version: str, pinned: bool) -> None:
        result = self.session.call(STORE_PIN if pinned else STORE_UNPIN,
                                      StorePin(name, version, self.client.who))
        entry = self.snapshot.models.get(name)
        if entry is not None:
            entry.versions = result
            entry.model.pinned = [v.version for v in result.versions if "pinned" in v.status]
        self._changed()

    def remove(self, plan: RemovalPlan, why: str = "", progress: ActionProgress | None = None) -> StoreAction:
        """Remove what the question named, the active version only as confirmed there."""
        return self.client.remove(plan.name, plan.version, plan.confirm_active, progress,
                                  why or "removed from the console")

    def rollback(self, plan: RollbackPlan, why: str = "", progress: ActionProgress | None = None,
                 force: bool = False) -> StoreAction:
        """Go exactly where the dialog said (the named target, even when it is the previous one)."""
        reason = why or ("explicit downgrade from the console" if plan.downgrade else "rollback from the console")
        return self.client.rollback(plan.name, plan.target, progress, force=force, why=reason)

    def activate(self, name: str, version: str, why: str = "", progress: ActionProgress | None = None,
                 force: bool = False) -> StoreAction:
        """Activate a stored version (after a deploy the robot's inhibit lock held up, say)."""
        return self.client.run(STORE_ACTIVATE, StoreActivate(name, version, self.client.who, why or "deploy",
                                                           force=force), progress)

    # -- reader thread -----------------------------------------------------------------------
    def handle_event(self, event: Event) -> None:
        try:
            action = StoreAction.from_wire(event.data)
        except ProtocolError:
            return
        with self._lock:
            self.actions[action.id] = action
            while len(self.actions) > KEEP_ACTIONS:
                self.actions.pop(next(iter(self.actions)))
        for listener in list(self.action_listeners):
            listener(action)

    def _on_health(self, event: Event) -> None:
        try:
            self.health = HealthReport.from_wire(event.data)
        except ProtocolError:
            return
        self._changed()

    # -- what views read ---------------------------------------------------------------------
    def running(self, name: str | None = None) -> StoreAction | None:
        """The newest unfinished action (on one model, or on any), from any console."""
        with self._lock:
            found = [a for a in self.actions.values() if a.state == STORE_ACTION_RUNNING
                     and (name is None or a.name == name)]
        return found[-1] if found else None

    def entry(self, name: str) -> ModelEntry | None:
        return self.snapshot.models.get(name)

    def _changed(self) -> None:
        for listener in list(self.change_listeners):
            listener()


def succeeded(action: StoreAction) -> bool:
    return action.state == STORE_ACTION_SUCCEEDED
