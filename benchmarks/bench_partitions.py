"""Benchmark: POP-style partitioning (``--partitions K``), its speed-up and its JCT cost.

Two measurements, each printed as a ratio against K = 1 measured in the same run:

1. ``solve``: one allocation of a policy (whole: build, solve, tie-break) at 1,000,
   2,000 and 4,000 active jobs, with 2.5 GPUs per job as in the issue's 10,000-GPU
   case (3400:3300:3300 at 4,000 jobs, scaled down for fewer), solved exactly and in
   K = 2, 4, 8 parts. The problems are the reference's jobs drawn
   as ``bench_policy_solves`` draws them (single-GPU unless ``--multi-gpu``); the
   median of ``--repeat`` problems per size, in CPU time of this process (one BLAS
   thread), so that other work on a shared machine does not enter the ratios.
2. ``jct``: whole simulations, one after the other, of the same jobs solved exactly
   and in K parts: the window's average JCT, its ratio to the exact run's, and the
   wall time (whole run and in the policy). The default is a contended but not
   saturated 1,080-GPU cluster; ``--cluster 3400:3300:3300 --rate 250 --window
   40000:50000`` is the issue's 10,000-GPU case (about 15 minutes per exact run).

Usage::

    nice -n 10 .venv/bin/python benchmarks/bench_partitions.py solve [--sizes ...]
    nice -n 10 .venv/bin/python benchmarks/bench_partitions.py jct [--cluster C --rate R
        --window A:B --policy P --parts 1 2 4 8]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_policy_solves import make_problem
from threadpoolctl import threadpool_limits

from cluster import parse_cluster
from des.config import SimConfig, WindowConfig, WorkloadConfig
from des.result import build_result
from des.simulation import Simulation
from hetsim.eventlog import configure_logging
from scheduler import partition, policies, registry

# The 10,000-GPU cluster, with about 4,000 jobs active: smaller job counts get a
# cluster scaled down in proportion (2.5 GPUs per job, 850:825:825 for 1,000 jobs).
BIG_CLUSTER = np.array([3400.0, 3300.0, 3300.0])
BIG_CLUSTER_JOBS = 4000


def bench_solve(args: argparse.Namespace) -> None:
    spec = registry.get(args.policy)
    parts = [k for k in args.parts if k > 1]
    print(
        f"{args.policy}: median CPU ms per allocation, 2.5 GPUs per job (3400:3300:3300 "
        "at 4,000 jobs); speed-up K=1 / K"
    )
    print(f"{'jobs':>6s} {'K=1':>9s}" + "".join(f" {'K=' + str(k):>17s}" for k in parts))
    for n in args.sizes:
        problems = []
        for seed in range(args.repeat):
            p = make_problem(n, seed)
            if not args.multi_gpu:
                p = replace(p, scale_factors=np.ones(n, dtype=np.int64))
            caps = np.round(BIG_CLUSTER * n / BIG_CLUSTER_JOBS)
            problems.append(replace(p, capacities=caps, job_ids=np.arange(n)))
        times = {}
        for k in [1, *parts]:
            samples = []
            for p in problems:
                # a fresh policy per problem: every job is new to it, as at a first solve
                fn = partition.partitioned_spec(spec, k).allocate
                ctx = policies.PolicyContext(rng=random.Random(0))
                start = time.process_time()
                fn(p, ctx)
                samples.append(time.process_time() - start)
            times[k] = statistics.median(samples)
        row = f"{n:6d} {times[1] * 1e3:9.1f}"
        row += "".join(f" {times[k] * 1e3:9.1f} ({times[1] / times[k]:4.1f}x)" for k in parts)
        print(row, flush=True)


def bench_jct(args: argparse.Namespace) -> None:
    start_id, end_id = (int(v) for v in args.window.split(":"))
    cluster = parse_cluster(args.cluster)
    print(
        f"{args.policy} on {args.cluster} at {args.rate} jobs/h, window {args.window}, "
        f"seed {args.seed}{', multi-GPU' if args.multi_gpu else ''}"
    )
    print(
        f"{'K':>3s} {'avg JCT h':>10s} {'vs K=1':>8s} {'p99 h':>8s} {'done':>6s} "
        f"{'end':>16s} {'util':>6s} {'solves':>7s} {'wall s':>8s} {'policy s':>9s} "
        f"{'policy vs K=1':>14s}"
    )
    configure_logging(None)  # no event trace; warnings to stderr, as `hetsim run`
    exact: dict[str, float] = {}
    for k in args.parts:
        config = SimConfig(
            policy=args.policy,
            cluster=cluster,
            workload=WorkloadConfig(rate_per_hour=args.rate, multi_gpu=args.multi_gpu),
            window=WindowConfig(start_id, end_id),
            seed=args.seed,
            partitions=k,
        )
        started = time.perf_counter()
        result = build_result(Simulation(config).run())
        wall = time.perf_counter() - started
        jct = result["avg_jct_h"]
        policy_s = result["profile"]["lp_s"] + result["profile"]["lp_build_s"]
        if k == args.parts[0]:
            exact = {"jct": jct or float("nan"), "policy_s": policy_s}
        ratio = (jct or float("nan")) / exact["jct"]
        print(
            f"{k:3d} {jct or float('nan'):10.3f} {ratio:8.4f} "
            f"{(result['jct_p99_s'] or float('nan')) / 3600:8.2f} "
            f"{result['window_jobs_completed']:6d} {result['end_reason']:>16s} "
            f"{result['utilization']['overall']:6.1%} "
            f"{result['solver']['solves']:7d} {wall:8.1f} {policy_s:9.1f} "
            f"{exact['policy_s'] / policy_s:13.1f}x",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    solve = sub.add_parser("solve", help="time one allocation, exact and in K parts")
    solve.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000])
    solve.add_argument("--repeat", type=int, default=3)
    jct = sub.add_parser("jct", help="whole runs, exact and in K parts")
    jct.add_argument("--cluster", default="360:360:360")
    jct.add_argument("--rate", type=float, default=40.0)
    jct.add_argument("--window", default="4000:6000")
    jct.add_argument("--seed", type=int, default=0)
    for p in (solve, jct):
        p.add_argument("--policy", default="max_min_fairness_perf")
        p.add_argument("--parts", type=int, nargs="+", default=[1, 2, 4, 8])
        p.add_argument("--multi-gpu", action="store_true")
    args = parser.parse_args()
    if args.parts[0] != 1:
        parser.error("--parts must start with 1 (the exact solve the ratios are against)")
    # One BLAS thread, as in a run (Simulation.run sets it too): on a shared 2-core
    # machine a threaded BLAS made the tie-break's dense polish of 250 jobs swing from
    # 0.05 s to 1.6 s.
    with threadpool_limits(limits=1, user_api="blas"):
        if args.what == "solve":
            bench_solve(args)
        else:
            bench_jct(args)


if __name__ == "__main__":
    main()
