"""Each SimPy process on its own: arrivals, a worker, completion tracking, one round."""

from __future__ import annotations

import random

import numpy as np
import pytest
import simpy
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from cluster import ClusterSpec, Placer, Topology
from des.arrivals import arrival_process
from des.completion import CompletionTracker
from des.jobrecords import Completion
from des.rounds import RoundScheduler
from des.worker import GpuWorker
from scheduler import registry
from scheduler.mechanism import Dispatch, MechanismConfig, RoundMechanism, running_sum, running_sums
from workloads import GeneratorConfig, Job, ThroughputTable, generate_n


def _mechanism(counts: tuple[int, ...], policy: str = "max_min_fairness_perf") -> RoundMechanism:
    return RoundMechanism(
        registry.get(policy),
        np.array(counts),
        MechanismConfig(),
        type_rng=random.Random(5),
        policy_rng=random.Random(0),
        solvers=("ecos", "scs"),
    )


def _job(job_id: int, arrival: float, steps: float = 1000.0, scale: int = 1) -> Job:
    return Job(job_id, "ResNet-18 (batch size 16)", scale, steps, arrival)


def test_arrivals_happen_at_the_generated_times(
    env: simpy.Environment, throughputs: ThroughputTable
) -> None:
    """The arrival process hands each job over exactly at its arrival time."""
    jobs = generate_n(GeneratorConfig(rate_per_hour=3.0, seed=1), throughputs, 50)
    seen: list[tuple[float, int]] = []
    env.process(arrival_process(env, jobs, lambda j: seen.append((env.now, j.job_id))))
    env.run()
    assert [j for _, j in seen] == list(range(50))
    assert [t for t, _ in seen] == [j.arrival_time for j in jobs]


def test_arrivals_are_generated_lazily(env: simpy.Environment) -> None:
    """An endless stream is only drawn from as simulated time reaches each job."""
    drawn: list[int] = []

    def stream():  # type: ignore[no-untyped-def]
        i = 0
        while True:
            drawn.append(i)
            yield _job(i, 100.0 * i)
            i += 1

    env.process(arrival_process(env, stream(), lambda j: None))
    env.run(until=250.0)
    assert drawn == [0, 1, 2, 3]  # job 3 (t = 300) is drawn, waiting for its time


def test_a_worker_wakes_only_when_the_job_on_its_gpu_changes(env: simpy.Environment) -> None:
    """A job kept on the GPU round after round is one lease (no event per round); the
    lease ends when another job takes the GPU or it is released, and its time is counted."""
    worker = GpuWorker(env, gpu_id=3, type_index=0)
    env.process(worker.run())
    wakes: list[float] = []

    def driver():  # type: ignore[no-untyped-def]
        yield env.timeout(5.0)
        for _ in range(10):  # ten rounds of job 7 on this GPU
            worker.hold(7)
            wakes.append(worker.leases)
            yield env.timeout(100.0)
        worker.release()
        worker.hold(8)  # released and re-placed within the instant: one change
        yield env.timeout(50.0)
        worker.release()
        yield env.timeout(1.0)

    env.process(driver())
    env.run()
    assert wakes == [0] + [1] * 9  # woken once, at the first round (after the driver)
    assert worker.leases == 2 and worker.lease == (-1, -1)
    assert worker.busy_s == pytest.approx(1000.0 + 50.0)


def test_a_handover_between_jobs_changes_the_lease_without_waking_the_worker(
    env: simpy.Environment,
) -> None:
    """A GPU handed from one job straight to another (or to a pair) takes the new lease
    at that instant, with no event: the worker's process wakes only when the GPU's busy
    period starts and ends, and the busy time is the whole period's."""
    worker = GpuWorker(env, gpu_id=0, type_index=0)
    env.process(worker.run())
    seen: list[tuple[float, tuple[int, int]]] = []

    def driver():  # type: ignore[no-untyped-def]
        yield env.timeout(10.0)
        worker.hold(1)  # idle -> busy: wakes the worker
        yield env.timeout(100.0)
        for job, partner in ((2, -1), (3, 4), (5, -1)):  # handovers every 100 s
            pending = worker._wake.triggered
            worker.hold(job, partner)
            assert worker._wake.triggered == pending  # no wake for a handover
            seen.append((env.now, worker.lease))
            yield env.timeout(100.0)
        worker.release()  # busy -> idle: wakes it
        assert worker._wake.triggered and worker.lease == (5, -1)
        yield env.timeout(1.0)

    env.process(driver())
    env.run()
    assert seen == [(110.0, (2, -1)), (210.0, (3, 4)), (310.0, (5, -1))]
    assert worker.leases == 4 and worker.lease == (-1, -1)
    assert worker.since == 410.0
    assert worker.busy_s == pytest.approx(400.0)


