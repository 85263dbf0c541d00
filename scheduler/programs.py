"""Builders of the allocation programs, as arrays: max-min, min-norm, finish-time, max-sum.

Every builder takes the allowed cells (a job may get time only there: positive
throughput, unless the reference's quirks are wanted) and makes one variable per allowed
cell, so a forbidden cell cannot receive time. The base constraints are the reference's:
``X >= 0``, ``sum_j X[i,j] <= 1`` per job and ``sum_i s_i X[i,j] <= n_j`` per type.
Rows come in the order cvxpy would produce for the same model, so an interior-point
solver lands on the same point of a degenerate optimal face as it does through cvxpy.

Pure numpy and scipy.sparse; no solving here (see :mod:`scheduler.conic`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from scheduler.blocks import Block, overlay, stack
from scheduler.conic import ConeProgram


@dataclass(frozen=True)
class Cells:
    """One variable per allowed ``(job, type)`` cell of an ``n x m`` allocation."""

    n: int
    m: int
    flat: np.ndarray  # flat indices of the allowed cells
    rows: np.ndarray
    cols: np.ndarray
    members: np.ndarray  # jobs with at least one allowed cell, ascending

    @classmethod
    def of(cls, allowed: np.ndarray) -> Cells:
        n, m = allowed.shape
        flat = np.flatnonzero(allowed.ravel())
        rows = flat // m
        return cls(n, m, flat, rows, flat % m, np.unique(rows))

    @property
    def k(self) -> int:
        return int(self.flat.size)

    def position(self) -> np.ndarray:
        """For each job, its index among the members (-1 for non-members)."""
        pos = np.full(self.n, -1, dtype=np.int64)
        pos[self.members] = np.arange(self.members.size)
        return pos

    def scatter(self, x: np.ndarray, row_scale: np.ndarray | None = None) -> np.ndarray:
        """The cell variables of a solution as an ``n x m`` matrix (each row divided by
        ``row_scale`` first, if given), clipped to [0, 1]."""
        out = np.zeros(self.n * self.m)
        out[self.flat] = x[: self.k]
        matrix = out.reshape(self.n, self.m)
        if row_scale is not None:
            matrix = matrix / row_scale[:, None]
        return np.clip(matrix, 0.0, 1.0)


def _base(
    cells: Cells,
    scale_factors: np.ndarray,
    capacities: np.ndarray,
    width: int,
    row_limits: np.ndarray | None = None,
) -> tuple[list[Block], list[np.ndarray]]:
    """Capacity rows, per-job row sums (at most 1, or ``row_limits[i]``) and
    non-negativity, over ``width`` columns."""
    k, m, p = cells.k, cells.m, cells.members.size
    var = np.arange(k)
    cap = Block(cells.cols, var, scale_factors[cells.rows].astype(float), (m, width))
    rowsum = Block(cells.position()[cells.rows], var, np.ones(k), (p, width))
    nonneg = Block(var, var, -np.ones(k), (k, width))
    sums = np.ones(p) if row_limits is None else row_limits[cells.members].astype(float)
    return (
        [cap, rowsum, nonneg],
        [capacities.astype(float), sums, np.zeros(k)],
    )


def _cell_bounds(
    cells: Cells,
    scale_factors: np.ndarray,
    capacities: np.ndarray,
    row_limits: np.ndarray | None = None,
) -> tuple[Block, np.ndarray]:
    """The base constraints but non-negativity, over the cell variables: capacity per
    type, then each member job's row sum."""
    bounds, limits = _base(cells, scale_factors, capacities, cells.k, row_limits)
    return stack(bounds[:2]), np.concatenate(limits[:2])


