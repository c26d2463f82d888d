"""The incremental peak decimation a chart keeps between frames gives exactly what decimating
the window from scratch gives: over random appends, window moves and resizes, pans into the
past, absent metrics (gaps), both rings wrapping, and bin counts changing (no Qt here)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from console.core.telemetry.metrics import TelemetryStore
from console.core.telemetry.peak_bins import bin_width, peak_decimate
from console.core.telemetry.peak_cache import PeakCache
from device_runtime.protocol import MetricSpec

SPECS = [MetricSpec("m%d" % i, "m%d" % i, "%", "G", "C") for i in range(4)]


def _scratch(store: TelemetryStore, names: list[str], start: float, end: float,
             bins: int) -> tuple[np.ndarray, np.ndarray]:
    """What the chart drew before the cache: read the window, decimate it."""
    width = bin_width(start, end, bins)
    window = store.window(names, start - width, end)
    return peak_decimate(window.times, window.values, start, end, bins)


def _sample(rng: random.Random, i: int) -> dict[str, float]:
    values = {"m0": float(i % 97), "m1": rng.uniform(-5.0, 5.0)}
    if rng.random() > 0.3:  # m2 is absent from some samples: gaps, never zeros
        values["m2"] = rng.gauss(40.0, 3.0)
    if 200 <= i % 1000 < 260:  # m3 stops reporting for a while
        return values
    values["m3"] = float(rng.randint(0, 3))
    return values


@pytest.mark.parametrize("seed", range(6))
def test_cached_decimation_equals_decimating_from_scratch(seed: int) -> None:
    rng = random.Random(seed)
    # Small rings so that the full-rate ring and the bucket ring both wrap during the test.
    store = TelemetryStore(SPECS, capacity=400, decimated_capacity=30, decimate_s=3.0)
    cache = PeakCache()
    names = ["m0", "m2", "m3"] if seed % 2 else ["m1", "m3"]
    t, i = 1_700_000_000.0, 0
    span, bins, end_back = 60.0, 40, 0.0
    compared = 0
    for _frame in range(400):
        for _ in range(rng.choice((0, 1, 1, 1, 2, 5, 30))):
            t += rng.choice((0.1, 0.1, 0.1, 0.05, 0.3)) if rng.random() > 0.01 else rng.uniform(5.0, 40.0)
            assert store.add(t, _sample(rng, i))
            i += 1
        roll = rng.random()
        if roll < 0.05:
            span = rng.choice((5.0, 30.0, 60.0, 120.0, 300.0, 1000.0))  # the window changes
        elif roll < 0.08:
            bins = rng.choice((10, 40, 41, 200))  # the chart is resized
        elif roll < 0.14:
            end_back = rng.choice((0.0, 0.0, rng.uniform(0.0, 200.0)))  # panned into the past and back
        if store.last_t is None:
            continue
        end = store.last_t - end_back
        got_t, got_v = cache.read(store, names, end - span, end, bins)
        want_t, want_v = _scratch(store, names, end - span, end, bins)
        np.testing.assert_array_equal(got_t, want_t)
        np.testing.assert_array_equal(got_v, want_v)  # NaN where NaN: gaps stay gaps
        compared += 1
    assert compared > 350


def test_a_live_hour_reduces_only_the_newest_bins_each_frame() -> None:
    store = TelemetryStore(SPECS)
    t0 = 1_700_000_000.0
    for i in range(36_000):
        store.add(t0 + i / 10.0, {"m0": float(i % 50), "m1": float(i % 7)})
    cache = PeakCache()
    names = ["m0", "m1"]
    end = t0 + 35_999 / 10.0
    cache.read(store, names, end - 3600.0, end, 200)
    assert cache.bins_reduced >= 199  # the first frame reduces the whole window
    for i in range(36_000, 36_300):
        end = t0 + i / 10.0
        store.add(end, {"m0": float(i % 50), "m1": float(i % 7)})
        before = cache.bins_reduced
        got_t, got_v = cache.read(store, names, end - 3600.0, end, 200)
        assert cache.bins_reduced - before <= 2  # the bin the new sample fell into, and the one it completed
        want_t, want_v = _scratch(store, names, end - 3600.0, end, 200)
        np.testing.assert_array_equal(got_t, want_t)
        np.testing.assert_array_equal(got_v, want_v)
    assert got_t[-1] == end  # the newest sample is drawn


def test_a_window_longer_than_the_ring_reduces_only_the_bins_at_its_edges() -> None:
    """A day's window reaches past the full-rate ring: each new sample pushes one row out of
    the ring (its time now reads as bucket points), so the bin there is reduced again too."""
    store = TelemetryStore(SPECS, capacity=600, decimated_capacity=1000, decimate_s=2.0)
    t0 = 1_700_000_000.0
    for i in range(6000):
        store.add(t0 + i / 10.0, {"m0": float(i % 50), "m2": float(i % 13)})
    cache = PeakCache()
    names = ["m0", "m2"]
    for i in range(6000, 6400):
        end = t0 + i / 10.0
        store.add(end, {"m0": float(i % 50), "m2": float(i % 13)})
        before = cache.bins_reduced
        got_t, got_v = cache.read(store, names, end - 550.0, end, 100)
        if i > 6000:
            assert cache.bins_reduced - before <= 4  # the newest bins and the one at the ring's edge
        want_t, want_v = _scratch(store, names, end - 550.0, end, 100)
        np.testing.assert_array_equal(got_t, want_t)
        np.testing.assert_array_equal(got_v, want_v)


def test_another_store_or_other_series_start_over() -> None:
    stores = [TelemetryStore(SPECS), TelemetryStore(SPECS)]
    for k, store in enumerate(stores):
        for i in range(5000):
            store.add(100.0 + i, {"m0": float(k * 1000 + i % 300), "m1": float(-i)})
    cache = PeakCache()
    for store in (*stores, stores[0]):
        for names in (["m0"], ["m1"], ["m0", "m1"]):
            got_t, got_v = cache.read(store, names, 1000.0, 5099.0, 50)
            want_t, want_v = _scratch(store, names, 1000.0, 5099.0, 50)
            np.testing.assert_array_equal(got_t, want_t)
            np.testing.assert_array_equal(got_v, want_v)


def test_windows_of_adjacent_ranges_join_up_exactly() -> None:
    """What a time reads does not depend on the range asked for, also among bucket points."""
    store = TelemetryStore(SPECS, capacity=100, decimated_capacity=50, decimate_s=10.0)
    for i in range(400):
        store.add(float(i), {"m0": float(i), "m1": float(-i)})
    whole = store.window(["m0", "m1"], 0.0, 399.0)
    assert whole.peak_rows > 0
    assert store.count(0.0, 399.0) == len(whole.times)
    for split in (15.0, 55.5, 123.0, 299.0, 300.0, 350.0):
        left = store.window(["m0", "m1"], 0.0, split)
        right = store.window(["m0", "m1"], float(np.nextafter(split, np.inf)), 399.0)
        np.testing.assert_array_equal(np.concatenate([left.times, right.times]), whole.times)
        np.testing.assert_array_equal(np.concatenate([left.values, right.values]), whole.values)
        assert store.count(0.0, split) == len(left.times)
