"""POP-style partitioning (scheduler/partition.py): the split of GPUs and jobs, the
sub-problems, and the union of their allocations."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler import partition, policies, registry
from scheduler.partition import PartitionedPolicy
from scheduler.policies import base
from scheduler.problem import Allocation, AllocationProblem
from tests.allocation_checks import TOL, check_allocation

POP_POLICIES = [
    "max_min_fairness",
    "max_min_fairness_perf",
    "max_min_fairness_water_filling_perf",
    "finish_time_fairness_perf",
    "min_total_duration_perf",
    "max_sum_throughput_perf",
]


def _ctx() -> policies.PolicyContext:
    return policies.PolicyContext(rng=random.Random(0))


@st.composite
def split_problems(draw: st.DrawFn) -> tuple[AllocationProblem, int]:
    """Random jobs (zero cells, GPU counts 1-8, ids with gaps) on 1-3 types of 1-48 GPUs,
    and a number of parts from 1 to the smallest type's count (at most 8)."""
    n = draw(st.integers(0, 80))
    m = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    t = rng.uniform(0.1, 10.0, (n, m))
    t[rng.random((n, m)) < 0.2] = 0.0
    caps = rng.integers(1, 49, m).astype(float)
    k = draw(st.integers(1, int(min(caps.min(), 8))))
    ids = np.sort(rng.choice(10 * n + 1, n, replace=False))
    problem = AllocationProblem.build(
        t,
        rng.choice([1, 2, 4, 8], n, p=[0.7, 0.1, 0.15, 0.05]),
        caps,
        remaining_steps=rng.uniform(1e3, 1e6, n),
        times_since_start=rng.uniform(0, 1e5, n),
        job_ids=ids,
    )
    return problem, k


class Recorder:
    """An allocation function that calls the real policy and keeps each sub-problem."""

    def __init__(self, name: str) -> None:
        self.allocate = registry.get(name).allocate
        self.seen: list[AllocationProblem] = []

    def __call__(self, problem: AllocationProblem, ctx: policies.PolicyContext) -> Allocation:
        self.seen.append(problem)
        return self.allocate(problem, ctx)


@given(
    st.lists(st.integers(0, 100_000), min_size=1, max_size=5),
    st.integers(1, 64),
)
def test_capacities_are_split_evenly_and_sum_to_the_cluster(counts: list[int], k: int) -> None:
    """Every part gets n_j / k of every type; the parts add up to the cluster's counts."""
    caps = np.array(counts, dtype=float)
    share = partition.split_capacities(caps, k)
    assert share.shape == (k, caps.size)
    assert (share >= 0).all()
    np.testing.assert_allclose(share.sum(axis=0), caps, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(share, np.tile(caps / k, (k, 1)), rtol=1e-9, atol=1e-9)


@given(
    st.lists(st.sampled_from([1, 2, 4, 8]), max_size=200),
    st.integers(1, 16),
    st.data(),
)
def test_every_job_is_in_exactly_one_part_and_known_jobs_keep_theirs(
    demands: list[int], k: int, data: st.DataObject
) -> None:
    """Each job gets one part in [0, k); jobs already placed keep their part; new jobs
    never leave the loads further apart than the larger of the spread they found and
    the largest GPU count."""
    n = len(demands)
    ids = np.arange(n, dtype=np.int64) * 3
    demand = np.array(demands, dtype=float)
    known = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    known_parts = np.array(
        data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)), dtype=np.int64
    )
    parts = partition.assign_parts(ids, demand, k, ids[known], known_parts[known])
    assert parts.shape == (n,)
    assert ((parts >= 0) & (parts < k)).all()
    np.testing.assert_array_equal(parts[known], known_parts[known])
    before = np.bincount(known_parts[known], weights=demand[known], minlength=k)
    after = np.bincount(parts, weights=demand, minlength=k)
    spread = max(float(np.ptp(before)), float(demand.max(initial=0.0)))
    assert float(np.ptp(after)) <= spread + 1e-9
    again = partition.assign_parts(ids, demand, k, ids[known], known_parts[known])
    np.testing.assert_array_equal(parts, again)


def test_a_new_job_joins_the_part_holding_the_fewest_gpus() -> None:
    """Ties go to the lowest part; GPU counts, not job counts, are the load."""
    ids = np.array([1, 2, 3, 4])
    parts = partition.assign_parts(ids, np.array([8, 1, 1, 1]), 2, np.zeros(0), np.zeros(0))
    np.testing.assert_array_equal(parts, [0, 1, 1, 1])
    kept = partition.assign_parts(np.array([2, 3, 4, 9]), np.array([1, 1, 1, 2]), 2, ids, parts)
    np.testing.assert_array_equal(kept, [1, 1, 1, 0])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(split_problems(), st.sampled_from(POP_POLICIES))
