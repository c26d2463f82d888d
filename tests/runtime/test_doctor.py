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
    code = main(["doctor", *extra, *(f"--{part}-root={root / part}" for part in ("sys", "proc", "etc", "var"))],
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
    assert tegra["reads"]["power.vin"] == {"value": 28906.0, "unit": "mW"}
    assert "NVML" in tegra["absent"]["jetson.gpu.load"] and tegra["problems"] == []
    assert report["collectors"]["thermal"]["problems"][0].startswith("thermal.thermal_zone0: cannot read")
