"""The devices the console knows. The built-in local device is always there."""

from __future__ import annotations

from console.core.env import ConsoleEnv
from console.core.settings import LOCAL_DEVICE, DeviceEntry, Settings, load_settings, save_settings


class UnknownDevice(Exception):
    pass


LOCAL_ENTRY = DeviceEntry(name=LOCAL_DEVICE, kind="local", label="This computer")


class DeviceRegistry:
    def __init__(self, env: ConsoleEnv) -> None:
        self.env = env
        self.settings: Settings = load_settings(env.settings_path)

    def devices(self) -> list[DeviceEntry]:
        others = [d for d in self.settings.devices if d.name != LOCAL_DEVICE]
        local = next((d for d in self.settings.devices if d.name == LOCAL_DEVICE), LOCAL_ENTRY)
        return [local, *others]

    def get(self, name: str) -> DeviceEntry:
        for device in self.devices():
            if device.name == name:
                return device
        known = ", ".join(d.name for d in self.devices())
        raise UnknownDevice("no device named %r (known: %s)" % (name, known))

    def add(self, entry: DeviceEntry) -> None:
        if any(d.name == entry.name for d in self.devices()):
            raise ValueError("a device named %r already exists" % entry.name)
        self.settings.devices.append(entry)
        self.save()

    def remove(self, name: str) -> None:
        if name == LOCAL_DEVICE:
            raise ValueError("the built-in local device cannot be removed")
        before = len(self.settings.devices)
        self.settings.devices = [d for d in self.settings.devices if d.name != name]
        if len(self.settings.devices) == before:
            raise UnknownDevice("no device named %r" % name)
        self.save()

    def remember_page(self, name: str, page: str) -> None:
        entry = self.get(name)
        if entry is LOCAL_ENTRY:
            entry = DeviceEntry(**vars(LOCAL_ENTRY))
            self.settings.devices.insert(0, entry)
        entry.last_page = page
        self.save()

    def save(self) -> None:
        save_settings(self.env.settings_path, self.settings)
