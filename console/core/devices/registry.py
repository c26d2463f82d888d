"""The devices the console knows. The built-in local device is always there.

A name that is not registered may still reach a device: an alias from the user's ``~/.ssh/config``
or ``user@host[:port]`` becomes an unsaved SSH entry, so ``--device`` accepts all three.
"""

from __future__ import annotations

import re
from pathlib import Path

from console.core.env import ConsoleEnv
from console.core.settings import LOCAL_DEVICE, DeviceEntry, Settings, load_settings, save_settings
from console.transport.ssh_config import config_aliases, looks_like_destination, parse_destination
from console.transport.ssh_errors import SshConfigError


class UnknownDevice(Exception):
    pass


LOCAL_ENTRY = DeviceEntry(name=LOCAL_DEVICE, kind="local", label="This computer")
DEVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
TAG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")


class DeviceRegistry:
    def __init__(self, env: ConsoleEnv) -> None:
        self.env = env
        self.settings: Settings = load_settings(env.settings_path)

    def devices(self) -> list[DeviceEntry]:
        others = [d for d in self.settings.devices if d.name != LOCAL_DEVICE]
        local = next((d for d in self.settings.devices if d.name == LOCAL_DEVICE), LOCAL_ENTRY)
        return [local, *others]

    def get(self, name: str) -> DeviceEntry:
        """A registered device, else an SSH config alias or ``user@host[:port]`` as an unsaved entry."""
        for device in self.devices():
            if device.name == name:
                return device
        adhoc = self._adhoc(name)
        if adhoc is not None:
            return adhoc
        known = ", ".join(d.name for d in self.devices())
        raise UnknownDevice("no device named %r (known: %s; an SSH config alias or user@host[:port] works too)"
                            % (name, known))

    def _adhoc(self, name: str) -> DeviceEntry | None:
        if looks_like_destination(name):
            dest = parse_destination(name)
            return DeviceEntry(name=name, kind="ssh", host=dest.host, user=dest.user, port=dest.port,
                               runtime=self.settings.runtimes.get(name))
        try:
            aliases = config_aliases(self.env.ssh_config_path)
        except SshConfigError as exc:
            raise UnknownDevice("no device named %r, and %s" % (name, exc)) from None
        return DeviceEntry(name=name, kind="ssh", host=name, runtime=self.settings.runtimes.get(name)) if (
            name in aliases) else None

    def remember_runtime(self, entry: DeviceEntry) -> None:
        """Keep where the runtime was installed: on a registered device's entry, else by its name."""
        if self.is_registered(entry.name):
            for device in self.settings.devices:
                if device.name == entry.name:
                    device.runtime = entry.runtime
        elif entry.runtime:
            self.settings.runtimes[entry.name] = entry.runtime
        self.save()

    def is_registered(self, name: str) -> bool:
        return any(d.name == name for d in self.devices())

    def problems(self, entry: DeviceEntry, replacing: bool = False) -> list[str]:
        """Why ``entry`` cannot be added (or, ``replacing``, saved over the device of its name), one
        sentence each; empty when it can (the GUI and edgectl agree)."""
        out = []
        if not DEVICE_NAME.match(entry.name) or entry.name == LOCAL_DEVICE:
            out.append("%r is not a usable device name (letters, digits, '.', '_', '-'; not 'local')" % entry.name)
        elif self.is_registered(entry.name) and not replacing:
            out.append("a device named %r already exists (remove it first)" % entry.name)
        elif replacing and not self.is_registered(entry.name):
            out.append("there is no device named %r to change" % entry.name)
        out.extend("tag %r is not usable (lower-case letters, digits, '.', '_', '-'; at most 40)" % t
                   for t in entry.tags if not TAG.match(t))
        if entry.kind == "socket":
            if not entry.socket or not Path(entry.socket).is_absolute():
                out.append("socket %r is not an absolute path to a runtime's unix socket" % (entry.socket or ""))
            return out
        host = entry.host or ""
        if not host.strip() or any(c.isspace() for c in host):
            out.append("host %r is not a host name or SSH config alias" % host)
        if entry.port is not None and not 0 < entry.port < 65536:
            out.append("port %d is out of range (1-65535)" % entry.port)
        if entry.key and not Path(entry.key).expanduser().is_file():
            out.append("key file %s does not exist" % entry.key)
        return out

    def add(self, entry: DeviceEntry) -> None:
        if any(d.name == entry.name for d in self.devices()):
            raise ValueError("a device named %r already exists" % entry.name)
        self.settings.devices.append(entry)
        self.save()

    def replace(self, entry: DeviceEntry) -> None:
        """Save ``entry`` over the registered device of the same name."""
        for index, device in enumerate(self.settings.devices):
            if device.name == entry.name:
                self.settings.devices[index] = entry
                self.save()
                return
        raise UnknownDevice("no device named %r" % entry.name)

    def remove(self, name: str) -> None:
        if name == LOCAL_DEVICE:
            raise ValueError("the built-in local device cannot be removed")
        before = len(self.settings.devices)
        self.settings.devices = [d for d in self.settings.devices if d.name != name]
        if len(self.settings.devices) == before:
            raise UnknownDevice("no device named %r" % name)
        self.save()

    def set_tags(self, name: str, add: list[str], remove: list[str]) -> DeviceEntry:
        """Add and remove tags on a registered device; a bad tag raises ValueError and changes nothing."""
        bad = [t for t in add if not TAG.match(t)]
        if bad:
            raise ValueError("tag %r is not usable (lower-case letters, digits, '.', '_', '-'; at most 40)" % bad[0])
        if not self.is_registered(name):
            raise UnknownDevice("no registered device named %r (tags are kept on registered devices)" % name)
        entry = self._saved(name)
        entry.tags = sorted((set(entry.tags) | set(add)) - set(remove))
        self.save()
        return entry

    def tagged(self, tags: list[str]) -> list[DeviceEntry]:
        """Registered devices that carry every one of ``tags`` (all of them when ``tags`` is empty)."""
        return [d for d in self.devices() if set(tags) <= set(d.tags)]

    def _saved(self, name: str) -> DeviceEntry:
        """The settings' own entry for ``name``; the built-in device gets one on its first change."""
        entry = self.get(name)
        if entry is LOCAL_ENTRY:
            entry = DeviceEntry(**vars(LOCAL_ENTRY))
            self.settings.devices.insert(0, entry)
        return entry

    def remember_page(self, name: str, page: str) -> None:
        entry = self._saved(name)
        entry.last_page = page
        self.save()

    def save(self) -> None:
        save_settings(self.env.settings_path, self.settings)
