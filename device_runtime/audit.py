"""The device's audit log of operator actions: append-only, fsync'd JSON lines.

Who acted is the OS user of the connection, read from the unix socket's peer credentials
(over SSH that is the account the operator logged in with), never a name the client claims.
"""

from __future__ import annotations

import collections
import json
import os
import threading
import time
from typing import Deque, Dict, List, Optional

from device_runtime import protocol
from device_runtime.protocol import AuditEntry, AuditList, AuditQuery, Record
from device_runtime.server.service import Handler, Service

# protocol method -> the action it records, from the method declarations (``Method.audit``)
AUDITED_METHODS: Dict[str, str] = protocol.AUDITED_METHODS
# Replayed steps of a transfer whose first step is audited: one entry per upload, not per chunk.
UNAUDITED_STEPS = frozenset({"store.upload.chunk", "store.upload.finish", "files.chunk", "files.finish"})
MAX_DETAIL = 400


def peer_user(sock: object) -> str:
    """The user on the other end of a unix socket, by SO_PEERCRED; "unknown" when unreadable."""
    import pwd
    import socket
    import struct

    try:  # asyncio hands out a TransportSocket wrapper: duck-type getsockopt
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))  # type: ignore[attr-defined]
        _, uid, _ = struct.unpack("3i", creds)
    except (OSError, AttributeError, struct.error):
        return "unknown"
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return "uid %d" % uid


class AuditLog:
    def __init__(self, path: str, keep: int = 2000, clock: Optional[object] = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._recent: Deque[AuditEntry] = collections.deque(maxlen=keep)
        self._clock = clock or time.time
        self._load()

    def _load(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except FileNotFoundError:
            return
        for line in lines[-(self._recent.maxlen or 0):]:
            try:
                self._recent.append(AuditEntry.from_wire(json.loads(line)))
            except Exception:  # a torn last line after a power cut: skip it, keep the rest
                continue

    def record(self, actor: str, action: str, detail: str, result: str = "ok") -> AuditEntry:
        entry = AuditEntry(self._clock(), actor, action, detail[:MAX_DETAIL], result[:MAX_DETAIL])  # type: ignore[operator]
        line = json.dumps(entry.to_wire(), ensure_ascii=False) + "\n"
        with self._lock:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            self._recent.append(entry)
        return entry

    def entries(self, limit: int = 500) -> List[AuditEntry]:
        with self._lock:
            items = list(self._recent)
        return items[-max(0, limit):] if limit else []


class AuditService(Service):
    """Serves ``audit.list``; the sessions write entries for every audited method they run."""

    name = "audit"

    def __init__(self, log: AuditLog) -> None:
        self.log = log

    def handlers(self) -> Dict[str, Handler]:
        return {"audit.list": self._list}

    def _list(self, params: Record) -> Record:
        assert isinstance(params, AuditQuery)
        return AuditList(self.log.entries(params.limit))


def describe(method: str, params: Record) -> str:
    """What an audited request asked for, in a line: its parameters without upload payloads."""
    wire = {k: v for k, v in params.to_wire().items() if k not in ("data", "chunk")}
    return "%s %s" % (method, json.dumps(wire, ensure_ascii=False, sort_keys=True))
