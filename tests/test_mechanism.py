"""The round mechanism on its own: reset rule, priorities, selection and slices."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster import ClusterSpec, Placer, Topology
from scheduler import registry
from scheduler.mechanism import MechanismConfig, RoundMechanism


def _mechanism(
    policy: str, counts: tuple[int, ...], seed: int = 0, per_server: int = 1
) -> tuple[RoundMechanism, Placer]:
    names = ("v100", "p100", "k80")[: len(counts)]
    spec = ClusterSpec(names, counts, (per_server,) * len(counts))
    mech = RoundMechanism(
        registry.get(policy),
        np.array(counts),
        MechanismConfig(),
        type_rng=random.Random(seed + 5),
        policy_rng=random.Random(seed),
        solvers=("ecos", "scs"),
    )
    return mech, Placer(Topology(spec))


def _add(mech: RoundMechanism, job_id: int, t: list[float], s: int = 1, steps: float = 1e6) -> None:
    mech.add_job(job_id, np.array(t), s, 1.0, steps, arrival=0.0)


def test_allocation_is_resolved_only_when_due() -> None:
    """Re-solve when the job set changed AND 1920 s passed (or no reset after t = 0 yet)."""
    mech, placer = _mechanism("max_min_fairness_perf", (1, 1))
    _add(mech, 0, [2.0, 1.0])
    assert mech.plan_round(0.0, placer).solve is not None  # first solve
    assert mech.plan_round(360.0, placer).solve is None  # nothing changed
    _add(mech, 1, [1.0, 1.0])
    assert mech.plan_round(720.0, placer).solve is not None  # last reset was at t = 0
    _add(mech, 2, [1.0, 1.0])
    assert mech.plan_round(1080.0, placer).solve is None  # only 360 s since the reset
    assert mech.plan_round(2639.0, placer).solve is None  # 1919 s
    assert mech.plan_round(2640.0, placer).solve is not None  # 1920 s


def test_job_arriving_after_the_solve_waits_for_the_next_one() -> None:
    """A job not in the allocation takes a queue slot but is not run."""
    mech, placer = _mechanism("max_min_fairness_perf", (2,))
    _add(mech, 0, [1.0])
    mech.plan_round(0.0, placer)
    mech.plan_round(360.0, placer)  # moves last_reset away from 0
    _add(mech, 1, [1.0])
    mech.need_update = True
    _add(mech, 2, [1.0])
    mech.plan_round(400.0, placer)  # solves for 0, 1, 2
    _add(mech, 3, [1.0])
    plan = mech.plan_round(760.0, placer)  # 360 s later: no solve, job 3 waits
    assert plan.solve is None
    assert 3 not in {d.job_id for d in plan.dispatches}


def test_least_served_job_runs_first() -> None:
    """With equal allocations, the job that received less time has the higher priority."""
    mech, placer = _mechanism("max_min_fairness", (1,))
    _add(mech, 0, [1.0])
    _add(mech, 1, [1.0])
    first = mech.plan_round(0.0, placer).dispatches
    assert [d.job_id for d in first] == [0]  # a tie goes to the lower id
    mech.credit(0, 0, first[0].steps, first[0].duration)
    second = mech.plan_round(360.0, placer).dispatches
    assert [d.job_id for d in second] == [1]


def test_slice_is_a_whole_round_of_steps_capped_by_what_is_left() -> None:
    """steps = min(int(throughput * 360), remaining); duration = steps / throughput."""
    mech, placer = _mechanism("max_min_fairness_perf", (2,))
    _add(mech, 0, [2.5], steps=1e6)
    _add(mech, 1, [2.5], steps=100.0)
    plan = mech.plan_round(0.0, placer)
    by_id = {d.job_id: d for d in plan.dispatches}
    assert by_id[0].steps == 900.0 and by_id[0].duration == pytest.approx(360.0)
    assert by_id[1].steps == 100.0 and by_id[1].duration == pytest.approx(40.0)
    assert mech.credit(1, 0, 100.0, 40.0) == "done"
    assert mech.credit(0, 0, 900.0, 360.0) == "running"


def test_work_conservation_uses_leftover_gpus_but_never_zero_throughput_ones() -> None:
    """LAS fills idle GPUs even where the allocation is 0, but not where a job cannot run."""
    mech, placer = _mechanism("max_min_fairness_perf", (1, 1))
    _add(mech, 0, [2.0, 1.0])
    _add(mech, 1, [2.0, 1.0])
    _add(mech, 2, [2.0, 0.0])
    mech.plan_round(0.0, placer)
    mech.jobs.allocation[:] = [[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
    plan = mech.plan_round(360.0, placer)  # no change in the job set: no re-solve
    assert plan.solve is None
    assert {(d.job_id, d.type_index) for d in plan.dispatches} == {(0, 0), (1, 1)}


def test_fifo_does_not_place_where_its_allocation_is_zero() -> None:
    """FIFO policies are not work-conserving across types."""
    mech, placer = _mechanism("fifo_perf", (1, 1))
    _add(mech, 0, [1.0, 5.0])
    plan = mech.plan_round(0.0, placer)
    assert [(d.job_id, d.type_index) for d in plan.dispatches] == [(0, 1)]


def test_agnostic_policies_shuffle_the_type_order_from_their_stream() -> None:
    """The type order follows random.Random(seed + 5).shuffle each round; _perf keeps it fixed."""
    mech, placer = _mechanism("max_min_fairness", (1, 1, 1), seed=3)
    expected_rng = random.Random(3 + 5)
    for t in range(5):
        order = [0, 1, 2]
        expected_rng.shuffle(order)
        assert mech.plan_round(360.0 * t, placer).type_order == tuple(order)
    perf, placer = _mechanism("max_min_fairness_perf", (1, 1, 1))
    assert {perf.plan_round(360.0 * t, placer).type_order for t in range(5)} == {(0, 1, 2)}


def test_multi_gpu_job_only_runs_where_its_gpus_fit() -> None:
    """A 4-GPU job needs four free GPUs of one type (and one server when servers are larger)."""
    mech, placer = _mechanism("max_min_fairness_perf", (3, 4), per_server=4)
    _add(mech, 0, [5.0, 1.0], s=4)
    plan = mech.plan_round(0.0, placer)
    assert [(d.type_index, len(d.gpus)) for d in plan.dispatches] == [(1, 4)]


def test_deficit_records_time_owed_at_a_reset() -> None:
    """At a reset, deficit += allocation * elapsed - time received (beyond the half round)."""
    mech, placer = _mechanism("max_min_fairness", (1,))
    _add(mech, 0, [1.0])
    _add(mech, 1, [1.0])
    plan = mech.plan_round(0.0, placer)
    d = plan.dispatches[0]
    mech.credit(d.job_id, 0, d.steps, 360.0)
    mech.remove_job(1)  # a change, so the next boundary after 1920 s resets
    mech.plan_round(360.0, placer)  # last_reset is 0: resets now
    # job 0: should 0.5 * 360 = 180, received 360 -> deficit -180
    assert mech.jobs.deficit[0, 0] == pytest.approx(-180.0)


def _drive(mech: RoundMechanism, placer: Placer, rounds: int, forget: bool) -> list[object]:
    """Plans and credits ``rounds`` rounds; with ``forget`` the last round's walk is
    dropped before each one, so every round is planned from scratch."""
    seen: list[object] = []
    now = 0.0
    for r in range(rounds):
        if r == 4:  # solved at once (no reset after t = 0 yet)
            _add(mech, 100, [3.0, 1.0], s=1, steps=4000.0)
        if r in (6, 7):  # not solved for 1,920 s: waiting, they may take a place unrun
            _add(mech, 100 + r, [1.0, 2.0], s=2 if r == 6 else 1, steps=3000.0)
        if forget:
            mech._memo = None
        plan = mech.plan_round(now, placer)
        seen.append((plan.dispatches, plan.phantom_jobs))
        for d in plan.dispatches:
            if mech.credit(d.job_id, d.type_index, d.steps, d.duration, len(d.gpus)) == "done":
                mech.remove_job(d.job_id)
        now += 360.0
    return seen


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["fifo", "fifo_perf", "max_min_fairness", "max_min_fairness_perf"]),
    st.sampled_from([1, 2]),
    st.lists(
        st.tuples(
            st.floats(0.0, 4.0),
            st.floats(0.5, 4.0),
            st.sampled_from([1, 2, 4]),
            st.floats(500.0, 20000.0),
        ),
        min_size=1,
        max_size=7,
    ),
)
def test_a_round_planned_from_the_last_ones_walk_is_the_round_planned_afresh(
    policy: str, per_server: int, jobs: list[tuple[float, float, int, float]]
) -> None:
    """Reusing the last round's walk, placement and slices when their inputs are the
    same gives exactly the rounds that planning every one from scratch gives, through
    arrivals, completions, re-solves and slices cut short by the work left."""
    runs = []
    for forget in (False, True):
        mech, placer = _mechanism(policy, (4, 4), seed=3, per_server=per_server)
        for j, (fast, slow, s, steps) in enumerate(jobs):
            _add(mech, j, [fast, slow], s=s, steps=steps)
        runs.append(_drive(mech, placer, 16, forget))
    assert runs[0] == runs[1]


def test_an_unchanged_round_reuses_the_last_ones_slices() -> None:
    """Nothing changed: the same slices object; a job added: planned anew."""
    mech, placer = _mechanism("fifo_perf", (2, 2))
    _add(mech, 0, [2.0, 1.0])
    _add(mech, 1, [2.0, 1.0])
    mech.plan_round(0.0, placer)
    second = mech.plan_round(360.0, placer).dispatches  # placement now settled
    third = mech.plan_round(720.0, placer).dispatches
    assert third is second and len(third) == 2
    assert mech.reused_by_inputs + mech.reused_by_selection == 1
    _add(mech, 2, [2.0, 1.0])
    fourth = mech.plan_round(1080.0, placer).dispatches
    assert fourth is not third


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(st.tuples(st.booleans(), st.integers(0, 30)), max_size=40))
def test_active_jobs_rows_follow_arrivals_and_departures(ops: list[tuple[bool, int]]) -> None:
    """Rows are found by binary search over the sorted ids: after any arrivals and
    departures they are the ids' positions, and an inactive id is a KeyError."""
    from scheduler.jobstate import ActiveJobs

    jobs = ActiveJobs(2)
    active: list[int] = []
    next_id = 0
    for arrive, pick in ops:
        if arrive or not active:
            jobs.add(next_id, np.ones(2), 1, 1.0, 10.0, 0.0, 0.0)
            active.append(next_id)
            next_id += 1
        else:
            gone = active.pop(pick % len(active))
            jobs.remove(gone)
            assert gone not in jobs
            with pytest.raises(KeyError, match=f"job {gone} is not active"):
                jobs.index(gone)
            with pytest.raises(KeyError, match=f"job {gone} is not active"):
                jobs.rows([*active, gone])
    assert jobs.ids.tolist() == active
    assert [jobs.index(j) for j in active] == list(range(len(active)))
    assert jobs.rows(active[::-1]).tolist() == list(range(len(active)))[::-1]
    assert all(j in jobs for j in active) and next_id not in jobs


