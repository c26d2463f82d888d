"""Which Jetson this is and how it is configured: board model, L4T release, nvpmodel power modes.

Pure readers of small text files; every root is a parameter so tests run on committed trees.
"""

from __future__ import annotations

import os
import re
from typing import Dict, NamedTuple, Optional, Tuple

from device_runtime.collectors.base import read_text


class BoardInfo(NamedTuple):
    model: Optional[str]  # /proc/device-tree/model, e.g. "NVIDIA Jetson AGX Orin Developer Kit"
    l4t: Optional[str]  # from /etc/nv_tegra_release, e.g. "36.4.7"


def parse_l4t(text: str) -> Optional[str]:
    """``# R36 (release), REVISION: 4.7, ...`` -> ``36.4.7``."""
    match = re.search(r"R(\d+)\s*\(\w+\),\s*REVISION:\s*(\d+)\.(\d+)", text)
    return "{}.{}.{}".format(*match.groups()) if match else None


def read_board(proc_root: str = "/proc", etc_root: str = "/etc") -> BoardInfo:
    release = read_text(os.path.join(etc_root, "nv_tegra_release"))
    return BoardInfo(read_text(os.path.join(proc_root, "device-tree", "model")),
                     parse_l4t(release) if release else None)


def is_jetson(proc_root: str = "/proc", etc_root: str = "/etc") -> bool:
    board = read_board(proc_root, etc_root)
    return board.l4t is not None or "jetson" in (board.model or "").lower()


def parse_power_modes(text: str) -> Tuple[Dict[int, str], Optional[int]]:
    """nvpmodel.conf headers: ``< POWER_MODEL ID=2 NAME=MAXN_SUPER >`` and ``< PM_CONFIG DEFAULT=2 >``."""
    modes = {int(i): n for i, n in re.findall(r"<\s*POWER_MODEL\s+ID=(\d+)\s+NAME=(\S+)\s*>", text)}
    default = re.search(r"<\s*PM_CONFIG\s+DEFAULT=(\d+)\s*>", text)
    return modes, int(default.group(1)) if default else None


def read_power_modes(path: str) -> Tuple[Dict[int, str], Optional[int]]:
    text = read_text(path)
    return parse_power_modes(text) if text else ({}, None)


def read_power_mode_status(path: str) -> Optional[int]:
    """/var/lib/nvpmodel/status holds ``pmode:0002 fmode:quiet``; absent until a mode is set."""
    text = read_text(path)
    match = re.search(r"pmode:(\d+)", text or "")
    return int(match.group(1)) if match else None