def _job_rows(cells: Cells, coefficients: np.ndarray, jobs: np.ndarray, width: int) -> Block:
    """One row per job in ``jobs``: ``sum_j C[i,j] x_ij`` over that job's cells."""
    row_of = np.full(cells.n, -1, dtype=np.int64)
    row_of[jobs] = np.arange(jobs.size)
    keep = row_of[cells.rows] >= 0
    return Block(
        row_of[cells.rows][keep],
        np.arange(cells.k)[keep],
        coefficients.ravel()[cells.flat][keep].astype(float),
        (jobs.size, width),
    )


def max_min(
    coefficients: np.ndarray,
    allowed: np.ndarray,
    scale_factors: np.ndarray,
    capacities: np.ndarray,
    floors: np.ndarray | None = None,
) -> tuple[ConeProgram, Cells, np.ndarray]:
    """``maximise t`` s.t. ``sum_j C[i,j] x_ij >= t`` for free member jobs, ``>= floor_i``
    for jobs with a floor (NaN = free), and the base constraints. The last variable is t.

    Returns the program, the cells and the free member jobs, whose rows come first (so
    ``duals[:len(free)]`` are their multipliers: positive for bottleneck jobs).
    """
    cells = Cells.of(allowed)
    k = cells.k
    if floors is None:
        floors = np.full(cells.n, np.nan)
    fixed_mask = ~np.isnan(floors)
    free = cells.members[~fixed_mask[cells.members]]
    fixed = cells.members[fixed_mask[cells.members]]
    bounds, limits = _cell_bounds(cells, scale_factors, capacities)
    if fixed.size:
        # A job with a floor: -sum_j C[i,j] x_ij <= -floor_i, right after the t rows.
        bounds = stack([-_job_rows(cells, coefficients, fixed, k), bounds])
        limits = np.concatenate([-floors[fixed], limits])
    levels = _job_rows(cells, coefficients, free, k)
    return max_min_forms(levels, bounds, limits), cells, free


def min_norm(
    coefficients: np.ndarray,
    allowed: np.ndarray,
    scale_factors: np.ndarray,
    capacities: np.ndarray,
    levels: np.ndarray,
    total: float | None = None,
    row_limits: np.ndarray | None = None,
) -> tuple[ConeProgram, Cells]:
    """``minimise ||x||^2 / 2`` s.t. ``sum_j C[i,j] x_ij >= level_i`` (and, if ``total`` is
    given, ``sum_ij C[i,j] x_ij >= total``) and the base constraints (row sums at most
    ``row_limits`` instead of 1 if given: see :mod:`scheduler.classes`).

    The unique point of the set of allocations meeting every job's level: a tie-break
    that does not depend on the solver. A quadratic program (no extra variable).
    """
    cells = Cells.of(allowed)
    k = cells.k
    jobs = cells.members
    forms = _job_rows(cells, coefficients, jobs, k)
    floors = levels[jobs]
    if total is not None:
        coeff = coefficients.ravel()[cells.flat]
        everything = Block(np.zeros(k, dtype=np.int64), np.arange(k), coeff, (1, k))
        forms = stack([forms, everything])
        floors = np.concatenate([floors, [total]])
    bounds, limits = _cell_bounds(cells, scale_factors, capacities, row_limits)
    return min_norm_forms(forms, floors, bounds, limits), cells


def max_sum(
    coefficients: np.ndarray,
    allowed: np.ndarray,
    scale_factors: np.ndarray,
    capacities: np.ndarray,
) -> tuple[ConeProgram, Cells]:
    """``maximise sum_ij C[i,j] x_ij`` under the base constraints."""
    cells = Cells.of(allowed)
    width = cells.k
    base_g, base_h = _base(cells, scale_factors, capacities, width)
    G = stack(base_g).tocsc()
    c = -coefficients.ravel()[cells.flat]
    return ConeProgram(c, G, np.concatenate(base_h), l=G.shape[0]), cells


