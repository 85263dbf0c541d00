"""The periodic scheduler process: one round after another.

At each round boundary it admits the jobs that arrived since the last one, asks the
round mechanism for the next round's placements (the mechanism re-solves the
allocation when it is due), gives the workers of GPUs whose job changed their new
lease, hands the round's slices to the completion tracker and waits until it says every
slice is done. When nothing can run,
it sleeps until the next arrival.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy
import structlog

from des.completion import CompletionTracker
from des.worker import IDLE, GpuWorker
from scheduler.mechanism import Dispatch, Placer, RoundMechanism, RoundPlan, SolveReport
from workloads import Job

log = structlog.get_logger()


@dataclass
class SolverStats:
    """Counts and wall time of the allocation solves of a run."""

    solves: int = 0
    program_solves: int = 0
    fallbacks: int = 0
    failures: int = 0
    time_s: float = 0.0
    by_solver: dict[str, int] = field(default_factory=dict)

    def add(self, report: SolveReport) -> None:
        self.solves += 1
        alloc = report.allocation
        if alloc.failed:
            self.failures += 1
        for sol in alloc.solves:
            self.program_solves += 1
            self.fallbacks += sol.fallbacks
            self.time_s += sol.seconds
            if sol.solver is not None:
                self.by_solver[sol.solver] = self.by_solver.get(sol.solver, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "solves": self.solves,
            "program_solves": self.program_solves,
            "fallbacks": self.fallbacks,
            "failures": self.failures,
            "time_s": self.time_s,
            "by_solver": dict(sorted(self.by_solver.items())),
        }


class RoundScheduler:
    """Owns the round loop; :meth:`run` is its process."""

    def __init__(
        self,
        env: simpy.Environment,
        mechanism: RoundMechanism,
        placer: Placer,
        workers: Sequence[GpuWorker],
        tracker: CompletionTracker,
        throughput_row: Callable[[Job], np.ndarray],
        gpu_type_names: Sequence[str],
        *,
        on_round: Callable[[int], None] | None = None,
        on_plan: Callable[[RoundPlan], None] | None = None,
        on_idle: Callable[[], None] | None = None,
        on_unrunnable: Callable[[Job], None] | None = None,
    ) -> None:
        self.env = env
        self.mechanism = mechanism
        self.placer = placer
        self.workers = workers
        self.tracker = tracker
        self.throughput_row = throughput_row
        self.type_names = list(gpu_type_names)
        self.on_round = on_round
        self.on_plan = on_plan
        self.on_idle = on_idle
        self.on_unrunnable = on_unrunnable
        self.unrunnable = 0
        self.solver_stats = SolverStats()
        self.arrived = 0
        self.rounds = 0
        self.mechanism_s = 0.0
        self._pending: list[Job] = []
        self._idle: simpy.Event | None = None
        # The GPUs of each (job, partner) placed in the last round.
        self._leased: dict[tuple[int, int], tuple[int, ...]] = {}
        self._leased_from: tuple[Dispatch, ...] = ()

    @property
    def pending(self) -> tuple[Job, ...]:
        """Jobs that arrived since the last round boundary (admitted at the next one)."""
        return tuple(self._pending)

    def on_arrival(self, job: Job) -> None:
        """Called by the arrival process; the job joins at the next round boundary."""
        self.arrived += 1
        log.info(
            "job_arrived",
            sim_time=self.env.now,
            job_id=job.job_id,
            model=job.model,
            scale_factor=job.scale_factor,
            total_steps=job.total_steps,
        )
        self._pending.append(job)
        if self._idle is not None and not self._idle.triggered:
            self._idle.succeed()

    def _admit(self) -> None:
        mech = self.mechanism
        capacities = mech.capacities
        for job in self._pending:
            rates = self.throughput_row(job)
            if not ((rates > 0) & (job.scale_factor <= capacities)).any():
                # No GPU type can ever run it: say so, count it, never let it block.
                self.unrunnable += 1
                log.warning(
                    "job_unrunnable",
                    sim_time=self.env.now,
                    job_id=job.job_id,
                    model=job.model,
                    scale_factor=job.scale_factor,
                    message=f"no GPU type can run job {job.job_id} "
                    f"({job.model} on {job.scale_factor} GPUs)",
                )
                if self.on_unrunnable is not None:
                    self.on_unrunnable(job)
                continue
            mech.add_job(
                job.job_id,
                rates,
                job.scale_factor,
                job.priority_weight,
                job.total_steps,
                job.arrival_time,
                type_key=(job.model, job.scale_factor),
            )
        self._pending.clear()

    def run(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        previous: dict[int, tuple[int, ...]] = {}
        # Whether info events go anywhere (the event trace): without one, the round's
        # events and the placements they compare are not built at all.
        info = _info_enabled()
        while True:
            started = time.perf_counter()
            self._admit()
            plan = self.mechanism.plan_round(env.now, self.placer)
            self.rounds += 1
            if plan.solve is not None:
                self.solver_stats.add(plan.solve)
                self._log_solve(plan.solve, info)
            if info:
                previous = self._log_round(plan, previous)
            if self.on_plan is not None:
                self.on_plan(plan)
            self.mechanism_s += time.perf_counter() - started
            if self.on_round is not None:
                self.on_round(self.rounds)
            self._lease(plan.dispatches)
            if not plan.dispatches:
                self._idle = env.event()
                if self.on_idle is not None:
                    self.on_idle()
                yield self._idle
                self._idle = None
                continue
            yield self.tracker.start_round(plan.dispatches, plan.columns)

    def _lease(self, dispatches: tuple[Dispatch, ...]) -> None:
        """Tells the workers whose GPU's job changed (and only them) what they hold now:
        a placement kept from the last round costs nothing."""
        if dispatches is self._leased_from:
            return  # the last round's slices, reused: every lease stands
        self._leased_from = dispatches
        last = self._leased
        now = {(d.job_id, d.partner): d.gpus for d in dispatches}
        # Each GPU whose holder changed, and its new holder (idle unless placed anew).
        changed: dict[int, tuple[int, int]] = {}
        for key, gpus in last.items():
            if now.get(key) != gpus:
                for gpu in gpus:
                    changed[gpu] = IDLE
        for key, gpus in now.items():
            if last.get(key) != gpus:
                for gpu in gpus:
                    changed[gpu] = key
        workers = self.workers
        for gpu, (job_id, partner) in changed.items():
            workers[gpu].hold(job_id, partner)
        self._leased = now

    def _log_solve(self, report: SolveReport, info: bool = True) -> None:
        alloc = report.allocation
        for sol in alloc.solves:
            for a in sol.attempts[:-1] if sol.ok else sol.attempts:
                log.warning(
                    "solver_fallback",
                    sim_time=report.time,
                    solver=a.solver,
                    status=a.status,
                    detail=a.detail,
                )
        if not info:
            return
        attempts = [
            {"solver": a.solver, "status": a.status, "detail": a.detail}
            for sol in alloc.solves
            for a in sol.attempts
        ]
        log.info(
            "allocation_solved",
            sim_time=report.time,
            jobs=len(report.job_ids),
            solvers=[sol.solver for sol in alloc.solves],
            failed=alloc.failed,
            attempts=attempts,
            allocation={
                str(j): [round(v, 6) for v in row]
                for j, row in zip(
                    np.asarray(report.job_ids).tolist(),
                    np.asarray(alloc.matrix, dtype=float).tolist(),
                    strict=True,
                )
            },
        )

    def _log_round(
        self, plan: RoundPlan, previous: dict[int, tuple[int, ...]]
    ) -> dict[int, tuple[int, ...]]:
        """Logs the round and the placement changes; returns this round's placements."""
        now = self.env.now
        current = {d.job_id: d.gpus for d in plan.dispatches}
        current.update({d.partner: d.gpus for d in plan.dispatches if d.partner >= 0})
        log.info(
            "round_started",
            sim_time=now,
            round=self.rounds,
            active_jobs=len(self.mechanism.jobs),
            running_jobs=len(plan.dispatches),
            busy_gpus=sum(len(d.gpus) for d in plan.dispatches),
            type_order=[self.type_names[k] for k in plan.type_order],
            waiting_new_jobs=plan.phantom_jobs,
        )
        for d in plan.dispatches:
            for job_id in (d.job_id, d.partner) if d.partner >= 0 else (d.job_id,):
                if previous.get(job_id) != d.gpus:
                    self._log_placed(d, job_id, moved=job_id in previous)
        active = self.mechanism.jobs
        for job_id in previous:
            if job_id not in current and job_id in active:
                log.info("job_preempted", sim_time=now, job_id=job_id)
        return current

    def _log_placed(self, d: Dispatch, job_id: int, *, moved: bool) -> None:
        partner = d.partner if job_id == d.job_id else d.job_id
        log.info(
            "job_placed",
            sim_time=self.env.now,
            job_id=job_id,
            gpu_type=self.type_names[d.type_index],
            gpus=list(d.gpus),
            steps=d.steps if job_id == d.job_id else d.partner_steps,
            moved=moved,
            partner=partner if d.partner >= 0 else None,
        )


def _info_enabled() -> bool:
    """Whether the configured logger passes info events (True when it cannot say)."""
    check = getattr(log.bind(), "is_enabled_for", None)
    return True if check is None else bool(check(logging.INFO))
