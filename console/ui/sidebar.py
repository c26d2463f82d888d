"""The device sidebar: every known device with a status dot and the state in words."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from console.core.settings import DeviceEntry
from console.ui.chart import plain_label
from console.ui.theme import STATE_COLORS

NAME_ROLE = Qt.ItemDataRole.UserRole


def state_icon(state: str, size: int = 14) -> QIcon:
    """A dot whose fill also differs by state (full, half, ring), so colour is never alone."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    color = QColor(STATE_COLORS.get(state, STATE_COLORS["disconnected"]))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(color, 2))
    center, radius = QPointF(size / 2, size / 2), size / 2 - 2
    if state == "connected":
        painter.setBrush(QBrush(color))
        painter.drawEllipse(center, radius, radius)
    elif state == "connecting":
        painter.drawEllipse(center, radius, radius)
        painter.setBrush(QBrush(color))
        painter.drawPie(2, 2, size - 4, size - 4, 90 * 16, 180 * 16)
    else:
        painter.drawEllipse(center, radius, radius)
    painter.end()
    return QIcon(pixmap)


class DeviceSidebar(QWidget):
    """Lists devices; emits ``deviceChosen`` when the user picks one."""

    deviceChosen = Signal(str)

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
        for entry in devices:
            # QListWidgetItem text is never interpreted as markup.
            item = QListWidgetItem()
            item.setData(NAME_ROLE, entry.name)
            item.setSizeHint(QSize(0, 52))
            self.list.addItem(item)
            self._items[entry.name] = item
            self.set_state(entry.name, entry.display_name, "disconnected")
        title = plain_label("DEVICES")
        title.setObjectName("SidebarTitle")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 6)
        layout.setSpacing(2)
        layout.addWidget(title)
        layout.addWidget(self.list, 1)
        self.list.currentItemChanged.connect(self._on_current_changed)

    def set_state(self, name: str, display_name: str, state: str) -> None:
        item = self._items.get(name)
        if item is None:
            return
        item.setText("%s\n%s" % (display_name, state))
        item.setIcon(state_icon(state))
        item.setToolTip("%s: %s" % (display_name, state))

    def state_text(self, name: str) -> str:
        return self._items[name].text()

    def select(self, name: str) -> None:
        item = self._items.get(name)
        if item is not None:
            self.list.blockSignals(True)
            self.list.setCurrentItem(item)
            self.list.blockSignals(False)

    def _on_current_changed(self, current: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if current is not None:
            self.deviceChosen.emit(str(current.data(NAME_ROLE)))
