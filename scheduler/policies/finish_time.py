"""Finish-time fairness (Themis-style): minimise the largest finish-time ratio rho.

For job ``i``: ``rho_i = (t_i + R_i / u_i) / (B_i + R_i / I_i)``, where ``t_i`` is its time
since arrival, ``R_i`` its remaining steps and ``u_i = sum_j T[i,j] X[i,j]`` its throughput
under the allocation. The baseline (``ctx.ftf_isolated``) comes in the reference's two
versions:

- ``share`` (its current code): ``I_i`` is the throughput of an equal share of every
  type, and ``B_i`` the isolated-time equivalent of the progress so far (the steps done,
  each at the isolated rate in force when it was done).
- ``las`` (its code when the published finish-time-fairness curves were made): ``I_i``
  is the throughput agnostic LAS would give the job among the jobs present now, and
  ``B_i = t_i``, its whole time since arrival. (With quirks, that code's agnostic
  variant also believed a throughput of 1 everywhere: see :func:`finish_time_fairness`.)

``1 / u_i`` is bounded by a second-order cone, so the problem is a second-order cone
program (see :func:`scheduler.programs.finish_time`).

The agnostic variant believes every type is as fast as the reference type (V100); the
reference also hands such a job time on types where it cannot run, hetsim does not
(unless quirks are asked for).
"""

from __future__ import annotations

import numpy as np

from scheduler import conic, programs, reference_cvxpy, reference_forms
from scheduler.policies import fairness
from scheduler.policies.base import (
    PolicyContext,
    agnostic_throughputs,
    allowed_cells,
    isolated_throughputs,
    solved_or_fallback,
)
from scheduler.problem import Allocation, AllocationProblem


def _finish_time(
    throughputs: np.ndarray, problem: AllocationProblem, ctx: PolicyContext
) -> Allocation:
    n = problem.num_jobs
    if n == 0:
        return Allocation(np.zeros_like(problem.throughputs), isolated_throughputs=np.zeros(0))
    if ctx.quirks:
        return _reference_finish_time(throughputs, problem, ctx)
    solves: list[conic.Solution] = []
    if ctx.ftf_isolated == "las":
        las = fairness.max_min_fairness(problem, ctx)
        solves.extend(las.solves)
        iso = (throughputs * las.matrix).sum(axis=1)
        baseline = problem.times_since_start
    else:
        iso = isolated_throughputs(throughputs, problem)
        baseline = problem.isolated_times()
    # Jobs with no isolated throughput cannot be normalised: they get no time.
    allowed = allowed_cells(problem, ctx) & (throughputs > 0) & (iso > 0)[:, None]
    safe_iso = np.where(iso > 0, iso, 1.0)
    isolated_finish = np.maximum(baseline + problem.remaining_steps / safe_iso, 1e-9)
    if not allowed.any():
        return Allocation(np.zeros_like(problem.throughputs), isolated_throughputs=iso)
    # One hyperbolic cone per job, in isolated units: same optimum, better conditioned.
    rates = throughputs / safe_iso[:, None]
    program, cells = programs.finish_time_compact(
        rates,
        allowed,
        problem.scale_factors,
        problem.capacities,
        problem.times_since_start / isolated_finish,
        problem.remaining_steps / (safe_iso * isolated_finish),
    )
    sol = conic.solve(program, ctx.solvers)
    solves.append(sol)
    x = None if sol.x is None else cells.scatter(sol.x)
    out = solved_or_fallback(x, problem, solves)
    return Allocation(out.matrix, out.solves, out.failed, isolated_throughputs=iso)


def _reference_finish_time(
    throughputs: np.ndarray, problem: AllocationProblem, ctx: PolicyContext
) -> Allocation:
    """The reference's program, posed through cvxpy as the reference poses it (every
    cell, types in alphabetical order, its isolated throughput and arithmetic), solved by
    ECOS as it is there; where ECOS fails (the reference crashed) hetsim's own form of
    the same model goes to the rest of the solver chain."""
    m = problem.num_types
    order = reference_forms.alphabetical(problem.type_names, m)
    back = np.argsort(order)
    rates = throughputs[:, order]
    capacities = problem.capacities[order]
    solves: list[conic.Solution] = []
    if ctx.ftf_isolated == "las":
        las = fairness.max_min_fairness(problem, ctx)
        solves.extend(las.solves)
        iso = np.sum(np.multiply(rates, las.matrix[:, order]), axis=1)
        baseline = problem.times_since_start
    else:
        iso = reference_forms.isolated_throughputs(rates, problem.scale_factors, capacities)
        baseline = problem.isolated_times()
    with np.errstate(divide="ignore", invalid="ignore"):
        isolated_finish = baseline + problem.remaining_steps / iso
    failed: tuple[conic.SolveAttempt, ...] = ()
    if np.all(np.isfinite(isolated_finish)):
        ref = reference_cvxpy.finish_time(
            reference_cvxpy.FinishTimeModel(
                rates,
                problem.scale_factors,
                capacities,
                problem.times_since_start,
                problem.remaining_steps,
                isolated_finish,
            )
        )
        if ref.x is not None:
            solves.append(conic.Solution(ref.x.ravel(), (ref.attempt,)))
            matrix = np.ascontiguousarray(ref.x[:, back])
            return Allocation(matrix, tuple(solves), isolated_throughputs=iso)
        failed = (ref.attempt,)
    # ECOS failed (where the reference crashed) or a baseline is zero (the reference
    # divides by it: that job's term drops out, its cone s_i u_i >= 1 stays, so it still
    # gets some throughput): hetsim's form of the reference's model, over the chain's
    # other solvers.
    allowed = allowed_cells(problem, ctx) & np.any(throughputs > 0, axis=1)[:, None]
    finish = np.where(iso > 0, np.maximum(np.nan_to_num(isolated_finish), 1e-9), np.inf)
    if not allowed.any():
        return Allocation(np.zeros_like(problem.throughputs), isolated_throughputs=iso)
    program, cells = programs.finish_time_reference(
        throughputs,
        allowed,
        problem.scale_factors,
        problem.capacities,
        problem.times_since_start,
        problem.remaining_steps,
        finish,
    )
    rest = tuple(s for s in ctx.solvers if s != "ecos") or ctx.solvers
    sol = conic.solve(program, rest)
    sol = conic.Solution(sol.x, failed + sol.attempts, sol.duals)
    solves.append(sol)
    x = None if sol.x is None else cells.scatter(sol.x)
    out = solved_or_fallback(x, problem, solves)
    return Allocation(out.matrix, out.solves, out.failed, isolated_throughputs=iso)


def finish_time_fairness_perf(problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
    """Finish-time fairness, heterogeneity-aware."""
    return _finish_time(problem.throughputs, problem, ctx)


def finish_time_fairness(problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
    """Finish-time fairness, heterogeneity-agnostic (reference-type throughput everywhere).

    With quirks and the ``las`` baseline it believes what the reference's code of that
    time believed: a throughput of 1 on every type, so that remaining steps count as
    seconds (its rho is then close to agnostic LAS's shares over the allocation's).
    """
    if ctx.quirks and ctx.ftf_isolated == "las":
        return _finish_time(np.ones_like(problem.throughputs), problem, ctx)
    return _finish_time(agnostic_throughputs(problem, ctx), problem, ctx)
