"""Board identity from the device tree's ``compatible`` on every board of the support list.

Each tree holds the board's real ``compatible`` and ``model`` (sources in fixtures/boards/README.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from device_runtime.capabilities import probe, summary
from device_runtime.collectors.jetson_identity import identify, read_identity

BOARDS = Path(__file__).resolve().parents[1] / "fixtures" / "boards"

# tree -> (module part, name, DLA cores, compute capability)
EXPECTED = {
    "orin-nano": ("p3767-0005", "Jetson Orin Nano 8GB (developer kit)", 0, "8.7"),
    "identity/orin-nano-8gb": ("p3767-0003", "Jetson Orin Nano 8GB", 0, "8.7"),
    "identity/orin-nano-4gb": ("p3767-0004", "Jetson Orin Nano 4GB", 0, "8.7"),
    "orin-nx-16gb": ("p3767-0000", "Jetson Orin NX 16GB", 2, "8.7"),
    "identity/orin-nx-8gb": ("p3767-0001", "Jetson Orin NX 8GB", 1, "8.7"),
    "agx-orin": ("p3701-0000", "Jetson AGX Orin 32GB (developer kit)", 2, "8.7"),
    "identity/agx-orin-32gb": ("p3701-0004", "Jetson AGX Orin 32GB", 2, "8.7"),
    "identity/agx-orin-64gb": ("p3701-0005", "Jetson AGX Orin 64GB", 2, "8.7"),
    "identity/agx-orin-industrial": ("p3701-0008", "Jetson AGX Orin Industrial", 2, "8.7"),
    "agx-xavier": ("p2972-0000", "Jetson AGX Xavier (developer kit)", 2, "7.2"),
    "identity/xavier-nx": ("p3668-0001", "Jetson Xavier NX", 2, "7.2"),
    "thor": ("p3834-0008", "Jetson AGX Thor", 0, "11.0"),
    "jetson-nano": ("p3448-0000", "Jetson Nano 4GB", 0, "5.3"),
}


def test_every_tree_is_covered() -> None:
    trees = {p.relative_to(BOARDS).parents[2].as_posix() for p in BOARDS.rglob("device-tree/compatible")}
    assert trees == set(EXPECTED)


@pytest.mark.parametrize("tree", sorted(EXPECTED))
def test_identity_from_compatible(tree: str) -> None:
    part, name, dla, cc = EXPECTED[tree]
    identity = read_identity(str(BOARDS / tree / "proc"))
    assert (identity.part, identity.name, identity.dla_cores, identity.compute_capability) == (part, name, dla, cc)
    assert identity.known and "in this runtime's table" in identity.how


@pytest.mark.parametrize("tree", sorted(EXPECTED))
def test_capabilities_carry_the_derived_identity(tree: str) -> None:
    _, name, dla, cc = EXPECTED[tree]
    caps = probe(root=str(BOARDS / tree))
    assert caps.board == name and caps.dla_cores == dla
    assert [g.compute_capability for g in caps.gpus] == [cc]  # the integrated GPU, NVML or not
    assert summary(caps)["dla cores"] == str(dla)
    assert summary(caps)["gpu 0"] == "%s integrated GPU (compute capability %s)" % (name, cc)


def test_model_strings_that_misled_the_old_lookup() -> None:
    xavier = read_identity(str(BOARDS / "agx-xavier" / "proc"))
    assert xavier.model == "Jetson-AGX" and xavier.dla_cores == 2 and xavier.compute_capability == "7.2"
    nx8 = read_identity(str(BOARDS / "identity" / "orin-nx-8gb" / "proc"))
    nx16 = read_identity(str(BOARDS / "orin-nx-16gb" / "proc"))
    assert nx8.model == nx16.model and (nx8.dla_cores, nx16.dla_cores) == (1, 2)


def test_super_module_is_the_same_module() -> None:
    identity = read_identity(str(BOARDS / "orin-nano" / "proc"))
    assert identity.super_mode and identity.part == "p3767-0005"


def test_unknown_sku_falls_back_to_the_soc_and_says_so() -> None:
    identity = identify("nvidia,p3768-0000+p3767-0099\x00nvidia,p3767-0099\x00nvidia,tegra234\x00", "X")
    assert identity.part == "p3767-0099" and not identity.known
    assert identity.name == "Jetson Orin family" and identity.compute_capability == "8.7"
    assert identity.dla_cores is None  # Orin modules differ: 0, 1 or 2; never guessed
    assert "SoC tegra234 (module p3767-0099 is not in this runtime's table)" in identity.how


def test_not_a_jetson(tmp_path: Path) -> None:
    assert identify("raspberrypi,4-model-b\x00brcm,bcm2711\x00").name is None
    identity = read_identity(str(tmp_path))
    assert identity.name is None and identity.how == "no device-tree compatible"
    caps = probe(root=str(tmp_path))
    assert caps.board is None and caps.dla_cores == 0 and caps.gpus == []
