"""An optional Prometheus text endpoint for teams that already run Grafana. Off by default.

It binds only to a loopback address or a unix socket: the device opens no network port (scrape
it through an SSH tunnel or a Prometheus running on the robot). Every scrape answers the latest telemetry sample in
the text exposition format; metric names are sanitised and each HELP line names the unit.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import re
import socket
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence

from device_runtime.protocol import COUNTER, MetricSpec
from device_runtime.server.service import Service

log = logging.getLogger("edge_runtime.prometheus")

PREFIX = "edge_"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_REQUEST = 8192
REQUEST_TIMEOUT_S = 5.0


class Address(NamedTuple):
    host: Optional[str]  # a loopback IP, or None for a unix socket
    port: int
    path: Optional[str]  # the unix socket path

    def __str__(self) -> str:
        if self.path is not None:
            return "unix:" + self.path
        return "[%s]:%d" % (self.host, self.port) if ":" in (self.host or "") else "%s:%d" % (self.host, self.port)


def parse_address(text: str) -> Address:
    """``127.0.0.1:9100``, ``[::1]:9100``, ``localhost:9100`` or ``unix:/run/edge/metrics.sock``.
    Port 0 picks a free port (logged). Anything that is not loopback is refused."""
    if text.startswith("unix:"):
        path = text[5:]
        if not path:
            raise ValueError("--prometheus unix: needs a socket path, e.g. unix:/run/edge-runtime/metrics.sock")
        return Address(None, 0, path)
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError("--prometheus %r is not an address; use 127.0.0.1:PORT or unix:PATH" % text)
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if host == "localhost":
        host = "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError("--prometheus needs an IP address, not %r; use 127.0.0.1:PORT or unix:PATH" % host) from None
    if not ip.is_loopback:
        raise ValueError(
            "refusing to serve Prometheus metrics on %s: the device opens no network port. Bind to "
            "127.0.0.1:PORT (scrape through an SSH tunnel or from a Prometheus on the robot) or to unix:PATH." % text)
    number = int(port)
    if number > 65535:
        raise ValueError("--prometheus port %d is out of range (0-65535)" % number)
    return Address(str(ip), number, None)


def metric_names(specs: Sequence[MetricSpec]) -> Dict[str, str]:
    """Telemetry name -> Prometheus name (``[a-zA-Z_][a-zA-Z0-9_]*``), unique per table."""
    out: Dict[str, str] = {}
    taken = set()
    for spec in specs:
        base = PREFIX + re.sub(r"_+", "_", re.sub(r"[^a-zA-Z0-9_]", "_", spec.name)).strip("_")
        name, n = base, 2
        while name in taken:
            name, n = "%s_%d" % (base, n), n + 1
        taken.add(name)
        out[spec.name] = name
    return out


def _help(spec: MetricSpec) -> str:
    unit = " [%s]" % spec.unit if spec.unit else ""
    text = "%s: %s%s. %s" % (spec.chart, spec.label, unit, spec.description) if spec.description else (
        "%s: %s%s" % (spec.chart, spec.label, unit))
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def render(specs: Sequence[MetricSpec], values: Mapping[str, float], names: Optional[Dict[str, str]] = None) -> str:
    """The text format for the metrics present in ``values``; absent ones are left out (never 0)."""
    names = names or metric_names(specs)
    lines: List[str] = []
    for spec in specs:
        value = values.get(spec.name)
        if value is None:
            continue
        name = names[spec.name]
        lines.append("# HELP %s %s" % (name, _help(spec)))
        lines.append("# TYPE %s %s" % (name, "counter" if spec.kind == COUNTER else "gauge"))
        lines.append("%s %s" % (name, repr(float(value))))
    return "\n".join(lines) + "\n" if lines else ""


class PrometheusService(Service):
    """Serves ``GET /metrics`` on ``address`` with the latest sample. A bind failure is logged and
    the daemon goes on without the endpoint: telemetry for consoles matters more."""

    name = "prometheus"

    def __init__(self, address: Address, specs: Sequence[MetricSpec]) -> None:
        self.address = address
        self._specs = list(specs)
        self._names = metric_names(self._specs)
        self._latest: Mapping[str, float] = {}
        self._server: Optional[asyncio.AbstractServer] = None
        self._task: Optional[asyncio.Task[None]] = None
        self.bound: Optional[str] = None

    def _bind(self) -> socket.socket:
        if self.address.path is not None:
            path = self.address.path
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            if os.path.exists(path):
                import stat

                if not stat.S_ISSOCK(os.lstat(path).st_mode):
                    raise OSError("%s exists and is not a socket" % path)
                os.unlink(path)  # stale socket of an earlier daemon
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            old_umask = os.umask(0o117)
            try:
                sock.bind(path)
            finally:
                os.umask(old_umask)
            self.bound = "unix:" + path
        else:
            family = socket.AF_INET6 if ":" in (self.address.host or "") else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.address.host, self.address.port))
            port = sock.getsockname()[1]
            self.bound = str(Address(self.address.host, port, None))
        sock.listen(16)
        sock.setblocking(False)
        return sock

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            sock = self._bind()
        except OSError as exc:
            log.error("Prometheus endpoint not started: cannot listen on %s: %s", self.address, exc)
            return
        log.info("Prometheus metrics on %s (GET /metrics)", self.bound)
        self._task = loop.create_task(self._serve(sock))

    async def _serve(self, sock: socket.socket) -> None:
        if sock.family == socket.AF_UNIX:
            self._server = await asyncio.start_unix_server(self._handle, sock=sock, limit=MAX_REQUEST)
        else:
            self._server = await asyncio.start_server(self._handle, sock=sock, limit=MAX_REQUEST)

    def on_sample(self, t: float, values: Dict[str, float]) -> None:
        self._latest = values

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT_S)
            method, target = [*head.split(b"\r\n", 1)[0].split(b" "), b"", b""][:2]
            if method != b"GET":
                status, body = "405 Method Not Allowed", "only GET is served\n"
            elif target.split(b"?")[0] not in (b"/metrics", b"/"):
                status, body = "404 Not Found", "metrics are at /metrics\n"
            else:
                status, body = "200 OK", render(self._specs, self._latest, self._names)
            data = body.encode("utf-8")
            writer.write(("HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                          % (status, CONTENT_TYPE, len(data))).encode("ascii") + data)
            await writer.drain()
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass  # a slow, truncated or oversized request is dropped; the endpoint goes on
        finally:
            writer.close()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        if self.address.path is not None and self.bound is not None:
            try:
                os.unlink(self.address.path)
            except OSError:
                pass
