"""Event-driven completion tracking: slices in, job completions and round ends out.

Workers report each finished slice. When every GPU of a job's slice is done, the work
is credited to the round mechanism; a job with no work left is completed (its JCT is
recorded, the job leaves the scheduler, the saturation monitor hears of it). When
every slice of the round is done, the round's ``done`` event fires and the scheduler
process starts the next round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import simpy
import structlog

from des.config import WindowConfig
from des.monitor import Observation
from scheduler.mechanism import MAX_FAILED_ATTEMPTS, Dispatch, RoundMechanism

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class Completion:
    """A finished job: when it arrived and finished, and its GPU count."""

    job_id: int
    arrival: float
    finish: float
    scale_factor: int

    @property
    def jct(self) -> float:
        return self.finish - self.arrival


class CompletionTracker:
    """Counts down the GPUs of each slice and the slices of each round."""

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
    ) -> None:
        self.env = env
        self.mechanism = mechanism
        self.on_job_completed = on_job_completed
        self.on_job_failed = on_job_failed
        self._arrivals = arrivals
        self._window_left = window_left
        self._window = window
        # GPU-seconds of service given to measurement-window jobs (a starvation signal)
        self.window_service_gpu_s = 0.0
        self.busy_gpu_s = 0.0
        self.busy_gpu_s_by_type = np.zeros(num_types)
        # Seconds of service each active job received on each type since it arrived.
        self.received_s: dict[int, np.ndarray] = {}
        self._num_types = num_types
        self.completed: list[Completion] = []
        self.failed: list[Completion] = []
        self.monitor_feed = simpy.Store(env)
        self.done: simpy.Event = env.event()
        self._gpus_left: dict[int, int] = {}
        self._slices_left = 0
        self._round_start = 0.0

    def start_round(self, dispatches: tuple[Dispatch, ...]) -> simpy.Event:
        """Arms the tracker for a round; returns the event that fires when it ends."""
        self._gpus_left = {d.job_id: len(d.gpus) for d in dispatches}
        self._slices_left = len(dispatches)
        self._round_start = self.env.now
        self.done = self.env.event()
        return self.done

    def slice_done(self, dispatch: Dispatch) -> None:
        """Called by a worker when its GPU's share of ``dispatch`` is finished."""
        left = self._gpus_left[dispatch.job_id] - 1
        self._gpus_left[dispatch.job_id] = left
        if left:
            return
        gpu_s = dispatch.duration * len(dispatch.gpus)
        self.busy_gpu_s += gpu_s
        window = self._window
        if window is not None and (dispatch.job_id in window or dispatch.partner in window):
            self.window_service_gpu_s += gpu_s
        self.busy_gpu_s_by_type[dispatch.type_index] += gpu_s
        for job_id in (
            (dispatch.job_id, dispatch.partner) if dispatch.partner >= 0 else (dispatch.job_id,)
        ):
            got = self.received_s.get(job_id)
            if got is None:
                got = self.received_s[job_id] = np.zeros(self._num_types)
            got[dispatch.type_index] += dispatch.duration
        mech = self.mechanism
        if dispatch.partner >= 0:
            done_a, done_b = mech.credit_pair(dispatch)
            for job_id, done in ((dispatch.job_id, done_a), (dispatch.partner, done_b)):
                if done:
                    self._complete(job_id)
        else:
            # The slice's time as the clock measured it (finish minus the round's start,
            # as the reference takes it), not the duration that was asked for.
            outcome = mech.credit(
                dispatch.job_id,
                dispatch.type_index,
                dispatch.steps,
                self.env.now - self._round_start,
                len(dispatch.gpus),
            )
            if outcome == "done":
                self._complete(dispatch.job_id)
            elif outcome == "failed":
                self._fail(dispatch.job_id)
        self._slices_left -= 1
        if self._slices_left == 0:
            self.done.succeed()

    def _leave(self, job_id: int) -> Completion:
        """Takes a job out of the scheduler; its arrival, the time now and its size."""
        jobs = self.mechanism.jobs
        i = jobs.index(job_id)
        left = Completion(job_id, float(jobs.arrival[i]), self.env.now, int(jobs.scale_factors[i]))
        self.mechanism.remove_job(job_id)
        self.received_s.pop(job_id, None)
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

    def observation(self) -> Observation:
        """The state the saturation monitor looks at, now."""
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
        best = jobs.throughputs.max(axis=1, initial=0.0)
        seconds = np.divide(jobs.remaining(), best, out=np.zeros_like(best), where=best > 0)
        return float(seconds @ jobs.scale_factors)
