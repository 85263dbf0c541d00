"""What every policy shares: its context, the cells it may use, fair shares, solving with
a tie-break, and the last resort when every solver fails."""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.sparse.linalg import lsmr

from scheduler import conic, programs, reference_forms
from scheduler.classes import JobClasses
from scheduler.problem import Allocation, AllocationProblem

# Relative slack when a level found by one solve becomes a constraint of the next, so a
# solver's own tolerance cannot make the second problem infeasible.
LEVEL_SLACK = 1e-6
# The same for an aggregate level (total throughput): tighter, because the slab it leaves
# around a face of the polytope can be a thin sliver far from that face.
TOTAL_SLACK = 1e-8


FTF_BASELINES = ("share", "las")
"""The values of ``PolicyContext.ftf_isolated`` (see :mod:`scheduler.policies.finish_time`)."""
FTF_DEFAULT = FTF_BASELINES[0]


# With the tie-break, max-min programs with jobs alike are posed over job classes (see
# :mod:`scheduler.classes`). A program of at least this many jobs that classes make at
# least CLASS_SHRINK times smaller is "large": both its programs go per class, and its
# tie-break to Clarabel first from CLASS_CLARABEL_FIRST_VARS class variables. A smaller
# one goes per class only where that gives the job-by-job answer (small_by_class: to
# 1e-10, a third less ECOS time on the reference point, whose events stay
# byte-identical), with Clarabel first exactly where job by job had it.
CLASS_MIN_JOBS = 512
CLASS_SHRINK = 4


@dataclass(frozen=True)
class PolicyContext:
    """What a policy may use besides the problem.

    ``quirks``: reproduce the reference's behaviour, defects included (time allocated
    where a job's throughput is 0, agnostic policies that assume V100 throughput
    everywhere, the agnostic FIFO type choice, no tie-break). ``tie_break``: pick the
    solver-independent minimum-norm point of a max-min optimum (ignored with quirks).
    ``ftf_isolated``: the finish-time-fairness baseline, ``share`` or ``las`` (see
    :mod:`scheduler.policies.finish_time`). ``job_classes``: pose a tie-broken max-min
    program of at least ``class_min_jobs`` jobs over classes of interchangeable jobs
    (the same allocation, faster; off: always job by job). POP lowers
    ``class_min_jobs`` for its parts, so that they take classes when the whole problem
    would.
    """

    rng: random.Random
    solvers: tuple[str, ...] = conic.DEFAULT_CHAIN
    quirks: bool = False
    tie_break: bool = True
    ftf_isolated: str = FTF_DEFAULT
    job_classes: bool = True
    class_min_jobs: int = CLASS_MIN_JOBS

    @property
    def tie_breaking(self) -> bool:
        return self.tie_break and not self.quirks


def allowed_cells(problem: AllocationProblem, ctx: PolicyContext) -> np.ndarray:
    """Where a job may be given time: runnable cells, or (quirks) every cell of a type
    with room for the job, as the reference does."""
    if ctx.quirks:
        fits = problem.scale_factors[:, None] <= problem.capacities[None, :]
        return np.broadcast_to(fits, problem.throughputs.shape).copy()
    return problem.runnable


def proportional_throughputs(problem: AllocationProblem) -> np.ndarray:
    """Each job's throughput under an equal split of every type: ``sum_j T[i,j] n_j / N``
    (the reference's "proportional" share)."""
    total = problem.capacities.sum()
    if total <= 0:
        return np.zeros(problem.num_jobs)
    out: np.ndarray = (problem.throughputs * problem.capacities[None, :]).sum(axis=1) / total
    return out


def isolated_throughputs(throughputs: np.ndarray, problem: AllocationProblem) -> np.ndarray:
    """The reference's "isolated" throughput (its current code): an equal share of every
    type for each job, ``(n_j / m) / s_i``, each row scaled into ``sum <= 1``; that is
    ``sum_j T[i,j] n_j / max(N, m s_i)`` (see :mod:`scheduler.reference_forms`)."""
    return reference_forms.isolated_throughputs(
        throughputs, problem.scale_factors, problem.capacities
    )


def agnostic_throughputs(problem: AllocationProblem, ctx: PolicyContext) -> np.ndarray:
    """What a heterogeneity-agnostic policy believes: every type as fast as the
    reference type (the reference's V100). Without quirks, only where the job can run."""
    ref = problem.throughputs[:, [problem.reference_type]]
    believed = np.broadcast_to(ref, problem.throughputs.shape).copy()
    if not ctx.quirks:
        believed[~problem.runnable] = 0.0
    return believed


