"""Integer values kept against integer keys, found for a whole batch of keys with one
sort: the vectorised forms of ``dict.get(key, -1)`` and ``key in set``. Pure numpy."""

from __future__ import annotations

import numpy as np


def lookup(keys: np.ndarray, known_keys: np.ndarray, known_values: np.ndarray) -> np.ndarray:
    """The value ``known_values`` gives each of ``keys`` (-1 for a key not in
    ``known_keys``; for a key listed twice there, its first value)."""
    wanted = np.asarray(keys, dtype=np.int64)
    out = np.full(wanted.size, -1, dtype=np.int64)
    if known_keys.size and wanted.size:
        order = np.argsort(known_keys, kind="stable")
        sorted_keys = known_keys[order]
        pos = np.minimum(np.searchsorted(sorted_keys, wanted), sorted_keys.size - 1)
        hit = sorted_keys[pos] == wanted
        out[hit] = known_values[order[pos[hit]]]
    return out


def member(keys: np.ndarray, known_sorted: np.ndarray) -> np.ndarray:
    """Whether each of ``keys`` is in ``known_sorted`` (ascending): ``np.isin`` with the
    sort already done, a binary search per key."""
    out = np.zeros(keys.size, dtype=bool)
    if known_sorted.size and keys.size:
        pos = np.minimum(np.searchsorted(known_sorted, keys), known_sorted.size - 1)
        out = known_sorted[pos] == keys
    return out
