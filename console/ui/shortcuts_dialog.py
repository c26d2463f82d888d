"""Help > Keyboard shortcuts: every key the console answers to, in one list."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

# keys, what they do: what the main window, the Dashboard and the dialogs bind
SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Ctrl+1 … Ctrl+6", "Dashboard, Models, Optimize, Jobs, Benchmarks, Health"),
    ("Ctrl+0", "Fleet: every device in one grid, staged rollouts"),
    ("Ctrl+K", "Move to the device list (arrows pick a device)"),
    ("F5", "Reconnect to the device shown now"),
    ("Ctrl+Shift+F", "Field mode on or off"),
    ("Space", "Dashboard: Live on or off (off holds the time shown)"),
    ("Ctrl + wheel", "Dashboard: zoom time under the pointer (the wheel alone scrolls the page)"),
    ("Esc", "Close or cancel a dialog (a running version switch waits for its result)"),
    ("F1", "This list"),
)


class ShortcutsDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.table = QTableWidget(len(SHORTCUTS), 2)
        self.table.setHorizontalHeaderLabels(["Keys", "What they do"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, (keys, what) in enumerate(SHORTCUTS):
            self.table.setItem(row, 0, QTableWidgetItem(keys))
            self.table.setItem(row, 1, QTableWidgetItem(what))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Close).setMinimumHeight(32)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(620, 340)

    def rows(self) -> list[tuple[str, str]]:
        def text(row: int, column: int) -> str:
            item = self.table.item(row, column)
            return item.text() if item is not None else ""

        return [(text(r, 0), text(r, 1)) for r in range(self.table.rowCount())]