def finish_time_reference(
    throughputs: np.ndarray,
    allowed: np.ndarray,
    scale_factors: np.ndarray,
    capacities: np.ndarray,
    elapsed: np.ndarray,
    remaining: np.ndarray,
    isolated_finish: np.ndarray,
) -> tuple[ConeProgram, Cells]:
    """``minimise rho`` s.t. ``(t_i + R_i s_i) / D_i <= rho``, ``s_i >= 1 / u_i`` for member
    jobs, with ``u_i = sum_j T[i,j] x_ij``, and the base constraints.

    ``t`` = ``elapsed`` (time since arrival), ``R`` = ``remaining`` steps, ``D`` =
    ``isolated_finish``. The reference's model in the shape of cvxpy's canonical form
    (one auxiliary ``s_i`` per job, ``s_i u_i >= 1`` as the cone
    ``||(2, s_i - u_i)|| <= s_i + u_i``, linear epigraph rows), though not bit for bit:
    with quirks it is the fallback when ECOS fails on the exact cvxpy model
    (:mod:`scheduler.reference_cvxpy`). Variables: cells, s, rho.
    """
    cells = Cells.of(allowed)
    k = cells.k
    jobs = cells.members
    p = jobs.size
    width = k + p + 1
    rho = k + p
    blocks, base_h = _base(cells, scale_factors, capacities, width)
    base_g = [b.tocoo() for b in blocks]
    # (t_i + R_i s_i) / D_i - rho <= 0
    epi = sp.coo_matrix(
        (
            np.concatenate([remaining[jobs] / isolated_finish[jobs], -np.ones(p)]),
            (
                np.concatenate([np.arange(p), np.arange(p)]),
                np.concatenate([k + np.arange(p), np.full(p, rho)]),
            ),
        ),
        shape=(p, width),
    )
    epi_h = -elapsed[jobs] / isolated_finish[jobs]
    u = _job_rows(cells, throughputs, jobs, width).tocoo().tocsr()
    svar = sp.coo_matrix((np.ones(p), (np.arange(p), k + np.arange(p))), shape=(p, width)).tocsr()
    zero = sp.csr_matrix((p, width))
    # h - G z = (s + u, 2, s - u) per job, interleaved.
    first, second, third = -(svar + u), zero, -(svar - u)
    order = np.arange(3 * p).reshape(3, p).T.ravel()
    cones = sp.vstack([first, second, third]).tocsr()[order]
    h_cones = np.tile([0.0, 2.0, 0.0], p)
    G = sp.vstack([epi, *base_g, cones]).tocsc()
    h = np.concatenate([epi_h, *base_h, h_cones])
    c = np.zeros(width)
    c[rho] = 1.0
    lin = G.shape[0] - 3 * p
    return ConeProgram(c, G, h, l=lin, q=(3,) * p), cells


def finish_time_compact(
    rates: np.ndarray,
    allowed: np.ndarray,
    scale_factors: np.ndarray,
    capacities: np.ndarray,
    alpha: np.ndarray,
    beta: np.ndarray,
) -> tuple[ConeProgram, Cells]:
    """``minimise t`` s.t. ``u_i (t - alpha_i) >= beta_i`` for member jobs, with
    ``u_i = sum_j rates[i,j] x_ij``, and the base constraints.

    With ``rates`` the throughputs over a job's isolated throughput, ``alpha`` its time
    so far over its isolated finish time and ``beta`` its remaining steps over (isolated
    throughput x isolated finish time), ``t`` is the largest finish-time ratio rho.
    Each hyperbolic constraint is a 3-row second-order cone:
    ``||(2 sqrt(beta_i), u_i - (t - alpha_i))|| <= u_i + (t - alpha_i)``.
    """
    cells = Cells.of(allowed)
    jobs = cells.members
    forms = _job_rows(cells, rates, jobs, cells.k)
    bounds, limits = _cell_bounds(cells, scale_factors, capacities)
    return finish_time_forms(forms, bounds, limits, alpha[jobs], beta[jobs]), cells


