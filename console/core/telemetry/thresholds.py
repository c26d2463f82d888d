"""Per-device alert thresholds: the fields as data, validation in words, ``KEY=VALUE`` parsing.

The GUI's dialog and ``edgectl thresholds --set`` share this, so both refuse the same bad input
with the same sentence before anything reaches the device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from console.core.devices.session import DeviceSession
from device_runtime.protocol import ALERTS_THRESHOLDS_GET, ALERTS_THRESHOLDS_SET, AlertThresholds, Empty

ZONE_PREFIX = "zone."


@dataclass(frozen=True)
class ThresholdField:
    key: str
    label: str
    unit: str
    low: float
    high: float
    help: str


FIELDS = (
    ThresholdField("temperature_warning_c", "Temperature warning", "°C", -40.0, 150.0,
                   "A zone at or over this starts a warning"),
    ThresholdField("temperature_critical_c", "Temperature critical", "°C", -40.0, 150.0,
                   "A zone at or over this starts a critical alert"),
    ThresholdField("clocks_below_max_pct", "Clocks below max", "%", 0.1, 100.0,
                   "GPU clock under this share of its maximum while busy"),
    ThresholdField("busy_load_pct", "Busy load", "%", 0.0, 100.0,
                   "GPU load that counts as busy for the clocks check"),
    ThresholdField("hold_s", "Hold time", "s", 0.0, 3600.0,
                   "How long a condition must hold before an alert starts or ends"),
)
FIELD_BY_KEY = {f.key: f for f in FIELDS}
ZONE_RANGE = (-40.0, 150.0)


class ThresholdError(ValueError):
    """Input that cannot become thresholds; the message says what is wrong and what is allowed."""


def parse_number(key: str, text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ThresholdError("%s must be a number, not %r." % (key, text)) from None
    if not math.isfinite(value):
        raise ThresholdError("%s must be a finite number, not %r." % (key, text))
    return value


def validate(th: AlertThresholds) -> list[str]:
    """Every problem, as sentences; empty when the thresholds can be sent."""
    problems = []
    for f in FIELDS:
        value = getattr(th, f.key)
        if not math.isfinite(value) or not f.low <= value <= f.high:
            problems.append("%s must be between %g and %g %s (got %g)." % (f.label, f.low, f.high, f.unit, value))
    if th.temperature_warning_c >= th.temperature_critical_c:
        problems.append("Temperature warning (%g °C) must be below temperature critical (%g °C)."
                        % (th.temperature_warning_c, th.temperature_critical_c))
    for zone, limit in th.zone_limits_c.items():
        if not zone.strip():
            problems.append("A zone limit needs a zone name (for example GPU=80).")
        elif not math.isfinite(limit) or not ZONE_RANGE[0] <= limit <= ZONE_RANGE[1]:
            problems.append("The limit for zone %s must be between %g and %g °C (got %g)."
                            % (zone, ZONE_RANGE[0], ZONE_RANGE[1], limit))
        elif limit >= th.temperature_critical_c:
            problems.append("The limit for zone %s (%g °C) is a warning limit and must be below temperature "
                            "critical (%g °C)." % (zone, limit, th.temperature_critical_c))
    return problems


def parse_zone_limits(text: str) -> dict[str, float]:
    """``"GPU=80, tj=90"`` -> {"GPU": 80.0, "tj": 90.0}; empty text -> no overrides."""
    limits: dict[str, float] = {}
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        zone, sep, value = part.partition("=")
        if not sep or not zone.strip():
            raise ThresholdError("Zone limits are written ZONE=°C, separated by commas (for example "
                                 "GPU=80, tj=90); %r is not." % part.strip())
        limits[zone.strip()] = parse_number("the limit for zone %s" % zone.strip(), value)
    return limits


def format_zone_limits(limits: dict[str, float]) -> str:
    return ", ".join("%s=%g" % (zone, value) for zone, value in sorted(limits.items()))


def apply_assignments(base: AlertThresholds, items: list[str]) -> AlertThresholds:
    """``["temperature_warning_c=70", "zone.GPU=80", "zone.tj="]`` applied on ``base``
    (an empty zone value removes that override). Raises :class:`ThresholdError`."""
    wire = base.to_wire()
    zones = dict(base.zone_limits_c)
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep:
            raise ThresholdError("%r is not KEY=VALUE (for example temperature_warning_c=80)." % item)
        if key.startswith(ZONE_PREFIX) and len(key) > len(ZONE_PREFIX):
            zone = key[len(ZONE_PREFIX):]
            if value.strip():
                zones[zone] = parse_number(key, value)
            else:
                zones.pop(zone, None)
        elif key in FIELD_BY_KEY:
            wire[key] = parse_number(key, value)
        else:
            known = ", ".join([*FIELD_BY_KEY, ZONE_PREFIX + "ZONE"])
            raise ThresholdError("Unknown threshold %r. Known: %s." % (key, known))
    wire["zone_limits_c"] = zones
    result = AlertThresholds.from_wire(wire)
    problems = validate(result)
    if problems:
        raise ThresholdError(" ".join(problems))
    return result


def get_thresholds(session: DeviceSession) -> AlertThresholds:
    reply = session.call(ALERTS_THRESHOLDS_GET, Empty())
    return reply


def set_thresholds(session: DeviceSession, thresholds: AlertThresholds) -> AlertThresholds:
    """Validate here, then store on the device; returns what the device now uses."""
    problems = validate(thresholds)
    if problems:
        raise ThresholdError(" ".join(problems))
    reply = session.call(ALERTS_THRESHOLDS_SET, thresholds)
    return reply
