"""The scheduler's view of the active jobs: compact arrays in job-id order.

One row per job that has arrived and not finished. Rows are kept sorted by job id
(ids only grow, so an arrival appends), which is the order the reference breaks
priority ties in.
"""

from __future__ import annotations

import numpy as np


class ActiveJobs:
    """Per-job arrays for ``n`` active jobs over ``m`` GPU types."""

    def __init__(self, num_types: int) -> None:
        m = num_types
        self.num_types = m
        self.ids = np.zeros(0, dtype=np.int64)
        self.throughputs = np.zeros((0, m))
        # Each job's throughput on its fastest type (0 if it can run nowhere).
        self.fastest = np.zeros(0)
        self.scale_factors = np.zeros(0, dtype=np.int64)
        self.weights = np.zeros(0)
        self.total_steps = np.zeros(0)
        self.done_steps = np.zeros(0)
        self.arrival = np.zeros(0)
        # Time received per type since the last allocation reset (starts at half a round).
        self.job_time = np.zeros((0, m))
        # Service received per type since arrival (the completion tracker's count).
        self.received = np.zeros((0, m))
        self.deficit = np.zeros((0, m))
        # The allocation in force; rows of jobs that arrived after the last solve are 0.
        self.allocation = np.zeros((0, m))
        self.in_allocation = np.zeros(0, dtype=bool)
        # Finish-time fairness: isolated-time equivalent of the progress so far, and the
        # isolated throughput and remaining steps at the previous solve (NaN: none).
        self.isolated_time = np.zeros(0)
        self.isolated_rate_prev = np.zeros(0)
        self.remaining_prev = np.zeros(0)
        # Space sharing: each job's type (index into the mechanism's table), -1 if none.
        self.job_type = np.zeros(0, dtype=np.int64)
        # Bumped whenever rows change (an arrival or a departure): rows looked up at one
        # version hold until the next.
        self.version = 0

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def add(
        self,
        job_id: int,
        throughputs: np.ndarray,
        scale_factor: int,
        weight: float,
        total_steps: float,
        arrival: float,
        initial_job_time: float,
        job_type: int = -1,
    ) -> None:
        """Appends a job; its id must exceed every active id."""
        if len(self) and job_id <= int(self.ids[-1]):
            raise ValueError(f"job {job_id} arrives out of id order")
        m = self.num_types
        self.ids = np.append(self.ids, job_id)
        row = np.asarray(throughputs).reshape(1, m)
        self.throughputs = np.vstack([self.throughputs, row])
        self.fastest = np.append(self.fastest, row.max(axis=1, initial=0.0))
        self.scale_factors = np.append(self.scale_factors, scale_factor)
        self.weights = np.append(self.weights, weight)
        self.total_steps = np.append(self.total_steps, total_steps)
        self.done_steps = np.append(self.done_steps, 0.0)
        self.arrival = np.append(self.arrival, arrival)
        self.job_time = np.vstack([self.job_time, np.full((1, m), initial_job_time)])
        self.received = np.vstack([self.received, np.zeros((1, m))])
        self.deficit = np.vstack([self.deficit, np.zeros((1, m))])
        self.allocation = np.vstack([self.allocation, np.zeros((1, m))])
        self.in_allocation = np.append(self.in_allocation, False)
        self.isolated_time = np.append(self.isolated_time, 0.0)
        self.isolated_rate_prev = np.append(self.isolated_rate_prev, np.nan)
        self.remaining_prev = np.append(self.remaining_prev, np.nan)
        self.job_type = np.append(self.job_type, job_type)
        self.version += 1

    def index(self, job_id: int) -> int:
        """Row of an active job (a binary search of the sorted ids); ``KeyError`` if it
        is not active."""
        ids = self.ids
        i = int(ids.searchsorted(job_id))
        if i < ids.shape[0] and ids[i] == job_id:
            return i
        raise KeyError(f"job {job_id} is not active")

    def __contains__(self, job_id: object) -> bool:
        if not isinstance(job_id, int):
            return False
        try:
            self.index(job_id)
        except KeyError:
            return False
        return True

    def remove(self, job_id: int) -> None:
        keep = np.ones(self.ids.shape[0], dtype=bool)
        keep[self.index(job_id)] = False
        for name in (
            "ids",
            "throughputs",
            "fastest",
            "scale_factors",
            "weights",
            "total_steps",
            "done_steps",
            "arrival",
            "job_time",
            "received",
            "deficit",
            "allocation",
            "in_allocation",
            "isolated_time",
            "isolated_rate_prev",
            "remaining_prev",
            "job_type",
        ):
            setattr(self, name, getattr(self, name)[keep])
        self.version += 1

    def rows(self, job_ids: list[int]) -> np.ndarray:
        """Rows of active jobs, as an array (one vectorised binary search); ``KeyError``
        if one is not active."""
        ids = self.ids
        wanted = np.asarray(job_ids, dtype=np.int64)
        out: np.ndarray = ids.searchsorted(wanted)
        found = out < ids.shape[0]
        found[found] = ids[out[found]] == wanted[found]
        if not found.all():
            raise KeyError(f"job {int(wanted[np.argmin(found)])} is not active")
        return out

    def remaining(self) -> np.ndarray:
        out: np.ndarray = self.total_steps - self.done_steps
        return out


# Priority of a combination with an allocation on a type that has had no time yet.
UNSERVED_PRIORITY_SCALE = 1e9


def priorities(allocation: np.ndarray, job_time: np.ndarray, worker_time: np.ndarray) -> np.ndarray:
    """Allocation over the fraction of each type's time received since the last reset
    (the reference's priority), for jobs and job pairs alike; 0 where nothing is
    allocated, a huge value where the type has had no time yet."""
    wt = worker_time[None, :]
    fraction = np.divide(job_time, wt, out=np.zeros_like(job_time), where=wt != 0)
    out: np.ndarray = np.divide(
        allocation, fraction, out=allocation * UNSERVED_PRIORITY_SCALE, where=fraction > 0
    )
    out[allocation == 0] = 0.0
    return out
