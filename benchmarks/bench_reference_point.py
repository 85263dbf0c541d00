"""Benchmark: one point of the reference's LAS curve, with where the time goes.

Runs single-GPU ``max_min_fairness_perf`` on 36:36:36 at 2.0 jobs/h, seed 0, window
4000:5000 (the README's main job) and reports:

- wall time of the whole run and its split: LP solves, the round mechanism (priorities,
  selection, placement), and SimPy plus everything else (workers, completion tracking,
  arrivals, the monitor);
- two baselines measured in the same process, so the ratios hold on any machine:
  * the reference's solver path: the same allocation problems this run solved, each
    rebuilt and solved through cvxpy + ECOS as the reference does, against hetsim's
    direct ECOS formulation (a sample of the run's problems);
  * a fixed SimPy workload (timeouts through a process), a machine-speed yardstick.

Usage: ``.venv/bin/python benchmarks/bench_reference_point.py [--multi-gpu] [--rate R]
[--window A:B] [--sample N] [--profile [--sort tottime]]``. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import time
from dataclasses import replace

import cvxpy as cp
import numpy as np
import simpy

from cluster import parse_cluster
from des.config import SimConfig, WindowConfig, WorkloadConfig
from des.result import build_result
from des.simulation import Simulation
from hetsim.eventlog import configure_logging
from scheduler import policies
from scheduler.mechanism import Placer, RoundMechanism, RoundPlan
from scheduler.problem import Allocation, AllocationProblem

REFERENCE_MINUTES = 8.0  # the reference's wall time for this point here (issue #2)


def simpy_yardstick(events: int = 200_000) -> float:
    """Seconds for a fixed SimPy workload: one process yielding ``events`` timeouts."""
    env = simpy.Environment()

    def proc():  # type: ignore[no-untyped-def]
        for _ in range(events):
            yield env.timeout(1.0)

    env.process(proc())
    start = time.perf_counter()
    env.run()
    return time.perf_counter() - start


def cvxpy_reference_solve(p: AllocationProblem) -> float:
    """Seconds to solve the perf LAS allocation the reference's way: two dense cvxpy
    problems (the agnostic one for the isolated throughputs, then the perf one), rebuilt
    for every solve and handed to ECOS."""
    start = time.perf_counter()
    n, m = p.throughputs.shape
    sf = np.tile(p.scale_factors[:, None].astype(float), (1, m))
    w = 1.0 / p.weights

    def solve(coeff: np.ndarray) -> np.ndarray:
        x = cp.Variable((n, m))
        objective = cp.Maximize(cp.min(cp.sum(cp.multiply(coeff, x), axis=1)))
        constraints = [
            x >= 0,
            cp.sum(cp.multiply(sf, x), axis=0) <= p.capacities,
            cp.sum(x, axis=1) <= 1,
        ]
        cp.Problem(objective, constraints).solve(solver="ECOS")
        return np.clip(np.asarray(x.value), 0.0, 1.0)

    iso_x = solve(np.ones((n, m)) * w[:, None] * sf)
    iso = (p.throughputs * iso_x).sum(axis=1)
    solve(p.throughputs * w[:, None] / iso[:, None] * sf)
    return time.perf_counter() - start


def round_kinds(mech: RoundMechanism) -> dict[str, list[float]]:
    """Wraps ``mech.plan_round`` to time its rounds by kind: with an allocation solve,
    reusing the last round's walk, or walked anew; and to count the rounds before which
    the job set changed (an arrival or a departure). Returns the tallies it fills,
    name -> [rounds, seconds] (``changed``: [rounds, 0])."""
    kinds: dict[str, list[float]] = {
        "solve": [0, 0.0],
        "walked": [0, 0.0],
        "reused": [0, 0.0],
        "changed": [0, 0.0],
    }
    plan = mech.plan_round
    version = [-1]

    def timed(now: float, placer: Placer) -> RoundPlan:
        reused = mech.reused_by_inputs + mech.reused_by_selection
        if mech.jobs.version != version[0]:
            kinds["changed"][0] += 1
            version[0] = mech.jobs.version
        start = time.perf_counter()
        out = plan(now, placer)
        seconds = time.perf_counter() - start
        if out.solve is not None:
            kind = "solve"
        elif mech.reused_by_inputs + mech.reused_by_selection > reused:
            kind = "reused"
        else:
            kind = "walked"
        kinds[kind][0] += 1
        kinds[kind][1] += seconds
        return out

    mech.plan_round = timed  # type: ignore[method-assign]
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="max_min_fairness_perf")
    parser.add_argument("--rate", type=float, default=2.0)
    parser.add_argument("--window", default="4000:5000")
    parser.add_argument("--multi-gpu", action="store_true")
    parser.add_argument("--sample", type=int, default=60, help="LP problems to re-solve via cvxpy")
    parser.add_argument("--profile", action="store_true", help="cProfile the run (slower)")
    parser.add_argument(
        "--sort",
        choices=("cumulative", "tottime"),
        default="cumulative",
        help="order of the profile's functions (with --profile)",
    )
    args = parser.parse_args()
    configure_logging(None)  # no event trace; warnings to stderr, as `hetsim run`

    start, end = (int(v) for v in args.window.split(":"))
    config = SimConfig(
        policy=args.policy,
        cluster=parse_cluster("36:36:36"),
        workload=WorkloadConfig(rate_per_hour=args.rate, multi_gpu=args.multi_gpu),
        window=WindowConfig(start, end),
        seed=0,
    )
    yard_before = simpy_yardstick()

    sim = Simulation(config)
    captured: list[AllocationProblem] = []
    spec = sim.mechanism.policy

    def recording(p: AllocationProblem, ctx: policies.PolicyContext) -> Allocation:
        captured.append(p)
        return spec.allocate(p, ctx)

    sim.mechanism.policy = replace(spec, allocate=recording)
    kinds = round_kinds(sim.mechanism)
    profiler = cProfile.Profile() if args.profile else None
    t0 = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    outcome = sim.run()
    if profiler is not None:
        profiler.disable()
    wall = time.perf_counter() - t0
    result = build_result(outcome)
    yard = (yard_before + simpy_yardstick()) / 2

    prof = outcome.profile
    print(
        f"point: {args.policy}, {'multi' if args.multi_gpu else 'single'}-GPU, "
        f"{args.rate} jobs/h, seed 0, window {args.window}"
    )
    print(
        f"  avg JCT {result['avg_jct_h']:.2f} h, {result['rounds']:,} rounds, "
        f"{result['solver']['solves']:,} allocation solves "
        f"({result['solver']['program_solves']:,} programs)"
    )
    print(
        f"  wall {wall:.1f} s  (reference: ~{REFERENCE_MINUTES:.0f} min here -> "
        f"{REFERENCE_MINUTES * 60 / wall:.0f}x faster)"
    )
    for key, label in (
        ("lp_s", "LP solves"),
        ("lp_build_s", "LP building (policies)"),
        ("mechanism_s", "round mechanism"),
        ("simpy_and_other_s", "SimPy + workers + tracking"),
    ):
        print(f"    {label:28s} {prof[key]:6.1f} s  {prof[key] / wall:5.1%}")
    per_round_us = (prof["mechanism_s"]) / max(result["rounds"], 1) * 1e6
    print(f"    mechanism per round       {per_round_us:6.0f} us")
    mech, rounds = sim.mechanism, max(result["rounds"], 1)
    print(
        f"    rounds reusing the last one's walk: {mech.reused_by_inputs / rounds:.0%} "
        f"(same inputs), {mech.reused_by_selection / rounds:.0%} (same selection)"
    )

    changed, total = kinds.pop("changed"), sum(n for n, _ in kinds.values())
    print(
        "    rounds by kind (plan only): "
        + ", ".join(
            f"{name} {n:,} x {t / max(n, 1) * 1e6:.0f} us" for name, (n, t) in kinds.items()
        )
    )
    print(
        f"    the job set changed before {changed[0] / max(total, 1):.0%} of the rounds "
        f"(a stretch of rounds with one job set: {total / max(changed[0], 1):.1f} on average)"
    )

    # Baseline 1: the reference's solver path on a sample of this run's problems.
    rng = random.Random(0)
    sample = rng.sample(captured, min(args.sample, len(captured)))
    ours, theirs = [], []
    ctx = policies.PolicyContext(rng=random.Random(0))
    for p in sample:
        a = time.perf_counter()
        spec.allocate(p, ctx)
        ours.append(time.perf_counter() - a)
        theirs.append(cvxpy_reference_solve(p))
    if sample:
        jobs = np.median([p.num_jobs for p in sample])
        print(
            f"  baseline, solver path ({len(sample)} of the run's problems, "
            f"median {jobs:.0f} jobs):"
        )
        print(f"    hetsim direct ECOS   {np.median(ours) * 1e3:7.2f} ms per allocation")
        print(
            f"    cvxpy + ECOS (ref.)  {np.median(theirs) * 1e3:7.2f} ms per allocation"
            f"  -> ratio {np.median(theirs) / np.median(ours):.1f}x"
        )
        est = np.median(theirs) * result["solver"]["solves"]
        print(
            f"    the run's solves via cvxpy would take ~{est:.0f} s "
            f"instead of {prof['lp_s']:.1f} s"
        )
    # Baseline 2: machine speed.
    print(
        f"  baseline, machine: SimPy yardstick (200k timeouts) {yard:.3f} s -> "
        f"run = {wall / yard:.0f} yardsticks"
    )
    if profiler is not None:
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(25)


if __name__ == "__main__":
    main()
