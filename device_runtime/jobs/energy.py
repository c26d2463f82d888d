"""Energy per inference from the telemetry samples taken while a benchmark ran.

Neither trtexec, jtop nor Polygraphy reports it. The daemon already samples power: on a Jetson the
board's input rail (``VDD_IN`` on Orin, ``POM_5V_IN`` on Nano, ``VIN`` on Thor; else the sum of
the rails it has), elsewhere NVML's board power per GPU (summed). The meter keeps the samples of a
run; for the benchmark's measured window (after the warm-up) it gives the mean power and
``mean W x window s / inferences`` in millijoules. The figure includes what else the board or GPU
drew meanwhile (idle power is not subtracted), and it needs two samples in the window: a run
shorter than two telemetry intervals gets a sentence instead of a number.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple

# Jetson input rails (telemetry names "power.<slug>", values in mW), board input first.
INPUT_RAILS = (("vdd_in", "VDD_IN"), ("pom_5v_in", "POM_5V_IN"), ("vin", "VIN"))
_NVML_POWER = re.compile(r"^gpu\.(\d+)\.power$")
MIN_SAMPLES = 2


def board_power_w(values: Dict[str, float]) -> Optional[Tuple[float, str]]:
    """(watts, what was read) from one telemetry sample; None when it has no power reading."""
    for slug, label in INPUT_RAILS:
        key = "power.%s" % slug
        if key in values:
            return values[key] / 1000.0, "Jetson %s rail (whole module)" % label
    rails = [value for name, value in values.items() if name.startswith("power.")]
    if rails:
        return sum(rails) / 1000.0, "sum of the Jetson power rails"
    gpus = sorted(int(m.group(1)) for m in (_NVML_POWER.match(name) for name in values) if m)
    if gpus:
        total = sum(values["gpu.%d.power" % index] for index in gpus)
        return total, "NVML board power of GPU %s" % ", ".join(str(index) for index in gpus)
    return None


class EnergyMeter:
    def __init__(self) -> None:
        self.samples: List[Tuple[float, float, str]] = []  # (wall time, watts, source)

    def add(self, t: float, values: Dict[str, float]) -> None:
        reading = board_power_w(values)
        if reading is not None:
            self.samples.append((t, reading[0], reading[1]))

    def window(self, start: float, end: float) -> List[Tuple[float, float, str]]:
        return [sample for sample in self.samples if start <= sample[0] <= end]

    def per_inference(self, start: float, end: float, inferences: int) -> Tuple[Optional[float], Optional[float],
                                                                              str, str]:
        """(mean W, mJ per inference, source, note) over [start, end]; numbers None with a note when unknown."""
        if not self.samples:
            return None, None, "", "this device gives no power readings (no Jetson power rails, no NVML power)"
        inside = self.window(start, end)
        if len(inside) < MIN_SAMPLES or end <= start or inferences <= 0:
            return None, None, self.samples[-1][2], (
                "%d power sample(s) during the %.1f s measured; run the benchmark longer (at least two telemetry "
                "intervals) for an energy figure" % (len(inside), max(end - start, 0.0)))
        mean_w = sum(watts for _, watts, _ in inside) / len(inside)
        return mean_w, mean_w * (end - start) * 1000.0 / inferences, inside[-1][2], ""
