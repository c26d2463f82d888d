"""Devices in the window: the sidebar, the status bar, the connection banner, adding and installing."""
