"""The ``hetsim`` command line: ``run`` one configuration, write a ``trace``, list ``policies``.

The CLI is the only place that configures structlog: event traces go to
``DIR/events.jsonl`` as JSON lines (``--events``), warnings to the terminal. Every
kind of bad input ends with one line on stderr, ``hetsim: error: ...``, and exit
code 2; nothing is left half-written.
"""

from __future__ import annotations

import math
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

import click
from tqdm import tqdm

import scenarios
from cluster import ClusterSpec, parse_cluster
from des.config import (
    FTF_ISOLATED_MODES,
    MULTI_GPU_MAX,
    SaturationConfig,
    SimConfig,
    WindowConfig,
    WorkloadConfig,
    ftf_isolated_misfit,
)
from des.result import build_result
from des.simulation import Simulation, load_workload
from hetsim import limits, telemetry_file
from hetsim import replay as replay_mod
from hetsim.errors import InputError, option_error
from hetsim.eventlog import configure_logging
from hetsim.jobs_file import write_jobs
from hetsim.output import check_output_file, dumps
from hetsim.policy_list import policy_lines
from hetsim.rundir import StagedDir, check_target
from hetsim.throughput_check import run_throughput_check
from hetsim.trace_cli import convert as convert_trace
from hetsim.trace_cli import summary_lines as trace_summary_lines
from hetsim.trace_cli import trace_option_flags, trace_workload
from scheduler import conic, partition, registry
from scheduler.policies import FTF_DEFAULT
from sweep import report, table
from sweep.executors import Backend, open_backend
from sweep.runner import SweepState, check_sweep_dir, load_records, run_sweep
from sweep.spec import load_sweep, with_overrides
from viz import commands as viz_commands
from workloads import (
    GeneratorConfig,
    Job,
    ThroughputTable,
    generate_n,
    load_throughputs,
    scan_trace,
    write_trace,
)
from workloads.traces import FORMAT_NAMES

EXIT_BAD_INPUT = 2
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports it
EVENTS_FILE = "events.jsonl"
EXIT_RUNS_FAILED = 1
DEFAULT_WINDOW = "4000:5000"
STATE_FILE = "state.json"


# -- structlog configuration (the CLI's job, never a library module's) --------------------


# -- argument parsing helpers -------------------------------------------------------------


def parse_window(text: str) -> WindowConfig:
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        start, end = int(parts[0]), int(parts[1])
    except ValueError:
        start, end = -1, -1
    if not 0 <= start < end:
        raise InputError(
            f"'{text}' is not a window START:END of job ids with 0 <= START < END",
            source="--window",
            field="window",
        )
    limits.WINDOW_END.check_option("--window", end)
    return WindowConfig(start, end)


def _progress_printer(stream: TextIO) -> Callable[[Simulation], None]:
    tty = stream.isatty()
    state = {"last": 0.0}

    def show(sim: Simulation) -> None:
        now = time.perf_counter()
        if not tty and now - state["last"] < 10.0:
            return
        state["last"] = now
        window = sim.window
        win = f", window {sim.window_done}/{window.size}" if window is not None else ""
        line = (
            f"t = {sim.env.now / 3600:9.1f} h, {sim.scheduler.arrived} arrived, "
            f"{len(sim.tracker.completed)} done{win}, {len(sim.mechanism.jobs)} active"
        )
        if tty:
            stream.write("\r" + line + "   ")
        else:
            stream.write(line + "\n")
        stream.flush()

    return show


def _fmt_h(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds / 3600:.2f} h"


