"""Space sharing: max-min fairness over jobs running alone or in pairs on the same GPUs.

A pair of jobs with the same GPU count can share GPUs; each then runs at its measured
co-located throughput (the reference's pair throughputs). Over all job pairs the LP
grows with the square of the jobs, so it is built over job *types* instead: jobs of a
type (same model, GPU count and weight) are interchangeable, and the max-min optimum is
reached with every job of a type getting the same allocation. Variables:

- ``a[A, j]``: time each type-A job runs alone on GPU type ``j``;
- ``w[{A,B}, j]``: time GPU type ``j`` runs A-with-B pairs, counted once per pair.

A type-A job spends ``w / count_A`` of its time with a B job (``2 w / count_A`` when B is
A itself); a pair occupies ``s`` GPUs. The per-job pair allocation follows: each of the
``count_A x count_B`` A-B job pairs gets ``w / (count_A count_B)`` (A-A pairs:
``2 w / (count_A (count_A - 1))``). The size is O(types^2), whatever the number of jobs.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from scheduler import conic, programs
from scheduler.blocks import Block, stack
from scheduler.policies.base import (
    PolicyContext,
    proportional_throughputs,
    solve_min_norm,
    tie_floors,
)
from scheduler.policies.fairness import max_min_fairness_perf
from scheduler.problem import Allocation, AllocationProblem

# Pair allocations below this are dropped (noise from the solver, not a decision).
MIN_PAIR_TIME = 1e-7


def max_min_fairness_packed(problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
    """LAS, heterogeneity-aware, with space sharing."""
    n, m = problem.throughputs.shape
    if n == 0:
        return Allocation(np.zeros((n, m)))
    data = problem.pair_data()
    if data is None:
        return max_min_fairness_perf(problem, ctx)
    types, pr = data[0].astype(np.int64), data[1]
    a = int(types.max()) + 1
    counts = np.bincount(types, minlength=a)
    rep = np.array([int(np.flatnonzero(types == t)[0]) if counts[t] else 0 for t in range(a)])
    rates = problem.throughputs[rep]  # a x m
    scale = problem.scale_factors[rep].astype(float)
    share = proportional_throughputs(problem)[rep]
    coef = np.divide(scale / problem.weights[rep], share, out=np.zeros(a), where=share > 0)
    fits = scale[:, None] <= problem.capacities[None, :]

    # Variables: alone cells (type-major), then pair cells (by type pair, then GPU type).
    present = counts > 0
    at, aj = np.nonzero(present[:, None] & (rates > 0) & fits)
    tt, uu = np.triu_indices(a)
    same_size = present[tt] & present[uu] & (scale[tt] == scale[uu])
    keep = same_size & ((tt != uu) | (counts[tt] >= 2))
    tt, uu = tt[keep], uu[keep]
    pays = fits[tt] & (pr[tt, uu, :, 0] > 0) & (pr[tt, uu, :, 1] > 0)
    pi, pj = np.nonzero(pays)
    pt, pu = tt[pi], uu[pi]
    n_alone = at.size
    v = n_alone + pt.size
    if v == 0:
        return Allocation(np.zeros((n, m)))
    pcols = n_alone + np.arange(pt.size)
    first = pr[pt, pu, pj, 0]
    second = pr[pt, pu, pj, 1]
    self_pair = pt == pu
    # a type-A job's share of a pair cell: 2/count_A with its own type, 1/count_A otherwise
    share_t = np.where(self_pair, 2.0, 1.0) / counts[pt]
    other = ~self_pair
    share_u = 1.0 / counts[pu[other]]
    lv_rows = np.concatenate([at, pt, pu[other]])
    cols = np.concatenate([np.arange(n_alone), pcols, pcols[other]])
    lv_vals = np.concatenate(
        [
            coef[at] * rates[at, aj],
            # the same operations, in the same order, as the per-cell formula
            np.where(self_pair, coef[pt] * first * share_t, coef[pt] * first / counts[pt]),
            coef[pu[other]] * second[other] / counts[pu[other]],
        ]
    )
    rs_vals = np.concatenate([np.ones(n_alone), share_t, share_u])
    players = np.unique(lv_rows)
    row_of = np.full(a, -1)
    row_of[players] = np.arange(players.size)
    shape = (players.size, v)
    # (No two entries of a block share a position, so these are the matrices as built.)
    player_rows = row_of[lv_rows]
    levels = Block(player_rows, cols, lv_vals, shape)
    row_sums = Block(player_rows, cols, rs_vals, shape)
    capacity = Block(
        np.concatenate([aj, pj]),
        np.arange(v),
        np.concatenate([counts[at] * scale[at], scale[pt]]).astype(float),
        (m, v),
    )
    bounds = stack([row_sums, capacity])
    limits = np.concatenate([np.ones(players.size), problem.capacities.astype(float)])
    solves: list[conic.Solution] = []
    sol = conic.solve(programs.max_min_forms(levels, bounds, limits), ctx.solvers)
    solves.append(sol)
    if sol.x is None:
        return Allocation(np.zeros((n, m)), tuple(solves), failed=True)
    x = sol.x[:v]
    if ctx.tie_breaking and sol.x[-1] > 0:
        floors = tie_floors(np.full(players.size, sol.x[-1]))
        program = programs.min_norm_forms(levels, floors, bounds, limits)
        tied = solve_min_norm(program, ctx, solves)
        if tied is None:
            return Allocation(np.zeros((n, m)), tuple(solves), failed=True)
        x = tied
    x = np.clip(x, 0.0, None)
    return _per_job(x, (at, aj), (pt, pu, pj), types, counts, m, tuple(solves))


@lru_cache(maxsize=1024)
def _pairs_of(count: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.triu_indices(count, k=1)``: every two of ``count`` jobs, row-major (a type
    has the same few counts solve after solve; read-only)."""
    i, k = np.triu_indices(count, k=1)
    i.flags.writeable = False
    k.flags.writeable = False
    return i, k


