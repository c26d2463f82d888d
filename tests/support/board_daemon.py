"""A real runtime daemon reading a recorded board's sysfs tree, for the alert and metrics tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from device_runtime import protocol as p
from device_runtime.server.bridge import start_daemon
from tests.support.daemons import stop_daemon
from tests.support.wire import RawClient

BOARDS = Path(__file__).resolve().parents[1] / "fixtures" / "boards"


class BoardDaemon:
    """``edge-runtime serve`` reading a copy of a board tree (so tests can heat it up)."""

    def __init__(self, tmp: Path, board: str) -> None:
        self.board = tmp / board
        shutil.copytree(BOARDS / board, self.board)
        self.socket = tmp / "rt" / "s.sock"
        self.root = tmp / "root"

    def args(self) -> list[str]:
        return ["--rate", "10", *(f"--{part}-root={self.board / part}" for part in ("sys", "proc", "etc", "var"))]

    def start(self) -> None:
        start_daemon(str(self.socket), str(self.root), self.args())

    def stop(self) -> None:
        stop_daemon(self.socket)

    def client(self) -> RawClient:
        client = RawClient(self.socket)
        client.handshake()
        return client

    @property
    def log(self) -> str:
        return (self.root / "logs" / "daemon.log").read_text()


def robot_sample(daemon: BoardDaemon) -> tuple[list[p.MetricSpec], dict[str, float]]:
    """The metric table and one sample as the console sees them on the daemon's own socket."""
    client = daemon.client()
    try:
        reply = client.call("telemetry.subscribe", {"rate_hz": 10})
        assert isinstance(reply, p.Response)
        specs = [p.MetricSpec.from_wire(m) for m in reply.result["metrics"]]
        event = client.recv_until(lambda m: isinstance(m, p.Event) and m.topic == p.TOPIC_SAMPLE)
        assert isinstance(event, p.Event)
        return specs, p.Sample.from_wire(event.data).values
    finally:
        client.close()
