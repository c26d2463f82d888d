"""Light and dark themes: a Fusion palette, a small stylesheet and the chart colours.

The default follows the system's colour scheme; settings may force ``light`` or ``dark``.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

# Distinguishable on light and dark backgrounds and for common colour-vision deficiencies.
SERIES_COLORS = ("#4e9af1", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2",
                 "#edc948", "#ff9da7", "#9c755f", "#bab0ac")

STATE_COLORS = {
    "connected": "#2e9e4f",
    "connecting": "#d99a1c",
    "unreachable": "#d64545",
    "disconnected": "#8a8f98",
}


@dataclass(frozen=True)
class Theme:
    dark: bool
    window: str
    panel: str
    text: str
    muted: str
    border: str
    accent: str
    grid: str

    @property
    def chart_background(self) -> str:
        return self.panel


LIGHT = Theme(False, window="#f3f4f6", panel="#ffffff", text="#1f2328", muted="#5f6672",
              border="#d5d9df", accent="#2f6fd0", grid="#e5e7eb")
DARK = Theme(True, window="#1b1e23", panel="#23272e", text="#e6e8eb", muted="#9aa3ad",
             border="#363b44", accent="#5b9cf5", grid="#343a43")


def system_prefers_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return bool(hints.colorScheme() == Qt.ColorScheme.Dark)


def pick_theme(choice: str) -> Theme:
    if choice == "dark":
        return DARK
    if choice == "light":
        return LIGHT
    return DARK if system_prefers_dark() else LIGHT


def contrast_ratio(first: QColor, second: QColor) -> float:
    """WCAG's contrast ratio of two opaque colours (1 to 21; body text wants 4.5 or more)."""
    def luminance(color: QColor) -> float:
        def channel(value: float) -> float:
            return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4
        return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + 0.0722 * channel(color.blueF())

    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def blend(top: QColor, bottom: QColor) -> QColor:
    """``top`` (with its alpha) painted over the opaque ``bottom``."""
    a = top.alphaF()
    return QColor.fromRgbF(top.redF() * a + bottom.redF() * (1 - a), top.greenF() * a + bottom.greenF() * (1 - a),
                           top.blueF() * a + bottom.blueF() * (1 - a))


def _palette(theme: Theme) -> QPalette:
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: theme.window,
        QPalette.ColorRole.WindowText: theme.text,
        QPalette.ColorRole.Base: theme.panel,
        QPalette.ColorRole.AlternateBase: theme.window,
        QPalette.ColorRole.Text: theme.text,
        QPalette.ColorRole.Button: theme.panel,
        QPalette.ColorRole.ButtonText: theme.text,
        QPalette.ColorRole.ToolTipBase: theme.panel,
        QPalette.ColorRole.ToolTipText: theme.text,
        QPalette.ColorRole.Highlight: theme.accent,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.PlaceholderText: theme.muted,
    }
    for role, color in roles.items():
        pal.setColor(role, QColor(color))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor(theme.muted))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor(theme.muted))
    return pal


def _stylesheet(t: Theme) -> str:
    return f"""
    QWidget {{ font-size: 10pt; }}
    #Sidebar {{ background: {t.panel}; border-right: 1px solid {t.border}; }}
    #SidebarTitle {{ color: {t.muted}; font-size: 9pt; font-weight: 600; letter-spacing: 1px;
                     padding: 12px 12px 4px 12px; }}
    #DeviceList {{ border: none; background: transparent; outline: 0; }}
    #DeviceList::item {{ padding: 8px 6px; border-radius: 6px; min-height: 32px; }}
    #DeviceList::item:selected {{ background: {t.accent}; color: #ffffff; }}
    #ChartCard {{ background: {t.panel}; border: 1px solid {t.border}; border-radius: 8px; }}
    #ChartTitle {{ font-weight: 600; }}
    #ChartValues {{ color: {t.muted}; }}
    #ChartLegend {{ color: {t.text}; font-size: 9pt; }}
    #GroupHeader {{ font-size: 12pt; font-weight: 600; padding: 10px 2px 2px 2px; }}
    #DashboardNotice {{ color: {t.muted}; padding: 4px 2px; }}
    QToolBar {{ border: none; spacing: 8px; padding: 4px 2px; }}
    QToolButton, QComboBox {{ min-height: 28px; padding: 2px 10px; }}
    QPushButton {{ padding: 7px 12px; }}
    QAbstractSpinBox, QLineEdit {{ padding: 7px 4px; }}
    QAbstractSpinBox QLineEdit {{ padding: 0px; }}
    QToolBar QToolButton {{ border: 1px solid {t.border}; border-radius: 6px; background: {t.panel};
                            min-width: 64px; }}
    QToolBar QToolButton:checked {{ background: {t.accent}; color: #ffffff; }}
    QScrollArea {{ border: none; background: transparent; }}
    QStatusBar {{ border-top: 1px solid {t.border}; }}
    QStatusBar QLabel {{ padding: 2px 6px; }}
    QTabWidget::pane {{ border: none; }}
    QTabBar::tab {{ padding: 8px 18px; min-height: 20px; }}
    """


def apply_theme(app: QApplication, choice: str = "system") -> Theme:
    theme = pick_theme(choice)
    app.setStyle("Fusion")
    app.setPalette(_palette(theme))
    app.setStyleSheet(_stylesheet(theme))
    return theme
