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

from collections.abc import Callable
from typing import Any

import numpy as np

from scheduler.policies.base import PolicyContext
from scheduler.problem import Allocation, AllocationProblem

# Up to this many jobs a policy converts whole arrays to lists at once; above, row by row.
_WHOLE_ROWS = 512


def _row_reader(a: np.ndarray) -> Callable[[int], list[Any]]:
    """Row ``i`` of ``a`` as a list: a short array converted at once, a long one row by
    row as the walk reaches it (it stops once the cluster is full, long before the end
    of a queue of thousands)."""
    if a.shape[0] <= _WHOLE_ROWS:
        return a.tolist().__getitem__  # type: ignore[no-any-return]
    return lambda i: a[i].tolist()


def _held(matrix: np.ndarray) -> tuple[list[int], list[int]]:
    """The rows of an allocation that hold a whole type (an entry of at least 0.5), and
    that type (the first of their largest entries)."""
    rows = np.flatnonzero(matrix.max(axis=1, initial=0.0) >= 0.5)
    return rows.tolist(), matrix[rows].argmax(axis=1).tolist()


def _fifo(problem: AllocationProblem, ctx: PolicyContext, *, perf: bool) -> np.ndarray:
    n, m = problem.throughputs.shape
    x = np.zeros((n, m))
    free = problem.capacities.astype(float).tolist()
    runnable = problem.runnable
    s = problem.scale_factors.tolist()
    queue = list(range(n))
    if not perf:
        for i, j in zip(*_held(problem.previous * runnable), strict=True):
            if free[j] >= s[i]:
                x[i, j] = 1.0
                free[j] -= s[i]
        queue = np.flatnonzero(x.sum(axis=1) == 0).tolist()
    types = range(m)
    allowed = _row_reader(runnable)
    rates_of = _row_reader(problem.throughputs) if perf else None
    for i in queue:
        size, row = s[i], allowed(i)
        candidates = [j for j in types if row[j] and free[j] >= size]
        if not candidates:
            if any(row):
                break
            continue  # a job that can run nowhere is skipped, it cannot block the queue
        if rates_of is not None:  # perf
            rate = rates_of(i)
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
    held_rows, held_types = _held(problem.previous)
    # job id -> (row, type) of the jobs holding a type
    held = {
        job_id: (row, t)
        for job_id, row, t in zip(ids[held_rows].tolist(), held_rows, held_types, strict=True)
    }
    gone = {job_id: t for job_id, t, _size in problem.departed}
    waiting = np.ones(n, dtype=bool)
    waiting[held_rows] = False
    queue = np.flatnonzero(waiting).tolist()  # rows, in id order
    head = 0  # the queue's head: queue[head:] still waits
    available = problem.capacities.astype(float).tolist()
    assigned = {row: t for row, t in held.values()}  # row -> type
    for job_id in sorted([*held, *gone]):
        if job_id in gone:
            t = gone[job_id]
            if head < len(queue):
                row = queue[head]
                head += 1
                if s[row] <= available[t]:
                    assigned[row] = t
                    available[t] -= s[row]
        else:
            row, t = held[job_id]
            available[t] -= s[row]
    listed = sorted((j for j in range(m) if available[j] > 0), key=lambda j: names[j])
    while head < len(queue) and listed:
        row = queue[head]
        head += 1
        size = s[row]
        fits = [pos for pos, j in enumerate(listed) if available[j] >= size]
        if not fits:
            break
        drawn = fits[ctx.rng.randrange(len(fits))]
        t = listed[-1]
        assigned[row] = t
        available[t] -= size
        if available[t] == 0:
            listed.pop(drawn)
    x = np.zeros((n, m))
    if assigned:
        x[list(assigned), list(assigned.values())] = 1.0
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
    available = problem.capacities.astype(float).tolist()
    s = problem.scale_factors.tolist()
    rates_of = _row_reader(problem.throughputs)
    x = np.zeros((n, m))
    for i in range(n):
        rates = rates_of(i)
        best, best_rate = -1, -1.0
        for j in order:
            if available[j] >= s[i] and rates[j] > best_rate:
                best, best_rate = j, rates[j]
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
