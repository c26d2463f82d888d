"""The lab the fleet tests drive: a temp console whose registered devices are real daemons on this machine."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.cli.main import main
from console.core.env import ConsoleEnv

# robot-4 reads its hardware from a real Orin NX's sysfs tree: hot thermal zones, a GPU, power rails
HOT_BOARD = Path(__file__).resolve().parents[1] / "fixtures" / "boards" / "orin-nx-16gb" / "sys"
GRACE_S = 3.0  # how long each device's health gate waits before it rolls a failing activation back


@dataclass
class Lab:
    env: ConsoleEnv
    sockets: dict[str, Path]
    packages: dict[str, Path]  # version -> an unsigned package of the model "detector"

    def run(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        self.env.stdout, self.env.stderr = out, err
        code = main(list(argv), self.env)
        return code, out.getvalue(), err.getvalue()

    def json(self, *argv: str) -> tuple[int, Any]:
        code, out, err = self.run(*argv)
        assert out, err
        return code, json.loads(out)

    def active(self) -> dict[str, str | None]:
        """Each robot's active version of the model, from its own store (through fleet status)."""
        _, status = self.json("fleet", "status", "--tag", "lab", "--json")
        return {row["device"]: row["models"].get("detector") for row in status["devices"]}