def last_resort(problem: AllocationProblem) -> np.ndarray:
    """A feasible allocation that needs no solver: the previous one where it still fits,
    else the isolated one (an equal split of every runnable type, within capacity).

    Used when every solver of the chain failed, so that a run never stops on a solver.
    """
    allowed = problem.runnable
    prev = np.where(allowed, problem.previous, 0.0)
    if prev.any():
        return fit_to_capacity(prev, problem)
    if problem.num_jobs == 0:
        return np.zeros_like(problem.throughputs)
    share = allowed * problem.capacities[None, :]
    totals = share.sum(axis=1, keepdims=True)
    share = np.divide(share, totals, out=np.zeros_like(share), where=totals > 0)
    return fit_to_capacity(share, problem)


def fit_to_capacity(x: np.ndarray, problem: AllocationProblem) -> np.ndarray:
    """Scales rows to sum to at most 1 and each type's column into its capacity."""
    rows = x.sum(axis=1, keepdims=True)
    x = np.divide(x, np.maximum(rows, 1.0))
    used = (problem.scale_factors[:, None] * x).sum(axis=0)
    scale = np.divide(
        problem.capacities, used, out=np.ones_like(used), where=used > problem.capacities
    )
    out: np.ndarray = x * np.minimum(scale, 1.0)[None, :]
    return out


def max_min_levels(
    coefficients: np.ndarray,
    allowed: np.ndarray,
    problem: AllocationProblem,
    ctx: PolicyContext,
    solves: list[conic.Solution],
    floors: np.ndarray | None = None,
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray] | None:
    """Solves the max-min program; returns (x, t, free jobs, their duals), or None when
    every solver failed. A positive dual marks a bottleneck job (its level cannot rise).

    With quirks, cells of zero coefficient stay in the program, as in the reference's
    dense ``X``: they earn nothing but take capacity where the solver puts time."""
    if not ctx.quirks:
        allowed = allowed & (coefficients > 0)
    if not allowed.any():
        return np.zeros(coefficients.shape), 0.0, np.zeros(0, dtype=np.int64), np.zeros(0)
    program, cells, free = programs.max_min(
        coefficients, allowed, problem.scale_factors, problem.capacities, floors
    )
    sol = conic.solve(program, ctx.solvers)
    solves.append(sol)
    if sol.x is None:
        return None
    t = float(sol.x[-1])
    duals = sol.duals[: free.size] if sol.duals is not None else np.zeros(free.size)
    return cells.scatter(sol.x), t, free, duals


def tie_break(
    coefficients: np.ndarray,
    allowed: np.ndarray,
    levels: np.ndarray,
    problem: AllocationProblem,
    ctx: PolicyContext,
    solves: list[conic.Solution],
    total: float | None = None,
) -> np.ndarray | None:
    """The minimum-norm allocation that gives every job at least its level (and the
    jobs together at least ``total``): the same point whatever the solver. None when
    every solver failed."""
    if not ctx.quirks:
        allowed = allowed & (coefficients > 0)
    if not allowed.any():
        return np.zeros(coefficients.shape)
    program, cells = programs.min_norm(
        coefficients,
        allowed,
        problem.scale_factors,
        problem.capacities,
        tie_floors(levels),
        None if total is None else float(quantize_down(np.array([total * (1.0 - TOTAL_SLACK)]))[0]),
    )
    x = solve_min_norm(program, ctx, solves)
    return None if x is None else cells.scatter(x)


def tie_floors(levels: np.ndarray) -> np.ndarray:
    """Levels found by one solve as floors of the next: a little below, and quantised so
    that every solver poses the same second problem."""
    return quantize_down(np.nan_to_num(levels) * (1.0 - LEVEL_SLACK))


# Minimum-norm programs of more than this many variables go to Clarabel first when the
# chain has it. ECOS takes a quadratic objective in second-order-cone form, and there it
# needs 1.5x (500 variables) to 5x (6,000) Clarabel's time: its tight first try tends to
# stop short, and it solves again. The polish below makes the answer the same whichever
# solver found the active set (checked at 16-2,048 jobs); below this size ECOS is as
# fast, and the chain's own order stands.
CLARABEL_FIRST_VARS = 512
# The same for a tie-break posed over job classes (a new path, with no earlier answers to
# keep): there Clarabel is already about 20% faster at 250 variables (83 classes of the
# reference's multi-GPU templates: 8.0 against 9.8 ms a whole allocation at 2,048 jobs)
# and as fast at 21 (7 agnostic classes, where ECOS stays first).
CLASS_CLARABEL_FIRST_VARS = 128