def summary_lines(result: dict[str, Any], out_dir: Path, events: bool = False) -> list[str]:
    cfg = result["config"]
    cluster = ClusterSpec.from_dict(cfg["cluster"])
    types = " ".join(f"{t}:{c}" for t, c in zip(cluster.gpu_types, cluster.counts, strict=True))
    wl = cfg["workload"]
    source = (
        f"trace {wl['trace_path']}"
        if wl["trace_path"]
        else f"{wl['rate_per_hour']} jobs/h{' multi-GPU' if wl['multi_gpu'] else ''}"
    )
    util = result["utilization"]
    per_type = ", ".join(
        f"{t} {'n/a' if u is None else f'{u:.1%}'}" for t, u in util["per_type"].items()
    )
    solver = result["solver"]
    by_solver = ", ".join(f"{k} {v}" for k, v in solver["by_solver"].items()) or "none"
    window = result["window"]
    wdesc = f"window {window['start']}:{window['end']}" if window else "all jobs"
    total = result["window_jobs_total"]
    parts = cfg.get("partitions", 1)
    split = f", solved in {parts} partitions" if parts > 1 else ""
    if not cfg.get("job_classes", True):
        split += ", job by job (no job classes)"
    lines = [
        f"hetsim: {cfg['policy']} on {types}, {source}, seed {cfg['seed']}{split}",
        f"  ended: {result['end_reason']} at t = {result['sim_time_s'] / 3600:.1f} h after "
        f"{result['rounds']:,} rounds ({result['wall_time_s']:.1f} s wall)",
        f"  {wdesc}: {result['window_jobs_completed']}/{total if total is not None else '?'} "
        f"jobs finished; avg JCT {_fmt_h(result['avg_jct_s'])} "
        f"(p50 {_fmt_h(result['jct_p50_s'])}, p90 {_fmt_h(result['jct_p90_s'])}, "
        f"p99 {_fmt_h(result['jct_p99_s'])})",
        f"  utilisation {util['overall']:.1%} ({per_type})",
        f"  allocation solves {solver['solves']} (programs by solver: {by_solver}), "
        f"{solver['fallbacks']} fallbacks, {solver['failures']} failures, "
        f"{solver['time_s']:.1f} s in solvers",
    ]
    if result.get("trace"):
        lines.extend(trace_summary_lines(result["trace"]))
    if result["saturated"]:
        lines.append(f"  SATURATED ({result['saturation_reason']}): {result['saturation_message']}")
    partial = result.get("partial_servers") or {}
    if partial:
        sizes = dict(zip(cluster.gpu_types, cluster.gpus_per_server, strict=True))
        lines.append(
            "  note: "
            + "; ".join(
                f"{t}: {cluster.count(t)} GPUs in servers of {sizes[t]} leave a last server of {n}"
                for t, n in partial.items()
            )
        )
    wrote = [out_dir / "result.json"]
    if events:
        wrote.append(out_dir / EVENTS_FILE)
    lines.append(f"  wrote {' and '.join(str(p) for p in wrote)}")
    return lines


# -- commands ---------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hetsim")
def cli() -> None:
    """hetsim: simulate GPU cluster scheduling policies (Gavel-style rounds)."""


