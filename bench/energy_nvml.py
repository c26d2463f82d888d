"""Energy per inference on an NVIDIA GPU, measured the way the runtime measures it, checked against NVML's
own energy counter.

A ResNet-50-shaped network (torchvision's, random weights; a plain conv stack if torchvision is
missing) runs batch-N inference in PyTorch, FP32 first (the baseline) and then FP16, each for a
fixed time after a warm-up. Meanwhile the runtime's NVML collector samples at --rate Hz and the
runtime's ``EnergyMeter`` (device_runtime/jobs/energy.py) turns those power samples into mean watts
and millijoules per inference for the measured window, exactly as a benchmark job does. NVML's
total-energy counter (``nvmlDeviceGetTotalEnergyConsumption``, mJ, Volta and newer) read at the
window's ends gives the reference. Prints, per precision: throughput, mean power, mJ/inference from
the samples and from the counter, their ratio; then FP16's energy per inference over FP32's (the
baseline of this same run) and the idle power. Needs a CUDA GPU, PyTorch and nvidia-ml-py.

    python bench/energy_nvml.py [--seconds 20 --batch 32 --rate 10 --out energy.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from device_runtime.collectors.nvml import NvmlCollector
from device_runtime.jobs.energy import EnergyMeter


def network() -> tuple[Any, str]:
    import torch

    try:
        import torchvision

        return torchvision.models.resnet50(weights=None), "torchvision resnet50"
    except ImportError:
        layers: list[Any] = []
        channels = 3
        for width in (64, 128, 256, 512, 1024):
            layers += [torch.nn.Conv2d(channels, width, 3, stride=2, padding=1), torch.nn.BatchNorm2d(width),
                       torch.nn.ReLU(), torch.nn.Conv2d(width, width, 3, padding=1), torch.nn.ReLU()]
            channels = width
        layers += [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(channels, 1000)]
        return torch.nn.Sequential(*layers), "10-conv stack"


def sampler(collector: NvmlCollector, meter: EnergyMeter, rate: float, stop: threading.Event) -> None:
    while not stop.wait(1.0 / rate):
        meter.add(time.time(), collector.collect())


def counter_mj(handle: Any) -> float:
    import pynvml

    return float(pynvml.nvmlDeviceGetTotalEnergyConsumption(handle))


def measure(model: Any, batch: Any, seconds: float, warmup: float, meter: EnergyMeter, handle: Any) -> dict:
    import torch

    with torch.inference_mode():
        end = time.monotonic() + warmup
        while time.monotonic() < end:
            model(batch)
        torch.cuda.synchronize()
        start_wall, start_mj, count = time.time(), counter_mj(handle), 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            model(batch)
            count += batch.shape[0]
            if count % (batch.shape[0] * 8) == 0:
                torch.cuda.synchronize()
        torch.cuda.synchronize()
        end_wall, end_mj = time.time(), counter_mj(handle)
    mean_w, per_inf, source, note = meter.per_inference(start_wall, end_wall, count)
    counter = (end_mj - start_mj) / count
    return {"inferences": count, "seconds": end_wall - start_wall, "qps": count / (end_wall - start_wall),
            "mean_power_w": mean_w, "mj_per_inference": per_inf, "counter_mj_per_inference": counter,
            "counter_mean_power_w": (end_mj - start_mj) / 1000.0 / (end_wall - start_wall),
            "source": source, "note": note, "samples": len(meter.window(start_wall, end_wall))}


def main() -> int:
    import pynvml
    import torch

    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--idle", type=float, default=5.0)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--out")
    args = parser.parse_args()
    collector = NvmlCollector()
    if not collector.gpus:
        print("no GPU: %s" % collector.absent())
        return 1
    handle = pynvml.nvmlDeviceGetHandleByIndex(0)
    name = pynvml.nvmlDeviceGetName(handle)
    meter = EnergyMeter()
    stop = threading.Event()
    thread = threading.Thread(target=sampler, args=(collector, meter, args.rate, stop), daemon=True)
    thread.start()
    idle_start = time.time()
    stop.wait(args.idle)
    idle_w = meter.per_inference(idle_start, time.time(), 1)[0]
    model, what = network()
    model = model.cuda().eval()
    x = torch.randn(args.batch, 3, 224, 224, device="cuda")
    runs = {"fp32": measure(model, x, args.seconds, args.warmup, meter, handle)}
    runs["fp16"] = measure(model.half(), x.half(), args.seconds, args.warmup, meter, handle)
    stop.set()
    thread.join()
    print("GPU %s; %s, batch %d, %.0f s per precision, NVML sampled at %.0f Hz; idle %.1f W"
          % (name, what, args.batch, args.seconds, args.rate, idle_w or float("nan")))
    for precision, run in runs.items():
        print("%s: %.0f inferences/s, mean %.1f W (%d samples), %.3f mJ/inference from samples, %.3f from NVML's "
              "energy counter (samples/counter %.3f)" % (
                  precision, run["qps"], run["mean_power_w"] or float("nan"), run["samples"],
                  run["mj_per_inference"] or float("nan"), run["counter_mj_per_inference"],
                  (run["mj_per_inference"] or float("nan")) / run["counter_mj_per_inference"]))
    ratio = runs["fp16"]["counter_mj_per_inference"] / runs["fp32"]["counter_mj_per_inference"]
    print("FP16 energy per inference / FP32 baseline (counter): %.3f; throughput FP16/FP32: %.2f"
          % (ratio, runs["fp16"]["qps"] / runs["fp32"]["qps"]))
    if args.out:
        with open(args.out, "w") as handle_out:
            json.dump({"gpu": name, "network": what, "batch": args.batch, "idle_w": idle_w, "runs": runs}, handle_out,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
