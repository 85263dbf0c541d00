"""Benchmark: allocation time per policy at 64, 256 and 1,024 active jobs.

Problems are drawn like the reference's multi-GPU workload: throughputs of random job
templates on 36:36:36 (zero cells included), GPU counts 1/2/4/8 with the reference's
probabilities, remaining steps and ages spread over realistic ranges. Each policy solves
several problems per size; the median wall time of a whole allocation (building,
solving, tie-break) is reported, plus finish-time fairness at 128 jobs (target: under
100 ms; the reference takes 0.8 to 2.1 s there).

Baselines measured in the same run, on the very same problems: the reference's
formulation of max-min fairness through cvxpy + ECOS rebuilt for every solve, and the
same model compiled once per shape with Parameters (DPP) and re-solved; the ratios show
what bypassing cvxpy buys.

Usage: ``.venv/bin/python benchmarks/bench_policy_solves.py [--repeat N] [--sizes ...]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import cvxpy as cp
import numpy as np
from threadpoolctl import threadpool_limits

from scheduler import policies, registry
from scheduler.cvxpy_models import MaxMinModel, max_min_model
from scheduler.policies import base
from scheduler.policies.fairness import agnostic_coefficients, perf_coefficients
from scheduler.problem import AllocationProblem
from workloads import GeneratorConfig, generate_n, load_throughputs

TYPES = ("v100", "p100", "k80")


def make_problem(n: int, seed: int) -> AllocationProblem:
    table = load_throughputs()
    jobs = generate_n(GeneratorConfig(rate_per_hour=2.0, seed=seed, multi_gpu=True), table, n)
    rates = np.array([table.isolated(j.model, j.scale_factor, TYPES) for j in jobs])
    rng = np.random.default_rng(seed)
    return AllocationProblem.build(
        rates,
        np.array([j.scale_factor for j in jobs]),
        np.array([36.0, 36.0, 36.0]),
        remaining_steps=np.array([j.total_steps for j in jobs]) * rng.uniform(0.1, 1.0, n),
        times_since_start=rng.uniform(0, 2e5, n),
    )


def cvxpy_max_min(p: AllocationProblem) -> None:
    n, m = p.throughputs.shape
    sf = np.tile(p.scale_factors[:, None].astype(float), (1, m))
    x = cp.Variable((n, m))
    coeff = np.ones((n, m)) * sf
    cp.Problem(
        cp.Maximize(cp.min(cp.sum(cp.multiply(coeff, x), axis=1))),
        [x >= 0, cp.sum(cp.multiply(sf, x), axis=0) <= p.capacities, cp.sum(x, axis=1) <= 1],
    ).solve(solver="ECOS")


def timed(fn, *args) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--policies", nargs="+", default=registry.names())
    args = parser.parse_args()
    problems = {n: [make_problem(n, seed) for seed in range(args.repeat)] for n in args.sizes}
    header = f"{'policy':38s}" + "".join(f"{n:>10d}" for n in args.sizes)
    print("median ms per allocation (whole policy: build, solve, tie-break)")
    print(header)
    for name in args.policies:
        spec = registry.get(name)
        row = f"{name:38s}"
        for n in args.sizes:
            times = []
            for p in problems[n]:
                if spec.single_gpu_only:
                    p = AllocationProblem.build(
                        p.throughputs,
                        np.ones(n, dtype=int),
                        p.capacities,
                        remaining_steps=p.remaining_steps,
                        times_since_start=p.times_since_start,
                    )
                ctx = policies.PolicyContext(rng=random.Random(0))
                times.append(timed(spec.allocate, p, ctx))
            row += f"{statistics.median(times) * 1e3:10.1f}"
        print(row, flush=True)
    ftf = [make_problem(128, seed) for seed in range(args.repeat)]
    spec = registry.get("finish_time_fairness_perf")
    t128 = statistics.median(
        timed(spec.allocate, p, policies.PolicyContext(rng=random.Random(0))) for p in ftf
    )
    print(f"\nfinish_time_fairness_perf at 128 jobs: {t128 * 1e3:.1f} ms (target < 100 ms)")
    print(
        "\nbaseline: max-min fairness solved job by job (job classes off; on, programs "
        f"of {base.CLASS_MIN_JOBS} jobs and up go per class, smaller ones with jobs alike "
        "take their tie-break per class), same problems"
    )
    for name, coefficients in (
        ("max_min_fairness_perf", lambda p, ctx: perf_coefficients(p)),
        ("max_min_fairness", agnostic_coefficients),
    ):
        if name not in args.policies:
            continue
        for n in args.sizes:
            ctx = policies.PolicyContext(rng=random.Random(0))
            off = policies.PolicyContext(rng=random.Random(0), job_classes=False)
            per_class = statistics.median(
                timed(registry.get(name).allocate, p, ctx) for p in problems[n]
            )
            per_job = statistics.median(
                timed(base.max_min_allocation, coefficients(p, ctx), p, off) for p in problems[n]
            )
            print(
                f"  {name:24s} {n:5d} jobs: per class {per_class * 1e3:7.1f} ms | job by job "
                f"{per_job * 1e3:7.1f} ms ({per_job / per_class:4.1f}x)"
            )
    print("\nbaseline: the reference's agnostic max-min via cvxpy + ECOS, same problems")
    for n in args.sizes:
        ours = statistics.median(
            timed(
                registry.get("max_min_fairness").allocate,
                p,
                policies.PolicyContext(rng=random.Random(0), tie_break=False),
            )
            for p in problems[n]
        )
        ref = statistics.median(timed(cvxpy_max_min, p) for p in problems[n])
        model = max_min_model(n, 3)

        def dpp_solve(p: AllocationProblem, model: MaxMinModel = model) -> None:
            coeff = np.ones_like(p.throughputs) * p.scale_factors[:, None]
            model.solve(coeff, p.throughputs > 0, p.scale_factors, p.capacities)

        compile_s = timed(dpp_solve, problems[n][0])
        dpp = statistics.median(timed(dpp_solve, p) for p in problems[n])
        print(
            f"  {n:5d} jobs: hetsim {ours * 1e3:7.1f} ms | cvxpy rebuilt {ref * 1e3:7.1f} ms "
            f"({ref / ours:4.1f}x) | cvxpy DPP re-solve {dpp * 1e3:7.1f} ms "
            f"({dpp / ours:4.1f}x), first compile {compile_s * 1e3:.0f} ms"
        )


if __name__ == "__main__":
    # One BLAS thread, as a run has (des/simulation.py): the polish's small dense
    # factorisations are much slower with OpenBLAS's threads on a shared machine.
    with threadpool_limits(limits=1, user_api="blas"):
        main()
