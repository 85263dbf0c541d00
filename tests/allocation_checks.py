"""The invariants every allocation must satisfy, shared by the policy tests."""

from __future__ import annotations

import numpy as np

from scheduler.problem import AllocationProblem

TOL = 1e-6


def check_allocation(p: AllocationProblem, x: np.ndarray) -> None:
    """Shape; non-negative; at most 1 per job; within capacity per type; nothing where the
    job's throughput is 0 (all to 1e-6)."""
    assert x.shape == p.throughputs.shape
    assert (x >= -TOL).all()
    assert (x.sum(axis=1) <= 1 + TOL).all()
    assert ((p.scale_factors[:, None] * x).sum(axis=0) <= p.capacities + TOL).all()
    assert (x[p.throughputs == 0] == 0).all()
