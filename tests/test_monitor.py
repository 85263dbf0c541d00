"""The saturation monitor: triggers on overload and stalls, never on a healthy stream."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster import parse_cluster
from des.config import SaturationConfig, SimConfig, WindowConfig, WorkloadConfig
from des.monitor import Observation, SaturationDetector, Verdict, saturation_monitor
from des.result import build_result
from des.simulation import Simulation
from tests.cli_helpers import run_cli

GPUS = 108
HOUR = 3600.0


def _stream(n: int, rate_per_h: float, active: np.ndarray, util: float) -> list[Observation]:
    """n completions at a steady rate, with the given active-job counts and utilisation
    (arrivals follow: arrived = completed + active)."""
    t = np.arange(1, n + 1) * HOUR / rate_per_h
    busy = t * GPUS * util
    return [
        Observation(float(t[i]), i + 1, int(active[i]), float(busy[i]), i + 1 + int(active[i]))
        for i in range(n)
    ]


def _overload(
    n: int, arrival_rate: float, overload: float, start: int = 300, gpus: int = GPUS
) -> list[Observation]:
    """Completions at (1 - overload) x the arrival rate on a full cluster of ``gpus``."""
    completion_rate = arrival_rate * (1.0 - overload)
    t = np.arange(1, n + 1) * HOUR / completion_rate
    arrived = (arrival_rate * t / HOUR).astype(int) + start
    done = np.arange(1, n + 1)
    return [
        Observation(
            float(t[i]),
            int(done[i]),
            int(arrived[i] - done[i]),
            float(t[i] * gpus),
            int(arrived[i]),
        )
        for i in range(n)
    ]


def _first_verdict(det: SaturationDetector, stream: list[Observation]) -> Verdict | None:
    for obs in stream:
        v = det.observe(obs)
        if v is not None:
            return v
    return None


def test_healthy_busy_stream_is_not_saturated() -> None:
    """A full cluster whose queue only fluctuates (stable, heavily loaded) runs on."""
    rng = np.random.default_rng(0)
    n = 4000
    active = 500 + np.cumsum(rng.choice([-1, 1], n))  # a random walk around 500
    det = SaturationDetector(SaturationConfig(), GPUS)
    assert _first_verdict(det, _stream(n, 5.0, active, util=1.0)) is None


def test_warm_up_at_low_utilisation_is_not_saturated() -> None:
    """A queue that fills while GPUs still idle is a warm-up, not an overload."""
    n = 2000
    active = np.linspace(10, 900, n)
    det = SaturationDetector(SaturationConfig(), GPUS)
    assert _first_verdict(det, _stream(n, 5.0, active, util=0.9)) is None


def test_growing_queue_at_full_utilisation_is_saturated() -> None:
    """Arrivals 12% above completions on a full cluster (the 6.4 jobs/h LAS case): queue_growth."""
    n = 8000
    det = SaturationDetector(SaturationConfig(), GPUS)
    verdict = _first_verdict(det, _overload(n, 6.4, 0.12))
    assert verdict is not None and verdict.reason == "queue_growth"
    assert verdict.time < 0.6 * n * HOUR / (6.4 * 0.88)
    assert "active jobs rose" in verdict.message


def test_slow_overload_within_noise_is_reported_not_cut_off() -> None:
    """A queue creeping up at 6% of arrivals (the 5.6 jobs/h LAS case) runs to its end."""
    det = SaturationDetector(SaturationConfig(), GPUS)
    assert _first_verdict(det, _overload(8000, 5.6, 0.06)) is None


def test_growth_needs_more_active_jobs_than_gpus() -> None:
    """The same fast-rising queue is an overload on 108 GPUs but not on 10,000."""
    cfg = SaturationConfig(growth_windows=10, window_completions=50)
    big = _overload(1000, 6.4, 0.3, start=0, gpus=10_000)
    assert _first_verdict(SaturationDetector(cfg, 10_000), big) is None
    assert (
        _first_verdict(SaturationDetector(cfg, GPUS), _overload(1000, 6.4, 0.3, start=0))
        is not None
    )


def _piling(n: int) -> np.ndarray:
    """Active jobs rising by two per completion: three jobs arrive for each that ends."""
    return 200 + 2 * np.arange(n)


def test_stalled_completions_at_full_utilisation() -> None:
    """Completions slower than 0.1 jobs/h while every GPU is busy and jobs keep
    arriving: stalled."""
    n = 300
    det = SaturationDetector(SaturationConfig(), GPUS)
    verdict = _first_verdict(det, _stream(n, 0.05, _piling(n), util=1.0))
    assert verdict is not None and verdict.reason == "stalled"
    assert "while 300 jobs arrived" in verdict.message


def test_work_finished_faster_than_the_span_reads_as_full_not_over_full() -> None:
    """Work is counted when its slice ends, so a short span can hold more GPU time than
    it has: the verdict still fires and its message says 100%, never more."""
    n = 300
    det = SaturationDetector(SaturationConfig(), GPUS)
    verdict = _first_verdict(det, _stream(n, 0.05, _piling(n), util=1.7))
    assert verdict is not None and verdict.reason == "stalled"
    assert "at 100.0% utilisation" in verdict.message


def test_slow_completions_as_slow_as_the_arrivals_are_not_a_stall() -> None:
    """A small full cluster finishing 0.05 jobs/h because 0.05 jobs/h arrive is stable."""
    n = 300
    det = SaturationDetector(SaturationConfig(), 4)
    assert _first_verdict(det, _stream(n, 0.05, np.full(n, 200), util=1.0)) is None


def test_slow_completions_on_an_idle_cluster_are_not_a_stall() -> None:
    """Few completions because few jobs arrive is a light load, not a stall."""
    n = 300
    det = SaturationDetector(SaturationConfig(), GPUS)
    assert _first_verdict(det, _stream(n, 0.05, np.full(n, 3), util=0.02)) is None


def test_thresholds_are_configurable() -> None:
    """A stricter utilisation threshold ignores what the default would flag."""
    n = 300
    cfg = SaturationConfig(min_utilization=0.995)
    det = SaturationDetector(cfg, GPUS)
    assert _first_verdict(det, _stream(n, 0.05, _piling(n), util=0.99)) is None


def test_monitor_process_stops_the_run_at_the_verdict(env: simpy.Environment) -> None:
    """The SimPy process reads completions from the store and reports the first verdict."""
    feed = simpy.Store(env)
    det = SaturationDetector(SaturationConfig(window_completions=10), GPUS)
    verdicts: list[tuple[float, Verdict]] = []
    stream = _stream(200, 0.05, _piling(200), util=1.0)

    def producer():  # type: ignore[no-untyped-def]
        for obs in stream:
            yield env.timeout(obs.time - env.now)
            feed.put(obs)

    env.process(producer())
    proc = env.process(
        saturation_monitor(
            env, det, feed, lambda: stream[0], lambda v: verdicts.append((env.now, v)), 1e9
        )
    )
    env.run(until=proc)
    assert len(verdicts) == 1
    when, verdict = verdicts[0]
    assert verdict.reason == "stalled"
    assert when == stream[10].time  # the 11th completion closes the first full window


def test_monitor_tick_catches_a_run_where_nothing_completes(env: simpy.Environment) -> None:
    """With no completions at all, the periodic tick still sees the stall."""
    feed = simpy.Store(env)
    det = SaturationDetector(SaturationConfig(window_completions=2), GPUS)
    for i in range(3):  # three early completions fill the window
        det.observe(Observation(100.0 * (i + 1), i + 1, 50, 100.0 * (i + 1) * GPUS, i + 51))
    verdicts: list[Verdict] = []

    def snapshot() -> Observation:  # a job an hour keeps arriving
        return Observation(env.now, 3, 50, env.now * GPUS, 53 + int(env.now / HOUR))

    env.process(saturation_monitor(env, det, feed, snapshot, verdicts.append, 10 * HOUR))
    env.run(until=200 * HOUR)
    assert len(verdicts) == 1 and verdicts[0].reason == "stalled"
    assert verdicts[0].time <= 30 * HOUR


def _with_window(
    stream: list[Observation], left: list[int], service: list[float] | None = None
) -> list[Observation]:
    served = service if service is not None else [0.0] * len(stream)
    return [
        Observation(o.time, o.completions, o.active, o.busy_gpu_s, o.arrivals, w, g)
        for o, w, g in zip(stream, left, served, strict=True)
    ]


def test_window_jobs_overtaken_by_everyone_are_starved() -> None:
    """A stable, busy queue where 3 window jobs never finish (shortest-first under high
    load): the verdict comes once the configured number of jobs overtook them."""
    window = WindowConfig(100, 200)
    n = 3000
    stream = _stream(n, 5.0, np.full(n, 150), util=1.0)
    # window jobs finish during completions 100-296, then 3 of them never do
    left = [100 if i < 100 else max(3, 100 - (i - 100) // 2) for i in range(n)]
    det = SaturationDetector(SaturationConfig(starve_completions=1000), GPUS, window)
    verdict = _first_verdict(det, _with_window(stream, left))
    assert verdict is not None and verdict.reason == "starved"
    last_progress = next(i for i, w in enumerate(left) if w == 3)
    assert verdict.time == stream[last_progress + 1000].time
    assert (
        "3 of 100 window jobs unfinished and given no GPU time while the last 1000"
        in verdict.message
    )


def test_a_slow_window_job_that_runs_is_not_starved() -> None:
    """The last window job finishing long after the others is not starvation as long
    as it gets GPU time (multi-GPU LAS near its knee)."""
    window = WindowConfig(100, 200)
    n = 3000
    stream = _stream(n, 5.0, np.full(n, 150), util=1.0)
    left = [100 if i < 100 else max(1, 100 - (i - 100) // 2) for i in range(n)]
    service = [float(i // 300) for i in range(n)]  # it runs now and then
    det = SaturationDetector(SaturationConfig(starve_completions=1000), GPUS, window)
    assert _first_verdict(det, _with_window(stream, left, service)) is None


def test_slow_window_tail_is_not_starvation() -> None:
    """The last window jobs finishing late but steadily (every 500 completions) is a
    long tail, not starvation; nor is a window whose jobs have not all arrived."""
    window = WindowConfig(100, 200)
    n = 6000
    stream = _stream(n, 5.0, np.full(n, 150), util=1.0)
    left = [max(0, 10 - i // 500) for i in range(n)]
    det = SaturationDetector(SaturationConfig(starve_completions=1000), GPUS, window)
    assert _first_verdict(det, _with_window(stream, left)) is None
    early = [Observation(o.time, o.completions, o.active, o.busy_gpu_s, 150, 50) for o in stream]
    det = SaturationDetector(SaturationConfig(starve_completions=1000), GPUS, window)
    assert _first_verdict(det, early) is None


def _work_stream(
    gpus: int,
    rate_per_h: float,
    load: float,
    count_ratio: float,
    arrivals: int,
    wobble: float = 0.0,
    util: float = 1.0,
) -> list[Observation]:
    """A cluster of ``gpus`` busy at ``util`` from the start, jobs arriving at
    ``rate_per_h`` and finishing ``count_ratio`` times as often, the work they bring
    ``load`` times what the GPUs do: the work waiting grows by (load - 1) x the GPUs'
    time, plus a bounded wobble of ``wobble`` x the GPU time of 50 arrivals.
    Observed at every completion."""
    comp_rate = rate_per_h * count_ratio
    n = int(arrivals * count_ratio)
    t = np.arange(1, n + 1) * HOUR / comp_rate
    arrived = 2 * gpus + (rate_per_h * t / HOUR).astype(int)
    done = np.arange(1, n + 1)
    amp = wobble * gpus * 50 / rate_per_h * HOUR
    backlog = 1e6 + (load - 1.0) * gpus * t + amp * np.sin(t / (50 * HOUR / rate_per_h))
    return [
        Observation(
            float(t[i]),
            int(done[i]),
            int(arrived[i] - done[i]),
            float(t[i] * gpus * util),
            int(arrived[i]),
            backlog_gpu_s=float(backlog[i]),
        )
        for i in range(n)
    ]


@settings(max_examples=20, deadline=None)
@given(
    gpus=st.integers(4, 10_000),
    overload=st.floats(1.5, 10.0),
    count_ratio=st.floats(0.3, 0.97),
    jobs_per_gpu_h=st.floats(0.01, 0.2),
)
def test_clear_overload_is_seen_after_one_horizon_on_any_cluster(
    gpus: int, overload: float, count_ratio: float, jobs_per_gpu_h: float
) -> None:
    """Work arriving 1.5-10x faster than 4 to 10,000 GPUs can do it ends the run after
    two spans of the first horizon of the ladder long enough for that excess, however
    often jobs still finish: a hundred arrivals for a gross overload, 1,600 for a mild
    one."""
    rate = jobs_per_gpu_h * gpus
    cfg = SaturationConfig(min_completion_rate_per_h=0.0)  # the stall rule stays out
    stream = _work_stream(gpus, rate, overload, count_ratio, 2 * cfg.overload_arrivals)
    verdict = _first_verdict(SaturationDetector(cfg, gpus), stream)
    assert verdict is not None and verdict.reason == "queue_growth"
    needed = cfg.overload_arrivals * (cfg.overload_backlog_fraction / (overload - 1)) ** 2
    ladder = [cfg.overload_arrivals >> k for k in range(6)]  # 1600, 800, ..., 50
    horizon = min(h for h in ladder if h >= needed * 1.01 or h == cfg.overload_arrivals)
    arrivals_seen = verdict.time / HOUR * rate
    assert arrivals_seen <= 2 * horizon + 4 / count_ratio + 4  # two spans of the horizon
    assert f"of what the {gpus} GPUs can do" in verdict.message


@settings(max_examples=15, deadline=None)
@given(
    gpus=st.integers(4, 10_000),
    load=st.floats(0.5, 1.15),
    wobble=st.floats(0.0, 0.5),
    count_ratio=st.floats(0.8, 1.0),
    jobs_per_gpu_h=st.floats(0.03, 0.2),  # >= 0.1 jobs/h finish: no stall
)
def test_stable_or_slowly_overloaded_work_is_left_alone(
    gpus: int, load: float, wobble: float, count_ratio: float, jobs_per_gpu_h: float
) -> None:
    """A full cluster whose waiting work only wobbles, or grows by less than 30% of its
    GPU time (agnostic LAS at 5.6 jobs/h on 108 GPUs), runs on at any size."""
    rate = jobs_per_gpu_h * gpus
    stream = _work_stream(gpus, rate, load, count_ratio, 2000, wobble=wobble)
    assert _first_verdict(SaturationDetector(SaturationConfig(), gpus), stream) is None


def test_work_not_the_job_count_decides() -> None:
    """LAS overloaded 3x keeps finishing 95% as many (short) jobs as arrive: the count
    barely moves, the work waiting does, and that is the verdict."""
    stream = _work_stream(108, 10.0, 3.0, 0.95, 3000)
    verdict = _first_verdict(SaturationDetector(SaturationConfig(), 108), stream)
    assert verdict is not None and verdict.reason == "queue_growth"
    assert "the work waiting grew by" in verdict.message
    assert "arrivals outpace the cluster" in verdict.message
    growth = stream[-1].active - stream[0].active
    assert growth < 5 * math.sqrt(2 * 3000)  # no count-based test could call it


@pytest.mark.parametrize(
    ("case", "kw"),
    [("warm-up below full utilisation", {"util": 0.95})],
)
def test_growing_work_on_a_cluster_not_yet_full_is_warm_up(case: str, kw: dict[str, float]) -> None:
    """Work piling up while GPUs still idle is a cluster filling, not an overload."""
    stream = _work_stream(108, 10.0, 3.0, 0.9, 3000, **kw)
    assert _first_verdict(SaturationDetector(SaturationConfig(), 108), stream) is None, case


def test_overload_needs_more_active_jobs_than_gpus_and_a_full_horizon() -> None:
    """Fewer active jobs than GPUs, or fewer arrivals than the horizon: no verdict."""
    stream = _work_stream(108, 10.0, 5.0, 0.9, 3000)
    few = [
        Observation(o.time, o.completions, 100, o.busy_gpu_s, o.arrivals, None, 0, o.backlog_gpu_s)
        for o in stream
    ]
    assert _first_verdict(SaturationDetector(SaturationConfig(), 108), few) is None
    cfg = SaturationConfig(overload_arrivals=4000, overload_min_arrivals=4000)
    assert _first_verdict(SaturationDetector(cfg, 108), stream) is None
    cfg = SaturationConfig(overload_backlog_fraction=5.0)  # stricter than the 4x excess
    assert _first_verdict(SaturationDetector(cfg, 108), stream) is None


def _mild(
    load: float, util: float, arrival_order: bool = False, draining: bool = False
) -> Verdict | None:
    """Multi-GPU LAS at 3.0 jobs/h on 36:36:36, in the large: 108 GPUs busy at ``util``,
    97% as many completions as arrivals, the work waiting growing by ``load - 1`` of
    the GPUs' time, for 14,000 arrivals. The window, jobs 4000-5000, is held up: 50 of
    its jobs stay unfinished from arrival 6,000 on (or, ``draining``, one more of them
    finishes every 100 arrivals)."""
    window = WindowConfig(4000, 5000)
    stream = [
        dataclasses.replace(
            o,
            window_left=1000
            if o.arrivals < 6000
            else max(1, 50 - (o.arrivals - 6000) // 100)
            if draining
            else 50,
        )
        for o in _work_stream(108, 3.0, load, 0.97, 14_000, util=util)
    ]
    det = SaturationDetector(SaturationConfig(), 108, window, arrival_order=arrival_order)
    return _first_verdict(det, stream)


def test_a_mild_overload_is_called_over_the_longest_horizon() -> None:
    """Work growing by 16% of the cluster's time at 98.5% utilisation (multi-GPU LAS
    past its knee, which would run on for tens of thousands of hours, its last window
    jobs postponed) ends after two spans of 6,400 arrivals: 17.7% is asked over 3,200,
    12.5% over 6,400."""
    verdict = _mild(1.16, 0.985)
    assert verdict is not None and verdict.reason == "queue_growth"
    arrivals_seen = verdict.time / HOUR * 3.0
    assert 2 * 6400 <= arrivals_seen <= 2 * 6400 + 10
    assert "(at most 12% per 6400 arrivals)" in verdict.message


@pytest.mark.parametrize(
    ("case", "load", "util", "arrival_order", "draining"),
    [
        (
            "growing by 10% only (multi-GPU LAS at 2.6 jobs/h grows by 5%)",
            1.10,
            0.985,
            False,
            False,
        ),
        ("below 98% utilisation", 1.16, 0.975, False, False),
        ("a policy that serves in arrival order completes its window", 1.16, 0.985, True, False),
        ("FIFO, even at full utilisation", 1.16, 1.0, True, False),
        ("the window still draining (single-GPU LAS at 5.6 jobs/h)", 1.16, 0.985, False, True),
    ],
)
def test_a_mild_overload_is_left_alone(
    case: str, load: float, util: float, arrival_order: bool, draining: bool
) -> None:
    assert _mild(load, util, arrival_order, draining) is None, case


def test_the_long_horizons_are_for_policies_that_do_not_serve_in_arrival_order() -> None:
    """Doubled from 1,600 up to 6,400 at 98% for LAS-like policies; FIFO keeps the
    ladder from 1,600 down, at 99%; the simulation tells the detector which it has."""
    las = SaturationDetector(SaturationConfig(), 108)
    assert las.horizons[:3] == ((6400, 0.98), (3200, 0.98), (1600, 0.99))
    fifo = SaturationDetector(SaturationConfig(), 108, arrival_order=True)
    assert fifo.horizons == las.horizons[2:] and fifo.horizons[-1] == (50, 0.99)
    cfg = SaturationConfig(overload_long_arrivals=1600)
    assert SaturationDetector(cfg, 108).horizons == fifo.horizons
    for policy, longest in (("fifo_perf", 1600), ("max_min_fairness_perf", 6400)):
        config = SimConfig(
            policy=policy,
            cluster=parse_cluster("2:2:2"),
            workload=WorkloadConfig(rate_per_hour=1.0),
            window=WindowConfig(0, 5),
        )
        assert Simulation(config).detector.horizons[0][0] == longest, policy


def test_overload_is_seen_on_ticks_when_nothing_completes(env: simpy.Environment) -> None:
    """Jobs keep arriving, nothing ever finishes and the work piles up: the periodic
    tick alone brings the verdict (the stall rule needs completions to measure)."""
    feed = simpy.Store(env)
    det = SaturationDetector(SaturationConfig(overload_arrivals=50), 12)
    verdicts: list[Verdict] = []

    def snapshot() -> Observation:  # 6 jobs/h arrive on 12 GPUs, each 100 GPU-hours
        arrived = int(env.now / HOUR * 6)
        backlog = arrived * 100 * HOUR - env.now * 12
        return Observation(env.now, 0, 12 + arrived, env.now * 12, arrived, None, 0.0, backlog)

    env.process(saturation_monitor(env, det, feed, snapshot, verdicts.append, HOUR))
    env.run(until=100 * HOUR)
    assert len(verdicts) == 1 and verdicts[0].reason == "queue_growth"
    # ticks at 1 h (6 arrivals), 10 h (60: 50 more) and 19 h (114: 50 more again)
    assert verdicts[0].time == 19 * HOUR


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"overload_arrivals": 0}, "overload arrivals"),
        ({"overload_arrivals": 100, "overload_min_arrivals": 200}, "overload arrivals"),
        ({"overload_backlog_fraction": 0.0}, "overload backlog fraction"),
        ({"overload_backlog_fraction": math.nan}, "overload backlog fraction"),
        ({"overload_long_arrivals": 0}, "overload long arrivals"),
        ({"overload_long_arrivals": 2_000_000}, "overload long arrivals"),
        ({"overload_long_min_utilization": 1.5}, "overload long utilisation"),
        ({"overload_long_min_utilization": math.nan}, "overload long utilisation"),
    ],
)
def test_overload_thresholds_are_checked(kw: dict[str, float], match: str) -> None:
    """Out-of-range overload thresholds are refused with a message naming them."""
    with pytest.raises(ValueError, match=match):
        SaturationConfig(**kw)  # type: ignore[arg-type]


def _las_run(cluster: str, rate: float, seed: int, window: tuple[int, int]) -> dict[str, object]:
    config = SimConfig(
        policy="max_min_fairness",
        cluster=parse_cluster(cluster),
        workload=WorkloadConfig(rate_per_hour=rate),
        window=WindowConfig(*window),
        seed=seed,
        timeout_s=600.0,
    )
    return build_result(Simulation(config).run())


def test_a_small_cluster_nine_times_overloaded_ends_within_a_day() -> None:
    """12 GPUs at 6 jobs/h (agnostic LAS, nine times more work than they can do): the
    run ends as queue growth within a simulated day, long before its window."""
    r = _las_run("4:4:4", 6.0, 1, (20, 60))
    assert r["end_reason"] == "saturated" and r["saturation_reason"] == "queue_growth"
    assert r["sim_time_s"] < 24 * HOUR  # type: ignore[operator]
    assert "of what the 12 GPUs can do" in r["saturation_message"]  # type: ignore[operator]
    assert r["window_jobs_unfinished"] > 0  # type: ignore[operator]


@pytest.mark.slow
def test_the_published_slowly_overloaded_las_point_runs_to_its_end() -> None:
    """Agnostic LAS at 5.6 jobs/h on 36:36:36 (published: 95.99 h) is not cut: its
    window completes (about 160 s of wall time)."""
    r = _las_run("36:36:36", 5.6, 0, (4000, 5000))
    assert r["end_reason"] == "window_complete" and r["saturated"] is False
    assert 90 * HOUR < r["avg_jct_s"] < 105 * HOUR  # type: ignore[operator]


@pytest.mark.slow
def test_a_108_gpu_cluster_at_twice_its_capacity_ends_early() -> None:
    """Agnostic LAS at 10 jobs/h on 36:36:36 ends as queue growth within a few hundred
    simulated hours, not at the window (which would need thousands)."""
    r = _las_run("36:36:36", 10.0, 0, (4000, 5000))
    assert r["end_reason"] == "saturated" and r["saturation_reason"] == "queue_growth"
    assert r["sim_time_s"] < 300 * HOUR  # type: ignore[operator]


def _held_up_stream(
    n: int, warmup: int, util: float, left_until: int | None = None
) -> tuple[WindowConfig, list[Observation]]:
    """A busy queue of 150 jobs at 5 completions/h whose window (jobs ``warmup`` to
    ``warmup + 100``) has arrived by completion ``warmup - 50``, all but one of its
    jobs done by then; that one keeps getting a trickle of service and finishes at
    completion ``left_until`` (never: None)."""
    window = WindowConfig(warmup, warmup + 100)
    stream = _stream(n, 5.0, np.full(n, 150), util=util)
    left = [
        100 if i < warmup - 50 else (0 if left_until is not None and i >= left_until else 1)
        for i in range(n)
    ]
    service = [float(i) for i in range(n)]  # it runs a little at every completion
    return window, _with_window(stream, left, service)


def _window_arrived(window: WindowConfig, stream: list[Observation]) -> Observation:
    return next(o for o in stream if o.arrivals >= window.end)


@settings(max_examples=40, deadline=None)
@given(limit=st.floats(1.0, 20.0), warmup=st.integers(60, 400))
def test_a_window_held_up_past_the_drain_limit_is_called_there(limit: float, warmup: int) -> None:
    """The window's last job trickles along at full utilisation: the verdict comes at
    the first observation once the run lasted ``drain_limit`` times the window's
    arrival, and rests on the time since it arrived."""
    window, stream = _held_up_stream(int(warmup * limit * 1.2) + 200, warmup, util=0.99)
    det = SaturationDetector(SaturationConfig(drain_limit=limit), GPUS, window)
    verdict = _first_verdict(det, stream)
    mark = _window_arrived(window, stream)
    later = stream[stream.index(mark) + 1 :]
    assert verdict is not None and verdict.reason == "held_up"
    assert verdict.since == mark.time
    assert verdict.time == next(o.time for o in later if o.time >= limit * mark.time)
    assert "1 of 100 window jobs still unfinished" in verdict.message
    assert "99.0% utilisation since" in verdict.message


def test_a_window_that_drains_before_the_limit_is_not_held_up() -> None:
    """The last window job finishes at 9.5 times the window's arrival: no verdict (the
    longest drain of a completed window in the figures' sweeps is 6.8 times)."""
    window, stream = _held_up_stream(4000, 200, util=0.99)
    mark = _window_arrived(window, stream)
    done_at = next(i for i, o in enumerate(stream) if o.time >= 9.5 * mark.time)
    window, stream = _held_up_stream(4000, 200, util=0.99, left_until=done_at)
    det = SaturationDetector(SaturationConfig(drain_limit=10.0), GPUS, window)
    assert _first_verdict(det, stream[:done_at]) is None
    assert _first_verdict(det, stream[done_at:]) is None  # and none once it is done


