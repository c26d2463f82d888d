"""What the main window shows about its device outside the pages: the status line, the hottest
temperature in the words and colour of the device's temperature alerts, and the first-launch demo
set up on the device's worker thread."""

from __future__ import annotations

from collections.abc import Callable

from console.core.devices.client import DeviceError
from console.core.devices.first_launch import FirstLaunchError, needs_demo, set_up_demo
from console.core.devices.keys import KeyError_
from console.core.devices.session import DeviceSession, State
from console.core.env import ConsoleEnv
from console.transport.base import TransportError
from console.ui.devices.qt_session import QtSession
from console.ui.health.qt_health import HEALTH_COLORS
from device_runtime.protocol import SEVERITY_CRITICAL, SEVERITY_WARNING, AlertEvent

TEMPERATURE_KINDS = ("temperature", "thermal_throttle")


def status_line(model: QtSession) -> str:
    """``robot-07 · connected · runtime 0.4.1 · Orin NX · JetPack 6.2 · MAXN`` (the hottest
    temperature has a label of its own, styled by the device's temperature alerts)."""
    parts = [model.display_name, model.outage_text or model.state.value]
    if model.state is State.FAILED and model.message and not model.outage_text:
        parts.append(model.message)
    caps = model.capabilities
    if model.state is State.CONNECTED and caps is not None:
        parts.append("runtime %s" % model.runtime_version)
        parts.append(caps.board_model)
        parts.append("JetPack %s" % caps.jetpack if caps.jetpack else caps.os)
        if caps.power_mode:
            parts.append(caps.power_mode)
    return " · ".join(parts)


def temperature_text(model: QtSession, ongoing: list[AlertEvent]) -> tuple[str, str]:
    """The hottest temperature, with the word and colour of the worst ongoing temperature alert."""
    hottest = hottest_temperature(model) if model.state is State.CONNECTED else None
    if hottest is None:
        return "", ""
    hot = [a for a in ongoing if a.kind in TEMPERATURE_KINDS]
    severity = SEVERITY_CRITICAL if any(a.severity == SEVERITY_CRITICAL for a in hot) else (
        SEVERITY_WARNING if hot else "")
    if not severity:
        return "%.0f°C" % hottest, ""
    color = HEALTH_COLORS["unhealthy" if severity == SEVERITY_CRITICAL else "degraded"]
    return "%.0f°C %s" % (hottest, severity), "color: %s; font-weight: bold;" % color


def first_launch_job(session: DeviceSession, env: ConsoleEnv, tell: Callable[[str], None]) -> None:
    """On the device's worker: the demo model and the probe for a newcomer; a failure is told in words."""
    try:
        if needs_demo(session):
            set_up_demo(session, env)
    except (FirstLaunchError, DeviceError, TransportError, OSError, KeyError_) as exc:
        tell("The demo model was not set up on %s: %s. Deploy a model from the Models page instead."
             % (session.entry.display_name, str(exc).rstrip(".") or type(exc).__name__))


def hottest_temperature(model: QtSession) -> float | None:
    store = model.store
    if store is None:
        return None
    temps = [store.latest(m.name) for m in store.metrics if m.unit == "°C"]
    known = [t for t in temps if t is not None]
    return max(known) if known else None
