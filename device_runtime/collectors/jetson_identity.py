"""Which Jetson module this is, from ``/proc/device-tree/compatible``, and what follows from it.

The device-tree ``model`` string is free text and not enough: an AGX Xavier prints ``Jetson-AGX``
and Orin NX 8 GB and 16 GB print the same string. ``compatible`` is a NUL-separated list such as
``nvidia,p3768-0000+p3767-0001`` (carrier + module), ``nvidia,p3767-0001`` (module) and
``nvidia,tegra234`` (SoC); the module's P-number and SKU key the table below, the SoC is the
fallback for a module this runtime does not know.
"""

from __future__ import annotations

import os
import re
from typing import List, NamedTuple, Optional, Tuple

from device_runtime.collectors.base import read_text


class Module(NamedTuple):
    name: str
    dla_cores: Optional[int]  # None: this SoC's modules differ and the SKU is unknown
    compute_capability: str


# Module P-number and SKU -> module. Names and SKUs from jetson-stats' MODULE_NAME_TABLE and
# NVIDIA's jetson-gpio compatible lists; DLA cores from NVIDIA's module data sheets (Orin Nano and
# Thor have none, Orin NX 8 GB has one).
MODULES = {
    "p3767-0000": Module("Jetson Orin NX 16GB", 2, "8.7"),
    "p3767-0001": Module("Jetson Orin NX 8GB", 1, "8.7"),
    "p3767-0003": Module("Jetson Orin Nano 8GB", 0, "8.7"),
    "p3767-0004": Module("Jetson Orin Nano 4GB", 0, "8.7"),
    "p3767-0005": Module("Jetson Orin Nano 8GB (developer kit)", 0, "8.7"),
    "p3701-0000": Module("Jetson AGX Orin 32GB (developer kit)", 2, "8.7"),
    "p3701-0001": Module("Jetson AGX Orin 64GB (developer kit)", 2, "8.7"),
    "p3701-0002": Module("Jetson IGX Orin", 2, "8.7"),
    "p3701-0004": Module("Jetson AGX Orin 32GB", 2, "8.7"),
    "p3701-0005": Module("Jetson AGX Orin 64GB", 2, "8.7"),
    "p3701-0008": Module("Jetson AGX Orin Industrial", 2, "8.7"),
    "p2888-0001": Module("Jetson AGX Xavier 16GB", 2, "7.2"),
    "p2888-0003": Module("Jetson AGX Xavier 32GB", 2, "7.2"),
    "p2888-0004": Module("Jetson AGX Xavier 32GB", 2, "7.2"),
    "p2888-0005": Module("Jetson AGX Xavier 64GB", 2, "7.2"),
    "p2888-0006": Module("Jetson AGX Xavier 8GB", 2, "7.2"),
    "p2888-0008": Module("Jetson AGX Xavier Industrial", 2, "7.2"),
    "p2972-0000": Module("Jetson AGX Xavier (developer kit)", 2, "7.2"),
    "p3668-0000": Module("Jetson Xavier NX (developer kit)", 2, "7.2"),
    "p3668-0001": Module("Jetson Xavier NX", 2, "7.2"),
    "p3668-0003": Module("Jetson Xavier NX 16GB", 2, "7.2"),
    "p3834-0005": Module("Jetson T4000", 0, "11.0"),
    "p3834-0008": Module("Jetson AGX Thor", 0, "11.0"),
    "p3448-0000": Module("Jetson Nano 4GB", 0, "5.3"),
    "p3448-0002": Module("Jetson Nano 4GB (eMMC)", 0, "5.3"),
    "p3448-0003": Module("Jetson Nano 2GB", 0, "5.3"),
}

# SoC -> what every module on it shares, for a SKU missing from MODULES.
SOCS = {
    "tegra264": Module("Jetson Thor family", 0, "11.0"),
    "tegra234": Module("Jetson Orin family", None, "8.7"),
    "tegra194": Module("Jetson Xavier family", 2, "7.2"),
    "tegra186": Module("Jetson TX2 family", 0, "6.2"),
    "tegra210": Module("Jetson Nano / TX1 family", 0, "5.3"),
}

# Entries that name a developer kit rather than its module (older L4T names the AGX Xavier by codename).
_ALIASES = {"jetson-xavier": "p2972-0000", "galen": "p2972-0000", "p3450-0000": "p3448-0000"}

_PART = re.compile(r"(p\d{4}-\d{4})")


class BoardIdentity(NamedTuple):
    model: Optional[str]  # the device tree's free-text model
    compatible: Tuple[str, ...]
    part: Optional[str]  # the module's P-number and SKU, e.g. "p3767-0001"
    soc: Optional[str]  # e.g. "tegra234"
    name: Optional[str]  # what this runtime calls the module
    dla_cores: Optional[int]
    compute_capability: Optional[str]
    how: str  # which entry decided, in words (for the doctor)
    super_mode: bool = False  # a "-super" module (JetPack 6.2 MAXN_SUPER)

    @property
    def known(self) -> bool:
        return self.part is not None and self.part in MODULES


def split_compatible(raw: str) -> Tuple[str, ...]:
    return tuple(entry.strip() for entry in raw.split("\x00") if entry.strip())


def _module_part(entries: Tuple[str, ...]) -> Tuple[Optional[str], bool]:
    """The module's P-number: after '+' in a carrier+module entry, else a lone module entry."""
    lone: List[str] = []
    for entry in entries:
        value = entry.split(",", 1)[-1]
        if "+" in value:
            tail = value.split("+", 1)[1]
            match = _PART.match(tail)
            if match:
                return match.group(1), tail.endswith("-super")
        match = _PART.fullmatch(value) or _PART.fullmatch(value.replace("-super", ""))
        if value in _ALIASES:
            lone.append(_ALIASES[value])
        elif match:
            lone.append(match.group(1))
    known = [p for p in lone if p in MODULES]
    if known:
        return known[0], False
    return (lone[0] if lone else None), False


def identify(compatible: str, model: Optional[str] = None) -> BoardIdentity:
    entries = split_compatible(compatible)
    part, is_super = _module_part(entries)
    soc = next((e.split(",", 1)[-1] for e in entries if re.fullmatch(r"nvidia,tegra\d+", e)), None)
    module = MODULES.get(part) if part else None
    if module is not None:
        how = "module %s in this runtime's table" % part
        return BoardIdentity(model, entries, part, soc, module.name, module.dla_cores, module.compute_capability,
                             how, is_super)
    family = SOCS.get(soc) if soc else None
    if family is not None:
        how = "SoC %s (module %s is not in this runtime's table)" % (soc, part or "not named")
        return BoardIdentity(model, entries, part, soc, family.name, family.dla_cores, family.compute_capability,
                             how, is_super)
    how = "no NVIDIA module or SoC in compatible" if entries else "no device-tree compatible"
    return BoardIdentity(model, entries, part, soc, None, None, None, how, is_super)


def read_identity(proc_root: str = "/proc") -> BoardIdentity:
    tree = os.path.join(proc_root, "device-tree")
    try:
        with open(os.path.join(tree, "compatible"), "rb") as handle:
            raw = handle.read(4096).decode("utf-8", "replace")
    except OSError:
        raw = ""
    return identify(raw, read_text(os.path.join(tree, "model")))

