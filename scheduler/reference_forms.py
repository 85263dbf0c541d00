"""The reference's programs exactly as cvxpy hands them to ECOS (for ``--quirks gavel``).

The reference writes each policy as a cvxpy model over a dense ``X`` (every job, every
GPU type in *alphabetical* order, zero-throughput cells included), solves it with ECOS
and clips the answer to ``[0, 1]``. An interior-point solver's answer on a degenerate
optimum depends on every bit of its input (the order of the variables and rows, the
values of the coefficients), so to place jobs as the reference does, round after round,
hetsim must pose the very same ``(c, G, h)``: this module builds it.

cvxpy 1.9's canonical form of ``maximise min_i sum_j C[i,j] X[i,j]`` under the base
constraints, checked entry for entry against ``cvxpy.Problem.get_problem_data`` in the
tests:

- variables: ``v = -t`` first, then ``X`` flattened column-major (all jobs of the first
  type, then of the second, ...); objective ``min v``;
- rows (all in the non-negative cone): ``-v - sum_j C[i,j] X[i,j] <= 0`` per job, then
  ``-X <= 0`` per variable, then ``sum_i s_i X[i,j] <= n_j`` per type, then
  ``sum_j X[i,j] <= 1`` per job; zero coefficients are left out of the sparse matrix.

The coefficients themselves are computed with the reference's own arithmetic (same
operations in the same order) by :func:`proportional_throughputs` and
:func:`max_min_coefficients`, so they agree to the last bit too.

Pure numpy and scipy.sparse; no solving here.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from scheduler.conic import ConeProgram


def alphabetical(type_names: tuple[str, ...], m: int) -> np.ndarray:
    """The permutation that puts the columns in the reference's (sorted-name) order;
    the identity when the names are not known."""
    if len(type_names) != m:
        return np.arange(m)
    return np.array(sorted(range(m), key=lambda j: type_names[j]), dtype=np.int64)


def proportional_throughputs(throughputs: np.ndarray, capacities: np.ndarray) -> np.ndarray:
    """The reference's proportional share, with its arithmetic: every job gets
    ``n_j / m`` of each type (m jobs), scaled by the largest row sum; the throughput is
    ``sum_j T[i,j] x[i,j]``. Columns must already be in the reference's order."""
    m = throughputs.shape[0]
    if m == 0:
        return np.zeros(0)
    row = capacities.astype(float) / m
    x = np.tile(row, (m, 1))
    x = x / np.sum(x, axis=1).max()
    out: np.ndarray = np.sum(np.multiply(throughputs, x), axis=1)
    return out


def isolated_throughputs(
    throughputs: np.ndarray, scale_factors: np.ndarray, capacities: np.ndarray
) -> np.ndarray:
    """The reference's isolated throughput (its code since 5203ac2, e.g. c4fa400): each
    of the m jobs gets ``(n_j / m) / s_i`` of each type, each row scaled down to sum to
    at most 1, and the throughput is ``sum_j T[i,j] x[i,j]``; that is
    ``sum_j T[i,j] n_j / max(N, m s_i)``. Columns in the order the caller wants the sums
    taken (the reference's for bit-exact values)."""
    m = throughputs.shape[0]
    if m == 0:
        return np.zeros(0)
    x = np.tile(capacities.astype(float) / m, (m, 1))
    x = x / np.tile(scale_factors.astype(float).reshape(m, 1), (1, throughputs.shape[1]))
    per_row = np.maximum(np.sum(x, axis=1), np.ones(m))
    x = x / per_row[:, None]
    out: np.ndarray = np.sum(np.multiply(throughputs, x), axis=1)
    return out


def max_min_coefficients(
    throughputs: np.ndarray, scale_factors: np.ndarray, weights: np.ndarray, capacities: np.ndarray
) -> np.ndarray:
    """``(T * (1/w * 1/proportional)) * s``, the reference's objective coefficients of
    max-min fairness (pass all-ones throughputs for the agnostic form)."""
    n, m = throughputs.shape
    priority = (1.0 / weights).reshape((n, 1))
    proportional = proportional_throughputs(throughputs, capacities).reshape((n, 1))
    priority = np.multiply(priority, 1.0 / proportional)
    scale = np.tile(scale_factors.astype(float).reshape((n, 1)), (1, m))
    out: np.ndarray = np.multiply(throughputs * priority.reshape((n, 1)), scale)
    return out


def max_min_program(
    coefficients: np.ndarray, scale_factors: np.ndarray, capacities: np.ndarray
) -> ConeProgram:
    """cvxpy's ECOS form of ``max min_i sum_j C[i,j] X[i,j]`` over a dense ``X`` (see the
    module docstring); read the allocation back with :func:`allocation_of`."""
    n, m = coefficients.shape
    k = n * m
    # Variable 1 + j*n + i is X[i, j] (column-major); variable 0 is v = -t.
    jobs = np.tile(np.arange(n), m)
    types = np.repeat(np.arange(m), n)
    coeff = coefficients.T.ravel()  # column-major, as the variables
    scale = np.repeat(scale_factors.astype(float)[None, :], m, axis=0).ravel()
    # The CSC arrays written directly: column 0 holds -v in every job's epigraph row;
    # each X column has four entries, rows ascending: -C[i,j] X[i,j] in job i's
    # epigraph row, -X (non-negativity), its type's capacity row, job i's row sum.
    # Zero values are left out, as cvxpy (and eliminate_zeros) leave them.
    rows = np.stack([jobs, n + np.arange(k), n + k + types, n + k + m + jobs], axis=1)
    vals = np.stack([-coeff, -np.ones(k), scale, np.ones(k)], axis=1)
    keep = vals != 0
    indptr = np.concatenate([[0, n], n + np.cumsum(keep.sum(axis=1))])
    indices = np.concatenate([np.arange(n), rows[keep]])
    data = np.concatenate([-np.ones(n), vals[keep]])
    shape = (n + k + m + n, 1 + k)
    G = sp.csc_matrix((data, indices, indptr), shape=shape)
    G.has_sorted_indices = True
    h = np.concatenate([np.zeros(n + k), capacities.astype(float), np.ones(n)])
    c = np.zeros(1 + k)
    c[0] = 1.0
    return ConeProgram(c, G, h, l=shape[0])


def allocation_of(x: np.ndarray, n: int, m: int) -> np.ndarray:
    """``X`` from a solution of :func:`max_min_program`, clipped to ``[0, 1]`` as the
    reference clips it."""
    out: np.ndarray = x[1 : 1 + n * m].reshape(m, n).T.clip(min=0.0).clip(max=1.0)
    return out
