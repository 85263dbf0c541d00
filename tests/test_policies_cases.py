"""Each policy on a tiny case whose allocation is known in closed form."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from scheduler import policies
from scheduler.policies import fairness
from scheduler.problem import Allocation, AllocationProblem

CTX = policies.PolicyContext(rng=random.Random(0))
QUIRKS = policies.PolicyContext(rng=random.Random(0), quirks=True)


def _p(t: list[list[float]], s: list[int], cap: list[float], **kw: object) -> AllocationProblem:
    return AllocationProblem.build(np.array(t, float), np.array(s), np.array(cap, float), **kw)  # type: ignore[arg-type]


def test_max_min_two_types_equal_shares() -> None:
    """Three jobs, two single-GPU types: everybody gets 2/3 of a GPU's time."""
    x = policies.max_min_fairness(_p([[1, 1]] * 3, [1, 1, 1], [1, 1]), CTX).matrix
    np.testing.assert_allclose(x.sum(axis=1), [2 / 3] * 3, atol=1e-5)


def test_water_filling_raises_what_can_still_rise() -> None:
    """A and B share the only type they can use (0.5 each); C then takes all of the other."""
    p = _p([[1, 0], [1, 0], [1, 1]], [1, 1, 1], [1, 1])
    wf = policies.max_min_fairness_water_filling(p, CTX).matrix
    np.testing.assert_allclose(wf, [[0.5, 0], [0.5, 0], [0, 1]], atol=1e-5)
    plain = policies.max_min_fairness(p, CTX).matrix  # tie-broken: C stops at the minimum
    np.testing.assert_allclose(plain, [[0.5, 0], [0.5, 0], [0, 0.5]], atol=1e-5)


def test_water_filling_perf_is_leximin_over_normalised_throughput() -> None:
    """Perf water-filling never leaves a job below what plain perf max-min gives it."""
    p = _p([[4, 1, 0.5], [2, 2, 1], [1, 1, 1], [3, 0, 1]], [1, 1, 1, 1], [1, 1, 1])
    share = policies.proportional_throughputs(p)
    wf = policies.max_min_fairness_water_filling_perf(p, CTX).matrix
    mm = policies.max_min_fairness_perf(p, CTX).matrix
    norm = lambda x: (p.throughputs * x).sum(axis=1) / share  # noqa: E731
    assert norm(wf).min() == pytest.approx(norm(mm).min(), rel=1e-5)
    assert sorted(norm(wf)) >= sorted(norm(mm) - 1e-6)


def test_finish_time_fairness_equal_jobs_split_evenly() -> None:
    """Two identical fresh jobs on one GPU: half each, rho = 2."""
    p = _p([[1.0], [1.0]], [1, 1], [1], remaining_steps=[100.0, 100.0])
    x = policies.finish_time_fairness_perf(p, CTX).matrix
    np.testing.assert_allclose(x[:, 0], [0.5, 0.5], atol=1e-5)


def test_finish_time_fairness_golden_ratio() -> None:
    """A job that already waited its whole isolated time gets 1/phi of the GPU.

    rho_A = 1 + 1/a and rho_B = 1/(1 - a) are equal at a^2 + a - 1 = 0.
    """
    p = _p(
        [[1.0], [1.0]], [1, 1], [1], remaining_steps=[100.0, 100.0], times_since_start=[100.0, 0.0]
    )
    x = policies.finish_time_fairness_perf(p, CTX).matrix
    a = (math.sqrt(5) - 1) / 2
    np.testing.assert_allclose(x[:, 0], [a, 1 - a], atol=1e-4)


def test_finish_time_las_baseline_equal_jobs_share_like_las() -> None:
    """The same two jobs against the older baseline: each measured against agnostic LAS
    (half the GPU) and its whole time since arrival.

    rho_A = (100 + 100/a) / (100 + 200) and rho_B = (100 / (1 - a)) / 200: at a = 1/2
    both are 1, the LAS split itself, whatever A's wait (checked at 100 s and 700 s).
    """
    las = policies.PolicyContext(rng=random.Random(0), ftf_isolated="las")
    for waited in (100.0, 700.0):
        p = _p(
            [[1.0], [1.0]],
            [1, 1],
            [1],
            remaining_steps=[100.0, 100.0],
            times_since_start=[waited, 0.0],
        )
        result = policies.finish_time_fairness_perf(p, las)
        np.testing.assert_allclose(result.matrix[:, 0], [0.5, 0.5], atol=1e-4)
        np.testing.assert_allclose(result.isolated_throughputs, [0.5, 0.5], atol=1e-6)
        assert len(result.solves) == 3  # LAS (its level, its tie-break), then the cone program


