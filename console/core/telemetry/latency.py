"""Inference latency on the console, without Qt: the windows a device pushes each second, kept per
source and stage; the feed that fills them (live ``latency`` events plus ``latency.recent``
back-fill); the probe's settings and status in words; and the user's latency budget per device.

A window carries the model version it was measured on, so a deploy or rollback shows as a step:
:meth:`LatencyStore.version_steps` lists where the version changed.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from console.core.devices.client import DeviceError
from console.core.devices.registry import LOCAL_ENTRY, DeviceRegistry
from console.core.devices.session import DeviceSession, Subscription
from console.core.settings import DeviceEntry
from device_runtime.protocol import (
    HEALTH_CONFIG_GET,
    LATENCY_RECENT,
    PROBE_FAILED,
    PROBE_GET,
    PROBE_OFF,
    PROBE_PAUSED,
    PROBE_SET,
    TOPIC_LATENCY,
    TOPIC_PROBE,
    Empty,
    ErrorCode,
    Event,
    LatencyQuery,
    LatencyWindow,
    LatencyWindows,
    ProbeSettings,
    ProbeStatus,
    ProtocolError,
)

MAX_POINTS = 6 * 3600  # six hours of once-a-second windows per source and stage
BACKFILL_S = 900.0
STATS = (("p50", "p50_ms"), ("p95", "p95_ms"), ("p99", "p99_ms"), ("max", "max_ms"))
STAGE_ORDER = ("total", "preprocess", "infer", "postprocess")

WindowsListener = Callable[[list[LatencyWindow]], None]
ProbeListener = Callable[[ProbeStatus], None]


class LatencyError(Exception):
    """Bad input for the probe or the budget; the message says what to do."""


def format_ms(value: float | None) -> str:
    """Latency in ms with two decimals; "n/a" when there is none."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return "%.2f ms" % value


@dataclass
class LatencySeries:
    times: list[float] = field(default_factory=list)
    stats: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name, _ in STATS})
    versions: list[str | None] = field(default_factory=list)
    last: LatencyWindow | None = None

    def insert(self, window: LatencyWindow) -> bool:
        """Keep points sorted by time, one per time; returns whether it was new."""
        index = bisect.bisect_left(self.times, window.t)
        if index < len(self.times) and self.times[index] == window.t:
            return False
        self.times.insert(index, window.t)
        for name, attr in STATS:
            self.stats[name].insert(index, float(getattr(window, attr)))
        self.versions.insert(index, window.version)
        if self.last is None or window.t >= self.last.t:
            self.last = window
        if len(self.times) > MAX_POINTS:
            cut = len(self.times) - MAX_POINTS + MAX_POINTS // 10  # trim in chunks, not one point a second
            del self.times[:cut], self.versions[:cut]
            for values in self.stats.values():
                del values[:cut]
        return True

    def between(self, start: float, end: float) -> tuple[int, int]:
        return bisect.bisect_left(self.times, start), bisect.bisect_right(self.times, end)


class LatencyStore:
    """Windows per (source, stage), bounded; safe to fill from a reader thread and read from the GUI."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str], LatencySeries] = {}
        self._lock = threading.Lock()

    def add(self, windows: list[LatencyWindow]) -> int:
        added = 0
        with self._lock:
            for window in windows:
                series = self._series.setdefault((window.source, window.stage), LatencySeries())
                added += series.insert(window)
        return added

    def sources(self) -> list[str]:
        """Probe sources after the robot's own, each group by name."""
        with self._lock:
            names = {source for source, _ in self._series}
        return sorted(names, key=lambda s: (s.startswith("probe:"), s))

    def stages(self, source: str) -> list[str]:
        with self._lock:
            found = {stage for s, stage in self._series if s == source}
        return sorted(found, key=lambda s: (STAGE_ORDER.index(s) if s in STAGE_ORDER else len(STAGE_ORDER), s))

    def series(self, source: str, stage: str) -> LatencySeries | None:
        with self._lock:
            return self._series.get((source, stage))

    def latest(self, source: str, stage: str) -> LatencyWindow | None:
        series = self.series(source, stage)
        return series.last if series is not None else None

    def window_at(self, source: str, stage: str, t: float) -> LatencyWindow | None:
        """The stored point nearest ``t`` as a window (for hover)."""
        series = self.series(source, stage)
        if series is None or not series.times:
            return None
        with self._lock:
            i = bisect.bisect_left(series.times, t)
            candidates = [j for j in (i - 1, i) if 0 <= j < len(series.times)]
            j = min(candidates, key=lambda k: abs(series.times[k] - t))
            s = series.stats
            return LatencyWindow(source, stage, series.times[j], 0.0, 0, s["p50"][j], s["p95"][j], s["p99"][j],
                                 s["max"][j], 0.0, series.versions[j])

    def version_steps(self, source: str, stage: str, start: float, end: float) -> list[tuple[float, str]]:
        """(time, new version) wherever the version changed within [start, end]."""
        series = self.series(source, stage)
        if series is None:
            return []
        steps: list[tuple[float, str]] = []
        with self._lock:
            previous: str | None = None
            for t, version in zip(series.times, series.versions, strict=True):
                if version is None:
                    continue
                if previous is not None and version != previous and start <= t <= end:
                    steps.append((t, version))
                previous = version
        return steps


