"""Edge Operator Console: the laptop side (GUI, edgectl, transports)."""

__version__ = "0.1.0"
