"""The Fleet page's data: every registered device's row, kept fresh, and the fleet actions run off the GUI thread.

``FleetWatcher`` connects each device (bounded, on a small pool of worker threads), subscribes to its
telemetry at 1 Hz into a small store of its own (a device whose pages are open streams into their full
store instead, which it reads), and every few seconds reads what a lab checks: versions, health, alerts.
Worker threads hand plain dicts to the GUI thread through queued signals; the GUI thread owns every row.
``FleetActions`` runs one fleet action at a time (health run, staged rollout, rollback, resume, abandon)
on a thread of its own, with the core's fleet code, and reports each step and device the same way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QIcon

from console.core.app import ConsoleCore
from console.core.devices.session import DeviceSession, State
from console.core.fleet.facts import TEMPERATURE_UNIT, run_health
from console.core.fleet.records import RolloutLog, RolloutRecord
from console.core.fleet.rollout import DeployPlan, Fleet, FleetProgress, resume_plan
from console.core.fleet.runner import DeviceOutcome, run_each, unreachable_why
from console.core.optimize.benchmarks import BenchmarkBook
from console.core.telemetry.metrics import TelemetryStore
from console.transport.hostkeys import UnknownHostKey
from console.ui.devices.sidebar import state_icon
from console.ui.health.qt_health import HEALTH_COLORS
from device_runtime.protocol import (
    ALERTS_LIST,
    HEALTH_LAST,
    STORE_MODELS,
    AlertQuery,
    Empty,
)

FLEET_RATE_HZ = 1.0
TICK_MS = 1000  # temperatures and connection states are read from the stores this often
FACTS_EVERY_S = 15.0  # versions, health and alerts, per device
RETRY_EVERY_S = 10.0  # an unreachable device is tried again this often
CONNECT_TIMEOUT_S = 10.0
SAMPLE_WAIT_S = 5.0  # how long a read device may take to send its first sample before it counts as settled
WORKERS = 8
# A watched device's store: the newest two minutes at 1 Hz, few peak buckets (a device page, when
# opened, replaces it with the full store and its back-filled history).
FLEET_STORE_ROWS = 120
FLEET_STORE_BUCKETS = 8

COLUMNS = ("Device", "State", "Board", "JetPack", "Runtime", "Models", "Health", "Hottest", "Alerts",
           "Last benchmark", "Tags", "Notes")
COL = {name: i for i, name in enumerate(COLUMNS)}
SORT_ROLE = Qt.ItemDataRole.UserRole + 10
NAME_ROLE = Qt.ItemDataRole.UserRole + 11
TAGS_ROLE = Qt.ItemDataRole.UserRole + 12
STATE_ORDER = {"unreachable": 0, "reconnecting": 1, "connecting": 2, "connected": 3}
HEALTH_ORDER = {"unhealthy": 0, "degraded": 1, "unknown": 2, "healthy": 3}


@dataclass
class DeviceRow:
    """One device as the grid shows it."""

    name: str
    display: str
    tags: list[str]
    state: str = "connecting"  # connected, connecting, reconnecting, unreachable
    why: str = ""  # why it is unreachable, and what to do
    board: str | None = None
    jetpack: str | None = None
    runtime: str | None = None
    models: dict[str, str | None] = field(default_factory=dict)
    health: str | None = None  # healthy, degraded, unhealthy; None before its first report
    failing: list[str] = field(default_factory=list)
    hottest_c: float | None = None
    hottest_sensor: str | None = None
    open_alerts: int | None = None
    alerts: list[str] = field(default_factory=list)
    benchmark: str = ""
    note: str = ""  # the last fleet action's outcome on this device
    read_at: float | None = None  # monotonic: when its facts last arrived
    sampled: bool = False  # a telemetry sample has arrived since it connected

    def state_text(self) -> str:
        if self.state == "connected" and self.health:
            return "connected · %s" % self.health
        return self.state

    def models_text(self) -> str:
        return ", ".join("%s %s" % (m, v or "(none active)") for m, v in sorted(self.models.items()))

    def notes_text(self) -> str:
        parts = [self.why] if self.state == "unreachable" and self.why else []
        if self.failing:
            parts.append("failing: %s" % ", ".join(self.failing))
        if self.note:
            parts.append(self.note)
        return " · ".join(parts)


def read_facts(session: DeviceSession, own_store: bool, rate_hz: float) -> dict[str, Any]:
    """On a worker thread: connect when needed, make sure samples flow, read versions, health and alerts.
    ``own_store``: no device page streams this device, so a small store of the fleet's own takes them."""
    if session.state is State.RECONNECTING:  # a device page's reconnect loop owns this link
        return {"state": "reconnecting", "why": session.message}
    fresh = session.state is not State.CONNECTED
    caps = session.connect(CONNECT_TIMEOUT_S)
    if own_store and (fresh or session.store is None):
        if session.store is None:
            table = session.describe_telemetry()
            session.store = TelemetryStore(table.metrics, FLEET_STORE_ROWS, FLEET_STORE_BUCKETS)
        session.start_telemetry(rate_hz)
    listing = session.call(STORE_MODELS, Empty())
    health = session.call(HEALTH_LAST, Empty())
    alerts = session.call(ALERTS_LIST, AlertQuery())
    ongoing = [a for a in alerts.alerts if a.end is None]
    return {"state": "connected", "why": "", "board": caps.board or caps.board_model, "jetpack": caps.jetpack,
            "runtime": session.runtime_version, "models": {m.name: m.active for m in listing.models},
            "health": health.overall if health.t else None,
            "failing": [c.title for c in health.checks if c.status == "fail"] if health.t else [],
            "open_alerts": len(ongoing), "alerts": [a.message for a in ongoing]}


