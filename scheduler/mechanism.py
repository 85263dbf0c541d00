"""The round mechanism: turns an allocation into per-round placements, as the reference does.

At each round boundary :meth:`RoundMechanism.plan_round`

1. re-solves the allocation, but only when the set of jobs changed since the last
   solve and at least ``reset_interval_s`` (1920 s) have passed since the last reset
   (or no reset has happened at a time > 0 yet). A reset first turns what each job
   received into a deficit and restarts the time accounting at half a round per job;
2. computes priorities: allocation / fraction of the type's time the job received
   since the reset (a huge value before the type has any time);
3. walks the GPU types (fixed fastest-first order for heterogeneity-aware policies, a
   freshly shuffled order otherwise) and, per type, the jobs in descending
   (priority, deficit, allocation) order, placing each job at most once, only where
   its throughput is positive and only if its GPUs fit. Non-FIFO policies are
   work-conserving (a job may use leftover GPUs where its allocation is 0); a job that
   arrived after the last solve takes its place in the queue but is not run;
4. gives each placed job ``min(int(throughput * round), remaining)`` steps.

No SimPy, no logging: the DES layer calls it and reports what it returns.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from scheduler.jobstate import ActiveJobs
from scheduler.policies import PolicyContext
from scheduler.problem import Allocation, AllocationProblem
from scheduler.registry import PolicySpec

# Priority of a job with an allocation on a type that has had no time yet.
UNSERVED_PRIORITY_SCALE = 1e9


class Placer(Protocol):
    """What the mechanism needs from the cluster's placement (see cluster.placement)."""

    def begin_round(self) -> None: ...

    def reserve(
        self, key: int, type_index: int, num_gpus: int, previous: tuple[int, ...] | None
    ) -> bool: ...

    def commit(self) -> dict[int, tuple[int, ...]]: ...


@dataclass(frozen=True)
class MechanismConfig:
    """Round length and the minimum time between allocation resets, in seconds."""

    round_s: float = 360.0
    reset_interval_s: float = 1920.0

    def __post_init__(self) -> None:
        if not self.round_s > 0:
            raise ValueError("round length must be > 0")
        if not self.reset_interval_s >= 0:
            raise ValueError("reset interval must be >= 0")


@dataclass(frozen=True, slots=True)
class Dispatch:
    """One job's work for one round: where it runs, how many steps, for how long."""

    job_id: int
    type_index: int
    gpus: tuple[int, ...]
    steps: float
    duration: float


@dataclass(frozen=True)
class SolveReport:
    """An allocation re-solve: when, for which jobs (row order), and the policy's answer."""

    time: float
    job_ids: np.ndarray
    allocation: Allocation


@dataclass(frozen=True)
class RoundPlan:
    """What a round boundary decided."""

    dispatches: tuple[Dispatch, ...]
    solve: SolveReport | None
    type_order: tuple[int, ...]
    phantom_jobs: int  # selected but not run: arrived after the last solve