def _tracked(env: simpy.Environment) -> tuple[RoundMechanism, CompletionTracker, list[Completion]]:
    mech = _mechanism((4,))
    mech.add_job(0, np.array([10.0]), 2, 1.0, 5000.0, 0.0)
    mech.add_job(1, np.array([10.0]), 1, 1.0, 100.0, 0.0)
    mech.add_job(2, np.array([10.0]), 1, 1.0, 9000.0, 0.0)
    finished: list[Completion] = []
    return mech, CompletionTracker(env, mech, 1, finished.append), finished


def test_tracker_credits_each_slice_at_its_end_and_ends_the_round(
    env: simpy.Environment,
) -> None:
    """A round of three slices: the one that finishes its job completes it at its own
    end time; the others are credited (once each, whatever their GPU count) and the
    round ends with the longest."""
    mech, tracker, finished = _tracked(env)
    d0 = Dispatch(0, 0, (0, 1), 3600.0, 360.0)
    d1 = Dispatch(1, 0, (2,), 100.0, 10.0)
    d2 = Dispatch(2, 0, (3,), 2000.0, 200.0)
    with capture_logs() as logs:
        done = tracker.start_round((d0, d1, d2))
        env.run(until=11.0)
        assert [(c.job_id, c.finish) for c in finished] == [(1, 10.0)]
        assert not done.triggered
        env.run(until=done)
    assert env.now == 360.0
    assert mech.jobs.done_steps.tolist() == [3600.0, 2000.0]  # job 1 finished and left
    assert [e["event"] for e in logs] == ["job_completed"]
    assert tracker.busy_gpu_s == pytest.approx(2 * 360.0 + 10.0 + 200.0)
    assert tracker.received_s(0) == [360.0]


def test_an_observer_sees_the_slices_that_ended_before_it_looked(
    env: simpy.Environment,
) -> None:
    """A slice without an event of its own is credited as soon as anything looks: an
    observation mid-round counts the slices that ended before it, not those after."""
    mech, tracker, _ = _tracked(env)
    tracker.start_round(
        (Dispatch(2, 0, (3,), 2000.0, 200.0), Dispatch(0, 0, (0, 1), 3600.0, 360.0))
    )
    env.run(until=250.0)
    seen = tracker.observation()
    assert seen.busy_gpu_s == pytest.approx(200.0)  # job 2's slice, not yet job 0's
    assert [d.job_id for d in tracker.in_flight()] == [0]
    assert mech.jobs.done_steps.tolist() == [0.0, 0.0, 2000.0]


def test_one_scheduler_round_on_a_tiny_cluster(env: simpy.Environment) -> None:
    """One round: arrivals admitted, jobs placed on workers, the round ends when they finish."""
    spec = ClusterSpec(("v100", "k80"), (1, 1), (1, 1))
    mech = _mechanism(spec.counts)
    topo = Topology(spec)
    tracker = CompletionTracker(env, mech, 2, lambda c: None)
    workers = [GpuWorker(env, g, int(topo.gpu_type[g])) for g in range(2)]
    rates = {"a": np.array([2.0, 1.0]), "b": np.array([2.0, 1.0])}
    sched = RoundScheduler(
        env,
        mech,
        Placer(topo),
        workers,
        tracker,
        lambda job: rates["a"] if job.job_id == 0 else rates["b"],
        ("v100", "k80"),
    )
    for w in workers:
        env.process(w.run())
    sched.on_arrival(_job(0, 0.0, steps=1e6))
    sched.on_arrival(_job(1, 0.0, steps=90.0))  # one short round on either type
    with capture_logs() as logs:
        env.process(sched.run())
        env.run(until=1.0)
    placed = {e["job_id"]: e["gpu_type"] for e in logs if e["event"] == "job_placed"}
    assert set(placed) == {0, 1}
    assert sorted(placed.values()) == ["k80", "v100"]
    assert sched.rounds == 1
    env.run(until=400.0)
    # The first round lasted as long as its longest slice (job 0's 360 s on whichever type).
    assert sched.rounds == 2
    assert [e["event"] for e in logs].count("allocation_solved") == 1


