"""Finish-time fairness exactly as the reference poses it, through cvxpy (``--quirks gavel``).

The reference's finish-time-fairness model (``min max_i (t_i + R_i inv_pos(u_i)) / D_i``)
reaches ECOS through cvxpy's canonicalisation of ``inv_pos`` and ``maximum``. To land on
the same point of the optimum as the reference (and fail where it fails), hetsim hands
ECOS the very data cvxpy builds for that model over a dense ``X`` with the types in
alphabetical order, with the reference's settings. Only with quirks: hetsim's own form
(:func:`scheduler.programs.finish_time_compact`) is the better-conditioned default.

cvxpy takes 20-400 ms to canonicalise the model (ECOS then solves it in about 1 ms), so
:func:`ecos_data` writes that data directly: variables ``[t, X (column-major), s]`` (the
epigraph of the maximum, the allocation, one ``s_i >= 1 / u_i`` per job), rows
``f_i(X, s) <= t``, ``X >= 0``, capacities and row sums (all nonnegative-orthant), then
one second-order cone ``(u_i + s_i, u_i - s_i, 2)`` per job, with cvxpy's coefficients
to the bit and without the zeros it drops (``tests/test_reference_forms.py`` holds the
two to each other). Shapes it does not cover (one job, a job with nothing left to do, a
coefficient that is not finite) still go through cvxpy.

Pure: no SimPy, no logging. The caller turns a failure into a fallback.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from scheduler import conic

# cvxpy's reading of ECOS's exit flags (ECOS's documented codes); -2..-7: the solver
# failed, which cvxpy raises as an error with this message.
_STATUS = {
    0: "optimal",
    1: "infeasible",
    2: "unbounded",
    10: "optimal_inaccurate",
    11: "infeasible_inaccurate",
    12: "unbounded_inaccurate",
    -1: "user_limit",
}
_SOLVER_ERROR_FLAGS = (-2, -3, -4, -7)
_SOLVER_ERROR = (
    "Solver 'ECOS' failed. Try another solver, or solve with verbose=True for more information."
)


@dataclass(frozen=True)
class ReferenceSolve:
    """The clipped allocation (or None) and the attempt, for the solver chain's record."""

    x: np.ndarray | None
    attempt: conic.SolveAttempt


@dataclass(frozen=True)
class FinishTimeModel:
    """The reference's model's data: throughputs (columns in the reference's order),
    GPU counts, capacities, and per job its time since arrival, remaining steps and
    isolated finish time."""

    throughputs: np.ndarray
    scale_factors: np.ndarray
    capacities: np.ndarray
    elapsed: np.ndarray
    remaining: np.ndarray
    isolated_finish: np.ndarray


@dataclass(frozen=True)
class EcosData:
    """ECOS's input for the model: ``min c'v  s.t.  h - Gv`` in the cones ``dims``."""

    c: np.ndarray
    G: sp.csc_matrix
    h: np.ndarray
    dims: dict[str, Any]


def finish_time(model: FinishTimeModel) -> ReferenceSolve:
    """``minimise max_i (t_i + R_i / u_i) / D_i`` under the base constraints, with
    ``u_i = sum_j T[i,j] X[i,j]``, as the reference writes it (columns in the reference's
    order)."""
    start = time.perf_counter()
    data = ecos_data(model)
    if data is None:
        return finish_time_cvxpy(model)
    import ecos

    n, m = model.throughputs.shape
    try:
        solution = ecos.solve(data.c, data.G, data.h, data.dims, None, None, verbose=False)
    except (ValueError, ArithmeticError) as exc:
        seconds = time.perf_counter() - start
        return ReferenceSolve(None, conic.SolveAttempt("ecos", conic.FAILED, seconds, str(exc)))
    seconds = time.perf_counter() - start
    flag = solution["info"]["exitFlag"]
    if flag in _SOLVER_ERROR_FLAGS:
        return ReferenceSolve(
            None, conic.SolveAttempt("ecos", conic.FAILED, seconds, _SOLVER_ERROR)
        )
    status = _STATUS.get(flag)
    if status is None:  # a flag cvxpy does not know: let it say what it says
        return finish_time_cvxpy(model)
    x = np.asarray(solution["x"][1 : 1 + n * m]).reshape((n, m), order="F")
    return _answer(x, status, seconds)


def _answer(x: np.ndarray | None, status: str, seconds: float) -> ReferenceSolve:
    """A solve's outcome in cvxpy's status words: the allocation clipped to [0, 1] when
    it is optimal (or optimal but inaccurate), else a failed attempt with the status."""
    if x is None or status not in (conic.OPTIMAL, conic.INACCURATE):
        return ReferenceSolve(None, conic.SolveAttempt("ecos", conic.FAILED, seconds, status))
    return ReferenceSolve(
        np.asarray(x).clip(min=0.0).clip(max=1.0), conic.SolveAttempt("ecos", status, seconds)
    )


