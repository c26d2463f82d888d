"""Map trtexec / TensorRT builder log lines to build phases for a progress display.

Patterns are taken from real trtexec logs of TensorRT 8.0 to 10.16 (NVIDIA/trt-samples-for-
hackathon-cn cookbook logs) and TensorRT's calibration messages ("Starting Calibration",
"Calibrated batch i in t seconds"). Tactic timing lines only appear with ``--verbose``. The
classifier is pure: feed it one line at a time; lines that say nothing about progress give None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from device_runtime.engines.trtexec_parse import strip_prefix

PHASES = ("parsing", "building", "tactic_timing", "calibration", "serializing", "inference", "done", "failed")

_CALIBRATED = re.compile(r"Calibrated batch (\d+)(?:\s*/\s*(\d+))?")
_COSTS = re.compile(r"Computing costs for\s*(.*)")
_ERROR = re.compile(r"^\s*(?:\[[\d/:-]+\]\s*)*\[[EF]\]")

_RULES = (
    ("failed", ("&&&& FAILED",)),
    ("done", ("&&&& PASSED", "Engine built in", "Skipped inference phase")),
    ("inference", ("Starting inference", "Warmup completed", "=== Performance summary ===")),
    ("serializing", ("Engine generation completed", "Saving engine to", "Engine saved to", "Serializing")),
    ("calibration", ("Starting Calibration", "Post Processing Calibration", "Calibration completed")),
    ("tactic_timing", ("Autotuning format combination", "Timing Runner", "Tactic Name:")),
    (
        "building",
        (
            "timing cache in use",
            "Init builder kernel library",
            "Graph optimization time",
            "Total Activation Memory",
            "[BlockAssignment]",
            "Building engine",
        ),
    ),
    ("parsing", ("Start parsing network model", "Finished parsing network model", "Parsing node:", "Input filename:")),
)


@dataclass(frozen=True)
class BuildProgress:
    phase: str
    detail: str = ""
    # Known only for calibration with a total: batches done / total.
    fraction: Optional[float] = None


def classify_progress_line(line: str, calibration_batches: Optional[int] = None) -> Optional[BuildProgress]:
    """``calibration_batches``: the calibrator's batch count, when the caller knows it."""
    body = strip_prefix(line)
    if not body:
        return None
    if _ERROR.match(line) or "Error Code" in body:
        return BuildProgress("failed", body)
    calibrated = _CALIBRATED.search(body)
    if calibrated:
        done = int(calibrated.group(1)) + 1
        total = int(calibrated.group(2)) if calibrated.group(2) else calibration_batches
        detail = "batch %d/%d" % (done, total) if total else "batch %d" % done
        fraction = min(done / float(total), 1.0) if total else None
        return BuildProgress("calibration", detail, fraction)
    costs = _COSTS.search(body)
    if costs:
        return BuildProgress("tactic_timing", costs.group(1).strip())
    for phase, needles in _RULES:
        if any(needle in body for needle in needles):
            return BuildProgress(phase, body)
    return None
