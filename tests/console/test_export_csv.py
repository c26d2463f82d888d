"""CSV export of a session's telemetry through the Qt-free core function."""

from __future__ import annotations

import csv
import io
import os
from datetime import datetime
from pathlib import Path

import pytest

from console.core.telemetry.export import ExportError, csv_header, export_csv, write_csv
from console.core.telemetry.metrics import TelemetryStore
from device_runtime.protocol import MetricSpec

SPECS = [
    MetricSpec("cpu.load", "total", "%", "CPU", "CPU load", min=0, max=100),
    MetricSpec("temp.gpu", "GPU", "°C", "Temperature", "Temperatures"),
    MetricSpec("jetson.power_mode", "nvpmodel id", "", "Power", "Power mode"),
]
T0 = 1_700_000_000.25


def _store(n: int = 5, **kwargs: float) -> TelemetryStore:
    store = TelemetryStore(SPECS, **kwargs)  # type: ignore[arg-type]
    for i in range(n):
        values = {"cpu.load": 10.0 + i, "jetson.power_mode": 2.0}
        if i != 2:
            values["temp.gpu"] = 40.5
        store.add(T0 + i * 0.1, values)
    return store


def test_header_has_units_from_the_metric_table() -> None:
    assert csv_header(SPECS) == ["time_iso", "time_epoch_s", "resolution", "cpu.load [%]", "temp.gpu [°C]",
                                 "jetson.power_mode"]


def test_rows_carry_iso_and_epoch_time_and_absent_values_are_empty(tmp_path: Path) -> None:
    path = tmp_path / "session.csv"
    assert export_csv(_store(), path) == 5
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    assert rows[0][3] == "cpu.load [%]"
    first = rows[1]
    assert first[0] == "2023-11-14T22:13:20.250+00:00"
    assert datetime.fromisoformat(first[0]).timestamp() == pytest.approx(T0)
    assert float(first[1]) == pytest.approx(T0)
    assert first[2] == "sample"
    assert first[3:] == ["10", "40.5", "2"]
    assert rows[3][4] == ""  # no reading in that sample: an empty cell, never 0
    assert [float(r[1]) for r in rows[1:]] == sorted(float(r[1]) for r in rows[1:])
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"


def test_history_older_than_the_ring_is_exported_as_labelled_min_max_rows() -> None:
    store = TelemetryStore(SPECS, capacity=20, decimated_capacity=100, decimate_s=1.0)
    for i in range(100):
        store.add(T0 + i * 0.1, {"cpu.load": 99.0 if i == 13 else 1.0})
    out = io.StringIO()
    rows = write_csv(store, out)
    lines = list(csv.reader(out.getvalue().splitlines()))[1:]
    assert rows == len(lines)
    kinds = [line[2] for line in lines]
    assert kinds[0] == "1s min" and kinds[1] == "1s max" and kinds[-1] == "sample"
    assert kinds.count("sample") == 20
    assert "99" in [line[3] for line in lines if line[2] == "1s max"]


def test_a_range_limits_the_rows() -> None:
    out = io.StringIO()
    assert write_csv(_store(10), out, start=T0 + 0.25, end=T0 + 0.55) == 3


def test_nothing_to_export_yet_says_so(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="No telemetry has arrived yet"):
        export_csv(TelemetryStore(SPECS), tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"the folder .*nope does not exist"):
        export_csv(_store(), tmp_path / "nope" / "x.csv")


def test_a_folder_as_target_is_refused_and_nothing_is_lost(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "old.csv").write_text("precious\n")
    with pytest.raises(ExportError, match=r"Cannot write .*exports"):
        export_csv(_store(), folder)
    assert (folder / "old.csv").read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exports"]  # no partial file left behind
