"""The saturation monitor: triggers on overload and stalls, never on a healthy stream."""

from __future__ import annotations

import numpy as np
import simpy

from des.config import SaturationConfig, WindowConfig
from des.monitor import Observation, SaturationDetector, Verdict, saturation_monitor

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


def test_stalled_completions_at_full_utilisation() -> None:
    """Completions slower than 0.1 jobs/h while every GPU is busy: stalled."""
    n = 300
    det = SaturationDetector(SaturationConfig(), GPUS)
    verdict = _first_verdict(det, _stream(n, 0.05, np.full(n, 200), util=1.0))
    assert verdict is not None and verdict.reason == "stalled"


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
    assert _first_verdict(det, _stream(n, 0.05, np.full(n, 200), util=0.99)) is None


def test_monitor_process_stops_the_run_at_the_verdict(env: simpy.Environment) -> None:
    """The SimPy process reads completions from the store and reports the first verdict."""
    feed = simpy.Store(env)
    det = SaturationDetector(SaturationConfig(window_completions=10), GPUS)
    verdicts: list[tuple[float, Verdict]] = []
    stream = _stream(200, 0.05, np.full(200, 200), util=1.0)

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

    def snapshot() -> Observation:
        return Observation(env.now, 3, 50, env.now * GPUS, 53)

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
