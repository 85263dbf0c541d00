"""The command line of real traces: the trace options of ``run`` and ``trace convert``,
turning them into :class:`~workloads.traces.TraceOptions`, and the terminal summary.

Kept apart from :mod:`hetsim.cli`, which only attaches :func:`trace_option_flags` to
its commands and calls :func:`trace_workload`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hetsim.errors import InputError
from workloads import load_throughputs, write_trace
from workloads.traces import (
    CHOICES,
    FORMAT_NAMES,
    GAVEL,
    TraceJobs,
    TraceOptions,
    detect_format,
)

F = TypeVar("F", bound=Callable[..., Any])

_HELP = {
    "time_unit": "Times of a tiresias trace in seconds or milliseconds [s].",
    "gpu_rule": "A GPU count no job type has: round to one that has it, drop, refuse [round].",
    "failed": "Failed jobs: keep (for the time they ran) or drop [keep].",
    "killed": "Killed/cancelled jobs: keep (for the time they ran) or drop [keep].",
    "running": "Jobs still running at the trace's end: drop, or keep until its end [drop].",
    "cpu_only": "Jobs with no GPU: drop or refuse [drop].",
    "fractional": "Jobs on a fraction of one GPU: count as one whole GPU, or drop [whole].",
    "unmapped": "Jobs the --mapping file does not name: draw a template, or refuse [draw].",
}
_FLAG = {
    "gpu_rule": "--gpu-count-rule",
    "time_range_h": "--time-range",
    "vcs": "--vc",
    "mapping_path": "--mapping",
}


def _flag(name: str) -> str:
    return _FLAG.get(name, "--" + name.replace("_", "-"))


def trace_option_flags(func: F) -> F:
    """Adds the real-trace options to a click command (all default to 'not given')."""
    options = [
        click.option(
            "--trace-format",
            type=click.Choice(FORMAT_NAMES),
            help="The trace's format [detected from its first line].",
        ),
        click.option("--reference-type", help="GPU type trace durations are timed on [v100]."),
        *(
            click.option(_flag(name), name, type=click.Choice(choices), help=_HELP[name])
            for name, choices in CHOICES.items()
        ),
        click.option(
            "--mapping",
            "mapping_path",
            type=click.Path(dir_okay=False),
            help="CSV mapping jobs to job types (job_id or trace_model, model).",
        ),
        click.option("--time-range", "time_range", help="START:END hours after the first job."),
        click.option("--vc", "vcs", multiple=True, help="Only this virtual cluster (repeatable)."),
        click.option("--arrival-scale", type=float, help="Multiply arrival gaps (0.5: 2x load)."),
        click.option("--target-rate", type=float, help="Replay at this many jobs/hour."),
        click.option("--skip-bad-rows", is_flag=True, help="Skip and count bad rows."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


_NAMES = ("reference_type", *CHOICES, "mapping_path", "arrival_scale", "target_rate")


def _time_range(text: str) -> tuple[float, float]:
    try:
        start, end = (float(v) for v in text.split(":"))
    except ValueError:
        raise InputError(
            f"'{text}' is not START:END hours", source="--time-range", field="time-range"
        ) from None
    return start, end


def options_from(opts: dict[str, Any], max_jobs: int | None) -> tuple[dict[str, Any], bool]:
    """The TraceOptions fields the user gave, and whether any trace option was given."""
    given: dict[str, Any] = {n: opts[n] for n in _NAMES if opts.get(n) is not None}
    if opts.get("time_range"):
        given["time_range_h"] = _time_range(opts["time_range"])
    if opts.get("vcs"):
        given["vcs"] = tuple(opts["vcs"])
    if opts.get("skip_bad_rows"):
        given["skip_bad_rows"] = True
    any_given = bool(given)
    if max_jobs is not None:
        given["max_jobs"] = max_jobs
    return given, any_given


def trace_workload(
    opts: dict[str, Any], trace_path: str | None, seed: int
) -> tuple[str | None, TraceOptions | None]:
    """The run's trace format and options (None, None for the Gavel TSV or no trace)."""
    given, any_given = options_from(opts, opts.get("max_jobs"))
    fmt = opts.get("trace_format")
    if trace_path is None:
        if fmt is not None or any_given:
            raise InputError("trace options need --trace FILE", field="trace")
        return None, None
    fmt = fmt or detect_format(trace_path)
    if fmt == GAVEL:
        if any_given:
            raise InputError(
                "the Gavel TSV has its jobs fully given; trace options apply to real-trace "
                "formats (--trace-format)",
                source=trace_path,
                field="trace_format",
            )
        return None, None
    return fmt, _checked(given, seed)


def _checked(given: dict[str, Any], seed: int) -> TraceOptions:
    options = TraceOptions(**{**given, "seed": seed})
    try:
        return options.check()
    except InputError as exc:
        name = exc.field or ""
        raise InputError(exc.message, source=_flag(name), field=name) from None


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """What reading the trace did, for the terminal."""

    def counts(d: dict[str, int]) -> str:
        return ", ".join(f"{k} {v:,}" for k, v in d.items()) or "none"

    rate = summary["replay_rate_per_h"]
    lines = [
        f"  trace {summary['format']}: {summary['rows']:,} rows -> {summary['jobs']:,} jobs "
        f"over {summary['span_h']:.1f} h, replayed at "
        f"{'n/a' if rate is None else f'{rate:.2f}'} jobs/h (arrival scale "
        f"{summary['arrival_scale']:.4g})",
        f"    dropped: {counts(summary['dropped'])}; changed: {counts(summary['changed'])}",
    ]
    if summary["gpu_counts_rounded"]:
        lines.append(f"    GPU counts rounded: {counts(summary['gpu_counts_rounded'])}")
    lines.append(
        f"    kept: {counts(summary['kept'])}; job types: {counts(summary['models'])}; "
        f"ignored: {counts(summary['ignored'])}"
    )
    if summary["bad_rows"]:
        lines.append(
            f"    skipped {summary['bad_rows']:,} bad rows, first: {summary['first_bad_row']}"
        )
    if summary["stopped"]:
        lines.append(f"    stopped reading at {summary['stopped']}")
    return lines


def convert(
    opts: dict[str, Any],
    in_path: str,
    out_path: str,
    throughputs_path: str | None,
    seed: int,
    max_jobs: int | None,
) -> list[str]:
    """``hetsim trace convert``: a real trace -> Gavel 10-field TSV; the lines to print."""
    if not Path(in_path).is_file():
        raise InputError("no such file", source=in_path, field="trace")
    if seed < 0:
        raise InputError("seed must be >= 0", source="--seed", field="seed")
    if max_jobs is not None and max_jobs < 1:
        raise InputError("must be >= 1", source="--max-jobs", field="max-jobs")
    fmt = opts.get("trace_format") or detect_format(in_path)
    if fmt == GAVEL:
        raise InputError("is already a Gavel TSV trace", source=in_path, field="trace_format")
    given, _ = options_from(opts, max_jobs)
    options = _checked(given, seed)
    table = load_throughputs(throughputs_path)
    jobs = TraceJobs(in_path, fmt, options, table)
    count = write_trace(out_path, jobs)
    return [*summary_lines(jobs.summary()), f"wrote {count:,} jobs to {out_path}"]
