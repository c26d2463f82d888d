"""The main window: device sidebar, per-device page tabs and a one-line status bar."""

from __future__ import annotations

import functools
import math

from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import QMainWindow, QMessageBox, QSplitter, QStackedWidget, QTabWidget, QVBoxLayout, QWidget

from console.core.app import ConsoleCore
from console.core.devices.first_launch import demo_model_file
from console.core.devices.local_runtime import LocalRuntimeError, stop_local_runtime
from console.core.devices.session import State
from console.core.fleet.records import RolloutLog
from console.core.logs import log_path
from console.core.optimize.benchmarks import BenchmarkBook
from console.core.settings import LOCAL_DEVICE
from console.core.telemetry.activations import activations
from console.core.telemetry.latency import BudgetBook
from console.transport.base import TransportError
from console.ui.charts.chart import plain_label
from console.ui.dashboard.page import Dashboard
from console.ui.devices.add_device_dialog import AddDeviceDialog
from console.ui.devices.connection_banner import ConnectionBanner
from console.ui.devices.hostkey_dialog import DialogPrompts
from console.ui.devices.install_dialog import attach_install_action
from console.ui.devices.qt_session import QtSession
from console.ui.devices.sidebar import DeviceSidebar
from console.ui.devices.status_bar import first_launch_job, status_line, temperature_text
from console.ui.field_mode import FieldModeView
from console.ui.fleet.model import FleetActions, FleetWatcher
from console.ui.fleet.page import FleetPage
from console.ui.health.page import HealthPage
from console.ui.health.qt_health import QtHealth
from console.ui.jobs.page import JobsPage
from console.ui.jobs.qt_jobs import QtJobs
from console.ui.models.page import ModelsPage
from console.ui.models.qt_models import QtModels
from console.ui.optimize.benchmarks_page import BenchmarksPage
from console.ui.optimize.page import OptimizePage
from console.ui.shortcuts_dialog import ShortcutsDialog
from console.ui.theme import Theme
from device_runtime.protocol import SEVERITY_CRITICAL, AlertEvent

# Tab order (Dashboard | Models | Optimize | Jobs | Benchmarks | Health); Ctrl+1.. follow it.
PAGES = ("dashboard", "models", "optimize", "jobs", "benchmarks", "health")
FLEET = "fleet"  # every device in one grid (Ctrl+0), first in the device list while more than one is known
STATUS_REFRESH_MS = 1000


