"""``edge-runtime doctor`` on fixture boards: what it reads, what it cannot and why, and its exit code."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from device_runtime.cli import RuntimeEnv, main

BOARDS = Path(__file__).resolve().parents[1] / "fixtures" / "boards"


def doctor(root: Path, *extra: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["doctor", *(f"--{part}-root={root / part}" for part in ("sys", "proc", "etc", "var", "run")), *extra],
                RuntimeEnv(environ={"HOME": str(root)}, stdout=out, stderr=io.StringIO()))
    return code, out.getvalue()


@pytest.mark.parametrize("board", sorted(p.name for p in BOARDS.iterdir() if p.is_dir() and p.name != "identity"))
def test_every_fixture_board_reads_cleanly(board: str) -> None:
    code, text = doctor(BOARDS / board)
    assert code == 0, text
    assert "collector tegra:" in text and "collector thermal:" in text and "no problems found" in text
    assert "PROBLEM" not in text


def test_orin_nano_report_names_values_with_units_and_reasons() -> None:
    code, text = doctor(BOARDS / "orin-nano")
    assert code == 0
    assert "reads          power.vdd_in                         9250 mW" in text
    assert "reads          temp.tj-thermal                      47.5 °C" in text
    assert "not available  jetson.emc.freq (EMC clock is exposed only in debugfs" in text
    load = BOARDS / "orin-nano/sys/devices/platform/bus@0/17000000.gpu/load"
    assert f"reads          jetson.gpu.load                      0 %  [from {load}]" in text
    # Absent is never a fake zero: EMC is not among the readings at all.
    assert "reads          jetson.emc.freq" not in text


def test_an_unreadable_file_is_a_problem_with_its_path(tmp_path: Path) -> None:
    root = tmp_path / "agx-orin"
    shutil.copytree(BOARDS / "agx-orin", root)
    zone = root / "sys/class/thermal/thermal_zone3/temp"
    zone.unlink()
    zone.mkdir()  # a read now fails with EISDIR (root can read any mode, so permissions would not do)
    rail = root / "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1/curr2_input"
    rail.write_text("not a number\n")
    code, text = doctor(root)
    assert code == 1
    assert f"PROBLEM        thermal.thermal_zone3: cannot read {zone.parent}" in text
    assert "PROBLEM        power.vdd_cpu_cv is declared but could not be read now" in text
    assert "2 problem(s) found" in text


def test_json_report(tmp_path: Path) -> None:
    root = tmp_path / "thor"
    shutil.copytree(BOARDS / "thor", root)
    (root / "sys/class/thermal/thermal_zone0/temp").write_text("hot\n")
    code, text = doctor(root, "--json")
    report = json.loads(text)
    assert code == 1 and report["problems"] == 1
    tegra = report["collectors"]["tegra"]
    assert tegra["reads"]["power.vin"] == {"value": 28906.0, "unit": "mW", "source": str(
        root / "sys/bus/i2c/drivers/ina238/2-0044/hwmon/hwmon5/power1_input")}
    assert "NVML" in tegra["absent"]["jetson.gpu.load"] and tegra["problems"] == []
    assert report["collectors"]["thermal"]["problems"][0].startswith("thermal.thermal_zone0: cannot read")


def test_identity_names_each_fact_and_its_source() -> None:
    code, text = doctor(BOARDS / "agx-xavier", "--run-root=/nonexistent")
    proc = BOARDS / "agx-xavier" / "proc" / "device-tree"
    assert code == 0, text
    assert f"  model        'Jetson-AGX'  [from {proc / 'model'}]" in text
    assert (f"  board        Jetson AGX Xavier (developer kit)  [from {proc / 'compatible'}: module p2972-0000 in "
            "this runtime's table]") in text
    assert "  compute cap  7.2  [from module table (p2972-0000)]" in text
    assert "  dla cores    2  [from module table (p2972-0000); not cross-checked: " in text
    assert f"  l4t          35.1.0  [from {BOARDS / 'agx-xavier' / 'etc' / 'nv_tegra_release'}]" in text
    assert "  jetpack      5.0.2 GA  [from jetson-stats' NVIDIA_JETPACK table]" in text
    assert ("one line: model='Jetson-AGX'; compatible=nvidia,p2972-0000 | nvidia,galen | nvidia,jetson-xavier | "
            "nvidia,tegra194; board=Jetson AGX Xavier (developer kit); compute_cap=7.2; dla_cores=2; l4t=35.1.0; "
            "jetpack=5.0.2 GA") in text


def test_identity_of_an_unknown_release_in_json(tmp_path: Path) -> None:
    root = tmp_path / "thor"
    shutil.copytree(BOARDS / "thor", root)
    (root / "etc" / "nv_tegra_release").write_text("# R40 (release), REVISION: 1.0, GCID: 1, BOARD: generic\n")
    _, text = doctor(root, "--json", f"--run-root={tmp_path}")
    report = json.loads(text)
    facts = {f["name"]: f for f in report["identity"]}
    assert facts["jetpack"] == {"name": "jetpack", "value": "unknown L4T 40.1 (newer than this runtime knows)",
                                "source": "not in this runtime's table", "note": ""}
    assert facts["board"]["value"] == "Jetson AGX Thor" and "dla_cores=0" in report["identity_line"]
    assert report["device"]["jetpack"] == "unknown L4T 40.1 (newer than this runtime knows)"


def _jtop_board(tmp_path: Path, members: str) -> Path:
    root = tmp_path / "orin-nano"
    shutil.copytree(BOARDS / "orin-nano", root)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n"
                                         "edge-runtime:x:995:995::/var/lib/edge-runtime:/usr/sbin/nologin\n")
    (root / "etc" / "group").write_text("root:x:0:\nvideo:x:44:edge-runtime\nedge-runtime:x:995:\n"
                                        f"jtop:x:996:{members}\n")
    return root


def test_jtop_installed_but_unreachable_says_the_fix(tmp_path: Path) -> None:
    root = _jtop_board(tmp_path, "")
    code, text = doctor(root, f"--run-root={tmp_path}")
    assert code == 0  # jtop is optional: advice, not a failure
    assert (f"  warn jtop          jtop is installed but the edge-runtime user is not in the jtop group, so the daemon "
            f"cannot reach {tmp_path / 'jtop.sock'} (root:jtop 0660)") in text
    assert "fix: sudo usermod -aG jtop edge-runtime && sudo systemctl restart edge-runtime" in text


def test_jtop_service_down_and_reachable(tmp_path: Path) -> None:
    import socket

    root = _jtop_board(tmp_path, "edge-runtime")
    _, text = doctor(root, f"--run-root={tmp_path}")
    sock = tmp_path / "jtop.sock"
    assert f"  warn jtop          jetson-stats is installed but its service is not running (no {sock})" in text
    assert "fix: sudo systemctl enable --now jtop.service" in text
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "jtop.sock"))
        _, text = doctor(root, f"--run-root={tmp_path}")
    assert f"  ok   jtop          jtop service reachable at {tmp_path / 'jtop.sock'}" in text


def test_no_jtop_is_fine(tmp_path: Path) -> None:
    _, text = doctor(BOARDS / "thor", f"--run-root={tmp_path}")
    assert "  ok   jtop          jetson-stats (jtop) is not installed (optional" in text
