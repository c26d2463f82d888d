"""L4T release -> JetPack label, and where the L4T release is read from.

``/etc/nv_tegra_release`` first; an image without it (a container, a trimmed rootfs) still has
the ``nvidia-l4t-core`` package, whose version starts with the release (``36.4.3-20250107174145``).
A release missing from the table gets a label that says so instead of a neighbour's.
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple, Optional, Tuple

from device_runtime.collectors.base import read_text

# From jetson-stats' NVIDIA_JETPACK (jtop/core/jetson_variables.py at f41d5cad), L4T 32.x to 39.x.
# Check it against jetson-stats at each JetPack release.
NVIDIA_JETPACK = {
    "39.2.0": "7.2 GA", "39.0.0": "7.2 EA",
    "38.4.0": "7.1", "38.2.2": "7.0", "38.2.1": "7.0", "38.2.0": "7.0",
    "36.5.0": "6.2.2", "36.4.7": "6.2.1", "36.4.4": "6.2.1", "36.4.3": "6.2", "36.4.2": "6.1 (rev1)",
    "36.4.0": "6.1", "36.3.0": "6.0", "36.2.0": "6.0 DP", "36.0.0": "6.0 EA",
    "35.6.4": "5.1.6", "35.6.3": "5.1.5", "35.6.2": "5.1.5", "35.6.1": "5.1.5", "35.6.0": "5.1.4",
    "35.5.0": "5.1.3", "35.4.1": "5.1.2", "35.3.1": "5.1.1", "35.3.0": "5.1.1 PRE", "35.2.1": "5.1",
    "35.1.0": "5.0.2 GA", "34.1.1": "5.0.1 DP", "34.1.0": "5.0 DP", "34.0.1": "5.0 PRE-DP",
    "32.7.6": "4.6.6", "32.7.5": "4.6.5", "32.7.4": "4.6.4", "32.7.3": "4.6.3", "32.7.2": "4.6.2",
    "32.7.1": "4.6.1", "32.6.1": "4.6", "32.5.2": "4.5.1", "32.5.1": "4.5.1", "32.5.0": "4.5",
    "32.4.4": "4.4.1", "32.4.3": "4.4", "32.4.2": "4.4 DP", "32.3.1": "4.3", "32.2.3": "4.2.3",
    "32.2.1": "4.2.2", "32.2.0": "4.2.1", "32.1.0": "4.2",
}

DPKG_STATUS = "/var/lib/dpkg/status"


class L4tRelease(NamedTuple):
    version: Optional[str]  # "36.4.3"
    source: str  # the file or package it came from, or why there is none


def _key(version: str) -> Tuple[int, ...]:
    parts = tuple(int(p) for p in version.split("."))
    return parts + (0,) * (3 - len(parts))


def normalize(version: str) -> str:
    """``32.5`` -> ``32.5.0``: jetson-stats writes some releases with two parts."""
    return ".".join(str(p) for p in _key(version)[:3]) if re.fullmatch(r"\d+(\.\d+){0,2}", version) else version


def parse_l4t(text: str) -> Optional[str]:
    """``# R36 (release), REVISION: 4.7, ...`` -> ``36.4.7``."""
    match = re.search(r"R(\d+)\s*\(\w+\),\s*REVISION:\s*(\d+(?:\.\d+)?)", text)
    return normalize("%s.%s" % match.groups()) if match else None


def l4t_from_dpkg_status(text: str) -> Optional[str]:
    """The installed ``nvidia-l4t-core``'s release from a dpkg status file."""
    for stanza in text.split("\n\n"):
        if not re.search(r"^Package:\s*nvidia-l4t-core\s*$", stanza, re.MULTILINE):
            continue
        if not re.search(r"^Status:.*\binstalled\s*$", stanza, re.MULTILINE):
            continue
        match = re.search(r"^Version:\s*(\d+\.\d+(?:\.\d+)?)", stanza, re.MULTILINE)
        if match:
            return normalize(match.group(1))
    return None


def read_l4t(etc_root: str = "/etc", dpkg_status: str = DPKG_STATUS) -> L4tRelease:
    release_file = os.path.join(etc_root, "nv_tegra_release")
    text = read_text(release_file)
    version = parse_l4t(text) if text else None
    if version:
        return L4tRelease(version, release_file)
    status = read_text(dpkg_status)
    version = l4t_from_dpkg_status(status) if status else None
    if version:
        return L4tRelease(version, "package nvidia-l4t-core in %s" % dpkg_status)
    why = "no %s" % release_file if text is None else "no release line in %s" % release_file
    return L4tRelease(None, "%s and no installed nvidia-l4t-core in %s" % (why, dpkg_status))


def jetpack_for_l4t(l4t: str) -> Optional[str]:
    """The JetPack of a release in the table, else None (see :func:`jetpack_label`)."""
    return NVIDIA_JETPACK.get(normalize(l4t))


def jetpack_label(l4t: str) -> str:
    """The JetPack for display: the table's, or an "unknown" that says why."""
    known = jetpack_for_l4t(l4t)
    if known:
        return known
    try:
        newer = _key(normalize(l4t)) > max(_key(v) for v in NVIDIA_JETPACK)
    except ValueError:
        newer = False
    shown = l4t[:-2] if l4t.endswith(".0") else l4t
    return "unknown L4T %s (%s)" % (shown, "newer than this runtime knows" if newer else "not in this runtime's table")
