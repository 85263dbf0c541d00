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

from scheduler import conic, programs
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
    solves: list[conic.Solution] = []
    if ctx.ftf_isolated == "las":
        las = fairness.max_min_fairness(problem, ctx)
        solves.extend(las.solves)
        iso = (throughputs * las.matrix).sum(axis=1)
        baseline = problem.times_since_start
    else:
        iso = isolated_throughputs(throughputs, problem)
        baseline = problem.isolated_times()
    allowed = allowed_cells(problem, ctx)
    if not ctx.quirks:
        allowed &= throughputs > 0
    safe_iso = np.where(iso > 0, iso, 1.0)
    isolated_finish = baseline + problem.remaining_steps / safe_iso
    isolated_finish = np.maximum(isolated_finish, 1e-9)
    if ctx.quirks:
        # The reference divides by a zero baseline: the job's isolated finish time is
        # infinite, its rho term 0, and only the cone s_i u_i >= 1 stays, so it must
        # get some throughput, wherever the solver puts it.
        # (A positive baseline implies a type where the job runs.)
        isolated_finish = np.where(iso > 0, isolated_finish, np.inf)
        allowed &= np.any(throughputs > 0, axis=1)[:, None]
    else:
        # Jobs with no isolated throughput cannot be normalised: they get no time.
        allowed &= (iso > 0)[:, None]
    if not allowed.any():
        return Allocation(np.zeros_like(problem.throughputs), isolated_throughputs=iso)
    if ctx.quirks:
        # The reference's model as cvxpy canonicalises it (ECOS then lands where it does
        # for the reference, and fails where it does: often, at high load).
        program, cells = programs.finish_time_reference(
            throughputs,
            allowed,
            problem.scale_factors,
            problem.capacities,
            problem.times_since_start,
            problem.remaining_steps,
            isolated_finish,
        )
    else:
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