def test_finish_time_las_baseline_uses_each_jobs_las_throughput() -> None:
    """Two types, A fast only on the first: LAS gives A and B 0.5 of each type's time;
    A's baseline throughput is then 0.5 * 4 + 0.5 * 1 = 2.5 and B's 0.5 + 0.5 = 1."""
    las = policies.PolicyContext(rng=random.Random(0), ftf_isolated="las")
    p = _p([[4.0, 1.0], [1.0, 1.0]], [1, 1], [1, 1], remaining_steps=[1000.0, 1000.0])
    result = policies.finish_time_fairness_perf(p, las)
    np.testing.assert_allclose(result.isolated_throughputs, [2.5, 1.0], atol=1e-4)
    share = policies.finish_time_fairness_perf(p, CTX)
    np.testing.assert_allclose(share.isolated_throughputs, [2.5, 1.0], atol=1e-9)


def test_finish_time_zero_baseline_job(monkeypatch: pytest.MonkeyPatch) -> None:
    """A job whose LAS baseline throughput is 0 (LAS put it only where it cannot run).

    With quirks it follows the reference's division by zero: its rho term vanishes but
    its cone still asks for some throughput, so it runs; B still gets its best, a whole
    GPU's time. Without quirks such a job cannot be normalised and gets nothing.
    """

    def las_on_type_0(problem: AllocationProblem, ctx: policies.PolicyContext) -> Allocation:
        return Allocation(np.array([[1.0, 0.0], [0.0, 1.0]]))

    monkeypatch.setattr(fairness, "max_min_fairness", las_on_type_0)
    p = _p([[0.0, 2.0], [1.0, 1.0]], [1, 1], [1, 1], remaining_steps=[1000.0, 1000.0])
    quirks = policies.PolicyContext(rng=random.Random(0), quirks=True, ftf_isolated="las")
    result = policies.finish_time_fairness_perf(p, quirks)
    np.testing.assert_allclose(result.isolated_throughputs, [0.0, 1.0])
    assert not result.failed
    x = result.matrix
    assert (p.throughputs[0] * x[0]).sum() > 1e-3
    assert x[1].sum() == pytest.approx(1.0, abs=1e-4)
    las = policies.PolicyContext(rng=random.Random(0), ftf_isolated="las")
    x = policies.finish_time_fairness_perf(p, las).matrix
    np.testing.assert_allclose(x[0], [0.0, 0.0])
    assert x[1].sum() == pytest.approx(1.0, abs=1e-4)


def test_agnostic_finish_time_las_quirks_believes_throughput_one() -> None:
    """The reference's code of that time: agnostic FTF is the perf form on all-ones
    throughputs (remaining steps read as seconds), unlike the V100 belief otherwise."""
    t = [[10.0, 2.0, 0.0], [3.0, 1.0, 0.5], [8.0, 8.0, 4.0]]
    kw = {"remaining_steps": [5000.0, 800.0, 3000.0], "times_since_start": [3600.0, 0.0, 900.0]}
    p = _p(t, [1, 1, 2], [2, 1, 2], **kw)
    ones = _p([[1.0] * 3] * 3, [1, 1, 2], [2, 1, 2], **kw)
    las = policies.PolicyContext(rng=random.Random(0), quirks=True, ftf_isolated="las")
    agnostic = policies.finish_time_fairness(p, las).matrix
    np.testing.assert_allclose(
        agnostic, policies.finish_time_fairness_perf(ones, las).matrix, atol=1e-6
    )
    v100 = policies.finish_time_fairness(p, QUIRKS).matrix
    assert np.abs(agnostic - v100).max() > 1e-3


def test_agnostic_finish_time_never_uses_a_type_the_job_cannot() -> None:
    """Without quirks no time where the throughput is 0; the reference (quirks) gives some."""
    p = _p([[2.0, 0.0], [2.0, 1.0]], [1, 1], [1, 1], remaining_steps=[500.0, 500.0])
    fixed = policies.finish_time_fairness(p, CTX).matrix
    assert fixed[0, 1] == 0.0
    quirky = policies.finish_time_fairness(p, QUIRKS).matrix
    assert quirky[0, 1] > 1e-3


def test_min_total_duration_gives_time_in_proportion_to_work() -> None:
    """Remaining 100 and 300 steps on one GPU: 1/4 and 3/4 finish both at once."""
    p = _p([[1.0], [1.0]], [1, 1], [1], remaining_steps=[100.0, 300.0])
    x = policies.min_total_duration_perf(p, CTX).matrix
    np.testing.assert_allclose(x[:, 0], [0.25, 0.75], atol=1e-5)


