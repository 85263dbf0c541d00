"""Scheduling policies: pure functions from an :class:`AllocationProblem` to an allocation.

Every policy has the signature ``(problem, context) -> Allocation`` and is registered
by name in :mod:`scheduler.registry`. None of them gives time to a cell where the job's
throughput is 0 (the reference does, for its agnostic policies).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from scheduler import lp
from scheduler.problem import Allocation, AllocationProblem


@dataclass(frozen=True)
class PolicyContext:
    """What a policy may use besides the problem: a random stream and the solver chain."""

    rng: random.Random
    solvers: tuple[str, ...] = lp.DEFAULT_CHAIN


def last_resort(problem: AllocationProblem) -> np.ndarray:
    """A feasible allocation that needs no solver: the previous one where it still
    fits, else an equal share of every runnable type.

    Used when every solver of the chain failed, so that a run never stops on a solver.
    """
    allowed = problem.runnable
    prev = np.where(allowed, problem.previous, 0.0)
    if prev.any():
        return _fit_to_capacity(prev, problem)
    n = problem.num_jobs
    if n == 0:
        return np.zeros_like(problem.throughputs)
    share = allowed.astype(float)
    counts = share.sum(axis=1, keepdims=True)
    share = np.divide(share, counts, out=np.zeros_like(share), where=counts > 0)
    return _fit_to_capacity(share, problem)


def _fit_to_capacity(x: np.ndarray, problem: AllocationProblem) -> np.ndarray:
    """Scales each type's column down until the GPU-weighted sum fits its capacity."""
    used = (problem.scale_factors[:, None] * x).sum(axis=0)
    scale = np.divide(
        problem.capacities, used, out=np.ones_like(used), where=used > problem.capacities
    )
    out: np.ndarray = x * np.minimum(scale, 1.0)[None, :]
    return out


def _max_min(
    coefficients: np.ndarray, problem: AllocationProblem, ctx: PolicyContext
) -> tuple[np.ndarray | None, lp.LPSolution | None]:
    """Solves the weighted max-min LP over the runnable cells; None when all solvers fail."""
    allowed = problem.runnable & (coefficients > 0)
    shape = coefficients.shape
    if not allowed.any():
        return np.zeros(shape), None
    program, cells, _ = lp.max_min_program(
        coefficients, allowed, problem.scale_factors, problem.capacities
    )
    solution = lp.solve(program, ctx.solvers)
    if solution.x is None:
        return None, solution
    return lp.scatter(solution.x, cells, shape), solution


def proportional_throughputs(problem: AllocationProblem) -> np.ndarray:
    """Each job's throughput under an equal split of every type: ``sum_j T[i,j] n_j / N``.

    The reference's normalisation for heterogeneity-aware LAS (its "proportional"
    share). Zero-throughput types count as zero, so the share is what the job would
    really get from an equal split.
    """
    total = problem.capacities.sum()
    if total <= 0:
        return np.zeros(problem.num_jobs)
    out: np.ndarray = (problem.throughputs * problem.capacities[None, :]).sum(axis=1) / total
    return out


def _agnostic_coefficients(problem: AllocationProblem) -> np.ndarray:
    """Every runnable cell's throughput replaced by 1, times GPU count over weight."""
    scale = problem.scale_factors / problem.weights
    out: np.ndarray = problem.runnable * scale[:, None]
    return out


def max_min_fairness(problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
    """LAS, heterogeneity-agnostic: equal time shares, every type treated alike."""
    coefficients = _agnostic_coefficients(problem)
    x, solution = _max_min(coefficients, problem, ctx)
    solves = () if solution is None else (solution,)
    if x is None:
        return Allocation(last_resort(problem), solves, failed=True)
    return Allocation(x, solves)


def max_min_fairness_perf(problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
    """LAS, heterogeneity-aware: maximise the minimum normalised effective throughput.

    Job ``i``'s effective throughput ``sum_j T[i,j] X[i,j]`` is scaled by its GPU count,
    divided by its priority weight and normalised by its proportional throughput (what an
    equal split of every type would give it).
    """
    share = proportional_throughputs(problem)
    factor = np.divide(
        problem.scale_factors / problem.weights,
        share,
        out=np.zeros(problem.num_jobs),
        where=share > 0,
    )
    coefficients = problem.throughputs * factor[:, None]
    x, solution = _max_min(coefficients, problem, ctx)
    solves = () if solution is None else (solution,)
    if x is None:
        return Allocation(last_resort(problem), solves, failed=True)
    return Allocation(x, solves)


def _fifo(problem: AllocationProblem, ctx: PolicyContext, *, perf: bool) -> np.ndarray:
    """First come, first served: each job in arrival order gets one whole type.

    ``perf``: the fastest type with room for the job (recomputed from scratch, so a job
    may move up to a faster type when one frees). Agnostic: jobs keep the type they
    already hold; waiting jobs get a type drawn at random among those with room. A job
    that fits nowhere stops the queue (nobody jumps ahead).
    """
    n, m = problem.throughputs.shape
    x = np.zeros((n, m))
    free = problem.capacities.astype(float).copy()
    allowed = problem.runnable
    s = problem.scale_factors
    queue = list(range(n))
    if not perf:
        holders = np.flatnonzero((problem.previous * allowed).max(axis=1, initial=0.0) >= 0.5)
        for i in holders.tolist():
            j = int(np.argmax(problem.previous[i] * allowed[i]))
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
    return Allocation(_fifo(problem, ctx, perf=False))


def fifo_perf(problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
    """FIFO, heterogeneity-aware (the fastest type with room)."""
    return Allocation(_fifo(problem, ctx, perf=True))
