"""What the charts read from the store: windows across the full-rate ring and the min/max
buckets, peak decimation, and flat memory over a simulated day at 10 Hz (no Qt here)."""

from __future__ import annotations

import numpy as np

from console.core.telemetry.metrics import TelemetryStore
from console.core.telemetry.peak_bins import peak_decimate
from device_runtime.protocol import MetricSpec

SPECS = [MetricSpec("a", "a", "%", "G", "C"), MetricSpec("b", "b", "°C", "G", "C")]


def test_a_window_reads_only_its_range_across_the_ring_wrap() -> None:
    store = TelemetryStore(SPECS, capacity=100, decimated_capacity=50, decimate_s=10.0)
    for i in range(250):  # wraps the 100-row ring twice and a half
        store.add(float(i), {"a": float(i), "b": -float(i)})
    w = store.window(["b", "a"], 180.0, 220.0)
    assert list(w.times) == [float(i) for i in range(180, 221)]
    assert list(w.values[:, 1]) == list(w.times) and list(w.values[:, 0]) == [-t for t in w.times]
    assert w.peak_rows == 0


def test_older_than_the_ring_comes_from_min_max_buckets() -> None:
    store = TelemetryStore(SPECS, capacity=100, decimated_capacity=50, decimate_s=10.0)
    for i in range(300):
        store.add(float(i), {"a": 100.0 if i == 57 else (-5.0 if i == 63 else 1.0)})
    w = store.window(["a"], 0.0, 299.0)
    assert w.peak_rows > 0
    peaks_t, peaks_v = w.times[: w.peak_rows], w.values[: w.peak_rows, 0]
    assert peaks_t.max() < 200.0 <= w.times[w.peak_rows]  # buckets end where full-rate rows begin
    assert 100.0 in peaks_v and -5.0 in peaks_v  # a spike and a dip both survive
    assert list(w.times) == sorted(w.times)
    # "b" never reported: its buckets are NaN, never 0
    assert np.isnan(store.window(["b"], 0.0, 299.0).values).all()
    assert not store.seen("b") and store.seen("a")


def test_peak_decimation_keeps_extremes_and_long_gaps() -> None:
    t = np.arange(36_000, dtype=np.float64) / 10.0  # an hour at 10 Hz
    v = np.sin(t / 30.0).astype(np.float32)[:, None]
    v[12_345, 0] = 7.0
    v[20_000:21_000, 0] = np.nan  # 100 s with no data
    dt, dv = peak_decimate(t, v, 0.0, 3600.0, 600)
    assert len(dt) <= 2 * 602
    assert float(np.nanmax(dv)) == 7.0 and float(np.nanmin(dv)) == float(np.min(v[np.isfinite(v)]))
    gap = (dt > 2010.0) & (dt < 2090.0)
    assert gap.any() and np.isnan(dv[gap, 0]).all()
    assert list(dt) == sorted(dt)
    # bins sit on an absolute grid: sliding the window by a bin keeps the shared bins identical
    dt2, dv2 = peak_decimate(t[60:], v[60:], 6.0, 3606.0, 600)
    shared = np.isin(dt, dt2)
    assert shared.sum() > 1000
    np.testing.assert_array_equal(dv[shared], dv2[np.isin(dt2, dt)])


def test_a_day_at_10_hz_keeps_memory_fixed_and_the_whole_day_readable() -> None:
    specs = [MetricSpec("m%d" % i, "m%d" % i, "%", "G", "C") for i in range(4)]
    store = TelemetryStore(specs)
    before = store.memory_bytes()
    t0 = 1_700_000_000.0
    n = 24 * 3600 * 10
    times = t0 + np.arange(n) / 10.0
    for i in range(n):
        store.add(float(times[i]), {"m0": float(i % 1000), "m2": 1.0})
    assert store.memory_bytes() == before
    end = float(times[-1])
    w = store.window(None, end - 86400.0, end)
    assert w.times[0] <= t0 + 10.0  # the first bucket of the day is still there
    assert len(w.times) - w.peak_rows == 72_000  # the newest two hours at full rate
    assert w.times[w.peak_rows] == float(times[-72_000])
    assert float(np.nanmax(w.values[:, 0])) == 999.0
