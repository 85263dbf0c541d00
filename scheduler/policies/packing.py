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

import numpy as np
import scipy.sparse as sp

from scheduler import conic, programs
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
    levels = sp.csr_matrix((lv_vals, (row_of[lv_rows], cols)), shape=shape)
    row_sums = sp.csr_matrix((rs_vals, (row_of[lv_rows], cols)), shape=shape)
    capacity = sp.csr_matrix(
        (
            np.concatenate([counts[at] * scale[at], scale[pt]]),
            (np.concatenate([aj, pj]), np.arange(v)),
        ),
        shape=(m, v),
    )
    bounds = sp.vstack([row_sums, capacity]).tocsr()
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


def _per_job(
    x: np.ndarray,
    alone: tuple[np.ndarray, np.ndarray],
    pair_cells: tuple[np.ndarray, np.ndarray, np.ndarray],
    types: np.ndarray,
    counts: np.ndarray,
    m: int,
    solves: tuple[conic.Solution, ...],
) -> Allocation:
    """Spreads the per-type solution over the jobs and their concrete pairs."""
    at, aj = alone
    per_type = np.zeros((counts.size, m))
    per_type[at, aj] = x[: at.size]
    singles = per_type[types]
    by_pair: dict[tuple[int, int], np.ndarray] = {}
    pt, pu, pj = pair_cells
    cells = zip(pt.tolist(), pu.tolist(), pj.tolist(), x[at.size :].tolist(), strict=True)
    for t, u, j, w in cells:
        if w <= MIN_PAIR_TIME:
            continue
        by_pair.setdefault((t, u), np.zeros(m))[j] += w
    # Each type's rows, ascending (a stable sort groups them).
    by_type = np.split(np.argsort(types, kind="stable"), np.cumsum(counts)[:-1])
    pair_rows: list[np.ndarray] = []
    pair_vals: list[np.ndarray] = []
    for (t, u), w in by_pair.items():
        rows_t = by_type[t]
        if t == u:
            i, k = np.triu_indices(rows_t.size, k=1)
            combos = np.column_stack([rows_t[i], rows_t[k]])
            each = 2.0 * w / (counts[t] * (counts[t] - 1))
        else:
            # every (t-row, u-row) in row-major order, each pair's ids ascending
            rows_u = by_type[u]
            left = np.repeat(rows_t, rows_u.size)
            right = np.tile(rows_u, rows_t.size)
            combos = np.column_stack([np.minimum(left, right), np.maximum(left, right)])
            each = w / (counts[t] * counts[u])
        pair_rows.append(combos)
        pair_vals.append(np.broadcast_to(each, (combos.shape[0], m)))
    if pair_rows:
        pairs = np.concatenate(pair_rows)
        pair_matrix = np.concatenate(pair_vals)
    else:
        pairs, pair_matrix = np.zeros((0, 2), dtype=np.int64), np.zeros((0, m))
    return Allocation(singles, solves, pairs=pairs, pair_matrix=pair_matrix)
