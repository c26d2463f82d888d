"""The device sidebar: every known device with a status dot and the state in words."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from console.core.settings import DeviceEntry
from console.core.telemetry.alerts import kind_label
from console.ui.charts.chart import plain_label
from console.ui.health.qt_health import HEALTH_COLORS
from console.ui.theme import STATE_COLORS
from device_runtime.protocol import SEVERITY_CRITICAL, AlertEvent

NAME_ROLE = Qt.ItemDataRole.UserRole
EDITABLE_ROLE = Qt.ItemDataRole.UserRole + 1
FLEET_ROLE = Qt.ItemDataRole.UserRole + 2  # the Fleet entry, first in the list while 2 or more devices are known
LEVELS = ("healthy", "degraded", "unhealthy")


def state_icon(state: str, size: int = 14) -> QIcon:
    """A dot whose fill also differs by state (full, half, ring), so colour is never alone."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    color = QColor(STATE_COLORS.get(state) or HEALTH_COLORS.get(state) or STATE_COLORS["disconnected"])
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(color, 2))
    center, radius = QPointF(size / 2, size / 2), size / 2 - 2
    if state in ("connected", "healthy", "degraded", "unhealthy"):  # connected, coloured by its health
        painter.setBrush(QBrush(color))
        painter.drawEllipse(center, radius, radius)
    elif state in ("connecting", "reconnecting"):
        painter.drawEllipse(center, radius, radius)
        painter.setBrush(QBrush(color))
        painter.drawPie(2, 2, size - 4, size - 4, 90 * 16, 180 * 16)
    else:
        painter.drawEllipse(center, radius, radius)
    painter.end()
    return QIcon(pixmap)


