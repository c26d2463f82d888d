"""``edge-runtime serve``: the daemon on its unix socket (mode 0660), many clients at once."""

from __future__ import annotations

import asyncio
import errno
import fcntl
import itertools
import logging
import os
import resource
import signal
import socket
import subprocess
import time
from typing import IO, Any, Dict, List, Optional

from device_runtime import capabilities as caps_mod
from device_runtime.alerts.device_state import DeviceStateService
from device_runtime.alerts.service import AlertService
from device_runtime.audit import AuditLog, AuditService, peer_user
from device_runtime.collectors import Collector, default_collectors
from device_runtime.collectors.nvml import NvmlCollector
from device_runtime.demo_model import DEMO_FILE
from device_runtime.health.service import HealthService
from device_runtime.jobs.service import JobService
from device_runtime.latency.aggregate import LatencyAggregator
from device_runtime.latency.probe import ProbeService, SourceVersions
from device_runtime.latency.service import LatencyService
from device_runtime.paths import lock_path, open_nofollow, peer_uid, private_dir
from device_runtime.process import python_command
from device_runtime.prometheus import Identity, PrometheusService, parse_address
from device_runtime.protocol import ErrorCode, ErrorReply, encode
from device_runtime.report import LATENCY_SOCKET_NAME
from device_runtime.server import roles
from device_runtime.server.events import EventBus
from device_runtime.server.files import FileService
from device_runtime.server.limits import MAX_BACKLOG, PAUSE_BACKLOG, TOTAL, ClientLimits, ClientState
from device_runtime.server.replay import ReplyCache
from device_runtime.server.service import Handler, Service
from device_runtime.server.session import SESSION_METHODS, ClientSession
from device_runtime.server.telemetry import TelemetryHub
from device_runtime.server.watchdog import WatchdogService
from device_runtime.store.config import ALLOW_UNSIGNED, REQUIRE_SIGNATURE
from device_runtime.store.config import config_problem as store_config_problem
from device_runtime.store.service import StoreService
from device_runtime.store.service import facts_from as store_facts

log = logging.getLogger("edge_runtime.daemon")

# Telemetry frames are dropped for a client whose unsent output exceeds this (a stalled
# link must not grow the daemon); replies and events are queued up to limits.MAX_BACKLOG.
MAX_CLIENT_BACKLOG = 1 << 20
SWEEP_S = 2.0  # how often connections are checked against the hello and half-frame timeouts
FD_LIMIT = 65536  # the soft fd limit the daemon raises itself to (within the hard limit)


class AlreadyRunning(Exception):
    pass


