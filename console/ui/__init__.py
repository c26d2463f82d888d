"""The desktop GUI. Every PySide6 / pyqtgraph import in the project lives in this package."""
