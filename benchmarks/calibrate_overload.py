"""Calibration: how the saturation monitor's fast overload rule treats streams of work.

Jobs of the reference generator's sizes (its duration draw: 80% of 10^1.5-10^3 minutes,
20% of 10^3-10^4) arrive one by one on a cluster that is always full and does
``1 / load`` of the mean job's work between two arrivals, so the work waiting changes by
each arrival's size minus that. The stream is fed to :class:`des.monitor.SaturationDetector`
with the default thresholds, observed at every arrival (``--multi-gpu``: each job's size
times a GPU count drawn as the generator draws it); for each load it prints how
many streams got a verdict (at load <= 1.06 a false alarm, above a detection) and the
median arrival count at the verdict. The README's Saturation section quotes this run.

Usage: ``.venv/bin/python benchmarks/calibrate_overload.py [--streams N] [--arrivals N]``.
"""

from __future__ import annotations

import argparse
import random
import statistics

from des.config import SaturationConfig
from des.monitor import Observation, SaturationDetector
from workloads.generator import _draw_duration, _draw_scale_factor

GPUS = 108
LOADS = (1.0, 1.06, 1.4, 1.75, 9.0)


def first_verdict(load: float, arrivals: int, seed: int, multi_gpu: bool) -> int | None:
    """The arrival at which the detector calls the stream overloaded, or None."""
    rng = random.Random(seed)
    sizes = [
        _draw_duration(rng) * (_draw_scale_factor(rng) if multi_gpu else 1) for _ in range(arrivals)
    ]
    gap = statistics.fmean(sizes) / load / GPUS  # seconds between arrivals
    det = SaturationDetector(SaturationConfig(), GPUS)
    backlog = 1e9
    for i, size in enumerate(sizes, start=1):
        backlog += size - gap * GPUS
        t = i * gap
        obs = Observation(t, i, 2 * GPUS, t * GPUS, i, backlog_gpu_s=backlog)
        if det.observe(obs, completion=False) is not None:
            return i
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--arrivals", type=int, default=7000)
    parser.add_argument("--multi-gpu", action="store_true", help="GPU counts 1/2/4/8 too")
    args = parser.parse_args()
    for load in LOADS:
        hits = [
            first_verdict(load, args.arrivals, seed, args.multi_gpu) for seed in range(args.streams)
        ]
        called = [h for h in hits if h is not None]
        median = statistics.median(called) if called else None
        print(f"load {load:5.2f}: {len(called)}/{len(hits)} streams called, median {median}")


if __name__ == "__main__":
    main()
