"""What a sweep is: a scenario file's policies x rates x seeds, and the runs it expands to.

A scenario is a TOML file (``scenarios/fig9.toml`` is one; copy and edit it)::

    name = "fig9"                     # required; names the output directory
    title = "Single-GPU jobs, LAS"    # shown on the plots
    trace = "single-gpu"              # or "multi-gpu": which jobs the generator draws
    policies = ["max_min_fairness", "max_min_fairness_perf"]
    rates = { start = 0.4, stop = 6.0, step = 0.4 }   # jobs/hour; or a list [0.4, 0.8]
    seeds = [0, 1, 2]
    cluster = "36:36:36"              # V100:P100:K80, or the path of a cluster .toml
    gpus_per_server = 1               # or a list, [1, 4, 8]: one curve per server size
    window = "4000:5000"              # one measurement window for every point
    quirks = "gavel"                  # or "none"
    ftf_isolated = "share"            # finish-time fairness only: or "las"
    partitions = 1                    # POP: solve each allocation in K parts (quirks "none")
    job_classes = true                # false: every max-min program job by job (slower)
    budget_s = 1800                   # per-run wall-clock budget (seconds)
    drain_limit = 10                  # held up: window unfinished at 10x its arrival (0: off)

A scenario on a real trace names the file instead of ``trace`` (relative paths are
taken from the scenario file's directory); ``rates`` are then the arrival rates the
trace is replayed at (its ``target_rate``), ``window`` must be given, and
``[trace_options]`` takes the keys of :class:`~workloads.traces.TraceOptions`
(docs/traces.md) but ``target_rate``, ``arrival_scale`` and ``seed`` (the run's)::

    trace_file = "traces/cluster04.csv"
    trace_format = "itp"              # optional: detected from the file
    [trace_options]
    max_jobs = 600
    gpu_rule = "round"

    [quick]                           # what --quick changes (any of the keys above)
    rates = [1.2, 3.6]
    window = "100:200"

Every error names the file, the line and the key. Relative cluster paths are taken
from the scenario file's directory.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cluster import ClusterSpec, load_cluster_toml, parse_cluster
from des.config import (
    FTF_ISOLATED_MODES,
    MULTI_GPU_MAX,
    QUIRK_MODES,
    SaturationConfig,
    SimConfig,
    WindowConfig,
    WorkloadConfig,
    ftf_isolated_misfit,
)
from hetsim import limits, tomlfile
from hetsim.errors import InputError
from scheduler import conic, partition, registry
from scheduler.policies import FTF_DEFAULT
from workloads import load_throughputs
from workloads.traces import GAVEL, TraceJobs, TraceOptions, detect_format

REAL_TRACE = "real"  # the ``trace`` of a scenario on a trace file

TRACES = ("single-gpu", "multi-gpu")
SPEC_FILE = "sweep.json"  # the resolved sweep, written beside its runs
_KEYS = (
    "name",
    "title",
    "trace",
    "policies",
    "rates",
    "seeds",
    "cluster",
    "gpus_per_server",
    "window",
    "quirks",
    "tie_break",
    "job_classes",
    "ftf_isolated",
    "partitions",
    "solvers",
    "budget_s",
    "drain_limit",
    "trace_file",
    "trace_format",
    "trace_options",
    "quick",
)
_NOT_TRACE_OPTIONS = ("target_rate", "arrival_scale", "seed")
MAX_RATE_POINTS = 1000


@dataclass(frozen=True)
class RunKey:
    """One point of a sweep: a policy at an arrival rate with a seed, and the server
    size when the sweep has a ``gpus_per_server`` dimension (``None``: it has none)."""

    policy: str
    rate: float
    seed: int
    gpus_per_server: int | None = None

    @property
    def slug(self) -> str:
        """The run's file name under the sweep's ``runs/`` directory (stable)."""
        policy = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.policy).strip("_")
        size = "" if self.gpus_per_server is None else f"_gps-{self.gpus_per_server}"
        return f"{policy}/rate-{self.rate:.3f}_seed-{self.seed}{size}.json"

    def to_dict(self) -> dict[str, Any]:
        """The key as a run record stores it (``gpus_per_server`` only with the dimension)."""
        key: dict[str, Any] = {"policy": self.policy, "rate": self.rate, "seed": self.seed}
        if self.gpus_per_server is not None:
            key["gpus_per_server"] = self.gpus_per_server
        return key

    def __str__(self) -> str:
        text = f"{self.policy} @ {self.rate:g} jobs/h, seed {self.seed}"
        if self.gpus_per_server is not None:
            text += f", {server_size_text(self.gpus_per_server)}"
        return text


def server_size_text(size: int) -> str:
    """``1 GPU/server``, ``8 GPUs/server``: a server size as curves and runs name it."""
    return f"{size} GPU{'' if size == 1 else 's'}/server"


@dataclass(frozen=True)
class SweepSpec:
    """A sweep, fully resolved: every run's :class:`SimConfig` follows from it."""

    name: str
    title: str
    trace: str
    policies: tuple[str, ...]
    rates: tuple[float, ...]
    seeds: tuple[int, ...]
    cluster: ClusterSpec
    window: WindowConfig
    quirks: str = "gavel"
    tie_break: bool = True
    job_classes: bool = True
    ftf_isolated: str = FTF_DEFAULT
    solvers: tuple[str, ...] = conic.DEFAULT_CHAIN
    budget_s: float = 1800.0
    drain_limit: float = 0.0
    source: str = ""
    quick: bool = False
    trace_file: str | None = None
    trace_format: str | None = None
    trace_options: TraceOptions | None = None
    partitions: int = 1
    server_clusters: tuple[tuple[int, ClusterSpec], ...] = ()
    """The ``gpus_per_server`` dimension: each server size with its cluster, in the
    scenario's order (empty: no dimension, every run on ``cluster``)."""

    @property
    def multi_gpu(self) -> bool:
        return self.trace == "multi-gpu"

    @property
    def server_sizes(self) -> tuple[int, ...]:
        """The sizes of the ``gpus_per_server`` dimension (empty without one)."""
        return tuple(size for size, _ in self.server_clusters)

    def runs(self) -> list[RunKey]:
        """Every run, in a stable order (policy, then server size, rate, seed)."""
        sizes: tuple[int | None, ...] = self.server_sizes or (None,)
        return [
            RunKey(p, r, s, g)
            for p in self.policies
            for g in sizes
            for r in self.rates
            for s in self.seeds
        ]

    def cluster_of(self, key: RunKey) -> ClusterSpec:
        """The cluster ``key`` runs on (its server size's, with the dimension)."""
        if key.gpus_per_server is None:
            return self.cluster
        return dict(self.server_clusters)[key.gpus_per_server]

    def config(self, key: RunKey) -> SimConfig:
        """The simulation configuration of one run."""
        workload = WorkloadConfig(rate_per_hour=key.rate, multi_gpu=self.multi_gpu)
        if self.trace_file is not None:
            options = replace(
                self.trace_options or TraceOptions(), target_rate=key.rate, seed=key.seed
            )
            workload = WorkloadConfig(
                trace_path=self.trace_file, trace_format=self.trace_format, trace_options=options
            )
        return SimConfig(
            policy=key.policy,
            cluster=self.cluster_of(key),
            workload=workload,
            window=self.window,
            seed=key.seed,
            solvers=self.solvers,
            timeout_s=self.budget_s,
            saturation=SaturationConfig(drain_limit=self.drain_limit),
            quirks=self.quirks,
            tie_break=self.tie_break,
            ftf_isolated=self.ftf_isolated,
            partitions=self.partitions,
            job_classes=self.job_classes,
        )

    def partitions_refusal(self) -> str | None:
        """Why the spec's ``partitions`` cannot go with its cluster, a policy or its
        quirks, or None."""
        for policy in self.policies:
            refused = partition.refusal(
                self.partitions,
                self.cluster.counts,
                registry.get(policy),
                self.quirks == "gavel",
                MULTI_GPU_MAX if self.multi_gpu else 1,
            )
            if refused is not None:
                return refused.message
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "trace": self.trace,
            "policies": list(self.policies),
            "rates": list(self.rates),
            "seeds": list(self.seeds),
            "cluster": self.cluster.to_dict(),
            "gpus_per_server": list(self.server_sizes) or None,
            "window": f"{self.window.start}:{self.window.end}",
            "quirks": self.quirks,
            "tie_break": self.tie_break,
            "job_classes": self.job_classes,
            "ftf_isolated": self.ftf_isolated,
            "solvers": list(self.solvers),
            "budget_s": self.budget_s,
            "drain_limit": self.drain_limit,
            "source": self.source,
            "quick": self.quick,
            "trace_file": self.trace_file,
            "trace_format": self.trace_format,
            "trace_options": None if self.trace_options is None else self.trace_options.to_dict(),
            "partitions": self.partitions,
        }