def test_min_total_duration_bisection_lands_within_five_percent() -> None:
    """With quirks the reference's bisection is used: feasible, makespan within 5%."""
    p = _p([[1.0], [1.0]], [1, 1], [1], remaining_steps=[1e4, 3e4])
    x = policies.min_total_duration_perf(p, QUIRKS).matrix
    makespan = max(1e4 / x[0, 0], 3e4 / x[1, 0])
    assert 4e4 <= makespan <= 4e4 * 1.05 + 1


def test_max_sum_throughput_puts_each_job_on_its_best_type() -> None:
    """4 + 1 beats 1 + 2: job A on type 0, job B on type 1."""
    x = policies.max_sum_throughput_perf(_p([[4, 1], [2, 1]], [1, 1], [1, 1]), CTX).matrix
    np.testing.assert_allclose(x, [[1, 0], [0, 1]], atol=1e-5)


def test_max_sum_throughput_per_cost_prefers_the_cheap_type() -> None:
    """4 steps/s for cost 4 loses to 2 steps/s for cost 1."""
    p = _p([[4.0, 2.0]], [1], [1, 1], type_costs=[4.0, 1.0])
    x = policies.max_sum_throughput_perf(p, CTX).matrix
    np.testing.assert_allclose(x, [[0, 1]], atol=1e-4)


def test_isolated_is_an_equal_share_of_gpu_time() -> None:
    """Oversubscribed (5 GPUs asked of 4): n_j / sum(s) of every type, filling the cluster."""
    x = policies.isolated(_p([[1, 1], [1, 1], [1, 1]], [1, 2, 2], [2, 2]), CTX).matrix
    np.testing.assert_allclose(x, [[0.4, 0.4]] * 3)
    used = (np.array([1, 2, 2])[:, None] * x).sum(axis=0)
    np.testing.assert_allclose(used, [2, 2])
    quirky = policies.isolated(_p([[1, 1], [1, 1]], [1, 2], [2, 2]), QUIRKS).matrix
    np.testing.assert_allclose(quirky, [[0.5, 0.5], [0.25, 0.25]])  # the reference's split


def test_allox_runs_the_shortest_jobs_first() -> None:
    """Two GPUs, three waiting jobs of 10, 20 and 30 s: the two shortest start."""
    p = _p([[1.0]] * 3, [1, 1, 1], [2], remaining_steps=[10.0, 20.0, 30.0])
    x = policies.allox(p, CTX).matrix
    np.testing.assert_array_equal(x[:, 0], [1, 1, 0])


def test_allox_keeps_running_jobs_where_they_are() -> None:
    """Non-preemptive: a job holding a GPU keeps it even when a shorter one waits."""
    prev = np.array([[1.0], [0.0]])
    p = _p([[1.0]] * 2, [1, 1], [1], remaining_steps=[1000.0, 1.0], previous=prev)
    np.testing.assert_array_equal(policies.allox(p, CTX).matrix[:, 0], [1, 0])


def test_fifo_quirk_fills_the_last_listed_type_room_or_not() -> None:
    """The reference's agnostic FIFO: V100 first; once it fills, a random entry leaves the
    list and jobs go to the list's last type, which may be the full V100 itself."""
    names = ("v100", "p100", "k80")
    outcomes = set()
    for seed in range(20):
        ctx = policies.PolicyContext(rng=random.Random(seed), quirks=True)
        p = _p([[1, 1, 1]] * 5, [1] * 5, [2, 2, 2], job_ids=np.arange(5), type_names=names)
        x = policies.fifo(p, ctx).matrix
        assert x[:2, 0].tolist() == [1, 1]  # the V100s first
        assert (x.sum(axis=1) == 1).all()
        outcomes.add(tuple(np.argmax(x, axis=1).tolist()))
        again = policies.fifo(p, policies.PolicyContext(rng=random.Random(seed), quirks=True))
        np.testing.assert_array_equal(again.matrix, x)
    assert (0, 0, 0, 0, 0) in outcomes  # past capacity on the V100 ...
    assert any(1 in o[2:] for o in outcomes)  # ... or spilled over to the P100


def test_fifo_quirk_hands_a_departed_jobs_type_to_the_queue_head() -> None:
    """A job that left gives its type to the oldest waiting job, if it fits there."""
    names = ("v100", "p100", "k80")
    prev = np.array([[1.0, 0, 0], [0, 0, 0]])
    p = _p(
        [[1, 1, 1]] * 2,
        [1, 1],
        [1, 1, 1],
        previous=prev,
        job_ids=np.array([5, 9]),
        type_names=names,
        departed=((2, 1, 1),),
    )
    x = policies.fifo(p, QUIRKS).matrix
    np.testing.assert_array_equal(x, [[1, 0, 0], [0, 1, 0]])
