"""Console memory over a simulated 24-hour session at 10 Hz: samples go through the real
session event path into the real TelemetryStore, alerts into the alert model and event panel,
and the real Dashboard redraws once per simulated minute. The resident set size is read every
simulated hour.

Baseline, in the same run: RSS once the Dashboard is built and the first hour is in. Target
(issue 4): it stays within 50 MB of that for the rest of the day.

    QT_QPA_PLATFORM=offscreen python bench/console_memory_24h.py [--hours 24] [--metrics 48]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import psutil
from PySide6.QtWidgets import QApplication

from bench._util import verdict
from console.core.app import ConsoleCore
from console.core.env import ConsoleEnv
from console.core.telemetry.metrics import TelemetryStore
from console.ui.dashboard.page import Dashboard
from console.ui.devices.qt_session import QtSession
from console.ui.theme import apply_theme
from device_runtime.protocol import TOPIC_ALERT, TOPIC_SAMPLE, AlertEvent, Event, MetricSpec, Sample

RATE_HZ = 10.0
T0 = 1_700_000_000.0
TARGET_MB = 50.0
GROUPS = (("CPU", "Load per core", "%"), ("GPU", "GPU load", "%"), ("Memory", "Memory", "MB"),
          ("Temperature", "Temperatures", "°C"), ("Power", "Power rails", "mW"))


def metrics(count: int) -> list[MetricSpec]:
    """A Jetson-sized table: per-core loads, GPU, memory, thermal zones, power rails."""
    return [MetricSpec("m%d" % i, "series %d" % i, GROUPS[i % len(GROUPS)][2], GROUPS[i % len(GROUPS)][0],
                       GROUPS[i % len(GROUPS)][1], min=0.0) for i in range(count)]


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--metrics", type=int, default=48)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    tmp = Path(tempfile.mkdtemp(prefix="eoc-bench-"))
    env = ConsoleEnv(config_dir=tmp / "cfg", data_dir=tmp / "data", runtime_dir=tmp / "run",
                     environ={"HOME": str(tmp)})
    core = ConsoleCore(env)
    session = core.session("local")  # never connected: frames are fed to its event path
    specs = metrics(args.metrics)
    store = TelemetryStore(specs)
    session.store = store
    model = QtSession(session)
    model._attach()  # the listeners a connect would attach
    board = Dashboard(model, apply_theme(app, "light"), window_s=86400.0)
    board.resize(1400, 900)
    board.show()
    board._timer.stop()  # the bench draws once per simulated minute itself
    names = [m.name for m in specs]
    per_hour = int(3600 * RATE_HZ)
    total = int(args.hours * per_hour)
    readings: list[tuple[float, float]] = []
    started = time.monotonic()
    baseline = 0.0
    for i in range(total):
        t = T0 + i / RATE_HZ
        values = {name: 50.0 + 40.0 * math.sin(i / (300.0 + k)) for k, name in enumerate(names)}
        session._on_event(Event(TOPIC_SAMPLE, Sample(t, i + 1, values).to_wire()))
        if i % int(300 * RATE_HZ) == 0:  # an alert every 5 minutes, lasting 40 s
            alert = AlertEvent("a%d" % i, "power_cap", "warning", "gpu0", "GPU 0 is power capped.", t)
            session._on_event(Event(TOPIC_ALERT, alert.to_wire()))
        if i % int(300 * RATE_HZ) == int(40 * RATE_HZ):
            start = T0 + (i - int(40 * RATE_HZ)) / RATE_HZ
            alert = AlertEvent("a%d" % (i - int(40 * RATE_HZ)), "power_cap", "warning", "gpu0",
                               "GPU 0 is power capped.", start, t)
            session._on_event(Event(TOPIC_ALERT, alert.to_wire()))
        if i % int(60 * RATE_HZ) == 0:
            board._dirty = True
            board._on_frame()
            app.processEvents()
        if (i + 1) % per_hour == 0:
            hour = (i + 1) / per_hour
            readings.append((hour, rss_mb()))
            if hour == 1:
                baseline = readings[-1][1]
            print("  hour %4.0f  RSS %7.1f MB  store %5.1f MB  alerts %4d  (%.0f s so far)"
                  % (hour, readings[-1][1], store.memory_bytes() / 1e6, len(board.alerts.log),
                     time.monotonic() - started), flush=True)
    board.hide()
    model.close()
    core.close()
    later = [mb for hour, mb in readings if hour > 1]
    growth = max(later) - baseline if later else 0.0
    print("console memory over %.0f simulated hours at %g Hz, %d metrics (%d samples)"
          % (args.hours, RATE_HZ, args.metrics, total))
    print("  RSS after hour 1 (baseline)  %.1f MB" % baseline)
    print("  RSS at the end               %.1f MB" % readings[-1][1])
    print("  largest growth after hour 1  %.1f MB  [target <= %g MB: %s]"
          % (growth, TARGET_MB, verdict(growth <= TARGET_MB)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
