"""The Dashboard page: live charts, latency, the probe, events, thresholds."""
