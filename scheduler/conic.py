"""Conic programs (LPs, QPs, second-order cones) and the solver chain that solves them.

A :class:`ConeProgram` is ``minimise c @ x (+ x P x / 2)`` subject to ``A @ x = b``
(optional) and
``h - G @ x`` in a product of cones: first ``l`` non-negative rows, then one
second-order cone per entry of ``q`` (each of that many rows; ``(t, u)`` in the cone
means ``||u|| <= t``). The form is ECOS's, SCS's and Clarabel's alike, so each gets the
very same rows.

:func:`solve` hands a program to each solver of a chain in turn and returns the first
optimal answer with every attempt, so callers count fallbacks and failures. Nothing here
raises on a solver's failure: a failed chain is a :class:`Solution` whose ``x`` is None.

Solvers: ``ecos`` and ``clarabel`` (interior point: the analytic centre of the optimal
face), ``scs`` (first-order, tolerances tightened for use as a fallback), ``highs``
(HiGHS dual simplex through scipy, LPs only: a vertex of the optimal face).

Pure: no SimPy, no logging, no global state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import clarabel
import ecos
import numpy as np
import scipy.sparse as sp
import scs

from scheduler.blocks import Block, stack

OPTIMAL = "optimal"
INACCURATE = "optimal_inaccurate"
INFEASIBLE = "infeasible"
FAILED = "failed"
UNSUPPORTED = "unsupported"

DEFAULT_CHAIN: tuple[str, ...] = ("ecos", "scs", "clarabel")


@dataclass(frozen=True)
class ConeProgram:
    """``min c @ x`` s.t. ``A x = b`` and ``h - G x`` in ``R+^l x Q^q[0] x Q^q[1] ...``."""

    c: np.ndarray
    G: sp.csc_matrix
    h: np.ndarray
    l: int  # noqa: E741 (the conventional name of the non-negative cone's size)
    q: tuple[int, ...] = ()
    A: sp.csc_matrix | None = None
    b: np.ndarray | None = None
    # Diagonal of a positive semi-definite quadratic objective x P x / 2, if any.
    P_diag: np.ndarray | None = None

    def __post_init__(self) -> None:
        rows = self.l + sum(self.q)
        if self.G.shape != (rows, self.c.shape[0]) or self.h.shape != (rows,):
            raise ValueError(f"cone sizes ({rows} rows) do not match G {self.G.shape}")

    @property
    def num_vars(self) -> int:
        return int(self.c.shape[0])

    @property
    def is_lp(self) -> bool:
        return not self.q and self.P_diag is None

    def as_conic(self) -> ConeProgram:
        """The same problem without the quadratic objective, for solvers that take only
        cones: ``x P x / 2 <= r`` as a rotated second-order cone, ``r`` a new last
        variable. The first ``num_vars`` entries of its solution are this one's."""
        if self.P_diag is None:
            return self
        n = self.num_vars
        if not self.c.any() and np.all(self.P_diag == 1.0):
            return self._norm_epigraph()
        d = np.sqrt(np.maximum(self.P_diag, 0.0))
        # ||(sqrt(d) x, (r - 1)/sqrt2)|| <= (r + 1)/sqrt2, as h - G z in Q^{n+2}.
        inv = 1.0 / np.sqrt(2.0)
        rows = np.concatenate([[0, 1], 2 + np.arange(n)])
        cols = np.concatenate([[n, n], np.arange(n)])
        vals = np.concatenate([[-inv, -inv], -d])
        cone = Block(rows, cols, vals, (n + 2, n + 1))
        h_cone = np.zeros(n + 2)
        h_cone[0], h_cone[1] = inv, -inv
        G = stack([Block.of(self.G).widen(n + 1), cone])
        c = np.concatenate([self.c, [1.0]])
        A = None if self.A is None else sp.hstack([self.A, sp.csc_matrix((self.A.shape[0], 1))])
        return ConeProgram(
            c,
            G.tocsc(),
            np.concatenate([self.h, h_cone]),
            self.l,
            (*self.q, n + 2),
            None if A is None else A.tocsc(),
            self.b,
        )

    def _norm_epigraph(self) -> ConeProgram:
        """``min ||x||`` (same minimiser as ``min ||x||^2 / 2``) as ``min s, ||x|| <= s``:
        better conditioned for interior-point solvers than the rotated cone."""
        n = self.num_vars
        G = _with_norm_cone(self.G)
        c = np.zeros(n + 1)
        c[n] = 1.0
        A = None if self.A is None else sp.hstack([self.A, sp.csc_matrix((self.A.shape[0], 1))])
        return ConeProgram(
            c,
            G,
            np.concatenate([self.h, np.zeros(n + 1)]),
            self.l,
            (*self.q, n + 1),
            None if A is None else A.tocsc(),
            self.b,
        )

    def quadratic(self) -> sp.csc_matrix:
        n = self.num_vars
        if self.P_diag is None:
            return sp.csc_matrix((n, n))
        return sp.diags(self.P_diag).tocsc()


