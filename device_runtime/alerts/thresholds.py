"""Per-device alert thresholds: validated, kept under the daemon root, written atomically.

A corrupt or invalid file never stops the daemon: it is moved aside as ``alerts.json.bad`` (so
nothing a person wrote is lost), the daemon runs on the defaults, and the health ``settings``
check names it and ``edgectl thresholds --reset`` until new thresholds are saved.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

from device_runtime import config_file
from device_runtime.config_file import ConfigProblem
from device_runtime.protocol import AlertThresholds, ErrorCode, ProtocolError

FORMAT_VERSION = 1
RESET = "edgectl thresholds --reset (or --set KEY=VALUE)"
MIN_C, MAX_C = -40.0, 150.0
MAX_HOLD_S = 3600.0


def problems(t: AlertThresholds) -> List[str]:
    """Everything wrong with ``t``, each as a sentence that says what to change."""
    out = []
    for field in ("temperature_warning_c", "temperature_critical_c"):
        value = getattr(t, field)
        if not MIN_C <= value <= MAX_C:
            out.append(f"{field} is {value:g} °C; use a value from {MIN_C:g} to {MAX_C:g} °C")
    if t.temperature_warning_c >= t.temperature_critical_c:
        out.append(f"temperature_warning_c ({t.temperature_warning_c:g} °C) must be below temperature_critical_c "
                   f"({t.temperature_critical_c:g} °C): the warning has to come before the critical alert")
    for zone, limit in sorted(t.zone_limits_c.items()):
        if not zone.strip():
            out.append("zone_limits_c has an empty zone name; name the zone type, e.g. \"tj-thermal\"")
        elif not MIN_C <= limit <= MAX_C:
            out.append(f"zone_limits_c[{zone!r}] is {limit:g} °C; use a value from {MIN_C:g} to {MAX_C:g} °C")
        elif limit >= t.temperature_critical_c:
            out.append(f"zone_limits_c[{zone!r}] ({limit:g} °C) is a warning limit and must be below "
                       f"temperature_critical_c ({t.temperature_critical_c:g} °C)")
    if not 0.0 < t.clocks_below_max_pct <= 100.0:
        out.append(f"clocks_below_max_pct is {t.clocks_below_max_pct:g}; use a percentage above 0 and at most 100")
    if not 0.0 <= t.busy_load_pct <= 100.0:
        out.append(f"busy_load_pct is {t.busy_load_pct:g}; use a percentage from 0 to 100")
    if not 0.0 <= t.hold_s <= MAX_HOLD_S:
        out.append(f"hold_s is {t.hold_s:g} s; use 0 to {MAX_HOLD_S:g} seconds")
    return out


def check(t: AlertThresholds) -> None:
    """Raise a ``bad_field`` protocol error naming every problem; nothing is stored then."""
    found = problems(t)
    if found:
        raise ProtocolError(ErrorCode.BAD_FIELD, "alert thresholds refused, nothing was changed: " + "; ".join(found))


class ThresholdStore:
    """``<root>/config/alerts.json``: ``{"version": 1, "thresholds": {...}}``."""

    def __init__(self, root: str) -> None:
        self.path = os.path.join(root, "config", "alerts.json")
        self.problem: Optional[ConfigProblem] = None  # why the stored file was set aside

    def load(self) -> AlertThresholds:
        thresholds, self.problem = config_file.load(self.path, "alert thresholds", RESET, _parse, FORMAT_VERSION)
        return AlertThresholds() if thresholds is None else thresholds

    def save(self, thresholds: AlertThresholds) -> None:
        check(thresholds)
        config_file.save(self.path, {"thresholds": thresholds.to_wire()}, FORMAT_VERSION, mode=0o600)
        self.problem = None


def _parse(data: Dict[str, Any]) -> AlertThresholds:
    if not isinstance(data.get("thresholds"), dict):
        raise ValueError('expected {"version": 1, "thresholds": {...}}')
    thresholds = AlertThresholds.from_wire(data["thresholds"])
    found = problems(thresholds)
    if found:
        raise ValueError("; ".join(found))
    return thresholds
