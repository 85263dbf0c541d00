"""Gandiva: random pairs of jobs share GPUs; time is split equally over the combinations.

When the jobs ask for no more GPUs than the cluster has, nobody shares and every job
gets an equal split of every type (the isolated share). Otherwise jobs are paired at
random (only jobs with the same GPU count, only where both can run together); a pair
persists across solves until one of its jobs finishes or it no longer pays (the sum of
both jobs' co-located over alone throughputs, over the types, drops below 1), and every
combination (pair or single) gets the same share of every type.
"""

from __future__ import annotations

import numpy as np

from scheduler.policies.base import PolicyContext, allowed_cells
from scheduler.problem import Allocation, AllocationProblem

# A pair must do at least this much, in sum over the types, of what its jobs do alone.
MIN_NORMALISED_PAIR = 1.0


def _pays(problem: AllocationProblem, data: tuple[np.ndarray, np.ndarray], a: int, b: int) -> bool:
    types, pair_rates = data
    rates = pair_rates[int(types[a]), int(types[b])]  # m x 2
    alone = problem.throughputs[[a, b]].T  # m x 2
    if not (rates > 0).all(axis=1).any():
        return False
    ok = (alone > 0).all(axis=1)
    normalised = (rates[ok] / alone[ok]).sum()
    return bool(normalised >= MIN_NORMALISED_PAIR)


def gandiva(problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
    """Random pairing under overload, equal time per combination."""
    n, m = problem.throughputs.shape
    if n == 0:
        return Allocation(np.zeros((n, m)))
    allowed = allowed_cells(problem, ctx)
    runs = np.asarray(allowed.any(axis=1))
    data = problem.pair_data()
    overloaded = problem.scale_factors[runs].sum() > problem.capacities.sum()
    pairs: list[tuple[int, int]] = []
    if data is not None and overloaded:
        paired: set[int] = set()
        previous = (
            problem.previous_pairs
            if problem.previous_pairs is not None
            else np.zeros((0, 2), dtype=np.int64)
        )
        for a, b in np.asarray(previous, dtype=np.int64).reshape(-1, 2).tolist():
            if a not in paired and b not in paired and _pays(problem, data, a, b):
                pairs.append((min(a, b), max(a, b)))
                paired.update((a, b))
        waiting = [i for i in range(n) if runs[i] and i not in paired]
        for _ in range(len(waiting)):
            if len(waiting) < 2:
                break
            a, b = ctx.rng.sample(waiting, 2)
            if problem.scale_factors[a] != problem.scale_factors[b] or not _pays(
                problem, data, a, b
            ):
                continue
            waiting.remove(a)
            waiting.remove(b)
            pairs.append((min(a, b), max(a, b)))
        singles = list(waiting)
    else:
        singles = [i for i in range(n) if runs[i]]
    combos = len(singles) + len(pairs)
    x = np.zeros((n, m))
    if combos == 0:
        return Allocation(x)
    share = problem.capacities / combos  # GPUs of each type per combination
    s = problem.scale_factors.astype(float)
    for i in singles:
        row = np.where(allowed[i], share / s[i], 0.0)
        x[i] = row / max(1.0, row.sum())
    pair_rows = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    pair_matrix = np.zeros((len(pairs), m))
    for p, (a, b) in enumerate(pairs):
        assert data is not None  # pairs are only made with pair data
        rates = data[1][int(data[0][a]), int(data[0][b])]
        row = np.where((rates > 0).all(axis=1), share / s[a], 0.0)
        pair_matrix[p] = row / max(1.0, row.sum())
    return Allocation(x, pairs=pair_rows, pair_matrix=pair_matrix)