def test_parts_respect_their_share_and_the_union_respects_the_cluster(
    case: tuple[AllocationProblem, int], name: str
) -> None:
    """Every job is in exactly one sub-problem; each part's allocation keeps within its
    share of every type; the union keeps within the cluster (rows at most 1, nothing
    where a job cannot run)."""
    problem, k = case
    recorder = Recorder(name)
    policy = PartitionedPolicy(recorder, k) if k > 1 else recorder
    alloc = policy(problem, _ctx())
    check_allocation(problem, alloc.matrix)
    seen = np.concatenate([p.job_ids for p in recorder.seen if p.job_ids is not None] or [[]])
    assert sorted(seen.tolist()) == problem.job_ids.tolist()  # type: ignore[union-attr]
    share = problem.capacities / k
    for sub in recorder.seen:
        np.testing.assert_allclose(sub.capacities, share, rtol=1e-9)
        rows = np.searchsorted(problem.job_ids, sub.job_ids)  # type: ignore[arg-type]
        used = (problem.scale_factors[rows, None] * alloc.matrix[rows]).sum(axis=0)
        assert (used <= share + TOL).all(), (used, share)
    assert not alloc.failed


def test_a_job_keeps_its_part_from_one_solve_to_the_next() -> None:
    """Jobs present in both solves are in the same part in both; a departed job's
    record goes to its own part only."""
    rng = np.random.default_rng(3)
    recorder = Recorder("max_min_fairness_perf")
    policy = PartitionedPolicy(recorder, 3)
    first = AllocationProblem.build(
        rng.uniform(1, 5, (30, 3)), np.ones(30, int), np.full(3, 12.0), job_ids=np.arange(30)
    )
    policy(first, _ctx())
    parts_before = dict(zip(policy.known_ids.tolist(), policy.known_parts.tolist(), strict=True))
    recorder.seen.clear()
    ids = np.array([*range(5, 30), 40, 41])
    second = AllocationProblem.build(
        rng.uniform(1, 5, (ids.size, 3)),
        np.ones(ids.size, int),
        np.full(3, 12.0),
        job_ids=ids,
        departed=((2, 0, 1),),
    )
    policy(second, _ctx())
    parts_after = dict(zip(policy.known_ids.tolist(), policy.known_parts.tolist(), strict=True))
    assert all(parts_after[j] == parts_before[j] for j in range(5, 30))
    assert set(parts_after) == set(ids.tolist())
    with_departed = [p for p in recorder.seen if p.departed]
    assert len(with_departed) == 1
    assert with_departed[0].departed == ((2, 0, 1),)
    assert parts_before[2] == parts_after[int(with_departed[0].job_ids[0])]  # type: ignore[index]


def test_identical_jobs_split_in_halves_get_the_exact_allocation() -> None:
    """With two halves of identical jobs, each half on half of every type is the exact
    problem cut in two: the partitioned allocation is the exact one."""
    row = np.array([[3.0, 2.0, 1.0]])
    t = np.repeat(row, 8, axis=0)
    problem = AllocationProblem.build(t, np.ones(8, int), np.array([4.0, 4.0, 4.0]))
    spec = registry.get("max_min_fairness_perf")
    exact = spec.allocate(problem, _ctx()).matrix
    split = partition.partitioned_spec(spec, 2).allocate(problem, _ctx()).matrix
    np.testing.assert_allclose(split, exact, atol=1e-6)


def test_one_part_is_the_policy_itself() -> None:
    """K = 1 returns the very PolicySpec (the exact path); fewer than 2 parts is not a
    partitioned policy."""
    spec = registry.get("max_min_fairness_perf")
    assert partition.partitioned_spec(spec, 1) is spec
    assert isinstance(partition.partitioned_spec(spec, 2).allocate, PartitionedPolicy)
    with pytest.raises(ValueError, match="at least 2 parts"):
        PartitionedPolicy(spec.allocate, 1)