def unreachable_text(exc: BaseException, display: str) -> str:
    """Why a device could not be read, and what to do; one line for the grid."""
    if isinstance(exc, UnknownHostKey):
        return ("%s: its host key is not trusted yet. Open %s from the device list to check the fingerprint "
                "and trust it." % (str(exc).rstrip("."), display))
    why = unreachable_why(exc) or (str(exc).strip() or type(exc).__name__)
    return ("%s. Check that it is on and its runtime is up; the Fleet page tries again every %.0f s."
            % (why.rstrip("."), RETRY_EVERY_S))


def hottest(store: TelemetryStore | None) -> tuple[str | None, float | None]:
    """The hottest sensor in the store's newest sample, by the metric table's unit."""
    if store is None:
        return None, None
    best: tuple[str | None, float | None] = (None, None)
    for metric in store.metrics:
        if metric.unit != TEMPERATURE_UNIT:
            continue
        value = store.latest(metric.name)
        if value is not None and (best[1] is None or value > best[1]):
            best = (metric.name, value)
    return best


def benchmark_text(book: BenchmarkBook | None, device: str) -> str:
    if book is None:
        return ""
    mine = [e for e in book.entries() if e.device == device]
    if not mine:
        return ""
    last = max(mine, key=lambda e: e.finished)
    when = time.strftime("%m-%d %H:%M", time.localtime(last.finished)) if last.finished else ""
    median = last.result.latency.median
    shown = "%.2f" % median if median >= 0.1 else "%.2g" % median  # a tiny model's 0.0036 ms is not 0.00
    return "%s ms median · %s%s" % (shown, last.title, " · %s" % when if when else "")