class DeviceSidebar(QWidget):
    """Lists devices; emits ``deviceChosen`` when the user picks one, ``addRequested`` for [+ Add],
    ``fleetChosen`` for the Fleet entry (first in the list while more than one device is registered)."""

    deviceChosen = Signal(str)
    fleetChosen = Signal()
    addRequested = Signal()
    editRequested = Signal(str)  # a registered SSH device's name
    removeRequested = Signal(str)

    def __init__(self, devices: list[DeviceEntry], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Sidebar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setMinimumWidth(200)
        self.setMaximumWidth(260)
        self.list = QListWidget()
        self.list.setObjectName("DeviceList")
        self.list.setIconSize(QSize(14, 14))
        self.list.setAccessibleName("Devices")
        self._items: dict[str, QListWidgetItem] = {}
        self._shown: dict[str, tuple[str, str]] = {}  # name -> (display name, connection state)
        self._health: dict[str, str] = {}  # name -> overall health of its last report
        self._commissioning: dict[str, str] = {}  # name -> outcome of its last commissioning run here
        self._alerts: dict[str, tuple[str, str]] = {}  # name -> (level it implies, words) of its ongoing alerts
        self.fleet_item: QListWidgetItem | None = None
        self._fleet_words = ""
        for entry in devices:
            self.add_device(entry)
        self.add_button = QPushButton("+ Add")
        self.add_button.setToolTip("Add a device reached over SSH")
        self.add_button.setMinimumHeight(32)
        self.add_button.clicked.connect(self.addRequested)
        self.edit_button = QPushButton("Edit…")
        self.edit_button.setToolTip("Change how the selected device is reached")
        self.remove_button = QPushButton("Remove…")
        self.remove_button.setToolTip("Remove the selected device from this console (nothing changes on it)")
        for button, signal in ((self.edit_button, self.editRequested), (self.remove_button, self.removeRequested)):
            button.setMinimumHeight(32)
            button.setEnabled(False)
            button.clicked.connect(lambda _checked=False, s=signal: self._emit_for_current(s))
        title = plain_label("DEVICES")
        title.setObjectName("SidebarTitle")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 6)
        layout.setSpacing(2)
        layout.addWidget(title)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.add_button)
        row = QHBoxLayout()
        row.addWidget(self.edit_button)
        row.addWidget(self.remove_button)
        layout.addLayout(row)
        self.list.currentItemChanged.connect(self._on_current_changed)

    def _emit_for_current(self, signal: Signal) -> None:
        item = self.list.currentItem()
        if item is not None:
            signal.emit(str(item.data(NAME_ROLE)))  # type: ignore[attr-defined]

    def remove_device(self, name: str) -> None:
        item = self._items.pop(name, None)
        self._shown.pop(name, None)
        if item is not None:
            self.list.takeItem(self.list.row(item))
        self._update_fleet()

    def _update_fleet(self) -> None:
        """The Fleet entry leads the list while more than one device is registered."""
        wanted = len(self._items) > 1
        if wanted and self.fleet_item is None:
            item = QListWidgetItem()
            item.setData(FLEET_ROLE, True)
            item.setData(EDITABLE_ROLE, False)
            item.setSizeHint(QSize(0, 52))
            item.setToolTip("Every device in one grid: state, versions, health; staged rollouts (Ctrl+0)")
            self.list.insertItem(0, item)
            self.fleet_item = item
        elif not wanted and self.fleet_item is not None:
            self.list.takeItem(self.list.row(self.fleet_item))
            self.fleet_item = None
        if self.fleet_item is not None:
            self.fleet_item.setText("Fleet\n%s" % (self._fleet_words or "%d devices" % len(self._items)))

    def set_fleet_summary(self, words: str) -> None:
        """``5 devices · 4 connected · 1 unreachable`` under the Fleet entry."""
        self._fleet_words = words
        self._update_fleet()

    def select_fleet(self) -> None:
        if self.fleet_item is not None:
            self.list.blockSignals(True)
            self.list.setCurrentItem(self.fleet_item)
            self.list.blockSignals(False)
            self._enable_buttons(self.fleet_item)

    def add_device(self, entry: DeviceEntry) -> None:
        # QListWidgetItem text is never interpreted as markup.
        item = QListWidgetItem()
        item.setData(NAME_ROLE, entry.name)
        item.setData(EDITABLE_ROLE, entry.kind == "ssh")
        item.setSizeHint(QSize(0, 52))
        self.list.addItem(item)
        self._items[entry.name] = item
        self.set_state(entry.name, entry.display_name, "disconnected")
        self._update_fleet()

    def set_state(self, name: str, display_name: str, state: str) -> None:
        item = self._items.get(name)
        if item is None:
            return
        self._shown[name] = (display_name, state)
        health = self._health.get(name) if state == "connected" else None
        alert_level, alert_words = self._alerts.get(name, ("", "")) if state == "connected" else ("", "")
        if alert_level and LEVELS.index(alert_level) > (LEVELS.index(health) if health in LEVELS else 0):
            health = alert_level  # an ongoing alert is news now; the next health run may be a minute away
        words = "%s · %s" % (state, health) if health else state
        if alert_words:
            words += " · %s" % alert_words
        commissioning = self._commissioning.get(name)
        if commissioning in ("failed", "cancelled"):
            words += " · commissioning %s" % commissioning
            if health == "healthy":
                health = "degraded"  # not fit for the field until commissioning passes: never a green dot
        item.setText("%s\n%s" % (display_name, words))
        item.setIcon(state_icon(health or state))
        item.setToolTip("%s: %s" % (display_name, words))

    def set_health(self, name: str, overall: str) -> None:
        """Show a connected device's overall health (healthy, degraded, unhealthy) next to its state."""
        self._health[name] = overall
        if name in self._shown:
            self.set_state(name, *self._shown[name])

    def set_alerts(self, name: str, ongoing: list[AlertEvent]) -> None:
        """Show the device's ongoing alerts at once: a critical one turns the dot red, a warning amber."""
        critical = [a for a in ongoing if a.severity == SEVERITY_CRITICAL]
        shown = critical or ongoing
        if not shown:
            self._alerts.pop(name, None)
        else:
            kinds = ", ".join(sorted({kind_label(a.kind).lower() for a in shown}))
            self._alerts[name] = ("unhealthy" if critical else "degraded", "%d %s alert%s (%s)" % (
                len(shown), "critical" if critical else "warning", "" if len(shown) == 1 else "s", kinds))
        if name in self._shown:
            self.set_state(name, *self._shown[name])

    def set_commissioning(self, name: str, overall: str) -> None:
        """Show a failed (or cancelled) commissioning run beside the device's state until one passes."""
        self._commissioning[name] = overall
        if name in self._shown:
            self.set_state(name, *self._shown[name])

    def state_text(self, name: str) -> str:
        return self._items[name].text()

    def select(self, name: str) -> None:
        item = self._items.get(name)
        if item is not None:
            self.list.blockSignals(True)
            self.list.setCurrentItem(item)
            self.list.blockSignals(False)
            self._enable_buttons(item)

    def _enable_buttons(self, item: QListWidgetItem | None) -> None:
        editable = item is not None and bool(item.data(EDITABLE_ROLE))  # the built-in device is not edited
        self.edit_button.setEnabled(editable)
        self.remove_button.setEnabled(editable)

    def _on_current_changed(self, current: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        self._enable_buttons(current)
        if current is not None and current.data(FLEET_ROLE):
            self.fleetChosen.emit()
        elif current is not None:
            self.deviceChosen.emit(str(current.data(NAME_ROLE)))
