"""Per-device alert thresholds: validated, kept under the daemon root, written atomically.

A corrupt or invalid file never stops the daemon: it logs what is wrong, runs on the defaults,
and keeps the bad file (moved aside as ``alerts.json.bad`` when new thresholds are saved), so
nothing a person wrote is lost.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from typing import List

from device_runtime.protocol import AlertThresholds, ErrorCode, ProtocolError

log = logging.getLogger("edge_runtime.alerts")

FORMAT_VERSION = 1
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
        self._bad_file = False

    def load(self) -> AlertThresholds:
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
            if not isinstance(data, dict) or not isinstance(data.get("thresholds"), dict):
                raise ValueError('expected {"version": 1, "thresholds": {...}}')
            thresholds = AlertThresholds.from_wire(data["thresholds"])
            found = problems(thresholds)
            if found:
                raise ValueError("; ".join(found))
        except FileNotFoundError:
            return AlertThresholds()
        except (OSError, ValueError, ProtocolError) as exc:
            self._bad_file = True
            log.error("alert thresholds in %s cannot be used (%s); running on the defaults. Set new thresholds "
                      "from the console (the bad file will be kept as alerts.json.bad) or fix the file and "
                      "restart.", self.path, exc)
            return AlertThresholds()
        return thresholds

    def save(self, thresholds: AlertThresholds) -> None:
        check(thresholds)
        directory = os.path.dirname(self.path)
        os.makedirs(directory, exist_ok=True)
        if self._bad_file and os.path.exists(self.path):
            os.replace(self.path, self.path + ".bad")
        fd, tmp = tempfile.mkstemp(prefix=".alerts-", suffix=".json", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"version": FORMAT_VERSION, "thresholds": thresholds.to_wire()}, handle, indent=2)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        self._bad_file = False
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
