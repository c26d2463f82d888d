"""Devices as the console knows them: the registry, one session per device, the protocol client, keys."""
