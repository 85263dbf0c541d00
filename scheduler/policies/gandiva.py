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
    # Each combination's share of every type it can use, per GPU it asks for, scaled
    # down to sum to at most 1: all rows at once (a row's sum is the one its own
    # ``.sum()`` gives: numpy reduces each contiguous row alike).
    one = np.array(singles, dtype=np.int64)
    x[one] = _at_most_one(np.where(allowed[one], share[None, :] / s[one][:, None], 0.0))
    pair_rows = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    pair_matrix = np.zeros((len(pairs), m))
    if pairs:
        assert data is not None  # pairs are only made with pair data
        firsts = pair_rows[:, 0]
        rates = data[1][data[0][firsts], data[0][pair_rows[:, 1]]]  # pairs x m x 2
        together = (rates > 0).all(axis=2)
        pair_matrix = _at_most_one(np.where(together, share[None, :] / s[firsts][:, None], 0.0))
    return Allocation(x, pairs=pair_rows, pair_matrix=pair_matrix)


def _at_most_one(rows: np.ndarray) -> np.ndarray:
    """Each row divided by the larger of 1 and its sum."""
    out: np.ndarray = rows / np.maximum(1.0, rows.sum(axis=1))[:, None]
    return out
