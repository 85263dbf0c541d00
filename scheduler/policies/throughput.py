"""Throughput-oriented policies: the isolated split, and maximum total throughput.

``isolated``: every job gets the reference's isolated share, an equal split of every
type (scaled down for multi-GPU jobs so that rows stay within 1); no solver.
``max_sum_throughput_perf``: maximise the total steps per second, optionally per unit of
cost when the problem carries per-type costs. Many optima: without quirks the
minimum-norm allocation among them is returned, the same for every solver.
"""

from __future__ import annotations

import numpy as np

from scheduler import conic, programs
from scheduler.policies.base import (
    PolicyContext,
    allowed_cells,
    solved_or_fallback,
    tie_break,
)
from scheduler.problem import Allocation, AllocationProblem


def isolated(problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
    """Every job an equal share of GPU time, spread over the types in proportion to their
    size: ``x[i,j] = n_j / max(N, sum_k s_k)`` over the jobs that can run, which fills the
    cluster exactly when it is oversubscribed and gives every job its whole time when not.

    With quirks, the reference's split instead (``n_j / N * s_min / s_i``, which only
    bounds each row and can oversubscribe a type).
    """
    n = problem.num_jobs
    if n == 0:
        return Allocation(np.zeros_like(problem.throughputs))
    allowed = allowed_cells(problem, ctx)
    total = max(problem.capacities.sum(), 1e-12)
    if ctx.quirks:
        s = problem.scale_factors.astype(float)
        x = np.tile(problem.capacities / total, (n, 1)) * (s.min() / s)[:, None]
        return Allocation(np.where(allowed, x, 0.0))
    runs = np.asarray(allowed.any(axis=1))
    demand = float(problem.scale_factors[runs].sum())
    x = np.tile(problem.capacities / max(total, demand), (n, 1))
    return Allocation(np.where(allowed & runs[:, None], x, 0.0))


def max_sum_throughput_perf(problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
    """Maximise the total throughput (per unit of cost when type costs are given)."""
    costs = np.ones(problem.num_types) if problem.type_costs is None else problem.type_costs
    coefficients = problem.throughputs / np.maximum(costs, 1e-12)[None, :]
    allowed = allowed_cells(problem, ctx)
    if not ctx.quirks:  # the reference's dense X keeps zero cells (they take capacity)
        allowed &= coefficients > 0
    if not allowed.any():
        return Allocation(np.zeros_like(problem.throughputs))
    program, cells = programs.max_sum(
        coefficients, allowed, problem.scale_factors, problem.capacities
    )
    solves: list[conic.Solution] = []
    sol = conic.solve(program, ctx.solvers)
    solves.append(sol)
    if sol.x is None:
        return solved_or_fallback(None, problem, solves)
    x = cells.scatter(sol.x)
    if ctx.tie_breaking:
        # Keep the optimal total; among those allocations pick the min-norm point.
        total = float((coefficients * x).sum())
        levels = np.zeros(problem.num_jobs)
        return solved_or_fallback(
            tie_break(coefficients, allowed, levels, problem, ctx, solves, total=total),
            problem,
            solves,
        )
    return solved_or_fallback(x, problem, solves)
