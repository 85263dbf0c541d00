"""First come, first served: each job in arrival order gets one whole type.

``fifo_perf`` gives each job the fastest type with room (recomputed from scratch, so a
job may move up to a faster type when one frees). ``fifo`` keeps jobs on the type they
hold and gives a waiting job a type drawn at random among those with room. A job that
fits nowhere stops the queue: nobody jumps ahead.

With quirks, ``fifo`` does what the reference's does (see :func:`_reference_fifo`): it
draws a random type but then uses the last type of its alphabetical list of types with
room (the V100 while it has room, then the P100, then the K80), whether that type has
room for this job or not; ``fifo_perf`` walks the types alphabetically and may pick one
where the job cannot run (see :func:`_reference_fifo_perf`).
"""

from __future__ import annotations

import numpy as np

from scheduler.policies.base import PolicyContext
from scheduler.problem import Allocation, AllocationProblem


def _fifo(problem: AllocationProblem, ctx: PolicyContext, *, perf: bool) -> np.ndarray:
    n, m = problem.throughputs.shape
    x = np.zeros((n, m))
    free = problem.capacities.astype(float).tolist()
    allowed = problem.runnable.tolist()
    s = problem.scale_factors.tolist()
    rates = problem.throughputs.tolist()
    queue = list(range(n))
    if not perf:
        held = problem.previous * problem.runnable
        for i in np.flatnonzero(held.max(axis=1, initial=0.0) >= 0.5).tolist():
            j = int(np.argmax(held[i]))
            if free[j] >= s[i]:
                x[i, j] = 1.0
                free[j] -= s[i]
        queue = [i for i in queue if x[i].sum() == 0]
    types = range(m)
    for i in queue:
        size, row = s[i], allowed[i]
        candidates = [j for j in types if row[j] and free[j] >= size]
        if not candidates:
            if any(row):
                break
            continue  # a job that can run nowhere is skipped, it cannot block the queue
        if perf:
            rate = rates[i]
            j = max(candidates, key=lambda c: (rate[c], -c))
        else:
            j = candidates[ctx.rng.randrange(len(candidates))]
        x[i, j] = 1.0
        free[j] -= size
    return x


def _reference_fifo(problem: AllocationProblem, ctx: PolicyContext) -> np.ndarray:
    """The reference's agnostic FIFO, step by step.

    Jobs keep the type they hold. Walking the previous allocation in id order, each job
    that has left hands its type to the head of the queue if the head fits there. Then
    each waiting job in id order: the types with room are listed alphabetically, a
    random one among those that fit the job is drawn (only to decide which entry leaves
    the list when a type fills exactly), and the job gets the list's last type.
    """
    n, m = problem.throughputs.shape
    ids = problem.job_ids if problem.job_ids is not None else np.arange(n)
    names = problem.type_names or tuple(str(j) for j in range(m))
    s = problem.scale_factors.tolist()
    row_of = {int(j): i for i, j in enumerate(ids.tolist())}
    held: dict[int, int] = {}
    for i in range(n):
        if problem.previous[i].max(initial=0.0) >= 0.5:
            held[int(ids[i])] = int(np.argmax(problem.previous[i]))
    gone = {job_id: (t, size) for job_id, t, size in problem.departed}
    queue = [int(j) for j in ids.tolist() if int(j) not in held]
    available = problem.capacities.astype(float).copy()
    assigned = dict(held)
    for job_id in sorted([*held, *gone]):
        if job_id in gone:
            t = gone[job_id][0]
            if queue:
                head = queue.pop(0)
                if s[row_of[head]] <= available[t]:
                    assigned[head] = t
                    available[t] -= s[row_of[head]]
        else:
            available[held[job_id]] -= s[row_of[job_id]]
    listed = sorted((j for j in range(m) if available[j] > 0), key=lambda j: names[j])
    while queue and listed:
        job_id = queue.pop(0)
        size = s[row_of[job_id]]
        fits = [pos for pos, j in enumerate(listed) if available[j] >= size]
        if not fits:
            break
        drawn = fits[ctx.rng.randrange(len(fits))]
        t = listed[-1]
        assigned[job_id] = t
        available[t] -= size
        if available[t] == 0:
            listed.pop(drawn)
    x = np.zeros((n, m))
    for job_id, t in assigned.items():
        if job_id in row_of:
            x[row_of[job_id], t] = 1.0
    return x


def _reference_fifo_perf(problem: AllocationProblem) -> np.ndarray:
    """The reference's heterogeneity-aware FIFO: each job in id order takes, among the
    types with room for it, the one of highest throughput, walking the types in
    alphabetical order and keeping the first of equals; a throughput of 0 still beats
    the starting -1, so a job may be given a type where it cannot run (it then holds
    those GPUs without running). The queue stops at the first job that fits nowhere."""
    n, m = problem.throughputs.shape
    names = problem.type_names or tuple(str(j) for j in range(m))
    order = sorted(range(m), key=lambda j: names[j])
    available = problem.capacities.astype(float).copy()
    s = problem.scale_factors.tolist()
    rates = problem.throughputs.tolist()
    x = np.zeros((n, m))
    for i in range(n):
        best, best_rate = -1, -1.0
        for j in order:
            if available[j] >= s[i] and rates[i][j] > best_rate:
                best, best_rate = j, rates[i][j]
        if best < 0:
            break
        x[i, best] = 1.0
        available[best] -= s[i]
    return x


def fifo(problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
    """FIFO, heterogeneity-agnostic (a random type with room)."""
    if ctx.quirks:
        return Allocation(_reference_fifo(problem, ctx))
    return Allocation(_fifo(problem, ctx, perf=False))


def fifo_perf(problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
    """FIFO, heterogeneity-aware (the fastest type with room)."""
    if ctx.quirks:
        return Allocation(_reference_fifo_perf(problem))
    return Allocation(_fifo(problem, ctx, perf=True))


# A waiting job joins a running one only if together they do this much of their work
# alone, in sum (the reference's threshold).
PACKING_THRESHOLD = 1.5


def fifo_packed(problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
    """FIFO on the fastest type with room; then each waiting job, in arrival order, joins
    the running job (same GPU count) it packs best with, if the pair does at least 1.5x
    of what the two do alone; the queue stops at the first job that finds no partner."""
    x = _fifo(problem, ctx, perf=True)
    n, m = x.shape
    data = problem.pair_data()
    if data is None:
        return Allocation(x)
    types, pair_rates = data
    waiting = [i for i in range(n) if x[i].sum() == 0 and problem.runnable[i].any()]
    partners: dict[int, int] = {}
    for i in waiting:
        best, best_value = -1, PACKING_THRESHOLD
        for r in np.flatnonzero(x.sum(axis=1) > 0).tolist():
            if r in partners or problem.scale_factors[r] != problem.scale_factors[i]:
                continue
            j = int(np.argmax(x[r]))
            rates = pair_rates[int(types[r]), int(types[i]), j]
            alone = problem.throughputs[[r, i], j]
            if (rates <= 0).any() or (alone <= 0).any():
                continue
            value = float((rates / alone).sum())
            if value > best_value:
                best, best_value = r, value
        if best < 0:
            break
        partners[best] = i
    if not partners:
        return Allocation(x)
    pairs = np.array([sorted((r, i)) for r, i in partners.items()], dtype=np.int64)
    pair_matrix = np.zeros((len(pairs), m))
    for p, (r, _) in enumerate(partners.items()):
        pair_matrix[p] = x[r]
        x[r] = 0.0
    return Allocation(x, pairs=pairs, pair_matrix=pair_matrix)
