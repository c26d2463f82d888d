"""An optional Prometheus text endpoint for teams that already run Grafana. Off by default.

It binds only to a loopback address or a unix socket: the device opens no network port. Every
scrape answers the latest telemetry sample in the text exposition format (version 0.0.4), written
by the standard library alone (the runtime stays light on Python 3.8):

- Telemetry is grouped into families named by Prometheus' rules: ``edge_`` prefix, base units
  (seconds, bytes, hertz, watts, celsius, ratios 0-1) converted from the collectors' units
  (MB, MHz, mW, %), ``_total`` only on counters, one HELP and TYPE per family; what tells series
  apart is a label (``edge_temperature_celsius{sensor="tj-thermal"}``,
  ``edge_power_rail_watts{rail="vdd_in"}``, ``edge_cpu_frequency_hertz{core="0"}``). Telemetry no
  rule knows gets a family of its own, in its base unit where the unit is known.
- ``edge_device_info`` carries the device's identity as labels (hostname, model, L4T, JetPack,
  runtime version); the robot's name comes from the scrape config's ``device`` target label.
- Inference latency is a summary, ``edge_inference_latency_seconds{model,origin,stage}``: the
  latency service's window quantiles, with count and sum since the runtime started.

How Prometheus reaches it: through an SSH tunnel from the Prometheus host
(``ssh -N -L 127.0.0.1:PORT:/run/edge-runtime/metrics.sock ROBOT``, the
``edge-metrics-tunnel@.service`` unit in installers/prometheus), not a node-local agent. SSH is
already the one way into a robot (keys, known hosts, bastions): the tunnel adds no listening
port, no credentials and no software on the device, and its failure shows in Prometheus as
``up == 0``. An agent on each robot (Prometheus in agent mode with remote_write) would put a Go
server of ~100 MB on every Jetson and need a route and credentials from every robot to the
central server.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import os
import re
import socket
import time
from typing import Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence, Set, Tuple

from device_runtime import __version__
from device_runtime.latency.aggregate import LatencyAggregator
from device_runtime.protocol import COUNTER, PROBE_SOURCE_PREFIX, Capabilities, LatencyWindow, MetricSpec
from device_runtime.server.service import Service

log = logging.getLogger("edge_runtime.prometheus")

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


class Rule(NamedTuple):
    """A telemetry name (``pattern``, in the unit ``unit``) that belongs to a family; the pattern's
    named groups become labels, ``labels`` adds fixed ones, ``scale`` converts to the base unit."""

    pattern: "re.Pattern[str]"  # noqa: UP037 - a string so Python 3.8 never evaluates it
    unit: str
    family: str
    help: str
    scale: float = 1.0
    labels: Tuple[Tuple[str, str], ...] = ()


def _rule(pattern: str, unit: str, family: str, text: str, scale: float = 1.0, **labels: str) -> Rule:
    return Rule(re.compile(pattern + r"\Z", re.DOTALL), unit, family, text, scale, tuple(sorted(labels.items())))


MIB = 1024.0 * 1024.0
MHZ = 1e6
RULES: Tuple[Rule, ...] = (
    _rule(r"cpu\.load", "%", "edge_cpu_utilization_ratio", "Busy share of all CPU cores (0-1).", 0.01),
    _rule(r"cpu\.core\.(?P<core>\d+)\.load", "%", "edge_cpu_core_utilization_ratio",
          "Busy share of one CPU core (0-1).", 0.01),
    _rule(r"cpu\.core\.(?P<core>\d+)\.freq", "MHz", "edge_cpu_frequency_hertz", "Current clock of one CPU core.", MHZ),
    _rule(r"cpu\.core\.(?P<core>\d+)\.freq_max", "MHz", "edge_cpu_frequency_max_hertz",
          "Highest clock one CPU core may run at now (the power mode's cap).", MHZ),
    _rule(r"mem\.used", "MB", "edge_memory_used_bytes", "Memory in use (total minus available).", MIB),
    _rule(r"mem\.swap_used", "MB", "edge_swap_used_bytes", "Swap in use.", MIB),
    _rule(r"disk\.(?P<direction>read|write)", "B/s", "edge_disk_io_bytes_per_second",
          "Bytes read from or written to the device's disks per second.",),
    _rule(r"net\.(?P<direction>rx|tx)", "B/s", "edge_network_bytes_per_second",
          "Bytes received (rx) or sent (tx) on the network interfaces per second."),
    _rule(r"temp\.(?P<sensor>.+)", "°C", "edge_temperature_celsius", "Temperature of one thermal zone."),
    _rule(r"power\.(?P<rail>.+)", "mW", "edge_power_rail_watts",
          "Power through one monitored rail (INA3221/INA238); VDD_IN or VIN is the whole module.", 1e-3),
    _rule(r"jetson\.gpu\.load", "%", "edge_gpu_utilization_ratio", "Busy share of the GPU (0-1).", 0.01, gpu="0"),
    _rule(r"gpu\.(?P<gpu>\d+)\.util", "%", "edge_gpu_utilization_ratio", "Busy share of the GPU (0-1).", 0.01),
    _rule(r"jetson\.gpu\.freq", "MHz", "edge_gpu_frequency_hertz", "Current GPU clock (SM clock on NVML).", MHZ,
          gpu="0"),
    _rule(r"gpu\.(?P<gpu>\d+)\.sm_clock", "MHz", "edge_gpu_frequency_hertz", "Current GPU clock (SM clock on NVML).",
          MHZ),
    _rule(r"jetson\.gpu\.freq_max", "MHz", "edge_gpu_frequency_max_hertz",
          "Highest clock the GPU may run at now (the power mode's cap).", MHZ, gpu="0"),
    _rule(r"gpu\.(?P<gpu>\d+)\.mem_clock", "MHz", "edge_gpu_memory_frequency_hertz", "Current GPU memory clock.",
          MHZ),
    _rule(r"gpu\.(?P<gpu>\d+)\.mem_used", "MB", "edge_gpu_memory_used_bytes", "GPU memory in use.", MIB),
    _rule(r"jetson\.gpu\.shared_mem", "MB", "edge_gpu_shared_memory_bytes",
          "Memory the integrated GPU holds (nvmap), part of edge_memory_used_bytes.", MIB),
    _rule(r"gpu\.(?P<gpu>\d+)\.temp", "°C", "edge_gpu_temperature_celsius", "GPU temperature (NVML)."),
    _rule(r"gpu\.(?P<gpu>\d+)\.power", "W", "edge_gpu_power_watts", "GPU board power (NVML)."),
    _rule(r"gpu\.(?P<gpu>\d+)\.power_limit", "W", "edge_gpu_power_limit_watts", "GPU power limit (NVML)."),
    _rule(r"gpu\.(?P<gpu>\d+)\.throttle_reasons", "", "edge_gpu_throttle_reasons",
          "NVML clocks-event reasons bitmask (0: not throttled)."),
    _rule(r"jetson\.emc\.freq", "MHz", "edge_emc_frequency_hertz", "External memory controller clock.", MHZ),
    _rule(r"jetson\.emc\.load", "%", "edge_emc_utilization_ratio", "External memory controller load (0-1).", 0.01),
    _rule(r"engine\.(?P<engine>[^.]+)\.freq", "MHz", "edge_engine_frequency_hertz",
          "Clock of an accelerator engine (DLA, NVENC, ...); 0 while it is gated.", MHZ),
    _rule(r"fan\.(?P<fan>[^.]+)\.pwm", "%", "edge_fan_speed_ratio", "Fan drive (PWM duty, 0-1).", 0.01),
    _rule(r"fan\.(?P<fan>[^.]+)\.rpm", "rpm", "edge_fan_speed_rpm", "Fan speed in revolutions per minute."),
    _rule(r"jetson\.oc\.(?P<oc>\d+)\.events", "", "edge_overcurrent_throttle_events_total",
          "Times the SoC throttled its clocks for this over-current cause since boot."),
    _rule(r"jetson\.current_alarm\.(?P<rail>[^.]+)\.(?P<level>[^.]+)", "", "edge_power_rail_current_alarm",
          "1 while the rail draws more than its warn or crit current limit."),
    _rule(r"jetson\.clocks_locked", "", "edge_jetson_clocks_locked",
          "1 while jetson_clocks pins the clocks at their maximum."),
    _rule(r"jetson\.power_mode", "", "edge_power_mode_id",
          "The nvpmodel power mode's id (as in /etc/nvpmodel.conf; edgectl status names it)."),
)

# Units of telemetry without a rule: base-unit suffix and the factor that converts to it.
UNITS: Dict[str, Tuple[str, float]] = {
    "%": ("_ratio", 0.01), "MB": ("_bytes", MIB), "°C": ("_celsius", 1.0), "mW": ("_watts", 1e-3),
    "W": ("_watts", 1.0), "MHz": ("_hertz", MHZ), "B/s": ("_bytes_per_second", 1.0), "rpm": ("_rpm", 1.0),
    "ms": ("_seconds", 1e-3), "s": ("_seconds", 1.0),
}
RESERVED_SUFFIXES = ("_total", "_count", "_sum", "_bucket", "_created", "_info")
LATENCY_FAMILY = "edge_inference_latency_seconds"
LATENCY_QUANTILES = (("0.5", "p50_ms"), ("0.95", "p95_ms"), ("0.99", "p99_ms"))
RESERVED_FAMILIES = frozenset({rule.family for rule in RULES} | {
    LATENCY_FAMILY, "edge_device_info", "edge_telemetry_last_sample_timestamp_seconds"})
LATENCY_FRESH_S = 2.5  # a window newer than this is current (the latency service publishes every second)


class Family(NamedTuple):
    name: str
    kind: str  # "gauge", "counter" or "summary"
    help: str


class Series(NamedTuple):
    family: Family
    labels: Tuple[Tuple[str, str], ...]
    scale: float


def _sanitise(text: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^a-zA-Z0-9_]", "_", text)).strip("_")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Sequence[Tuple[str, str]]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join('%s="%s"' % (key, _escape_label(value)) for key, value in pairs) + "}"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _fallback(spec: MetricSpec) -> Tuple[str, str, float, str]:
    """Stem, unit suffix, scale and help of telemetry that no rule knows: a family of its own, in
    the base unit (named stem + suffix)."""
    suffix, scale = UNITS.get(spec.unit, ("", 1.0))
    stem = "edge_" + _sanitise(spec.name)
    if spec.kind == COUNTER:
        suffix = "_total"
    if suffix and stem.endswith(suffix):
        stem = stem[:-len(suffix)]
    if not suffix and stem.endswith(RESERVED_SUFFIXES):
        stem += "_value"
    unit = " (%s%s)" % (spec.unit, ", shown in base units" if scale != 1.0 else "") if spec.unit else ""
    text = "%s: %s%s." % (spec.chart, spec.label, unit) + (" " + spec.description if spec.description else "")
    return stem, suffix, scale, text


def plan(specs: Sequence[MetricSpec]) -> Dict[str, Series]:
    """Telemetry name -> its Prometheus series: a family named by the naming rules (base unit
    suffix, ``_total`` only on counters) and labels. Every series is unique, every family has one
    type and help text."""
    families: Dict[str, Family] = {}
    taken: Set[Tuple[str, Tuple[Tuple[str, str], ...]]] = set()
    out: Dict[str, Series] = {}
    for spec in specs:
        chosen: Optional[Series] = None
        for rule in RULES:
            match = rule.pattern.match(spec.name)
            if match is None or rule.unit != spec.unit:
                continue
            kind = "counter" if rule.family.endswith("_total") else "gauge"
            if kind != ("counter" if spec.kind == COUNTER else "gauge"):
                continue
            family = families.setdefault(rule.family, Family(rule.family, kind, rule.help))
            labels = tuple(sorted({**dict(rule.labels), **match.groupdict()}.items()))
            if family.kind == kind and (family.name, labels) not in taken:
                chosen = Series(family, labels, rule.scale)
            break
        if chosen is None:  # no rule, or its series is taken (two sources of one reading)
            stem, suffix, scale, text = _fallback(spec)
            unique, n = stem + suffix, 2
            while unique in families or unique in RESERVED_FAMILIES:
                unique, n = "%s_%d%s" % (stem, n, suffix), n + 1
            family = families[unique] = Family(unique, "counter" if spec.kind == COUNTER else "gauge", text)
            chosen = Series(family, (), scale)
        taken.add((chosen.family.name, chosen.labels))
        out[spec.name] = chosen
    return out


class Identity(NamedTuple):
    """What ``edge_device_info`` says about the device (Prometheus adds the scrape target's own labels)."""

    hostname: str
    model: str
    board: Optional[str] = None
    l4t: Optional[str] = None
    jetpack: Optional[str] = None
    version: str = __version__

    @classmethod
    def of(cls, caps: Capabilities) -> Identity:
        return cls(caps.hostname, caps.board_model, caps.board, caps.l4t, caps.jetpack)


def render(
    specs: Sequence[MetricSpec],
    values: Mapping[str, float],
    series: Optional[Dict[str, Series]] = None,
    identity: Optional[Identity] = None,
    sampled_at: Optional[float] = None,
    latency: Sequence[LatencyWindow] = (),
    latency_totals: Optional[Mapping[Tuple[str, str], Sequence[float]]] = None,
) -> str:
    """The text exposition format (version 0.0.4) of the latest sample. Telemetry absent from
    ``values`` is left out (never 0); a family appears once, its HELP and TYPE lines first."""
    series = series or plan(specs)
    grouped: Dict[str, Tuple[Family, List[str]]] = {}
    for spec in specs:
        value = values.get(spec.name)
        if value is None:
            continue
        item = series[spec.name]
        lines = grouped.setdefault(item.family.name, (item.family, []))[1]
        lines.append("%s%s %s" % (item.family.name, _labels(item.labels), _number(value * item.scale)))
    out: List[str] = []

    def family(name: str, kind: str, text: str, samples: List[str]) -> None:
        out.append("# HELP %s %s" % (name, _escape_help(text)))
        out.append("# TYPE %s %s" % (name, kind))
        out.extend(samples)

    if identity is not None:
        pairs = [(key, value) for key, value in identity._asdict().items() if value]
        family("edge_device_info", "gauge", "The device the runtime runs on; always 1.",
               ["edge_device_info%s 1" % _labels(sorted(pairs))])
    if sampled_at is not None:
        family("edge_telemetry_last_sample_timestamp_seconds", "gauge",
               "Unix time of the telemetry sample these values come from.",
               ["edge_telemetry_last_sample_timestamp_seconds %s" % _number(sampled_at)])
    for fam, lines in grouped.values():
        family(fam.name, fam.kind, fam.help, lines)
    summary = _latency_lines(latency, latency_totals or {})
    if summary:
        family(LATENCY_FAMILY, "summary",
               "Inference latency per model and stage, reported by the robot's process (origin app) or "
               "measured by the runtime's probe (origin probe): quantiles over the last window, count and "
               "sum since the runtime started.", summary)
    return "\n".join(out) + "\n" if out else ""


def _latency_key(source: str, stage: str) -> Tuple[Tuple[str, str], ...]:
    probe = source.startswith(PROBE_SOURCE_PREFIX)
    model = source[len(PROBE_SOURCE_PREFIX):] if probe else source
    return (("model", model), ("origin", "probe" if probe else "app"), ("stage", stage))


def _latency_lines(windows: Sequence[LatencyWindow], totals: Mapping[Tuple[str, str], Sequence[float]]) -> List[str]:
    latest: Dict[Tuple[str, str], LatencyWindow] = {}
    for window in windows:
        key = (window.source, window.stage)
        if key not in latest or window.t > latest[key].t:
            latest[key] = window
    lines: List[str] = []
    for key in sorted(set(latest) | set(totals)):
        labels = _latency_key(*key)
        current = latest.get(key)
        if current is not None:
            for quantile, field in LATENCY_QUANTILES:
                lines.append("%s%s %s" % (LATENCY_FAMILY, _labels([*labels, ("quantile", quantile)]),
                                          _number(getattr(current, field) / 1000.0)))
        total = totals.get(key)
        if total is not None:
            lines.append("%s_sum%s %s" % (LATENCY_FAMILY, _labels(labels), _number(total[1])))
            lines.append("%s_count%s %s" % (LATENCY_FAMILY, _labels(labels), _number(total[0])))
    return lines


class PrometheusService(Service):
    """Serves ``GET /metrics`` on ``address`` with the latest sample. A bind failure is logged and
    the daemon goes on without the endpoint: telemetry for consoles matters more."""

    name = "prometheus"

    def __init__(
        self,
        address: Address,
        specs: Sequence[MetricSpec],
        identity: Optional[Identity] = None,
        latency: Optional[LatencyAggregator] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.address = address
        self._specs = list(specs)
        self._series = plan(self._specs)
        self._identity = identity
        self._latency = latency
        self._clock = clock
        self._latest: Mapping[str, float] = {}
        self._sampled_at: Optional[float] = None
        self._server: Optional[asyncio.AbstractServer] = None
        self._task: Optional[asyncio.Task[None]] = None
        self.bound: Optional[str] = None

    def text(self) -> str:
        windows: List[LatencyWindow] = []
        totals: Dict[Tuple[str, str], List[float]] = {}
        if self._latency is not None:
            windows = self._latency.recent(self._clock(), LATENCY_FRESH_S)
            totals = self._latency.totals
        return render(self._specs, self._latest, self._series, self._identity, self._sampled_at, windows, totals)

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
        self._sampled_at = t

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT_S)
            method, target = [*head.split(b"\r\n", 1)[0].split(b" "), b"", b""][:2]
            if method != b"GET":
                status, body = "405 Method Not Allowed", "only GET is served\n"
            elif target.split(b"?")[0] not in (b"/metrics", b"/"):
                status, body = "404 Not Found", "metrics are at /metrics\n"
            else:
                status, body = "200 OK", self.text()
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
