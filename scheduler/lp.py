"""Linear programs in inequality form and the solver chain that solves them.

A :class:`LinearProgram` is ``minimise c @ x subject to G @ x <= h`` with a sparse
``G``. :func:`solve` hands it to each solver of a chain in turn (ECOS first, then
SCS by default) and returns the first optimal answer together with every attempt,
so callers can count fallbacks and failures. Nothing here raises on a solver's
failure: a failed chain is a :class:`LPSolution` whose ``x`` is ``None``.

The solvers are called through their own APIs rather than through cvxpy: for the
few hundred variables of a scheduling LP, cvxpy's canonicalisation costs 5-10x the
solve itself. The problems are built exactly as cvxpy would canonicalise the same
model, so ECOS returns the same point it would return through cvxpy.

Pure: no SimPy, no logging, no global state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ecos
import numpy as np
import scipy.sparse as sp
import scs

OPTIMAL = "optimal"
INACCURATE = "optimal_inaccurate"
INFEASIBLE = "infeasible"
FAILED = "failed"

DEFAULT_CHAIN: tuple[str, ...] = ("ecos", "scs")


@dataclass(frozen=True)
class LinearProgram:
    """``minimise c @ x`` subject to ``G @ x <= h`` (all rows are linear inequalities)."""

    c: np.ndarray
    G: sp.csc_matrix
    h: np.ndarray

    @property
    def num_vars(self) -> int:
        return int(self.c.shape[0])


@dataclass(frozen=True)
class SolveAttempt:
    """One solver's try at a problem: its name, the status it ended with, its wall time."""

    solver: str
    status: str
    seconds: float
    detail: str = ""


@dataclass(frozen=True)
class LPSolution:
    """The outcome of a solver chain: the accepted point (or None) and every attempt."""

    x: np.ndarray | None
    attempts: tuple[SolveAttempt, ...]

    @property
    def ok(self) -> bool:
        return self.x is not None

    @property
    def solver(self) -> str | None:
        """The solver whose answer was accepted, if any."""
        if self.x is None:
            return None
        return self.attempts[-1].solver

    @property
    def fallbacks(self) -> int:
        """How many times the chain moved on to its next solver."""
        return len(self.attempts) - 1

    @property
    def seconds(self) -> float:
        return sum(a.seconds for a in self.attempts)


SolverFn = Callable[[LinearProgram], tuple[str, np.ndarray | None, str]]


def _solve_ecos(lp: LinearProgram) -> tuple[str, np.ndarray | None, str]:
    dims = {"l": int(lp.G.shape[0]), "q": [], "e": 0}
    sol = ecos.solve(lp.c, lp.G, lp.h, dims, verbose=False, max_iters=200)
    flag = int(sol["info"]["exitFlag"])
    x = np.asarray(sol["x"], dtype=float)
    if flag == 0:
        return OPTIMAL, x, ""
    if flag in (1, 2):
        return INFEASIBLE, None, f"exitFlag {flag}"
    if flag in (10, 11, 12):
        # Reached only a reduced accuracy: not accepted, the next solver is tried.
        return INACCURATE, None, f"exitFlag {flag}"
    return FAILED, None, f"exitFlag {flag}"


def _solve_scs(lp: LinearProgram) -> tuple[str, np.ndarray | None, str]:
    data = {"A": lp.G, "b": lp.h, "c": lp.c}
    cone = {"l": int(lp.G.shape[0])}
    # Default tolerances agree with ECOS only to ~5e-5; tighten them for a fallback.
    solver = scs.SCS(data, cone, eps_abs=1e-8, eps_rel=1e-8, max_iters=200_000, verbose=False)
    sol = solver.solve()
    status = str(sol["info"]["status"])
    val = int(sol["info"]["status_val"])
    if val == 1:
        return OPTIMAL, np.asarray(sol["x"], dtype=float), ""
    if val in (-1, -2, -6, -7):
        return INFEASIBLE, None, status
    if val == 2:
        return INACCURATE, None, status
    return FAILED, None, status


SOLVERS: dict[str, SolverFn] = {"ecos": _solve_ecos, "scs": _solve_scs}