class MainWindow(QMainWindow):
    def __init__(self, core: ConsoleCore, theme: Theme, device: str, rate_hz: float | None = None,
                 page: str = "dashboard", parent: QWidget | None = None, field_mode: bool | None = None,
                 first_launch: bool = True) -> None:
        super().__init__(parent)
        self.core = core
        self.theme = theme
        self.rate_hz = rate_hz if rate_hz is not None else core.registry.settings.telemetry_rate_hz
        self.window_s = core.registry.settings.window_s
        self.start_page = page if page in PAGES else "dashboard"
        self.start_fleet = page == FLEET
        self.fleet_page: FleetPage | None = None
        self._fleet_shown_rows: dict[str, tuple[str, str | None]] = {}  # what the sidebar shows of fleet rows
        self.models: dict[str, QtSession] = {}
        self.dashboards: dict[str, Dashboard] = {}
        self.jobs_models: dict[str, QtJobs] = {}
        self.store_models: dict[str, QtModels] = {}
        self.health_models: dict[str, QtHealth] = {}
        self.field_views: dict[str, QWidget] = {}
        self.page_widgets: dict[str, dict[str, QWidget]] = {}  # device -> page key -> its widget
        self.benchmark_book = BenchmarkBook(core.env.data_dir / "benchmarks.jsonl")
        self.open_errors: dict[str, str] = {}
        self._tabs: dict[str, QTabWidget] = {}
        # The built-in device gets the demo model and the probe on its first connection (once per store).
        self._first_launch = {LOCAL_DEVICE} if first_launch else set()
        self.current: str | None = None
        self.setWindowTitle("Edge Operator Console")

        self.sidebar = DeviceSidebar(core.registry.devices())
        self.pages = QStackedWidget()
        self.banner = ConnectionBanner()  # the current device's outage, above every page
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.banner)
        column.addWidget(self.pages, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.sidebar)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setCollapsible(0, False)
        splitter.setSizes([220, 1180])
        self.field_stack = QStackedWidget()  # field mode: one simplified view per device
        self.modes = QStackedWidget()
        self.modes.addWidget(splitter)
        self.modes.addWidget(self.field_stack)
        self.setCentralWidget(self.modes)
        self.field_action = QAction("&Field mode", self)
        self.field_action.setCheckable(True)
        self.field_action.setShortcut(QKeySequence("Ctrl+Shift+F"))
        self.field_action.setToolTip("One device, its models, health and a big Rollback button")
        self.menuBar().addMenu("&View").addAction(self.field_action)
        self.stop_local_action = QAction("&Stop this computer's runtime", self)
        self.stop_local_action.setToolTip("The built-in device's daemon keeps running after the window closes; "
                                          "this stops it (Reconnect or F5 starts it again)")
        self.stop_local_action.triggered.connect(self.stop_local_runtime)
        self.menuBar().addMenu("&Device").addAction(self.stop_local_action)
        self.shortcuts_action = QAction("&Keyboard shortcuts", self)
        self.shortcuts_action.setShortcut(QKeySequence("F1"))
        self.shortcuts_action.triggered.connect(self.show_shortcuts)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self.shortcuts_action)
        self.open_log_action = QAction("Open the console's &log", self)
        self.open_log_action.setToolTip("What this console did and saw: connections, lost links, errors (%s)"
                                        % log_path(core.env))
        self.open_log_action.triggered.connect(self.open_log)
        help_menu.addAction(self.open_log_action)
        self.shortcuts_dialog: ShortcutsDialog | None = None
        self.status_label = plain_label()
        self.statusBar().addWidget(self.status_label, 1)
        self.temperature_label = plain_label()
        self.temperature_label.setObjectName("StatusTemperature")
        self.statusBar().addPermanentWidget(self.temperature_label)
        self.statusBar().setSizeGripEnabled(False)

        self._status_timer = QTimer(self)
        self._status_timer.setInterval(STATUS_REFRESH_MS)
        self._status_timer.timeout.connect(self._refresh_status)
        self._status_timer.start()
        for keys, slot in (("Ctrl+1", self._on_dashboard_key), ("F5", self._on_reconnect_key),
                           ("Ctrl+K", self._on_devices_key), ("Ctrl+0", self.show_fleet)):
            QShortcut(QKeySequence(keys), self).activated.connect(slot)
        for number, page_key in enumerate(PAGES[1:], start=2):
            shortcut = QShortcut(QKeySequence("Ctrl+%d" % number), self)
            shortcut.activated.connect(lambda key=page_key: self.show_page(key))
        self.sidebar.deviceChosen.connect(self._on_device_chosen)
        self.sidebar.fleetChosen.connect(self.show_fleet)
        self.sidebar.addRequested.connect(self._on_add_device)
        self.sidebar.editRequested.connect(self.edit_device)
        self.sidebar.removeRequested.connect(self.remove_device)
        attach_install_action(self.sidebar, core.env, core.registry, self)  # "Install runtime…" on SSH devices
        core.env.ssh_prompts = DialogPrompts(self)  # host keys and secrets are asked in dialogs
        self.show_device(device)
        self.set_field_mode(core.registry.settings.field_mode if field_mode is None else field_mode)
        self.field_action.toggled.connect(self._on_field_mode_toggled)
        if self.start_fleet:
            self.show_fleet()

    # -- fleet -------------------------------------------------------------------------------
    def show_fleet(self) -> FleetPage:
        """Every device in one grid (made on first view: it then watches every registered device)."""
        page = self.fleet_page
        if page is None:
            watcher = FleetWatcher(self.core, self.benchmark_book, parent=self)
            for name in self.models:
                watcher.page_opened(name)  # their pages stream them already
            actions = FleetActions(self.core, RolloutLog(self.core.env.data_dir / "rollouts"), parent=self)
            page = self.fleet_page = FleetPage(watcher, actions)
            watcher.updated.connect(self._on_fleet_rows)
            self.pages.addWidget(page)
        if self.field_action.isChecked():
            self.set_field_mode(False)
        self.pages.setCurrentWidget(page)
        self.banner.set_model(None)
        self.sidebar.select_fleet()
        self.setWindowTitle("Fleet — Edge Operator Console")
        self._refresh_status()
        return page

    def fleet_shown(self) -> bool:
        return self.fleet_page is not None and self.pages.currentWidget() is self.fleet_page

    def _on_fleet_rows(self) -> None:
        """What the fleet reads of devices without open pages shows in the sidebar too."""
        page = self.fleet_page
        if page is None:
            return
        rows = page.watcher.table.rows
        words = "%d of %d connected" % (sum(r.state == "connected" for r in rows), len(rows))
        unhealthy = sum(r.state == "connected" and r.health == "unhealthy" for r in rows)
        self.sidebar.set_fleet_summary(words + (" · %d unhealthy" % unhealthy if unhealthy else ""))
        if self.fleet_shown():
            self._refresh_status()  # the status bar says what the page's title says, at once
        for row in page.watcher.table.rows:
            shown = (row.state, row.health)
            if row.name in self.models or self._fleet_shown_rows.get(row.name) == shown:
                continue
            self._fleet_shown_rows[row.name] = shown
            self.sidebar.set_state(row.name, row.display, row.state)
            if row.health:
                self.sidebar.set_health(row.name, row.health)

    def _fleet_reload(self) -> None:
        if self.fleet_page is not None:
            self.fleet_page.watcher.reload()

    # -- devices -----------------------------------------------------------------------------
    def show_device(self, name: str) -> None:
        """Show a device's pages, connecting it on first view."""
        self.current = name
        self.sidebar.select(name)
        if name not in self._tabs:
            self._open(name)
        self.pages.setCurrentWidget(self._tabs[name])
        self.banner.set_model(self.models.get(name))
        entry = self.core.registry.get(name)
        self.setWindowTitle("%s — Edge Operator Console" % entry.display_name)
        self._refresh_status()
        if self.field_action.isChecked():
            self.field_stack.setCurrentWidget(self._field_view(name))

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
        session.enable_reconnect()  # every device, the built-in one too: its daemon may be restarted
        if self.fleet_page is not None:  # its page streams it from now on, with its full history
            self.fleet_page.watcher.page_opened(name)
        model = QtSession(session, self.rate_hz, backfill_s=self.window_s, parent=self)
        self.models[name] = model
        dashboard = Dashboard(model, self.theme, self.window_s, budgets=BudgetBook(self.core.registry))
        self.dashboards[name] = dashboard
        dashboard.alerts.alertChanged.connect(lambda _alert: self._on_alerts(name))
        tabs.addTab(dashboard, "Dashboard")
        self._add_job_pages(name, tabs, model)
        self._add_models_page(name, tabs, model)
        self._add_health_page(name, tabs, model)
        model.stateChanged.connect(self._on_state_changed)
        model.noticed.connect(lambda text: self.statusBar().showMessage(text, 15_000))
        model.connect_device()

    def _add_job_pages(self, name: str, tabs: QTabWidget, model: QtSession) -> None:
        jobs = QtJobs(model, self.benchmark_book, parent=self)
        self.jobs_models[name] = jobs
        pages: dict[str, QWidget] = {"dashboard": self.dashboards[name], "optimize": OptimizePage(
                                         jobs, model, demo_file=demo_model_file(self.core.env)),
                                     "jobs": JobsPage(jobs), "benchmarks": BenchmarksPage(jobs, self.theme)}
        self.page_widgets[name] = pages
        for key, title in (("optimize", "Optimize"), ("jobs", "Jobs"), ("benchmarks", "Benchmarks")):
            tabs.addTab(pages[key], title)
        if self.start_page in pages:
            tabs.setCurrentWidget(pages[self.start_page])

    def _add_models_page(self, name: str, tabs: QTabWidget, model: QtSession) -> None:
        env = self.core.env
        store = QtModels(model, env.operator, env.config_dir / "keys", parent=self)
        self.store_models[name] = store
        dashboard = self.dashboards.get(name)
        if dashboard is not None:  # deploys and rollbacks marked on its charts, from the store's history
            store.changed.connect(lambda: dashboard.set_activations(activations(store.tracker.snapshot)))
        optimize = self.page_widgets.get(name, {}).get("optimize")
        if isinstance(optimize, OptimizePage):  # its "Deploy this result" deploys through this store
            optimize.set_store(store, env.config_dir / "keys")
        page = ModelsPage(store, env.config_dir / "keys")
        self.page_widgets.setdefault(name, {})["models"] = page
        tabs.insertTab(PAGES.index("models"), page, "Models")
        if self.start_page == "models":
            tabs.setCurrentWidget(page)

    def _add_health_page(self, name: str, tabs: QTabWidget, model: QtSession) -> None:
        health = QtHealth(model, self.core.env.data_dir, parent=self)  # with the last commissioning run kept
        self.health_models[name] = health
        health.reportChanged.connect(lambda report: self.sidebar.set_health(name, report.overall))
        health.commissioningChanged.connect(lambda report: self.sidebar.set_commissioning(name, report.overall))
        if health.commissioning is not None:
            self.sidebar.set_commissioning(name, health.commissioning.overall)
        page = HealthPage(health, self.core.env)
        self.page_widgets.setdefault(name, {})["health"] = page
        tabs.insertTab(PAGES.index("health"), page, "Health")
        if self.start_page == "health":
            tabs.setCurrentWidget(page)

    # -- field mode --------------------------------------------------------------------------
    def set_field_mode(self, on: bool) -> None:
        """Show the current device's field view (or the full console); the menu follows."""
        self.field_action.setChecked(on)
        if on and self.current is not None:
            self.field_stack.setCurrentWidget(self._field_view(self.current))
        self.modes.setCurrentIndex(1 if on else 0)

    def field_mode(self) -> bool:
        return self.field_action.isChecked()

    def _field_view(self, name: str) -> QWidget:
        view = self.field_views.get(name)
        if view is None:
            model, store = self.models.get(name), self.store_models.get(name)
            if model is None or store is None:
                view = plain_label(self.open_errors.get(name, "Cannot open %s." % name))
            else:
                field = FieldModeView(store, model)
                field.exitRequested.connect(lambda: self.field_action.setChecked(False))
                view = field
            self.field_views[name] = view
            self.field_stack.addWidget(view)
        return view

    def _on_field_mode_toggled(self, on: bool) -> None:
        self.set_field_mode(on)
        self.core.registry.settings.field_mode = on
        self.core.registry.save()

    def show_page(self, key: str) -> None:
        """Bring one of the current device's pages to the front (Ctrl+1..)."""
        tabs = self._tabs.get(self.current or "")
        widget = self.page_widgets.get(self.current or "", {}).get(key)
        if tabs is not None and widget is not None:
            tabs.setCurrentWidget(widget)

    def page_ready(self, dashboard_drawn: bool) -> bool:
        """Whether the start page shows live data yet (for --screenshot)."""
        if self.start_fleet:
            return self.fleet_page is not None and self.fleet_page.ready()
        if self.field_mode():
            view = self.field_views.get(self.current or "")
            return isinstance(view, FieldModeView) and view.ready()
        if self.start_page == "dashboard":
            return dashboard_drawn
        page = self.page(self.start_page)
        return isinstance(page, (ModelsPage, OptimizePage, JobsPage, BenchmarksPage, HealthPage)) and page.ready()

    def page(self, key: str) -> QWidget | None:
        return self.page_widgets.get(self.current or "", {}).get(key)

    def model(self) -> QtSession | None:
        return self.models.get(self.current or "")

    def dashboard(self) -> Dashboard | None:
        return self.dashboards.get(self.current or "")

    # -- slots -------------------------------------------------------------------------------
    def _on_device_chosen(self, name: str) -> None:
        if name == self.current and not self.fleet_shown():
            return
        self.show_device(name)
        settings = self.core.registry.settings
        settings.last_device = name
        self.core.registry.save()

    def _on_add_device(self) -> None:
        entry = AddDeviceDialog.ask(self.core.registry, self)
        if entry is not None:
            self.sidebar.add_device(entry)
            self._fleet_reload()
            self._on_device_chosen(entry.name)

    def edit_device(self, name: str) -> AddDeviceDialog:
        """Change how a registered device is reached; its pages reconnect with the saved entry."""
        dialog = AddDeviceDialog(self.core.registry, self, editing=self.core.registry.get(name))
        dialog.accepted.connect(lambda: self._reopen(name))
        dialog.open()
        return dialog

    def remove_device(self, name: str) -> None:
        entry = self.core.registry.get(name)
        if not self.confirm("Remove device", "Remove %s from this console? Nothing changes on the device; its "
                            "pages close and you can add it again." % entry.display_name):
            return
        self.core.registry.remove(name)
        self._forget(name)
        self.sidebar.remove_device(name)
        self._fleet_reload()
        self._on_device_chosen(LOCAL_DEVICE)

    def _reopen(self, name: str) -> None:
        self._forget(name)
        self._fleet_reload()
        self.current = None
        self.show_device(name)

    def _forget(self, name: str) -> None:
        """Close a device's pages and its connection (its entry changed or it was removed)."""
        dashboard = self.dashboards.pop(name, None)
        if dashboard is not None:
            dashboard.hide()
        for book in (self.jobs_models, self.store_models, self.health_models, self.models):
            adapter = book.pop(name, None)
            if adapter is not None:
                adapter.close()
        if self.fleet_page is not None:
            self.fleet_page.watcher.page_closed(name)
        self.core.forget(name)
        for stack, widget in ((self.pages, self._tabs.pop(name, None)),
                              (self.field_stack, self.field_views.pop(name, None))):
            if widget is not None:
                stack.removeWidget(widget)
                widget.deleteLater()
        self.page_widgets.pop(name, None)
        self.open_errors.pop(name, None)

    def _on_state_changed(self, _state: str, _message: str) -> None:
        for name, model in self.models.items():
            self.sidebar.set_state(name, model.display_name, model.state.value)
            self._enable_device_actions(name, model.state is State.CONNECTED)
            if name in self._first_launch and model.state is State.CONNECTED:
                self._first_launch.discard(name)
                model.run_blocking(functools.partial(first_launch_job, model.session, self.core.env,
                                                     model.failed.emit))
        self._refresh_status()

    def _enable_device_actions(self, name: str, connected: bool) -> None:
        """Pages that act on the device wait for it; the banner above them says why. The Dashboard
        (its history stays readable) and Benchmarks (results kept in this console) stay usable."""
        for key, page in self.page_widgets.get(name, {}).items():
            if key not in ("dashboard", "benchmarks"):
                page.setEnabled(connected)

    def ongoing_alerts(self, name: str) -> list[AlertEvent]:
        dashboard = self.dashboards.get(name)
        return [a for a in dashboard.alerts.alerts() if a.end is None] if dashboard is not None else []

    def _on_alerts(self, name: str) -> None:
        """An alert started or ended: the sidebar and the status bar say so now, not at the next health run."""
        self.sidebar.set_alerts(name, self.ongoing_alerts(name))
        if name == self.current:
            self._refresh_status()

    def _refresh_status(self) -> None:
        model = self.model()
        if self.fleet_page is not None and self.fleet_shown():
            self.status_label.setText(self.fleet_page.title.text())
            self.temperature_label.setText("")
            self.temperature_label.setStyleSheet("")
        elif model is not None:
            ongoing = self.ongoing_alerts(self.current or "")
            line = status_line(model)
            if ongoing and model.state is State.CONNECTED:
                critical = sum(1 for a in ongoing if a.severity == SEVERITY_CRITICAL)
                line += " · %d alert%s%s" % (len(ongoing), "" if len(ongoing) == 1 else "s",
                                            " (%d critical)" % critical if critical else "")
            self.status_label.setText(line)
            text, style = temperature_text(model, ongoing)
            self.temperature_label.setText(text)
            self.temperature_label.setStyleSheet(style)
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

    def show_shortcuts(self) -> ShortcutsDialog:
        if self.shortcuts_dialog is None:
            self.shortcuts_dialog = ShortcutsDialog(self)
        self.shortcuts_dialog.show()
        self.shortcuts_dialog.raise_()
        return self.shortcuts_dialog

    def open_log(self) -> bool:
        """Open the console's log in the desktop's viewer; the status bar names the file either way."""
        path = log_path(self.core.env)
        if not path.exists():
            self.statusBar().showMessage("No log yet: %s is written once the console has something to say." % path,
                                         15_000)
            return False
        opened = QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
        self.statusBar().showMessage(("Opened the log: %s" if opened else
                                      "No program here opens text files; the log is %s") % path, 15_000)
        return opened

    def confirm(self, title: str, text: str) -> bool:
        return QMessageBox.question(self, title, text) == QMessageBox.StandardButton.Yes

    def stop_local_runtime(self) -> None:
        """Stop the built-in device's daemon, after saying what stops with it."""
        model = self.models.get(LOCAL_DEVICE)
        env = self.core.env
        if not self.confirm("Stop this computer's runtime", "Stop the runtime of This computer? Its running jobs "
                            "and latency probe stop; Reconnect (F5) starts it again."):
            return

        def stop() -> str:
            try:
                return "This computer's runtime: %s." % stop_local_runtime(env).rstrip(".")
            except LocalRuntimeError as exc:
                return "This computer's runtime could not be stopped: %s." % str(exc).rstrip(".")

        if model is None:
            self.statusBar().showMessage(stop(), 15_000)
            return
        model.close_link(stop)

    def _on_devices_key(self) -> None:
        self.sidebar.list.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def showEvent(self, event: QShowEvent) -> None:
        """Never open larger than the screen (a fixed size at 150 % scaling ran off a 1600x1000 laptop)."""
        screen = self.screen()
        if screen is not None and not self.isMaximized():
            room, ratio = screen.availableGeometry(), screen.devicePixelRatio()
            # whole device pixels: at 150 % a 1600 px screen is 1066 logical pixels, not 1067
            width, height = (math.floor(round(side * ratio) / ratio) for side in (room.width(), room.height()))
            if self.width() > width or self.height() > height:
                self.resize(min(self.width(), width), min(self.height(), height))
                self.move(room.topLeft())
        super().showEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop timers and close every session; the window may be closed or discarded after."""
        self._status_timer.stop()
        if self.fleet_page is not None:  # first: a rollout under way still uses the sessions
            self.fleet_page.shutdown()
        for dashboard in self.dashboards.values():
            dashboard.hide()
        for jobs in self.jobs_models.values():
            jobs.close()
        for store in self.store_models.values():
            store.close()
        for health in self.health_models.values():
            health.close()
        for model in self.models.values():
            model.close()
