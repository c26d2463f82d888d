"""The Dashboard page: live charts generated from the device's metric table, alert and model
activation markers, and the event panel.

Samples arrive at the device's rate; a frame timer (about 12 fps) redraws only when something
new arrived, and only the charts that are on screen, so the sample rate, the number of charts
and the drawing cost stay independent. All charts share one time range: the wheel zooms it,
a drag pans it, and "Live" snaps it back to now.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QHideEvent, QResizeEvent, QShowEvent, QWheelEvent
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from console.core.devices.session import State
from console.core.telemetry.activations import Activation
from console.core.telemetry.export import ExportError, export_csv
from console.core.telemetry.latency import BudgetBook
from console.core.telemetry.time_window import TimeWindow
from console.core.text_units import duration
from console.ui.charts.chart import ChartCard, plain_label
from console.ui.charts.placeholder_card import PlaceholderCard
from console.ui.charts.time_view import ZOOM_MODIFIERS
from console.ui.dashboard.event_panel import EventPanel, clock_text
from console.ui.dashboard.latency_chart import TITLE as LATENCY_TITLE
from console.ui.dashboard.latency_chart import LatencyCard
from console.ui.dashboard.layout import LATENCY_GROUP, plan_sections
from console.ui.dashboard.qt_alerts import QtAlerts
from console.ui.dashboard.qt_latency import QtLatency
from console.ui.dashboard.thresholds_dialog import ThresholdsDialog
from console.ui.dashboard.toolbar import DashboardToolbar
from console.ui.devices.qt_session import QtSession
from console.ui.theme import Theme
from device_runtime.protocol import AlertEvent, MetricSpec

FRAME_MS = 80
COLUMNS = 2
ZOOM_ROLE = -1.0  # marks the window box's "zoomed" entry
# The event list's share of the page's height, within bounds: on a 1280 x 720 screen a whole row of
# charts stays above it; the person's own drag of the splitter is kept from then on.
EVENTS_SHARE, EVENTS_MIN_PX, EVENTS_MAX_PX = 0.18, 100, 220

SavePathAsker = Callable[[QWidget, str, str, str], "str | None"]


def ask_save_path(parent: QWidget, title: str, suggested: str, file_filter: str) -> str | None:
    path, _ = QFileDialog.getSaveFileName(parent, title, suggested, file_filter)
    return path or None


def _file_stem(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text).strip("-") or "chart"


class PageWheel(QObject):
    """A plain wheel over a chart scrolls the page; with Ctrl (or another modifier) the chart zooms."""

    def __init__(self, scroll: QScrollArea) -> None:
        super().__init__(scroll)
        self.scroll = scroll

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and isinstance(event, QWheelEvent) and not (
                event.modifiers() & ZOOM_MODIFIERS):
            QApplication.sendEvent(self.scroll.verticalScrollBar(), event)
            return True
        return False


class Dashboard(QWidget):
    def __init__(self, model: QtSession, theme: Theme, window_s: float = 300.0,
                 alerts: QtAlerts | None = None, decimate: bool = True,
                 budgets: BudgetBook | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.theme = theme
        self.alerts = alerts if alerts is not None else QtAlerts(model, self)
        self.decimate = decimate
        self.time = TimeWindow(window_s)
        self.ask_save_path: SavePathAsker = ask_save_path
        self.thresholds_dialog: ThresholdsDialog | None = None
        self.charts: list[ChartCard] = []
        # Slots no source fills; the latency card is one until a latency source reports.
        self.placeholders: list[PlaceholderCard | LatencyCard] = []
        self.latency = QtLatency(model, budgets, self)
        self.latency_card: LatencyCard | None = None
        self.group_headers: list[QLabel] = []
        self.activations: list[Activation] = []  # the device's model activations, oldest first
        self.frames_drawn = 0
        self._dirty = False

        self.toolbar = DashboardToolbar(self)
        self.paused = plain_label("")  # a held view says so in words, not only by the Live button's colour
        self.paused.setObjectName("PausedNotice")
        self.paused.setStyleSheet("QLabel#PausedNotice { background: #d99a1c; color: #1f1300; font-weight: bold;"
                                  " padding: 3px 8px; border-radius: 3px; }")
        self.paused.setVisible(False)
        self.live_action, self.rate_box, self.window_box = (self.toolbar.live_action, self.toolbar.rate_box,
                                                            self.toolbar.window_box)
        self.csv_action, self.thresholds_action = self.toolbar.csv_action, self.toolbar.thresholds_action
        self.notice, self.export_note = self.toolbar.notice, self.toolbar.export_note

        self._content = QWidget()
        self._content_layout = QVBoxLayout(self._content)
        self._content_layout.setContentsMargins(14, 4, 14, 14)
        self._content_layout.setSpacing(8)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setWidget(self._content)
        self._page_wheel = PageWheel(self.scroll_area)
        self.events = EventPanel()
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.scroll_area)
        self.splitter.addWidget(self.events)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setSizes([700, 170])
        self._events_dragged = False
        self.splitter.splitterMoved.connect(self._on_splitter_moved)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.paused)
        layout.addWidget(self.splitter, 1)

        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._on_frame)

        self._select(self.rate_box, model.rate_hz, "%g Hz")
        self._select(self.window_box, window_s, "%g s")
        self.live_action.toggled.connect(self._on_live_toggled)
        self.rate_box.currentIndexChanged.connect(self._on_rate_selected)
        self.window_box.currentIndexChanged.connect(self._on_window_selected)
        self.csv_action.triggered.connect(self.export_session_csv)
        self.thresholds_action.triggered.connect(self.open_thresholds)
        self.scroll_area.verticalScrollBar().valueChanged.connect(self._mark_dirty)
        self.events.alertActivated.connect(self.show_alert)
        self.events.activationActivated.connect(lambda a: self.show_moment(a.t))
        model.tableChanged.connect(self._on_table)
        model.sampleArrived.connect(self._on_sample)
        model.stateChanged.connect(self._on_state)
        model.rateChanged.connect(self._on_rate_changed)
        model.failed.connect(self._on_failed)
        model.outageChanged.connect(self.events.show_outage)
        self.alerts.alertChanged.connect(self._on_alert)
        self.latency.windowsArrived.connect(self._on_sample_latency)
        self.alerts.noticeChanged.connect(self.events.set_notice)
        for alert in self.alerts.alerts():
            self.events.show_alert(alert)
        self._live_before_outage = False
        for outage in model.session.outages:
            self.events.show_outage(outage)
        if model.store is not None:
            self._on_table(model.store.metrics)
        self._on_state(model.state.value, model.message)

    # -- what tests and the window read ------------------------------------------------------
    def points_drawn(self) -> int:
        return max([c.points() for c in self.charts] or [0])

    def set_live(self, live: bool) -> None:
        self.live_action.setChecked(live)

    @property
    def live(self) -> bool:
        return self.time.live

    @property
    def span_s(self) -> float:
        return self.time.span_s

    def _newest(self) -> float | None:
        store = self.model.store
        return store.last_t if store is not None else None

    def view_range(self) -> tuple[float, float] | None:
        """The shown time range in device time, or None before the first sample."""
        return self.time.range(self._newest())

    # -- building ----------------------------------------------------------------------------
    def _on_table(self, metrics: list[MetricSpec]) -> None:
        self._clear()
        for section in plan_sections(metrics):
            header = plain_label(section.group)
            header.setObjectName("GroupHeader")
            self.group_headers.append(header)
            self._content_layout.addWidget(header)
            grid = QGridLayout()
            grid.setSpacing(10)
            charts = [plan for plan in section.cards if plan.metrics]
            first_placeholder_row = (len(charts) + COLUMNS - 1) // COLUMNS
            for index, plan in enumerate(section.cards):
                card: QFrame
                if plan.metrics:
                    chart = ChartCard(plan.title, plan.metrics, self.theme, decimate=self.decimate)
                    chart.view_box.zoomRequested.connect(lambda f, x, c=chart: self.zoom(f, x + c.origin))
                    chart.plot.viewport().installEventFilter(self._page_wheel)
                    chart.view_box.panRequested.connect(self.pan)
                    chart.pngRequested.connect(lambda c=chart: self.export_chart_png(c))
                    chart.csvRequested.connect(self.export_session_csv)
                    self.charts.append(chart)
                    card = chart
                    grid.addWidget(card, index // COLUMNS, index % COLUMNS)
                elif section.group == LATENCY_GROUP and plan.title == LATENCY_TITLE:
                    latency = LatencyCard(self.latency, self.theme)
                    latency.view_box.zoomRequested.connect(lambda f, x, c=latency: self.zoom(f, x + (c.origin or 0)))
                    latency.plot.viewport().installEventFilter(self._page_wheel)
                    latency.view_box.panRequested.connect(self.pan)
                    self.latency_card = latency
                    self.placeholders.append(latency)
                    card = latency
                    grid.addWidget(card, first_placeholder_row + (index - len(charts)) // COLUMNS, 0, 1, COLUMNS)
                else:  # on rows of their own, so a short card never sits beside a tall chart
                    card = PlaceholderCard(plan.title, plan.missing)
                    self.placeholders.append(card)
                    slot = index - len(charts)
                    grid.addWidget(card, first_placeholder_row + slot // COLUMNS, slot % COLUMNS)
            for column in range(COLUMNS):
                grid.setColumnStretch(column, 1)
            self._content_layout.addLayout(grid)
        self._content_layout.addStretch(1)
        self._dirty = True

    def _clear(self) -> None:
        self.latency_card = None
        self.charts.clear()
        self.placeholders.clear()
        self.group_headers.clear()
        layout = self._content_layout
        while layout.count():
            child = layout.takeAt(0)
            if child is None:
                break
            inner = child.layout()
            while inner is not None and inner.count():
                sub = inner.takeAt(0)
                sub_widget = sub.widget() if sub is not None else None
                if sub_widget is not None:
                    sub_widget.deleteLater()
            widget = child.widget()
            if widget is not None:
                widget.deleteLater()

    # -- live updates ------------------------------------------------------------------------
    def _mark_dirty(self, *_args: object) -> None:
        self._dirty = True

    def _on_sample(self, _t: float) -> None:
        if self.live:
            self._dirty = True

    def _on_sample_latency(self) -> None:
        self._on_sample(0.0)

    def _on_frame(self) -> None:
        shown = self.view_range()
        store = self.model.store
        if not self._dirty or shown is None or store is None:
            return
        self._dirty = False
        start, end = shown
        alerts = self.alerts.log.between(start, end)
        changes = [a for a in self.activations if start <= a.t <= end]
        for chart in self.charts:
            if chart.visibleRegion().isEmpty():
                continue  # off screen: drawn when scrolled into view
            chart.set_alerts(alerts)
            chart.set_activations(changes)
            chart.redraw(store, start, end)
        if self.latency_card is not None and not self.latency_card.visibleRegion().isEmpty():
            self.latency_card.redraw(start, end)
        self.frames_drawn += 1
        if self.notice.text():
            self.notice.setText("")

    def _on_alert(self, alert: AlertEvent) -> None:
        self.events.show_alert(alert)
        self._dirty = True

    def _on_state(self, state: str, message: str) -> None:
        down = self.model.outage_text
        if state in (State.RECONNECTING.value, State.FAILED.value) and self.live:
            self._live_before_outage = True  # nothing new will come: Live goes off until the device is back
            self.set_live(False)
        if state == State.CONNECTED.value and self._live_before_outage:
            self._live_before_outage = False
            self.set_live(True)
        if state == State.CONNECTING.value and not down:
            self.notice.setText("Connecting to %s…" % self.model.display_name)
        elif state != State.CONNECTED.value and down:
            self.notice.setText("%s %s" % (self.model.display_name, down))
        elif state == State.FAILED.value:
            self.notice.setText("Not connected: %s" % message if message else "Not connected.")
        elif state == State.CONNECTED.value and not self.frames_drawn:
            self.notice.setText("Waiting for data…")
        elif state == State.CONNECTED.value and down == "" and self.notice.text().startswith(
                self.model.display_name + " disconnected"):
            self.notice.setText("")

    def _on_failed(self, message: str) -> None:
        self.notice.setText(message)

    # -- time range --------------------------------------------------------------------------
    def _on_live_toggled(self, live: bool) -> None:
        self.time.set_live(live, self._newest())
        self._dirty = True
        shown = self.view_range()
        self.paused.setText("Paused: the charts hold %s; Live (Space) follows now again" % (
            "%s - %s" % (clock_text(shown[0]), clock_text(shown[1])) if shown else "the time shown"))
        self.paused.setVisible(not live)

    def zoom(self, factor: float, at: float) -> None:
        """Scale the shown span by ``factor`` around device time ``at`` (live: around now)."""
        if self.time.zoom(factor, at, self._newest()):
            self._show_zoom_span()
            self._dirty = True

    def pan(self, dx: float) -> None:
        """Move the shown range by ``dx`` seconds; reaching now resumes live."""
        if self.view_range() is None:
            return
        end = self.time.pan_end(dx, self._newest())
        if end is None:
            self.set_live(True)
            return
        self.set_live(False)
        self.time.end = end
        self._dirty = True

    def show_alert(self, alert: AlertEvent) -> None:
        """Stop following now and show the alert's time, whole when it fits in a day."""
        store = self.model.store
        if store is None or store.last_t is None:
            return
        end = alert.end if alert.end is not None else store.last_t
        self._show_span(alert.start, end)

    def show_moment(self, t: float) -> None:
        """Stop following now and centre the charts on ``t`` (a deploy or a rollback)."""
        self._show_span(t, t)

    def _show_span(self, start: float, end: float) -> None:
        if self.time.show(start, end, self._newest()):
            self._show_zoom_span()
            self.set_live(False)  # the action follows; the held range stays as shown
            self._dirty = True

    def set_activations(self, found: list[Activation]) -> None:
        """The device's model activations (from its store history), marked on every chart and
        listed with the events."""
        self.activations = found
        self.events.show_activations(found)
        self._dirty = True

    def _show_zoom_span(self) -> None:
        box = self.window_box
        box.blockSignals(True)
        zoom_index = box.findData(ZOOM_ROLE, Qt.ItemDataRole.UserRole + 1)
        if zoom_index >= 0:
            box.removeItem(zoom_index)
        preset = box.findData(self.span_s)
        if preset >= 0:
            box.setCurrentIndex(preset)
        else:
            box.addItem(duration(self.span_s), self.span_s)
            box.setItemData(box.count() - 1, ZOOM_ROLE, Qt.ItemDataRole.UserRole + 1)
            box.setCurrentIndex(box.count() - 1)
        box.blockSignals(False)

    # -- export and thresholds ---------------------------------------------------------------
    def export_session_csv(self) -> None:
        store = self.model.store
        if store is None or store.last_t is None:
            self.export_note.setText("No telemetry yet: nothing to export.")
            return
        suggested = "%s-telemetry-%s.csv" % (_file_stem(self.model.name), time.strftime("%Y%m%d-%H%M%S"))
        path = self.ask_save_path(self, "Export telemetry as CSV", suggested, "CSV files (*.csv)")
        if not path:
            return
        try:
            rows = export_csv(store, Path(path))
        except ExportError as exc:
            self.export_note.setText(str(exc))
            return
        self.export_note.setText("Saved %d rows to %s" % (rows, path))

    def export_chart_png(self, chart: ChartCard) -> None:
        suggested = "%s-%s-%s.png" % (_file_stem(self.model.name), _file_stem(chart.title),
                                      time.strftime("%Y%m%d-%H%M%S"))
        path = self.ask_save_path(self, "Save chart as PNG", suggested, "PNG images (*.png)")
        if not path:
            return
        shown, store = self.view_range(), self.model.store
        if shown is not None and store is not None:  # it may be off screen and not drawn lately
            chart.redraw(store, *shown)
        about = self.model.display_name
        if shown is not None:
            about += " · %s to %s" % (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(shown[0])),
                                      time.strftime("%H:%M:%S", time.localtime(shown[1])))
        try:
            width, height = chart.save_png(Path(path), about)
        except ExportError as exc:
            self.export_note.setText(str(exc))
            return
        self.export_note.setText("Saved %s (%d x %d px)" % (path, width, height))

    def open_thresholds(self) -> ThresholdsDialog:
        dialog = ThresholdsDialog(self.alerts, self.model.display_name, self)
        self.thresholds_dialog = dialog
        dialog.open()
        return dialog

    # -- toolbar -----------------------------------------------------------------------------
    def _on_rate_selected(self, index: int) -> None:
        self.model.set_rate(float(self.rate_box.itemData(index)))

    def _on_rate_changed(self, rate_hz: float) -> None:
        self._select(self.rate_box, rate_hz, "%g Hz")

    def _on_window_selected(self, index: int) -> None:
        self.time.set_span(float(self.window_box.itemData(index)), self._newest())
        self._dirty = True

    @staticmethod
    def _select(box: QComboBox, value: float, fmt: str) -> None:
        index = box.findData(value)
        if index < 0:
            box.addItem(fmt % value, value)
            index = box.count() - 1
        if index != box.currentIndex():
            box.blockSignals(True)
            box.setCurrentIndex(index)
            box.blockSignals(False)

    def _on_splitter_moved(self, _pos: int, _index: int) -> None:
        self._events_dragged = True

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._events_dragged:
            return
        total = sum(self.splitter.sizes())
        events = int(min(EVENTS_MAX_PX, max(EVENTS_MIN_PX, self.height() * EVENTS_SHARE)))
        if total > events:
            self.splitter.setSizes([total - events, events])

    def showEvent(self, event: QShowEvent) -> None:
        self._timer.start()
        self._dirty = True
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        self._timer.stop()
        super().hideEvent(event)
