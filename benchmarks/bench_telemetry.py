"""Benchmark: what per-round telemetry costs on the README's reference point.

Runs single-GPU ``max_min_fairness_perf`` on 36:36:36 at 2.0 jobs/h, seed 0, window
4000:5000 without telemetry (A) and with it (B), interleaved A B A B ... in this one
process (``--repeat`` pairs, after a short untimed warm-up run), and compares the
medians: of the process's CPU time, which a busy machine barely moves, and of the wall
time, which it does. The budget is a ratio of at most 1.10. The time spent inside the
telemetry hook itself is printed too, and the table is then written as Parquet (its
size and write time).

Usage: ``.venv/bin/python benchmarks/bench_telemetry.py [--multi-gpu]
[--gpus-per-server N] [--rate R] [--max-jobs N] [--repeat N]``. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from cluster import parse_cluster
from des.config import SimConfig, WindowConfig, WorkloadConfig
from des.simulation import Simulation
from hetsim.eventlog import configure_logging
from hetsim.telemetry_file import write_telemetry
from scheduler.mechanism import RoundPlan

BUDGET = 1.10
WARMUP_JOBS = 60


@dataclass(frozen=True)
class Timing:
    """One run: process CPU seconds, wall seconds, seconds inside the telemetry hook."""

    cpu_s: float
    wall_s: float
    hook_s: float


def timed(config: SimConfig, telemetry: bool) -> tuple[Timing, Simulation]:
    """Runs ``config`` once, with or without the collector, and times it."""
    sim = Simulation(config, telemetry=telemetry)
    hook_s = [0.0]
    hook = sim.scheduler.on_plan
    if hook is not None:

        def timed_hook(plan: RoundPlan) -> None:
            t = time.perf_counter()
            hook(plan)
            hook_s[0] += time.perf_counter() - t

        sim.scheduler.on_plan = timed_hook
    cpu, wall = time.process_time(), time.perf_counter()
    sim.run()
    timing = Timing(time.process_time() - cpu, time.perf_counter() - wall, hook_s[0])
    return timing, sim


def _ratio(on: list[float], off: list[float]) -> float:
    return statistics.median(on) / statistics.median(off)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=2.0)
    parser.add_argument("--multi-gpu", action="store_true")
    parser.add_argument("--gpus-per-server", type=int, default=1)
    parser.add_argument("--max-jobs", type=int, help="a shorter run (no window)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved pairs of runs")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    configure_logging(None)  # no event trace; warnings to stderr, as `hetsim run`
    config = SimConfig(
        policy="max_min_fairness_perf",
        cluster=parse_cluster("36:36:36", gpus_per_server=args.gpus_per_server),
        workload=WorkloadConfig(
            rate_per_hour=args.rate, multi_gpu=args.multi_gpu, max_jobs=args.max_jobs
        ),
        window=None if args.max_jobs else WindowConfig(4000, 5000),
        seed=0,
    )
    warmup = replace(config, workload=replace(config.workload, max_jobs=WARMUP_JOBS), window=None)
    timed(warmup, True)  # imports, caches and first solves land on neither side

    offs: list[Timing] = []
    ons: list[Timing] = []
    sim: Simulation | None = None
    for pair in range(args.repeat):
        for telemetry, into in ((False, offs), (True, ons)):
            timing, ran = timed(config, telemetry)
            into.append(timing)
            sim = ran if telemetry else sim
            label = "with" if telemetry else "without"
            print(
                f"pair {pair + 1}/{args.repeat} {label:>7} telemetry: cpu {timing.cpu_s:.2f} s, "
                f"wall {timing.wall_s:.2f} s",
                flush=True,
            )
    assert sim is not None and sim.telemetry is not None
    start = time.perf_counter()
    columns = sim.telemetry.columns(sim.verdict, sim.tracker.completed)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_telemetry(Path(tmp), columns, "parquet")
        size = path.stat().st_size
    write_s = time.perf_counter() - start
    rounds = len(sim.telemetry)
    cpu_ratio = _ratio([t.cpu_s for t in ons], [t.cpu_s for t in offs])
    wall_ratio = _ratio([t.wall_s for t in ons], [t.wall_s for t in offs])
    off_cpu = statistics.median(t.cpu_s for t in offs)
    on_cpu = statistics.median(t.cpu_s for t in ons)
    hook = statistics.median(t.hook_s for t in ons)
    print(f"rounds {rounds:,}; {args.repeat} pairs, interleaved")
    print(f"median cpu  without {off_cpu:.2f} s, with {on_cpu:.2f} s: ratio {cpu_ratio:.3f}")
    print(
        f"median wall without {statistics.median(t.wall_s for t in offs):.2f} s, with "
        f"{statistics.median(t.wall_s for t in ons):.2f} s: ratio {wall_ratio:.3f}"
    )
    print(
        f"  cpu difference {(on_cpu - off_cpu) / rounds * 1e6:.1f} us per round; inside the "
        f"hook {hook:.2f} s a run ({hook / rounds * 1e6:.1f} us per round)"
    )
    verdict = "ok" if cpu_ratio <= BUDGET else "OVER"
    print(f"cpu-time ratio {cpu_ratio:.3f} (budget {BUDGET:.2f}): {verdict}")
    print(f"table {len(columns)} columns, written as Parquet in {write_s:.2f} s, {size:,} bytes")
    if verdict != "ok":
        sys.exit(1)


if __name__ == "__main__":
    main()
