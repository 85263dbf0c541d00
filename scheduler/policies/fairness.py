"""Max-min fairness (LAS): agnostic and heterogeneity-aware, one-shot and water-filling.

The max-min LP has many optimal allocations; which one a solver returns decides the
JCTs that follow (an interior-point solver lands in the middle of the optimal face, a
simplex solver on a vertex). Without quirks, hetsim breaks the tie the same way for
every solver: the minimum-norm allocation that gives every job the optimal level.
Water-filling goes further and maximises the levels lexicographically (leximin): raise
the minimum, fix the jobs that cannot rise any more, raise the rest, repeat.
"""

from __future__ import annotations

import numpy as np

from scheduler import conic, reference_forms
from scheduler.policies.base import (
    LEVEL_SLACK,
    PolicyContext,
    allowed_cells,
    last_resort,
    max_min_allocation,
    max_min_levels,
    proportional_throughputs,
    solved_or_fallback,
    tie_break,
)
from scheduler.problem import Allocation, AllocationProblem

# A dual this small relative to the largest is taken as zero (not a bottleneck).
DUAL_TOLERANCE = 1e-6
# Water-filling fixes at least one group of jobs per round; stop after this many.
MAX_FILL_ROUNDS = 64


def agnostic_coefficients(problem: AllocationProblem, ctx: PolicyContext) -> np.ndarray:
    """Every allowed cell worth its GPU count over the job's weight (types alike)."""
    scale = problem.scale_factors / problem.weights
    out: np.ndarray = allowed_cells(problem, ctx) * scale[:, None]
    return out


def perf_coefficients(problem: AllocationProblem) -> np.ndarray:
    """Throughput x GPU count / (weight x proportional throughput): normalised effective
    throughput per unit of allocation."""
    share = proportional_throughputs(problem)
    factor = np.divide(
        problem.scale_factors / problem.weights,
        share,
        out=np.zeros(problem.num_jobs),
        where=share > 0,
    )
    out: np.ndarray = problem.throughputs * factor[:, None]
    return out


def max_min_fairness(problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
    """LAS, heterogeneity-agnostic: equal GPU-time shares, every type treated alike."""
    if ctx.quirks:
        return reference_max_min(np.ones_like(problem.throughputs), problem, ctx)
    return max_min_allocation(agnostic_coefficients(problem, ctx), problem, ctx)


def max_min_fairness_perf(problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
    """LAS, heterogeneity-aware: maximise the minimum normalised effective throughput."""
    if ctx.quirks:
        return reference_max_min(problem.throughputs, problem, ctx)
    return max_min_allocation(perf_coefficients(problem), problem, ctx)


def reference_max_min(
    throughputs: np.ndarray, problem: AllocationProblem, ctx: PolicyContext
) -> Allocation:
    """The reference's max-min program over ``throughputs`` (all ones for the agnostic
    form), posed bit for bit as cvxpy poses it to ECOS: every cell, zero throughputs
    included, types in alphabetical order, the answer clipped to [0, 1] and used as it
    is (see :mod:`scheduler.reference_forms`)."""
    n, m = problem.num_jobs, problem.num_types
    if n == 0:
        return Allocation(np.zeros((0, m)))
    order = reference_forms.alphabetical(problem.type_names, m)
    back = np.argsort(order)
    capacities = problem.capacities[order]
    coefficients = reference_forms.max_min_coefficients(
        throughputs[:, order], problem.scale_factors, problem.weights, capacities
    )
    program = reference_forms.max_min_program(coefficients, problem.scale_factors, capacities)
    sol = conic.solve(program, ctx.solvers, reference=True)
    if sol.x is None:
        return Allocation(last_resort(problem), (sol,), failed=True)
    x = reference_forms.allocation_of(sol.x, n, m)[:, back]
    return Allocation(np.ascontiguousarray(x), (sol,))


def _water_fill(
    coefficients: np.ndarray, problem: AllocationProblem, ctx: PolicyContext
) -> Allocation:
    solves: list[conic.Solution] = []
    allowed = allowed_cells(problem, ctx)
    levels = np.full(problem.num_jobs, np.nan)
    runnable_jobs = (allowed & (coefficients > 0)).any(axis=1)
    levels[~runnable_jobs] = 0.0
    x: np.ndarray | None = np.zeros(coefficients.shape)
    t = 0.0
    for _ in range(MAX_FILL_ROUNDS):
        if not np.isnan(levels).any():
            break
        floors = np.where(np.isnan(levels), np.nan, levels * (1.0 - LEVEL_SLACK))
        found = max_min_levels(coefficients, allowed, problem, ctx, solves, floors)
        if found is None:
            return solved_or_fallback(None, problem, solves)
        x, t, free, duals = found
        if free.size == 0:
            break
        top = float(duals.max(initial=0.0))
        bottleneck = free[duals > DUAL_TOLERANCE * top] if top > 0 else free
        levels[bottleneck] = t
    else:
        levels[np.isnan(levels)] = t  # out of rounds: the rest keep the last level
    if not ctx.tie_breaking:
        return solved_or_fallback(x, problem, solves)
    x = tie_break(coefficients, allowed, np.nan_to_num(levels), problem, ctx, solves)
    return solved_or_fallback(x, problem, solves)


def max_min_fairness_water_filling(problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
    """Leximin LAS, heterogeneity-agnostic."""
    return _water_fill(agnostic_coefficients(problem, ctx), problem, ctx)


def max_min_fairness_water_filling_perf(
    problem: AllocationProblem, ctx: PolicyContext
) -> Allocation:
    """Leximin LAS, heterogeneity-aware."""
    return _water_fill(perf_coefficients(problem), problem, ctx)
