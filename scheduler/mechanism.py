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
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from itertools import repeat
from typing import NamedTuple, Protocol

import numpy as np

from scheduler.jobstate import ActiveJobs, priorities
from scheduler.pairs import PairBook
from scheduler.policies import FTF_DEFAULT, PolicyContext
from scheduler.problem import Allocation, AllocationProblem
from scheduler.registry import PolicySpec

# With quirks, a job whose micro-task fails this many rounds in a row is dropped as
# failed, as the reference drops it (its MAX_FAILED_ATTEMPTS).
MAX_FAILED_ATTEMPTS = 5
# A pair round's walk sorts its entries this many at first, four times as many after
# each chunk the walk has gone through (most walks end within the first chunk).
WALK_CHUNK = 64
# A pair round with at most this many entries (jobs + pairs) sorts every type's walk at
# once (:func:`_pair_candidates`): on few entries one sort costs less
# than a lazy walk per type. Both give the walk the same entries in the same order.
PAIR_BATCH_MAX = 512


class Placer(Protocol):
    """What the mechanism needs from the cluster's placement (see cluster.placement)."""

    def begin_round(self) -> None: ...

    def reserve(
        self, key: int, type_index: int, num_gpus: int, previous: tuple[int, ...] | None
    ) -> bool: ...

    def commit(self) -> dict[int, tuple[int, ...]]: ...

    # One GPU per server: a job that fits its type's free GPUs always fits, and a whole
    # round can be placed at once.
    counts_only: bool

    def place_counted(
        self,
        keys: list[int],
        types: list[int],
        sizes: list[int],
        previous: list[tuple[int, ...] | None],
    ) -> dict[int, tuple[int, ...]]: ...


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


class Dispatch(NamedTuple):
    """One job's work for one round: where it runs, how many steps, for how long.

    (A named tuple rather than a frozen dataclass: a round makes one per running job,
    and a tuple is made in a third of the time.)"""

    job_id: int
    type_index: int
    gpus: tuple[int, ...]
    steps: float
    duration: float
    # Space sharing: the job sharing these GPUs (-1: none) and its steps this round;
    # ``duration`` is then the longer of the two.
    partner: int = -1
    partner_steps: float = 0.0


# A single job's partner fields (none), as Dispatch's defaults give them.
_NO_PARTNER = (Dispatch._field_defaults["partner"], Dispatch._field_defaults["partner_steps"])


