"""Job classes: jobs that are interchangeable in a max-min allocation program.

Two jobs with the same coefficient row, the same allowed cells and the same GPU count
play the same part in the max-min program and in its minimum-norm tie-break: swapping
them maps every feasible allocation to a feasible allocation with the same levels and
the same norm. The tie-break's answer is unique, so it gives both the same row, and the
max-min level is the same whether each job has its own variables or each class has one
set. Solving per class with the class's size ``c`` as a multiplicity is therefore the
same program, exactly (only the floating-point path differs):

- max-min: one level row and one row sum per class, and ``c * s`` GPUs per unit of the
  class's allocation in each capacity row;
- minimum norm: ``||x||^2`` counts each class ``c`` times; with ``y = sqrt(c) x`` it is an
  ordinary minimum-norm program over ``y``, with coefficients ``C / sqrt(c)``, row sums
  at most ``sqrt(c)`` and ``sqrt(c) * s`` GPUs per unit of ``y``.

A workload drawn from a few dozen job templates has a few dozen classes however many
jobs are active. Pure numpy; no solving here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class JobClasses:
    """A partition of ``n`` jobs into classes, numbered in order of their first job."""

    first: np.ndarray  # each class's first job (row), ascending
    of_job: np.ndarray  # each job's class
    sizes: np.ndarray  # jobs per class

    @classmethod
    def of(
        cls, coefficients: np.ndarray, allowed: np.ndarray, scale_factors: np.ndarray
    ) -> JobClasses:
        """Jobs with equal coefficient rows, allowed cells and GPU counts."""
        n = coefficients.shape[0]
        key = np.column_stack(
            [
                np.asarray(coefficients, dtype=float).reshape(n, -1),
                allowed.reshape(n, -1).astype(float),
                np.asarray(scale_factors, dtype=float),
            ]
        )
        # A stable sort of the rows (first column first): equal rows end up together,
        # each group led by its first job.
        order = np.lexsort(key.T[::-1])
        ranked = key[order]
        starts = np.ones(n, dtype=bool)
        starts[1:] = (ranked[1:] != ranked[:-1]).any(axis=1)
        group = np.cumsum(starts) - 1
        leaders = order[starts]
        # Number the classes by their first job.
        by_first = np.argsort(leaders)
        renumber = np.empty_like(by_first)
        renumber[by_first] = np.arange(by_first.size)
        of_job = np.empty(n, dtype=np.int64)
        of_job[order] = renumber[group]
        return cls(leaders[by_first], of_job, np.bincount(of_job, minlength=by_first.size))

    @property
    def count(self) -> int:
        return int(self.first.size)

    def expand(self, per_class: np.ndarray) -> np.ndarray:
        """Per-class rows as per-job rows."""
        out: np.ndarray = per_class[self.of_job]
        return out