@cli.command()
@click.option("--policy", required=True, help="Scheduling policy (see 'hetsim policies').")
@click.option(
    "--cluster",
    "cluster_text",
    default="36:36:36",
    show_default=True,
    help="V100:P100:K80 GPU counts, or a cluster .toml file.",
)
@click.option("--rate", type=float, help="Job arrival rate, jobs per hour (generated jobs).")
@click.option("--seed", type=int, default=0, show_default=True, help="Root random seed.")
@click.option(
    "--window", "window_text", help=f"Measurement window START:END of job ids [{DEFAULT_WINDOW}]."
)
@click.option("--multi-gpu", is_flag=True, help="Generate multi-GPU jobs (1/2/4/8 GPUs).")
@click.option(
    "--gpus-per-server",
    type=int,
    default=1,
    show_default=True,
    help="GPUs per server of every type (a cluster file may set its own); a multi-GPU job "
    "must fit on one server or take whole servers.",
)
@click.option(
    "--trace", "trace_path", type=click.Path(dir_okay=False), help="A trace (Gavel TSV or real)."
)
@trace_option_flags
@click.option(
    "--throughputs",
    "throughputs_path",
    type=click.Path(dir_okay=False),
    help="Measured throughputs, in the reference's simulation_throughputs.json format "
    "[the shipped file].",
)
@click.option("--max-jobs", type=int, help="Stop generating jobs after this many.")
@click.option(
    "--round-length", type=float, default=360.0, show_default=True, help="Seconds (10-86,400)."
)
@click.option(
    "--reset-interval",
    type=float,
    default=1920.0,
    show_default=True,
    help="Least seconds between allocation resets; 0 resets at every allocation.",
)
@click.option(
    "--solvers",
    default=",".join(conic.DEFAULT_CHAIN),
    show_default=True,
    help="Solver chain, tried in order (ecos, scs, clarabel, highs).",
)
@click.option(
    "--quirks",
    type=click.Choice(["none", "gavel"]),
    default="none",
    show_default=True,
    help="'gavel': reproduce the reference's behaviour, defects included.",
)
@click.option("--no-tie-break", is_flag=True, help="Take the solver's own optimal point.")
@click.option(
    "--no-job-classes",
    is_flag=True,
    help="Pose every max-min allocation job by job (from 512 active jobs, classes of "
    "interchangeable jobs give the same allocation faster).",
)
@click.option(
    "--ftf-isolated",
    type=click.Choice(list(FTF_ISOLATED_MODES)),
    default=FTF_DEFAULT,
    show_default=True,
    help="Finish-time fairness baseline: 'share' (an equal share of every type, the "
    "reference's current code) or 'las' (agnostic LAS's throughput and the whole time "
    "since arrival, its code of the published curves).",
)
@click.option("--type-costs", help="Per-type cost, in cluster order (e.g. 3.06:1.46:0.90).")
@click.option(
    "--partitions",
    default="1",
    show_default=True,
    metavar="K",
    help="POP: solve the allocation as K sub-problems, the jobs and every type's GPUs "
    "split K ways (1: the exact solve).",
)
@click.option("--timeout", type=float, help="Wall-clock budget in seconds (last resort).")
@click.option("--no-saturation", is_flag=True, help="Disable the saturation monitor.")
@click.option("--saturation-window", type=int, default=100, show_default=True)
@click.option("--saturation-min-rate", type=float, default=0.1, show_default=True)
@click.option("--saturation-min-util", type=float, default=0.99, show_default=True)
@click.option(
    "--saturation-overload-arrivals",
    type=int,
    default=SaturationConfig.overload_arrivals,
    show_default=True,
    help="Longest horizon, in arrivals, over which growing waiting work means overload.",
)
@click.option(
    "--saturation-overload-fraction",
    type=float,
    default=SaturationConfig.overload_backlog_fraction,
    show_default=True,
    help="Overload: the waiting work grew by this fraction of the cluster's GPU time "
    "over that horizon (more over shorter ones).",
)
@click.option(
    "--saturation-drain-limit",
    type=float,
    default=SaturationConfig.drain_limit,
    show_default=True,
    help="Held up: end a run whose window is still unfinished after it lasted this many "
    "times as long as the window took to arrive, the GPUs full since (0: off).",
)
@click.option("--stop-at", type=float, help="End at this simulated hour and write DIR/state.json.")
@click.option("--events", is_flag=True, help="Also write DIR/events.jsonl.")
@click.option(
    "--telemetry",
    "telemetry_format",
    type=click.Choice(telemetry_file.FORMATS),
    default="parquet",
    show_default=True,
    help="Per-round telemetry: DIR/telemetry.parquet, DIR/telemetry.csv, or none.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(),
    help="Directory to write: new, empty, or an earlier run's (with --force).",
)
@click.option("--force", is_flag=True, help="Replace the earlier run in DIR.")
@click.option("--quiet", is_flag=True, help="No progress line and no summary.")
def run(**opts: Any) -> None:
    """Simulate one configuration and write DIR/result.json."""
    config = build_config(opts)
    throughputs = load_throughputs(config.workload.throughputs_path)
    jobs = _trace_jobs(config, throughputs)
    quiet = bool(opts["quiet"])
    out_dir = Path(opts["out_dir"])
    check_target(out_dir, "--out", force=bool(opts["force"]))
    progress = None if quiet else _progress_printer(sys.stderr)
    with StagedDir(out_dir, "--out") as staged:
        events_fh = (staged.path / EVENTS_FILE).open("w") if opts["events"] else None
        try:
            configure_logging(events_fh)
            telemetry = opts["telemetry_format"]
            sim = Simulation(
                config,
                throughputs=throughputs,
                jobs=jobs,
                progress=progress,
                telemetry=telemetry != "none",
            )
            outcome = sim.run()
        finally:
            if events_fh is not None:
                events_fh.close()
            configure_logging(None)
        if progress is not None and sys.stderr.isatty():
            sys.stderr.write("\n")
        result = build_result(outcome)
        write_jobs(staged.path, outcome.completions, outcome.failed, config.window)
        if sim.telemetry is not None:
            columns = sim.telemetry.columns(outcome.saturation, outcome.completions)
            telemetry_file.write_telemetry(staged.path, columns, telemetry)
        outcome.completions.close()
        (staged.path / "result.json").write_text(dumps(result), encoding="utf-8")
        if outcome.state is not None:
            (staged.path / STATE_FILE).write_text(dumps(outcome.state), encoding="utf-8")
        staged.commit()
    if not quiet:
        for line in summary_lines(result, out_dir, events=bool(opts["events"])):
            click.echo(line)
        if outcome.state is not None:
            click.echo(f"  wrote {out_dir / STATE_FILE} (the state at t = {opts['stop_at']} h)")


def _trace_jobs(config: SimConfig, throughputs: ThroughputTable) -> Iterator[Job] | None:
    """A Gavel TSV trace's jobs, every line checked before the run (so that a bad line,
    or a window reaching past the trace's last job, is refused instead of reported as
    jobs that never finished), then streamed into it."""
    wl = config.workload
    if wl.trace_path is None or wl.real_trace:
        return None  # a real trace is read (and its window checked) by workloads.traces
    scan = scan_trace(wl.trace_path, throughputs, config.cluster.gpu_types, limit=wl.max_jobs)
    if config.partitions > 1:
        checked_partitions(
            config.partitions,
            config.cluster,
            [config.policy],
            quirks=config.quirks == "gavel",
            largest_job=scan.largest_scale_factor,
        )
    window = config.window
    if window is not None and window.end > scan.jobs:
        raise InputError(
            f"{window.start}:{window.end} reaches beyond the workload: the trace has "
            f"{scan.jobs} jobs (ids 0-{scan.jobs - 1})",
            source="--window",
            field="window",
        )
    return load_workload(config, throughputs, checked=True)


