"""Real trace jobs -> hetsim jobs: selection, GPU-count rule, templates, steps, arrivals.

:class:`TraceJobs` reads a trace twice, streaming both times. The first pass
checks every row (a bad row fails before anything runs, or is counted with
``skip_bad_rows``), applies the selection and the rules, and counts what it did
(:class:`TraceStats`, recorded in result.json); it also measures the trace's arrival
rate, for ``target_rate``, and its last recorded time, for still-running jobs. The
second pass, driven by the simulation's arrival process, yields the jobs one by one:
memory is one row and the per-count template lists, whatever the trace's length.
"""

from __future__ import annotations

import csv
import os
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn

from hetsim.errors import InputError
from workloads.job import Job
from workloads.templates import template_for
from workloads.throughputs import ThroughputTable
from workloads.traces.catalog import Catalog, round_count
from workloads.traces.formats import get_format
from workloads.traces.options import TraceOptions
from workloads.traces.record import TraceFormat, TraceRecord
from workloads.traces.rows import open_text

__all__ = ["TRACE_STREAM", "TraceJobs", "TraceStats"]

TRACE_STREAM = 7
"""The template draw's stream is ``random.Random(seed + 7)``."""


@dataclass
class TraceStats:
    """What reading a trace did, row by row (one pass)."""

    rows: int = 0
    bad_rows: int = 0
    first_bad_row: str | None = None
    jobs: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    changed: Counter[str] = field(default_factory=Counter)
    gpu_counts_rounded: Counter[str] = field(default_factory=Counter)
    kept: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    stopped: str | None = None
    first_submit_s: float | None = None
    last_submit_s: float | None = None

    @property
    def span_h(self) -> float:
        if self.first_submit_s is None or self.last_submit_s is None:
            return 0.0
        return (self.last_submit_s - self.first_submit_s) / 3600.0

    @property
    def native_rate_per_h(self) -> float | None:
        """Jobs/hour of the selection as the trace submitted them (None below 2 jobs)."""
        span = self.span_h
        return (self.jobs - 1) / span if self.jobs > 1 and span > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "bad_rows": self.bad_rows,
            "first_bad_row": self.first_bad_row,
            "jobs": self.jobs,
            "dropped": dict(sorted(self.dropped.items())),
            "changed": dict(sorted(self.changed.items())),
            "gpu_counts_rounded": dict(sorted(self.gpu_counts_rounded.items())),
            "kept": dict(sorted(self.kept.items())),
            "models": dict(sorted(self.models.items())),
            "ignored": dict(sorted(self.ignored.items())),
            "stopped": self.stopped,
            "first_submit_s": self.first_submit_s,
            "span_h": self.span_h,
            "native_rate_per_h": self.native_rate_per_h,
        }


@dataclass(frozen=True, slots=True)
class _Chosen:
    record: TraceRecord
    model: str | None  # None: drawn in the second pass
    gpus: int
    duration_s: float | None


def _load_mapping(path: str, catalog: Catalog) -> tuple[str, dict[str, str]]:
    """A mapping file: CSV with a ``model`` column and ``job_id`` or ``trace_model``."""
    with open_text(path, "mapping file") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        keys = [k for k in ("job_id", "trace_model") if k in header]
        if "model" not in header or len(keys) != 1:
            raise InputError(
                "header must have a 'model' column and one of 'job_id', 'trace_model'",
                source=path,
                line=1,
                field="header",
            )
        key_at, model_at = header.index(keys[0]), header.index("model")
        out: dict[str, str] = {}
        for values in reader:
            if not values or not "".join(values).strip():
                continue
            line = reader.line_num
            if len(values) != len(header):
                raise InputError(
                    f"expected {len(header)} fields", source=path, line=line, field="fields"
                )
            model = values[model_at].strip()
            if not catalog.knows(model):
                raise InputError(
                    f"{model!r} is not a job type of throughput file {catalog.table.source} "
                    f"(on {', '.join(catalog.types)})",
                    source=path,
                    line=line,
                    field="model",
                )
            out[values[key_at].strip()] = model
    return keys[0], out


