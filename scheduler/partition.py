"""POP-style partitioning: one allocation problem split into K smaller ones.

As POP does (Narayanan et al., SOSP 2021), the active jobs and the GPUs are split into
``k`` sub-problems, each solved by the same policy, and the ``k`` answers are put
together into one allocation matrix for the round mechanism, which places jobs over
the whole cluster as it always does.

- GPUs: every type's count is divided evenly, ``n_j / k`` to each part (a fractional
  share, as POP allows; the shares add up to the cluster's count).
- Jobs: a job keeps its part while it is active. A job seen for the first time goes
  to the part whose jobs hold the fewest GPUs (the sum of their GPU counts; ties to
  the lowest part), new jobs taken in row (job-id) order. No random draw is involved,
  so the same jobs always give the same parts.

Everything here is a pure function of arrays except :class:`PartitionedPolicy`, which
keeps one thing between solves: which part each active job is in.

``k = 1`` never reaches this module (:func:`partitioned_spec` returns the policy
itself), so the exact path is the exact path.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from scheduler.conic import Solution
from scheduler.keyed import lookup
from scheduler.policies import PolicyContext
from scheduler.problem import Allocation, AllocationProblem
from scheduler.registry import AllocateFn, PolicySpec


def split_capacities(capacities: np.ndarray, k: int) -> np.ndarray:
    """``k x m``: each part's share of every type, ``n_j / k``; the last part takes what
    rounding left, so that the column sums are the cluster's counts."""
    caps = np.asarray(capacities, dtype=float)
    share = np.tile(caps / k, (k, 1))
    share[-1] = np.maximum(caps - share[:-1].sum(axis=0), 0.0)
    return share


def assign_parts(
    job_ids: np.ndarray,
    demands: np.ndarray,
    k: int,
    known_ids: np.ndarray,
    known_parts: np.ndarray,
) -> np.ndarray:
    """The part of every job (``job_ids`` in row order, ``demands`` their GPU counts).

    Jobs in ``known_ids`` keep their ``known_parts``; each other job, in row order,
    joins the part whose jobs (kept and newly placed) hold the fewest GPUs.
    """
    parts = lookup(job_ids, known_ids, known_parts)
    demand = np.asarray(demands, dtype=float)
    kept = parts >= 0
    load = np.bincount(parts[kept], weights=demand[kept], minlength=k).astype(float)
    for i in np.flatnonzero(~kept).tolist():
        part = int(np.argmin(load))
        parts[i] = part
        load[part] += demand[i]
    return parts


def sub_problem(
    problem: AllocationProblem, rows: np.ndarray, capacities: np.ndarray, departed_parts: np.ndarray
) -> AllocationProblem:
    """The problem of the jobs in ``rows`` on ``capacities``; of the departed jobs, those
    whose ``departed_parts`` entry is True."""
    pairs = problem.previous_pairs
    if pairs is not None:
        local = np.full(problem.num_jobs, -1, dtype=np.int64)
        local[rows] = np.arange(rows.size)
        mapped = local[pairs.reshape(-1, 2)]
        pairs = mapped[(mapped >= 0).all(axis=1)]
    iso = problem.isolated_time
    return replace(
        problem,
        throughputs=problem.throughputs[rows],
        scale_factors=problem.scale_factors[rows],
        capacities=capacities,
        weights=problem.weights[rows],
        remaining_steps=problem.remaining_steps[rows],
        times_since_start=problem.times_since_start[rows],
        previous=problem.previous[rows],
        isolated_time=None if iso is None else iso[rows],
        job_ids=None if problem.job_ids is None else problem.job_ids[rows],
        departed=tuple(d for d, keep in zip(problem.departed, departed_parts, strict=True) if keep),
        job_types=None if problem.job_types is None else problem.job_types[rows],
        previous_pairs=pairs,
    )


def combine(n: int, m: int, answers: list[tuple[np.ndarray, Allocation]]) -> Allocation:
    """One allocation over ``n`` jobs and ``m`` types from each part's rows and answer:
    the union of the matrices, every part's solves in order, failed if any part failed,
    isolated throughputs where a part reported them (NaN elsewhere), and the pairs of
    every part in global rows."""
    matrix = np.zeros((n, m))
    solves: list[Solution] = []
    failed = False
    isolated: np.ndarray | None = None
    pairs: list[np.ndarray] = []
    pair_matrix: list[np.ndarray] = []
    for rows, answer in answers:
        matrix[rows] = answer.matrix
        solves.extend(answer.solves)
        failed = failed or answer.failed
        if answer.isolated_throughputs is not None:
            if isolated is None:
                isolated = np.full(n, np.nan)
            isolated[rows] = answer.isolated_throughputs
        if answer.pairs is not None and answer.pair_matrix is not None:
            pairs.append(rows[np.asarray(answer.pairs, dtype=np.int64).reshape(-1, 2)])
            pair_matrix.append(np.asarray(answer.pair_matrix, dtype=float).reshape(-1, m))
    return Allocation(
        matrix,
        tuple(solves),
        failed=failed,
        isolated_throughputs=isolated,
        pairs=np.concatenate(pairs) if pairs else None,
        pair_matrix=np.concatenate(pair_matrix) if pair_matrix else None,
    )