def build_config(opts: dict[str, Any]) -> SimConfig:
    """Validates the ``run`` options into a :class:`SimConfig` (InputError on bad input).

    Each option is checked against its bound (hetsim.limits) and named in the error,
    so the configuration's own checks never have to speak for an option.
    """
    policy = opts["policy"]
    if not registry.known(policy):
        raise InputError(
            f"unknown policy '{policy}' (known: {', '.join(registry.names())})",
            source="--policy",
            field="policy",
        )
    gps = opts["gpus_per_server"]
    cluster = parse_cluster(opts["cluster_text"], gpus_per_server=gps)
    trace_path = opts["trace_path"]
    rate = opts["rate"]
    if trace_path is None and rate is None:
        raise InputError("give --rate (generated jobs) or --trace FILE", field="rate")
    if trace_path is not None and rate is not None:
        raise InputError("give either --rate or --trace, not both", field="rate")
    if rate is not None:
        limits.RATE.check_option("--rate", rate)
    if trace_path is not None and not Path(trace_path).is_file():
        raise InputError("no such file", source=trace_path, field="trace")
    if trace_path is not None and opts["multi_gpu"]:
        raise InputError(
            "applies to generated jobs only; a trace gives each job's GPU count",
            source="--multi-gpu",
            field="multi-gpu",
        )
    if opts["multi_gpu"] and registry.get(policy).single_gpu_only:
        raise InputError(
            f"policy '{policy}' supports single-GPU jobs only",
            source="--multi-gpu",
            field="multi-gpu",
        )
    max_jobs = opts["max_jobs"]
    if max_jobs is not None:
        limits.JOBS.check_option("--max-jobs", max_jobs)
    window_text = opts["window_text"]
    if window_text is None and trace_path is None and max_jobs is None:
        window_text = DEFAULT_WINDOW
    window = parse_window(window_text) if window_text is not None else None
    if window is not None and max_jobs is not None and window.end > max_jobs:
        raise InputError(
            f"{window.start}:{window.end} reaches beyond the workload: --max-jobs {max_jobs} "
            f"makes jobs 0-{max_jobs - 1}",
            source="--window",
            field="window",
        )
    try:
        solvers = conic.validate_chain([s for s in opts["solvers"].split(",") if s])
    except ValueError as exc:
        raise InputError(str(exc), source="--solvers", field="solvers") from None
    limits.SEED.check_option("--seed", opts["seed"])
    limits.ROUND_S.check_option("--round-length", opts["round_length"])
    limits.RESET_INTERVAL_S.check_option("--reset-interval", opts["reset_interval"])
    if opts["timeout"] is not None:
        limits.TIMEOUT_S.check_option("--timeout", opts["timeout"])
    limits.SATURATION_WINDOW.check_option("--saturation-window", opts["saturation_window"])
    limits.SATURATION_MIN_RATE.check_option("--saturation-min-rate", opts["saturation_min_rate"])
    limits.SATURATION_MIN_UTIL.check_option("--saturation-min-util", opts["saturation_min_util"])
    limits.SATURATION_DRAIN_LIMIT.check_option(
        "--saturation-drain-limit", opts["saturation_drain_limit"]
    )
    if 0 < opts["saturation_drain_limit"] < 1:
        raise option_error(
            "--saturation-drain-limit",
            f"{opts['saturation_drain_limit']:g} is below 1 (the window's own arrival "
            "time); give 0 to turn the rule off",
        )
    try:
        saturation = SaturationConfig(
            enabled=not opts["no_saturation"],
            window_completions=opts["saturation_window"],
            min_completion_rate_per_h=opts["saturation_min_rate"],
            min_utilization=opts["saturation_min_util"],
            overload_arrivals=opts["saturation_overload_arrivals"],
            overload_min_arrivals=min(
                SaturationConfig.overload_min_arrivals, opts["saturation_overload_arrivals"]
            ),
            overload_backlog_fraction=opts["saturation_overload_fraction"],
            drain_limit=opts["saturation_drain_limit"],
        )
    except ValueError as exc:
        raise InputError(str(exc), source="--saturation-*", field="saturation") from None
    type_costs = _type_costs(opts["type_costs"], cluster)
    misfit = ftf_isolated_misfit(opts["ftf_isolated"], [policy], "the run")
    if misfit is not None:
        raise InputError(misfit, source="--ftf-isolated", field="ftf-isolated")
    partitions = checked_partitions(
        opts["partitions"],
        cluster,
        [policy],
        quirks=opts["quirks"] == "gavel",
        largest_job=MULTI_GPU_MAX if opts["multi_gpu"] else 1,
    )
    stop_at = opts.get("stop_at")
    if stop_at is not None and not (math.isfinite(stop_at) and stop_at > 0):
        raise InputError(f"must be > 0 hours, not {stop_at}", source="--stop-at", field="stop-at")
    trace_format, trace_options = trace_workload(opts, trace_path, opts["seed"])
    try:
        config = _sim_config(opts, policy, cluster, window, solvers, saturation, type_costs)
        return replace(
            config,
            workload=replace(
                config.workload, trace_format=trace_format, trace_options=trace_options
            ),
            partitions=partitions,
        )
    except ValueError as exc:  # a check above should have named the option first
        raise InputError(str(exc), source="hetsim run") from None


