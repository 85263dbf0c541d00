"""The job-arrival process: releases each job of a workload at its arrival time."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from typing import Any

import simpy

from workloads import Job


def arrival_process(
    env: simpy.Environment, jobs: Iterable[Job], on_arrival: Callable[[Job], None]
) -> Generator[simpy.Event, Any, None]:
    """Waits until each job's arrival time and hands the job over.

    ``jobs`` must be in arrival order; it may be an endless lazy stream, in which case
    jobs are generated only as simulated time reaches them.
    """
    for job in jobs:
        delay = job.arrival_time - env.now
        if delay > 0:
            yield env.timeout(delay)
        on_arrival(job)