class RoundMechanism:
    """The reference's priority-based round mechanism over the active jobs."""

    def __init__(
        self,
        policy: PolicySpec,
        capacities: np.ndarray,
        config: MechanismConfig,
        *,
        type_rng: random.Random,
        policy_rng: random.Random,
        solvers: tuple[str, ...],
        quirks: bool = False,
        tie_break: bool = True,
        reference_type: int = 0,
        type_costs: np.ndarray | None = None,
        type_names: tuple[str, ...] = (),
    ) -> None:
        self.policy = policy
        self.capacities = np.asarray(capacities, dtype=np.int64)
        self.config = config
        self.jobs = ActiveJobs(len(self.capacities))
        self.worker_time = np.zeros(len(self.capacities))
        self.last_reset = 0.0
        self.need_update = False
        self.rounds = 0
        self.allocation_s = 0.0  # wall time inside the policy (building and solving)
        self._type_rng = type_rng
        self._context = PolicyContext(
            rng=policy_rng, solvers=solvers, quirks=quirks, tie_break=tie_break
        )
        self.reference_type = reference_type
        self.type_costs = type_costs
        self._present_types = [k for k, c in enumerate(self.capacities) if c > 0]
        # Jobs that held a whole type and left since the last solve (FIFO hands them on).
        self._departed: list[tuple[int, int, int]] = []
        self.type_names = type_names
        # GPUs each job ran on in the previous round (a lease it may keep).
        self.last_gpus: dict[int, tuple[int, ...]] = {}

    # -- the job set -------------------------------------------------------------------

    def add_job(
        self,
        job_id: int,
        throughputs: np.ndarray,
        scale_factor: int,
        weight: float,
        total_steps: float,
        arrival: float,
    ) -> None:
        self.jobs.add(
            job_id,
            throughputs,
            scale_factor,
            weight,
            total_steps,
            arrival,
            initial_job_time=self.config.round_s / 2.0,
        )
        self.need_update = True

    def remove_job(self, job_id: int) -> None:
        jobs = self.jobs
        i = jobs.index(job_id)
        row = jobs.allocation[i]
        if jobs.in_allocation[i] and row.max(initial=0.0) >= 0.5:
            self._departed.append((job_id, int(np.argmax(row)), int(jobs.scale_factors[i])))
        jobs.remove(job_id)
        self.last_gpus.pop(job_id, None)
        self.need_update = True

    def credit(self, job_id: int, type_index: int, steps: float, seconds: float) -> bool:
        """Credits a finished slice; returns True when the job has no work left."""
        jobs = self.jobs
        i = jobs.index(job_id)
        jobs.done_steps[i] += steps
        jobs.job_time[i, type_index] += seconds
        self.worker_time[type_index] += seconds
        return bool(jobs.total_steps[i] - jobs.done_steps[i] <= 0)

    # -- a round -------------------------------------------------------------------------

    def plan_round(self, now: float, placer: Placer) -> RoundPlan:
        """Decides the next round's placements at time ``now``."""
        self.rounds += 1
        solve = self._maybe_resolve(now)
        order = list(self._present_types)
        if not self.policy.fixed_type_order:
            self._type_rng.shuffle(order)
        jobs = self.jobs
        if len(jobs) == 0:
            self.last_gpus = {}
            return RoundPlan((), solve, tuple(order), 0)

        priorities = self._priorities()
        selected, phantoms = self._select(order, priorities, placer)
        placed = placer.commit()
        dispatches = self._dispatch(selected, placed)
        self.last_gpus = {d.job_id: d.gpus for d in dispatches}
        return RoundPlan(dispatches, solve, tuple(order), phantoms)

    def _maybe_resolve(self, now: float) -> SolveReport | None:
        since = now - self.last_reset
        due = since >= self.config.reset_interval_s or self.last_reset == 0
        if not (self.need_update and due):
            return None
        jobs = self.jobs
        half = self.config.round_s / 2.0
        # What each job should have had since the last reset, minus what it got.
        received = jobs.job_time - half
        should = jobs.allocation * since
        jobs.deficit += should - received
        jobs.job_time[:] = half
        self.worker_time[:] = half * len(jobs)
        self.last_reset = now
        remaining = jobs.remaining()
        # Progress since the previous solve, in time at the isolated rate of then.
        seen = ~np.isnan(jobs.isolated_rate_prev) & (jobs.isolated_rate_prev > 0)
        jobs.isolated_time[seen] += (jobs.remaining_prev[seen] - remaining[seen]) / (
            jobs.isolated_rate_prev[seen]
        )
        problem = AllocationProblem(
            throughputs=jobs.throughputs,
            scale_factors=jobs.scale_factors,
            capacities=self.capacities.astype(float),
            weights=jobs.weights,
            remaining_steps=remaining,
            times_since_start=now - jobs.arrival,
            previous=jobs.allocation.copy(),
            isolated_time=jobs.isolated_time.copy(),
            type_costs=self.type_costs,
            reference_type=self.reference_type,
            job_ids=jobs.ids.copy(),
            type_names=self.type_names,
            departed=tuple(self._departed),
        )
        self._departed = []
        started = time.perf_counter()
        allocation = self.policy.allocate(problem, self._context)
        self.allocation_s += time.perf_counter() - started
        if allocation.isolated_throughputs is not None:
            jobs.isolated_rate_prev = np.asarray(allocation.isolated_throughputs, float).copy()
            jobs.remaining_prev = remaining.copy()
        jobs.allocation = np.array(allocation.matrix, dtype=float, copy=True)
        jobs.in_allocation[:] = True
        self.need_update = False
        return SolveReport(now, jobs.ids.copy(), allocation)

    def _priorities(self) -> np.ndarray:
        jobs = self.jobs
        wt = self.worker_time[None, :]
        fraction = np.divide(jobs.job_time, wt, out=np.zeros_like(jobs.job_time), where=wt != 0)
        alloc = jobs.allocation
        ratio = np.divide(alloc, fraction, out=alloc * UNSERVED_PRIORITY_SCALE, where=fraction > 0)
        ratio[(alloc == 0) | (jobs.throughputs == 0)] = 0.0
        return ratio

    def _select(
        self, order: list[int], priorities: np.ndarray, placer: Placer
    ) -> tuple[list[tuple[int, int]], int]:
        """Greedy per-type walk in priority order; returns (row, type) pairs to run."""
        jobs = self.jobs
        n = len(jobs)
        ids = jobs.ids
        scale = jobs.scale_factors.tolist()
        in_alloc = jobs.in_allocation.tolist()
        id_list = ids.tolist()
        left = self.capacities.tolist()
        scheduled = [False] * n
        selected: list[tuple[int, int]] = []
        phantoms = 0
        placer.begin_round()
        fifo_like = self.policy.fifo_like
        for k in order:
            if left[k] <= 0:
                continue
            prio = priorities[:, k]
            # Keys compared at 7 significant digits: solver noise must not break a tie.
            rank = np.lexsort(
                (
                    ids,
                    -_key(jobs.allocation[:, k]),
                    -_key(jobs.deficit[:, k]),
                    -_key(prio),
                )
            )
            eligible = jobs.throughputs[rank, k] > 0
            if fifo_like:
                eligible &= prio[rank] > 0
            for i in rank[eligible].tolist():
                if scheduled[i]:
                    continue
                s = scale[i]
                if s > left[k]:
                    continue
                if in_alloc[i]:
                    job_id = id_list[i]
                    if not placer.reserve(job_id, k, s, self.last_gpus.get(job_id)):
                        continue
                    selected.append((i, k))
                else:
                    phantoms += 1
                left[k] -= s
                scheduled[i] = True
                if left[k] == 0:
                    break
        return selected, phantoms

    def _dispatch(
        self, selected: list[tuple[int, int]], placed: dict[int, tuple[int, ...]]
    ) -> tuple[Dispatch, ...]:
        if not selected:
            return ()
        jobs = self.jobs
        rows = np.fromiter((i for i, _ in selected), dtype=np.int64, count=len(selected))
        types = np.fromiter((k for _, k in selected), dtype=np.int64, count=len(selected))
        rates = jobs.throughputs[rows, types]
        remaining = jobs.total_steps[rows] - jobs.done_steps[rows]
        per_round = np.floor(rates * self.config.round_s)
        # Slower than one step a round: run the fraction rather than stall forever.
        per_round = np.where(per_round == 0, rates * self.config.round_s, per_round)
        steps = np.minimum(per_round, remaining)
        durations = steps / rates
        ids = jobs.ids[rows].tolist()
        return tuple(
            Dispatch(j, k, placed[j], s, d)
            for j, k, s, d in zip(
                ids, types.tolist(), steps.tolist(), durations.tolist(), strict=True
            )
        )


def _key(values: np.ndarray) -> np.ndarray:
    """Sort key at float32 precision (about 7 significant digits)."""
    return values.astype(np.float32)
