"""The whole daemon on a real NVIDIA GPU under a PyTorch load: telemetry and alert events as a
console receives them.

Starts ``edge-runtime serve`` (the real daemon, its own NVML collector and alert detector),
connects to its unix socket with the protocol, subscribes to telemetry at 10 Hz and to alert
events, then idles, loads the GPU with 8192x8192 bf16 matrix products, and idles again. Prints a
per-second summary and every alert with its start and end, and writes what arrived as JSON (the
fixture ``tests/fixtures/nvml/h100_daemon_alerts.json`` was captured with this script).

Expectation (issue 4): utilisation, power and temperature rise under load and fall after it, and
the throttle reason "software power cap" that the GPU raises under load reaches the console as a
``power_cap`` alert with a start time and, after the load, an end time.

Needs a CUDA GPU, PyTorch, nvidia-ml-py and the device extra.

    python bench/gpu_daemon_under_load.py --out capture.json [--idle 5 --load 20 --cool 15]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench.nvml_under_load import load_gpu
from device_runtime.protocol import (
    PROTOCOL_VERSION,
    TOPIC_ALERT,
    TOPIC_SAMPLE,
    Event,
    Hello,
    Request,
    Response,
    SubscribeEvents,
    SubscribeTelemetry,
    decode,
    encode,
)


class Link:
    """A minimal protocol client on the daemon's unix socket (no console code on the GPU box)."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buffer = b""
        self.ids = 0
        self.events: list[Event] = []

    def send(self, message: Any) -> None:
        self.sock.sendall(encode(message))

    def frames(self, timeout: float) -> list[Any]:
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return []
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("the daemon closed the connection")
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [decode(line) for line in lines if line]

    def call(self, method: str, params: Any) -> Response:
        self.ids += 1
        self.send(Request(id=self.ids, method=method, params=params.to_wire()))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for frame in self.frames(1.0):
                if isinstance(frame, Event):
                    self.events.append(frame)
                elif getattr(frame, "id", None) == self.ids:
                    if not isinstance(frame, Response):
                        raise RuntimeError("%s failed: %s" % (method, frame))
                    return frame
        raise TimeoutError(method)


def wait_for_socket(path: str, daemon: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while not os.path.exists(path):
        if daemon.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the daemon did not start")
        time.sleep(0.05)  # ok: the daemon signals readiness only by creating its socket


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--idle", type=float, default=5)
    parser.add_argument("--load", type=float, default=20)
    parser.add_argument("--cool", type=float, default=15)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="eoc-gpu-")
    path = os.path.join(root, "runtime.sock")
    daemon = subprocess.Popen([sys.executable, "-m", "device_runtime.cli", "serve", "--socket", path,
                               "--root", os.path.join(root, "state"), "--rate", "10"])
    samples: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    try:
        wait_for_socket(path, daemon)
        link = Link(path)
        link.send(Hello(id=0, protocol=PROTOCOL_VERSION, client="bench/gpu_daemon_under_load"))
        while not link.frames(5.0):
            pass
        link.call("telemetry.subscribe", SubscribeTelemetry(rate_hz=10.0))
        link.call("events.subscribe", SubscribeEvents(topics=[TOPIC_ALERT]))
        stop = threading.Event()
        worker = threading.Thread(target=load_gpu, args=(stop,))
        start = time.monotonic()
        for phase, seconds in (("idle", args.idle), ("load", args.load), ("cool", args.cool)):
            if phase == "load":
                worker.start()
            if phase == "cool":
                stop.set()
                worker.join()
            end = time.monotonic() + seconds
            second: list[dict[str, float]] = []
            while time.monotonic() < end:
                for frame in link.events + link.frames(0.2):
                    if not isinstance(frame, Event):
                        continue
                    if frame.topic == TOPIC_SAMPLE:
                        values = {k: v for k, v in frame.data["values"].items() if k.startswith("gpu.0.")}
                        samples.append({"t": round(time.monotonic() - start, 3), "phase": phase,
                                        "device_t": frame.data["t"], "values": values})
                        second.append(values)
                    elif frame.topic == TOPIC_ALERT:
                        alert = dict(frame.data, phase=phase, at=round(time.monotonic() - start, 3))
                        alerts.append(alert)
                        state = "ended" if alert.get("end") else "started"
                        print("  alert %s %s (%s): %s" % (alert["kind"], state, alert["severity"], alert["message"]))
                link.events = []
                if len(second) >= 10:
                    last = second[-1]
                    print("%5.1f s %-4s util %5s %%  power %6s W  temp %4s C  throttle 0x%x" % (
                        time.monotonic() - start, phase, last.get("gpu.0.util"), last.get("gpu.0.power"),
                        last.get("gpu.0.temp"), int(last.get("gpu.0.throttle_reasons", 0))))
                    second = []
    finally:
        daemon.terminate()
        daemon.wait(30)
    with open(args.out, "w") as handle:
        json.dump({"samples": samples, "alerts": alerts}, handle, indent=1)
    kinds = sorted({(a["kind"], bool(a.get("end"))) for a in alerts})
    print("alerts seen (kind, ended): %s" % kinds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