@pytest.mark.parametrize(
    ("kw", "util"),
    [
        ({"drain_limit": 10.0}, 0.95),
        ({}, 1.0),
        ({"drain_limit": 10.0, "overload_long_min_utilization": 0.995}, 0.99),
    ],
    ids=["not full", "off by default", "below the configured utilisation"],
)
def test_a_held_up_window_needs_full_gpus_and_the_rule_on(
    kw: dict[str, float], util: float
) -> None:
    """A window held up on GPUs that are not full (a long job, not an overload), or with
    the rule off (as it is unless set), runs on."""
    window, stream = _held_up_stream(4000, 200, util=util)
    det = SaturationDetector(SaturationConfig(**kw), GPUS, window)  # type: ignore[arg-type]
    assert _first_verdict(det, stream) is None


def test_a_window_that_arrived_at_the_start_gives_no_time_to_scale() -> None:
    """Every window job there at time 0 (a trace's burst): no held-up verdict, however
    long the run."""
    window, stream = _held_up_stream(3000, 200, util=1.0)
    stream = [dataclasses.replace(o, arrivals=max(o.arrivals, 300)) for o in stream]
    stream.insert(0, dataclasses.replace(stream[0], time=0.0, completions=0, busy_gpu_s=0.0))
    det = SaturationDetector(SaturationConfig(drain_limit=10.0), GPUS, window)
    assert _first_verdict(det, stream) is None


