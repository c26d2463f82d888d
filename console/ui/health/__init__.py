"""The Health page: checks, the timeline, settings, the audit log and the commissioning wizard."""
