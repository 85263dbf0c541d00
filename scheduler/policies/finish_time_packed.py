"""Finish-time fairness with space sharing, over a bounded set of candidate pairs.

Each job's finish-time ratio depends on its own history, so jobs of a type are not
interchangeable and the problem cannot be aggregated by type. Instead each job brings
its best few partners (same GPU count; pairs that together do at least what the two do
alone, summed over the types) and the SOCP of finish-time fairness is solved over the
single jobs and those pairs: O(jobs x partners) variables rather than O(jobs^2).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from scheduler import conic, programs
from scheduler.policies.base import PolicyContext, allowed_cells, isolated_throughputs
from scheduler.policies.finish_time import finish_time_fairness_perf
from scheduler.problem import Allocation, AllocationProblem

# How many partners each job brings to the candidate pairs.
PARTNERS_PER_JOB = 4
# A candidate pair must do at least this much, summed over the types, of what its two
# jobs do alone.
MIN_PAIR_VALUE = 1.0


def _candidate_pairs(
    problem: AllocationProblem, types: np.ndarray, pair_rates: np.ndarray, allowed: np.ndarray
) -> np.ndarray:
    """Up to PARTNERS_PER_JOB best partners per job, as sorted row pairs (unique)."""
    n = problem.num_jobs
    rates = pair_rates[types[:, None], types[None, :]]  # n x n x m x 2
    alone = problem.throughputs
    both = (rates > 0).all(axis=3) & allowed[:, None, :] & allowed[None, :, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        own = np.where(both, rates[..., 0] / alone[:, None, :], 0.0)
        other = np.where(both, rates[..., 1] / alone[None, :, :], 0.0)
    value = np.nan_to_num(own + other).sum(axis=2)
    same = problem.scale_factors[:, None] == problem.scale_factors[None, :]
    value = np.where(same & ~np.eye(n, dtype=bool) & (value >= MIN_PAIR_VALUE), value, 0.0)
    pairs: set[tuple[int, int]] = set()
    for i in range(n):
        best = np.argsort(-value[i], kind="stable")[:PARTNERS_PER_JOB]
        pairs.update((min(i, int(k)), max(i, int(k))) for k in best if value[i, k] > 0)
    return np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)


def finish_time_fairness_packed(problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
    """Finish-time fairness, heterogeneity-aware, with space sharing."""
    n, m = problem.throughputs.shape
    if n == 0:
        return Allocation(np.zeros((n, m)))
    data = problem.pair_data()
    if data is None:
        return finish_time_fairness_perf(problem, ctx)
    types, pair_rates = data
    allowed = allowed_cells(problem, ctx) & (problem.throughputs > 0)
    iso = isolated_throughputs(problem.throughputs, problem)
    runs = allowed.any(axis=1) & (iso > 0)
    if not runs.any():
        return Allocation(np.zeros((n, m)), isolated_throughputs=iso)
    pairs = _candidate_pairs(problem, types, pair_rates, allowed)
    pr = pair_rates[types[pairs[:, 0]], types[pairs[:, 1]]]
    pair_ok = (pr > 0).all(axis=2) & allowed[pairs[:, 0]] & allowed[pairs[:, 1]]  # P x m
    single_cells = np.argwhere(allowed & runs[:, None])  # (row, type)
    pair_cells = np.argwhere(pair_ok)  # (pair, type)
    v = len(single_cells) + len(pair_cells)
    safe_iso = np.where(iso > 0, iso, 1.0)
    players = np.flatnonzero(runs)
    row_of = np.full(n, -1)
    row_of[players] = np.arange(players.size)
    # Throughput forms, in isolated units; row sums; capacity.
    forms, rows_sum, cap = programs.Triplets(), programs.Triplets(), programs.Triplets()
    for col, (i, j) in enumerate(single_cells.tolist()):
        forms.add(row_of[i], col, problem.throughputs[i, j] / safe_iso[i])
        rows_sum.add(row_of[i], col, 1.0)
        cap.add(j, col, float(problem.scale_factors[i]))
    for off, (p, j) in enumerate(pair_cells.tolist()):
        col = len(single_cells) + off
        a, b = pairs[p]
        for who, rate in ((a, pr[p, j, 0]), (b, pr[p, j, 1])):
            if row_of[who] >= 0:
                forms.add(row_of[who], col, rate / safe_iso[who])
                rows_sum.add(row_of[who], col, 1.0)
        cap.add(j, col, float(problem.scale_factors[a]))
    rates = forms.matrix((players.size, v))
    bounds = sp.vstack([rows_sum.matrix((players.size, v)), cap.matrix((m, v))]).tocsr()
    limits = np.concatenate([np.ones(players.size), problem.capacities.astype(float)])
    finish = problem.isolated_times() + problem.remaining_steps / safe_iso
    finish = np.maximum(finish, 1e-9)[players]
    alpha = problem.times_since_start[players] / finish
    beta = problem.remaining_steps[players] / (safe_iso[players] * finish)
    program = programs.finish_time_forms(rates, bounds, limits, alpha, beta)
    sol = conic.solve(program, ctx.solvers)
    if sol.x is None:
        return Allocation(np.zeros((n, m)), (sol,), failed=True, isolated_throughputs=iso)
    x = np.clip(sol.x[:v], 0.0, 1.0)
    singles = np.zeros((n, m))
    for col, (i, j) in enumerate(single_cells.tolist()):
        singles[i, j] = x[col]
    pair_matrix = np.zeros((len(pairs), m))
    for off, (p, j) in enumerate(pair_cells.tolist()):
        pair_matrix[p, j] = x[len(single_cells) + off]
    keep = pair_matrix.sum(axis=1) > 1e-7
    return Allocation(
        singles,
        (sol,),
        pairs=pairs[keep],
        pair_matrix=pair_matrix[keep],
        isolated_throughputs=iso,
    )
