"""Sparse matrices as triplet arrays, stacked by offsetting indices and compressed once.

An allocation program is a stack of small blocks (capacity rows, row sums, level rows,
non-negativity, cones). Building each with scipy.sparse and stacking them costs tens of
microseconds of checks per operation, more than the arithmetic; a :class:`Block` is
just its ``(row, col, value)`` arrays and shape, so stacking is an index offset and
only the finished matrix is compressed, in one call.

The compressed result is scipy's canonical form (indices sorted within each column,
explicit zeros kept), entry for entry what stacking the same blocks with scipy.sparse
gives, so a solver sees the very same arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True, slots=True)
class Block:
    """The entries of a ``shape`` matrix: ``vals[k]`` at ``(rows[k], cols[k])``."""

    rows: np.ndarray
    cols: np.ndarray
    vals: np.ndarray
    shape: tuple[int, int]

    @classmethod
    def of(cls, matrix: sp.spmatrix | Block) -> Block:
        """A scipy.sparse matrix's entries (explicit zeros included)."""
        if isinstance(matrix, Block):
            return matrix
        coo = matrix.tocoo()
        return cls(
            coo.row.astype(np.int64),
            coo.col.astype(np.int64),
            coo.data.astype(float),
            (int(coo.shape[0]), int(coo.shape[1])),
        )

    @classmethod
    def diagonal(cls, values: np.ndarray, width: int | None = None) -> Block:
        """A square (or ``width`` columns wide) matrix with ``values`` on its diagonal."""
        n = values.size
        idx = np.arange(n)
        return cls(idx, idx.copy(), values.astype(float), (n, n if width is None else width))

    def __neg__(self) -> Block:
        return Block(self.rows, self.cols, -self.vals, self.shape)

    def widen(self, width: int) -> Block:
        """The same entries in a matrix of ``width`` columns (new columns empty)."""
        return Block(self.rows, self.cols, self.vals, (self.shape[0], width))

    def tocsc(self) -> sp.csc_matrix:
        return _compress(self.rows, self.cols, self.vals, self.shape)

    def tocoo(self) -> sp.coo_matrix:
        return sp.coo_matrix((self.vals, (self.rows, self.cols)), shape=self.shape)


def stack(parts: Sequence[Block | sp.spmatrix]) -> Block:
    """The blocks one below the other (all as wide as the widest)."""
    blocks = [Block.of(p) for p in parts]
    width = max(b.shape[1] for b in blocks)
    offsets = np.cumsum([0] + [b.shape[0] for b in blocks])
    return Block(
        np.concatenate([b.rows + off for b, off in zip(blocks, offsets[:-1], strict=True)]),
        np.concatenate([b.cols for b in blocks]),
        np.concatenate([b.vals for b in blocks]),
        (int(offsets[-1]), width),
    )


def overlay(parts: Sequence[Block]) -> Block:
    """The entries of same-shaped blocks together (their positions must be distinct)."""
    return Block(
        np.concatenate([b.rows for b in parts]),
        np.concatenate([b.cols for b in parts]),
        np.concatenate([b.vals for b in parts]),
        parts[0].shape,
    )


def _compress(
    rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, shape: tuple[int, int]
) -> sp.csc_matrix:
    """The canonical CSC matrix of distinct entries: a stable sort by (column, row)."""
    n_rows, n_cols = shape
    order = np.lexsort((rows, cols))
    idx = np.int32 if max(n_rows, n_cols, rows.size) < np.iinfo(np.int32).max else np.int64
    indptr = np.zeros(n_cols + 1, dtype=idx)
    np.cumsum(np.bincount(cols, minlength=n_cols), out=indptr[1:])
    out = sp.csc_matrix((vals[order], rows[order].astype(idx), indptr), shape=shape, copy=False)
    out.has_sorted_indices = True
    return out
