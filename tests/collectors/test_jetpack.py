"""JetPack labels per L4T release (jetson-stats' NVIDIA_JETPACK) and where the release is read from."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from device_runtime.capabilities import probe, summary
from device_runtime.collectors.jetpack import jetpack_for_l4t, jetpack_label, l4t_from_dpkg_status, read_l4t

BOARDS = Path(__file__).resolve().parents[1] / "fixtures" / "boards"

# The releases the old table labelled wrongly or lacked, and one of every JetPack 4-7 line.
LABELS = [
    ("36.4.0", "6.1"), ("36.4.2", "6.1 (rev1)"), ("36.4.3", "6.2"), ("36.4.4", "6.2.1"), ("36.4.7", "6.2.1"),
    ("36.5.0", "6.2.2"), ("36.3.0", "6.0"), ("36.2.0", "6.0 DP"),
    ("35.6.0", "5.1.4"), ("35.6.1", "5.1.5"), ("35.6.2", "5.1.5"), ("35.6.3", "5.1.5"), ("35.6.4", "5.1.6"),
    ("35.5.0", "5.1.3"), ("35.4.1", "5.1.2"), ("35.1.0", "5.0.2 GA"), ("34.1.1", "5.0.1 DP"),
    ("39.0.0", "7.2 EA"), ("39.2.0", "7.2 GA"), ("38.4.0", "7.1"), ("38.2.0", "7.0"), ("38.2.2", "7.0"),
    ("32.7.1", "4.6.1"), ("32.7.6", "4.6.6"), ("32.6.1", "4.6"), ("32.5", "4.5"), ("32.1.0", "4.2"),
]


@pytest.mark.parametrize(("l4t", "jetpack"), LABELS)
def test_labels_match_jetson_stats(l4t: str, jetpack: str) -> None:
    assert jetpack_for_l4t(l4t) == jetpack and jetpack_label(l4t) == jetpack


def test_a_release_not_in_the_table_is_never_given_a_neighbours_label() -> None:
    assert jetpack_for_l4t("40.1") is None
    assert jetpack_label("40.1") == "unknown L4T 40.1 (newer than this runtime knows)"
    assert jetpack_label("40.1.0") == "unknown L4T 40.1 (newer than this runtime knows)"
    assert jetpack_label("36.4.5") == "unknown L4T 36.4.5 (not in this runtime's table)"


@pytest.mark.parametrize(("board", "l4t", "jetpack"), [
    ("orin-nano", "36.4.7", "6.2.1"), ("orin-nx-16gb", "35.4.1", "5.1.2"), ("agx-orin", "35.4.1", "5.1.2"),
    ("agx-xavier", "35.1.0", "5.0.2 GA"), ("thor", "38.2.0", "7.0"), ("jetson-nano", "32.7.1", "4.6.1"),
    ("identity/orin-nano-4gb", "36.4.3", "6.2"), ("identity/agx-orin-32gb", "35.3.1", "5.1.1"),
])
def test_fixture_boards(board: str, l4t: str, jetpack: str) -> None:
    release = read_l4t(str(BOARDS / board / "etc"), str(BOARDS / board / "no-dpkg-status"))
    assert release == (l4t, str(BOARDS / board / "etc" / "nv_tegra_release"))
    caps = probe(root=str(BOARDS / board))
    assert (caps.l4t, caps.jetpack) == (l4t, jetpack)


# The shape of a real dpkg status file: a removed older package stays listed as config-files.
DPKG_STATUS = """Package: nvidia-l4t-init
Status: deinstall ok config-files
Architecture: arm64
Version: 35.4.1-20230801124926

Package: nvidia-l4t-core
Status: install ok installed
Priority: standard
Section: misc
Installed-Size: 8012
Maintainer: NVIDIA Corporation
Architecture: arm64
Source: nvidia-l4t-core
Version: 36.4.3-20250107174145
Depends: libc6, libgcc-s1
Description: NVIDIA Core Package

Package: zlib1g
Status: install ok installed
Version: 1:1.2.11.dfsg-2ubuntu9.2
"""


def test_falls_back_to_the_nvidia_l4t_core_package(tmp_path: Path) -> None:
    status = tmp_path / "var" / "lib" / "dpkg" / "status"
    status.parent.mkdir(parents=True)
    status.write_text(DPKG_STATUS)
    release = read_l4t(str(tmp_path / "etc"), str(status))
    assert release == ("36.4.3", "package nvidia-l4t-core in %s" % status)
    # A board whose image lost /etc/nv_tegra_release still gets its JetPack.
    root = tmp_path / "board"
    shutil.copytree(BOARDS / "identity" / "orin-nx-8gb", root)
    (root / "etc" / "nv_tegra_release").unlink()
    (root / "var" / "lib" / "dpkg").mkdir(parents=True)
    (root / "var" / "lib" / "dpkg" / "status").write_text(DPKG_STATUS)
    caps = probe(root=str(root))
    assert (caps.l4t, caps.jetpack, caps.board, caps.dla_cores) == ("36.4.3", "6.2", "Jetson Orin NX 8GB", 1)


def test_removed_or_missing_package_is_no_release(tmp_path: Path) -> None:
    assert l4t_from_dpkg_status(DPKG_STATUS.replace("install ok installed\nPriority", "deinstall ok config-files\nP")
                                ) is None
    release = read_l4t(str(tmp_path), str(tmp_path / "status"))
    assert release.version is None
    assert release.source == "no %s and no installed nvidia-l4t-core in %s" % (tmp_path / "nv_tegra_release",
                                                                             tmp_path / "status")


def test_unknown_release_is_labelled_in_the_summary(tmp_path: Path) -> None:
    root = tmp_path / "board"
    shutil.copytree(BOARDS / "thor", root)
    (root / "etc" / "nv_tegra_release").write_text(
        "# R40 (release), REVISION: 1.0, GCID: 1, BOARD: generic, EABI: aarch64, DATE: Mon Jan  4 00:00:00 UTC 2027\n")
    caps = probe(root=str(root))
    assert caps.l4t == "40.1.0" and caps.jetpack is None  # never a wrong label on the wire
    assert summary(caps)["jetpack"] == "unknown L4T 40.1 (newer than this runtime knows)"
