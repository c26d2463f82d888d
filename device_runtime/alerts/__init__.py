"""Throttling, power capping, clocks below maximum and temperatures over thresholds, detected on
the device from telemetry samples and pushed to consoles as alert events."""
