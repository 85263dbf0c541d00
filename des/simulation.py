"""One simulation run: build the objects, start their processes, run, report.

Follows the construct / elaborate / simulate split: :class:`Simulation` builds every
object without starting anything (so each can be inspected or tested), ``elaborate``
starts the SimPy processes, and ``run`` drives the clock until the run ends:

- ``window_complete``: every job of the measurement window finished;
- ``all_jobs_done``: a finite workload (a trace) finished entirely;
- ``saturated``: the saturation monitor gave up on an overloaded run;
- ``timeout``: the wall-clock budget ran out;
- ``stalled``: nothing was left to happen (no arrivals, nothing runnable);
- ``stopped_at``: the configured ``stop_at_s`` came; the outcome carries the state.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy
import structlog
from threadpoolctl import threadpool_limits

from cluster import Placer, Topology
from des.arrivals import arrival_process
from des.completion import CompletionTracker
from des.config import SimConfig
from des.jobrecords import Completion, CompletionLog
from des.monitor import SaturationDetector, Verdict, saturation_monitor
from des.rounds import RoundScheduler
from des.snapshot import snapshot
from des.telemetry import TelemetryCollector
from des.worker import GpuWorker
from scheduler import partition, registry
from scheduler.mechanism import MechanismConfig, RoundMechanism, RoundPlan
from workloads import (
    TEMPLATES,
    GeneratorConfig,
    Job,
    ThroughputTable,
    generate,
    iter_trace,
    load_throughputs,
    scan_trace,
)
from workloads.traces import TraceJobs, TraceOptions, with_seed

log = structlog.get_logger()

# Offsets of the named random streams from the run's seed. The generator's job and
# inter-arrival streams (seed+2, seed+3) and the type-order shuffler (seed+5) are the
# reference's; the policy stream (FIFO's random type) uses the seed itself, as it does.
TYPE_ORDER_STREAM = 5
POLICY_STREAM = 0


@dataclass(frozen=True)
class RunOutcome:
    """What a finished run measured, before it is turned into a result record."""

    config: SimConfig
    end_reason: str
    saturation: Verdict | None
    sim_time: float
    wall_time: float
    # Finished jobs in finishing order (spilled to a scratch file by chunks).
    completions: CompletionLog
    jobs_arrived: int
    rounds: int
    busy_gpu_s: float
    busy_gpu_s_by_type: np.ndarray
    gpu_type_names: tuple[str, ...]
    gpu_counts: tuple[int, ...]
    solver: dict[str, Any]
    profile: dict[str, float]
    unrunnable: tuple[int, ...] = ()
    failed: tuple[Completion, ...] = ()
    # With ``stop_at_s``: the state at that instant (des.snapshot), else None.
    state: dict[str, Any] | None = None
    trace: dict[str, Any] | None = None  # what reading a real trace did (TraceJobs.summary)


def check_generator_coverage(
    throughputs: ThroughputTable, gpu_types: tuple[str, ...], multi_gpu: bool
) -> None:
    """Fails before the run (InputError naming the file and entry) when the throughput
    file lacks a job type the generator can draw, rather than hours into it."""
    for template in TEMPLATES:
        counts = (1, 2, 4, 8) if multi_gpu and template.distributed else (1,)
        for count in counts:
            throughputs.isolated(template.model, count, gpu_types)


def open_real_trace(config: SimConfig, throughputs: ThroughputTable) -> TraceJobs:
    """A real trace's jobs for this run (the template draw seeded by the run's seed);
    its first pass checks every row before anything runs."""
    wl = config.workload
    assert wl.trace_path is not None and wl.trace_format is not None
    options = with_seed(wl.trace_options or TraceOptions(), config.seed)
    return TraceJobs(wl.trace_path, wl.trace_format, options, throughputs, config.cluster.gpu_types)


def load_workload(
    config: SimConfig, throughputs: ThroughputTable, *, checked: bool = False
) -> Iterator[Job]:
    """The run's jobs in arrival order: the seeded generator's stream, or a trace.

    A Gavel TSV trace is streamed (no job is held before it arrives); unless ``checked``
    (the caller scanned it already), every line is checked first, so a bad line is an
    error before the run, not during it."""
    wl = config.workload
    if wl.real_trace:
        jobs: Iterable[Job] = open_real_trace(config, throughputs)
    elif wl.trace_path is not None:
        types = config.cluster.gpu_types
        if not checked:
            scan_trace(wl.trace_path, throughputs=throughputs, gpu_types=types)
        jobs = iter_trace(wl.trace_path, throughputs=throughputs, gpu_types=types)
    else:
        assert wl.rate_per_hour is not None
        types = tuple(dict.fromkeys((*config.cluster.gpu_types, wl.reference_type)))
        check_generator_coverage(throughputs, types, wl.multi_gpu)
        gen = GeneratorConfig(
            rate_per_hour=wl.rate_per_hour,
            seed=config.seed,
            multi_gpu=wl.multi_gpu,
            reference_type=wl.reference_type,
        )
        jobs = generate(gen, throughputs)
    if wl.max_jobs is not None:
        jobs = itertools.islice(jobs, wl.max_jobs)
    return iter(jobs)


class Simulation:
    """A fully built run; call :meth:`run` once."""

    def __init__(
        self,
        config: SimConfig,
        *,
        throughputs: ThroughputTable | None = None,
        jobs: Iterable[Job] | None = None,
        progress: Callable[[Simulation], None] | None = None,
        telemetry: bool = False,
    ) -> None:
        self.config = config
        self.throughputs = throughputs or load_throughputs(config.workload.throughputs_path)
        cluster = config.cluster
        self.throughputs.require_types(cluster.gpu_types, context="the cluster")
        self.trace: TraceJobs | None = None
        if jobs is None and config.workload.real_trace:
            self.trace = open_real_trace(config, self.throughputs)
            jobs = self.trace
        self.jobs: Iterator[Job] = (
            iter(jobs) if jobs is not None else load_workload(config, self.throughputs)
        )
        self.window = config.window
        self.progress = progress
        self.env = simpy.Environment(initial_time=0.0)
        self.topology = Topology(cluster)
        self.placer = Placer(self.topology, reference_order=config.quirks == "gavel")
        self.mechanism = RoundMechanism(
            partition.partitioned_spec(registry.get(config.policy), config.partitions),
            np.array(cluster.counts),
            MechanismConfig(config.round_s, config.reset_interval_s),
            type_rng=random.Random(config.seed + TYPE_ORDER_STREAM),
            policy_rng=random.Random(config.seed + POLICY_STREAM),
            solvers=config.solvers,
            quirks=config.quirks == "gavel",
            tie_break=config.tie_break,
            ftf_isolated=config.ftf_isolated,
            job_classes=config.job_classes,
            reference_type=config.reference_type_index,
            type_costs=None if config.type_costs is None else np.array(config.type_costs),
            type_names=cluster.gpu_types,
            pair_rates=self._pair_rates if registry.get(config.policy).packing else None,
        )
        self.tracker = CompletionTracker(
            self.env,
            self.mechanism,
            cluster.num_types,
            self._on_completed,
            arrivals=lambda: self.scheduler.arrived,
            window_left=self._window_left,
            window=config.window,
            on_job_failed=self._on_failed,
            on_gpus_freed=self._on_gpus_freed,
        )
        self.workers = [
            GpuWorker(self.env, gpu, int(self.topology.gpu_type[gpu]))
            for gpu in range(cluster.total_gpus)
        ]
        self.scheduler = RoundScheduler(
            self.env,
            self.mechanism,
            self.placer,
            self.workers,
            self.tracker,
            self._throughput_row,
            cluster.gpu_types,
            on_round=self._on_round,
            on_plan=self._on_plan if telemetry else None,
            on_idle=self._on_idle,
            on_unrunnable=self._on_unrunnable,
        )
        self.telemetry: TelemetryCollector | None = (
            TelemetryCollector(self.topology, self.mechanism.jobs, self.window, config.saturation)
            if telemetry
            else None
        )
        self.detector = SaturationDetector(
            config.saturation,
            cluster.total_gpus,
            self.window,
            arrival_order=self.mechanism.policy.fifo_like,
        )
        self.stop: simpy.Event = self.env.event()
        self.end_reason = ""
        self.verdict: Verdict | None = None
        self.window_done = 0
        self.unrunnable_ids: list[int] = []
        self._wall_start = 0.0
        self._next_progress = 0.0
        self._elaborated = False
        self._arrivals: simpy.Process | None = None

    # -- wiring ------------------------------------------------------------------------

    def _pair_rates(self, a: object, b: object) -> np.ndarray:
        """Steps/s of a job of type ``a`` and one of type ``b`` sharing GPUs, per type
        (zeros where the throughput file has no such pair)."""
        out = np.zeros((self.config.cluster.num_types, 2))
        for j, gpu_type in enumerate(self.config.cluster.gpu_types):
            rates = self.throughputs.pair(gpu_type, a, b)  # type: ignore[arg-type]
            if rates is not None:
                out[j] = rates
        return out

    def _throughput_row(self, job: Job) -> np.ndarray:
        return self.throughputs.isolated(job.model, job.scale_factor, self.config.cluster.gpu_types)

    def _on_arrival(self, job: Job) -> None:
        if self.telemetry is not None:
            self.telemetry.job_arrived(job.job_id)
        self.scheduler.on_arrival(job)

    def _on_plan(self, plan: RoundPlan) -> None:
        assert self.telemetry is not None
        sched = self.scheduler
        self.telemetry.observe(
            plan, self.env.now, sched.rounds, sched.arrived, self.tracker.completed
        )

    def _window_left(self) -> int | None:
        window = self.window
        return None if window is None else window.size - self.window_done

    def _finish(self, reason: str) -> None:
        if not self.stop.triggered:
            self.end_reason = reason
            self.stop.succeed(reason)

    def _on_completed(self, done: Completion) -> None:
        window = self.window
        if window is not None and done.job_id in window:
            self.window_done += 1
            if self.window_done == window.size:
                self._finish("window_complete")

    def _on_gpus_freed(self, gpus: tuple[int, ...]) -> None:
        for gpu in gpus:
            self.workers[gpu].release()

    def _on_failed(self, failed: Completion) -> None:
        """A job dropped as failed (the reference's rule, with quirks) has left: it is
        counted, never averaged, and not waited for."""
        window = self.window
        if window is not None and failed.job_id in window:
            self.window_done += 1
            if self.window_done == window.size:
                self._finish("window_complete")

    def _on_unrunnable(self, job: Job) -> None:
        """A job no type can run is settled at arrival: counted, never waited for."""
        self.unrunnable_ids.append(job.job_id)
        window = self.window
        if window is not None and job.job_id in window:
            self.window_done += 1
            if self.window_done == window.size:
                self._finish("window_complete")

    def _on_idle(self) -> None:
        """Nothing can run this round: if no job will ever arrive again, the run is over."""
        if self._arrivals is None or not self._arrivals.triggered:
            return
        if len(self.mechanism.jobs) == 0:
            self._finish("all_jobs_done")
        else:
            log.warning(
                "run_stalled",
                sim_time=self.env.now,
                active_jobs=len(self.mechanism.jobs),
                message="no more arrivals and no active job can be placed",
            )
            self._finish("stalled")

    def _on_saturated(self, verdict: Verdict) -> None:
        self.verdict = verdict
        self._finish("saturated")

    def _on_round(self, rounds: int) -> None:
        if rounds % 64:
            return
        now = time.perf_counter()
        timeout = self.config.timeout_s
        if timeout is not None and now - self._wall_start > timeout:
            log.warning("wall_clock_timeout", sim_time=self.env.now, timeout_s=timeout)
            self._finish("timeout")
        if self.progress is not None and now >= self._next_progress:
            self._next_progress = now + 0.5
            self.progress(self)

    def elaborate(self) -> None:
        """Starts every process; separate from construction so objects can be tested."""
        env = self.env
        for worker in self.workers:
            env.process(worker.run())
        self._arrivals = env.process(arrival_process(env, self.jobs, self._on_arrival))
        env.process(self.scheduler.run())
        if self.config.saturation.enabled:
            tick = self.config.saturation.window_completions / max(
                self.config.saturation.min_completion_rate_per_h, 1e-9
            )
            env.process(
                saturation_monitor(
                    env,
                    self.detector,
                    self.tracker.monitor_feed,
                    self.tracker.observation,
                    self._on_saturated,
                    tick_s=max(tick * 3600.0 / 10.0, self.config.round_s),
                )
            )
        if self.config.stop_at_s is not None:
            env.process(self._stop_at(self.config.stop_at_s))
        self._elaborated = True

    def _stop_at(self, when: float) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(when)
        self._finish("stopped_at")

    # -- running -----------------------------------------------------------------------

    def run(self) -> RunOutcome:
        """Runs to the end and returns what was measured."""
        if not self._elaborated:
            self.elaborate()
        cfg = self.config
        log.info(
            "run_started",
            sim_time=self.env.now,
            policy=cfg.policy,
            seed=cfg.seed,
            gpu_types=list(cfg.cluster.gpu_types),
            gpu_counts=list(cfg.cluster.counts),
        )
        self._wall_start = time.perf_counter()
        try:
            # One BLAS thread: the polish's dense factorisations are small, and OpenBLAS's
            # threads, spinning on a shared or loaded machine, made each 10-100x slower;
            # a fixed thread count also keeps the reductions' order, so the same bits.
            with threadpool_limits(limits=1, user_api="blas"):
                self.env.run(until=self.stop)
        except RuntimeError as exc:
            # SimPy's "no scheduled events left" when nothing can ever happen again.
            if "No scheduled events left" not in str(exc):
                raise
        # Slices that ended by now (the instant the run stopped included) are credited,
        # as they would have been had each had its own event.
        self.tracker.flush()
        if not self.end_reason:
            self.end_reason = "stalled"
        wall = time.perf_counter() - self._wall_start
        log.info(
            "run_ended",
            sim_time=self.env.now,
            reason=self.end_reason,
            jobs_arrived=self.scheduler.arrived,
            jobs_completed=len(self.tracker.completed),
        )
        stats = self.scheduler.solver_stats
        state = snapshot(self) if self.end_reason == "stopped_at" else None
        return RunOutcome(
            config=cfg,
            end_reason=self.end_reason,
            saturation=self.verdict,
            sim_time=float(self.env.now),
            wall_time=wall,
            completions=self.tracker.completed,
            jobs_arrived=self.scheduler.arrived,
            rounds=self.scheduler.rounds,
            busy_gpu_s=self.tracker.busy_gpu_s,
            busy_gpu_s_by_type=self.tracker.busy_gpu_s_by_type.copy(),
            gpu_type_names=cfg.cluster.gpu_types,
            gpu_counts=cfg.cluster.counts,
            solver=stats.to_dict(),
            unrunnable=tuple(self.unrunnable_ids),
            failed=tuple(self.tracker.failed),
            state=state,
            trace=None if self.trace is None else self.trace.summary(),
            profile={
                "lp_s": stats.time_s,
                "lp_build_s": max(0.0, self.mechanism.allocation_s - stats.time_s),
                "mechanism_s": max(0.0, self.scheduler.mechanism_s - self.mechanism.allocation_s),
                "simpy_and_other_s": max(0.0, wall - self.scheduler.mechanism_s),
            },
        )
