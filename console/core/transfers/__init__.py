"""Bytes on their way to a device: uploads into its store, pushes through bad links, progress."""
