"""The daemon: unix-socket server, per-client sessions, telemetry hub and the stdio bridge."""