def min_norm_chain(
    program: conic.ConeProgram, chain: tuple[str, ...], clarabel_from: int = CLARABEL_FIRST_VARS
) -> tuple[str, ...]:
    """The solver chain for a minimum-norm program: Clarabel moved to the front for one
    of more than ``clarabel_from`` variables (when it is in the chain), else the chain
    as it is."""
    if program.num_vars > clarabel_from and "clarabel" in chain[1:]:
        return ("clarabel", *(name for name in chain if name != "clarabel"))
    return chain


def solve_min_norm(
    program: conic.ConeProgram,
    ctx: PolicyContext,
    solves: list[conic.Solution],
    clarabel_from: int = CLARABEL_FIRST_VARS,
) -> np.ndarray | None:
    """Solves a minimum-norm program and polishes the answer to its exact minimiser;
    None when every solver failed."""
    sol = conic.solve(program, min_norm_chain(program, ctx.solvers, clarabel_from))
    solves.append(sol)
    return None if sol.x is None else polish_min_norm(program, sol.x)


# Levels handed from one solve to the next are floored to this many significant digits,
# so that solvers whose optima differ in the 8th digit pose the very same next problem.
LEVEL_DIGITS = 6


def quantize_down(values: np.ndarray) -> np.ndarray:
    """Floors positive values to LEVEL_DIGITS significant digits (0 and below stay)."""
    out = np.zeros_like(values, dtype=float)
    pos = values > 0
    if pos.any():
        exponent = np.floor(np.log10(values[pos])) - (LEVEL_DIGITS - 1)
        unit = 10.0**exponent
        out[pos] = np.floor(values[pos] / unit) * unit
    return out


# Active systems up to this many matrix cells are polished densely (SVD), larger ones
# iteratively (LSMR from zero, which also converges to the minimum-norm solution).
DENSE_POLISH_CELLS = 400_000

# A constraint within this (relative) distance of its bound counts as active.
ACTIVE_TOLERANCE = 1e-6


def polish_min_norm(program: conic.ConeProgram, x: np.ndarray) -> np.ndarray:
    """The exact minimum-norm point of the constraints active at a solver's answer.

    Interior-point and first-order solvers end within about 1e-8 of the optimal
    objective, which leaves the minimiser of ``||x||^2`` uncertain to about 1e-4. With
    the active set read off the answer, the minimiser is the minimum-norm solution of
    ``G_A x = h_A``, found to machine precision by LSMR started at zero; it is kept if
    it is feasible and no longer than the solver's point (to 1e-4), so every solver that
    finds the same active set returns the very same allocation.
    """
    slack = program.h - program.G @ x
    active = slack <= ACTIVE_TOLERANCE * (1.0 + np.abs(program.h))
    if not active.any():
        return np.zeros_like(x)
    # Variables at their zero bound stay there (their non-negativity is active): solve
    # for the others only, which shrinks the system to the free part of the face.
    free = x > ACTIVE_TOLERANCE
    polished = np.zeros_like(x)
    if free.any():
        G = program.G
        columns = np.flatnonzero(free)
        # The active rows with an entry (explicit zeros count) among the free columns,
        # read off the CSC arrays: each entry's column, then entries per row.
        entry_col = np.repeat(np.arange(G.shape[1]), np.diff(G.indptr))
        in_free = free[entry_col]
        per_row = np.bincount(G.indices[in_free], minlength=G.shape[0])
        act = np.flatnonzero(active)
        rows = act[per_row[act] > 0]
        h_act = program.h[rows]
        if rows.size * columns.size <= DENSE_POLISH_CELLS:
            # gelsy (complete orthogonal factorisation) gives the minimum-norm solution
            # of an underdetermined, possibly rank-deficient system, faster than the SVD.
            # The dense system of those rows and columns, summed as toarray() sums.
            row_pos = np.full(G.shape[0], -1)
            row_pos[rows] = np.arange(rows.size)
            col_pos = np.full(G.shape[1], -1)
            col_pos[columns] = np.arange(columns.size)
            at = row_pos[G.indices]
            sel = in_free & (at >= 0)
            system = np.zeros((rows.size, columns.size))
            np.add.at(system, (at[sel], col_pos[entry_col[sel]]), G.data[sel])
            sub = scipy.linalg.lstsq(system, h_act, lapack_driver="gelsy", check_finite=False)[0]
        else:
            g_free = G[:, columns].tocsr()
            sub = lsmr(g_free[rows], h_act, atol=1e-14, btol=1e-14, maxiter=10_000)[0]
        polished[free] = sub
    feasible = bool((program.G @ polished <= program.h + 1e-8 * (1.0 + np.abs(program.h))).all())
    # A solver's own point may be infeasible by ~1e-8 and so a little shorter; a wrong
    # active set would give a feasible point that is clearly longer.
    if feasible and polished @ polished <= x @ x * (1.0 + 1e-4) + 1e-12:
        out: np.ndarray = polished
        return out
    return x


