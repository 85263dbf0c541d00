"""Minimum total duration (makespan): finish every active job as early as possible.

``min T`` such that every job ``i`` can finish its remaining steps ``R_i`` within ``T``:
``sum_j T[i,j] X[i,j] >= R_i / T``. With ``z = 1 / T`` that is a max-min LP over
``T[i,j] / R_i``, solved exactly in one go. The reference instead bisects on ``T`` over
``[100, 1e6]`` seconds to within 5% and keeps the solver's point of the last feasible
problem; with quirks hetsim does the same.
"""

from __future__ import annotations

import numpy as np

from scheduler import conic, programs
from scheduler.policies.base import (
    PolicyContext,
    agnostic_throughputs,
    allowed_cells,
    max_min_allocation,
)
from scheduler.problem import Allocation, AllocationProblem

BISECT_LOW_S = 100.0
BISECT_HIGH_S = 1e6
BISECT_RATIO = 1.05


def _coefficients(throughputs: np.ndarray, problem: AllocationProblem) -> np.ndarray:
    """``T[i,j] / R_i``, scaled by the largest ``R`` so that the optimum is of order 1
    (the makespan in units of the longest job's steps)."""
    remaining = np.maximum(problem.remaining_steps, 1e-9)
    scale = float(remaining.max(initial=1.0))
    out: np.ndarray = throughputs * (scale / remaining)[:, None]
    return out


def _exact(throughputs: np.ndarray, problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
    return max_min_allocation(_coefficients(throughputs, problem), problem, ctx)


def _feasible(
    coefficients: np.ndarray,
    allowed: np.ndarray,
    problem: AllocationProblem,
    ctx: PolicyContext,
    z: float,
    solves: list[conic.Solution],
) -> np.ndarray | None:
    """The solver's point of {base constraints, every job at least z}, or None."""
    floors = np.full(problem.num_jobs, z)
    program, cells, _ = programs.max_min(
        coefficients, allowed, problem.scale_factors, problem.capacities, floors
    )
    # Every job has a floor, so t appears nowhere: drop it, and the objective, to make a
    # feasibility problem (the reference maximises a constant).
    k = program.num_vars - 1
    program = conic.ConeProgram(np.zeros(k), program.G[:, :k].tocsc(), program.h, program.l)
    sol = conic.solve(program, ctx.solvers)
    solves.append(sol)
    return None if sol.x is None else cells.scatter(sol.x)


def _bisect(throughputs: np.ndarray, problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
    coefficients = _coefficients(throughputs, problem)
    allowed = allowed_cells(problem, ctx) & (coefficients > 0)
    solves: list[conic.Solution] = []
    if not allowed.any():
        return Allocation(np.zeros_like(problem.throughputs))
    low, high = BISECT_LOW_S, BISECT_HIGH_S
    last_high = high
    found: np.ndarray | None = None
    for _ in range(12):  # widen the range tenfold while nothing is feasible
        while BISECT_RATIO * low < high:
            mid = (low + high) / 2.0
            z = float(problem.remaining_steps.max(initial=1.0)) / mid
            x = _feasible(coefficients, allowed, problem, ctx, z, solves)
            if x is not None:
                found, high = x, mid
            else:
                low = mid
        if found is not None:
            break
        low, high = last_high, last_high * 10.0
        last_high = high
    # Infeasibility is the expected outcome of half the probes, not a solver failure.
    return Allocation(
        found if found is not None else np.zeros_like(problem.throughputs),
        tuple(s for s in solves if s.ok),
        failed=found is None,
    )


def _min_total_duration(
    throughputs: np.ndarray, problem: AllocationProblem, ctx: PolicyContext
) -> Allocation:
    if problem.num_jobs == 0:
        return Allocation(np.zeros_like(problem.throughputs))
    if ctx.quirks:
        return _bisect(throughputs, problem, ctx)
    return _exact(throughputs, problem, ctx)


def min_total_duration_perf(problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
    """Makespan, heterogeneity-aware."""
    return _min_total_duration(problem.throughputs, problem, ctx)


def min_total_duration(problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
    """Makespan, heterogeneity-agnostic (reference-type throughput everywhere)."""
    return _min_total_duration(agnostic_throughputs(problem, ctx), problem, ctx)
