"""Finish-time fairness exactly as the reference poses it, through cvxpy (``--quirks gavel``).

The reference's finish-time-fairness model (``min max_i (t_i + R_i inv_pos(u_i)) / D_i``)
reaches ECOS through cvxpy's canonicalisation of ``inv_pos`` and ``maximum``, whose
auxiliary variables and cone rows are cvxpy's own business. To land on the same point of
the optimum as the reference (and fail where it fails), hetsim builds the very same cvxpy
model over a dense ``X`` with the types in alphabetical order and lets cvxpy hand it to
ECOS with the reference's settings. Only with quirks: hetsim's own form
(:func:`scheduler.programs.finish_time_compact`) is the better-conditioned default.

Pure: no SimPy, no logging. The caller turns a failure into a fallback.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from scheduler import conic


@dataclass(frozen=True)
class ReferenceSolve:
    """The clipped allocation (or None) and the attempt, for the solver chain's record."""

    x: np.ndarray | None
    attempt: conic.SolveAttempt


def finish_time(
    throughputs: np.ndarray,
    scale_factors: np.ndarray,
    capacities: np.ndarray,
    elapsed: np.ndarray,
    remaining: np.ndarray,
    isolated_finish: np.ndarray,
) -> ReferenceSolve:
    """``minimise max_i (t_i + R_i / u_i) / D_i`` under the base constraints, with
    ``u_i = sum_j T[i,j] X[i,j]``, as the reference writes it (columns in the reference's
    order)."""
    import cvxpy as cp  # imported when first needed: it takes seconds to load

    n, m = throughputs.shape
    x = cp.Variable((n, m))
    fractions = []
    for i in range(n):
        allocation_throughput = cp.sum(cp.multiply(throughputs[i], x[i]))
        expected = elapsed[i] + remaining[i] * cp.inv_pos(allocation_throughput)
        # The reference divides by a one-element array (its isolated finish time).
        fractions.append(expected / isolated_finish[i : i + 1])
    objective = cp.Minimize(fractions[0] if n == 1 else cp.maximum(*fractions))
    scale = np.tile(scale_factors.astype(float).reshape(n, 1), (1, m))
    constraints = [
        x >= 0,
        cp.sum(cp.multiply(scale, x), axis=0) <= capacities.astype(float),
        cp.sum(x, axis=1) <= 1,
    ]
    problem = cp.Problem(objective, constraints)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            # An inaccurate answer is recorded in the attempt's status, not printed.
            warnings.simplefilter("ignore", UserWarning)
            problem.solve(solver=cp.ECOS)
    except (cp.error.SolverError, ValueError, ArithmeticError) as exc:
        seconds = time.perf_counter() - start
        return ReferenceSolve(None, conic.SolveAttempt("ecos", conic.FAILED, seconds, str(exc)))
    seconds = time.perf_counter() - start
    status = str(problem.status)
    if x.value is None or status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        return ReferenceSolve(None, conic.SolveAttempt("ecos", conic.FAILED, seconds, status))
    ok = conic.OPTIMAL if status == cp.OPTIMAL else conic.INACCURATE
    return ReferenceSolve(
        np.asarray(x.value).clip(min=0.0).clip(max=1.0), conic.SolveAttempt("ecos", ok, seconds)
    )