def max_min_forms(
    levels: sp.spmatrix | Block, bounds: sp.spmatrix | Block, limits: np.ndarray
) -> ConeProgram:
    """``maximise t`` s.t. ``levels @ x >= t`` (one row per player), ``bounds @ x <= limits``
    and ``x >= 0``: max-min over any linear forms. The last variable is ``t``."""
    lv = Block.of(levels)
    players, v = lv.shape
    width = v + 1
    t_col = Block(np.arange(players), np.full(players, v), np.ones(players), (players, width))
    G = stack(
        [
            overlay([(-lv).widen(width), t_col]),
            Block.of(bounds).widen(width),
            Block.diagonal(-np.ones(v), width),
        ]
    ).tocsc()
    h = np.concatenate([np.zeros(players), limits, np.zeros(v)])
    c = np.zeros(width)
    c[v] = -1.0
    return ConeProgram(c, G, h, l=G.shape[0])


def min_norm_forms(
    levels: sp.spmatrix | Block,
    floors: np.ndarray,
    bounds: sp.spmatrix | Block,
    limits: np.ndarray,
) -> ConeProgram:
    """``minimise ||x||^2 / 2`` s.t. ``levels @ x >= floors``, ``bounds @ x <= limits``,
    ``x >= 0``: the unique tie-break point for :func:`max_min_forms`."""
    lv = Block.of(levels)
    v = lv.shape[1]
    G = stack([-lv, Block.of(bounds), Block.diagonal(-np.ones(v))]).tocsc()
    h = np.concatenate([-floors, limits, np.zeros(v)])
    return ConeProgram(np.zeros(v), G, h, l=G.shape[0], P_diag=np.ones(v))


def finish_time_forms(
    rates: sp.spmatrix | Block,
    bounds: sp.spmatrix | Block,
    limits: np.ndarray,
    alpha: np.ndarray,
    beta: np.ndarray,
) -> ConeProgram:
    """``minimise t`` s.t. ``u_i (t - alpha_i) >= beta_i`` with ``u = rates @ x`` (one row
    per job), ``bounds @ x <= limits`` and ``x >= 0``: finish-time fairness over any
    linear throughput forms (single jobs and pairs alike). The last variable is ``t``."""
    u = Block.of(rates)
    p, v = u.shape
    width = v + 1
    # h - G z = (u_i + t - alpha_i, 2 sqrt(beta_i), u_i - t + alpha_i) per job: rows
    # 3i, 3i + 1 (empty) and 3i + 2. Zero rates leave no entry, as a sparse sum drops them.
    nz = u.vals != 0
    ur, uc, uv = u.rows[nz], u.cols[nz], u.vals[nz]
    jobs = np.arange(p)
    cones = Block(
        np.concatenate([3 * ur, 3 * jobs, 3 * ur + 2, 3 * jobs + 2]),
        np.concatenate([uc, np.full(p, v), uc, np.full(p, v)]),
        np.concatenate([-uv, -np.ones(p), -uv, np.ones(p)]),
        (3 * p, width),
    )
    h_cones = np.column_stack([-alpha, 2.0 * np.sqrt(beta), alpha]).ravel()
    G = stack([Block.of(bounds).widen(width), Block.diagonal(-np.ones(v), width), cones]).tocsc()
    h = np.concatenate([limits, np.zeros(v), h_cones])
    c = np.zeros(width)
    c[v] = 1.0
    return ConeProgram(c, G, h, l=G.shape[0] - 3 * p, q=(3,) * p)


class Triplets:
    """Sparse-matrix entries collected one at a time."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []

    def add(self, row: int, col: int, value: float) -> None:
        self.rows.append(int(row))
        self.cols.append(int(col))
        self.vals.append(float(value))

    def matrix(self, shape: tuple[int, int], row_map: np.ndarray | None = None) -> sp.csr_matrix:
        rows = np.array(self.rows, dtype=np.int64)
        if row_map is not None:
            rows = row_map[rows]
        return sp.csr_matrix((self.vals, (rows, self.cols)), shape=shape)
