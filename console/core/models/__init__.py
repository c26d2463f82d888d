"""Models on the laptop and on a device: packages, the device's store, rollback records."""