class DaemonLock:
    """An flock on ``<socket>.lock`` held for the daemon's life: two daemons can never serve
    the same socket, even when they start in the same instant."""

    def __init__(self, socket_path: str) -> None:
        self.path = lock_path(socket_path)
        self.socket_path = socket_path
        self._handle: Optional[IO[str]] = None

    def acquire(self) -> None:
        # Never through a symlink: one planted here would have the daemon truncate its target.
        fd = open_nofollow(self.path, os.O_RDWR | os.O_CREAT)
        handle = os.fdopen(fd, "r+")  # held for the daemon's lifetime
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.seek(0)
            pid = handle.read().strip() or "?"
            handle.close()
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise AlreadyRunning(
                    "another edge-runtime daemon (pid %s) is already serving %s. "
                    "Stop it first (edge-runtime stop) or give this one another --socket."
                    % (pid, self.socket_path)
                ) from None
            raise
        handle.seek(0)
        handle.truncate()
        handle.write("%d\n" % os.getpid())
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def raise_fd_limit(want: int = FD_LIMIT) -> int:
    """Raise the soft fd limit towards ``want`` (systemd's default soft limit is 1024); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (OSError, ValueError) as exc:
            log.warning("could not raise the open-files limit from %d to %d: %s", soft, target, exc)
    return int(soft) if soft != resource.RLIM_INFINITY else want


class _Connection(asyncio.Protocol):
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.transport: Optional[asyncio.Transport] = None
        self.session: Optional[ClientSession] = None
        self.state: Optional[ClientState] = None
        self.actor = "unknown"
        self.admin = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        self.actor = peer_user(sock)
        # Past this much unsent output, asyncio calls pause_writing: stop reading this client.
        transport.set_write_buffer_limits(high=PAUSE_BACKLOG)
        uid = peer_uid(sock)
        self.admin = roles.is_admin(uid, roles.peer_groups(sock, uid), os.geteuid(), roles.admin_gid())
        self.daemon.admit(self, uid)

    def data_received(self, data: bytes) -> None:
        session, state = self.session, self.state
        if session is None or state is None:
            return
        session.feed(data)
        state.received(time.monotonic(), b"\n" in data, session.pending_bytes)
        state.ready, state.subscribed = session.ready, session.subscribed

    def pause_writing(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()
        if self.session is not None:
            self.session.hold(True)  # what it already sent waits too
        self.look(time.monotonic())

    def resume_writing(self) -> None:
        if self.session is not None:
            self.session.hold(False)  # may fill the output again, and pause again
        transport = self.transport
        if transport is not None and not transport.is_closing() and not (self.session and self.session.held):
            transport.resume_reading()
        self.look(time.monotonic())

    def look(self, now: float) -> None:
        """Tell the limits how this client's output stands (reading paused, bytes unsent)."""
        transport, state = self.transport, self.state
        if transport is not None and state is not None:
            state.output(now, not transport.is_reading(), transport.get_write_buffer_size())

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if self.session is not None:
            self.session.disconnect()
            self.daemon.sessions.pop(self.session.key, None)
        if self.state is not None:
            self.daemon.connections.pop(self.state.key, None)
        self.transport = None

    def send(self, frame: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(frame)
        if transport.get_write_buffer_size() > MAX_BACKLOG:
            self.drop("it left %d MiB of replies unread" % (MAX_BACKLOG >> 20))

    def drop(self, reason: str) -> None:
        """Hang up on a client that broke a limit, saying why in the log; its unsent output is discarded."""
        if self.transport is None or self.transport.is_closing():
            return
        log.warning("closed the connection of %s: %s", self.actor, reason)
        if self.session is not None:
            self.session.closed = True  # the rest of what it sent is not processed
        self.transport.abort()

    def refuse(self, reason: str) -> None:
        log.warning("refused a connection of %s: %s", self.actor, reason)
        if self.transport is not None:
            self.transport.write(encode(ErrorReply(ErrorCode.TOO_MANY_CONNECTIONS, reason)))
            self.transport.close()

    def send_telemetry(self, frame: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        # While its output is over the pause mark (reading from it paused), samples are dropped
        # so the backlog can drain and its requests be read again, on a slow link too.
        if not transport.is_reading() or transport.get_write_buffer_size() > MAX_CLIENT_BACKLOG:
            self.daemon.dropped_frames += 1
            return
        transport.write(frame)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Daemon:
    def __init__(
        self,
        socket_path: str,
        root: str,
        collectors: Optional[List[Collector]] = None,
        demo: bool = False,
        base_rate_hz: float = 2.0,
        sys_root: str = "/sys",
        fs_root: str = "/",
        proc_root: str = "/proc",
        etc_root: str = "/etc",
        var_root: str = "/var",
        prometheus: Optional[str] = None,
    ) -> None:
        self.socket_path = socket_path
        self.root = root
        self.demo = demo
        self.prometheus = prometheus  # "127.0.0.1:PORT" or "unix:PATH"; off when None
        self.lock = DaemonLock(socket_path)
        self.collectors = collectors if collectors is not None else default_collectors(
            sys_root=sys_root, proc_root=proc_root, etc_root=etc_root, var_root=var_root)
        gpus = []
        for collector in self.collectors:
            if isinstance(collector, NvmlCollector):
                gpus = collector.gpus
        self.capabilities = caps_mod.probe(root=fs_root, gpus=gpus)
        self.hub = TelemetryHub(self.collectors, base_rate_hz=base_rate_hz)
        self.bus = EventBus()
        self.audit = AuditLog(os.path.join(root, "audit.jsonl"))
        self.watchdog = WatchdogService(os.environ)  # first to close: STOPPING=1 before anything else
        self.services: List[Service] = self._make_services()
        self.handlers: Dict[str, Handler] = {}
        for service in self.services:
            for method, handler in service.handlers().items():
                if method in self.handlers or method in SESSION_METHODS:
                    raise RuntimeError("two handlers for %r (the %s service and an earlier one)"
                                       % (method, service.name))
                self.handlers[method] = handler
            self.hub.sample_listeners.append(service.on_sample)
        self.sessions: Dict[int, ClientSession] = {}
        self.connections: Dict[int, _Connection] = {}
        self.limits = ClientLimits()
        self._sweeper: Optional[asyncio.TimerHandle] = None
        self.replies = ReplyCache()  # replies to state-changing requests, for retries after a lost reply
        self.dropped_frames = 0
        self._keys = itertools.count(1)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._server: Optional[asyncio.AbstractServer] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._stopping: Optional[asyncio.Future[None]] = None
        self._demo_proc: Optional[subprocess.Popen[bytes]] = None

    def _make_services(self) -> List[Service]:
        """The daemon's parts beyond telemetry, each with its own protocol methods."""
        store = StoreService(self.root, self.bus, store_facts(self.capabilities),
                             ALLOW_UNSIGNED if self.demo else REQUIRE_SIGNATURE)
        versions = SourceVersions(store.store)
        latency = LatencyService(os.path.join(os.path.dirname(self.socket_path), LATENCY_SOCKET_NAME), self.bus,
                                 aggregator=LatencyAggregator(version_of=versions))
        alerts = AlertService(self.bus, self.root, self.collectors)
        state = DeviceStateService(self.collectors)
        probe = ProbeService(self.root, self.bus, latency, store.store, alerts.detector.active,
                             self.capabilities.tensorrt)
        versions.probe = probe
        health = HealthService(
            self.root,
            self.bus,
            memory_total_mb=self.capabilities.memory_total_mb,
            had_gpu=bool(self.capabilities.gpus) or self.capabilities.l4t is not None,
            alerts=alerts.detector.active,
            latency=lambda: latency.aggregator.recent(time.time(), 30.0),
            state=state.current,
            models=store.active_versions,
            settings=lambda: [problem for problem in (alerts.store.problem, probe.config_problem,
                                                      store_config_problem(self.root)) if problem is not None],
        )
        store.store.health_gate = health.gate
        services: List[Service] = [
            self.watchdog,
            AuditService(self.audit),
            FileService(self.root),
            latency,
            JobService(self.root, self.bus, self.capabilities),
            alerts,
            state,
            store,
            health,
            probe,
        ]
        if self.prometheus:
            services.append(PrometheusService(parse_address(self.prometheus), self.hub.metrics,
                                              Identity.of(self.capabilities), latency.aggregator))
        return services

    # -- sessions ---------------------------------------------------------------------------
    def admit(self, conn: _Connection, uid: int) -> None:
        """Serve ``conn`` within the limits (closing idle connections of its user to make room)
        or refuse it, saying why."""
        now = time.monotonic()
        admitted, evict, reason = self.limits.admit(
            uid, (c.state for c in self.connections.values() if c.state is not None), now)
        if not admitted:
            conn.refuse(reason)
            return
        for key in evict:
            victim = self.connections.pop(key, None)
            if victim is not None:
                victim.drop(reason)
        conn.session = self.new_session(conn)
        conn.state = ClientState(conn.session.key, uid, now)
        self.connections[conn.session.key] = conn

    def _sweep(self) -> None:
        assert self._loop is not None
        now = time.monotonic()
        for conn in self.connections.values():
            conn.look(now)
        states = [c.state for c in self.connections.values() if c.state is not None]
        for key, reason in self.limits.expired(states, now).items():
            expired = self.connections.get(key)
            if expired is not None:
                expired.drop(reason)
        self._sweeper = self._loop.call_later(SWEEP_S, self._sweep)

    def new_session(self, conn: _Connection) -> ClientSession:
        key = next(self._keys)
        self.capabilities.demo_model = self._demo_path()
        session = ClientSession(
            key,
            self.hub,
            self.capabilities,
            conn.send,
            conn.close,
            conn.send_telemetry,
            bus=self.bus,
            services=self.handlers,
            audit=self.audit,
            actor=conn.actor,
            replies=self.replies,
            admin=conn.admin,
        )
        self.sessions[key] = session
        return session

    def _demo_path(self) -> Optional[str]:
        path = os.path.join(self.root, "demo", DEMO_FILE)
        return path if self.demo and os.path.exists(path) else None

    # -- lifecycle --------------------------------------------------------------------------
    def _bind(self) -> socket.socket:
        # Created 0700 when missing (the system unit's RuntimeDirectory is 0750 for its group);
        # refused when another user owns or can write it or a directory above it.
        private_dir(os.path.dirname(self.socket_path) or ".", os.geteuid())
        self.lock.acquire()
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)  # stale: the lock proves no daemon owns it
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o117)
        try:
            sock.bind(self.socket_path)
        finally:
            os.umask(old_umask)
        os.chmod(self.socket_path, 0o660)
        sock.listen(512)
        sock.setblocking(False)
        return sock

    def _schedule_tick(self, when: float) -> None:
        assert self._loop is not None
        self._timer = self._loop.call_at(when, self._tick, when)

    def _tick(self, scheduled: float) -> None:
        assert self._loop is not None
        now = self._loop.time()
        self.hub.tick(now)
        if self._demo_proc is not None and self._demo_proc.poll() is not None:
            if self._demo_proc.returncode:
                log.warning("building the demo model failed (exit %s)", self._demo_proc.returncode)
            self._demo_proc = None  # reaped
        period = 1.0 / self.hub.rate_hz
        nxt = scheduled + period
        if nxt < now:  # fell behind (suspend, overload): resynchronise instead of bursting
            nxt = now + period
        self._schedule_tick(nxt)

    def _start_demo_build(self) -> None:
        """Build the demo model in a child process: onnx stays out of the daemon's memory."""
        if not self.demo or self._demo_path():
            return
        target = os.path.join(self.root, "demo", DEMO_FILE)
        self._demo_proc = subprocess.Popen(
            [*python_command(), "-m", "device_runtime", "demo-model", "-o", target],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def _serve(self, ready: Optional[Any]) -> None:
        loop = asyncio.get_event_loop()
        self._loop = loop
        self._stopping = loop.create_future()
        # Before the lock, which is what `edge-runtime stop` looks for: a SIGTERM while the services
        # start is then a stop once they have (STOPPING=1, the socket removed), never a kill.
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        sock = self._bind()
        self._server = await loop.create_unix_server(lambda: _Connection(self), sock=sock)
        self.bus.attach_loop(loop)
        for service in self.services:
            service.start(loop)
        self._start_demo_build()
        self._schedule_tick(loop.time())
        self._sweeper = loop.call_later(SWEEP_S, self._sweep)
        log.info("serving %s (pid %d)", self.socket_path, os.getpid())
        self.watchdog.ready()
        if ready is not None:
            ready()
        await self._stopping

    def stop(self) -> None:
        if self._stopping is not None and not self._stopping.done():
            self._stopping.set_result(None)

    def run(self, ready: Optional[Any] = None) -> None:
        os.makedirs(self.root, exist_ok=True)
        fds = raise_fd_limit()
        # Each connection costs one fd; the rest are the stores', jobs' and collectors' own.
        self.limits.total = max(16, min(TOTAL, (fds - 256) // 2))
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(ready))
        finally:
            self._shutdown(loop)

    def _shutdown(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._demo_proc is not None and self._demo_proc.poll() is None:
            self._demo_proc.terminate()  # a half-built demo model is written to a temp name: nothing lost
            try:
                self._demo_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._demo_proc.kill()
                self._demo_proc.wait()
        for timer in (self._timer, self._sweeper):
            if timer is not None:
                timer.cancel()
        if self._server is not None:
            self._server.close()
            try:
                os.unlink(self.socket_path)
            except OSError:
                pass
        for service in self.services:
            try:
                service.close()
            except Exception:
                log.exception("closing the %s service failed", service.name)
        self.hub.close()
        self.lock.release()
        loop.close()
