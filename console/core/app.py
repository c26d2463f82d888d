"""The core facade the GUI and edgectl share: the registry and one session per device."""

from __future__ import annotations

from console.core.devices.registry import DeviceRegistry
from console.core.devices.session import DeviceSession, make_transport
from console.core.env import ConsoleEnv


class ConsoleCore:
    def __init__(self, env: ConsoleEnv) -> None:
        self.env = env
        self.registry = DeviceRegistry(env)
        self._sessions: dict[str, DeviceSession] = {}

    def session(self, name: str) -> DeviceSession:
        """The session for a device (created on first use, not yet connected)."""
        existing = self._sessions.get(name)
        if existing is not None:
            return existing
        entry = self.registry.get(name)
        session = DeviceSession(entry, make_transport(entry, self.env), self.env.clock)
        self._sessions[name] = session
        return session

    def forget(self, name: str) -> None:
        """Close and drop a device's session (its entry changed or it was removed)."""
        session = self._sessions.pop(name, None)
        if session is not None:
            session.close()

    def close(self) -> None:
        for session in self._sessions.values():
            session.close()
        self._sessions.clear()
