"""FIFO's allocations on long queues: the same as the plain row-by-row walk.

The policies in :mod:`scheduler.policies.fifo` read a long queue's rows only as far as
the walk goes and find held jobs with array operations. The oracles below are the
plain form of the same rules (every row converted, every lookup through a dict); on
random problems, short and long (past the whole-array threshold), with held jobs,
departed ones and jobs that fit nowhere, both give the same matrix and leave the
random stream in the same state.
"""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policies.base import PolicyContext
from scheduler.policies.fifo import _fifo, _reference_fifo, _reference_fifo_perf
from scheduler.problem import AllocationProblem

NAMES = ("v100", "p100", "k80", "a100")


def _oracle_fifo(problem: AllocationProblem, rng: random.Random, *, perf: bool) -> np.ndarray:
    n, m = problem.throughputs.shape
    x = np.zeros((n, m))
    free = problem.capacities.astype(float).tolist()
    allowed = problem.runnable.tolist()
    s = problem.scale_factors.tolist()
    rates = problem.throughputs.tolist()
    queue = list(range(n))
    if not perf:
        held = problem.previous * problem.runnable
        for i in range(n):
            if held[i].max(initial=0.0) >= 0.5:
                j = int(np.argmax(held[i]))
                if free[j] >= s[i]:
                    x[i, j] = 1.0
                    free[j] -= s[i]
        queue = [i for i in queue if x[i].sum() == 0]
    for i in queue:
        candidates = [j for j in range(m) if allowed[i][j] and free[j] >= s[i]]
        if not candidates:
            if any(allowed[i]):
                break
            continue
        if perf:
            j = max(candidates, key=lambda c: (rates[i][c], -c))
        else:
            j = candidates[rng.randrange(len(candidates))]
        x[i, j] = 1.0
        free[j] -= s[i]
    return x


def _oracle_reference_fifo(problem: AllocationProblem, rng: random.Random) -> np.ndarray:
    n, m = problem.throughputs.shape
    assert problem.job_ids is not None
    ids = problem.job_ids.tolist()
    names = problem.type_names
    s = problem.scale_factors.tolist()
    row_of = {j: i for i, j in enumerate(ids)}
    held = {
        ids[i]: int(np.argmax(problem.previous[i]))
        for i in range(n)
        if problem.previous[i].max(initial=0.0) >= 0.5
    }
    gone = {job_id: t for job_id, t, _ in problem.departed}
    queue = [j for j in ids if j not in held]
    available = problem.capacities.astype(float).tolist()
    assigned = dict(held)
    for job_id in sorted([*held, *gone]):
        if job_id in gone:
            if queue:
                head = queue.pop(0)
                if s[row_of[head]] <= available[gone[job_id]]:
                    assigned[head] = gone[job_id]
                    available[gone[job_id]] -= s[row_of[head]]
        else:
            available[held[job_id]] -= s[row_of[job_id]]
    listed = sorted((j for j in range(m) if available[j] > 0), key=lambda j: names[j])
    while queue and listed:
        job_id = queue.pop(0)
        size = s[row_of[job_id]]
        fits = [pos for pos, j in enumerate(listed) if available[j] >= size]
        if not fits:
            break
        drawn = fits[rng.randrange(len(fits))]
        t = listed[-1]
        assigned[job_id] = t
        available[t] -= size
        if available[t] == 0:
            listed.pop(drawn)
    x = np.zeros((n, m))
    for job_id, t in assigned.items():
        x[row_of[job_id], t] = 1.0
    return x


def _oracle_reference_fifo_perf(problem: AllocationProblem) -> np.ndarray:
    n, m = problem.throughputs.shape
    order = sorted(range(m), key=lambda j: problem.type_names[j])
    available = problem.capacities.astype(float).tolist()
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


def _problem(seed: int, n: int, m: int) -> AllocationProblem:
    """A queue of ``n`` jobs on ``m`` types: some hold a type (some where they cannot
    run, or more than the type has left), some cannot run anywhere, some departed."""
    rng = np.random.default_rng(seed)
    thr = np.round(rng.uniform(0.5, 4.0, (n, m)), 1)  # ties between types are common
    thr[rng.random((n, m)) < 0.15] = 0.0
    scale = rng.choice([1, 2, 4, 8], n, p=[0.55, 0.2, 0.15, 0.1]).astype(np.int64)
    capacities = rng.integers(0, 12, m).astype(float)
    previous = np.zeros((n, m))
    held = rng.random(n) < 0.3
    previous[held, rng.integers(0, m, int(held.sum()))] = 1.0
    ids = np.cumsum(rng.integers(1, 4, n)).astype(np.int64)
    taken = set(ids.tolist())
    departed = tuple(
        (int(j), int(rng.integers(0, m)), int(rng.choice([1, 2, 4])))
        for j in rng.integers(0, int(ids[-1]) + 5 if n else 5, int(rng.integers(0, 4))).tolist()
        if j not in taken
    )
    return AllocationProblem(
        throughputs=thr,
        scale_factors=scale,
        capacities=capacities,
        weights=np.ones(n),
        remaining_steps=np.ones(n),
        times_since_start=np.ones(n),
        previous=previous,
        job_ids=ids,
        type_names=NAMES[:m],
        departed=tuple(dict.fromkeys(departed)),
    )


SIZES = st.one_of(st.integers(0, 40), st.integers(500, 1200))


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1), SIZES, st.integers(1, 4))
def test_each_fifo_gives_the_plain_walks_allocation(seed: int, n: int, m: int) -> None:
    problem = _problem(seed, n, m)
    for perf in (False, True):
        ours, theirs = random.Random(seed), random.Random(seed)
        got = _fifo(problem, PolicyContext(rng=ours), perf=perf)
        assert np.array_equal(got, _oracle_fifo(problem, theirs, perf=perf))
        assert ours.getstate() == theirs.getstate()
    ours, theirs = random.Random(seed), random.Random(seed)
    got = _reference_fifo(problem, PolicyContext(rng=ours, quirks=True))
    assert np.array_equal(got, _oracle_reference_fifo(problem, theirs))
    assert ours.getstate() == theirs.getstate()
    assert np.array_equal(_reference_fifo_perf(problem), _oracle_reference_fifo_perf(problem))


def test_a_long_queue_behind_a_full_cluster_gets_nothing() -> None:
    """2,000 jobs on 6 GPUs: the first six get a GPU each, in arrival order."""
    n = 2000
    problem = AllocationProblem(
        throughputs=np.ones((n, 2)),
        scale_factors=np.ones(n, dtype=np.int64),
        capacities=np.array([3.0, 3.0]),
        weights=np.ones(n),
        remaining_steps=np.ones(n),
        times_since_start=np.ones(n),
        previous=np.zeros((n, 2)),
        job_ids=np.arange(n, dtype=np.int64),
        type_names=("k80", "v100"),
    )
    for x in (
        _fifo(problem, PolicyContext(rng=random.Random(1)), perf=True),
        _reference_fifo_perf(problem),
        _reference_fifo(problem, PolicyContext(rng=random.Random(1), quirks=True)),
    ):
        assert x.sum(axis=1)[:6].tolist() == [1.0] * 6
        assert x[6:].sum() == 0.0
        assert x.sum(axis=0).tolist() == [3.0, 3.0]
