"""AlloX: non-preemptive placement of single-GPU jobs by a min-cost assignment.

Jobs that hold a type keep it until they finish. The waiting jobs (oldest first) are
assigned to positions on the free GPUs so as to minimise total completion time: a job
in the r-th position from the end of a GPU's queue costs r times its processing time
there (its remaining steps over its throughput on that GPU's type). The Hungarian
method (scipy) solves the assignment; on each free GPU the job at the head of its queue
runs now. Multi-GPU jobs are not supported by AlloX and get no allocation.
"""

from __future__ import annotations

import numpy as np

from scheduler.policies.base import PolicyContext
from scheduler.problem import Allocation, AllocationProblem

# Share of the waiting jobs considered at once (the reference's alpha for 'allox').
ALPHA = 1.0
# Queue depth considered per GPU, as a multiple of the jobs-per-GPU average.
MAX_DEPTH_FACTOR = 8
# Cost of a (job, GPU) pair where the job cannot run: never chosen while others exist.
UNRUNNABLE = 1e18


def allox(problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
    """Min-cost assignment of waiting single-GPU jobs to free GPUs."""
    n, m = problem.throughputs.shape
    x = np.zeros((n, m))
    allowed = problem.runnable & (problem.scale_factors == 1)[:, None]
    free = problem.capacities.astype(np.int64).copy()
    held = problem.previous * allowed
    holders = held.max(axis=1, initial=0.0) >= 0.5
    for i in np.flatnonzero(holders).tolist():
        j = int(np.argmax(held[i]))
        if free[j] >= 1:
            x[i, j] = 1.0
            free[j] -= 1
    waiting = [i for i in range(n) if x[i].sum() == 0 and allowed[i].any()]
    gpu_types = np.repeat(np.arange(m), np.maximum(free, 0))
    g = gpu_types.size
    if not waiting or g == 0:
        return Allocation(x)
    # Oldest first; consider at least as many jobs as free GPUs.
    waiting.sort(key=lambda i: -problem.times_since_start[i])
    k = min(len(waiting), max(g, int(ALPHA * len(waiting))))
    jobs = np.array(waiting[:k])
    rate = problem.throughputs[np.ix_(jobs, gpu_types)]
    ok = allowed[np.ix_(jobs, gpu_types)]
    process = np.where(
        ok, problem.remaining_steps[jobs, None] / np.where(ok, rate, 1.0), UNRUNNABLE
    )
    # Deep queue positions never pay off: a GPU holding many times its fair share of the
    # queue would serve it more slowly than the others. Capping the depth keeps the
    # assignment matrix (k x depth*g) small.
    depth = min(k, MAX_DEPTH_FACTOR * -(-k // g))
    positions = np.arange(1, depth + 1, dtype=float)
    # Columns: position-major blocks of the g free GPUs.
    cost = np.minimum(
        (process[:, None, :] * positions[None, :, None]).reshape(k, depth * g), UNRUNNABLE
    )
    cost += problem.times_since_start[jobs, None]
    from scipy.optimize import linear_sum_assignment  # 0.4 s to import: when used

    rows, cols = linear_sum_assignment(cost)
    head: dict[int, tuple[int, int]] = {}  # gpu -> (position, job row)
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        position, gpu = divmod(c, g)
        if not ok[r, gpu]:
            continue
        if gpu not in head or position > head[gpu][0]:
            head[gpu] = (position, r)
    for gpu, (_, r) in head.items():
        x[jobs[r], gpu_types[gpu]] = 1.0
    return Allocation(x)