class FleetTableModel(QAbstractTableModel):
    """The rows, one per registered device, changed on the GUI thread only."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.rows: list[DeviceRow] = []
        self._icons: dict[str, QIcon] = {}

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def row_of(self, name: str) -> int:
        for number, row in enumerate(self.rows):
            if row.name == name:
                return number
        return -1

    def get(self, name: str) -> DeviceRow | None:
        number = self.row_of(name)
        return self.rows[number] if number >= 0 else None

    def set_rows(self, rows: list[DeviceRow]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def changed(self, name: str) -> None:
        number = self.row_of(name)
        if number >= 0:
            self.dataChanged.emit(self.index(number, 0), self.index(number, len(COLUMNS) - 1))

    def _icon(self, key: str) -> QIcon:
        icon = self._icons.get(key)
        if icon is None:
            icon = self._icons[key] = state_icon(key)
        return icon

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, column)
        if role == SORT_ROLE:
            return self._sort_key(row, column)
        if role == NAME_ROLE:
            return row.name
        if role == TAGS_ROLE:
            return row.tags
        if role == Qt.ItemDataRole.DecorationRole and column == COL["State"]:
            return self._icon(row.health if row.state == "connected" and row.health else
                              "unreachable" if row.state == "unreachable" else row.state)
        if role == Qt.ItemDataRole.ForegroundRole and column == COL["Health"] and row.health:
            return QColor(HEALTH_COLORS.get(row.health, HEALTH_COLORS["unknown"]))
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = ["%s: %s" % (row.display, row.state_text())]
            if row.state == "unreachable" and row.why:
                lines.append(row.why)
            if row.hottest_sensor:
                lines.append("hottest: %s" % row.hottest_sensor)
            lines.extend(row.alerts)
            if row.note:
                lines.append(row.note)
            return "\n".join(lines)
        return None

    @staticmethod
    def _text(row: DeviceRow, column: int) -> str:
        known = row.read_at is not None
        if column == COL["Device"]:
            return row.display
        if column == COL["State"]:
            return row.state_text()
        if column == COL["Board"]:
            return row.board or ("-" if known else "")
        if column == COL["JetPack"]:
            return row.jetpack or ("not a Jetson" if known and row.board else "")
        if column == COL["Runtime"]:
            return row.runtime or ""
        if column == COL["Models"]:
            return row.models_text() or ("no models" if known else "")
        if column == COL["Health"]:
            return row.health or ("not run yet" if known else "")
        if column == COL["Hottest"]:
            if row.hottest_c is not None:
                return "%.1f °C" % row.hottest_c
            return "no sensor" if known and row.state == "connected" else ""
        if column == COL["Alerts"]:
            return "" if row.open_alerts is None else str(row.open_alerts)
        if column == COL["Last benchmark"]:
            return row.benchmark
        if column == COL["Tags"]:
            return ", ".join(row.tags)
        return row.notes_text()

    @classmethod
    def _sort_key(cls, row: DeviceRow, column: int) -> Any:
        if column == COL["State"]:
            return STATE_ORDER.get(row.state, 0) * 10 + HEALTH_ORDER.get(row.health or "unknown", 2)
        if column == COL["Health"]:
            return HEALTH_ORDER.get(row.health or "unknown", 2)
        if column == COL["Hottest"]:
            return row.hottest_c if row.hottest_c is not None else -1000.0
        if column == COL["Alerts"]:
            return row.open_alerts if row.open_alerts is not None else -1
        return cls._text(row, column).lower()


class FleetFilter(QSortFilterProxyModel):
    """Rows whose text holds every word typed, and that carry every chosen tag."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.words: list[str] = []
        self.tags: set[str] = set()
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self.words = text.lower().split()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_tags(self, tags: set[str]) -> None:
        self.beginFilterChange()
        self.tags = set(tags)
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        model = self.sourceModel()
        assert isinstance(model, FleetTableModel)
        row = model.rows[source_row]
        if not self.tags <= set(row.tags):
            return False
        if not self.words:
            return True
        text = " ".join([row.name] + [model._text(row, c) for c in range(len(COLUMNS))]).lower()
        return all(word in text for word in self.words)


