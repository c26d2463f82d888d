"""The main window: device sidebar, per-device page tabs and a one-line status bar."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QMainWindow, QSplitter, QStackedWidget, QTabWidget, QWidget

from console.core.app import ConsoleCore
from console.core.session import State
from console.transport.base import TransportError
from console.ui.chart import plain_label
from console.ui.dashboard import Dashboard
from console.ui.session_model import SessionModel
from console.ui.sidebar import DeviceSidebar
from console.ui.theme import Theme

PAGES = ("dashboard",)
STATUS_REFRESH_MS = 1000


def status_line(model: SessionModel) -> str:
    """``robot-07 · connected · runtime 0.4.1 · Orin NX · JetPack 6.2 · MAXN · 41°C``."""
    parts = [model.display_name, model.state.value]
    if model.state is State.FAILED and model.message:
        parts.append(model.message)
    caps = model.capabilities
    if model.state is State.CONNECTED and caps is not None:
        parts.append("runtime %s" % model.runtime_version)
        parts.append(caps.model)
        parts.append("JetPack %s" % caps.jetpack if caps.jetpack else caps.os)
        if caps.power_mode:
            parts.append(caps.power_mode)
        hottest = hottest_temperature(model)
        if hottest is not None:
            parts.append("%.0f°C" % hottest)
    return " · ".join(parts)


def hottest_temperature(model: SessionModel) -> float | None:
    store = model.store
    if store is None:
        return None
    temps = [store.latest(m.name) for m in store.metrics if m.unit == "°C"]
    known = [t for t in temps if t is not None]
    return max(known) if known else None


class MainWindow(QMainWindow):
    def __init__(self, core: ConsoleCore, theme: Theme, device: str, rate_hz: float | None = None,
                 page: str = "dashboard", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.core = core
        self.theme = theme
        self.rate_hz = rate_hz if rate_hz is not None else core.registry.settings.telemetry_rate_hz
        self.window_s = core.registry.settings.window_s
        self.start_page = page if page in PAGES else "dashboard"
        self.models: dict[str, SessionModel] = {}
        self.dashboards: dict[str, Dashboard] = {}
        self.open_errors: dict[str, str] = {}
        self._tabs: dict[str, QTabWidget] = {}
        self.current: str | None = None
        self.setWindowTitle("Edge Operator Console")

        self.sidebar = DeviceSidebar(core.registry.devices())
        self.pages = QStackedWidget()
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.sidebar)
        splitter.addWidget(self.pages)
        splitter.setStretchFactor(1, 1)
        splitter.setCollapsible(0, False)
        splitter.setSizes([220, 1180])
        self.setCentralWidget(splitter)
        self.status_label = plain_label()
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().setSizeGripEnabled(False)

        self._status_timer = QTimer(self)
        self._status_timer.setInterval(STATUS_REFRESH_MS)
        self._status_timer.timeout.connect(self._refresh_status)
        self._status_timer.start()
        for keys, slot in (("Ctrl+1", self._on_dashboard_key), ("F5", self._on_reconnect_key),
                           ("Ctrl+K", self._on_devices_key)):
            QShortcut(QKeySequence(keys), self).activated.connect(slot)
        self.sidebar.deviceChosen.connect(self._on_device_chosen)
        self.show_device(device)

    # -- devices -----------------------------------------------------------------------------
    def show_device(self, name: str) -> None:
        """Show a device's pages, connecting it on first view."""
        self.current = name
        self.sidebar.select(name)
        if name not in self._tabs:
            self._open(name)
        self.pages.setCurrentWidget(self._tabs[name])
        entry = self.core.registry.get(name)
        self.setWindowTitle("%s — Edge Operator Console" % entry.display_name)
        self._refresh_status()

    def _open(self, name: str) -> None:
        entry = self.core.registry.get(name)
        tabs = QTabWidget()
        tabs.setDocumentMode(True)
        self._tabs[name] = tabs
        self.pages.addWidget(tabs)
        try:
            session = self.core.session(name)
        except TransportError as exc:
            self.open_errors[name] = "Cannot open %s: %s." % (entry.display_name, str(exc).rstrip("."))
            tabs.addTab(plain_label(self.open_errors[name]), "Dashboard")
            self.sidebar.set_state(name, entry.display_name, State.FAILED.value)
            return
        model = SessionModel(session, self.rate_hz, backfill_s=self.window_s, parent=self)
        self.models[name] = model
        dashboard = Dashboard(model, self.theme, self.window_s)
        self.dashboards[name] = dashboard
        tabs.addTab(dashboard, "Dashboard")
        model.stateChanged.connect(self._on_state_changed)
        model.connect_device()

    def model(self) -> SessionModel | None:
        return self.models.get(self.current or "")

    def dashboard(self) -> Dashboard | None:
        return self.dashboards.get(self.current or "")

    # -- slots -------------------------------------------------------------------------------
    def _on_device_chosen(self, name: str) -> None:
        if name == self.current:
            return
        self.show_device(name)
        settings = self.core.registry.settings
        settings.last_device = name
        self.core.registry.save()

    def _on_state_changed(self, _state: str, _message: str) -> None:
        for name, model in self.models.items():
            self.sidebar.set_state(name, model.display_name, model.state.value)
        self._refresh_status()

    def _refresh_status(self) -> None:
        model = self.model()
        if model is not None:
            self.status_label.setText(status_line(model))
        elif self.current is not None:
            entry = self.core.registry.get(self.current)
            reason = self.open_errors.get(self.current, "")
            self.status_label.setText(" · ".join(p for p in (entry.display_name, "unreachable", reason) if p))

    def _on_dashboard_key(self) -> None:
        tabs = self._tabs.get(self.current or "")
        if tabs is not None:
            tabs.setCurrentIndex(PAGES.index("dashboard"))

    def _on_reconnect_key(self) -> None:
        model = self.model()
        if model is not None:
            model.reconnect()

    def _on_devices_key(self) -> None:
        self.sidebar.list.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop timers and close every session; the window may be closed or discarded after."""
        self._status_timer.stop()
        for dashboard in self.dashboards.values():
            dashboard.hide()
        for model in self.models.values():
            model.close()
