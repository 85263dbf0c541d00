"""Benchmark: FIFO's allocation on long queues, against the plain row-by-row walk.

An overloaded run under FIFO holds thousands of waiting jobs, and FIFO re-allocates at
every arrival and completion. Each FIFO form (agnostic and heterogeneity-aware, with and
without quirks) allocates queues of 100 to 8,000 jobs (about 100 holding a type, a
36:36:36 cluster); the baseline, timed in the same run on the same problems, is the
plain form of the same rules (every row converted to lists, every held job found row by
row) that ``tests/test_fifo_queue.py`` checks the policies against.

Usage: ``.venv/bin/python benchmarks/bench_fifo_queue.py [--sizes 100 1000 8000]
[--seconds S]``. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scheduler.policies.base import PolicyContext
from scheduler.policies.fifo import _fifo, _reference_fifo, _reference_fifo_perf
from scheduler.problem import AllocationProblem
from tests.test_fifo_queue import (
    _oracle_fifo,
    _oracle_reference_fifo,
    _oracle_reference_fifo_perf,
)


def queue(n: int, seed: int = 0) -> AllocationProblem:
    """``n`` jobs of the multi-GPU sizes on 36:36:36, about 100 of them holding a type."""
    rng = np.random.default_rng(seed)
    thr = rng.uniform(0.5, 5.0, (n, 3))
    thr[rng.random((n, 3)) < 0.05] = 0.0
    held = min(n, 100)
    previous = np.zeros((n, 3))
    previous[rng.choice(n, held, replace=False), rng.integers(0, 3, held)] = 1.0
    return AllocationProblem(
        throughputs=thr,
        scale_factors=rng.choice([1, 2, 4, 8], n, p=[0.7, 0.1, 0.1, 0.1]).astype(np.int64),
        capacities=np.array([36.0, 36.0, 36.0]),
        weights=np.ones(n),
        remaining_steps=np.ones(n),
        times_since_start=np.ones(n),
        previous=previous,
        job_ids=np.arange(n, dtype=np.int64) * 2 + 5,
        type_names=("v100", "p100", "k80"),
        departed=((3, 1, 2),),
    )


def per_call(fn: Callable[[], object], seconds: float) -> float:
    """Mean seconds per call over about ``seconds`` of calls."""
    fn()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        calls += 1
    return (time.perf_counter() - start) / calls


def rng() -> random.Random:
    return random.Random(0)


def cases(
    p: AllocationProblem,
) -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    """Each FIFO form on ``p``, and its plain form."""
    return [
        (
            "fifo",
            lambda: _fifo(p, PolicyContext(rng=rng()), perf=False),
            lambda: _oracle_fifo(p, rng(), perf=False),
        ),
        (
            "fifo_perf",
            lambda: _fifo(p, PolicyContext(rng=rng()), perf=True),
            lambda: _oracle_fifo(p, rng(), perf=True),
        ),
        (
            "fifo, quirks",
            lambda: _reference_fifo(p, PolicyContext(rng=rng(), quirks=True)),
            lambda: _oracle_reference_fifo(p, rng()),
        ),
        (
            "fifo_perf, quirks",
            lambda: _reference_fifo_perf(p),
            lambda: _oracle_reference_fifo_perf(p),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 8000])
    parser.add_argument("--seconds", type=float, default=1.0, help="timing per case")
    args = parser.parse_args()

    print(f"{'form':28s} {'jobs':>6s} {'policy':>10s} {'plain':>10s} {'ratio':>7s}")
    for n in args.sizes:
        for name, ours, plain in cases(queue(n)):
            assert np.array_equal(ours(), plain()), name  # the same allocation
            a, b = per_call(ours, args.seconds), per_call(plain, args.seconds)
            print(f"{name:28s} {n:6d} {a * 1e3:8.3f}ms {b * 1e3:8.3f}ms {b / a:6.1f}x")


if __name__ == "__main__":
    main()
