"""The round mechanism's state for job pairs that share GPUs (space sharing).

Pairs come from the last solve of a packing policy. Like single jobs, each pair has the
time it received per GPU type since the last reset (starting at half a round) and a
deficit that persists across solves for as long as the pair exists; its priority on a
type is its allocation over its fraction of the type's time. Pairs are named by their
two job ids (ascending).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scheduler.jobstate import priorities
from scheduler.keyed import lookup, member

# Two ids below this pack into one int64, ``first * _PACK + second``.
_PACK = 2**31


class PairBook:
    """Pairs in force: their job ids, allocation, time received and deficits.

    The deficits kept for pairs across solves are arrays: ``_kept_ids`` (distinct pairs)
    and their rows ``_kept``. A reset keeps each pair's deficit, the last row wins for a
    pair listed twice, and earlier entries of other pairs stay; a new solve gives each
    of its pairs its kept deficit (zeros if none) and forgets the pairs it no longer
    has. That is a dict keyed by pair, done with one sort instead of a loop per pair."""

    def __init__(self, num_types: int) -> None:
        self.num_types = num_types
        self.ids = np.zeros((0, 2), dtype=np.int64)
        self.allocation = np.zeros((0, num_types))
        self.job_time = np.zeros((0, num_types))
        self.deficit = np.zeros((0, num_types))
        self._kept_ids = np.zeros((0, 2), dtype=np.int64)
        self._kept = np.zeros((0, num_types))
        # Bumped whenever the pairs in force change (a solve, a departure).
        self.version = 0
        self._row_of: dict[Any, int] | None = None  # pair (packed or a tuple) -> first row
        # Where each row of ``_row_of`` is now, after departures (-1: gone); None: there.
        self._moved: np.ndarray | None = None
        self._packed = True

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def reset(self, since: float, half_round: float) -> None:
        """At an allocation reset: time owed becomes deficit, accounting restarts."""
        if not len(self):
            return
        self.deficit += self.allocation * since - (self.job_time - half_round)
        now, kept = _codes(self.ids, self._kept_ids)
        # Each pair's last row (a pair listed twice keeps the later one): the last of
        # each run of equal codes in a stable sort, back in row order.
        order = np.argsort(now, kind="stable")
        sorted_now = now[order]
        run_ends = np.append(sorted_now[1:] != sorted_now[:-1], True)
        last = np.sort(order[run_ends])
        others = ~member(kept, sorted_now)
        self._kept_ids = np.concatenate([self._kept_ids[others], self.ids[last]])
        self._kept = np.concatenate([self._kept[others], self.deficit[last]])
        self.job_time[:] = half_round

    def replace(self, ids: np.ndarray, allocation: np.ndarray, half_round: float) -> None:
        """The pairs of a new solve; a pair that persists keeps its deficit."""
        pairs = np.asarray(ids, dtype=np.int64).reshape(-1, 2)
        # each pair's two ids ascending (a sort of each row, done column-wise)
        self.ids = np.stack(
            [np.minimum(pairs[:, 0], pairs[:, 1]), np.maximum(pairs[:, 0], pairs[:, 1])], axis=1
        )
        self.allocation = np.asarray(allocation, dtype=float).reshape(-1, self.num_types)
        self.job_time = np.full_like(self.allocation, half_round)
        self.deficit = np.zeros((self.ids.shape[0], self.num_types))
        new, kept = _codes(self.ids, self._kept_ids)
        at = lookup(new, kept, np.arange(kept.size))
        found = at >= 0
        self.deficit[found] = self._kept[at[found]]
        live = member(kept, np.sort(new))
        self._kept_ids, self._kept = self._kept_ids[live], self._kept[live]
        self._changed()

    def _changed(self) -> None:
        self.version += 1
        self._row_of = None
        self._moved = None

    def row_of(self, a: int, b: int) -> int:
        """The first row of the pair of jobs ``a`` and ``b`` (either order), -1 if none."""
        lo, hi = (a, b) if a <= b else (b, a)
        if self._row_of is None:
            # Built from the last row back, so a pair listed twice keeps its first row.
            ids = self.ids[::-1]
            rows = range(ids.shape[0] - 1, -1, -1)
            self._packed = ids.size == 0 or bool(ids.min() >= 0 and ids.max() < _PACK)
            keys: list[Any]
            if self._packed:  # one int per pair: no tuple for the garbage collector
                keys = (ids[:, 0] * _PACK + ids[:, 1]).tolist()
            else:
                keys = list(zip(ids[:, 0].tolist(), ids[:, 1].tolist(), strict=True))
            self._row_of = dict(zip(keys, rows, strict=True))
        if self._packed:
            row = -1 if lo < 0 or hi >= _PACK else self._row_of.get(lo * _PACK + hi, -1)
        else:
            row = self._row_of.get((lo, hi), -1)
        if row < 0 or self._moved is None:
            return row
        return int(self._moved[row])

    def drop_job(self, job_id: int) -> np.ndarray | None:
        """Forgets every pair the job was in (it finished); returns the mask of the
        pairs kept (None: there were none)."""
        if not len(self):
            return None
        keep: np.ndarray = ~(self.ids == job_id).any(axis=1)
        self.ids = self.ids[keep]
        self.allocation = self.allocation[keep]
        self.job_time = self.job_time[keep]
        self.deficit = self.deficit[keep]
        self.version += 1
        if self._row_of is not None:
            # the rows looked up stay; each moves to its place among the kept ones
            now = np.cumsum(keep) - 1
            now[~keep] = -1
            self._moved = (
                now if self._moved is None else np.where(self._moved >= 0, now[self._moved], -1)
            )
        return keep

    def priorities(self, worker_time: np.ndarray) -> np.ndarray:
        return priorities(self.allocation, self.job_time, worker_time)


def _codes(*pair_arrays: np.ndarray) -> list[np.ndarray]:
    """One integer per pair row of each array, equal exactly when the pairs are: the two
    ids packed into one int64 when they fit in 31 bits each, else the pairs' numbers
    among the distinct pairs of all the arrays."""
    joined = np.concatenate([a.reshape(-1, 2) for a in pair_arrays])
    bounds = np.cumsum([a.shape[0] for a in pair_arrays])[:-1]
    if joined.size == 0 or (joined.min() >= 0 and joined.max() < _PACK):
        codes = joined[:, 0] * _PACK + joined[:, 1]
    else:
        codes = np.unique(joined, axis=0, return_inverse=True)[1].reshape(-1)
    return list(np.split(codes.astype(np.int64), bounds))