def test_pairs_and_isolated_rates_come_back_in_the_whole_problem_rows() -> None:
    """A part's pairs (its own row indices) and isolated throughputs are mapped back to
    the rows of the whole problem; rows no part reported stay NaN."""
    first = (
        np.array([0, 2, 4]),
        Allocation(
            np.full((3, 2), 0.1), pairs=np.array([[0, 2]]), pair_matrix=np.array([[0.0, 0.4]])
        ),
    )
    second = (
        np.array([1, 3]),
        Allocation(
            np.full((2, 2), 0.2),
            isolated_throughputs=np.array([5.0, 6.0]),
            pairs=np.array([[0, 1]]),
            pair_matrix=np.array([[0.3, 0.0]]),
        ),
    )
    out = partition.combine(6, 2, [first, second])
    np.testing.assert_allclose(out.matrix[[0, 2, 4]], 0.1)
    np.testing.assert_allclose(out.matrix[[1, 3]], 0.2)
    np.testing.assert_allclose(out.matrix[5], 0.0)
    np.testing.assert_array_equal(out.pairs, [[0, 4], [1, 3]])  # type: ignore[arg-type]
    np.testing.assert_allclose(out.pair_matrix, [[0.0, 0.4], [0.3, 0.0]])  # type: ignore[arg-type]
    assert out.isolated_throughputs is not None
    np.testing.assert_array_equal(out.isolated_throughputs[[1, 3]], [5.0, 6.0])
    assert np.isnan(out.isolated_throughputs[[0, 2, 4, 5]]).all()


def test_a_sub_problem_keeps_only_the_pairs_inside_its_part() -> None:
    """Previous pairs are renumbered to the part's rows; a pair reaching outside it is
    dropped."""
    problem = AllocationProblem.build(
        np.ones((5, 1)), np.ones(5, int), np.array([4.0]), job_ids=np.arange(5)
    )
    problem = replace(problem, previous_pairs=np.array([[0, 2], [1, 2], [3, 4]]))
    sub = partition.sub_problem(problem, np.array([0, 2, 3]), np.array([2.0]), np.zeros(0, bool))
    np.testing.assert_array_equal(sub.previous_pairs, [[0, 1]])  # type: ignore[arg-type]
    np.testing.assert_array_equal(sub.job_ids, [0, 2, 3])  # type: ignore[arg-type]
    np.testing.assert_array_equal(sub.capacities, [2.0])


@pytest.mark.parametrize(
    ("k", "policy", "quirks", "setting"),
    [
        (0, "max_min_fairness", False, "partitions"),
        (5, "max_min_fairness", False, "partitions"),
        (2.0, "max_min_fairness", False, "partitions"),
        (True, "max_min_fairness", False, "partitions"),
        (2, "max_min_fairness", True, "quirks"),
        (2, "fifo_perf", False, "policy"),
        (2, "allox", False, "policy"),
        (2, "gandiva", False, "policy"),
        (2, "isolated", False, "policy"),
    ],
)
def test_what_cannot_be_partitioned_is_refused(
    k: object, policy: str, quirks: bool, setting: str
) -> None:
    """K outside 1..smallest type count, quirks with K > 1, and policies with nothing
    to split (FIFO, AlloX, Gandiva, isolated) are refused, naming what is at fault."""
    refused = partition.refusal(k, (4, 6, 0), registry.get(policy), quirks)
    assert refused is not None
    assert refused.setting == setting
    assert partition.refusal(1, (4, 6, 0), registry.get(policy), quirks) is None
    if setting != "partitions":
        assert partition.refusal(4, (4, 6, 0), registry.get("max_min_fairness"), False) is None


def test_parts_take_job_classes_when_the_whole_problem_would() -> None:
    """POP hands its parts the class threshold over K (rounded up), so a part of a large
    problem is posed over classes as the whole would be; with classes off they stay off."""
    seen: list[policies.PolicyContext] = []

    def allocate(problem: AllocationProblem, ctx: policies.PolicyContext) -> Allocation:
        seen.append(ctx)
        return Allocation(np.zeros(problem.throughputs.shape))

    problem = AllocationProblem.build(np.ones((9, 2)), np.ones(9, dtype=int), np.array([8.0, 8.0]))
    PartitionedPolicy(allocate, 3)(problem, _ctx())
    assert [c.class_min_jobs for c in seen] == [-(-base.CLASS_MIN_JOBS // 3)] * 3
    assert all(c.job_classes for c in seen)
    seen.clear()
    PartitionedPolicy(allocate, 2)(problem, replace(_ctx(), job_classes=False, class_min_jobs=9))
    assert [(c.class_min_jobs, c.job_classes) for c in seen] == [(5, False), (5, False)]
