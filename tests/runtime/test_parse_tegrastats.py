"""``edge-runtime parse-tegrastats FILE [--json]`` over every recorded tegrastats line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from device_runtime.cli import RuntimeEnv, main

LINES = Path(__file__).resolve().parents[1] / "fixtures" / "tegrastats"
ALL = sorted(p.name for p in LINES.glob("*.txt"))


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["parse-tegrastats", *argv], RuntimeEnv(environ={}, stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


def test_fixtures_cover_six_boards_or_jetpacks_each_with_a_source() -> None:
    readme = (LINES / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in ALL)
    generations = {name.rsplit("-", 1)[0] if name.startswith("thor") else name[:-4] for name in ALL}
    assert len(generations) >= 6, generations


@pytest.mark.parametrize("name", ALL)
def test_every_fixture_prints_memory_cpus_gpu_temperatures_and_rails(name: str) -> None:
    code, text, err = run(str(LINES / name))
    assert code == 0 and err == ""
    assert text.startswith("line 1:\n  ") and "  RAM      " in text and "  CPU 0    " in text
    assert "  GPU      " in text
    if name != "jetson-tx1-l4t28.txt":  # L4T 28 printed neither temperatures nor rails
        assert "  temps    " in text and "  rail     " in text


def test_nano_line_in_detail() -> None:
    _, text, _ = run(str(LINES / "jetson-nano-jp4.txt"))
    assert "  RAM      1501 / 3956 MB\n" in text
    assert "  CPU 0    16% @ 1479 MHz\n" in text and "  CPU 3    4% @ 1479 MHz\n" in text
    assert "  EMC      4% @ 1600 MHz\n" in text and "  GPU      28% @ 76 MHz\n" in text
    assert "GPU 41.5 °C" in text and "PMIC 100 °C" in text
    assert "  rail     POM_5V_IN 4122 mW (avg 3107 mW)\n" in text


def test_orin_powered_off_sensors_read_off_not_minus_256() -> None:
    _, text, _ = run(str(LINES / "agx-orin-jp5.txt"))
    assert "CV0 off" in text and "-256" not in text and "tj 44.3 °C" in text


def test_json_per_line() -> None:
    code, text, _ = run(str(LINES / "thor-jp7-loaded.txt"), "--json")
    (line,) = json.loads(text)
    sample = line["sample"]
    assert code == 0 and line["line"] == 1
    assert sample["ram_mb"] == {"used": 8353.0, "total": 125749.0}
    assert sample["cpus"][2] == {"core": 2, "online": False, "load_pct": None, "freq_mhz": None}
    assert sample["engines"]["GR3D"]["freq_mhz"] == [1574.0, 1574.0, 1574.0]
    assert sample["rails_mw"]["VIN"] == {"current": 124486.0, "average": 36487.0, "max": 124486.0}
    assert sample["temperatures_c"]["soc345"] == 55.812 and sample["unknown"] == []


def test_a_malformed_line_is_a_per_line_error_and_the_rest_is_read(tmp_path: Path) -> None:
    nano = (LINES / "jetson-nano-jp4.txt").read_text().strip()
    orin = (LINES / "agx-orin-jp5.txt").read_text().strip()
    log = tmp_path / "tegrastats.log"
    # A line cut off when tegrastats was killed mid-write, and a line of something else.
    log.write_text(f"{nano}\nRAM 1501/39\n\n{orin}\nWarning: some tool printed this\n")
    code, text, err = run(str(log))
    assert code == 1
    assert "line 1:\n" in text and "line 4:\n" in text and "line 2:" not in text
    assert f"{log}: line 2: not a tegrastats line (no RAM or CPU field): 'RAM 1501/39'" in err
    assert f"{log}: line 5: not a tegrastats line" in err
    code, text, _ = run(str(log), "--json")
    lines = json.loads(text)
    assert code == 1 and [entry["line"] for entry in lines] == [1, 2, 4, 5]
    assert "error" in lines[1] and lines[2]["sample"]["ram_mb"]["total"] == 62801.0


def test_unknown_tokens_are_shown_not_dropped(tmp_path: Path) -> None:
    log = tmp_path / "future.log"
    log.write_text("RAM 1/2MB CPU [5%@100] NEW_ENGINE 12%@300 GR3D_FREQ 1%@[10]\n")
    code, text, _ = run(str(log))
    assert code == 0 and "  unknown  NEW_ENGINE 12%@300" in text


def test_missing_or_empty_file(tmp_path: Path) -> None:
    code, _, err = run(str(tmp_path / "nope.log"))
    assert code == 2 and "cannot read" in err and "nope.log" in err
    (tmp_path / "empty.log").write_text("\n\n")
    code, _, err = run(str(tmp_path / "empty.log"))
    assert code == 1 and "no tegrastats lines found" in err