def _with_norm_cone(G: sp.csc_matrix) -> sp.csc_matrix:
    """``G`` (``r x n``) with a column for ``s`` and the cone ``||x|| <= s`` below it:
    ``-1`` at ``(r, n)`` and at ``(r + 1 + j, j)``, in canonical CSC form.

    With ``G``'s indices sorted in each column the new rows, below all of ``G``'s, end
    each column, so the arrays are ``G``'s with one entry put at the end of every
    column: the very arrays stacking the blocks and compressing them gives (and so
    the very program a solver sees), without the sort."""
    r, n = G.shape
    if not G.has_sorted_indices:
        cone = Block(
            np.arange(n + 1), np.concatenate([[n], np.arange(n)]), -np.ones(n + 1), (n + 1, n + 1)
        )
        return stack([Block.of(G).widen(n + 1), cone]).tocsc()
    nnz = G.indptr[n] + n + 1
    idx = np.int32 if max(r + n + 1, n + 1, nnz) < np.iinfo(np.int32).max else np.int64
    indptr = np.empty(n + 2, dtype=idx)
    indptr[0] = 0
    indptr[1 : n + 1] = G.indptr[1:] + np.arange(1, n + 1)
    indptr[n + 1] = nnz
    # Each of G's entries moves down by the cone entries of the columns before it.
    moved = np.arange(G.indptr[n]) + np.repeat(np.arange(n), np.diff(G.indptr))
    ends = np.append(indptr[1 : n + 1] - 1, nnz - 1)  # where each column's cone entry goes
    data = np.empty(nnz)
    data[moved] = G.data
    data[ends] = -1.0
    indices = np.empty(nnz, dtype=idx)
    indices[moved] = G.indices
    indices[ends[:n]] = np.arange(r + 1, r + 1 + n)
    indices[nnz - 1] = r
    out = sp.csc_matrix((data, indices, indptr), shape=(r + n + 1, n + 1), copy=False)
    out.has_sorted_indices = True
    return out


@dataclass(frozen=True)
class SolveAttempt:
    """One solver's try at a problem: its name, the status it ended with, its wall time."""

    solver: str
    status: str
    seconds: float
    detail: str = ""


@dataclass(frozen=True)
class Solution:
    """The outcome of a solver chain: the accepted point and its inequality duals (or
    None), and every attempt made."""

    x: np.ndarray | None
    attempts: tuple[SolveAttempt, ...]
    duals: np.ndarray | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return self.x is not None

    @property
    def solver(self) -> str | None:
        """The solver whose answer was accepted, if any."""
        return self.attempts[-1].solver if self.x is not None else None

    @property
    def fallbacks(self) -> int:
        """How many times the chain moved on to its next solver."""
        return len(self.attempts) - 1

    @property
    def seconds(self) -> float:
        return sum(a.seconds for a in self.attempts)


Outcome = tuple[str, np.ndarray | None, np.ndarray | None, str]
SolverFn = Callable[[ConeProgram], Outcome]


