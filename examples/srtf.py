"""An example policy plugin: shortest remaining time first (SRTF).

Each round, jobs in order of their remaining time alone on their fastest GPU type
(remaining steps / best throughput) take whole rounds on the fastest type that still
has room for them; the others wait. Re-solved whenever jobs arrive or finish, so a
short newcomer preempts a long job.

Run it with ``hetsim run --policy examples/srtf.py:shortest_remaining_time_first ...``
(a file plugin) or install a package that declares it as an entry point in the group
``hetsim.policies``; docs/policies.md describes what a policy receives and returns.
"""

from __future__ import annotations

import numpy as np

from scheduler.policies import PolicyContext
from scheduler.problem import Allocation, AllocationProblem
from scheduler.registry import PolicySpec


def allocate(problem: AllocationProblem, context: PolicyContext) -> Allocation:
    """SRTF: the shortest remaining jobs take whole rounds on the fastest type with room."""
    runnable = problem.runnable
    best = np.where(runnable, problem.throughputs, 0.0).max(axis=1, initial=0.0)
    remaining_s = np.divide(
        problem.remaining_steps, best, out=np.full(problem.num_jobs, np.inf), where=best > 0
    )
    free = problem.capacities.astype(float).copy()
    matrix = np.zeros((problem.num_jobs, problem.num_types))
    for i in np.argsort(remaining_s, kind="stable"):
        gpus = problem.scale_factors[i]
        rates = np.where(runnable[i] & (free >= gpus), problem.throughputs[i], 0.0)
        j = int(np.argmax(rates))
        if rates[j] > 0:
            matrix[i, j] = 1.0
            free[j] -= gpus
    return Allocation(matrix)


shortest_remaining_time_first = PolicySpec(
    name="srtf",
    allocate=allocate,
    fixed_type_order=True,  # it picks the fastest types itself
    fifo_like=True,  # a job runs only where it was allocated: the waiting ones wait
    summary="shortest remaining time first on the fastest type with room (example plugin)",
)