def _phantom_rounds(forget: bool) -> tuple[list[tuple[object, ...]], int]:
    """Agnostic LAS on 3:1, one job that runs on the first type only, a second one, then
    two that arrive between solves (and so take places unrun): one that fits either type
    and one that fits the first only."""
    mech, placer = _mechanism("max_min_fairness", (3, 1), seed=1)
    _add(mech, 0, [1.0, 0.0])
    seen: list[tuple[object, ...]] = []
    for r in range(8):
        if r == 1:
            _add(mech, 1, [1.0, 0.0])
        if r == 3:
            _add(mech, 2, [1.0, 1.0])
            _add(mech, 3, [1.0, 0.0])
        if forget:
            mech._memo = None
        plan = mech.plan_round(360.0 * r, placer)
        seen.append((plan.type_order, plan.dispatches, plan.phantom_jobs))
    return seen, mech.reused_by_selection


def test_a_reused_selection_takes_the_walks_own_phantom_count() -> None:
    """The type order flips while the two waiting jobs are unsolved: the walk runs the
    same two jobs either way, but the either-type job takes the second type's place
    first or the first type's last place, so one or both waiting jobs hold a place. The
    round that reuses the last one's placement reports the walk's own count (the walk
    outlives the arrivals: at round 3 it selects what round 2 ran, and the newcomers'
    places are counted afresh)."""
    reused, hits = _phantom_rounds(forget=False)
    fresh, _ = _phantom_rounds(forget=True)
    assert hits == 2
    assert reused == fresh
    assert [r[2] for r in reused] == [0, 0, 0, 2, 2, 2, 1, 0]


