"""The Jobs page and the Qt face of a device's jobs."""