def _split(selected: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """A walk's (row, type) selection as two arrays."""
    n = len(selected)
    rows = np.fromiter((i for i, _ in selected), dtype=np.int64, count=n)
    types = np.fromiter((k for _, k in selected), dtype=np.int64, count=n)
    return rows, types


class PairCredits(NamedTuple):
    """The pairs among a run of slices credited together: which slices are pairs, their
    partners' rows and steps, and every slice's asked-for duration."""

    paired: np.ndarray
    partner_rows: np.ndarray
    partner_steps: np.ndarray
    durations: np.ndarray


class SliceColumns(NamedTuple):
    """A round of single-job slices as columns, in dispatch order: what the completion
    tracker reads instead of taking the dispatches apart. ``rows``: the jobs' rows when
    the round was planned."""

    rows: np.ndarray
    ids: np.ndarray
    types: np.ndarray
    steps: np.ndarray
    durations: np.ndarray
    gpus: np.ndarray  # GPUs per slice, as floats


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
    # The dispatches as columns, when they are all single jobs' (the tracker reads these).
    columns: SliceColumns | None = None


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
        ftf_isolated: str = FTF_DEFAULT,
        job_classes: bool = True,
        reference_type: int = 0,
        type_costs: np.ndarray | None = None,
        type_names: tuple[str, ...] = (),
        pair_rates: Callable[[Hashable, Hashable], np.ndarray] | None = None,
    ) -> None:
        self.policy = policy
        self.capacities = np.asarray(capacities, dtype=np.int64)
        self.config = config
        self.jobs = ActiveJobs(len(self.capacities))
        self.worker_time = np.zeros(len(self.capacities))
        self.last_reset = 0.0
        self.need_update = False
        self.allocation_s = 0.0  # wall time inside the policy (building and solving)
        self._type_rng = type_rng
        self._context = PolicyContext(
            rng=policy_rng,
            solvers=solvers,
            quirks=quirks,
            tie_break=tie_break,
            ftf_isolated=ftf_isolated,
            job_classes=job_classes,
        )
        self.reference_type = reference_type
        self.type_costs = type_costs
        self._present_types = [k for k, c in enumerate(self.capacities) if c > 0]
        # Jobs that held a whole type and left since the last solve (FIFO hands them on).
        self._departed: list[tuple[int, int, int]] = []
        self.type_names = type_names
        # GPUs each job ran on in the previous round (a lease it may keep).
        self.last_gpus: dict[int, tuple[int, ...]] = {}
        # Space sharing: job types seen so far, their pair throughputs, pairs in force.
        self._pair_rates_of = pair_rates
        self._type_index: dict[Hashable, int] = {}
        self._type_keys: list[Hashable] = []
        self._pair_table = np.zeros((0, 0, len(self.capacities), 2))
        self.pairs = PairBook(len(self.capacities))
        # The rows of the pairs in force and where each may run (see :meth:`_pair_view`)
        self._pair_rows: _PairRows | None = None
        # Sort keys of the per-type walk: the reference sorts its float64 priorities as
        # they are, so with quirks near-ties (1e-15 apart) resolve as they do there.
        self._key = _exact_key if quirks else _key
        self.quirks = quirks
        # Consecutive failed micro-tasks per job (quirks only; see :meth:`credit`).
        self._failures: dict[int, int] = {}
        # The last round's walk, placement and slices (see :meth:`_plan_singles`);
        # dropped whenever the job set or the allocation changes.
        self._memo: _WalkMemo | None = None
        # Rounds that reused the last one's walk: its inputs were the same, or (one GPU
        # per server) the walk selected the same.
        self.reused_by_inputs = 0
        self.reused_by_selection = 0

    # -- the job set -------------------------------------------------------------------

    def add_job(
        self,
        job_id: int,
        throughputs: np.ndarray,
        scale_factor: int,
        weight: float,
        total_steps: float,
        arrival: float,
        type_key: Hashable | None = None,
    ) -> None:
        before = (self.jobs.version, self.pairs.version)
        self.jobs.add(
            job_id,
            throughputs,
            scale_factor,
            weight,
            total_steps,
            arrival,
            initial_job_time=self.config.round_s / 2.0,
            job_type=self._job_type(type_key, scale_factor, weight),
        )
        self._carry_pair_rows(before)
        self.need_update = True
        # The last walk stays valid: the job takes the last row (no other row moves), and
        # a walk whose candidates leave it out is the last one over the same rows (it
        # can only stop later, once every other job is taken, with nothing left to take).

    def _job_type(self, key: Hashable | None, scale_factor: int, weight: float) -> int:
        """The index of a job's type (jobs of a type are interchangeable when packing)."""
        if key is None or self._pair_rates_of is None:
            return -1
        full = (key, scale_factor, weight)
        if full not in self._type_index:
            t = len(self._type_keys)
            self._type_index[full] = t
            self._type_keys.append(key)
            old = self._pair_table
            table = np.zeros((t + 1, t + 1, len(self.capacities), 2))
            table[:t, :t] = old
            for u, other in enumerate(self._type_keys):
                rates = np.asarray(self._pair_rates_of(key, other), dtype=float)
                table[t, u] = rates
                table[u, t] = rates[:, ::-1]
            self._pair_table = table
        return self._type_index[full]

    def remove_job(self, job_id: int) -> None:
        jobs = self.jobs
        before = (jobs.version, self.pairs.version)
        i = jobs.index(job_id)
        row = jobs.allocation[i]
        if jobs.in_allocation[i] and row.max(initial=0.0) >= 0.5:
            self._departed.append((job_id, int(np.argmax(row)), int(jobs.scale_factors[i])))
        jobs.remove(job_id)
        self._failures.pop(job_id, None)
        self.last_gpus.pop(job_id, None)
        kept = self.pairs.drop_job(job_id)
        self._carry_pair_rows(before, i, kept)
        self.need_update = True
        self._memo = None

    def _carry_pair_rows(
        self, before: tuple[int, int], removed: int = -1, kept: np.ndarray | None = None
    ) -> None:
        """Brings :meth:`_pair_view`'s rows of the pairs up to date after a job came (it
        takes the last row: no pair's rows move) or left (row ``removed``; its pairs
        are gone, ``kept`` the mask of the others, and rows after it move up one), as
        rebuilding them would, when they were up to date ``before`` and every pair's
        jobs were active."""
        cache = self._pair_rows
        if cache is None or cache.stamp != before or not cache.complete:
            return
        stamp = (self.jobs.version, self.pairs.version)
        if removed < 0:
            self._pair_rows = cache._replace(stamp=stamp)
            return
        rows, ok = cache.rows, cache.ok
        if kept is not None:
            rows, ok = rows[kept], ok[kept]
        rows = rows - (rows > removed)
        self._pair_rows = _PairRows.of(stamp, rows, ok, complete=True)

    def credit(
        self, job_id: int, type_index: int, steps: float, seconds: float, num_gpus: int = 1
    ) -> str:
        """Credits a finished slice; returns ``"done"`` when the job has no work left,
        ``"failed"`` when (with quirks) it is to be dropped as failed, else ``"running"``.

        With quirks, a multi-GPU slice of fewer steps than GPUs is the reference's failed
        micro-task: it splits a slice's steps over the job's workers, one of them gets
        none, and such a micro-task counts for nothing (no steps, no time) but a new
        solve; after MAX_FAILED_ATTEMPTS in a row the job is dropped. Without quirks
        the job simply runs its last steps.
        """
        jobs = self.jobs
        i = jobs.index(job_id)
        if self.quirks:
            if steps < num_gpus:
                failures = self._failures.get(job_id, 0) + 1
                self._failures[job_id] = failures
                self.need_update = True
                return "failed" if failures >= MAX_FAILED_ATTEMPTS else "running"
            self._failures.pop(job_id, None)
        jobs.done_steps[i] += steps
        jobs.job_time[i, type_index] += seconds
        self.worker_time[type_index] += seconds
        return "done" if jobs.total_steps[i] - jobs.done_steps[i] <= 0 else "running"

    def credit_run(
        self,
        job_ids: list[int],
        types: np.ndarray,
        steps: np.ndarray,
        seconds: np.ndarray,
        rows: np.ndarray | None = None,
        pairs: PairCredits | None = None,
    ) -> None:
        """Credits finished slices none of which ends its job (each job in one slice),
        as :meth:`credit` and :meth:`credit_pair` would one after another: per-job sums
        are single additions, and each type's worker time a running sum in the slices'
        order. ``rows``: the (first) jobs' rows, when the caller has them; ``pairs``: the
        slices that are pairs, if any."""
        jobs = self.jobs
        if self.quirks and self._failures:
            single_ids = (
                job_ids
                if pairs is None
                else [j for j, p in zip(job_ids, pairs.paired.tolist(), strict=True) if not p]
            )
            for job_id in single_ids:
                self._failures.pop(job_id, None)
        if rows is None:
            rows = jobs.rows(job_ids)
        jobs.done_steps[rows] += steps
        if pairs is None:
            jobs.job_time[rows, types] += seconds
            running_sums(self.worker_time, types, seconds)
            return
        paired, single = pairs.paired, ~pairs.paired
        jobs.done_steps[pairs.partner_rows] += pairs.partner_steps
        jobs.job_time[rows[single], types[single]] += seconds[single]
        # A pair's time goes to the pair (by its asked-for duration, as credit_pair).
        book = self.pairs
        firsts = jobs.ids[rows[paired]].tolist()
        partners = jobs.ids[pairs.partner_rows].tolist()
        pair_rows = np.array(
            [book.row_of(a, b) for a, b in zip(firsts, partners, strict=True)], dtype=np.int64
        )
        known = pair_rows >= 0
        pair_types = types[paired]
        book.job_time[pair_rows[known], pair_types[known]] += pairs.durations[paired][known]
        running_sums(self.worker_time, types, np.where(paired, pairs.durations, seconds))

    def credit_pair(self, d: Dispatch) -> tuple[bool, bool]:
        """Credits a finished pair slice to both jobs and to the pair; returns, for each
        job, whether it has no work left."""
        jobs = self.jobs
        done = []
        for job_id, steps in ((d.job_id, d.steps), (d.partner, d.partner_steps)):
            i = jobs.index(job_id)
            jobs.done_steps[i] += steps
            done.append(bool(jobs.total_steps[i] - jobs.done_steps[i] <= 0))
        row = self.pairs.row_of(d.job_id, d.partner)
        if row >= 0:
            self.pairs.job_time[row, d.type_index] += d.duration
        self.worker_time[d.type_index] += d.duration
        return done[0], done[1]

    # -- a round -------------------------------------------------------------------------

    def plan_round(self, now: float, placer: Placer) -> RoundPlan:
        """Decides the next round's placements at time ``now``."""
        solve = self._maybe_resolve(now)
        order = list(self._present_types)
        if not self.policy.fixed_type_order:
            self._type_rng.shuffle(order)
        jobs = self.jobs
        if len(jobs) == 0:
            self.last_gpus = {}
            return RoundPlan((), solve, tuple(order), 0)

        view = self._pair_view()
        prio = self._priorities()
        if view[0].shape[0]:
            walk_order = self._pair_walk_order(prio, view)
            candidates = (
                _pair_candidates(order, walk_order)
                if walk_order.eligible.shape[0] <= PAIR_BATCH_MAX
                else None
            )
            selected, selected_pairs, phantoms = self._select(
                order, view, placer, candidates, walk_order
            )
            placed = placer.commit()
            dispatches = self._dispatch(selected, selected_pairs, view.rows, placed)
            columns = None
        else:
            dispatches, phantoms, columns = self._plan_singles(order, prio, placer)
        self.last_gpus = {d.job_id: d.gpus for d in dispatches}
        return RoundPlan(dispatches, solve, tuple(order), phantoms, columns)

    def _plan_singles(
        self, order: list[int], prio: np.ndarray, placer: Placer
    ) -> tuple[tuple[Dispatch, ...], int, SliceColumns]:
        """A round without pairs: the walk, the placement and the slices, reusing the
        last round's where their inputs are the same.

        The walk and the placement are a function of the job set (ids, sizes, who is in
        the allocation), the type order, the per-type candidates in walk order and the
        GPUs each job held last round; when all of these equal the last round's, so do
        the selection and the placement, and the walk, the reservations and the commit
        are skipped.
        The slices are rebuilt unless their steps and durations are the same too.

        On a placer that only counts GPUs (one GPU per server: ``counts_only``) a job
        that fits the GPUs its type has left is always reserved, so the walk runs
        without the placer and the placer then places the whole selection at once
        (``place_counted``); when the walk selects what the last round selected (the
        candidates' order changed, not the outcome), the placement is reused too.
        """
        candidates = self._candidates(order, prio)
        memo = self._memo
        same_gpus = memo is not None and memo.last_gpus == self.last_gpus
        if same_gpus and memo is not None and memo.order == order and memo.candidates == candidates:
            self.reused_by_inputs += 1
            return self._reuse(memo)
        jobs = self.jobs
        if placer.counts_only:
            selected, _pairs, phantoms = self._select(order, _NO_PAIRS, None, candidates)
            if same_gpus and memo is not None and memo.selected == selected:
                memo.order, memo.candidates, memo.phantoms = list(order), candidates, phantoms
                self.reused_by_selection += 1
                return self._reuse(memo)
            rows, types = _split(selected)
            keys = jobs.ids[rows].tolist()
            placed = placer.place_counted(
                keys,
                types.tolist(),
                jobs.scale_factors[rows].tolist(),
                list(map(self.last_gpus.get, keys)),
            )
        else:
            selected, _pairs, phantoms = self._select(order, _NO_PAIRS, placer, candidates)
            placed = placer.commit()
            rows, types = _split(selected)
        rates = jobs.throughputs[rows, types]
        steps, durations = self._slices(rows, types, rates)
        dispatches = self._singles(rows, types, steps, durations, placed)
        columns = self._columns(rows, types, steps, durations)
        self._memo = _WalkMemo(
            list(order),
            candidates,
            selected,
            dict(self.last_gpus),
            rows,
            types,
            rates,
            placed,
            phantoms,
            steps.tolist(),
            durations.tolist(),
            dispatches,
            columns,
        )
        return dispatches, phantoms, columns

    def _reuse(self, memo: _WalkMemo) -> tuple[tuple[Dispatch, ...], int, SliceColumns]:
        """The memo's round again: its slices, rebuilt if their steps or durations
        changed (a job with less than a round's work left)."""
        steps, durations = self._slices(memo.rows, memo.types, memo.rates)
        step_list, duration_list = steps.tolist(), durations.tolist()
        if step_list != memo.steps or duration_list != memo.durations:
            memo.steps, memo.durations = step_list, duration_list
            memo.dispatches = self._singles(memo.rows, memo.types, steps, durations, memo.placed)
            memo.columns = self._columns(memo.rows, memo.types, steps, durations)
        return memo.dispatches, memo.phantoms, memo.columns

    def _columns(
        self,
        rows: np.ndarray,
        types: np.ndarray,
        steps: np.ndarray,
        durations: np.ndarray,
    ) -> SliceColumns:
        """The round's single-job slices as columns (a slice's GPUs: its job's size)."""
        jobs = self.jobs
        return SliceColumns(
            rows,
            jobs.ids[rows],
            types,
            steps,
            durations,
            jobs.scale_factors[rows].astype(float),
        )

    def _candidates(self, order: list[int], prio: np.ndarray) -> list[list[int]]:
        """Per type of ``order``, the rows eligible for it in the walk's order: priority,
        then deficit, then allocation, all descending, then job id (no pairs)."""
        jobs = self.jobs
        key = self._key
        eligible = jobs.throughputs > 0
        if self.policy.fifo_like:
            eligible &= prio > 0
        # One stable sort of every type's column at once; rows are in job-id order, so a
        # stable sort breaks the last ties by id without an id key. Only the rows
        # eligible somewhere are sorted (a stable sort of a subset keeps its order in
        # the whole): FIFO's thousands of waiting jobs are eligible nowhere.
        anywhere = eligible.any(axis=1)
        rows = slice(None) if anywhere.all() else np.flatnonzero(anywhere)
        rank = np.lexsort(
            (-key(jobs.allocation[rows]), -key(jobs.deficit[rows]), -key(prio[rows])), axis=0
        )
        if not isinstance(rows, slice):
            rank = rows[rank]  # positions in the subset -> rows
        return [rank[:, k][eligible[rank[:, k], k]].tolist() for k in order]

    def _singles(
        self,
        rows: np.ndarray,
        types: np.ndarray,
        steps: np.ndarray,
        durations: np.ndarray,
        placed: dict[int, tuple[int, ...]],
    ) -> tuple[Dispatch, ...]:
        ids = self.jobs.ids[rows].tolist()
        # tuple.__new__ over zipped fields: what Dispatch(...) does, without a Python-level
        # call per slice (2.5x faster on a round of thousands).
        fields = zip(
            ids,
            types.tolist(),
            map(placed.__getitem__, ids),
            steps.tolist(),
            durations.tolist(),
            repeat(_NO_PARTNER[0]),
            repeat(_NO_PARTNER[1]),
        )
        return tuple(map(tuple.__new__, repeat(Dispatch), fields))

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
        self.pairs.reset(since, half)
        self.worker_time[:] = half * (len(jobs) + len(self.pairs))
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
            job_types=jobs.job_type.copy() if self.policy.packing else None,
            pair_rates=self._pair_table if self.policy.packing else None,
            previous_pairs=self._previous_pair_rows() if self.policy.packing else None,
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
        if allocation.pairs is not None and allocation.pair_matrix is not None:
            self.pairs.replace(jobs.ids[allocation.pairs], allocation.pair_matrix, half)
        self.need_update = False
        self._memo = None
        return SolveReport(now, jobs.ids.copy(), allocation)

    def _priorities(self) -> np.ndarray:
        jobs = self.jobs
        out = priorities(jobs.allocation, jobs.job_time, self.worker_time)
        out[jobs.throughputs == 0] = 0.0
        return out

    def _select(
        self,
        order: list[int],
        view: _PairView,
        placer: Placer | None,
        candidates: list[list[int]] | None = None,
        walk_order: _PairOrder | None = None,
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]], int]:
        """Greedy per-type walk in priority order over single jobs and pairs; returns the
        (row, type) singles and (pair, type) pairs to run, and the phantom count.
        ``candidates``: :meth:`_candidates` (or, with pairs, :func:`_pair_candidates`),
        taken already; without them each type is walked lazily in ``walk_order``
        (:meth:`_pair_walk_order`). Without a
        placer (one that only counts GPUs, no pairs) every job that fits is taken and
        nothing is reserved."""
        jobs = self.jobs
        n = len(jobs)
        ids = jobs.ids
        scale = jobs.scale_factors.tolist()
        in_alloc = jobs.in_allocation.tolist()
        id_list = ids.tolist()
        left = self.capacities.tolist()
        scheduled = [False] * n
        selected: list[tuple[int, int]] = []
        selected_pairs: list[tuple[int, int]] = []
        phantoms = 0
        if placer is not None:
            placer.begin_round()
        # indexing flat lists is much cheaper than an array row
        firsts, seconds = view.firsts, view.seconds
        # Jobs not yet taken: once none is left, no entry of any walk can be taken (a
        # pair needs two untaken jobs, a single one), so the walk ends there.
        untaken = n
        for position, k in enumerate(order):
            if untaken == 0:
                break
            if left[k] <= 0:
                continue
            walk: Iterable[int]
            if candidates is not None:
                walk = candidates[position]
            else:
                assert walk_order is not None  # a lazy walk is a pair round's
                walk = self._walk(k, walk_order, scheduled, left)
            for e in walk:
                if e >= n:
                    p = e - n
                    a, b = firsts[p], seconds[p]
                    if scheduled[a] or scheduled[b] or scale[a] > left[k]:
                        continue
                    first = id_list[a]
                    assert placer is not None  # pairs are walked with the placer
                    if not placer.reserve(-(p + 1), k, scale[a], self.last_gpus.get(first)):
                        continue
                    selected_pairs.append((p, k))
                    scheduled[a] = scheduled[b] = True
                    untaken -= 2
                    left[k] -= scale[a]
                else:
                    i = e
                    if scheduled[i]:
                        continue
                    s = scale[i]
                    if s > left[k]:
                        continue
                    if in_alloc[i]:
                        if placer is not None:
                            job_id = id_list[i]
                            if not placer.reserve(job_id, k, s, self.last_gpus.get(job_id)):
                                continue
                        selected.append((i, k))
                    else:
                        phantoms += 1
                    left[k] -= s
                    scheduled[i] = True
                    untaken -= 1
                if left[k] == 0 or untaken == 0:
                    break
        return selected, selected_pairs, phantoms

    def _pair_walk_order(self, priorities: np.ndarray, view: _PairView) -> _PairOrder:
        """Every entry of a pair round, the singles (rows) and then the pairs (``n`` +
        pair), with where each may run and the walk's sort keys, per type: priority,
        deficit, allocation, all descending, then singles before pairs and the job id
        or pair index, which is the entries' own order (rows are in id order), kept
        among equal keys by a stable sort."""
        jobs = self.jobs
        key = self._key
        eligible_single = jobs.throughputs > 0
        if self.policy.fifo_like:
            eligible_single &= priorities > 0
        n = len(jobs)
        return _PairOrder(
            np.concatenate([eligible_single, view.ok & (view.prio > 0)]),
            (
                -key(np.concatenate([jobs.allocation, self.pairs.allocation])),
                -key(np.concatenate([jobs.deficit, self.pairs.deficit])),
                -key(np.concatenate([priorities, view.prio])),
            ),
            np.concatenate([np.arange(n), view.rows[:, 0]]),
            np.concatenate([np.arange(n), view.rows[:, 1]]),
        )

    def _walk(
        self, k: int, walk_order: _PairOrder, scheduled: list[bool], left: list[int]
    ) -> Iterator[int]:
        """The entries eligible for type ``k`` in the walk's order (``walk_order``).

        Lazily (:func:`sorted_lazily`), highest priorities first: a walk often ends after
        a few dozen of its thousands of pairs (the type is full). Each chunk leaves out
        the entries :meth:`_select` would pass over anyway, those with a job
        ``scheduled`` already or needing more GPUs than the type has ``left`` (during a
        walk the one only grows and the other only shrinks)."""
        entries = np.flatnonzero(walk_order.eligible[:, k])
        first = walk_order.first[entries]
        second = walk_order.second[entries]
        need = self.jobs.scale_factors[first]
        keys = tuple(key[entries, k] for key in walk_order.keys)

        def passed_over(rest: np.ndarray) -> np.ndarray:
            taken = np.array(scheduled, dtype=bool)
            out: np.ndarray = taken[first[rest]] | taken[second[rest]] | (need[rest] > left[k])
            return out

        yield from sorted_lazily(entries, keys, passed_over, WALK_CHUNK)

    def _previous_pair_rows(self) -> np.ndarray:
        """The pairs in force, as rows of the active jobs (pairs with a finished job are
        already gone)."""
        if not len(self.pairs):
            return np.zeros((0, 2), dtype=np.int64)
        return np.searchsorted(self.jobs.ids, self.pairs.ids)

    def _pair_view(self) -> _PairView:
        """Rows of the pairs' jobs, where each pair may run (both rates > 0), priorities."""
        pairs = self.pairs
        m = len(self.capacities)
        if not len(pairs):
            return _PairView(
                np.zeros((0, 2), dtype=np.int64),
                np.zeros((0, m), dtype=bool),
                np.zeros((0, m)),
                [],
                [],
            )
        # The rows and where each pair may run change only with the jobs or the pairs.
        stamp = (self.jobs.version, pairs.version)
        if self._pair_rows is None or self._pair_rows[0] != stamp:
            ids = self.jobs.ids
            rows = np.searchsorted(ids, pairs.ids)
            rows = np.minimum(rows, len(ids) - 1)
            present = (ids[rows] == pairs.ids).all(axis=1)
            types = self.jobs.job_type[rows]
            rates = self._pair_table[types[:, 0], types[:, 1]]  # P x m x 2
            ok = (rates > 0).all(axis=2) & present[:, None]
            self._pair_rows = _PairRows.of(stamp, rows, ok, complete=bool(present.all()))
        cache = self._pair_rows
        return _PairView(
            cache.rows, cache.ok, pairs.priorities(self.worker_time), cache.firsts, cache.seconds
        )

    def _dispatch(
        self,
        selected: list[tuple[int, int]],
        selected_pairs: list[tuple[int, int]],
        pair_rows: np.ndarray,
        placed: dict[int, tuple[int, ...]],
    ) -> tuple[Dispatch, ...]:
        jobs = self.jobs
        out: list[Dispatch] = []
        if selected:
            rows = np.fromiter((i for i, _ in selected), dtype=np.int64, count=len(selected))
            types = np.fromiter((k for _, k in selected), dtype=np.int64, count=len(selected))
            steps, durations = self._slices(rows, types, jobs.throughputs[rows, types])
            out.extend(self._singles(rows, types, steps, durations, placed))
        if selected_pairs:
            # Every pair at once: its two jobs' slices on the type, each entry the same
            # arithmetic as a pair's own; the slice lasts as long as its slower job.
            count = len(selected_pairs)
            which = np.fromiter((p for p, _ in selected_pairs), dtype=np.int64, count=count)
            types = np.fromiter((k for _, k in selected_pairs), dtype=np.int64, count=count)
            rows = pair_rows[which]
            t = jobs.job_type[rows]
            rates = self._pair_table[t[:, 0], t[:, 1], types]  # count x 2
            steps, durations = self._slices(rows.ravel(), np.repeat(types, 2), rates.ravel())
            steps = steps.reshape(count, 2)
            durations = durations.reshape(count, 2)
            longest = np.maximum(durations[:, 0], durations[:, 1])
            ids = jobs.ids[rows]
            for a, b, k, p, first, second, duration in zip(
                ids[:, 0].tolist(),
                ids[:, 1].tolist(),
                types.tolist(),
                which.tolist(),
                steps[:, 0].tolist(),
                steps[:, 1].tolist(),
                longest.tolist(),
                strict=True,
            ):
                out.append(
                    Dispatch(
                        a, k, placed[-(p + 1)], first, duration, partner=b, partner_steps=second
                    )
                )
        return tuple(out)

    def _slices(
        self, rows: np.ndarray, types: np.ndarray, rates: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Steps ``min(int(rate * round), remaining)`` and their durations."""
        jobs = self.jobs
        remaining = jobs.total_steps[rows] - jobs.done_steps[rows]
        per_round = np.floor(rates * self.config.round_s)
        # Slower than one step a round: run the fraction rather than stall forever.
        per_round = np.where(per_round == 0, rates * self.config.round_s, per_round)
        steps = np.minimum(per_round, remaining)
        return steps, steps / rates


def sorted_lazily(
    labels: np.ndarray,
    keys: tuple[np.ndarray, ...],
    passed_over: Callable[[np.ndarray], np.ndarray],
    chunk: int,
) -> Iterator[int]:
    """``labels`` in ``np.lexsort(keys)`` order (the last key first), sorted a chunk at
    a time as they are consumed, leaving out those ``passed_over`` marks when their
    chunk is formed (it takes the positions still in play and marks them; a position
    marked once must stay marked, as the consumer would pass over it anyway).

    A chunk is every position whose last key is at most the ``chunk``-th smallest of
    those left, ties included, so it comes before all the others in the full sort; it
    is sorted by every key and the next chunk is four times as large."""
    primary = keys[-1]
    rest = np.arange(labels.size)
    while rest.size:
        rest = rest[~passed_over(rest)]
        if rest.size > chunk:
            p = primary[rest]
            head_mask = p <= np.partition(p, chunk - 1)[chunk - 1]
            head, rest = rest[head_mask], rest[~head_mask]
            chunk *= 4
        else:
            head, rest = rest, rest[:0]
        order = np.lexsort(tuple(key[head] for key in keys))
        yield from labels[head[order]].tolist()


class _PairView(NamedTuple):
    """The pairs in force as a round sees them: their jobs' rows (P x 2, and each column
    as a list), where each may run (P x m) and their priorities (P x m)."""

    rows: np.ndarray
    ok: np.ndarray
    prio: np.ndarray
    firsts: list[int]
    seconds: list[int]


class _PairRows(NamedTuple):
    """The pairs' jobs' rows as of ``stamp`` (the job set's and the pairs' versions):
    rows (P x 2, and each column as a flat list of ints, no list per pair for the
    garbage collector to track), where each pair may run (P x m), and whether every
    pair's jobs are active (only then can the rows be carried over a change)."""

    stamp: tuple[int, int]
    rows: np.ndarray
    ok: np.ndarray
    firsts: list[int]
    seconds: list[int]
    complete: bool

    @classmethod
    def of(
        cls, stamp: tuple[int, int], rows: np.ndarray, ok: np.ndarray, *, complete: bool
    ) -> _PairRows:
        return cls(stamp, rows, ok, rows[:, 0].tolist(), rows[:, 1].tolist(), complete)