def checked_partitions(
    value: object,
    cluster: ClusterSpec,
    policy_names: list[str],
    *,
    quirks: bool,
    largest_job: int = 1,
) -> int:
    """``--partitions`` (text, or an int from Python) as the number of parts; the
    InputError naming the option when it is not an integer the cluster, the policies,
    the mode and the largest job (GPUs) allow."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    for name in policy_names:
        spec = registry.get(name)
        refused = partition.refusal(value, cluster.counts, spec, quirks, largest_job)
        if refused is not None:
            raise option_error("--partitions", refused.message)
    assert isinstance(value, int)  # refusal() accepts integers only
    return value


def _type_costs(text: str | None, cluster: ClusterSpec) -> tuple[float, ...] | None:
    """``--type-costs A:B:C``: one cost per GPU type of the cluster, each within bounds."""
    if not text:
        return None
    try:
        costs = tuple(float(v) for v in text.split(":"))
    except ValueError:
        raise InputError(
            f"'{text}' is not a list of numbers A:B:C", source="--type-costs", field="type-costs"
        ) from None
    if len(costs) != cluster.num_types:
        raise InputError(
            f"'{text}' gives {len(costs)} costs; the cluster has {cluster.num_types} GPU types "
            f"({', '.join(cluster.gpu_types)})",
            source="--type-costs",
            field="type-costs",
        )
    for cost in costs:
        limits.TYPE_COST.check_option("--type-costs", cost)
    return costs


def _sim_config(
    opts: dict[str, Any],
    policy: str,
    cluster: ClusterSpec,
    window: WindowConfig | None,
    solvers: tuple[str, ...],
    saturation: SaturationConfig,
    type_costs: tuple[float, ...] | None,
) -> SimConfig:
    return SimConfig(
        policy=policy,
        cluster=cluster,
        workload=WorkloadConfig(
            rate_per_hour=opts["rate"],
            multi_gpu=bool(opts["multi_gpu"]),
            trace_path=opts["trace_path"],
            throughputs_path=opts["throughputs_path"],
            max_jobs=opts["max_jobs"],
        ),
        window=window,
        seed=opts["seed"],
        round_s=opts["round_length"],
        reset_interval_s=opts["reset_interval"],
        solvers=solvers,
        saturation=saturation,
        timeout_s=opts["timeout"],
        quirks=opts["quirks"],
        tie_break=not opts["no_tie_break"],
        job_classes=not opts["no_job_classes"],
        type_costs=type_costs,
        ftf_isolated=opts["ftf_isolated"],
        stop_at_s=None if opts.get("stop_at") is None else opts["stop_at"] * 3600.0,
    )


@cli.group(invoke_without_command=True)
@click.option("--rate", type=float, help="Job arrival rate, jobs per hour.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--jobs", "num_jobs", type=int, help="How many jobs to write.")
@click.option("--multi-gpu", is_flag=True)
@click.option("--throughputs", "throughputs_path", type=click.Path(dir_okay=False))
@click.option("-o", "--out", "out_path", type=click.Path(dir_okay=False))
@click.pass_context
def trace(
    ctx: click.Context,
    rate: float | None,
    seed: int,
    num_jobs: int | None,
    multi_gpu: bool,
    throughputs_path: str | None,
    out_path: str | None,
) -> None:
    """Write the reference generator's jobs as a Gavel TSV trace (--rate, --jobs, -o),
    or convert a real trace ('hetsim trace convert')."""
    if ctx.invoked_subcommand is not None:
        return
    for value, flag in ((rate, "--rate"), (num_jobs, "--jobs"), (out_path, "--out")):
        if value is None:
            raise InputError("missing (needed to write generated jobs)", source=flag)
    assert rate is not None and num_jobs is not None and out_path is not None
    limits.RATE.check_option("--rate", rate)
    limits.JOBS.check_option("--jobs", num_jobs)
    limits.SEED.check_option("--seed", seed)
    check_output_file(Path(out_path), "--out")
    throughputs = load_throughputs(throughputs_path)
    config = GeneratorConfig(rate_per_hour=rate, seed=seed, multi_gpu=multi_gpu)
    try:
        count = write_trace(out_path, generate_n(config, throughputs, num_jobs))
    except OSError as exc:
        raise InputError(
            f"cannot write {out_path}: {exc.strerror or exc}", source="--out", field="out"
        ) from None
    click.echo(f"wrote {count} jobs to {out_path}")


@trace.command("convert")
@click.argument("in_path", type=click.Path(dir_okay=False))
@trace_option_flags
@click.option("--seed", type=int, default=0, show_default=True, help="Template draw seed.")
@click.option("--max-jobs", type=int, help="The first N jobs kept.")
@click.option("--throughputs", "throughputs_path", type=click.Path(dir_okay=False))
@click.option("-o", "--out", "out_path", required=True, type=click.Path(dir_okay=False))
def trace_convert(**opts: Any) -> None:
    """Convert a real trace to the Gavel 10-field TSV (the same jobs 'hetsim run' replays)."""
    lines = convert_trace(
        opts,
        opts["in_path"],
        opts["out_path"],
        opts["throughputs_path"],
        opts["seed"],
        opts["max_jobs"],
    )
    for line in lines:
        click.echo(line)


@cli.command()
@click.argument("path", type=click.Path())
@click.option("--job", "job_ids", type=int, multiple=True, help="Show this job's timeline.")
@click.option("--at", "at_hours", type=float, help="Show which jobs held GPUs at this hour.")
@click.option("--verify", is_flag=True, help="Re-simulate and compare the events (exit 1: differ).")
def replay(path: str, job_ids: tuple[int, ...], at_hours: float | None, verify: bool) -> None:
    """Replay DIR/events.jsonl: job timelines, the cluster at a time, a cross-check."""
    if verify:
        _verify(Path(path))
        return
    if at_hours is not None:
        limits.REPLAY_AT_H.check_option("--at", at_hours)
    rep = replay_mod.load(path)
    for job_id in job_ids:
        story = rep.jobs.get(job_id)
        if story is None:
            raise InputError(f"job {job_id} is not in the trace", source=rep.source, field="job")
        for line in replay_mod.job_lines(story):
            click.echo(line)
    if at_hours is not None:
        holding = rep.holding_at(at_hours * 3600.0)
        click.echo(f"at {at_hours:.2f} h: {len(holding)} jobs hold GPUs")
        for job_id, stint in holding.items():
            gpus = ",".join(str(g) for g in stint.gpus)
            click.echo(f"  job {job_id:6d}  {stint.gpu_type:6s} GPUs {gpus}")
    if job_ids or at_hours is not None:
        return
    finished = sum(1 for j in rep.jobs.values() if j.finish is not None)
    click.echo(
        f"{rep.source}: {len(rep.events):,} events, {len(rep.jobs):,} jobs seen, "
        f"{finished:,} completed, ended: {rep.end_reason}"
    )
    result_path = Path(rep.source).with_name("result.json")
    if result_path.is_file():
        result = replay_mod.load_result(result_path)
        window = result.get("window") or {}
        avg, count = rep.window_average(window.get("start"), window.get("end"))
        theirs = result.get("avg_jct_s")
        same = (avg is None and theirs is None) or (
            avg is not None and theirs is not None and abs(avg - theirs) <= 1e-6 * max(1.0, theirs)
        )
        click.echo(
            f"window average from the trace: {_fmt_h(avg)} over {count} jobs; "
            f"result.json: {_fmt_h(theirs)} -> {'consistent' if same else 'MISMATCH'}"
        )
        if not same:
            raise click.ClickException("the trace and result.json disagree")


@cli.command("diff")
@click.argument("run_a", type=click.Path(exists=True, file_okay=False))
@click.argument("run_b", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False), help="Write plots here.")
@click.option("--top", type=int, default=10, show_default=True, help="Jobs listed per extreme.")
def diff_command(run_a: str, run_b: str, as_json: bool, out_dir: str | None, top: int) -> None:
    """Compare two runs on the same jobs (RUN_B may be a reference run folder)."""
    from hetsim import diff, diff_plots

    a, b = diff.load_run(run_a), diff.load_run(run_b)
    try:
        report = diff.compare(a, b, top=top)
    except ValueError as exc:
        raise InputError(str(exc), source=run_b) from None
    written = []
    if out_dir is not None:
        written = diff_plots.write_outputs(Path(out_dir), report, a, b, diff.ratio_table(a, b))
    if as_json:
        click.echo(dumps(report), nl=False)
        return
    for line in diff.report_lines(report):
        click.echo(line)
    for path in written:
        click.echo(f"wrote {path}")


@cli.group()
def export() -> None:
    """Write a run in another tool's format."""


