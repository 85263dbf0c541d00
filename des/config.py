"""Frozen configuration of one simulation run, with every default in one place.

``SimConfig.to_dict()`` is the full effective configuration stored in every result.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from cluster import ClusterSpec
from hetsim import limits
from scheduler import conic, partition, policies, registry
from workloads.traces import GAVEL, TraceOptions

QUIRK_MODES = ("none", "gavel")
# The largest GPU count the generator draws for multi-GPU jobs (workloads.generator).
MULTI_GPU_MAX = 8
FTF_ISOLATED_MODES = policies.FTF_BASELINES


def ftf_isolated_misfit(mode: str, policy_names: Iterable[str], owner: str) -> str | None:
    """Why ``mode`` cannot go with these policies (``owner`` names who holds them in the
    message), or ``None``: an unknown mode, or a baseline other than the default for a
    policy that takes none."""
    if mode not in FTF_ISOLATED_MODES:
        return f"unknown ftf_isolated '{mode}' (known: {', '.join(FTF_ISOLATED_MODES)})"
    if mode == policies.FTF_DEFAULT:
        return None
    takers = [name for name in registry.names() if registry.get(name).ftf_baseline]
    for name in policy_names:
        if name not in takers:
            return f"applies to {' and '.join(takers)} only; {owner} has {name!r}"
    return None


def _bounded(what: str, value: object, bound: limits.Bound) -> None:
    """ValueError when ``value`` is outside ``bound`` (the CLI checks each option first,
    naming it; this guards every other way a config is built)."""
    problem = bound.problem(value)
    if problem is not None:
        raise ValueError(f"{what} {problem}")


@dataclass(frozen=True)
class WindowConfig:
    """The measurement window: jobs with ids in ``[start, end)``."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.end <= self.start:
            raise ValueError(f"window {self.start}:{self.end} must satisfy 0 <= start < end")
        _bounded("window end", self.end, limits.WINDOW_END)

    def __contains__(self, job_id: object) -> bool:
        return isinstance(job_id, int) and self.start <= job_id < self.end

    def contains(self, job_ids: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """``job_id in self`` for each of an array of ids."""
        return (job_ids >= self.start) & (job_ids < self.end)

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class SaturationConfig:
    """When the sliding-window saturation monitor ends a run early.

    *Stalled*: over the last ``window_completions`` completions the completion rate is
    below ``min_completion_rate_per_h`` and below half the arrivals of the same span,
    while utilisation is at least ``min_utilization`` (a small cluster that finishes
    few jobs because few arrive is not stalled).

    *Queue growth*: over the last ``growth_windows`` windows of ``window_completions``
    completions, at that utilisation, the number of active jobs rose by at least
    ``growth_min_fraction`` of the arrivals in that span and by at least ``growth_z``
    standard deviations of arrival/completion noise (``sqrt(arrivals + completions)``),
    and more jobs are active than there are GPUs. The defaults were calibrated on the
    reference workload: single-GPU agnostic LAS at 5.6 jobs/h (slowly overloaded, but
    its window completes and the reference reports it) peaks at 4.0 standard deviations;
    at 6.4 jobs/h the statistic stays above 5.5 from the first full horizon on.

    *Outpaced* (reported as queue growth too): over the last ``overload_arrivals``
    arrivals and over the ``overload_arrivals`` before them, at that utilisation and
    with more jobs active than GPUs, the work the active jobs still need (GPU-seconds,
    each on its fastest type) grew by at least ``overload_backlog_fraction`` of the
    GPU-seconds the cluster had in each span (two spans in a row: one long job of many
    GPUs can fill one on its own); or over two shorter spans of h arrivals
    (``overload_arrivals`` halved down to ``overload_min_arrivals``) by
    ``sqrt(overload_arrivals / h)`` times that fraction,
    since the work that h arrivals bring varies as ``1 / sqrt(h)``. Work, not a count of
    jobs: least-attained-service policies keep finishing the short jobs of an overloaded
    cluster while its long ones pile up, so jobs complete nearly as often as they arrive
    long after the work has outgrown the GPUs. Horizons counted in arrivals and a
    threshold relative to the cluster make the rule scale with the cluster and the
    arrival rate.

    *Mild overload* (also reported as queue growth), for policies that do not serve in
    arrival order: the same over longer horizons, ``overload_arrivals`` doubled up to
    ``overload_long_arrivals`` with the same ``sqrt`` scaling (12.5% at 6,400 arrivals),
    at ``overload_long_min_utilization``, while the overload holds the window up: every
    window job has arrived and fewer than half of those unfinished one horizon before
    have finished since. Multi-GPU LAS at 3.0 jobs/h on 36:36:36 grows its waiting work
    by about 16% of the cluster's time for tens of thousands of hours, 50 window jobs
    left for thousands of them, at 98.5-99% utilisation: a job that ends inside a round
    holds its GPUs to the round's end and a gang that does not fit waits, so a full
    multi-GPU cluster is not 99% busy. Single-GPU LAS at 5.6 jobs/h grows as fast while
    its window drains to its end, so it runs on; and FIFO completes its window however
    the work after it grows (single-GPU FIFO at 6.0 jobs/h: 15% per 3,200 arrivals, the
    window complete at 2,106 h, as the reference's is), so it is not asked at all.

    *Starved*: every window job has arrived, some are unfinished, and they received no
    GPU time at all while ``starve_completions`` other jobs finished. Service, not
    completion, is the test: under multi-GPU LAS at 2.6 jobs/h the last window job
    finishes more than 10,000 completions after the one before it, running all along.

    *Held up*: every window job has arrived, some are unfinished, the run has lasted
    ``drain_limit`` times as long as the window took to arrive (from the run's start to
    the first observation after its last arrival), and the GPUs were busy at least
    ``overload_long_min_utilization`` of the time since. An overload too mild for the
    work-growth rules to tell from noise within any horizon a run can afford (agnostic
    finish-time fairness at 2.6 jobs/h on multi-GPU jobs grows its queue by about 1.5%
    of its arrivals, at 98.3% utilisation) holds a window's last, largest jobs up for
    ever while serving them a trickle. The longest drain of a window that completed in
    the three figures' sweeps took 6.8 times its arrival (finish-time fairness with
    LAS-perf at 3.0 jobs/h, seed 2); those held-up runs were still going at 16-23 times.
    Off (``0``) unless set: how long a window may take to drain depends on how long it
    took to arrive, so a short warm-up makes the ratio large for a window that drains
    (a scenario sets it, for its own window, from its own runs).
    """

    enabled: bool = True
    window_completions: int = 100
    min_completion_rate_per_h: float = 0.1
    min_utilization: float = 0.99
    growth_windows: int = 40
    growth_z: float = 5.0
    growth_min_fraction: float = 0.05
    # Outpaced: the work waiting grew by this fraction of the cluster's GPU time over
    # the last overload_arrivals arrivals.
    overload_arrivals: int = 1600
    overload_backlog_fraction: float = 0.25
    # ... and over shorter horizons, halved down to this many arrivals, a larger fraction
    overload_min_arrivals: int = 50
    # ... and, for policies that do not serve in arrival order, over longer ones, doubled
    # up to this many arrivals, a smaller fraction, at this utilisation.
    overload_long_arrivals: int = 6400
    overload_long_min_utilization: float = 0.98
    # Starved: unfinished window jobs got no GPU time while this many other jobs finished
    # (at 6 jobs/h, about 1,700 simulated hours).
    starve_completions: int = 10_000
    # Held up: the window unfinished after this many times the time it took to arrive,
    # at overload_long_min_utilization (0: off; the figures' scenarios set 10).
    drain_limit: float = 0.0

    def __post_init__(self) -> None:
        if self.window_completions < 2:
            raise ValueError("saturation window must be at least 2 completions")
        if not 0.0 <= self.min_utilization <= 1.0:
            raise ValueError("saturation utilisation threshold must be within [0, 1]")
        if not self.min_completion_rate_per_h >= 0:
            raise ValueError("saturation completion rate must be >= 0")
        if self.growth_windows < 1:
            raise ValueError("growth windows must be >= 1")
        if not (self.growth_z >= 0 and self.growth_min_fraction >= 0):
            raise ValueError("growth thresholds must be >= 0")
        if not 1 <= self.overload_min_arrivals <= self.overload_arrivals:
            raise ValueError("overload arrivals must satisfy 1 <= min arrivals <= arrivals")
        if not self.overload_backlog_fraction > 0:
            raise ValueError("overload backlog fraction must be > 0")
        if not 1 <= self.overload_long_arrivals <= 1_000_000:
            raise ValueError("overload long arrivals must be within [1, 1,000,000]")
        if not 0.0 <= self.overload_long_min_utilization <= 1.0:
            raise ValueError("overload long utilisation threshold must be within [0, 1]")
        if self.starve_completions < 1:
            raise ValueError("starvation completions must be >= 1")
        if not (self.drain_limit == 0 or 1 <= self.drain_limit <= 1e6):
            raise ValueError("drain limit must be 0 (off) or within [1, 1,000,000]")


@dataclass(frozen=True)
class WorkloadConfig:
    """Where the jobs come from: the reference's generator, or a Gavel TSV trace."""

    rate_per_hour: float | None = None
    multi_gpu: bool = False
    trace_path: str | None = None
    throughputs_path: str | None = None  # None: the throughputs shipped with hetsim
    max_jobs: int | None = None  # stop generating after this many jobs
    reference_type: str = "v100"
    # A real trace (workloads.traces): its format and mapping rules. None: Gavel's TSV.
    trace_format: str | None = None
    trace_options: TraceOptions | None = None

    @property
    def kind(self) -> str:
        return "trace" if self.trace_path is not None else "generated"

    def __post_init__(self) -> None:
        if self.trace_path is None:
            rate = self.rate_per_hour
            if rate is None or not math.isfinite(rate) or rate <= 0:
                raise ValueError(f"rate must be a positive number of jobs/hour, not {rate}")
            _bounded("rate", rate, limits.RATE)
        elif self.multi_gpu:
            raise ValueError("multi-GPU jobs are drawn by the generator; a trace has its own")
        if self.max_jobs is not None:
            _bounded("max jobs", self.max_jobs, limits.JOBS)
        if self.trace_options is not None and self.trace_format in (None, GAVEL):
            raise ValueError("trace options apply to real-trace formats, not the Gavel TSV")

    @property
    def real_trace(self) -> bool:
        """Whether the jobs come from a real trace read by workloads.traces."""
        return self.trace_path is not None and self.trace_format not in (None, GAVEL)


@dataclass(frozen=True)
class SimConfig:
    """One run: policy, cluster, workload, measurement window and mechanism settings."""

    policy: str
    cluster: ClusterSpec
    workload: WorkloadConfig
    window: WindowConfig | None = None
    seed: int = 0
    round_s: float = 360.0
    reset_interval_s: float = 1920.0
    solvers: tuple[str, ...] = conic.DEFAULT_CHAIN
    saturation: SaturationConfig = field(default_factory=SaturationConfig)
    timeout_s: float | None = None
    # "gavel": reproduce the reference's behaviour, defects included; "none": hetsim's.
    quirks: str = "none"
    # Solver-independent tie-break of degenerate optima (min-norm point); off with quirks.
    tie_break: bool = True
    # Per-type cost (cluster order) for cost-normalised throughput policies.
    type_costs: tuple[float, ...] | None = None
    # Finish-time fairness: what a job's finish time is measured against. "share": an
    # equal share of every type, with the progress so far counted at that rate (the
    # reference's current code); "las": the throughput agnostic LAS would give the job
    # now, with its whole time since arrival (the reference's code of the published
    # finish-time-fairness curves).
    ftf_isolated: str = policies.FTF_DEFAULT
    # End the run at this simulated time (seconds) and report the state there.
    stop_at_s: float | None = None
    # POP: solve the allocation as this many sub-problems (1: the exact solve).
    partitions: int = 1
    # Pose large tie-broken max-min programs (512 jobs and up) over classes of
    # interchangeable jobs: the same allocation, faster. False: always job by job.
    job_classes: bool = True

    def __post_init__(self) -> None:
        spec = registry.get(self.policy)  # KeyError naming the known policies
        conic.validate_chain(self.solvers)
        if self.quirks not in QUIRK_MODES:
            raise ValueError(
                f"unknown quirks mode '{self.quirks}' (known: {', '.join(QUIRK_MODES)})"
            )
        misfit = ftf_isolated_misfit(self.ftf_isolated, [self.policy], "the run")
        if misfit is not None:
            raise ValueError(f"ftf_isolated {misfit}")
        if spec.single_gpu_only and self.workload.multi_gpu:
            raise ValueError(f"policy '{self.policy}' supports single-GPU jobs only")
        if self.type_costs is not None and (
            len(self.type_costs) != self.cluster.num_types
            or not all(c > 0 for c in self.type_costs)
        ):
            raise ValueError("type costs need one positive number per GPU type of the cluster")
        if self.type_costs is not None:
            for cost in self.type_costs:
                _bounded("type cost", cost, limits.TYPE_COST)
        _bounded("seed", self.seed, limits.SEED)
        _bounded("round length", self.round_s, limits.ROUND_S)
        _bounded("reset interval", self.reset_interval_s, limits.RESET_INTERVAL_S)
        if self.timeout_s is not None:
            _bounded("timeout", self.timeout_s, limits.TIMEOUT_S)
        if self.stop_at_s is not None and not (
            math.isfinite(self.stop_at_s) and self.stop_at_s > 0
        ):
            raise ValueError("stop-at time must be > 0")
        refused = partition.refusal(
            self.partitions,
            self.cluster.counts,
            spec,
            self.quirks == "gavel",
            MULTI_GPU_MAX if self.workload.multi_gpu else 1,
        )
        if refused is not None:
            raise ValueError(f"partitions: {refused.message}")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["cluster"] = self.cluster.to_dict()
        out["solvers"] = list(self.solvers)
        out["type_costs"] = None if self.type_costs is None else list(self.type_costs)
        return out

    @property
    def reference_type_index(self) -> int:
        """Column of the type agnostic policies take as the throughput of every type."""
        types = self.cluster.gpu_types
        ref = self.workload.reference_type
        return types.index(ref) if ref in types else 0


def _section(cls: type[Any], data: Any, name: str) -> Any:
    """``cls(**data)``, ValueError naming an unknown or missing key of ``name``."""
    if not isinstance(data, dict):
        raise ValueError(f"config.{name}: not an object")
    known = {f.name for f in fields(cls)}
    for key in data:
        if key not in known:
            raise ValueError(f"config.{name}: unknown key '{key}'")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ValueError(f"config.{name}: {exc}") from None


def config_from_dict(data: dict[str, Any]) -> SimConfig:
    """The :class:`SimConfig` that :meth:`SimConfig.to_dict` stored (a result's
    ``config``); ValueError naming the key that is unknown or wrong."""
    if not isinstance(data, dict):
        raise ValueError("config: not an object")
    out = dict(data)
    known = {f.name for f in fields(SimConfig)}
    for key in out:
        if key not in known:
            raise ValueError(f"config: unknown key '{key}'")
    try:
        out["cluster"] = ClusterSpec.from_dict(out["cluster"], source="config.cluster")
    except KeyError:
        raise ValueError("config: missing key 'cluster'") from None
    out["workload"] = _section(WorkloadConfig, out.get("workload"), "workload")
    if out.get("window") is not None:
        out["window"] = _section(WindowConfig, out["window"], "window")
    if "saturation" in out:
        out["saturation"] = _section(SaturationConfig, out["saturation"], "saturation")
    for key in ("solvers", "type_costs"):
        if out.get(key) is not None:
            out[key] = tuple(out[key])
    return _section(SimConfig, out, "")  # type: ignore[no-any-return]