def solve(lp: LinearProgram, chain: Sequence[str] = DEFAULT_CHAIN) -> LPSolution:
    """Solves ``lp`` with each solver of ``chain`` in turn until one is optimal.

    A solver that raises, reports infeasibility, stops early or reaches only reduced
    accuracy counts as a failed attempt and the next one is tried. Unknown solver
    names raise ``KeyError`` (configuration is validated before a run starts).
    """
    attempts: list[SolveAttempt] = []
    for name in chain:
        fn = SOLVERS[name]
        start = time.perf_counter()
        try:
            status, x, detail = fn(lp)
        except Exception as exc:  # a solver's crash is an outcome, never the run's end
            status, x, detail = FAILED, None, f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - start
        if x is not None and not np.all(np.isfinite(x)):
            status, x, detail = FAILED, None, "non-finite solution"
        attempts.append(SolveAttempt(name, status, seconds, detail))
        if x is not None:
            return LPSolution(x, tuple(attempts))
    return LPSolution(None, tuple(attempts))


def validate_chain(chain: Sequence[str]) -> tuple[str, ...]:
    """Returns the chain as a tuple, or raises ValueError naming an unknown solver."""
    out = tuple(s.lower() for s in chain)
    if not out:
        raise ValueError("the solver chain is empty")
    for name in out:
        if name not in SOLVERS:
            raise ValueError(f"unknown solver '{name}' (known: {', '.join(sorted(SOLVERS))})")
    return out


def max_min_program(
    coefficients: np.ndarray,
    allowed: np.ndarray,
    scale_factors: np.ndarray,
    capacities: np.ndarray,
) -> tuple[LinearProgram, np.ndarray, np.ndarray]:
    """Builds ``maximise min_i sum_j C[i,j] X[i,j]`` over the allowed cells.

    Constraints: ``X >= 0``; ``sum_j X[i,j] <= 1`` per job; ``sum_i s_i X[i,j] <= cap_j``
    per type. Only allowed cells get a variable (so a job is never given time on a type
    it cannot use); jobs without any allowed cell are left out of the minimum. The last
    variable is the epigraph variable ``t``.

    Returns the program, the flat indices (into an ``n x m`` matrix) of the cell
    variables, and the indices of the jobs that take part in the minimum.
    """
    n, m = coefficients.shape
    cells = np.flatnonzero(allowed.ravel())
    k = cells.size
    rows = cells // m
    cols = cells % m
    members = np.unique(rows)
    p = members.size
    # Map each member job to its position among the members.
    member_pos = np.full(n, -1, dtype=np.int64)
    member_pos[members] = np.arange(p)

    c = np.zeros(k + 1)
    c[k] = -1.0
    var = np.arange(k)
    # (1) t - sum_j C_ij x_ij <= 0 for each member job.
    r1 = np.concatenate([member_pos[rows], np.arange(p)])
    c1 = np.concatenate([var, np.full(p, k)])
    v1 = np.concatenate([-coefficients.ravel()[cells], np.ones(p)])
    # (2) per type: sum_i s_i x_ij <= cap_j
    r2 = p + cols
    v2 = scale_factors[rows].astype(float)
    # (3) per member job: sum_j x_ij <= 1
    r3 = p + m + member_pos[rows]
    # (4) -x <= 0
    r4 = p + m + p + var
    data = np.concatenate([v1, v2, np.ones(k), -np.ones(k)])
    ri = np.concatenate([r1, r2, r3, r4])
    ci = np.concatenate([c1, var, var, var])
    G = sp.csc_matrix((data, (ri, ci)), shape=(2 * p + m + k, k + 1))
    h = np.concatenate([np.zeros(p), capacities.astype(float), np.ones(p), np.zeros(k)])
    return LinearProgram(c, G, h), cells, members


def scatter(x: np.ndarray, cells: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Puts the cell variables of a solution back into an ``n x m`` matrix, clipped to [0, 1]."""
    out = np.zeros(shape[0] * shape[1])
    out[cells] = x[: cells.size]
    return np.clip(out, 0.0, 1.0).reshape(shape)