@export.command("perfetto")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--out", "out_path", required=True, type=click.Path(dir_okay=False))
def export_perfetto_command(run_dir: str, out_path: str) -> None:
    """DIR/events.jsonl as a Perfetto trace (open it at ui.perfetto.dev)."""
    from hetsim.export_perfetto import export as export_trace

    started = time.perf_counter()
    stats = export_trace(run_dir, out_path)
    click.echo(
        f"wrote {out_path}: {stats.bytes / 1e6:.1f} MB, {stats.tracks:,} tracks, "
        f"{stats.slices:,} slices, {stats.packets:,} packets "
        f"({time.perf_counter() - started:.1f} s)"
    )


def _verify(run_dir: Path) -> None:
    from hetsim.verify import verify

    outcome = verify(run_dir)
    for note in outcome.notes:
        click.echo(f"note: {note}", err=True)
    events = f"{outcome.events_compared:,} events"
    if outcome.difference is not None:
        click.echo(
            f"DIFFERENT after {events} ({outcome.wall_s:.1f} s): {outcome.difference.describe()}"
        )
        sys.exit(EXIT_RUNS_FAILED)
    upto = " up to the recorded wall-clock timeout" if outcome.stopped_at_timeout else ""
    click.echo(
        f"identical: {events} re-simulated{upto} match {run_dir / 'events.jsonl'} "
        f"({outcome.wall_s:.1f} s)"
    )