def _per_job(
    x: np.ndarray,
    alone: tuple[np.ndarray, np.ndarray],
    pair_cells: tuple[np.ndarray, np.ndarray, np.ndarray],
    types: np.ndarray,
    counts: np.ndarray,
    m: int,
    solves: tuple[conic.Solution, ...],
) -> Allocation:
    """Spreads the per-type solution over the jobs and their concrete pairs.

    Each pair of job types (t, u) with time on some GPU type gets a row ``w`` of that
    time (per GPU type), shared evenly by its concrete pairs: with t = u every two jobs
    of t (``2 w / (c_t (c_t - 1))`` each, in ``np.triu_indices`` order), otherwise every
    (t-job, u-job) in row-major order (``w / (c_t c_u)`` each), each pair's rows
    ascending. Type pairs in the order of the solution's cells, all at once: a
    pair-cell's time is the only one of its (t, u, GPU type), and a type pair's cells
    are consecutive."""
    at, aj = alone
    per_type = np.zeros((counts.size, m))
    per_type[at, aj] = x[: at.size]
    singles = per_type[types]
    pt, pu, pj = pair_cells
    w = x[at.size :]
    timed = w > MIN_PAIR_TIME
    if not timed.any():
        return Allocation(
            singles, solves, pairs=np.zeros((0, 2), dtype=np.int64), pair_matrix=np.zeros((0, m))
        )
    # One group per type pair with time, in the order its first cell comes.
    key = pt[timed] * counts.size + pu[timed]
    starts = np.ones(key.size, dtype=bool)
    starts[1:] = key[1:] != key[:-1]
    group = np.cumsum(starts) - 1
    times = np.zeros((int(group[-1]) + 1, m))
    times[group, pj[timed]] = w[timed]
    gt, gu = pt[timed][starts], pu[timed][starts]
    ct, cu = counts[gt], counts[gu]
    same = gt == gu
    each = np.where(
        same[:, None],
        2.0 * times / np.where(same, ct * (ct - 1), 1)[:, None],
        times / (ct * cu)[:, None],
    )
    sizes = np.where(same, ct * (ct - 1) // 2, ct * cu)
    # Each type's jobs (rows), ascending, one type after another.
    by_type = np.argsort(types, kind="stable")
    type_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    total = int(sizes.sum())
    group_start = np.cumsum(sizes) - sizes
    of = np.repeat(np.arange(sizes.size), sizes)
    p = np.arange(total) - group_start[of]
    width = np.where(same, 1, cu)[of]
    li, lk = p // width, p % width  # (t-job, u-job) positions of a cross pair
    for g in np.flatnonzero(same).tolist():
        i, k = _pairs_of(int(ct[g]))
        span = slice(int(group_start[g]), int(group_start[g] + sizes[g]))
        li[span], lk[span] = i, k
    first = by_type[type_start[gt][of] + li]
    second = by_type[type_start[gu][of] + lk]
    pairs = np.column_stack([np.minimum(first, second), np.maximum(first, second)])
    pair_matrix = np.repeat(each, sizes, axis=0)
    return Allocation(singles, solves, pairs=pairs, pair_matrix=pair_matrix)
