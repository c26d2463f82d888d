"""Byte streams to a device's runtime bridge: ``local`` (subprocess) and, later, ``ssh``."""