def _solve_ecos(program: ConeProgram) -> Outcome:
    p = program.as_conic()
    dims = {"l": p.l, "q": list(p.q), "e": 0}
    kwargs: dict[str, object] = {}
    if p.A is not None and p.b is not None:
        kwargs = {"A": p.A, "b": p.b}
    sol = None
    if program.P_diag is not None:
        # A tie-break's minimiser is pinned only to about the square root of the gap:
        # ask for more, and settle for the default accuracy if that cannot be reached.
        tight = {"feastol": 1e-10, "abstol": 1e-10, "reltol": 1e-10}
        sol = ecos.solve(p.c, p.G, p.h, dims, verbose=False, max_iters=200, **kwargs, **tight)
        if int(sol["info"]["exitFlag"]) != 0:
            sol = None
    if sol is None:
        sol = ecos.solve(p.c, p.G, p.h, dims, verbose=False, max_iters=200, **kwargs)
    flag = int(sol["info"]["exitFlag"])
    if flag == 0:
        x = np.asarray(sol["x"], float)[: program.num_vars]
        return OPTIMAL, x, np.asarray(sol["z"], float)[: program.G.shape[0]], ""
    if flag in (1, 2):
        return INFEASIBLE, None, None, f"exitFlag {flag}"
    if flag in (10, 11, 12):
        return INACCURATE, None, None, f"exitFlag {flag}"
    return FAILED, None, None, f"exitFlag {flag}"


def _solve_ecos_reference(program: ConeProgram) -> Outcome:
    """ECOS as the reference calls it through cvxpy: default settings, and an
    ``optimal_inaccurate`` answer (exitFlag 10) taken as it is, with its status."""
    dims = {"l": program.l, "q": list(program.q), "e": 0}
    kwargs: dict[str, object] = {}
    if program.A is not None and program.b is not None:
        kwargs = {"A": program.A, "b": program.b}
    sol = ecos.solve(program.c, program.G, program.h, dims, verbose=False, **kwargs)
    flag = int(sol["info"]["exitFlag"])
    if flag in (0, 10):
        x = np.asarray(sol["x"], float)
        status = OPTIMAL if flag == 0 else INACCURATE
        return status, x, np.asarray(sol["z"], float), "" if flag == 0 else f"exitFlag {flag}"
    if flag in (1, 2):
        return INFEASIBLE, None, None, f"exitFlag {flag}"
    return FAILED, None, None, f"exitFlag {flag}"


def _stack_eq(p: ConeProgram) -> tuple[sp.csc_matrix, np.ndarray, int]:
    if p.A is None or p.b is None:
        return p.G, p.h, 0
    return sp.vstack([p.A, p.G]).tocsc(), np.concatenate([p.b, p.h]), int(p.A.shape[0])


def _solve_scs(p: ConeProgram) -> Outcome:
    a, b, zero = _stack_eq(p)
    cone: dict[str, object] = {"z": zero, "l": p.l, "q": list(p.q)}
    data = {"A": a, "b": b, "c": p.c}
    if p.P_diag is not None:
        data["P"] = p.quadratic()
    solver = scs.SCS(
        data,
        cone,
        eps_abs=1e-8,
        eps_rel=1e-8,
        max_iters=200_000,
        # Anderson acceleration stalls on nearly degenerate problems (a level pinned
        # within 1e-6 of its maximum); plain iterations converge there in a few hundred.
        acceleration_lookback=0,
        verbose=False,
    )
    sol = solver.solve()
    val = int(sol["info"]["status_val"])
    status = str(sol["info"]["status"])
    if val == 1:
        return OPTIMAL, np.asarray(sol["x"], float), np.asarray(sol["y"], float)[zero:], ""
    if val in (-1, -2, -6, -7):
        return INFEASIBLE, None, None, status
    if val == 2:
        return INACCURATE, None, None, status
    return FAILED, None, None, status


