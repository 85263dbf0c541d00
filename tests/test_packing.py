"""Space sharing: the type-aggregated max-min LP and its per-job pairs."""

from __future__ import annotations

import random

import numpy as np
import pytest

from scheduler import policies
from scheduler.policies.packing import max_min_fairness_packed
from scheduler.problem import AllocationProblem
from tests.allocation_checks import check_allocation

CTX = policies.PolicyContext(rng=random.Random(0))


def _two_types(pair_rate: float, jobs: int = 2) -> AllocationProblem:
    """`jobs` jobs alternating between two types, each 10 steps/s alone on one GPU."""
    types = np.arange(jobs) % 2
    rates = np.zeros((2, 2, 1, 2))
    rates[0, 1, 0] = (pair_rate, pair_rate)
    rates[1, 0, 0] = (pair_rate, pair_rate)
    p = AllocationProblem.build(np.full((jobs, 1), 10.0), np.ones(jobs, dtype=int), np.array([1.0]))
    return AllocationProblem(**{**p.__dict__, "job_types": types, "pair_rates": rates})


def _pair_total(alloc_pairs: np.ndarray | None, matrix: np.ndarray | None, row: int) -> float:
    if alloc_pairs is None or matrix is None:
        return 0.0
    mask = (alloc_pairs == row).any(axis=1)
    return float(matrix[mask].sum())


def test_a_good_pair_shares_the_gpu_all_the_time() -> None:
    """Together at 8 steps/s each beats 5 each by time-slicing: they share, full time."""
    alloc = max_min_fairness_packed(_two_types(8.0), CTX)
    assert alloc.pairs is not None and alloc.pair_matrix is not None
    assert alloc.pairs.tolist() == [[0, 1]]
    assert alloc.pair_matrix[0, 0] == pytest.approx(1.0, abs=1e-4)
    assert alloc.matrix.sum() == pytest.approx(0.0, abs=1e-4)


def test_a_bad_pair_time_slices_instead() -> None:
    """Together at 4 steps/s each loses to 5 each alone: no sharing, half the time each."""
    alloc = max_min_fairness_packed(_two_types(4.0), CTX)
    assert alloc.pairs is None or alloc.pair_matrix is None or alloc.pair_matrix.sum() < 1e-4
    np.testing.assert_allclose(alloc.matrix[:, 0], [0.5, 0.5], atol=1e-4)


def test_pair_time_is_spread_evenly_over_the_jobs_of_each_type() -> None:
    """Four jobs, two per type, one GPU: every cross-type pair gets the same share, and
    every job's total time (alone plus paired) is the same; the GPU is never oversold."""
    p = _two_types(8.0, jobs=4)
    alloc = max_min_fairness_packed(p, CTX)
    assert alloc.pairs is not None and alloc.pair_matrix is not None
    totals = [
        alloc.matrix[i].sum() + _pair_total(alloc.pairs, alloc.pair_matrix, i) for i in range(4)
    ]
    np.testing.assert_allclose(totals, totals[0], atol=1e-6)
    used = alloc.matrix.sum() + alloc.pair_matrix.sum()  # a pair occupies one GPU
    assert used <= 1.0 + 1e-6
    check_allocation(p, alloc.matrix)
