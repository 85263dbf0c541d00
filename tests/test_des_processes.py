"""Each SimPy process on its own: arrivals, a worker, completion tracking, one round."""

from __future__ import annotations

import random

import numpy as np
import pytest
import simpy
from structlog.testing import capture_logs

from cluster import ClusterSpec, Placer, Topology
from des.arrivals import arrival_process
from des.completion import Completion, CompletionTracker
from des.rounds import RoundScheduler
from des.worker import GpuWorker
from scheduler import registry
from scheduler.mechanism import Dispatch, MechanismConfig, RoundMechanism
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


def test_worker_finishes_a_slice_after_its_duration(env: simpy.Environment) -> None:
    """A worker given a 100 s slice at t = 5 reports it at t = 105 and is then free again."""
    done: list[tuple[float, int]] = []
    worker = GpuWorker(
        env, gpu_id=3, type_index=0, on_slice_done=lambda d: done.append((env.now, d.job_id))
    )
    env.process(worker.run())

    def driver():  # type: ignore[no-untyped-def]
        yield env.timeout(5.0)
        worker.assign(Dispatch(7, 0, (3,), 250.0, 100.0))
        yield env.timeout(200.0)
        worker.assign(Dispatch(8, 0, (3,), 10.0, 1.0))

    env.process(driver())
    env.run()
    assert done == [(105.0, 7), (206.0, 8)]
    assert worker.busy_s == 101.0 and worker.slices == 2


def test_tracker_credits_a_multi_gpu_slice_once_and_ends_the_round(env: simpy.Environment) -> None:
    """Two GPUs of one job report; the work is credited once; the round ends after all slices."""
    mech = _mechanism((4,))
    mech.add_job(0, np.array([10.0]), 2, 1.0, 5000.0, 0.0)
    mech.add_job(1, np.array([10.0]), 1, 1.0, 100.0, 0.0)
    finished: list[Completion] = []
    tracker = CompletionTracker(env, mech, 1, finished.append)
    d0 = Dispatch(0, 0, (0, 1), 3600.0, 360.0)
    d1 = Dispatch(1, 0, (2,), 100.0, 10.0)
    done = tracker.start_round((d0, d1))
    with capture_logs() as logs:
        tracker.slice_done(d1)
        tracker.slice_done(d0)
        assert not done.triggered
        tracker.slice_done(d0)
    assert done.triggered
    assert mech.jobs.done_steps.tolist() == [3600.0]  # job 1 finished and left
    assert [c.job_id for c in finished] == [1]
    assert [e["event"] for e in logs] == ["job_completed"]
    assert tracker.busy_gpu_s == pytest.approx(2 * 360.0 + 10.0)


def test_one_scheduler_round_on_a_tiny_cluster(env: simpy.Environment) -> None:
    """One round: arrivals admitted, jobs placed on workers, the round ends when they finish."""
    spec = ClusterSpec(("v100", "k80"), (1, 1), (1, 1))
    mech = _mechanism(spec.counts)
    topo = Topology(spec)
    tracker = CompletionTracker(env, mech, 2, lambda c: None)
    workers = [GpuWorker(env, g, int(topo.gpu_type[g]), tracker.slice_done) for g in range(2)]
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