def solved_or_fallback(
    x: np.ndarray | None, problem: AllocationProblem, solves: list[conic.Solution]
) -> Allocation:
    """The allocation, or the last resort marked failed when a solve had no answer.

    A solver's answer meets the constraints only to its tolerance (relative 1e-8); it is
    scaled onto them exactly, which moves it by about that much.
    """
    if x is None:
        return Allocation(last_resort(problem), tuple(solves), failed=True)
    return Allocation(fit_to_capacity(x, problem), tuple(solves))


def max_min_allocation(
    coefficients: np.ndarray,
    problem: AllocationProblem,
    ctx: PolicyContext,
    class_min_jobs: int | None = None,
) -> Allocation:
    """``max min_i sum_j C[i,j] X[i,j]`` over the allowed cells, then (unless quirks or
    asked not to) the solver-independent minimum-norm point among the optima.

    With the tie-break and job classes on: from ``class_min_jobs`` jobs (default the
    context's), both programs are posed over job classes when there are few enough
    (:func:`max_min_by_class`); a smaller program with jobs alike, unless its rows are
    flat (:func:`_flat_rows`), is posed over classes when that gives the job-by-job
    answer (:func:`small_by_class`), else job by job."""
    solves: list[conic.Solution] = []
    allowed = allowed_cells(problem, ctx)
    least = ctx.class_min_jobs if class_min_jobs is None else class_min_jobs
    if ctx.tie_breaking and ctx.job_classes and problem.num_jobs > 1:
        usable = allowed & (coefficients > 0)
        large = problem.num_jobs >= least
        flat = _flat_rows(coefficients, usable)
        if large or not flat:
            classes = JobClasses.of(coefficients, usable, problem.scale_factors)
            if large and classes.count * CLASS_SHRINK <= problem.num_jobs:
                return max_min_by_class(coefficients, usable, classes, problem, ctx)
            if not flat and classes.count < problem.num_jobs:
                alike = small_by_class(coefficients, usable, classes, problem, ctx)
                if alike is not None:
                    return alike
    found = max_min_levels(coefficients, allowed, problem, ctx, solves)
    if found is None:
        return solved_or_fallback(None, problem, solves)
    x, t, _, _ = found
    if ctx.tie_breaking and t > 0:
        levels = np.full(problem.num_jobs, t)
        return solved_or_fallback(
            tie_break(coefficients, allowed, levels, problem, ctx, solves), problem, solves
        )
    return solved_or_fallback(x, problem, solves)


def max_min_by_class(
    coefficients: np.ndarray,
    usable: np.ndarray,
    classes: JobClasses,
    problem: AllocationProblem,
    ctx: PolicyContext,
) -> Allocation:
    """The tie-broken max-min allocation posed over job classes: the max-min level with
    each class's size as a multiplicity of its GPUs, then the minimum-norm point in
    ``y = sqrt(size) x`` (see :mod:`scheduler.classes`), each job given its class's row.
    ``usable``: the allowed cells of positive coefficient."""
    solves: list[conic.Solution] = []
    if not usable.any():
        return solved_or_fallback(np.zeros(coefficients.shape), problem, solves)
    found = class_level(coefficients, usable, classes, problem, ctx, solves)
    if found is None:
        return solved_or_fallback(None, problem, solves)
    t, point, cells = found
    if t <= 0:
        return solved_or_fallback(classes.expand(cells.scatter(point)), problem, solves)
    x = class_tie_break(coefficients, usable, classes, problem, t, ctx, solves)
    return solved_or_fallback(x, problem, solves)


def class_level(
    coefficients: np.ndarray,
    usable: np.ndarray,
    classes: JobClasses,
    problem: AllocationProblem,
    ctx: PolicyContext,
    solves: list[conic.Solution],
) -> tuple[float, np.ndarray, programs.Cells] | None:
    """The max-min program posed over job classes (each class's size a multiplicity of
    its GPUs): its level, the solver's point and the cells it is over; None when every
    solver failed. ``usable``: the allowed cells of positive coefficient, some."""
    first = classes.first
    gpus = problem.scale_factors[first].astype(float) * classes.sizes
    program, cells, _free = programs.max_min(
        coefficients[first], usable[first], gpus, problem.capacities
    )
    sol = conic.solve(program, ctx.solvers)
    solves.append(sol)
    if sol.x is None:
        return None
    return float(sol.x[-1]), sol.x, cells