class FleetWatcher(QObject):
    """Keeps every registered device's row fresh (see the module's docstring)."""

    factsArrived = Signal(str, object)  # device, dict from read_facts or {"state": "unreachable", "why": ...}
    rowsChanged = Signal()  # devices were added or removed
    updated = Signal()  # after each tick and each device's read: summaries may change

    def __init__(self, core: ConsoleCore, book: BenchmarkBook | None = None, rate_hz: float = FLEET_RATE_HZ,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.core = core
        self.book = book
        self.rate_hz = rate_hz
        self.table = FleetTableModel(self)
        self.paged: set[str] = set()  # devices whose own pages stream them (their store is the page's)
        self._pool: ThreadPoolExecutor | None = ThreadPoolExecutor(WORKERS, thread_name_prefix="fleet-watch")
        self._busy: set[str] = set()
        self._due: dict[str, float] = {}  # monotonic time of each device's next read
        self._closed = False
        self.factsArrived.connect(self._on_facts)
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.tick)
        self.reload()
        self.timer.start()
        self.tick()

    # -- devices -----------------------------------------------------------------------------
    def reload(self) -> None:
        """The registry's devices, in its order; rows of devices still there keep what they know."""
        old = {r.name: r for r in self.table.rows}
        rows = []
        for entry in self.core.registry.devices():
            row = old.get(entry.name) or DeviceRow(entry.name, entry.display_name, list(entry.tags))
            row.display, row.tags = entry.display_name, list(entry.tags)
            row.benchmark = benchmark_text(self.book, entry.name)
            rows.append(row)
        self.table.set_rows(rows)
        for name in list(self._due):
            if name not in {r.name for r in rows}:
                self._due.pop(name)
        self.rowsChanged.emit()

    def names(self) -> list[str]:
        return [r.name for r in self.table.rows]

    def tags(self) -> list[str]:
        return sorted({t for r in self.table.rows for t in r.tags})

    def page_opened(self, name: str) -> None:
        """A device page now streams ``name``: its full store (with back-filled history) replaces ours."""
        self.paged.add(name)
        session = self.core.session(name)
        store = session.store
        if store is not None and store.full.capacity == FLEET_STORE_ROWS:
            session.store = None

    def page_closed(self, name: str) -> None:
        self.paged.discard(name)
        self._due[name] = 0.0

    def refresh(self, names: Sequence[str] | None = None) -> None:
        """Read these devices (all of them for None) at the next tick."""
        for name in names if names is not None else self.names():
            self._due[name] = 0.0
        self.tick()

    # -- GUI thread ----------------------------------------------------------------------------
    def tick(self) -> None:
        """Each second: connection states and temperatures from the sessions, and reads that are due."""
        if self._closed:
            return
        now = time.monotonic()
        for row in self.table.rows:
            session = self.core.session(row.name)
            before = (row.state, row.hottest_c, row.why)
            state = session.state
            if state is State.CONNECTED and row.read_at is not None:
                row.state, row.why = "connected", ""
            elif state is State.RECONNECTING:
                row.state, row.why = "reconnecting", session.message
            elif state is State.FAILED and row.state == "connected":
                row.state, row.why = "unreachable", unreachable_text(ConnectionError(session.message), row.display)
            store = session.store
            row.sampled = row.state == "connected" and store is not None and store.last_t is not None
            row.hottest_sensor, value = hottest(store) if row.state == "connected" else (None, None)
            row.hottest_c = None if value is None else round(value, 1)
            if (row.state, row.hottest_c, row.why) != before:
                self.table.changed(row.name)
            if row.name not in self._busy and now >= self._due.get(row.name, 0.0):
                self._read(row, session)
        self.updated.emit()

    def _read(self, row: DeviceRow, session: DeviceSession) -> None:
        if self._pool is None:
            return
        name, display, own, rate = row.name, row.display, row.name not in self.paged, self.rate_hz
        emit = self.factsArrived.emit
        self._busy.add(name)

        def job() -> None:
            try:
                facts = read_facts(session, own, rate)
            except Exception as exc:  # a device that cannot be read is a row that says why, never a crash
                facts = {"state": "unreachable", "why": unreachable_text(exc, display)}
            emit(name, facts)

        self._pool.submit(job)

    def _on_facts(self, name: str, facts: dict[str, Any]) -> None:
        self._busy.discard(name)
        row = self.table.get(name)
        if row is None or self._closed:
            return
        state = facts["state"]
        self._due[name] = time.monotonic() + (FACTS_EVERY_S if state == "connected" else RETRY_EVERY_S)
        row.state, row.why = state, str(facts.get("why", ""))
        if state == "connected":
            row.read_at = time.monotonic()
            for key in ("board", "jetpack", "runtime", "models", "health", "failing", "open_alerts", "alerts"):
                setattr(row, key, facts[key])
        row.benchmark = benchmark_text(self.book, name)
        self.table.changed(name)
        self.updated.emit()

    def note(self, name: str, text: str) -> None:
        row = self.table.get(name)
        if row is not None:
            row.note = text
            self.table.changed(name)

    def settled(self) -> bool:
        """Whether every device has been read (or found unreachable) at least once, and each connected one
        has sent a sample (or had time to: a device may send none)."""
        now = time.monotonic()
        return all(r.state == "unreachable" or (r.read_at is not None and (
            r.sampled or now - r.read_at > SAMPLE_WAIT_S)) for r in self.table.rows)

    def close(self) -> None:
        """Stop reading; the sessions belong to the core, which closes them. Reads under way are not
        waited for (one may wait on an SSH question only this thread can show); what they find is dropped."""
        if self._closed:
            return
        self._closed = True
        self.timer.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


@dataclass
class ActionResult:
    """How a fleet action ended: its record (rollouts), or the outcomes (health runs), or why it could not run."""

    kind: str  # health, deploy, rollback, resume, abandon
    record: RolloutRecord | None = None
    outcomes: list[DeviceOutcome] = field(default_factory=list)
    error: str = ""
    stopped: bool = False  # the operator stopped it (or the console closed) before the end


