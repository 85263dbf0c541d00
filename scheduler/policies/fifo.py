"""First come, first served: each job in arrival order gets one whole type.

``fifo_perf`` gives each job the fastest type with room (recomputed from scratch, so a
job may move up to a faster type when one frees). ``fifo`` keeps jobs on the type they
hold and gives a waiting job a type drawn at random among those with room. A job that
fits nowhere stops the queue: nobody jumps ahead.

With quirks, ``fifo`` does what the reference's does: it draws a random type but then
uses the last type it looked at, which is the V100, for every job, whether it has room
or not; the round mechanism then only ever runs FIFO jobs on V100s.
"""

from __future__ import annotations

import numpy as np

from scheduler.policies.base import PolicyContext
from scheduler.problem import Allocation, AllocationProblem


def _fifo(problem: AllocationProblem, ctx: PolicyContext, *, perf: bool) -> np.ndarray:
    n, m = problem.throughputs.shape
    x = np.zeros((n, m))
    free = problem.capacities.astype(float).copy()
    allowed = problem.runnable
    s = problem.scale_factors
    queue = list(range(n))
    if not perf:
        held = problem.previous * allowed
        for i in np.flatnonzero(held.max(axis=1, initial=0.0) >= 0.5).tolist():
            j = int(np.argmax(held[i]))
            if free[j] >= s[i]:
                x[i, j] = 1.0
                free[j] -= s[i]
        queue = [i for i in queue if x[i].sum() == 0]
    for i in queue:
        candidates = [j for j in range(m) if allowed[i, j] and free[j] >= s[i]]
        if not candidates:
            if allowed[i].any():
                break
            continue  # a job that can run nowhere is skipped, it cannot block the queue
        if perf:
            j = max(candidates, key=lambda c: (problem.throughputs[i, c], -c))
        else:
            j = candidates[ctx.rng.randrange(len(candidates))]
        x[i, j] = 1.0
        free[j] -= s[i]
    return x


def fifo(problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
    """FIFO, heterogeneity-agnostic (a random type with room)."""
    if ctx.quirks:
        x = np.zeros_like(problem.throughputs)
        x[:, problem.reference_type] = 1.0
        return Allocation(x)
    return Allocation(_fifo(problem, ctx, perf=False))


def fifo_perf(problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
    """FIFO, heterogeneity-aware (the fastest type with room)."""
    return Allocation(_fifo(problem, ctx, perf=True))