class LatencyFeed:
    """Keeps a :class:`LatencyStore` and the probe status in step with one device session.

    ``start`` after each (re)connect on a thread that may block: it subscribes first and then
    back-fills, so nothing pushed meanwhile is lost (the store drops the overlap).
    """

    def __init__(self, session: DeviceSession, store: LatencyStore | None = None) -> None:
        self.session = session
        self.store = store or LatencyStore()
        self.probe: ProbeStatus | None = None
        self.device_budget_ms: float | None = None
        self.window_listeners: list[WindowsListener] = []
        self.probe_listeners: list[ProbeListener] = []
        self._follow: Subscription | None = None

    def attach(self) -> None:
        if self._follow is None:
            self._follow = self.session.follow([TOPIC_LATENCY, TOPIC_PROBE], self._on_event)

    def detach(self) -> None:
        follow, self._follow = self._follow, None
        if follow is not None:
            follow.close()

    def _on_event(self, event: Event) -> None:
        if event.topic == TOPIC_LATENCY:
            self._on_windows(event)
        else:
            self._on_probe(event)

    def start(self, seconds: float = BACKFILL_S) -> int:
        """Subscribe, back-fill, read the probe and the device's budget; returns back-filled windows."""
        self.attach()
        self.session.subscribe_events([TOPIC_LATENCY, TOPIC_PROBE])
        reply = self.session.call(LATENCY_RECENT, LatencyQuery(seconds))
        self._take(reply.windows)
        self.take_probe(get_probe(self.session))
        try:
            health = self.session.call(HEALTH_CONFIG_GET, Empty())
        except DeviceError as exc:
            if exc.code != ErrorCode.UNKNOWN_METHOD:
                raise
        else:
            self.device_budget_ms = health.latency_budget_ms
        return len(reply.windows)

    def _on_windows(self, event: Event) -> None:
        try:
            windows = LatencyWindows.from_wire(event.data).windows
        except ProtocolError:
            return
        self._take(windows)

    def _take(self, windows: list[LatencyWindow]) -> None:
        if self.store.add(windows):
            for listener in list(self.window_listeners):
                listener(windows)

    def _on_probe(self, event: Event) -> None:
        try:
            self.take_probe(ProbeStatus.from_wire(event.data))
        except ProtocolError:
            return

    def take_probe(self, status: ProbeStatus) -> None:
        self.probe = status
        for listener in list(self.probe_listeners):
            listener(status)


# -- the probe -----------------------------------------------------------------------------------
def get_probe(session: DeviceSession) -> ProbeStatus:
    status = session.call(PROBE_GET, Empty())
    return status


def set_probe(session: DeviceSession, model: str | None, rate_hz: float,
              shapes: dict[str, list[int]] | None = None) -> ProbeStatus:
    """Raises DeviceError with the device's words when it refuses (bad rate, model, shapes)."""
    status = session.call(PROBE_SET, ProbeSettings(model, rate_hz, dict(shapes or {})))
    return status


def parse_shapes(texts: list[str]) -> dict[str, list[int]]:
    """``["image:1x3x64x64"]`` -> ``{"image": [1, 3, 64, 64]}``."""
    shapes: dict[str, list[int]] = {}
    for text in texts:
        name, sep, dims = text.rpartition(":")
        try:
            shape = [int(d) for d in dims.lower().split("x")]
        except ValueError:
            shape = []
        if not sep or not name or not shape or any(d <= 0 for d in shape):
            raise LatencyError("shape %r is not NAME:DxDx... with positive sizes, e.g. image:1x3x64x64" % text)
        shapes[name] = shape
    return shapes


def probe_words(status: ProbeStatus | None) -> str:
    """The probe's state as a sentence, never a bare colour."""
    if status is None:
        return "Probe: unknown (not connected)."
    if status.state == PROBE_OFF:
        return "Probe: off."
    what = "%s %s" % (status.model or "?", status.version or "")
    if status.state == PROBE_FAILED:
        return "Probe failed: %s" % status.reason
    if status.state == PROBE_PAUSED:
        return "Probe paused on %s at %g Hz: %s" % (what.strip(), status.rate_hz, status.reason)
    text = "Probe running: %s at %g Hz" % (what.strip(), status.rate_hz)
    if status.provider:
        text += " on %s" % status.provider
    if status.last_ms is not None:
        text += ", last %s" % format_ms(status.last_ms)
    return text + (" (%s)" % status.reason if status.reason else "") + "."


# -- the budget ----------------------------------------------------------------------------------
def check_budget(value: float | None) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or value <= 0:
        raise LatencyError("a latency budget must be a positive number of ms (got %r); clear it to remove it" % value)
    return float(value)


class BudgetBook:
    """The user's latency budget per device, in the console settings (the device entry)."""

    def __init__(self, registry: DeviceRegistry) -> None:
        self.registry = registry

    def get(self, name: str) -> float | None:
        return self.registry.get(name).latency_budget_ms

    def set(self, name: str, value: float | None) -> None:
        budget = check_budget(value)
        entry = self.registry.get(name)
        if entry is LOCAL_ENTRY:  # the built-in entry is saved on its first change
            entry = DeviceEntry(**vars(LOCAL_ENTRY))
            self.registry.settings.devices.insert(0, entry)
        entry.latency_budget_ms = budget
        self.registry.save()
