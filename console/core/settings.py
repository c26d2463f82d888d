"""Typed, versioned console settings, persisted as JSON under the user's config dir."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from device_runtime.fileio import replacing

SETTINGS_VERSION = 1
LOCAL_DEVICE = "local"


class SettingsError(Exception):
    pass


@dataclass
class DeviceEntry:
    """A device the console knows. ``kind`` is ``local``, ``ssh``, or ``socket`` (a runtime daemon on this
    computer reached at its unix socket: one in a container, or a lab of daemons)."""

    name: str
    kind: str = "ssh"
    host: str | None = None
    user: str | None = None
    port: int | None = None
    key: str | None = None
    # edge-runtime's path on the device; None searches the usual install locations.
    runtime: str | None = None
    # The device's Python that "Install runtime" builds the runtime's venv with; None means python3.
    python: str | None = None
    label: str | None = None
    last_page: str | None = None
    # the inference latency budget the Dashboard draws for this device (ms); None: not set
    latency_budget_ms: float | None = None
    # Labels the fleet commands select by (``lab-a``, ``orin-nx``), sorted, each once.
    tags: list[str] = field(default_factory=list)
    socket: str | None = None  # a ``socket`` device's daemon socket path

    @property
    def display_name(self) -> str:
        return self.label or self.name


@dataclass
class Settings:
    version: int = SETTINGS_VERSION
    devices: list[DeviceEntry] = field(default_factory=list)
    telemetry_rate_hz: float = 2.0
    window_s: float = 300.0
    theme: str = "system"
    last_device: str = LOCAL_DEVICE
    field_mode: bool = False  # the simplified one-device view for field staff
    # Where "Install runtime" put edge-runtime on a device that is not registered (an SSH config alias
    # or user@host): destination -> path, so the next connection to that name finds it.
    runtimes: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Settings:
        if not isinstance(data, dict):
            raise SettingsError("settings file is not a JSON object")
        version = data.get("version", 0)
        if not isinstance(version, int) or version > SETTINGS_VERSION:
            raise SettingsError(
                "settings file has version %r, newer than this console understands (%d)"
                % (version, SETTINGS_VERSION)
            )
        known = {f for f in DeviceEntry.__dataclass_fields__}
        devices = []
        for raw in data.get("devices", []):
            if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
                raise SettingsError("a device entry has no name")
            budget = raw.get("latency_budget_ms")
            if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float)) or budget <= 0):
                raise SettingsError("device %r has latency_budget_ms %r; it must be a positive number of ms or null"
                                    % (raw["name"], budget))
            tags = raw.get("tags", [])
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise SettingsError("device %r has tags %r; they must be a list of words" % (raw["name"], tags))
            devices.append(DeviceEntry(**{k: v for k, v in raw.items() if k in known}))
        settings = cls(devices=devices)
        for key in ("telemetry_rate_hz", "window_s"):
            if isinstance(data.get(key), (int, float)):
                setattr(settings, key, float(data[key]))
        for key in ("theme", "last_device"):
            if isinstance(data.get(key), str):
                setattr(settings, key, data[key])
        if isinstance(data.get("field_mode"), bool):
            settings.field_mode = data["field_mode"]
        runtimes = data.get("runtimes", {})
        if not isinstance(runtimes, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                     for k, v in runtimes.items()):
            raise SettingsError("'runtimes' must map device names to runtime paths (got %r); fix or remove it"
                                % (runtimes,))
        settings.runtimes = dict(runtimes)
        return settings


def load_settings(path: Path) -> Settings:
    """Defaults when the file does not exist; a clear error when it is damaged."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SettingsError("%s is not valid JSON (%s); fix or remove it" % (path, exc)) from None
    return Settings.from_json(data)


def save_settings(path: Path, settings: Settings) -> None:
    """Atomic write: temp file, fsync, rename, fsync of the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path, mode=0o600, encoding="utf-8") as handle:
        json.dump(settings.to_json(), handle, indent=2, sort_keys=True)
        handle.write("\n")