def _solve_clarabel(p: ConeProgram) -> Outcome:
    a, b, zero = _stack_eq(p)
    cones: list[object] = []
    if zero:
        cones.append(clarabel.ZeroConeT(zero))
    if p.l:
        cones.append(clarabel.NonnegativeConeT(p.l))
    cones.extend(clarabel.SecondOrderConeT(k) for k in p.q)
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.max_iter = 200
    solver = clarabel.DefaultSolver(sp.triu(p.quadratic()).tocsc(), p.c, a, b, cones, settings)
    sol = solver.solve()
    status = str(sol.status)
    if sol.status == clarabel.SolverStatus.Solved:
        return OPTIMAL, np.asarray(sol.x, float), np.asarray(sol.z, float)[zero:], ""
    if sol.status in (
        clarabel.SolverStatus.PrimalInfeasible,
        clarabel.SolverStatus.DualInfeasible,
    ):
        return INFEASIBLE, None, None, status
    if sol.status == clarabel.SolverStatus.AlmostSolved:
        return INACCURATE, None, None, status
    return FAILED, None, None, status


def _solve_highs(p: ConeProgram) -> Outcome:
    if not p.is_lp:
        return UNSUPPORTED, None, None, "HiGHS takes linear programs only"
    from scipy.optimize import linprog  # half a second to import; HiGHS is rarely chained

    kwargs = {}
    if p.A is not None and p.b is not None:
        kwargs = {"A_eq": p.A, "b_eq": p.b}
    res = linprog(p.c, A_ub=p.G, b_ub=p.h, bounds=(None, None), method="highs-ds", **kwargs)
    if res.status == 0:
        return OPTIMAL, np.asarray(res.x, float), -np.asarray(res.ineqlin.marginals, float), ""
    if res.status == 2:
        return INFEASIBLE, None, None, str(res.message)
    return FAILED, None, None, str(res.message)


# Solvers that take linear programs only; skipped for anything else.
LP_ONLY = frozenset({"highs"})

SOLVERS: dict[str, SolverFn] = {
    "ecos": _solve_ecos,
    "scs": _solve_scs,
    "clarabel": _solve_clarabel,
    "highs": _solve_highs,
}


def solve(
    program: ConeProgram, chain: Sequence[str] = DEFAULT_CHAIN, *, reference: bool = False
) -> Solution:
    """Solves ``program`` with each solver of ``chain`` in turn until one is optimal.

    A solver that raises, reports infeasibility, stops early, reaches only reduced
    accuracy or cannot take the problem counts as a failed attempt and the next one is
    tried. Unknown solver names raise ``KeyError`` (configuration is validated first).

    ``reference``: call ECOS as the reference does through cvxpy (its default settings,
    an inaccurate answer accepted); the program must then be a linear or conic one
    (no quadratic objective). The other solvers of the chain are unchanged: where the
    reference crashed on a failed ECOS, hetsim hands over.
    """
    attempts: list[SolveAttempt] = []
    for name in chain:
        if name in LP_ONLY and not program.is_lp:
            continue  # not a failure: this solver does not take this kind of problem
        fn = _solve_ecos_reference if reference and name == "ecos" else SOLVERS[name]
        start = time.perf_counter()
        try:
            status, x, duals, detail = fn(program)
        except Exception as exc:  # a solver's crash is an outcome, never the run's end
            status, x, duals, detail = FAILED, None, None, f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - start
        if x is not None and not np.all(np.isfinite(x)):
            status, x, duals, detail = FAILED, None, None, "non-finite solution"
        attempts.append(SolveAttempt(name, status, seconds, detail))
        if x is not None:
            return Solution(x, tuple(attempts), duals)
    if not attempts:
        attempts.append(
            SolveAttempt(chain[-1], UNSUPPORTED, 0.0, "no solver of the chain takes it")
        )
    return Solution(None, tuple(attempts))


def validate_chain(chain: Sequence[str]) -> tuple[str, ...]:
    """Returns the chain as a tuple, or raises ValueError naming an unknown solver."""
    out = tuple(s.strip().lower() for s in chain)
    if not out:
        raise ValueError("the solver chain is empty")
    for name in out:
        if name not in SOLVERS:
            raise ValueError(f"unknown solver '{name}' (known: {', '.join(sorted(SOLVERS))})")
    return out
