"""The Dashboard page: live charts generated from the device's metric table.

Samples arrive at the device's rate; a frame timer (about 12 fps) redraws only when something
new arrived, so the sample rate and the drawing cost stay independent.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction, QHideEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from console.core.session import State
from console.ui.chart import ChartCard, plain_label
from console.ui.session_model import SessionModel
from console.ui.theme import Theme
from device_runtime.protocol import MetricSpec

RATES_HZ = (1.0, 2.0, 5.0, 10.0, 20.0)
WINDOWS_S = (("1 min", 60.0), ("5 min", 300.0), ("15 min", 900.0), ("1 h", 3600.0))
FRAME_MS = 80
COLUMNS = 2


def group_charts(metrics: list[MetricSpec]) -> dict[str, dict[str, list[MetricSpec]]]:
    """group -> chart title -> metrics, in the table's order."""
    groups: dict[str, dict[str, list[MetricSpec]]] = {}
    for spec in metrics:
        groups.setdefault(spec.group, {}).setdefault(spec.chart, []).append(spec)
    return groups


class Dashboard(QWidget):
    def __init__(self, model: SessionModel, theme: Theme, window_s: float = 300.0,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.theme = theme
        self.window_s = window_s
        self.charts: list[ChartCard] = []
        self.group_headers: list[QLabel] = []
        self.frames_drawn = 0
        self._dirty = False
        self._paused = False

        self.toolbar = QToolBar(self)
        self.pause_action = QAction("Pause", self)
        self.pause_action.setCheckable(True)
        self.pause_action.setShortcut(QKeySequence("Space"))
        self.pause_action.setToolTip("Pause or resume the live charts (Space)")
        self.toolbar.addAction(self.pause_action)
        self.toolbar.addSeparator()
        self.toolbar.addWidget(QLabel("Rate"))
        self.rate_box = QComboBox()
        for hz in RATES_HZ:
            self.rate_box.addItem("%g Hz" % hz, hz)
        self.rate_box.setToolTip("Samples per second requested from the device")
        self.toolbar.addWidget(self.rate_box)
        self.toolbar.addWidget(QLabel("Window"))
        self.window_box = QComboBox()
        for text, seconds in WINDOWS_S:
            self.window_box.addItem(text, seconds)
        self.window_box.setToolTip("How much history the charts show")
        self.toolbar.addWidget(self.window_box)
        self.notice = plain_label("Connecting…")
        self.notice.setObjectName("DashboardNotice")
        self.notice.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.toolbar.addSeparator()
        self.toolbar.addWidget(self.notice)

        self._content = QWidget()
        self._content_layout = QVBoxLayout(self._content)
        self._content_layout.setContentsMargins(14, 4, 14, 14)
        self._content_layout.setSpacing(8)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setWidget(self._content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.scroll_area, 1)

        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._on_frame)

        self._select(self.rate_box, model.rate_hz, "%g Hz")
        self._select(self.window_box, window_s, "%g s")
        self.pause_action.toggled.connect(self._on_pause_toggled)
        self.rate_box.currentIndexChanged.connect(self._on_rate_selected)
        self.window_box.currentIndexChanged.connect(self._on_window_selected)
        model.tableChanged.connect(self._on_table)
        model.sampleArrived.connect(self._on_sample)
        model.stateChanged.connect(self._on_state)
        model.rateChanged.connect(self._on_rate_changed)
        model.failed.connect(self._on_failed)
        if model.store is not None:
            self._on_table(model.store.metrics)
        self._on_state(model.state.value, model.message)

    # -- what tests and the window read ------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._paused

    def points_drawn(self) -> int:
        return max([c.points() for c in self.charts] or [0])

    def set_paused(self, paused: bool) -> None:
        self.pause_action.setChecked(paused)

    # -- building ----------------------------------------------------------------------------
    def _on_table(self, metrics: list[MetricSpec]) -> None:
        self._clear()
        for group, charts in group_charts(metrics).items():
            header = plain_label(group)
            header.setObjectName("GroupHeader")
            self.group_headers.append(header)
            self._content_layout.addWidget(header)
            grid = QGridLayout()
            grid.setSpacing(10)
            for index, (title, specs) in enumerate(charts.items()):
                card = ChartCard(title, specs, self.theme)
                self.charts.append(card)
                grid.addWidget(card, index // COLUMNS, index % COLUMNS)
            for column in range(COLUMNS):
                grid.setColumnStretch(column, 1)
            self._content_layout.addLayout(grid)
        self._content_layout.addStretch(1)
        self._dirty = True

    def _clear(self) -> None:
        self.charts.clear()
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
    def _on_sample(self, _t: float) -> None:
        self._dirty = True

    def _on_frame(self) -> None:
        store = self.model.store
        if self._paused or not self._dirty or store is None or store.last_t is None:
            return
        self._dirty = False
        now = store.last_t
        for chart in self.charts:
            chart.redraw(store, self.window_s, now)
        self.frames_drawn += 1
        if self.notice.text():
            self.notice.setText("")

    def _on_state(self, state: str, message: str) -> None:
        if state == State.CONNECTING.value:
            self.notice.setText("Connecting to %s…" % self.model.display_name)
        elif state == State.FAILED.value:
            self.notice.setText("Not connected: %s" % message if message else "Not connected.")
        elif state == State.CONNECTED.value and not self.frames_drawn:
            self.notice.setText("Waiting for data…")

    def _on_failed(self, message: str) -> None:
        self.notice.setText(message)

    def _on_pause_toggled(self, paused: bool) -> None:
        self._paused = paused
        self.pause_action.setText("Resume" if paused else "Pause")
        if not paused:
            self._dirty = True

    def _on_rate_selected(self, index: int) -> None:
        self.model.set_rate(float(self.rate_box.itemData(index)))

    def _on_rate_changed(self, rate_hz: float) -> None:
        self._select(self.rate_box, rate_hz, "%g Hz")

    def _on_window_selected(self, index: int) -> None:
        self.window_s = float(self.window_box.itemData(index))
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

    def showEvent(self, event: QShowEvent) -> None:
        self._timer.start()
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        self._timer.stop()
        super().hideEvent(event)
