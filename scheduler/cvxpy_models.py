"""The allocation models written in cvxpy, compiled once per shape with Parameters (DPP).

hetsim's simulation path builds its programs as arrays and calls the solvers directly
(:mod:`scheduler.programs`); these cvxpy models are the independent formulation it is
checked against in the tests, and a baseline in the benchmarks. A model is built once
for a shape ``(n jobs, m types)``; a new problem of that shape only sets Parameter
values, so cvxpy reuses its compiled form instead of canonicalising again.

Pure: no SimPy, no logging.
"""

from __future__ import annotations

from functools import lru_cache

import cvxpy as cp
import numpy as np


class MaxMinModel:
    """``max min_i sum_j C[i,j] X[i,j]`` with the base constraints, as a DPP problem.

    Forbidden cells are closed by an upper-bound parameter (0 or 1) rather than a mask
    equality, which ECOS rejects when the mask is all zeros.
    """

    def __init__(self, n: int, m: int) -> None:
        self.n, self.m = n, m
        self.coefficients = cp.Parameter((n, m), nonneg=True)
        self.scale = cp.Parameter((n, m), nonneg=True)  # GPU count of each row, repeated
        self.capacity = cp.Parameter(m, nonneg=True)
        self.upper = cp.Parameter((n, m), nonneg=True)
        self.x = cp.Variable((n, m))
        t = cp.Variable()
        constraints = [
            self.x >= 0,
            self.x <= self.upper,
            cp.sum(self.x, axis=1) <= 1,
            cp.sum(cp.multiply(self.scale, self.x), axis=0) <= self.capacity,
            cp.sum(cp.multiply(self.coefficients, self.x), axis=1) >= t,
        ]
        self.problem = cp.Problem(cp.Maximize(t), constraints)

    def solve(
        self,
        coefficients: np.ndarray,
        allowed: np.ndarray,
        scale_factors: np.ndarray,
        capacities: np.ndarray,
        solver: str = "ECOS",
    ) -> tuple[float, np.ndarray]:
        """The optimal level and allocation for one problem of this model's shape."""
        self.coefficients.value = np.where(allowed, coefficients, 0.0)
        self.scale.value = np.tile(scale_factors[:, None].astype(float), (1, self.m))
        self.capacity.value = capacities.astype(float)
        self.upper.value = allowed.astype(float)
        value = self.problem.solve(solver=solver)
        return float(value), np.clip(np.asarray(self.x.value), 0.0, 1.0)


@lru_cache(maxsize=64)
def max_min_model(n: int, m: int) -> MaxMinModel:
    """The compiled max-min model for a shape (kept for reuse)."""
    return MaxMinModel(n, m)
