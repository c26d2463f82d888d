"""The probe's settings on the device (``<root>/latency/probe.json``), so it survives restarts.

A damaged file is moved aside as ``probe.json.bad`` (nothing is lost): the probe stays off,
its status and the health ``settings`` check say why, and the next ``probe.set`` writes a new one.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Tuple

from device_runtime import config_file
from device_runtime.config_file import ConfigProblem
from device_runtime.latency.probe_plan import check_rate
from device_runtime.protocol import ProbeSettings

CONFIG_FILE = "probe.json"
RESET = "edgectl probe --off (or --model NAME --rate HZ)"


def config_path(root: str) -> str:
    return os.path.join(root, "latency", CONFIG_FILE)


def load_settings(root: str) -> Tuple[ProbeSettings, Optional[ConfigProblem]]:
    """The saved settings (off when none), and what was wrong with a file set aside."""
    settings, problem = config_file.load(config_path(root), "probe settings", RESET, _parse)
    return (ProbeSettings() if settings is None else settings), problem


def _parse(data: Dict[str, Any]) -> ProbeSettings:
    settings = ProbeSettings.from_wire(data)
    check_rate(settings.rate_hz)  # ProbeRefused is a ValueError
    return settings


def save_settings(root: str, settings: ProbeSettings) -> None:
    """Atomic: temp file, fsync, rename, fsync of the folder."""
    config_file.save(config_path(root), settings.to_wire())