def ecos_data(model: FinishTimeModel) -> EcosData | None:
    """The data cvxpy hands ECOS for the reference's model (see the module docstring),
    or None for a shape this does not cover."""
    throughputs, remaining, elapsed = model.throughputs, model.remaining, model.elapsed
    n, m = throughputs.shape
    if n < 2 or not np.all(remaining > 0):
        return None
    inverse = 1.0 / model.isolated_finish
    slope = remaining * inverse  # R_i / D_i, as cvxpy multiplies it out
    offset = 0.0 - elapsed * inverse  # (+0.0 where t_i = 0, as in cvxpy)
    rates = np.asarray(throughputs, dtype=float)
    if not (
        np.all(np.isfinite(slope))
        and np.all(np.isfinite(offset))
        and np.all(np.isfinite(rates))
        and np.all(slope != 0)
    ):
        return None
    nm = n * m
    t_col, s0 = 0, 1 + nm
    jobs = np.arange(n)
    # x[i, k] is column 1 + k * n + i (cvxpy stores a matrix variable column-major).
    x_col = 1 + np.arange(m)[None, :] * n + jobs[:, None]
    caps0 = n + nm
    sums0 = caps0 + m
    cones0 = sums0 + n
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []

    def put(r: np.ndarray, c: np.ndarray, v: np.ndarray) -> None:
        rows.append(np.asarray(r, dtype=np.int64).ravel())
        cols.append(np.asarray(c, dtype=np.int64).ravel())
        vals.append(np.asarray(v, dtype=float).ravel())

    # max_i f_i <= t:  -t + (R_i / D_i) s_i <= -(t_i / D_i)
    put(jobs, np.full(n, t_col), np.full(n, -1.0))
    put(jobs, s0 + jobs, slope)
    # X >= 0, in column order
    put(n + np.arange(nm), 1 + np.arange(nm), np.full(nm, -1.0))
    # capacities: sum_i scale_i X[i, k] <= C_k
    scale = np.broadcast_to(np.asarray(model.scale_factors, dtype=float)[:, None], (n, m))
    put(np.broadcast_to(caps0 + np.arange(m)[None, :], (n, m)), x_col, scale)
    # row sums: sum_k X[i, k] <= 1
    put(np.broadcast_to(sums0 + jobs[:, None], (n, m)), x_col, np.ones((n, m)))
    # cones (u_i + s_i, u_i - s_i, 2) with u_i = sum_k T[i, k] X[i, k] (zeros dropped)
    live = rates != 0
    first = np.broadcast_to((cones0 + 3 * jobs)[:, None], (n, m))
    put(first[live], x_col[live], -rates[live])
    put(first[live] + 1, x_col[live], -rates[live])
    put(cones0 + 3 * jobs, s0 + jobs, np.full(n, -1.0))
    put(cones0 + 3 * jobs + 1, s0 + jobs, np.full(n, 1.0))
    shape = (cones0 + 3 * n, 1 + nm + n)
    matrix = sp.coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=shape
    ).tocsc()
    matrix.sort_indices()
    G = sp.csc_matrix(
        (matrix.data, matrix.indices.astype(np.int64), matrix.indptr.astype(np.int64)),
        shape=shape,
    )
    h = np.zeros(shape[0])
    h[:n] = offset
    h[caps0 : caps0 + m] = np.asarray(model.capacities, dtype=float)
    h[sums0 : sums0 + n] = 1.0
    h[cones0 + 2 : cones0 + 3 * n : 3] = 2.0
    c = np.zeros(shape[1])
    c[t_col] = 1.0
    return EcosData(c, G, h, {"l": cones0, "q": [3] * n, "e": 0})


def finish_time_cvxpy(model: FinishTimeModel) -> ReferenceSolve:
    """:func:`finish_time` through cvxpy itself (slow: for shapes :func:`ecos_data`
    does not cover, and as the oracle its tests hold it to)."""
    import cvxpy as cp  # imported when first needed: it takes seconds to load

    n, m = model.throughputs.shape
    x = cp.Variable((n, m))
    problem = cp.Problem(*_cvxpy_model(x, model))
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
    # cvxpy's status words are the chain's own (conic.OPTIMAL, conic.INACCURATE).
    return _answer(x.value, str(problem.status), seconds)


def _cvxpy_model(x: Any, model: FinishTimeModel) -> tuple[Any, list[Any]]:
    """The reference's objective and constraints over the cvxpy variable ``x``."""
    import cvxpy as cp

    throughputs, scale_factors, capacities = (
        model.throughputs,
        model.scale_factors,
        model.capacities,
    )
    elapsed, remaining, isolated_finish = model.elapsed, model.remaining, model.isolated_finish
    n, m = throughputs.shape
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
    return objective, constraints


def cvxpy_ecos_data(model: FinishTimeModel) -> EcosData:
    """What cvxpy itself hands ECOS for the model (the oracle of :func:`ecos_data`)."""
    import cvxpy as cp

    n, m = model.throughputs.shape
    x = cp.Variable((n, m))
    problem = cp.Problem(*_cvxpy_model(x, model))
    data, _chain, _inverse = problem.get_problem_data(cp.ECOS)
    G = data["G"]
    dims = data["dims"]
    return EcosData(
        data["c"],
        sp.csc_matrix((G.data, G.indices, G.indptr), shape=G.shape),
        data["h"],
        {"l": dims.nonneg, "q": list(dims.soc), "e": dims.exp},
    )