class FleetActions(QObject):
    """One fleet action at a time, on a thread of its own; ``stageChanged`` and ``deviceDone`` as it goes."""

    stageChanged = Signal(str)
    deviceDone = Signal(str, object)  # phase, DeviceOutcome
    finished = Signal(object)  # ActionResult
    recordsChanged = Signal()

    def __init__(self, core: ConsoleCore, log: RolloutLog, parallel: int = 8, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.core = core
        self.log = log
        self.parallel = parallel
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._busy = False
        self.kind = ""
        # Connected first, so it runs before any view's slot: views that hear ``finished`` see the
        # action over, and none sees it over before its result is shown.
        self.finished.connect(self._on_finished)

    @property
    def running(self) -> bool:
        """An action was started and the GUI thread has not yet had its ``finished``. Not whether
        the thread lives: it can end before the page has even said the action began."""
        return self._busy

    def _on_finished(self, _result: object) -> None:
        self._busy = False

    def _progress(self) -> FleetProgress:
        stage, done, stop = self.stageChanged.emit, self.deviceDone.emit, self._stop

        def outcome(phase: str, result: DeviceOutcome) -> None:
            done(phase, result)
            if stop.is_set():  # the core's own interruption: devices under way finish their step
                raise KeyboardInterrupt

        return FleetProgress(stage, outcome)

    def _fleet(self, devices: Sequence[str]) -> Fleet:
        sessions = {d: self.core.session(d) for d in devices}  # made here, on the GUI thread
        return Fleet(sessions, self.core.env.operator, self.log, self.parallel, self._progress(), self.core.env.clock)

    def _start(self, kind: str, work: Callable[[], ActionResult]) -> bool:
        if self.running:
            return False
        self.kind = kind
        self._stop.clear()
        emit, changed = self.finished.emit, self.recordsChanged.emit

        def run() -> None:
            try:
                result = work()
            except KeyboardInterrupt:
                result = ActionResult(kind, stopped=True, error="stopped before the end")
            except Exception as exc:  # never a traceback: the page says what happened
                result = ActionResult(kind, error="%s could not run: %s" % (kind.capitalize(), exc))
            if kind != "health":
                changed()
            emit(result)

        self._busy = True
        self._thread = threading.Thread(target=run, name="fleet-%s" % kind, daemon=True)
        self._thread.start()
        return True

    def run_health(self, devices: list[str]) -> bool:
        sessions = {d: self.core.session(d) for d in devices}
        progress = self._progress()

        def work() -> ActionResult:
            progress.stage("running the health checks on %s" % ", ".join(devices))
            try:
                outcomes = run_each(devices, lambda d: run_health(sessions[d]), "The health run", self.parallel,
                                    lambda o: progress.outcome("health", o), self.core.env.clock)
            except KeyboardInterrupt:
                return ActionResult("health", stopped=True, error="the health run was stopped: the devices under "
                                    "way finished their checks, the others were not run")
            return ActionResult("health", outcomes=outcomes)

        return self._start("health", work)

    def deploy(self, plan: DeployPlan) -> bool:
        fleet = self._fleet(plan.devices)
        return self._start("deploy", lambda: self._rollout("deploy", lambda: fleet.deploy(plan)))

    def rollback(self, model: str, devices: list[str], to: str | None, why: str, selector: dict[str, Any]) -> bool:
        fleet = self._fleet(devices)
        return self._start("rollback", lambda: self._rollout(
            "rollback", lambda: fleet.rollback(model, devices, to, why, selector)))

    def resume(self, old: RolloutRecord) -> str:
        """Take an open deploy to the end; "" once started, else why not (and what to do)."""
        try:
            plan = resume_plan(old)
        except ValueError as exc:
            return str(exc)
        fleet = self._fleet(plan.devices)
        if not self._start("resume", lambda: self._rollout("resume", lambda: fleet.resume(old, plan))):
            return "another fleet action is under way; wait for it to end"
        return ""

    def abandon(self, old: RolloutRecord) -> str:
        """Close an open rollout as it stands (on the GUI thread: it only writes the record)."""
        try:
            Fleet({}, self.core.env.operator, self.log, clock=self.core.env.clock).abandon(old)
        except (ValueError, OSError) as exc:
            return str(exc)
        self.recordsChanged.emit()
        return ""

    def _rollout(self, kind: str, go: Callable[[], RolloutRecord]) -> ActionResult:
        before = {r.id for r in self.log.records()[0]}
        try:
            return ActionResult(kind, record=go())
        except KeyboardInterrupt:
            new = [r for r in self.log.records()[0] if r.id not in before]
            return ActionResult(kind, record=new[-1] if new else None, stopped=True)
        except ValueError as exc:
            return ActionResult(kind, error="%s; nothing was sent" % str(exc).rstrip("."))

    def stop(self) -> None:
        """Ask the action under way to stop: devices under way finish their step, the others are not touched."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the action's thread to end (the console closes); whether it did. Once it has,
        the action is over, whether or not its ``finished`` has reached the GUI thread yet."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        ended = thread is None or not thread.is_alive()
        if ended:
            self._busy = False
        return ended