class PartitionedPolicy:
    """A policy solved as ``k`` sub-problems (see the module docstring).

    Its one state is the part of each job it has seen and that is still active, so that
    a job keeps its part from one solve to the next.
    """

    def __init__(self, allocate: AllocateFn, k: int) -> None:
        if k < 2:
            raise ValueError(f"partitioning needs at least 2 parts, not {k}")
        self.allocate = allocate
        self.k = k
        self.known_ids = np.zeros(0, dtype=np.int64)
        self.known_parts = np.zeros(0, dtype=np.int64)

    def parts_of(self, problem: AllocationProblem) -> np.ndarray:
        """Each row's part; remembers them (and forgets the jobs no longer present)."""
        ids = _row_ids(problem)
        parts = assign_parts(ids, problem.scale_factors, self.k, self.known_ids, self.known_parts)
        self.known_ids, self.known_parts = ids, parts
        return parts

    def __call__(self, problem: AllocationProblem, ctx: PolicyContext) -> Allocation:
        departed_ids = np.array([d[0] for d in problem.departed], dtype=np.int64)
        departed_parts = lookup(departed_ids, self.known_ids, self.known_parts)
        parts = self.parts_of(problem)
        caps = split_capacities(problem.capacities, self.k)
        # A part takes job classes when the whole problem would: its threshold is the
        # whole problem's over the number of parts.
        ctx = replace(ctx, class_min_jobs=-(-ctx.class_min_jobs // self.k))
        answers = []
        for part in range(self.k):
            rows = np.flatnonzero(parts == part)
            if rows.size == 0:
                continue
            sub = sub_problem(problem, rows, caps[part], departed_parts == part)
            answers.append((rows, self.allocate(sub, ctx)))
        return combine(problem.num_jobs, problem.num_types, answers)


def _row_ids(problem: AllocationProblem) -> np.ndarray:
    """The rows' job ids (row numbers when the problem carries none)."""
    if problem.job_ids is None:
        return np.arange(problem.num_jobs, dtype=np.int64)
    return np.asarray(problem.job_ids, dtype=np.int64)


def partitioned_spec(spec: PolicySpec, k: int) -> PolicySpec:
    """The policy solved in ``k`` parts; ``k = 1``: the policy itself, untouched."""
    if k == 1:
        return spec
    return replace(spec, allocate=PartitionedPolicy(spec.allocate, k))


@dataclass(frozen=True)
class Refusal:
    """Why a number of parts cannot be used, and which setting is at fault."""

    setting: str  # "partitions", "policy" or "quirks"
    message: str


def refusal(
    k: object, counts: tuple[int, ...], spec: PolicySpec, quirks: bool, largest_job: int = 1
) -> Refusal | None:
    """Why ``k`` parts cannot be used for this cluster (GPU counts per type), policy and
    mode, or None: ``k`` must be an integer from 1 to the smallest type's count (types
    with no GPUs aside); more than one part needs a policy that solves an allocation
    over all jobs together (not FIFO, AlloX, Gandiva or isolated), no quirks, and
    every part's share of every type must hold the ``largest_job``'s GPUs (a job
    larger than its part's share would get no time from the solve)."""
    positive = [c for c in counts if c > 0]
    smallest = min(positive) if positive else 1
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= smallest:
        return Refusal(
            "partitions",
            f"must be an integer from 1 to {smallest} (the smallest GPU type's count), not {k!r}",
        )
    if k == 1:
        return None
    if quirks:
        return Refusal("quirks", "the reference has no partitioning: use quirks 'none' with it")
    if not spec.partitionable or spec.fifo_like:
        return Refusal(
            "policy",
            f"policy '{spec.name}' is not solved over all jobs together, so there is "
            "nothing to partition (partitions apply to the LP and conic policies)",
        )
    if smallest / k < largest_job:
        return Refusal(
            "partitions",
            f"{k} parts leave {smallest / k:g} GPUs of the smallest type to each, fewer than "
            f"the {largest_job} a job may need; at most {smallest // largest_job}",
        )
    return None
