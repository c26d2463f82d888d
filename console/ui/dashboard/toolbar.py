"""The Dashboard's toolbar: Live, the sample rate, the time window, export, thresholds, and a
line of notices. A view only: the Dashboard connects its signals and fills the boxes."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QSizePolicy, QToolBar, QWidget

from console.ui.charts.chart import plain_label

RATES_HZ = (1.0, 2.0, 5.0, 10.0, 20.0)
WINDOWS_S = (("1 min", 60.0), ("5 min", 300.0), ("15 min", 900.0), ("1 h", 3600.0), ("6 h", 21600.0),
             ("24 h", 86400.0))


class DashboardToolbar(QToolBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.live_action = QAction("Live", self)
        self.live_action.setCheckable(True)
        self.live_action.setChecked(True)
        self.live_action.setShortcut(QKeySequence("Space"))
        self.live_action.setToolTip("Follow the newest samples; off, the charts stay on the time shown (Space)")
        self.addAction(self.live_action)
        self.addSeparator()
        self.addWidget(QLabel("Rate"))
        self.rate_box = QComboBox()
        for hz in RATES_HZ:
            self.rate_box.addItem("%g Hz" % hz, hz)
        self.rate_box.setToolTip("Samples per second requested from the device")
        self.addWidget(self.rate_box)
        self.addWidget(QLabel("Window"))
        self.window_box = QComboBox()
        for text, seconds in WINDOWS_S:
            self.window_box.addItem(text, seconds)
        self.window_box.setToolTip("How much history the charts show (Ctrl + wheel over a chart zooms)")
        self.addWidget(self.window_box)
        self.addSeparator()
        self.csv_action = self.addAction("Export CSV…")
        self.csv_action.setToolTip("Save this session's telemetry as a CSV file")
        self.thresholds_action = self.addAction("Thresholds…")
        self.thresholds_action.setToolTip("Alert thresholds of this device")
        self.notice = plain_label("Connecting…")
        self.notice.setObjectName("DashboardNotice")
        self.notice.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.addSeparator()
        self.addWidget(self.notice)
        self.export_note = plain_label("")
        self.export_note.setObjectName("DashboardNotice")
        self.addWidget(self.export_note)
