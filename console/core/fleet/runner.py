"""Run one device's work on many devices in parallel, with a bound, and keep each device's outcome."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from console.core.devices.client import ConnectionLost, DeviceError, IncompatibleRuntime
from console.core.models.tracker import Refusal, explain_error
from console.transport.base import TransportError
from console.transport.hostkeys import UnknownHostKey
from device_runtime.package_format.errors import Code

OK = "ok"
FAILED = "failed"  # the device answered: it refused, or the change did not hold (rolled back)
UNREACHABLE = "unreachable"  # the console could not talk to it
SKIPPED = "skipped"  # not attempted, the reason says why (the rollout stopped first)
DEFAULT_PARALLEL = 8


class DeviceFailed(Exception):
    """A device's work ended in a failure the device reported; the message says what and what to do."""

    def __init__(self, why: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(why)
        self.why = why
        self.detail = detail or {}


@dataclass
class DeviceOutcome:
    device: str
    status: str  # OK, FAILED, UNREACHABLE or SKIPPED
    why: str = ""
    started: float = 0.0  # wall clock
    seconds: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == OK

    def to_json(self) -> dict[str, Any]:
        return {"device": self.device, "status": self.status, "why": self.why, "started": self.started,
                "seconds": round(self.seconds, 3), "detail": self.detail}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeviceOutcome:
        return cls(str(data["device"]), str(data["status"]), str(data.get("why", "")),
                   float(data.get("started", 0.0)), float(data.get("seconds", 0.0)), dict(data.get("detail", {})))


def unreachable_why(exc: BaseException) -> str | None:
    """Why the console could not talk to a device, or None when the failure is the device's own answer."""
    if isinstance(exc, IncompatibleRuntime):
        return "its runtime speaks another protocol: %s" % exc
    if isinstance(exc, ConnectionLost) or (isinstance(exc, DeviceError) and exc.code == "timeout"):
        return str(exc).strip() or type(exc).__name__
    if isinstance(exc, (TransportError, OSError, EOFError)):
        return str(exc).strip() or type(exc).__name__
    return None


# What to do, on the command line, where the console's words point at its own pages.
_CLI_TODO = {
    Code.HEALTH_FAILED: "Run edgectl --device {device} health: it shows each check and how to fix it.",
    Code.NOT_FOUND: "edgectl --device {device} versions MODEL lists what it holds.",
    Code.DOWNGRADE: "To go back on purpose: edgectl fleet rollback MODEL --to VERSION.",
    Code.LOAD_FAILED: "Check the model with edgectl validate MODEL.onnx; the previous version stays active.",
}


def one_line(refusal: Refusal, code: str | None, device: str) -> str:
    """A refusal as one line for a terminal: the device's own words, then what to do there."""
    todo = _CLI_TODO.get(code or "", "").format(device=device)
    if not todo:  # the console's words, less their pointers to its own windows
        todo = refusal.todo.replace(" (see Details)", "")
        if todo.startswith("See Details; "):
            todo = todo[len("See Details; "):]
            todo = todo[:1].upper() + todo[1:]
    details = "; ".join(line.strip() for line in refusal.details.splitlines() if line.strip())
    return "%s %s" % ((details or refusal.what).rstrip(".") + ".", todo)


def failure_text(exc: BaseException, what: str, device: str) -> str:
    """What happened, in the device's words when it gave any, and what to do (the store's table of codes)."""
    refusal = explain_error(exc, what, device)
    return "%s %s" % (refusal.what, one_line(refusal, getattr(exc, "code", None), device))


def _sentence(text: str) -> str:
    """``text`` ending as a sentence: "timed out" -> "timed out.", "is it on?" stays (never "on?.")."""
    text = text.rstrip()
    return text if text.endswith((".", "?", "!")) else text + "."


Work = Callable[[str], dict[str, Any]]
Listener = Callable[[DeviceOutcome], None]


def run_each(devices: Sequence[str], work: Work, what: str, parallel: int = DEFAULT_PARALLEL,
             on_done: Listener | None = None, clock: Callable[[], float] = time.time) -> list[DeviceOutcome]:
    """``work(device)`` on every device, at most ``parallel`` at a time; outcomes in ``devices``' order.
    ``what`` names the work in failure text ("the upload"); ``on_done`` hears each outcome as it comes,
    on the worker's thread, one at a time."""
    if not devices:
        return []
    lock = threading.Lock()

    def one(device: str) -> DeviceOutcome:
        started, t0 = clock(), time.monotonic()
        try:
            outcome = DeviceOutcome(device, OK, detail=work(device))
        except DeviceFailed as exc:
            outcome = DeviceOutcome(device, FAILED, exc.why, detail=exc.detail)
        except Exception as exc:  # one device's failure, whatever it is, must not stop the others
            why = unreachable_why(exc)
            if isinstance(exc, UnknownHostKey):  # a script's fleet run never trusts a key by itself
                outcome = DeviceOutcome(device, UNREACHABLE, "%s Once the fingerprint is confirmed: edgectl devices "
                                        "trust %s --fingerprint %s" % (why, device, exc.fingerprint))
            elif why is not None:
                outcome = DeviceOutcome(device, UNREACHABLE, "%s Check that it is on and its runtime is up: "
                                        "edgectl --device %s status" % (_sentence(why), device))
            else:
                outcome = DeviceOutcome(device, FAILED, failure_text(exc, what, device))
        outcome.started, outcome.seconds = started, time.monotonic() - t0
        if on_done is not None:
            with lock:
                on_done(outcome)
        return outcome

    pool = ThreadPoolExecutor(max_workers=max(1, min(parallel, len(devices))), thread_name_prefix="fleet")
    try:
        futures = [pool.submit(one, device) for device in devices]
        return [future.result() for future in futures]
    finally:
        # Ctrl-C: the devices under way finish their step (each device's store sees it through), the
        # devices not started yet are not touched.
        pool.shutdown(wait=True, cancel_futures=True)