def test_pair_rows_carried_over_arrivals_and_departures_equal_rebuilt_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pairs' rows kept up to date as jobs come and go (instead of being looked up
    again) equal, entry for entry, those a fresh lookup gives, through a packed run."""
    from cluster import parse_cluster
    from des.config import SimConfig, WindowConfig, WorkloadConfig
    from des.simulation import Simulation

    carried = RoundMechanism._carry_pair_rows
    checked = []

    def check(self: RoundMechanism, *args: Any) -> None:
        carried(self, *args)
        cache = self._pair_rows
        if cache is None or cache.stamp != (self.jobs.version, self.pairs.version):
            return  # not carried: the next round looks the rows up again
        self._pair_rows = None
        fresh = self._pair_view()
        assert self._pair_rows is not None
        assert np.array_equal(cache.rows, fresh.rows) and cache.rows.dtype == fresh.rows.dtype
        assert np.array_equal(cache.ok, fresh.ok)
        assert (cache.firsts, cache.seconds) == (fresh.firsts, fresh.seconds)
        self._pair_rows = cache
        checked.append(len(args))

    monkeypatch.setattr(RoundMechanism, "_carry_pair_rows", check)
    cfg = SimConfig(
        policy="max_min_fairness_packed",
        cluster=parse_cluster("4:4:4"),
        workload=WorkloadConfig(rate_per_hour=1.5),
        window=WindowConfig(0, 40),
        seed=3,
    )
    Simulation(cfg).run()
    # carried over arrivals (one argument) and departures (three), many times each
    assert checked.count(1) > 20 and checked.count(3) > 20
