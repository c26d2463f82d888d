"""Run the NVML collector at 10 Hz while a PyTorch bf16 matmul loop loads the GPU.

Idle, then load, then idle again; prints a per-second summary and writes every reading as
JSON (the fixture ``tests/fixtures/nvml/h100_load.json`` was captured with this script on an
NVIDIA H100). Needs a CUDA GPU, PyTorch and nvidia-ml-py.

    python bench/nvml_under_load.py --out readings.json [--idle 5 --load 20 --cool 10]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from device_runtime.collectors.nvml import NvmlCollector, decode_throttle_reasons


def load_gpu(stop: threading.Event) -> None:
    import torch

    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    while not stop.is_set():
        for _ in range(20):
            a @ b
        torch.cuda.synchronize()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--idle", type=float, default=5)
    parser.add_argument("--load", type=float, default=20)
    parser.add_argument("--cool", type=float, default=10)
    args = parser.parse_args()
    collector = NvmlCollector()
    if not collector.gpus:
        print("no GPU: %s" % collector.absent())
        return 1
    readings = []
    stop = threading.Event()
    worker = threading.Thread(target=load_gpu, args=(stop,))
    start = time.monotonic()
    phases = [("idle", args.idle), ("load", args.load), ("cool", args.cool)]
    for phase, seconds in phases:
        if phase == "load":
            worker.start()
        if phase == "cool":
            stop.set()
            worker.join()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            values = collector.collect()
            mask = int(values.get("gpu.0.throttle_reasons", 0))
            readings.append({"t": round(time.monotonic() - start, 3), "phase": phase, "values": values,
                             "throttle": decode_throttle_reasons(mask)})
            time.sleep(0.1)
    gpu = collector.gpus[0]
    with open(args.out, "w") as handle:
        json.dump({"gpu": gpu.to_wire(), "metrics": [m.to_wire() for m in collector.metrics()],
                   "readings": readings}, handle, indent=1)
    for phase, _ in phases:
        rows = [r["values"] for r in readings if r["phase"] == phase]
        def peak(key: str, rows: list = rows) -> float:
            return max(r.get(key, float("nan")) for r in rows)
        print("%-5s n=%3d util max %5.1f %%  power max %6.1f W  temp max %5.1f C  sm clock max %6.0f MHz" % (
            phase, len(rows), peak("gpu.0.util"), peak("gpu.0.power"), peak("gpu.0.temp"), peak("gpu.0.sm_clock")))
    reasons = sorted({r for row in readings if row["phase"] == "load" for r in row["throttle"]})
    print("throttle reasons under load: %s" % ", ".join(reasons))
    print("gpu: %s" % gpu)
    return 0


if __name__ == "__main__":
    sys.exit(main())
