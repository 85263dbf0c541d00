"""The state of a run at one instant, as JSON: what ``hetsim run --stop-at HOURS`` writes.

Read from the objects' public state (the round mechanism's active-job arrays, its
last placements and per-type worker time, the round's slices in flight, the
completion tracker's service per job); nothing here changes the run.

Per active job: its steps (total, credited, the running slice's share so far and what
is left), the seconds of service it received on each GPU type since it arrived, its
allocation (fraction of time per type) and priority per type as the mechanism ranks
them now, its deficit, and the GPUs it holds this round (with its space-sharing
partner). Jobs that arrived since the last round boundary are listed apart
(``pending_jobs``): the scheduler admits them at the next one. Work of a slice in
progress is counted pro rata of the slice's elapsed time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from scheduler.jobstate import priorities

if TYPE_CHECKING:
    from des.simulation import Simulation


def _per_type(names: tuple[str, ...], values: np.ndarray | list[float]) -> dict[str, float]:
    return {n: float(v) for n, v in zip(names, values, strict=True)}


def snapshot(sim: Simulation) -> dict[str, Any]:
    """The run's state now (JSON-ready)."""
    now = float(sim.env.now)
    names = sim.config.cluster.gpu_types
    mech = sim.mechanism
    jobs = mech.jobs
    prio = priorities(jobs.allocation, jobs.job_time, mech.worker_time)
    prio[jobs.throughputs == 0] = 0.0  # as the mechanism ranks them: never where it cannot run
    # The slice each job is running now (on its first GPU) and how far it is.
    running: dict[int, tuple[float, int, int]] = {}
    started = sim.tracker.round_start
    for d in sim.tracker.in_flight():
        if d.duration <= 0:
            continue
        share = min(max((now - started) / d.duration, 0.0), 1.0)
        for job_id, steps, other in (
            (d.job_id, d.steps, d.partner),
            (d.partner, d.partner_steps, d.job_id),
        ):
            if job_id >= 0 and job_id not in running:
                running[job_id] = (steps * share, d.type_index, other)
    out_jobs = []
    for i, job_id in enumerate(jobs.ids.tolist()):
        done = float(jobs.done_steps[i])
        total = float(jobs.total_steps[i])
        in_flight, type_index, partner = running.get(job_id, (0.0, -1, -1))
        gpus = mech.last_gpus.get(job_id)
        if gpus is None and partner >= 0:
            gpus = mech.last_gpus.get(partner)
        out_jobs.append(
            {
                "job_id": job_id,
                "arrival_s": float(jobs.arrival[i]),
                "scale_factor": int(jobs.scale_factors[i]),
                "total_steps": total,
                "done_steps": done,
                "in_flight_steps": in_flight,
                "remaining_steps": max(total - done - in_flight, 0.0),
                "received_s": _per_type(names, sim.tracker.received_s(job_id)),
                "allocation": _per_type(names, jobs.allocation[i]),
                "in_allocation": bool(jobs.in_allocation[i]),
                "priority": _per_type(names, prio[i]),
                "deficit_s": _per_type(names, jobs.deficit[i]),
                "running_on": None if type_index < 0 else names[type_index],
                "gpus": None if gpus is None else list(gpus),
                "partner": None if partner < 0 else partner,
            }
        )
    held = sum(len(g) for g in mech.last_gpus.values())
    return {
        "sim_time_s": now,
        "sim_time_h": now / 3600.0,
        "round": sim.scheduler.rounds,
        "last_reset_s": float(mech.last_reset),
        "jobs_arrived": sim.scheduler.arrived,
        "jobs_completed": len(sim.tracker.completed),
        "active_jobs": len(jobs),
        "gpus_held": held,
        "gpu_types": list(names),
        "gpu_counts": list(sim.config.cluster.counts),
        "jobs": out_jobs,
        # Arrived since the last round boundary: they join the scheduler at the next one.
        "pending_jobs": [
            {
                "job_id": job.job_id,
                "arrival_s": float(job.arrival_time),
                "scale_factor": int(job.scale_factor),
                "total_steps": float(job.total_steps),
            }
            for job in sim.scheduler.pending
        ],
    }
