"""The thermal collector looks for its zones again when their files move or vanish under it: board
trees swapped behind a symlink, as a driver rebind that renumbers zones or a container's new /sys would.

The collector's clock is a plain number here: a check runs once per second of it.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from device_runtime.collectors.source_watch import RETRY_S
from device_runtime.collectors.thermal import ThermalCollector
from tests.support.tree_swap import BOARDS, Clock, point, run_checks


def test_renumbered_and_vanished_zones_are_found_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    shutil.copytree(BOARDS / "agx-orin" / "sys", before)
    shutil.copytree(BOARDS / "agx-orin" / "sys", after)
    zones = after / "class" / "thermal"
    # After a rebind the cpu and gpu zones swapped numbers, the cpu reads a new value and tj is gone.
    os.rename(zones / "thermal_zone0", zones / "swap")
    os.rename(zones / "thermal_zone1", zones / "thermal_zone0")
    os.rename(zones / "swap", zones / "thermal_zone1")
    (zones / "thermal_zone1" / "temp").write_text("52000\n")
    shutil.rmtree(zones / "thermal_zone6")
    link = tmp_path / "sys"
    link.symlink_to(before)
    clock = Clock()
    collector = ThermalCollector(str(link), clock=clock)
    try:
        values = run_checks(collector, clock)
        assert values["temp.cpu-thermal"] == 44.562 and values["temp.tj-thermal"] == 44.343
        assert collector.changes == []  # nothing moved: no new look
        old = str(link / "class/thermal/thermal_zone0/temp")
        assert collector.sources()["temp.cpu-thermal"] == old
        point(link, after)
        with caplog.at_level(logging.WARNING, logger="device_runtime.collectors.thermal"):
            values = run_checks(collector, clock)
        new = str(link / "class/thermal/thermal_zone1/temp")
        assert values["temp.cpu-thermal"] == 52.0 and values["temp.gpu-thermal"] == 41.0
        assert collector.sources()["temp.cpu-thermal"] == new
        assert "temp.tj-thermal" not in values and "temp.tj-thermal" not in collector.sources()
        moved = "temp.cpu-thermal: now read from %s (was %s)" % (new, old)
        gone = "temp.tj-thermal: %s is gone; no other source found" % (link / "class/thermal/thermal_zone6/temp")
        assert moved in collector.changes and gone in collector.changes
        assert moved in caplog.text and gone in caplog.text
        assert "temp.cpu-thermal" in collector.trips()  # the trip points follow the zone
    finally:
        collector.close()


def test_zones_that_vanished_come_back(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    link = tmp_path / "sys"
    link.symlink_to(BOARDS / "agx-orin" / "sys")
    clock = Clock()
    collector = ThermalCollector(str(link), clock=clock)
    try:
        point(link, tmp_path / "empty")
        assert run_checks(collector, clock) == {}
        assert collector.metrics() == [] and "no readable thermal zones" in collector.absent()["thermal"]
        point(link, BOARDS / "agx-orin" / "sys")
        assert run_checks(collector, clock, 1) == {}  # looked for again only RETRY_S after the last look
        clock.now += RETRY_S
        values = collector.collect()
        assert values["temp.cpu-thermal"] == 44.562 and len(values) == 7
        assert collector.changes[-1] == "temp.tj-thermal: now read from %s" % (
            link / "class/thermal/thermal_zone6/temp")
        assert "thermal" not in collector.absent()
    finally:
        collector.close()