def _plugin_path(name: str, base: Path) -> str:
    """A file plugin ``path.py:attr`` with its path taken from the scenario's directory."""
    module, sep, attribute = name.rpartition(":")
    if sep and module.endswith(".py") and not Path(module).is_absolute():
        return f"{(base / module).resolve()}:{attribute}"
    return name


def rate_grid(start: float, stop: float, step: float) -> tuple[float, ...]:
    """``start, start+step, ..., stop`` (inclusive, rounded to 6 digits, no float drift)."""
    count = math.floor((stop - start) / step + 1e-9) + 1
    return tuple(round(start + i * step, 6) for i in range(count))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Reader:
    """Checks one scenario table (the top level, or ``[quick]``) key by key."""

    def __init__(self, toml: tomlfile.TomlFile, table: dict[str, Any], prefix: tuple[str, ...]):
        self.toml = toml
        self.table = table
        self.prefix = prefix

    def bad(self, key: str, message: str) -> InputError:
        return self.toml.error((*self.prefix, key), message)

    def string(self, key: str, choices: tuple[str, ...] | None = None) -> str:
        value = self.table[key]
        if not isinstance(value, str) or not value.strip():
            raise self.bad(key, f"must be a non-empty string, got {value!r}")
        if choices is not None and value not in choices:
            raise self.bad(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def policies(self, base: Path) -> tuple[str, ...]:
        value = self.table["policies"]
        if isinstance(value, list):
            value = [_plugin_path(v, base) if isinstance(v, str) else v for v in value]
        if not isinstance(value, list) or not value:
            raise self.bad("policies", "must be a non-empty list of policy names")
        for name in value:
            try:
                if not registry.known(name):
                    known = ", ".join(registry.names())
                    raise self.bad("policies", f"unknown policy {name!r} (known: {known})")
            except InputError as exc:
                if exc.source is not None and exc.source.startswith("policy plugin"):
                    raise self.bad("policies", f"{exc.source}: {exc.message}") from None
                raise
        if len(set(value)) != len(value):
            raise self.bad("policies", "lists a policy twice")
        return tuple(value)

    def rates(self) -> tuple[float, ...]:
        value = self.table["rates"]
        if isinstance(value, dict):
            for part in value:
                if part not in ("start", "stop", "step"):
                    raise self.bad("rates", f"unknown key {part!r}; expected start, stop, step")
            missing = [k for k in ("start", "stop", "step") if k not in value]
            if missing:
                raise self.bad("rates", f"missing {', '.join(missing)}")
            start, stop, step = value["start"], value["stop"], value["step"]
            if not all(_is_number(v) and math.isfinite(v) for v in (start, stop, step)):
                raise self.bad("rates", "start, stop and step must be numbers")
            if not (start > 0 and step > 0 and stop >= start):
                raise self.bad("rates", "need start > 0, step > 0 and stop >= start")
            if (stop - start) / step > MAX_RATE_POINTS:
                raise self.bad("rates", f"more than {MAX_RATE_POINTS} rates")
            for rate in (start, stop):
                problem = limits.RATE.problem(rate)
                if problem is not None:
                    raise self.bad("rates", f"start and stop {problem}")
            return rate_grid(start, stop, step)
        if not isinstance(value, list) or not value:
            raise self.bad("rates", "must be a list of jobs/hour or {start, stop, step}")
        for rate in value:
            problem = limits.RATE.problem(rate)
            if problem is not None:
                raise self.bad("rates", f"every rate {problem}")
        rates = tuple(round(float(r), 6) for r in value)
        if len(set(rates)) != len(rates):
            raise self.bad("rates", "lists a rate twice")
        return rates

    def seeds(self) -> tuple[int, ...]:
        value = self.table["seeds"]
        if not isinstance(value, list) or not value:
            raise self.bad("seeds", "must be a non-empty list of integers >= 0")
        for seed in value:
            problem = limits.SEED.problem(seed)
            if problem is not None:
                raise self.bad("seeds", f"every seed {problem}")
        if len(set(value)) != len(value):
            raise self.bad("seeds", "lists a seed twice")
        return tuple(value)

    def window(self) -> WindowConfig:
        value = self.table["window"]
        parts = value.split(":") if isinstance(value, str) else []
        try:
            if len(parts) != 2:
                raise ValueError
            start, end = int(parts[0]), int(parts[1])
        except ValueError:
            start, end = -1, -1
        if not 0 <= start < end:
            raise self.bad("window", f"must be 'START:END' with 0 <= START < END, got {value!r}")
        problem = limits.WINDOW_END.problem(end)
        if problem is not None:
            raise self.bad("window", f"END {problem}")
        return WindowConfig(start, end)

    def bounded(self, key: str, bound: limits.Bound) -> float:
        value = self.table[key]
        problem = bound.problem(value)
        if problem is not None:
            raise self.bad(key, problem)
        return float(value)

    def drain_limit(self) -> float:
        value = self.bounded("drain_limit", limits.SATURATION_DRAIN_LIMIT)
        if 0 < value < 1:
            raise self.bad("drain_limit", f"{value:g} is below 1; give 0 to turn the rule off")
        return value

    def partitions(self) -> int:
        value = self.table["partitions"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.bad("partitions", f"must be an integer >= 1, got {value!r}")
        return value

    def flag(self, key: str) -> bool:
        value = self.table[key]
        if not isinstance(value, bool):
            raise self.bad(key, f"must be true or false, got {value!r}")
        return value

    def solvers(self) -> tuple[str, ...]:
        value = self.table["solvers"]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.bad("solvers", "must be a list of solver names")
        try:
            return conic.validate_chain(value)
        except ValueError as exc:
            raise self.bad("solvers", str(exc)) from None

    def trace_file(self, base: Path) -> str:
        value = self.string("trace_file")
        path = Path(value) if Path(value).is_absolute() else base / value
        if not path.is_file():
            raise self.bad("trace_file", f"no such file: {path}")
        return str(path)

    def trace_options(self) -> TraceOptions:
        value = self.table["trace_options"]
        if not isinstance(value, dict):
            raise self.bad("trace_options", "must be a table of trace options")
        allowed = [n for n in TraceOptions.field_names() if n not in _NOT_TRACE_OPTIONS]
        given: dict[str, Any] = {}
        for name, item in value.items():
            key = ("trace_options", name)
            if name not in allowed:
                raise self.toml.error(
                    (*self.prefix, *key), f"unknown key; expected one of {', '.join(allowed)}"
                )
            if name in ("time_range_h", "vcs"):
                if not isinstance(item, list):
                    raise self.toml.error((*self.prefix, *key), "must be a list")
                item = tuple(item)
            given[name] = item
        try:
            options = TraceOptions(**given)
            return options.check()
        except (InputError, TypeError, ValueError) as exc:
            name = exc.field if isinstance(exc, InputError) and exc.field else "trace_options"
            message = exc.message if isinstance(exc, InputError) else str(exc)
            path = ("trace_options", name) if name != "trace_options" else ("trace_options",)
            raise self.toml.error((*self.prefix, *path), message) from None

    def server_sizes(self, value: object) -> list[int]:
        """``gpus_per_server``: one size, or a non-empty list of distinct sizes."""
        sizes = value if isinstance(value, list) else [value]
        if not sizes:
            raise self.bad("gpus_per_server", "must be a server size or a non-empty list of them")
        for size in sizes:
            problem = limits.GPUS_PER_SERVER.problem(size)
            if problem is not None:
                every = "every size " if isinstance(value, list) else ""
                raise self.bad("gpus_per_server", f"{every}{problem}")
        if len(set(sizes)) != len(sizes):
            raise self.bad("gpus_per_server", "lists a server size twice")
        return [size for size in sizes if isinstance(size, int)]  # all are, by now

    def cluster(self, base: Path, size: int = 1) -> ClusterSpec:
        value = self.table["cluster"]
        if not isinstance(value, str):
            raise self.bad("cluster", f"must be 'A:B:C' or a cluster .toml path, got {value!r}")
        if value.endswith(".toml"):
            path = Path(value) if Path(value).is_absolute() else base / value
            return load_cluster_toml(path, gpus_per_server=size)
        try:
            return parse_cluster(value, gpus_per_server=size)
        except InputError as exc:
            raise self.bad("cluster", exc.message) from None

    def clusters(self, base: Path) -> tuple[ClusterSpec, tuple[tuple[int, ClusterSpec], ...]]:
        """The cluster, and the ``gpus_per_server`` dimension when the key is a list (each
        size's cluster; a cluster file's own server sizes win, as with one size, so two
        sizes that give the same cluster are refused)."""
        value = self.table.get("gpus_per_server", 1)
        sizes = self.server_sizes(value)
        built = [(size, self.cluster(base, size)) for size in sizes]
        if not isinstance(value, list):
            return built[0][1], ()
        for (a, first), (b, second) in itertools.combinations(built, 2):
            if first == second:
                raise self.bad(
                    "gpus_per_server",
                    f"sizes {a} and {b} give the same cluster (its file sets every "
                    "type's gpus_per_server); drop the list or those settings",
                )
        return built[0][1], tuple(built)


def _apply(reader: _Reader, spec: dict[str, Any], base: Path) -> None:
    """Reads every key ``reader``'s table sets into ``spec`` (checked)."""
    table = reader.table
    for key in table:
        if key not in _KEYS or (reader.prefix and key in ("name", "quick")):
            allowed = [k for k in _KEYS if not (reader.prefix and k in ("name", "quick"))]
            raise reader.bad(key, f"unknown key; expected one of {', '.join(allowed)}")
    readers: dict[str, Callable[[], Any]] = {
        "name": lambda: reader.string("name"),
        "title": lambda: reader.string("title"),
        "trace": lambda: reader.string("trace", TRACES),
        "policies": lambda: reader.policies(base),
        "rates": reader.rates,
        "seeds": reader.seeds,
        "window": reader.window,
        "quirks": lambda: reader.string("quirks", QUIRK_MODES),
        "tie_break": lambda: reader.flag("tie_break"),
        "job_classes": lambda: reader.flag("job_classes"),
        "ftf_isolated": lambda: reader.string("ftf_isolated", FTF_ISOLATED_MODES),
        "partitions": reader.partitions,
        "solvers": reader.solvers,
        "budget_s": lambda: reader.bounded("budget_s", limits.TIMEOUT_S),
        "drain_limit": reader.drain_limit,
        "trace_file": lambda: reader.trace_file(base),
        "trace_format": lambda: reader.string("trace_format"),
        "trace_options": reader.trace_options,
    }
    for key, read in readers.items():
        if key in table:
            spec[key] = read()
    if "cluster" in table or "gpus_per_server" in table:
        # [quick] may change the cluster or the server sizes alone; the other is kept
        inherited = {"cluster": spec.get("_cluster_text", "36:36:36")}
        if "_server_sizes" in spec:
            inherited["gpus_per_server"] = spec["_server_sizes"]
        if any(key not in table for key in inherited):
            table = {**inherited, **table}
            reader = _Reader(reader.toml, table, reader.prefix)
        spec["_cluster_text"] = table["cluster"]
        if "gpus_per_server" in table:
            spec["_server_sizes"] = table["gpus_per_server"]
        spec["cluster"], spec["server_clusters"] = reader.clusters(base)


def load_sweep(path: str | Path, *, quick: bool = False) -> SweepSpec:
    """Reads a scenario file into a :class:`SweepSpec` (``quick``: apply ``[quick]``)."""
    toml = tomlfile.load(path, "scenario file")
    base = Path(path).resolve().parent
    top = _Reader(toml, toml.data, ())
    spec: dict[str, Any] = {}
    _apply(top, spec, base)
    if "trace_file" in spec:
        if "trace" in spec:
            raise toml.error(("trace",), "give trace (generated jobs) or trace_file, not both")
        if "window" not in spec:
            raise toml.error(("window",), "missing (a scenario on a trace file names its window)")
        spec["trace"] = REAL_TRACE
    elif "trace_format" in spec or "trace_options" in spec:
        key = "trace_format" if "trace_format" in spec else "trace_options"
        raise toml.error((key,), "applies to a trace_file only")
    for key in ("name", "trace", "policies", "rates"):
        if key not in spec:
            raise toml.error((key,), "missing")
    spec.setdefault("title", spec["name"])
    spec.setdefault("seeds", (0, 1, 2))
    spec.setdefault("window", WindowConfig(4000, 5000))
    if "cluster" not in spec:
        spec["cluster"] = parse_cluster("36:36:36")
    quick_table = toml.data.get("quick")
    if quick_table is not None and not isinstance(quick_table, dict):
        raise toml.error(("quick",), "must be a table of the keys --quick changes")
    if quick:
        if not quick_table:
            raise toml.error(("quick",), "--quick needs a [quick] table in the scenario file")
        _apply(_Reader(toml, quick_table, ("quick",)), spec, base)
    spec.pop("_cluster_text", None)
    spec.pop("_server_sizes", None)
    if "trace_file" in spec:
        _check_trace(toml, spec)
    result = SweepSpec(source=str(path), quick=quick, **spec)
    for policy in result.policies:
        if registry.get(policy).single_gpu_only and result.multi_gpu:
            raise toml.error(("policies",), f"policy {policy!r} supports single-GPU jobs only")
    misfit = ftf_isolated_misfit(result.ftf_isolated, result.policies, "the sweep also")
    if misfit is not None:
        raise toml.error(("ftf_isolated",), misfit)
    refused = result.partitions_refusal()
    if refused is not None:
        raise toml.error(("partitions",), refused)
    return result


def _check_trace(toml: tomlfile.TomlFile, spec: dict[str, Any]) -> None:
    """Detects the trace's format and reads it once, so that a bad row or rule fails
    here, with one line, rather than in every run."""
    trace_file = spec["trace_file"]
    fmt = spec.get("trace_format") or detect_format(trace_file)
    if fmt == GAVEL:
        raise toml.error(("trace_file",), "a Gavel TSV has fixed arrivals; give a real trace")
    spec["trace_format"] = fmt
    options = spec.get("trace_options") or TraceOptions()
    TraceJobs(trace_file, fmt, options, load_throughputs(), spec["cluster"].gpu_types)


def with_overrides(spec: SweepSpec, **changes: Any) -> SweepSpec:
    """The spec with command-line overrides (``seeds``, ``quirks``, ...) applied."""
    return replace(spec, **{k: v for k, v in changes.items() if v is not None})