class _PairOrder(NamedTuple):
    """A pair round's entries (rows, then ``n`` + pair) as the walk sees them, all E x m
    but the jobs: where each may run, the sort keys (the last first, as ``np.lexsort``
    takes them), and each entry's first and second job (a single: itself twice)."""

    eligible: np.ndarray
    keys: tuple[np.ndarray, ...]
    first: np.ndarray
    second: np.ndarray


def _pair_candidates(order: list[int], walk_order: _PairOrder) -> list[list[int]]:
    """Per type of ``order``, every entry the lazy walk would yield for it, in the same
    order, from one stable sort of all types' columns at once: the order is total, so
    sorting every entry and keeping the eligible ones gives the walk's sequence (the
    entries the lazy walk leaves out as it goes, taken already or too large, are those
    :meth:`RoundMechanism._select` passes over)."""
    rank = np.lexsort(walk_order.keys, axis=0)
    eligible = walk_order.eligible
    return [rank[:, k][eligible[rank[:, k], k]].tolist() for k in order]


_NO_PAIRS = _PairView(
    np.zeros((0, 2), dtype=np.int64), np.zeros((0, 0), dtype=bool), np.zeros((0, 0)), [], []
)


@dataclass(slots=True)
class _WalkMemo:
    """A round's walk and placement with the inputs they came from, and its slices."""

    order: list[int]
    candidates: list[list[int]]
    selected: list[tuple[int, int]]
    last_gpus: dict[int, tuple[int, ...]]
    rows: np.ndarray
    types: np.ndarray
    rates: np.ndarray
    placed: dict[int, tuple[int, ...]]
    phantoms: int
    steps: list[float]
    durations: list[float]
    dispatches: tuple[Dispatch, ...]
    columns: SliceColumns