def class_tie_break(
    coefficients: np.ndarray,
    usable: np.ndarray,
    classes: JobClasses,
    problem: AllocationProblem,
    level: float,
    ctx: PolicyContext,
    solves: list[conic.Solution],
    clarabel_from: int = CLASS_CLARABEL_FIRST_VARS,
) -> np.ndarray | None:
    """:func:`tie_break` for one common ``level``, posed over job classes: the
    minimum-norm point in ``y = sqrt(size) x``, each job given its class's row; None when
    every solver failed. ``clarabel_from``: Clarabel first above this many class
    variables."""
    first = classes.first
    root = np.sqrt(classes.sizes.astype(float))
    program, cells = programs.min_norm(
        coefficients[first] / root[:, None],
        usable[first],
        problem.scale_factors[first].astype(float) * root,
        problem.capacities,
        tie_floors(np.full(classes.count, level)),
        row_limits=root,
    )
    y = solve_min_norm(program, ctx, solves, clarabel_from)
    return None if y is None else classes.expand(cells.scatter(y, root))


# A level within this (relative) distance of a quantisation step may floor to either
# side, depending on which program found it: such a program is posed job by job.
FLOOR_MARGIN = 1e-7
# A constraint whose slack at the tie-break point lies in this band (relative, as the
# polish's ACTIVE_TOLERANCE) may be read as active from one solver's point and not from
# another's: then the two programs' polishes may pick different faces.
AMBIGUOUS_SLACK = (1e-10, 1e-5)


def small_by_class(
    coefficients: np.ndarray,
    usable: np.ndarray,
    classes: JobClasses,
    problem: AllocationProblem,
    ctx: PolicyContext,
) -> Allocation | None:
    """A max-min program below the large-class regime, with jobs alike, posed over
    classes when that gives the job-by-job answer: the level's floor and the tie-break's
    face are the job-by-job program's unless the level lies within FLOOR_MARGIN of a
    quantisation step or a constraint's slack at the answer is ambiguous
    (AMBIGUOUS_SLACK). None in those cases (and when a solver fails or the level is 0):
    the caller poses it job by job. Clarabel goes first where the job-by-job tie-break,
    a variable per usable cell, would have had it."""
    solves: list[conic.Solution] = []
    found = (
        class_level(coefficients, usable, classes, problem, ctx, solves) if usable.any() else None
    )
    if found is None:
        return None
    t = found[0]
    edges = quantize_down(t * (1.0 - LEVEL_SLACK) * (1.0 + FLOOR_MARGIN * np.array([-1.0, 1.0])))
    if t <= 0 or edges[0] != edges[1]:
        return None
    clarabel_from = -1 if int(usable.sum()) > CLARABEL_FIRST_VARS else sys.maxsize
    x = class_tie_break(coefficients, usable, classes, problem, t, ctx, solves, clarabel_from)
    if x is None or _ambiguous_face(
        x, coefficients, usable, problem, float(tie_floors(np.array([t]))[0])
    ):
        return None
    return solved_or_fallback(x, problem, solves)


def _flat_rows(coefficients: np.ndarray, usable: np.ndarray) -> bool:
    """Whether every job's coefficient is the same on all its usable cells (as with an
    agnostic policy's believed throughputs): then the max-min level is a ratio of GPU
    counts, which often lies exactly on a quantisation step (108 GPUs over 256 asked for:
    0.421875), where :func:`small_by_class` would give the program back anyway."""
    high = np.where(usable, coefficients, -np.inf).max(axis=1)
    low = np.where(usable, coefficients, np.inf).min(axis=1)
    some = usable.any(axis=1)
    return bool((high[some] == low[some]).all())


def _ambiguous_face(
    x: np.ndarray,
    coefficients: np.ndarray,
    usable: np.ndarray,
    problem: AllocationProblem,
    floor: float,
) -> bool:
    """Whether a constraint of the job-by-job tie-break (level, row sum, capacity, a
    cell's non-negativity) has a slack at ``x`` in the AMBIGUOUS_SLACK band."""
    low, high = AMBIGUOUS_SLACK
    member = usable.any(axis=1)
    slacks = (
        (((coefficients * x).sum(axis=1) - floor)[member], 1.0 + abs(floor)),
        ((1.0 - x.sum(axis=1))[member], 2.0),
        (
            problem.capacities - (problem.scale_factors[:, None] * x).sum(axis=0),
            1.0 + problem.capacities,
        ),
        (x[usable], 1.0),
    )
    return any(bool(((s > low * scale) & (s <= high * scale)).any()) for s, scale in slacks)