class TraceJobs:
    """The jobs of a trace file under ``options``; iterate (once or more) for the jobs.

    Construction runs the first pass (InputError on the first bad row unless
    ``skip_bad_rows``), so ``stats`` is complete before any job is yielded.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        trace_format: str,
        options: TraceOptions,
        table: ThroughputTable,
        gpu_types: tuple[str, ...] | None = None,
    ) -> None:
        self.source = os.fspath(path)
        self._last_time: float | None = None
        self.format: TraceFormat = get_format(trace_format)
        self.options = options.check()
        if options.time_unit not in self.format.time_units:
            raise InputError(
                f"format {trace_format} has times in {', '.join(self.format.time_units)} only",
                source="--time-unit",
                field="time_unit",
            )
        if options.vcs is not None and not self.format.has_vc:
            raise InputError(
                f"format {trace_format} has no virtual clusters to filter",
                source="--vc",
                field="vcs",
            )
        self.catalog = Catalog(table, gpu_types, options.reference_type)
        self.mapping: tuple[str, dict[str, str]] | None = None
        if options.mapping_path is not None:
            self.mapping = _load_mapping(options.mapping_path, self.catalog)
        self.trace_end_s: float | None = None
        if options.running == "keep":
            # kept running jobs run until the trace's last recorded time: find it first
            for _ in self._records(TraceStats()):
                pass
            self.trace_end_s = self._last_time
        self.stats = TraceStats()
        for _ in self._select(self.stats, trace_end=self.trace_end_s):
            pass
        native = self.stats.native_rate_per_h
        self.arrival_scale = options.arrival_scale or 1.0
        if options.target_rate is not None:
            if native is None:
                raise InputError(
                    "target_rate needs at least two jobs at distinct times in the selection",
                    source=self.source,
                    field="target_rate",
                )
            self.arrival_scale = native / options.target_rate
        if self.stats.jobs == 0:
            raise InputError(
                "no job of the trace is left after the selection and rules "
                f"(dropped: {dict(self.stats.dropped) or 'none'})",
                source=self.source,
            )

    def summary(self) -> dict[str, Any]:
        """Stats, format, options and the arrival scale, as recorded in result.json."""
        native = self.stats.native_rate_per_h
        return {
            "path": self.source,
            "format": self.format.name,
            **self.stats.to_dict(),
            "arrival_scale": self.arrival_scale,
            "replay_rate_per_h": None if native is None else native / self.arrival_scale,
        }

    def __iter__(self) -> Iterator[Job]:
        rng = random.Random(self.options.seed + TRACE_STREAM)
        origin: float | None = None
        catalog = self.catalog
        chosen = self._select(TraceStats(), trace_end=self.trace_end_s)
        for job_id, pick in enumerate(chosen):
            rec = pick.record
            model = pick.model or rng.choice(catalog.by_count[pick.gpus])
            if origin is None:
                origin = rec.submit_s
            if rec.total_steps is not None:
                steps = rec.total_steps
            else:
                assert pick.duration_s is not None
                steps = pick.duration_s * catalog.rate(model, pick.gpus)
            template = template_for(model)
            yield Job(
                job_id=job_id,
                model=model,
                scale_factor=pick.gpus,
                total_steps=steps,
                arrival_time=(rec.submit_s - origin) * self.arrival_scale,
                duration_s=pick.duration_s,
                command=template.command if template else "",
                working_directory=template.working_directory if template else "",
                num_steps_arg=template.num_steps_arg if template else "",
                needs_data_dir=template.needs_data_dir if template else True,
            )

    # -- the selection, shared by both passes ------------------------------------------

    def _records(self, stats: TraceStats) -> Iterator[TraceRecord]:
        """Parsed rows in submit order; bad rows raise or are counted."""
        previous: float | None = None
        for row in self.format.rows(self.source):
            stats.rows += 1
            try:
                rec = self.format.parse(row, self.options.time_unit)
                if previous is not None and rec.submit_s < previous:
                    row.fail(
                        "submit time",
                        f"the trace must be sorted by submit time ({rec.submit_s:g} after "
                        f"{previous:g})",
                    )
            except InputError as exc:
                if not self.options.skip_bad_rows:
                    raise
                stats.bad_rows += 1
                stats.first_bad_row = stats.first_bad_row or str(exc)
                continue
            previous = rec.submit_s
            end = max(rec.submit_s, rec.last_time_s or rec.submit_s)
            self._last_time = end if self._last_time is None else max(self._last_time, end)
            yield rec

    def _select(self, stats: TraceStats, trace_end: float | None) -> Iterator[_Chosen]:
        opts = self.options
        origin: float | None = None
        for rec in self._records(stats):
            if origin is None:
                origin = rec.submit_s
            if opts.time_range_h is not None:
                hours = (rec.submit_s - origin) / 3600.0
                if hours < opts.time_range_h[0]:
                    stats.dropped["before_time_range"] += 1
                    continue
                if hours >= opts.time_range_h[1]:
                    stats.stopped = "time_range_end"
                    return
            pick = self._choose(rec, stats, trace_end)
            if pick is None:
                continue
            stats.jobs += 1
            if stats.first_submit_s is None:
                stats.first_submit_s = rec.submit_s
            stats.last_submit_s = rec.submit_s
            yield pick
            if opts.max_jobs is not None and stats.jobs >= opts.max_jobs:
                stats.stopped = "max_jobs"
                return

    def _choose(
        self, rec: TraceRecord, stats: TraceStats, trace_end: float | None
    ) -> _Chosen | None:
        """The job ``rec`` becomes, or None (counted) when a rule drops it."""
        opts = self.options
        if rec.status == "never_ran":
            stats.dropped["never_ran"] += 1
            return None
        if rec.status in ("failed", "killed", "running"):
            if getattr(opts, rec.status) == "drop":
                stats.dropped[rec.status] += 1
                return None
            stats.kept[rec.status] += 1
        if opts.vcs is not None and rec.vc not in opts.vcs:
            stats.dropped["other_vc"] += 1
            return None
        if rec.num_gpus == 0:
            if opts.cpu_only == "refuse":
                self._refuse(rec, "num_gpus", "is a CPU-only job (cpu_only = refuse)")
            stats.dropped["cpu_only"] += 1
            return None
        if rec.gpu_fraction < 1.0:
            if opts.fractional == "drop":
                stats.dropped["fractional_gpu"] += 1
                return None
            stats.changed["fractional_gpu_as_whole"] += 1
        duration = rec.duration_s
        if duration is None and rec.total_steps is None:
            # still running with no end: it ran until the trace's last recorded time
            assert trace_end is not None  # found first when running jobs are kept
            duration = trace_end - (rec.start_s if rec.start_s is not None else rec.submit_s)
        if duration is not None and duration <= 0:
            stats.dropped["zero_duration"] += 1
            return None
        model = self._fixed_model(rec, stats)
        gpus = self._gpu_count(rec, model, stats)
        if gpus is None:
            return None
        if rec.gpu_models:
            stats.ignored["gpu_model_constraints"] += 1
        return _Chosen(rec, model, gpus, duration)

    def _fixed_model(self, rec: TraceRecord, stats: TraceStats) -> str | None:
        if rec.job_type is not None:
            if not self.catalog.knows(rec.job_type):
                self._refuse(
                    rec,
                    "job_type",
                    f"throughput file {self.catalog.table.source} has no job type "
                    f"{rec.job_type!r} on {', '.join(self.catalog.types)}",
                )
            stats.models["from_trace"] += 1
            return rec.job_type
        if self.mapping is not None:
            key_name, table = self.mapping
            key = rec.job_key if key_name == "job_id" else rec.trace_model
            model = table.get(key or "")
            if model is not None:
                stats.models["mapped"] += 1
                return model
            if self.options.unmapped == "refuse":
                self._refuse(rec, key_name, f"{key!r} is not in the mapping file")
        if rec.trace_model is not None:
            stats.ignored["trace_model_names"] += 1
        stats.models["drawn"] += 1
        return None

    def _gpu_count(self, rec: TraceRecord, model: str | None, stats: TraceStats) -> int | None:
        supported = self.catalog.supported(model)
        count = rec.num_gpus
        if count in supported:
            return count
        what = f"job type {model!r}" if model else "no job type of the throughput file"
        if not supported or self.options.gpu_rule == "refuse":
            self._refuse(
                rec,
                "num_gpus",
                f"{what} runs on {count} GPUs (counts it has: "
                f"{', '.join(map(str, supported)) or 'none'}); gpu_rule round or drop "
                "changes or drops such jobs",
            )
        if self.options.gpu_rule == "drop":
            stats.dropped["gpu_count"] += 1
            return None
        new = round_count(count, supported)
        stats.changed["gpu_count_rounded"] += 1
        stats.gpu_counts_rounded[f"{count}->{new}"] += 1
        return new

    def _refuse(self, rec: TraceRecord, field_name: str, message: str) -> NoReturn:
        raise InputError(message, source=self.source, line=rec.line, field=field_name)


def with_seed(options: TraceOptions, seed: int) -> TraceOptions:
    """The options with the template draw's seed set (a run's ``--seed``)."""
    return replace(options, seed=seed)
