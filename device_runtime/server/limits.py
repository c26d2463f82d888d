"""What one client may hold of the daemon, as plain rules without I/O.

A client that never reads, never says hello, or sends half a frame and stops must not grow
the daemon or lock others out: its unsent replies are capped (reading from it pauses first,
then it is dropped), connections are limited per peer uid and overall, and a connection that
has not said hello, or has sat on half a frame, is closed after a while. When a uid is at
its limit, its longest-idle connection that subscribes to nothing makes room for the new
one, so a user whose old connections leaked (or an attacker sharing its uid) cannot keep
that user's own console out.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Tuple

# Reading from a client pauses while this much of its output is unsent ...
PAUSE_BACKLOG = 256 << 10
# ... and the client is dropped (with a logged reason) once this much is, or once it has read
# nothing of it for READ_STALL_S (a slow link still drains some). A subscriber is spared the
# second rule: a console behind a stalled link loses telemetry frames (MAX_CLIENT_BACKLOG in
# the daemon) but keeps its connection, and costs no more than MAX_BACKLOG meanwhile.
MAX_BACKLOG = 8 << 20
READ_STALL_S = 20.0
PER_UID = 64
TOTAL = 512
HELLO_TIMEOUT_S = 10.0
PARTIAL_FRAME_TIMEOUT_S = 30.0
# A connection idle this long that subscribes to nothing may be closed for a newcomer (one that
# has not said hello may be at once).
EVICTABLE_IDLE_S = 5.0


class ClientState:
    """What the rules need to know of one connection; the daemon updates it as things happen."""

    def __init__(self, key: int, uid: int, now: float) -> None:
        self.key = key
        self.uid = uid
        self.opened = now
        self.last_frame = now  # the last complete frame received (or the connection's start)
        # While half a frame waits: when its last bytes came (a slow link still sends some).
        self.stalled_since: Optional[float] = None
        self.ready = False  # said hello
        self.subscribed = False
        self.backlog = 0  # unsent bytes at the last look
        self.draining_since: Optional[float] = None  # while reading is paused: when the backlog last shrank

    def output(self, now: float, paused: bool, backlog: int) -> None:
        if not paused:
            self.draining_since = None
        elif self.draining_since is None or backlog < self.backlog:
            self.draining_since = now
        self.backlog = backlog

    def received(self, now: float, completed: bool, pending: int) -> None:
        if completed:
            self.last_frame = now
        self.stalled_since = now if pending else None


class ClientLimits:
    def __init__(self, per_uid: int = PER_UID, total: int = TOTAL, hello_timeout_s: float = HELLO_TIMEOUT_S,
                 partial_frame_timeout_s: float = PARTIAL_FRAME_TIMEOUT_S, read_stall_s: float = READ_STALL_S) -> None:
        self.per_uid = per_uid
        self.total = total
        self.hello_timeout_s = hello_timeout_s
        self.partial_frame_timeout_s = partial_frame_timeout_s
        self.read_stall_s = read_stall_s

    def admit(self, uid: int, clients: Iterable[ClientState], now: float) -> Tuple[bool, List[int], str]:
        """May a new connection of ``uid`` be served? Returns (admitted, keys to close to make
        room, the reason when refused or when closing others)."""
        every = list(clients)
        mine = [c for c in every if c.uid == uid]
        evict: List[int] = []
        if len(mine) >= self.per_uid:
            victim = self._evictable(mine, now)
            if victim is None:
                return False, [], ("this user already has %d connections to the runtime, all in use; "
                                   "close a console or edgectl that is still open" % len(mine))
            evict.append(victim.key)
        if len(every) - len(evict) >= self.total:
            victim = self._evictable([c for c in every if c.key not in evict], now)
            if victim is None:
                return False, [], ("the runtime serves %d connections, its limit; try again once some "
                                   "close" % len(every))
            evict.append(victim.key)
        return True, evict, "idle, closed to make room for a new connection of the same user" if evict else ""

    def _evictable(self, clients: List[ClientState], now: float) -> Optional[ClientState]:
        """One that has not said hello (oldest first), else the longest idle that subscribes to nothing."""
        silent = [c for c in clients if not c.ready]
        if silent:
            return min(silent, key=lambda c: c.opened)
        idle = [c for c in clients if not c.subscribed and now - c.last_frame >= EVICTABLE_IDLE_S]
        return min(idle, key=lambda c: c.last_frame) if idle else None

    def expired(self, clients: Iterable[ClientState], now: float) -> Dict[int, str]:
        """Connections to close now, each with the reason that goes to the log."""
        out: Dict[int, str] = {}
        for c in clients:
            if not c.ready and now - c.opened > self.hello_timeout_s:
                out[c.key] = "no hello within %.0f s" % self.hello_timeout_s
            elif (c.draining_since is not None and not c.subscribed
                  and now - c.draining_since > self.read_stall_s):
                out[c.key] = "it read none of its %d KiB of replies for %.0f s" % (c.backlog >> 10, self.read_stall_s)
            elif c.stalled_since is not None and now - c.stalled_since > self.partial_frame_timeout_s:
                out[c.key] = "half a frame and no more bytes for %.0f s" % self.partial_frame_timeout_s
        return out
