"""Which Jetson this is and how it is configured: board model, L4T release, nvpmodel power modes.

Pure readers of small text files; every root is a parameter so tests run on committed trees.
"""

from __future__ import annotations

import re
from typing import Dict, NamedTuple, Optional, Tuple

from device_runtime.collectors.base import read_text
from device_runtime.collectors.jetpack import DPKG_STATUS, parse_l4t, read_l4t
from device_runtime.collectors.jetson_identity import BoardIdentity, read_identity

__all__ = ["BoardInfo", "is_jetson", "parse_l4t", "parse_power_modes", "read_board", "read_power_mode_status",
           "read_power_modes"]


class BoardInfo(NamedTuple):
    model: Optional[str]  # /proc/device-tree/model, e.g. "NVIDIA Jetson AGX Orin Developer Kit"
    l4t: Optional[str]  # e.g. "36.4.7", from /etc/nv_tegra_release or the nvidia-l4t-core package
    identity: BoardIdentity
    l4t_source: str = ""


def read_board(proc_root: str = "/proc", etc_root: str = "/etc", dpkg_status: str = DPKG_STATUS) -> BoardInfo:
    release = read_l4t(etc_root, dpkg_status)
    identity = read_identity(proc_root)
    return BoardInfo(identity.model, release.version, identity, release.source)


def is_jetson(proc_root: str = "/proc", etc_root: str = "/etc", dpkg_status: str = DPKG_STATUS) -> bool:
    board = read_board(proc_root, etc_root, dpkg_status)
    return (board.l4t is not None or board.identity.soc is not None
            or "jetson" in (board.model or "").lower())


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
