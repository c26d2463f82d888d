"""Qt-free core shared by the GUI and edgectl: devices, sessions, telemetry buffers."""