def resolve_scenario(target: str) -> Path:
    path = scenarios.path_of(target)
    if path is not None:
        return path
    candidate = Path(target)
    if candidate.suffix == ".toml" or candidate.exists():
        if not candidate.is_file():
            raise InputError("no such file", source=target, field="scenario")
        return candidate
    raise InputError(
        f"unknown scenario '{target}' (bundled: {', '.join(scenarios.names())}; "
        "or give the path of a .toml file)",
        source="hetsim sweep",
        field="scenario",
    )


def _int_list(text: str | None, flag: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values or any(v < 0 for v in values) or len(set(values)) != len(values):
        raise InputError(
            f"'{text}' is not a list of distinct integers >= 0 (e.g. 0,1,2)",
            source=flag,
            field=flag[2:],
        )
    for value in values:
        limits.SEED.check_option(flag, value)
    return values


class _SweepDisplay:
    """The sweep's progress: a tqdm bar on a terminal, one line per finished run otherwise."""

    def __init__(self, stream: TextIO, quiet: bool) -> None:
        self.stream = stream
        self.quiet = quiet
        self.bar: Any = None
        self.shown = 0

    def __call__(self, state: SweepState) -> None:
        if self.quiet:
            return
        eta = state.eta_s
        extra = (
            f"running {state.running}, saturated {state.saturated}, "
            f"timeout {state.timeouts}, errors {state.errors}"
        )
        if self.stream.isatty():
            if self.bar is None:
                # a terminal that reports no width (some ptys) would get an empty bar
                width = shutil.get_terminal_size((100, 24)).columns or 100
                self.bar = tqdm(
                    total=state.total,
                    initial=state.reused,
                    unit="run",
                    file=self.stream,
                    ncols=min(width, 160),
                )
            self.bar.n = state.finished
            self.bar.set_postfix_str(extra, refresh=False)
            self.bar.refresh()
            return
        if state.done == self.shown:
            return
        self.shown = state.done
        left = "" if eta is None else f", ETA {eta / 60:.0f} min"
        last = f" | {state.last}" if state.last else ""
        self.stream.write(
            f"[{state.finished}/{state.total}] {extra}"
            f"{f', {state.reused} reused' if state.reused else ''}{left}{last}\n"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@cli.command()
@click.argument("target")
@click.option("--seeds", help="Seeds to run, e.g. 0 or 0,1,2 (default: the scenario's).")
@click.option("--quick", is_flag=True, help="The scenario's [quick] variant (< 1 min).")
@click.option("--jobs", type=int, help="Local worker processes [default: one per core].")
@click.option("--dask", "dask_address", help="'local' (a LocalCluster) or tcp://host:port.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="[sweeps/NAME]")
@click.option("--budget", type=float, help="Wall-clock seconds per run (default: scenario's).")
@click.option("--quirks", type=click.Choice(["none", "gavel"]), help="Override the scenario's.")
@click.option(
    "--partitions",
    metavar="K",
    help="POP: solve allocations in K parts (overrides the scenario's; needs quirks 'none').",
)
@click.option("--quiet", is_flag=True, help="No progress and no table.")
def sweep(
    target: str,
    seeds: str | None,
    quick: bool,
    jobs: int | None,
    dask_address: str | None,
    out_dir: str | None,
    budget: float | None,
    quirks: str | None,
    partitions: str | None,
    quiet: bool,
) -> None:
    """Run a scenario (fig9, fig10, fig11 or FILE.toml): every policy x rate x seed.

    Results go to DIR/runs/ as each run finishes; running the same command again
    skips finished runs. DIR gets results.csv, comparison.csv and plots/.
    """
    spec = load_sweep(resolve_scenario(target), quick=quick)
    if budget is not None:
        limits.TIMEOUT_S.check_option("--budget", budget)
    if jobs is not None:
        limits.WORKERS.check_option("--jobs", jobs)
    spec = with_overrides(spec, seeds=_int_list(seeds, "--seeds"), budget_s=budget, quirks=quirks)
    if partitions is not None:
        parts = checked_partitions(
            partitions,
            spec.cluster,
            list(spec.policies),
            quirks=spec.quirks == "gavel",
            largest_job=MULTI_GPU_MAX if spec.multi_gpu else 1,
        )
        spec = with_overrides(spec, partitions=parts)
    refused = spec.partitions_refusal()
    if refused is not None:  # the scenario's partitions with an overriding --quirks
        raise option_error("--quirks", refused)
    out = Path(out_dir) if out_dir else Path("sweeps") / (spec.name + ("-quick" if quick else ""))
    check_sweep_dir(out, spec)
    configure_logging(None)
    display = _SweepDisplay(sys.stderr, quiet)

    def announce(backend: Backend) -> None:
        if not quiet:
            sizes = f" x {len(spec.server_sizes)} server sizes" if spec.server_sizes else ""
            click.echo(
                f"hetsim sweep {spec.name}: {len(spec.runs())} runs "
                f"({len(spec.policies)} policies x {len(spec.rates)} rates x "
                f"{len(spec.seeds)} seeds{sizes}) on {backend.description} -> {out}",
                err=True,
            )

    try:
        outcome = run_sweep(
            spec,
            out,
            lambda: open_backend(jobs, dask_address),
            on_progress=display,
            on_backend=announce,
        )
    finally:
        display.close()
    rows = table.rows_of(outcome.records, spec.policies)
    table.write_results(out, rows)
    lines = report.write_report(out, rows, spec.to_dict())
    state = outcome.state
    if not quiet:
        for line in lines:
            click.echo(line)
        run_s, solver_s = table.time_split(rows)
        split = (
            f"; the runs' wall times sum to {run_s / 60:.1f} min, {solver_s / run_s:.0%} "
            "of it in the solvers"
            if run_s > 0
            else ""
        )
        click.echo(
            f"{state.total} runs ({state.reused} reused, {state.done} run now: "
            f"{state.saturated} saturated, {state.timeouts} over budget, {state.errors} failed) "
            f"in {outcome.wall_s / 60:.1f} min{split}; wrote {out / table.RESULTS_CSV}"
        )
    failed = [r for r in rows if r["status"] == "error"]
    if failed:
        click.echo(
            f"hetsim: {len(failed)} run(s) failed (their errors are in the error column of "
            f"{out / table.RESULTS_CSV}); run the same command again to retry them",
            err=True,
        )
        sys.exit(EXIT_RUNS_FAILED)


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option(
    "--rebuild",
    is_flag=True,
    help="First rebuild results.csv from DIR/runs/ (after an interrupted sweep).",
)
def plot(directory: str, rebuild: bool) -> None:
    """Redraw a sweep's plots and comparison from DIR/results.csv (no re-running)."""
    out = Path(directory)
    if rebuild:
        records = load_records(out)
        if not records:
            raise InputError("no run records to rebuild from", source=str(out / "runs"))
        spec = report.sweep_description(out, table.rows_of(records))
        table.write_results(out, table.rows_of(records, spec.get("policies") or ()))
    for line in report.redraw(out):
        click.echo(line)


@cli.group()
def throughputs() -> None:
    """Throughput files: check one against a cluster and a trace."""


@throughputs.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--cluster", "cluster_text", help="V100:P100:K80 counts or a cluster .toml.")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False), help="A trace file.")
@click.option("--trace-format", type=click.Choice(FORMAT_NAMES), help="[detected]")
@click.option("--time-unit", type=click.Choice(["s", "ms"]), default="s", show_default=True)
@click.option("--reference-type", default="v100", show_default=True)
def throughputs_check(**opts: Any) -> None:
    """Validate a throughput file; list what a cluster and a trace need that it lacks
    (exit code 1 when something is lacking)."""
    lines, lacking = run_throughput_check(opts)
    for line in lines:
        click.echo(line)
    if lacking:
        sys.exit(EXIT_RUNS_FAILED)


@cli.command()
def policies() -> None:
    """List the scheduling policies and the installed policy plugins."""
    for line in policy_lines():
        click.echo(line)


class Terminated(BaseException):
    """SIGTERM, raised where the program is so that it unwinds as SIGINT does: every
    staging directory and temporary file is removed on the way out."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


cli.add_command(viz_commands.viz)


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the CLI and turns every input error into one line and exit 2."""
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
    try:
        cli.main(args=argv, prog_name="hetsim", standalone_mode=False)
    except InputError as exc:
        click.echo(f"hetsim: error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except click.exceptions.Abort:
        click.echo("hetsim: aborted", err=True)
        sys.exit(130)
    except Terminated:
        click.echo("hetsim: terminated", err=True)
        sys.exit(EXIT_TERMINATED)
    except click.ClickException as exc:
        click.echo(f"hetsim: error: {exc.format_message()}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except OSError as exc:
        # a file that cannot be read or written where no command checked it first
        where = f"{exc.filename}: " if exc.filename else ""
        click.echo(f"hetsim: error: {where}{exc.strerror or exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    main()
