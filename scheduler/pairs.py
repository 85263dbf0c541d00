"""The round mechanism's state for job pairs that share GPUs (space sharing).

Pairs come from the last solve of a packing policy. Like single jobs, each pair has the
time it received per GPU type since the last reset (starting at half a round) and a
deficit that persists across solves for as long as the pair exists; its priority on a
type is its allocation over its fraction of the type's time. Pairs are named by their
two job ids (ascending).
"""

from __future__ import annotations

import numpy as np

from scheduler.jobstate import priorities


class PairBook:
    """Pairs in force: their job ids, allocation, time received and deficits."""

    def __init__(self, num_types: int) -> None:
        self.num_types = num_types
        self.ids = np.zeros((0, 2), dtype=np.int64)
        self.allocation = np.zeros((0, num_types))
        self.job_time = np.zeros((0, num_types))
        self.deficit = np.zeros((0, num_types))
        self._deficits: dict[tuple[int, int], np.ndarray] = {}

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def reset(self, since: float, half_round: float) -> None:
        """At an allocation reset: time owed becomes deficit, accounting restarts."""
        if not len(self):
            return
        self.deficit += self.allocation * since - (self.job_time - half_round)
        for (a, b), row in zip(self.ids.tolist(), self.deficit, strict=True):
            self._deficits[(a, b)] = row.copy()
        self.job_time[:] = half_round

    def replace(self, ids: np.ndarray, allocation: np.ndarray, half_round: float) -> None:
        """The pairs of a new solve; a pair that persists keeps its deficit."""
        self.ids = np.sort(np.asarray(ids, dtype=np.int64).reshape(-1, 2), axis=1)
        self.allocation = np.asarray(allocation, dtype=float).reshape(-1, self.num_types)
        self.job_time = np.full_like(self.allocation, half_round)
        self.deficit = np.array(
            [self._deficits.get((a, b), np.zeros(self.num_types)) for a, b in self.ids.tolist()]
        ).reshape(-1, self.num_types)
        live = {(a, b) for a, b in self.ids.tolist()}
        self._deficits = {k: v for k, v in self._deficits.items() if k in live}

    def drop_job(self, job_id: int) -> None:
        """Forgets every pair the job was in (it finished)."""
        if not len(self):
            return
        keep = ~(self.ids == job_id).any(axis=1)
        self.ids = self.ids[keep]
        self.allocation = self.allocation[keep]
        self.job_time = self.job_time[keep]
        self.deficit = self.deficit[keep]

    def priorities(self, worker_time: np.ndarray) -> np.ndarray:
        return priorities(self.allocation, self.job_time, worker_time)