@given(
    st.floats(0, 1e7, allow_nan=False),
    st.lists(st.floats(0, 1e4, allow_nan=False), max_size=120),
)
def test_a_running_sum_is_a_loop_of_additions_to_the_bit(start: float, values: list[float]) -> None:
    """Credits taken together add shared sums in the slices' order: bit for bit what
    ``+=`` one after another gives (``np.sum`` would not: it is pairwise), for short
    runs (a Python loop) and long ones (a cumulative sum) alike."""
    total = start
    for v in values:
        total += v
    assert running_sum(start, np.array(values)) == total


@given(
    st.lists(st.floats(0, 1e7, allow_nan=False), min_size=1, max_size=4),
    st.data(),
)
def test_grouped_running_sums_are_loops_of_additions_to_the_bit(
    starts: list[float], data: st.DataObject
) -> None:
    """``running_sums`` adds each value to its group's total in turn, whatever the run's
    length (both of its branches), leaving totals of other groups as they were."""
    pairs = data.draw(
        st.lists(
            st.tuples(st.integers(0, len(starts) - 1), st.floats(0, 1e4, allow_nan=False)),
            max_size=120,
        )
    )
    expected = list(starts)
    for k, v in pairs:
        expected[k] += v
    totals = np.array(starts)
    running_sums(
        totals, np.array([k for k, _ in pairs], dtype=np.int64), np.array([v for _, v in pairs])
    )
    assert totals.tolist() == expected


@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.floats(1, 500), st.floats(1, 360)), min_size=1, max_size=80
    )
)
def test_crediting_a_run_of_slices_equals_crediting_them_one_by_one(
    slices: list[tuple[int, float, float]],
) -> None:
    """The mechanism's credit_run leaves every array exactly as a credit per slice does."""
    one, run = _mechanism((8, 8)), _mechanism((8, 8))
    for mech in (one, run):
        for j in range(len(slices)):
            mech.add_job(j, np.array([10.0, 5.0]), 1, 1.0, 1e9, 0.0)
    for j, (k, steps, seconds) in enumerate(slices):
        assert one.credit(j, k, steps, seconds) == "running"
    run.credit_run(
        list(range(len(slices))),
        np.array([k for k, _, _ in slices]),
        np.array([s for _, s, _ in slices]),
        np.array([t for _, _, t in slices]),
    )
    assert one.jobs.done_steps.tobytes() == run.jobs.done_steps.tobytes()
    assert one.jobs.job_time.tobytes() == run.jobs.job_time.tobytes()
    assert one.worker_time.tobytes() == run.worker_time.tobytes()


def _paired_round(one_by_one: bool) -> tuple[object, ...]:
    """A round of pairs and single jobs, none of which ends its job, credited in runs
    or (every slice given its own event) one slice at a time."""
    # (a round that starts late: a slice's measured time, its end minus the start,
    # differs in its last bits from its asked-for duration)
    env = simpy.Environment(initial_time=12345.678)
    mech = _mechanism((8, 8))
    for j in range(6):
        mech.add_job(j, np.array([10.0, 7.0]), 1, 1.0, 1e6, 0.0)
    mech.pairs.replace(np.array([[0, 1], [3, 2]]), np.full((2, 2), 0.5), 180.0)
    tracker = CompletionTracker(env, mech, 2, lambda _: None)
    if one_by_one:
        tracker._may_leave_all = lambda slices: [True] * len(slices)  # type: ignore[method-assign]
    round_ = (
        Dispatch(0, 0, (0,), 300.0, 333.3, partner=1, partner_steps=250.0),
        Dispatch(4, 1, (8,), 210.0, 30.1),
        Dispatch(2, 1, (9,), 120.0, 17.7, partner=3, partner_steps=140.0),
        Dispatch(5, 0, (1,), 3000.0, 360.0),
    )
    env.run(until=tracker.start_round(round_))
    jobs = mech.jobs
    return (
        jobs.done_steps.tobytes(),
        jobs.job_time.tobytes(),
        jobs.received.tobytes(),
        mech.pairs.job_time.tobytes(),
        mech.worker_time.tobytes(),
        tracker.busy_gpu_s,
        tracker.busy_gpu_s_by_type.tobytes(),
    )


def test_pairs_credited_in_a_run_are_credited_as_one_by_one() -> None:
    """Pair slices without an event of their own are credited with the single jobs
    around them, at once: every sum the same to the bit as slice by slice."""
    assert _paired_round(one_by_one=False) == _paired_round(one_by_one=True)