# Up to this many values a Python loop of additions is quicker than numpy's cumsum.
_LOOP_MAX = 48


def running_sum(start: float, values: np.ndarray) -> float:
    """``start`` plus each value in turn: the same additions, in the same order, as a
    loop of ``+=`` (a cumulative sum is sequential; ``np.sum`` is pairwise)."""
    if values.size == 0:
        return start
    if values.size <= _LOOP_MAX:
        total = start
        for v in values.tolist():
            total += v
        return total
    return float(np.cumsum(np.concatenate(([start], values)))[-1])


def running_sums(totals: np.ndarray, groups: np.ndarray, values: np.ndarray) -> None:
    """Adds each value to ``totals[group]`` in turn, in place: per group, the same
    additions in the same order as a loop of ``+=`` (see :func:`running_sum`)."""
    if values.size <= _LOOP_MAX:
        out = totals.tolist()
        for k, v in zip(groups.tolist(), values.tolist(), strict=True):
            out[k] += v
        totals[:] = out
        return
    for k in np.unique(groups).tolist():
        totals[k] = running_sum(float(totals[k]), values[groups == k])


def _key(values: np.ndarray) -> np.ndarray:
    """Sort key at float32 precision (about 7 significant digits), hetsim's default.

    Priorities are ratios of allocations to accumulated times, so two jobs that are in
    truth tied (equal allocations, equal service) differ in the last bits by the order
    their floating-point sums were taken and by solver noise in the allocation (about
    1e-9). Comparing at 7 digits makes such ties fall to the next key (deficit, then
    allocation, then the job id) instead of to that noise, so the walk does not depend
    on the solver or on summation order.
    """
    return values.astype(np.float32)


def _exact_key(values: np.ndarray) -> np.ndarray:
    """Sort key at full float64 precision, as the reference sorts (with quirks)."""
    return values
