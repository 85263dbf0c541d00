"""Event-driven completion tracking: slices in, job completions and round ends out.

Each slice of a round is credited to the round mechanism when it ends; a job with no
work left is completed (its JCT is recorded, the job leaves the scheduler, its GPUs are
freed, the saturation monitor hears of it). When every slice of the round is done, the
round's ``done`` event fires and the scheduler process starts the next round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import simpy
import structlog

from des.config import WindowConfig
from des.jobrecords import Completion, CompletionLog
from des.monitor import Observation
from scheduler.mechanism import (
    MAX_FAILED_ATTEMPTS,
    Dispatch,
    PairCredits,
    RoundMechanism,
    SliceColumns,
    running_sum,
    running_sums,
)

log = structlog.get_logger()


class CompletionTracker:
    """Times each round's slices and credits them: one event per slice that can end its
    job, and one for the round's last slice.

    A slice that cannot end its job (it has steps left after it, known exactly when the
    round starts: nothing else credits the job meanwhile) changes nothing anyone can see
    until the next observation, so it takes no event of its own: it is credited, in
    the order of its end time and then of the round's dispatches (the order per-slice
    events would have fired in), as soon as anything looks, that is at the next slice
    with an event, an observation, or the end of the run. Sums are thus taken in the
    same order as with an event per slice, and the outcome is the same to the bit.
    """

    def __init__(
        self,
        env: simpy.Environment,
        mechanism: RoundMechanism,
        num_types: int,
        on_job_completed: Callable[[Completion], None],
        arrivals: Callable[[], int] = lambda: 0,
        window_left: Callable[[], int | None] = lambda: None,
        window: WindowConfig | None = None,
        on_job_failed: Callable[[Completion], None] = lambda _: None,
        on_gpus_freed: Callable[[tuple[int, ...]], None] = lambda _: None,
    ) -> None:
        self.env = env
        self.mechanism = mechanism
        self.on_job_completed = on_job_completed
        self.on_job_failed = on_job_failed
        self.on_gpus_freed = on_gpus_freed
        self._arrivals = arrivals
        self._window_left = window_left
        self._window = window
        # GPU-seconds of service given to measurement-window jobs (a starvation signal)
        self.window_service_gpu_s = 0.0
        self.busy_gpu_s = 0.0
        self.busy_gpu_s_by_type = np.zeros(num_types)
        # Finished jobs, spilled to a scratch file by chunks (memory bounded by one).
        self.completed = CompletionLog()
        self.failed: list[Completion] = []
        self.monitor_feed = simpy.Store(env)
        self.done: simpy.Event = env.event()
        self._round_start = 0.0
        # This round's slices in the order they end: (end time, dispatch index, slice),
        # and how many of them are credited.
        self._slices: list[Dispatch] = []
        self._ends: list[float] = []
        self._eventful: list[bool] = []
        self._credited = 0
        self._batch: _Batch | None = None
        self._batch_order: list[int] = []
        self._seconds: np.ndarray | None = None
        self._source: tuple[Dispatch, ...] = ()
        self._rows = np.zeros(0, dtype=np.int64)
        self._rows_version = -1
        self._columns: SliceColumns | None = None
        self._positions: np.ndarray | None = None

    @property
    def round_start(self) -> float:
        return self._round_start

    def in_flight(self) -> list[Dispatch]:
        """The slices of this round not yet credited."""
        return self._slices[self._credited :]

    def start_round(
        self, dispatches: tuple[Dispatch, ...], cols: SliceColumns | None = None
    ) -> simpy.Event:
        """Arms the tracker for a round; returns the event that fires when it ends.
        ``cols``: the same dispatches as columns (a round of single jobs), if at hand."""
        env = self.env
        now = env.now
        self._round_start = now
        self.done = env.event()
        jobs = self.mechanism.jobs
        # The times SimPy gives a timeout of each duration (now + duration), and the
        # slices in the order such timeouts would fire: by time, then dispatch order
        # (a stable sort: equal ends stay in dispatch order).
        if cols is not None:
            end_array = now + cols.durations
            positions = np.argsort(end_array, kind="stable")
            order = positions.tolist()
            sorted_ends = end_array[positions].tolist()
        else:
            ends = [now + d.duration for d in dispatches]
            order = sorted(range(len(dispatches)), key=ends.__getitem__)
            sorted_ends = [ends[i] for i in order]
            positions = None
        slices = [dispatches[i] for i in order]
        # The slices as arrays (and their jobs' rows, if no job came or went) are the
        # last round's when its slices and their order are.
        batch = self._batch
        if batch is not None and not (batch.source is dispatches and batch.order == order):
            self._batch = None
        if cols is not None and positions is not None:
            # (the rows of the round just planned: no job came or went since)
            self._rows = cols.rows[positions]
            self._rows_version = jobs.version
            eventful = self._may_leave(cols.steps[positions], cols.gpus[positions])
        else:
            if self._batch is None or self._rows_version != jobs.version:
                self._rows = jobs.rows([d.job_id for d in slices])
                self._rows_version = jobs.version
            eventful = self._may_leave_all(slices)
        self._columns, self._positions = cols, positions
        self._batch_order = order
        self._seconds = None
        if eventful:
            eventful[-1] = True  # the round's last slice ends the round
        self._slices, self._credited = slices, 0
        self._source = dispatches
        self._ends = sorted_ends
        self._eventful = eventful
        for i in sorted(order[p] for p in range(len(order)) if eventful[p]):
            env.timeout(dispatches[i].duration).callbacks.append(self._at_slice_end)
        return self.done

    def _may_leave_all(self, slices: list[Dispatch]) -> list[bool]:
        """:meth:`_may_leave` for slices given as tuples (pairs among them)."""
        count = len(slices)
        steps = np.fromiter((d.steps for d in slices), dtype=float, count=count)
        gpus = np.fromiter((len(d.gpus) for d in slices), dtype=float, count=count)
        paired = [p for p, d in enumerate(slices) if d.partner >= 0]
        if not paired:
            return self._may_leave(steps, gpus)
        jobs = self.mechanism.jobs
        partners = jobs.rows([slices[p].partner for p in paired])
        partner_steps = np.array([slices[p].partner_steps for p in paired], dtype=float)
        return self._may_leave(steps, gpus, (np.array(paired), partners, partner_steps))

    def _may_leave(
        self,
        steps: np.ndarray,
        gpus: np.ndarray,
        pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> list[bool]:
        """Whether crediting each of this round's slices (in order: ``self._rows`` are
        their jobs' rows) can end a job: the arithmetic of the credit itself, for the
        job and, for ``pairs`` (their positions, partners' rows and steps), the partner,
        taken at once (nothing else credits a job before its slice ends, so this is
        known when the round starts); with quirks, a failed micro-task may drop a
        single job."""
        if not steps.size:
            return []
        jobs = self.mechanism.jobs
        rows = self._rows
        ends = jobs.total_steps[rows] - (jobs.done_steps[rows] + steps) <= 0
        failing = steps < gpus if self.mechanism.quirks else None
        if pairs is not None:
            positions, partners, partner_steps = pairs
            left = jobs.total_steps[partners] - (jobs.done_steps[partners] + partner_steps)
            ends[positions] |= left <= 0
            if failing is not None:
                failing[positions] = False  # (a pair has no micro-task rule)
        if failing is not None:
            ends |= failing
        out: list[bool] = ends.tolist()
        return out

    def _at_slice_end(self, _event: simpy.Event) -> None:
        """A slice with an event ended: credit every slice up to and including it."""
        self.credit_until(self.env.now, inclusive=True, stop_at_event=True)

    def credit_until(self, time: float, *, inclusive: bool, stop_at_event: bool = False) -> None:
        """Credits this round's slices ending before ``time`` (or at it, if inclusive).

        ``stop_at_event``: stop after the first slice that has an event of its own at
        ``time`` (the one being fired), so slices ending at the same instant later in
        the round's order wait for their own turn. Runs of slices without events are
        credited together (:meth:`_credit_run`), the others one by one."""
        ends, eventful, slices = self._ends, self._eventful, self._slices
        start = stop = self._credited
        count = len(slices)
        while stop < count:
            end = ends[stop]
            if end > time or (end == time and not inclusive):
                break
            stop += 1
            if stop_at_event and end == time and eventful[stop - 1]:
                break
        pos = start
        while pos < stop:
            if eventful[pos]:
                self._credited = pos + 1
                self._slice_done(slices[pos], ends[pos])
                pos += 1
                continue
            run_end = pos
            while run_end < stop and not eventful[run_end]:
                run_end += 1
            self._credited = run_end
            self._credit_run(pos, run_end)
            pos = run_end

    def flush(self) -> None:
        """Credits every slice that has ended by now (for an observer, or the run's end)."""
        self.credit_until(self.env.now, inclusive=True)

    def _credit_run(self, lo: int, hi: int) -> None:
        """Credits slices ``lo:hi`` of the round's order, none of which ends its job (or
        a pair's partner), at once: per-job sums are one addition each (a job is in one
        slice a round), and shared sums are taken in the slices' order (a running sum),
        so every bit is what crediting them one after another gives."""
        batch = self._batch
        if batch is None:
            cols, positions = self._columns, self._positions
            if cols is not None and positions is not None:
                batch = _Batch.of_columns(
                    cols, positions, self._source, self._batch_order, self._window
                )
            else:
                batch = _Batch.of(self._slices, self._source, self._batch_order, self._window)
            self._batch = batch
        seconds = self._seconds
        if seconds is None:
            # The slice's time as the clock measures it: its end minus the round's start.
            seconds = self._seconds = np.array(self._ends) - self._round_start
        sel = slice(lo, hi)
        gpu_s = batch.gpu_s[sel]
        types = batch.types[sel]
        self.busy_gpu_s = running_sum(self.busy_gpu_s, gpu_s)
        if batch.any_inside:
            inside = batch.inside[sel]
            if inside.any():
                self.window_service_gpu_s = running_sum(self.window_service_gpu_s, gpu_s[inside])
        running_sums(self.busy_gpu_s_by_type, types, gpu_s)
        jobs = self.mechanism.jobs
        rows = self._rows[sel] if self._rows_version == jobs.version else None
        if rows is None:
            rows = jobs.rows(batch.id_list[lo:hi])
        durations = batch.durations[sel]
        # (each job once: one addition per job, as one after another)
        jobs.received[rows, types] += durations
        paired = batch.partners[sel] >= 0 if batch.any_paired else None
        pairs = None
        if paired is not None and paired.any():
            partners = batch.partners[sel][paired]
            partner_rows = jobs.rows(partners.tolist())
            jobs.received[partner_rows, types[paired]] += durations[paired]
            pairs = PairCredits(paired, partner_rows, batch.partner_steps[sel][paired], durations)
        self.mechanism.credit_run(
            batch.id_list[lo:hi], types, batch.steps[sel], seconds[sel], rows, pairs
        )
        # (never the round's end: its last slice has an event and is credited alone)

    def _slice_done(self, dispatch: Dispatch, end: float) -> None:
        """Credits one slice (all its GPUs), which ended at ``end``, to the job and the
        counters. A slice that can end its job is credited at its own event (``end`` is
        now), so completions are stamped with their true time."""
        gpu_s = dispatch.duration * len(dispatch.gpus)
        self.busy_gpu_s += gpu_s
        window = self._window
        if window is not None and (dispatch.job_id in window or dispatch.partner in window):
            self.window_service_gpu_s += gpu_s
        self.busy_gpu_s_by_type[dispatch.type_index] += gpu_s
        jobs = self.mechanism.jobs
        for job_id in (
            (dispatch.job_id, dispatch.partner) if dispatch.partner >= 0 else (dispatch.job_id,)
        ):
            jobs.received[jobs.index(job_id), dispatch.type_index] += dispatch.duration
        mech = self.mechanism
        if dispatch.partner >= 0:
            done_a, done_b = mech.credit_pair(dispatch)
            for job_id, done in ((dispatch.job_id, done_a), (dispatch.partner, done_b)):
                if done:
                    self._complete(job_id)
            if done_a and done_b:
                self.on_gpus_freed(dispatch.gpus)
        else:
            # The slice's time as the clock measured it (finish minus the round's start,
            # as the reference takes it), not the duration that was asked for.
            outcome = mech.credit(
                dispatch.job_id,
                dispatch.type_index,
                dispatch.steps,
                end - self._round_start,
                len(dispatch.gpus),
            )
            if outcome == "done":
                self._complete(dispatch.job_id)
            elif outcome == "failed":
                self._fail(dispatch.job_id)
            if outcome != "running":
                self.on_gpus_freed(dispatch.gpus)
        if self._credited == len(self._slices):
            self.done.succeed()

    def _leave(self, job_id: int) -> Completion:
        """Takes a job out of the scheduler; its arrival, the time now and its size."""
        jobs = self.mechanism.jobs
        i = jobs.index(job_id)
        left = Completion(job_id, float(jobs.arrival[i]), self.env.now, int(jobs.scale_factors[i]))
        self.mechanism.remove_job(job_id)
        return left

    def _complete(self, job_id: int) -> None:
        done = self._leave(job_id)
        self.completed.append(done)
        log.info(
            "job_completed",
            sim_time=done.finish,
            job_id=job_id,
            arrival_time=done.arrival,
            jct_s=done.jct,
        )
        self.monitor_feed.put(self.observation())
        self.on_job_completed(done)

    def _fail(self, job_id: int) -> None:
        """Drops a job the reference would mark failed (quirks only): it leaves the
        scheduler, is counted, and never enters an average."""
        failed = self._leave(job_id)
        self.failed.append(failed)
        log.warning(
            "job_failed",
            sim_time=failed.finish,
            job_id=job_id,
            arrival_time=failed.arrival,
            message=f"job {job_id} failed: {MAX_FAILED_ATTEMPTS} micro-tasks in a row with "
            "a worker given no steps (the reference's rule, reproduced with quirks)",
        )
        self.on_job_failed(failed)

    def received_s(self, job_id: int) -> list[float]:
        """Seconds of service an active job received on each type since it arrived."""
        jobs = self.mechanism.jobs
        out: list[float] = jobs.received[jobs.index(job_id)].tolist()
        return out

    def observation(self) -> Observation:
        """The state the saturation monitor looks at, now (slices that ended before now
        credited first; one ending at this very instant has its own turn)."""
        self.credit_until(self.env.now, inclusive=False)
        return Observation(
            time=self.env.now,
            completions=len(self.completed),
            active=len(self.mechanism.jobs),
            busy_gpu_s=self.busy_gpu_s,
            arrivals=self._arrivals(),
            window_left=self._window_left(),
            window_service_gpu_s=self.window_service_gpu_s,
            backlog_gpu_s=self.backlog_gpu_s(),
        )

    def backlog_gpu_s(self) -> float:
        """GPU-seconds of work the active jobs still need, each on its fastest type."""
        jobs = self.mechanism.jobs
        best = jobs.fastest
        seconds = np.divide(jobs.remaining(), best, out=np.zeros_like(best), where=best > 0)
        return float(seconds @ jobs.scale_factors)


@dataclass(frozen=True, slots=True)
class _Batch:
    """A round's slices as arrays, in the order they end; ``source`` and ``order``: the
    round's dispatches and that order (a later round with both the same reuses it)."""

    source: tuple[Dispatch, ...]
    order: list[int]
    id_list: list[int]
    durations: np.ndarray
    partners: np.ndarray
    types: np.ndarray
    steps: np.ndarray
    partner_steps: np.ndarray
    gpu_s: np.ndarray
    inside: np.ndarray  # the slice's job or partner is a measurement-window job
    any_inside: bool
    any_paired: bool

    @classmethod
    def of(
        cls,
        slices: list[Dispatch],
        source: tuple[Dispatch, ...],
        order: list[int],
        window: WindowConfig | None,
    ) -> _Batch:
        # The slices' fields as columns, in one pass (a Dispatch is a tuple).
        columns = list(zip(*slices, strict=True)) or [()] * len(Dispatch._fields)
        id_list, type_list, gpu_list, step_list, duration_list, partner_list, partner_steps = map(
            list, columns
        )
        durations = np.array(duration_list, dtype=float)
        ids = np.array(id_list, dtype=np.int64)
        partners = np.array(partner_list, dtype=np.int64)
        if window is None:
            inside = np.zeros(len(slices), dtype=bool)
        else:
            inside = window.contains(ids) | window.contains(partners)
        return cls(
            source,
            order,
            id_list,
            durations,
            partners,
            np.array(type_list, dtype=np.int64),
            np.array(step_list, dtype=float),
            np.array(partner_steps, dtype=float),
            durations * np.array(list(map(len, gpu_list)), dtype=float),
            inside,
            bool(inside.any()),
            bool((partners >= 0).any()),
        )

    @classmethod
    def of_columns(
        cls,
        cols: SliceColumns,
        positions: np.ndarray,
        source: tuple[Dispatch, ...],
        order: list[int],
        window: WindowConfig | None,
    ) -> _Batch:
        """:meth:`of` for a round of single jobs, from its columns taken in the slices'
        order (``positions``): the same values, without a pass over the tuples."""
        ids = cols.ids[positions]
        types = cols.types[positions]
        durations = cols.durations[positions]
        if window is None:
            inside = np.zeros(ids.shape[0], dtype=bool)
        else:
            inside = window.contains(ids)  # (no partners: -1 is in no window)
        return cls(
            source,
            order,
            ids.tolist(),
            durations,
            np.full(ids.shape[0], -1, dtype=np.int64),
            types,
            cols.steps[positions],
            np.zeros(ids.shape[0]),
            durations * cols.gpus[positions],
            inside,
            bool(inside.any()),
            False,
        )
