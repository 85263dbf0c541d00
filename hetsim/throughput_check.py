"""``hetsim throughputs check``: validate a throughput file and say what a cluster and a
trace would need from it that it lacks.

The file is parsed with the simulator's own reader (a malformed file is the usual
one-line error). The report lists its GPU types and entries; with a cluster, the
generator's job types at each GPU count they are drawn at (1, 2, 4, 8 for
distributed ones) that lack an entry on one of the cluster's types or the reference
type, and the job types no cluster type can run; with a trace, the GPU counts and
job types its jobs name that the file cannot serve on that cluster.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cluster import ClusterSpec, parse_cluster
from hetsim.errors import InputError
from workloads import TEMPLATES, ThroughputTable, load_throughputs, read_trace
from workloads.throughputs import key_text
from workloads.traces import GAVEL, TraceOptions, detect_format, get_format
from workloads.traces.catalog import Catalog

__all__ = ["CheckReport", "check"]

GENERATOR_COUNTS = (1, 2, 4, 8)


@dataclass
class CheckReport:
    """What the check found: lines to print and whether anything needed is missing."""

    lines: list[str] = field(default_factory=list)
    lacking: list[str] = field(default_factory=list)


def _file_lines(table: ThroughputTable) -> list[str]:
    lines = [
        f"{table.source}: {len(table.gpu_types)} GPU types, {len(table.keys())} entries on all"
    ]
    every = set(table.keys())
    for gpu_type in table.gpu_types:
        keys = table.type_keys(gpu_type)
        zero = sum(1 for m, n in keys if table.isolated(m, n, (gpu_type,))[0] == 0)
        counts = sorted({n for _, n in keys})
        only = [key_text(*k) for k in keys if k not in every]
        line = (
            f"  {gpu_type}: {len(keys)} entries (GPU counts {', '.join(map(str, counts))}), "
            f"{zero} cannot run (0 steps/s), {table.pair_count(gpu_type)} pair entries"
        )
        if only:
            line += f"; only on this type: {', '.join(only[:5])}{' ...' if len(only) > 5 else ''}"
        lines.append(line)
    return lines


def _cluster_lacks(
    table: ThroughputTable, cluster: ClusterSpec, reference: str
) -> tuple[list[str], list[str]]:
    types = tuple(dict.fromkeys((*cluster.gpu_types, reference)))
    lacking = [f"GPU type {t!r}" for t in types if t not in table.gpu_types]
    if lacking:
        return [], lacking
    for template in TEMPLATES:
        counts = GENERATOR_COUNTS if template.distributed else (1,)
        for count in counts:
            missing = [t for t in types if not table.has(template.model, count, (t,))]
            if missing:
                lacking.append(f"{key_text(template.model, count)} on {', '.join(missing)}")
    unrunnable = [
        key_text(m, n)
        for m, n in table.keys()  # noqa: SIM118 (a method, not a dict)
        if table.has(m, n, cluster.gpu_types)
        and not (table.isolated(m, n, cluster.gpu_types) > 0).any()
    ]
    notes = []
    if unrunnable:
        notes.append(f"  no type of the cluster runs: {', '.join(unrunnable)}")
    return notes, lacking


def _trace_needs(
    table: ThroughputTable,
    cluster: ClusterSpec,
    trace: str,
    trace_format: str,
    options: TraceOptions,
) -> tuple[list[str], list[str]]:
    """What a trace's jobs need: (model or None, GPU count) -> jobs."""
    needs: Counter[tuple[str | None, int]] = Counter()
    if trace_format == GAVEL:
        for job in read_trace(trace):
            needs[(job.model, job.scale_factor)] += 1
    else:
        reader = get_format(trace_format)
        for row in reader.rows(trace):
            rec = reader.parse(row, options.time_unit)
            if rec.num_gpus > 0:
                needs[(rec.job_type, rec.num_gpus)] += 1
    catalog = Catalog(table, cluster.gpu_types, options.reference_type)
    lacking: list[str] = []
    for (model, count), jobs in sorted(needs.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        if model is None:
            if count not in catalog.counts:
                lacking.append(f"{jobs:,} jobs on {count} GPUs: no job type runs at that count")
        elif not table.has(model, count, catalog.types):
            lacking.append(
                f"{jobs:,} jobs of {key_text(model, count)} on {', '.join(catalog.types)}"
            )
    counts = Counter[int]()
    for (_, count), jobs in needs.items():
        counts[count] += jobs
    summary = ", ".join(f"{c} GPUs: {n:,}" for c, n in sorted(counts.items()))
    return [f"  trace {trace} ({trace_format}): {summary}"], lacking


def check(
    table: ThroughputTable,
    cluster: ClusterSpec | None,
    trace: str | None,
    trace_format: str | None,
    options: TraceOptions,
) -> CheckReport:
    """The report of ``hetsim throughputs check``."""
    report = CheckReport(lines=_file_lines(table))
    if cluster is not None:
        desc = " ".join(f"{t}:{c}" for t, c in zip(cluster.gpu_types, cluster.counts, strict=True))
        report.lines.append(f"cluster {desc} (reference type {options.reference_type}):")
        notes, lacking = _cluster_lacks(table, cluster, options.reference_type)
        report.lines += notes
        report.lacking += [f"the generator needs {item}" for item in lacking]
        if (
            trace is not None
            and trace_format is not None
            and not any(item.startswith("GPU type") for item in lacking)
        ):
            notes, lacking = _trace_needs(table, cluster, trace, trace_format, options)
            report.lines += notes
            report.lacking += [f"the trace needs {item}" for item in lacking]
    if report.lacking:
        report.lines.append(f"lacks {len(report.lacking)} entries:")
        report.lines += [f"  {item}" for item in report.lacking]
    else:
        report.lines.append("nothing lacking" if cluster is not None else "valid")
    return report


def run_throughput_check(opts: dict[str, Any]) -> tuple[list[str], bool]:
    """The command's options -> (lines to print, whether anything is lacking)."""
    table = load_throughputs(opts["path"])
    trace = opts.get("trace_path")
    if trace is not None and opts.get("cluster_text") is None:
        raise InputError("--trace needs --cluster (what the trace runs on)", field="cluster")
    if trace is not None and not Path(trace).is_file():
        raise InputError("no such file", source=trace, field="trace")
    cluster = parse_cluster(opts["cluster_text"]) if opts.get("cluster_text") else None
    fmt = (opts.get("trace_format") or detect_format(trace)) if trace is not None else None
    options = TraceOptions(
        time_unit=opts.get("time_unit") or "s", reference_type=opts.get("reference_type") or "v100"
    ).check()
    report = check(table, cluster, trace, fmt, options)
    return report.lines, bool(report.lacking)
