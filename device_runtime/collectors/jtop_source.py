"""Optional telemetry from jetson-stats' ``jtop`` service, for sites that already run it.

jtop is never required: it is imported lazily and its absence is reported, not raised. Its
sampling interval is set by the service and shared by every client, so it is never the source
of fast (10 Hz) series; the sysfs collector is. If the service dies mid-run the collector
reports its metrics absent and reconnects at most every ``retry_after`` seconds.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Callable, Dict, List, Optional

from device_runtime.collectors.base import Collector, metric_slug
from device_runtime.protocol import MetricSpec

Factory = Callable[[], Any]


def _hint(exc: Exception) -> str:
    """jtop words a refused socket as "I can't access jtop.service. Please logout or reboot": the
    real cause for a service user is the socket's group."""
    text = str(exc).lower()
    if isinstance(exc, PermissionError) or "can't access" in text or "permission denied" in text:
        return (" (its socket /run/jtop.sock is root:jtop 0660: sudo usermod -aG jtop edge-runtime, "
                "then restart edge-runtime)")
    return ""


def stats_values(stats: Dict[str, Any]) -> Dict[str, float]:
    """jtop's ``stats`` dict (``GPU``, ``EMC``, ``Power VDD_IN``, ``Fan pwmfan0``, ...) as metrics.
    Names carry a ``jtop.`` prefix: jtop may run beside the sysfs collector."""
    out: Dict[str, float] = {}
    for key, value in stats.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue  # "OFF", timestamps, "nvp model" names
        if key == "GPU":
            out["jtop.gpu.load"] = float(value)
        elif key == "EMC":
            out["jtop.emc.load"] = float(value)
        elif key.startswith("Power "):
            out[f"jtop.power.{metric_slug(key[6:], 'x')}"] = float(value)
        elif key.startswith("Fan "):
            out[f"jtop.fan.{metric_slug(key[4:], 'x')}"] = float(value)
    return out


def _spec(name: str) -> MetricSpec:
    tail = name.split(".", 2)[2] if name.count(".") >= 2 else name
    if name == "jtop.gpu.load":
        return MetricSpec(name, "GPU (jtop)", "%", "GPU", "GPU load", min=0, max=100)
    if name == "jtop.emc.load":
        return MetricSpec(name, "EMC (jtop)", "%", "Memory", "EMC load", min=0, max=100)
    if name.startswith("jtop.power."):
        return MetricSpec(name, f"{tail} (jtop)", "mW", "Power", "Power rails", min=0)
    return MetricSpec(name, f"{tail} (jtop)", "%", "Fan", "Fan speed", min=0, max=100)


class JtopCollector(Collector):
    """``factory`` builds a jtop client (tests pass a recorded stand-in); by default the real
    ``jtop.jtop`` class is imported here, inside the constructor."""

    name = "jtop"

    def __init__(self, factory: Optional[Factory] = None, clock: Callable[[], float] = time.monotonic,
                 retry_after: float = 30.0) -> None:
        self._clock = clock
        self._retry_after = retry_after
        self._client: Any = None
        self._why: Optional[str] = None
        self._failed_at: Optional[float] = None
        self._specs: List[MetricSpec] = []
        if factory is None:
            try:
                from jtop import jtop as jtop_client  # optional dependency, jetson-stats
            except ImportError:
                self._why = "jetson-stats (jtop) is not installed"
                return
            factory = jtop_client
        self._factory: Factory = factory
        if self._connect():
            self._specs = [_spec(name) for name in sorted(stats_values(self._stats()))]

    def _connect(self) -> bool:
        try:
            client = self._factory()
            client.start()  # raises JtopException when jtop.service is not running
        except Exception as exc:  # jtop raises its own exception types; none may reach the daemon
            self._fail(f"jtop service unavailable: {' '.join(str(exc).split())}{_hint(exc)}")
            return False
        self._client, self._why, self._failed_at = client, None, None
        return True

    def _fail(self, why: str) -> None:
        self._why, self._failed_at = why, self._clock()
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # a dead service cannot be closed cleanly
                client.close()

    def _stats(self) -> Dict[str, Any]:
        client = self._client
        if client is None:
            return {}
        alive = getattr(client, "is_alive", None)
        if callable(alive) and not alive():
            raise ConnectionError("jtop client thread stopped (service gone?)")
        stats = client.stats
        return dict(stats) if isinstance(stats, dict) else {}

    def metrics(self) -> List[MetricSpec]:
        return list(self._specs)

    def collect(self) -> Dict[str, float]:
        if self._client is None:
            if self._failed_at is None or self._clock() - self._failed_at < self._retry_after:
                return {}
            if not self._connect():
                return {}
        try:
            values = stats_values(self._stats())
        except Exception as exc:
            self._fail(f"lost the jtop service: {exc}")
            return {}
        declared = {spec.name for spec in self._specs}
        return {k: v for k, v in values.items() if k in declared}

    def state(self) -> Dict[str, str]:
        """jetson_clocks and nvpmodel as jtop reports them."""
        try:
            stats = self._stats()
        except Exception:
            return {}
        out = {}
        if isinstance(stats.get("jetson_clocks"), str):
            out["jetson_clocks"] = stats["jetson_clocks"].lower()
        if isinstance(stats.get("nvp model"), str):
            out["power_mode"] = stats["nvp model"]
        return out

    def absent(self) -> Dict[str, str]:
        return {"jtop": self._why} if self._why else {}

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # a dead service cannot be closed cleanly
                client.close()
