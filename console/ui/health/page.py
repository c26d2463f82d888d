"""The Health page: the device's verdict in a word and a colour, every check with its last result
and what it found, how to fix each failing one, the history of runs, the audit log of operator
actions, and the way into settings and guided commissioning."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from console.core.commissioning.checklist import FAILED, PASSED, CommissionReport, outcome_sentence
from console.core.env import ConsoleEnv
from console.core.health.monitor import overall_label, status_label
from console.ui.charts.chart import plain_label
from console.ui.health.audit_view import AuditView
from console.ui.health.qt_health import HEALTH_COLORS, QtHealth, plain_tooltip
from console.ui.health.settings_dialog import HealthSettingsDialog
from console.ui.health.timeline import HealthTimeline
from device_runtime.protocol import HEALTH_FAIL, HEALTH_PASS, HEALTH_SKIP, SEVERITY_CRITICAL, HealthReport

COLUMNS = ("Check", "Result", "Severity", "Found")
FIX_PREFIX = "How to fix: "
TURN_ON_PREFIX = "To turn it on: "
VERDICT_STYLE = "font-size: 14pt; font-weight: bold;"


def check_color(status: str, severity: str) -> str:
    if status == HEALTH_PASS:
        return HEALTH_COLORS["healthy"]
    if status == HEALTH_FAIL:
        return HEALTH_COLORS["unhealthy" if severity == SEVERITY_CRITICAL else "degraded"]
    return HEALTH_COLORS["unknown"]


class HealthPage(QWidget):
    def __init__(self, health: QtHealth, env: ConsoleEnv, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.health = health
        self.env = env
        model = health.model
        self.verdict = plain_label(overall_label(None).upper())
        self.verdict.setObjectName("HealthVerdict")
        self.verdict.setStyleSheet(VERDICT_STYLE)
        self.verdict.setMinimumHeight(36)
        self.checked = plain_label("")
        self.checked.setObjectName("DashboardNotice")
        self.notice = plain_label("")
        self.notice.setWordWrap(True)
        self.notice.setObjectName("DashboardNotice")
        self.commissioning = plain_label("")
        self.commissioning.setWordWrap(True)
        self.commissioning.setObjectName("CommissioningOutcome")
        self.commissioning.setVisible(False)
        self.run_button = self._button("Run now", "Run every health check on the device now", self._on_run)
        self.settings_button = self._button("Settings…", "What the checks expect on this device", self.open_settings)
        self.commission_button = self._button("Commission…", "Guided commissioning checklist for this robot",
                                              self.open_commissioning)
        top = QHBoxLayout()
        top.addWidget(self.verdict)
        top.addWidget(self.checked, 1)
        for button in (self.run_button, self.settings_button, self.commission_button):
            top.addWidget(button)

        self.checks = QTreeWidget()
        self.checks.setColumnCount(len(COLUMNS))
        self.checks.setHeaderLabels(list(COLUMNS))
        self.checks.setRootIsDecorated(True)
        self.checks.setAccessibleName("Health checks")
        self.checks.setWordWrap(True)
        header = self.checks.header()
        for column in range(3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.timeline = HealthTimeline()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.timeline)
        self.audit = AuditView(model)
        self.tabs = QTabWidget()
        self.tabs.addTab(scroll, "History")
        self.tabs.addTab(self.audit, "Audit log")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.checks)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addLayout(top)
        layout.addWidget(self.notice)
        layout.addWidget(self.commissioning)
        layout.addWidget(splitter, 1)

        self.dialog: HealthSettingsDialog | None = None
        health.reportChanged.connect(self._on_report)
        health.historyReset.connect(self._on_history)
        health.noticeChanged.connect(self._on_notice)
        health.runFailed.connect(self._on_notice)
        health.configSaved.connect(lambda _config: self.audit.refresh())
        health.commissioningChanged.connect(self._on_commissioning)
        if health.commissioning is not None:
            self._on_commissioning(health.commissioning)
        elif health.commissioning_problem:  # in the outcome's place: the health notice is cleared as reports flow
            self.commissioning.setText("○ " + health.commissioning_problem)
            self.commissioning.setStyleSheet("color: %s; font-weight: bold;" % HEALTH_COLORS["degraded"])
            self.commissioning.setVisible(True)
        self._on_notice(health.notice)
        if health.last is not None:
            self._on_report(health.last)
            self._on_history()

    def _button(self, text: str, tip: str, slot: object) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.setMinimumHeight(32)
        button.clicked.connect(slot)
        return button

    def ready(self) -> bool:
        """Whether a report is shown (for --screenshot)."""
        return self.health.last is not None and self.checks.topLevelItemCount() > 0

    # -- user intent -------------------------------------------------------------------------
    def _on_run(self) -> None:
        self.checked.setText("running the checks…")
        self.health.run_now()

    def open_settings(self) -> HealthSettingsDialog:
        self.dialog = HealthSettingsDialog(self.health, self.health.model.display_name, self)
        self.dialog.open()
        return self.dialog

    def open_commissioning(self) -> QWidget:
        from console.ui.health.commission_wizard import CommissionWizard

        wizard = CommissionWizard(self.health, self.env, self)
        wizard.open()
        return wizard

    # -- model -> view -----------------------------------------------------------------------
    def _on_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def _on_commissioning(self, report: CommissionReport) -> None:
        color = {PASSED: HEALTH_COLORS["healthy"], FAILED: HEALTH_COLORS["unhealthy"]}.get(
            report.overall, HEALTH_COLORS["unknown"])
        mark = {PASSED: "✓", FAILED: "✕"}.get(report.overall, "○")
        self.commissioning.setText("%s %s" % (mark, outcome_sentence(report)))
        self.commissioning.setStyleSheet("color: %s; font-weight: bold;" % color)
        self.commissioning.setVisible(True)

    def _on_history(self) -> None:
        self.timeline.set_reports(self.health.monitor.history())

    def _on_report(self, report: HealthReport) -> None:
        word = overall_label(report.overall)
        self.verdict.setStyleSheet("color: %s; %s" % (HEALTH_COLORS.get(report.overall, HEALTH_COLORS["unknown"]),
                                                      VERDICT_STYLE))
        self.verdict.setText("● %s" % word.upper())
        self.verdict.setToolTip("%s is %s" % (self.health.model.display_name, word))
        config = self.health.config
        every = " · the device checks every %.0f s" % config.interval_s if config is not None else ""
        self.checked.setText("last checked %s%s" % (time.strftime("%H:%M:%S", time.localtime(report.t)), every))
        self.checks.clear()
        for check in report.checks:
            item = QTreeWidgetItem([check.title, status_label(check.status), check.severity, check.message])
            color = QColor(check_color(check.status, check.severity))
            item.setForeground(1, color)
            bold = QFont(item.font(1))
            bold.setBold(True)
            item.setFont(1, bold)
            item.setToolTip(3, plain_tooltip(check.message))
            item.setData(0, Qt.ItemDataRole.UserRole, check.name)
            self.checks.addTopLevelItem(item)
            if check.fix and check.status in (HEALTH_FAIL, HEALTH_SKIP):
                prefix = FIX_PREFIX if check.status == HEALTH_FAIL else TURN_ON_PREFIX
                fix = QTreeWidgetItem(["", "", "", prefix + check.fix])
                fix.setToolTip(3, plain_tooltip(check.fix))
                item.addChild(fix)
                item.setExpanded(True)
        self.timeline.set_reports(self.health.monitor.history())

    def check_item(self, name: str) -> QTreeWidgetItem | None:
        for index in range(self.checks.topLevelItemCount()):
            item = self.checks.topLevelItem(index)
            if item is not None and item.data(0, Qt.ItemDataRole.UserRole) == name:
                return item
        return None
