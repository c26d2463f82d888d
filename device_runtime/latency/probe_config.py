"""The probe's settings on the device (``<root>/latency/probe.json``), so it survives restarts.

A damaged file is never overwritten behind the user's back: the probe stays off, says why,
and the next ``probe.set`` replaces it.
"""

from __future__ import annotations

import json
import os
from typing import Tuple

from device_runtime.protocol import ProbeSettings, ProtocolError

CONFIG_FILE = "probe.json"


def config_path(root: str) -> str:
    return os.path.join(root, "latency", CONFIG_FILE)


def load_settings(root: str) -> Tuple[ProbeSettings, str]:
    """The saved settings (off when none), and a sentence when the file could not be read."""
    path = config_path(root)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return ProbeSettings(), ""
    except OSError as exc:
        return ProbeSettings(), "the probe settings %s cannot be read (%s); set the probe again" % (path, exc.strerror)
    try:
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return ProbeSettings.from_wire(data), ""
    except (ValueError, UnicodeDecodeError, ProtocolError) as exc:
        return ProbeSettings(), "the probe settings %s are damaged (%s); set the probe again" % (
            path, getattr(exc, "message", exc))


def save_settings(root: str, settings: ProbeSettings) -> None:
    """Atomic: temp file, fsync, rename."""
    path = config_path(root)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(settings.to_wire(), handle, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
