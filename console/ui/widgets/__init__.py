"""Widgets shared by several pages: a file on its way, the shape of a settings dialog."""
