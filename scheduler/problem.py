"""The allocator's one input and one output: arrays in, an allocation matrix out."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scheduler.conic import Solution


@dataclass(frozen=True)
class AllocationProblem:
    """Everything a policy may look at, as arrays over ``n`` jobs and ``m`` GPU types.

    Rows are in job-id order (the order of arrival). ``throughputs[i, j]`` is job
    ``i``'s steps/second on ``scale_factors[i]`` GPUs of type ``j`` (0: cannot run
    there). ``previous`` is the allocation in force before this solve, aligned with the
    current rows (zeros for jobs that were not in it), for policies that keep state
    such as FIFO.
    """

    throughputs: np.ndarray
    scale_factors: np.ndarray
    capacities: np.ndarray
    weights: np.ndarray
    remaining_steps: np.ndarray
    times_since_start: np.ndarray
    previous: np.ndarray
    # Finish-time fairness: time-equivalent of the progress made at the isolated rate.
    isolated_time: np.ndarray | None = None
    # Per-type cost (e.g. $/GPU-hour) for cost-normalised throughput; None = all 1.
    type_costs: np.ndarray | None = None
    # The type whose throughput agnostic policies assume everywhere (the reference's V100).
    reference_type: int = 0
    # Job ids of the rows, GPU type names of the columns (for policies that emulate the
    # reference's order of iteration).
    job_ids: np.ndarray | None = None
    type_names: tuple[str, ...] = ()
    # Jobs that held a whole type in the previous allocation and have finished since:
    # (job id, type index, GPU count). The reference's FIFO hands their GPUs on first.
    departed: tuple[tuple[int, int, int], ...] = ()
    # Space sharing: each row's job type (jobs of a type are interchangeable) and, for
    # types A, B and GPU type j, the steps/s of an A job and of a B job sharing GPUs:
    # pair_rates[A, B, j] = (rate of A, rate of B); zeros where they cannot share.
    job_types: np.ndarray | None = None
    pair_rates: np.ndarray | None = None
    # The pairs in force before this solve, as row indices (P x 2).
    previous_pairs: np.ndarray | None = None

    @property
    def num_jobs(self) -> int:
        return int(self.throughputs.shape[0])

    @property
    def num_types(self) -> int:
        return int(self.throughputs.shape[1])

    def pair_data(self) -> tuple[np.ndarray, np.ndarray] | None:
        """What space sharing needs, ``(job_types, pair_rates)``, or None when the problem
        does not carry it (then there is nothing to pack)."""
        if self.job_types is None or self.pair_rates is None or (self.job_types < 0).any():
            return None
        return self.job_types, self.pair_rates

    def isolated_times(self) -> np.ndarray:
        if self.isolated_time is None:
            return np.zeros(self.num_jobs)
        return self.isolated_time

    @property
    def runnable(self) -> np.ndarray:
        """Cells a job may be given time on: positive throughput, a type with GPUs, and
        a job that fits in that type at all."""
        fits = self.scale_factors[:, None] <= self.capacities[None, :]
        return (self.throughputs > 0) & fits

    @classmethod
    def build(
        cls,
        throughputs: np.ndarray,
        scale_factors: np.ndarray,
        capacities: np.ndarray,
        weights: np.ndarray | None = None,
        remaining_steps: np.ndarray | None = None,
        times_since_start: np.ndarray | None = None,
        previous: np.ndarray | None = None,
        isolated_time: np.ndarray | None = None,
        type_costs: np.ndarray | None = None,
        job_ids: np.ndarray | None = None,
        type_names: tuple[str, ...] = (),
        departed: tuple[tuple[int, int, int], ...] = (),
    ) -> AllocationProblem:
        """Convenience constructor that fills the optional arrays with neutral values."""
        t = np.asarray(throughputs, dtype=float)
        n = t.shape[0]
        return cls(
            throughputs=t,
            scale_factors=np.asarray(scale_factors, dtype=np.int64),
            capacities=np.asarray(capacities, dtype=float),
            weights=np.ones(n) if weights is None else np.asarray(weights, dtype=float),
            remaining_steps=(
                np.ones(n) if remaining_steps is None else np.asarray(remaining_steps, float)
            ),
            times_since_start=(
                np.zeros(n) if times_since_start is None else np.asarray(times_since_start, float)
            ),
            previous=np.zeros_like(t) if previous is None else np.asarray(previous, dtype=float),
            isolated_time=None if isolated_time is None else np.asarray(isolated_time, float),
            type_costs=None if type_costs is None else np.asarray(type_costs, float),
            job_ids=None if job_ids is None else np.asarray(job_ids),
            type_names=tuple(type_names),
            departed=tuple(departed),
        )


@dataclass(frozen=True)
class Allocation:
    """A policy's answer: the fraction of time each job should get on each type.

    ``matrix`` is ``n x m`` with rows summing to at most 1 and, per type, GPU-weighted
    columns within capacity. ``solves`` lists the LP solutions it took (empty for
    policies that solve nothing); ``failed`` is set when every solver failed and a
    last-resort allocation was used instead.
    """

    matrix: np.ndarray
    solves: tuple[Solution, ...] = field(default=())
    failed: bool = False
    # Finish-time fairness reports the isolated throughputs it normalised by, so the
    # mechanism can turn the next solve's progress into isolated time.
    isolated_throughputs: np.ndarray | None = None
    # Space sharing: pairs of rows that share GPUs, and their time on each type.
    pairs: np.ndarray | None = None  # P x 2 row indices, first < second
    pair_matrix: np.ndarray | None = None  # P x m