@pytest.mark.parametrize("limit", [-1.0, 0.5, 2e6, math.nan])
def test_the_drain_limit_is_checked(limit: float) -> None:
    with pytest.raises(ValueError, match=r"drain limit must be 0 \(off\) or within"):
        SaturationConfig(drain_limit=limit)


def test_a_run_whose_window_is_held_up_ends_there_and_says_so() -> None:
    """Multi-GPU LAS on 2:2:2 at 0.8 jobs/h with the work-growth rules out of reach: the
    window's last jobs are held up, the run ends at three times the window's arrival,
    and its telemetry marks the rounds since the window arrived as saturated. With the
    rule off the same run goes on past that time."""
    saturation = SaturationConfig(overload_backlog_fraction=50.0, drain_limit=3.0)
    config = SimConfig(
        policy="max_min_fairness",
        cluster=parse_cluster("2:2:2"),
        workload=WorkloadConfig(rate_per_hour=0.8, multi_gpu=True),
        window=WindowConfig(10, 30),
        saturation=saturation,
        timeout_s=120.0,
    )
    sim = Simulation(config, telemetry=True)
    outcome = sim.run()
    r = build_result(outcome)
    verdict = outcome.saturation
    assert r["end_reason"] == "saturated" and r["saturation_reason"] == "held_up"
    assert verdict is not None and verdict.since is not None
    assert verdict.time >= 3.0 * verdict.since and r["window_jobs_unfinished"] > 0
    assert "times the" in verdict.message and "window took to arrive" in verdict.message
    assert sim.telemetry is not None
    columns = sim.telemetry.columns(verdict, outcome.completions)
    saturated = columns["phase"] == "saturated"
    assert saturated.any()
    assert (columns["time_s"][saturated] >= verdict.since).all()
    assert (columns["time_s"][~saturated] < verdict.since).all()
    off = dataclasses.replace(
        config,
        saturation=dataclasses.replace(saturation, drain_limit=0.0),
        stop_at_s=1.5 * verdict.time,
    )
    r_off = build_result(Simulation(off).run())
    assert r_off["saturation_reason"] is None
    assert r_off["sim_time_s"] > verdict.time  # type: ignore[operator]


def test_the_command_line_sets_the_drain_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``hetsim run --saturation-drain-limit 3`` ends the held-up run of the test above,
    prints the verdict and stores the limit in the result's config."""
    out = tmp_path / "run"
    code, printed, _ = run_cli(
        [
            "run", "--policy", "max_min_fairness", "--cluster", "2:2:2", "--multi-gpu",
            "--rate", "0.8", "--window", "10:30", "--saturation-overload-fraction", "50",
            "--saturation-drain-limit", "3", "--telemetry", "none", "--out", str(out),
        ],
        capsys,
    )  # fmt: skip
    assert code == 0, printed
    result = json.loads((out / "result.json").read_text())
    assert result["saturation_reason"] == "held_up" and "SATURATED (held_up)" in printed
    assert result["config"]["saturation"]["drain_limit"] == 3.0
