"""Gavel's TSV trace format: one job a line, ten tab-separated fields; reading and writing.

Fields: job_type, command, working_directory, num_steps_arg, needs_data_dir
(0/1), total_steps (integer), scale_factor (integer), priority_weight
(integer), SLO (``%f``, -1 for none), arrival_time (``%f`` seconds). Numbers
are written as the reference writes them, so integers are truncated.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NoReturn

from hetsim import limits
from hetsim.errors import InputError
from workloads.job import Job
from workloads.throughputs import ThroughputTable, key_text

__all__ = [
    "FIELDS",
    "TraceScan",
    "format_job",
    "iter_trace",
    "read_trace",
    "scan_trace",
    "write_trace",
]

FIELDS: tuple[str, ...] = (
    "job_type",
    "command",
    "working_directory",
    "num_steps_arg",
    "needs_data_dir",
    "total_steps",
    "scale_factor",
    "priority_weight",
    "SLO",
    "arrival_time",
)
"""The field names, in file order (used in error messages)."""

_FORBIDDEN = ("\t", "\n", "\r")


def format_job(job: Job) -> str:
    """One trace line for ``job``, without the newline.

    Raises ValueError if a text field contains a tab or a line break.
    """
    texts = (job.model, job.command, job.working_directory, job.num_steps_arg)
    for name, text in zip(FIELDS, texts, strict=False):
        if any(c in text for c in _FORBIDDEN):
            raise ValueError(f"job {job.job_id}: {name} {text!r} contains a tab or line break")
    slo = -1.0 if job.slo is None else job.slo
    return "\t".join(
        (
            *texts,
            "1" if job.needs_data_dir else "0",
            str(int(job.total_steps)),
            str(int(job.scale_factor)),
            str(int(job.priority_weight)),
            f"{slo:f}",
            f"{job.arrival_time:f}",
        )
    )


def write_trace(path: str | os.PathLike[str], jobs: Iterable[Job]) -> int:
    """Write ``jobs`` to ``path`` atomically and return how many were written.

    The lines go to a temporary file in the same directory, which replaces
    ``path`` only once everything is written; on any error it is removed.
    """
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    tmp = os.path.join(directory, f".{os.path.basename(target)}.{secrets.token_hex(6)}.tmp")
    count = 0
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            for job in jobs:
                f.write(format_job(job))
                f.write("\n")
                count += 1
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        # a clean-up that fails too (a read-only file system) must not hide the error
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return count


def iter_trace(
    path: str | os.PathLike[str],
    throughputs: ThroughputTable | None = None,
    gpu_types: Sequence[str] | None = None,
) -> Iterator[Job]:
    """A trace's jobs as the file is read, one line at a time (the file is never held
    whole, nor are the jobs); job ids are 0..n-1 in file order, blank lines skipped.

    With ``throughputs``, every (job_type, scale_factor) must be in the table (for each
    of ``gpu_types`` when given, else for every type it has). Raises InputError naming
    the file, line and field of the first problem when it is reached: call
    :func:`scan_trace` first to check the whole file before anything runs.
    """
    source = os.fspath(path)
    if throughputs is not None and gpu_types is not None:
        throughputs.require_types(gpu_types, context=f"trace {source}")
    try:
        f = open(path, encoding="utf-8")  # noqa: SIM115 - closed below, lines streamed
    except OSError as exc:
        raise InputError(f"cannot read trace: {exc.strerror}", source=source) from exc
    count = 0
    last_arrival = -math.inf
    with f:
        lineno = 0
        while True:
            try:
                raw = f.readline()
            except UnicodeDecodeError as exc:
                raise InputError("trace is not UTF-8 text", source=source) from exc
            except OSError as exc:
                raise InputError(f"cannot read trace: {exc.strerror}", source=source) from exc
            if not raw:
                break
            lineno += 1
            text = raw.rstrip("\r\n")
            if not text.strip():
                continue
            parser = _LineParser(source, lineno)
            if count == limits.MAX_JOBS:
                parser.fail("job_type", f"a trace may hold at most {limits.MAX_JOBS:,} jobs")
            job = parser.job(count, text)
            if job.arrival_time < last_arrival:
                parser.fail(
                    "arrival_time",
                    f"arrival times must not decrease ({job.arrival_time:f} after "
                    f"{last_arrival:f})",
                )
            if throughputs is not None:
                if not throughputs.has(job.model, job.scale_factor, gpu_types):
                    parser.fail(
                        "job_type",
                        f"throughput file {throughputs.source} lacks "
                        f"{key_text(job.model, job.scale_factor)}",
                    )
                parser.duration(job, throughputs, gpu_types)
            last_arrival = job.arrival_time
            count += 1
            yield job
    if not count:
        raise InputError("trace has no jobs (the file is empty)", source=source)


@dataclass(frozen=True)
class TraceScan:
    """What one checking pass over a trace found: its job count and largest job."""

    jobs: int
    largest_scale_factor: int


def scan_trace(
    path: str | os.PathLike[str],
    throughputs: ThroughputTable | None = None,
    gpu_types: Sequence[str] | None = None,
    limit: int | None = None,
) -> TraceScan:
    """Checks every line of a trace (as :func:`iter_trace`) without keeping the jobs;
    the count and largest job are of the first ``limit`` jobs when given (a run's
    ``--max-jobs``), the rest still checked."""
    count = largest = 0
    for job in iter_trace(path, throughputs, gpu_types):
        if limit is None or count < limit:
            count += 1
            largest = max(largest, job.scale_factor)
    return TraceScan(count, largest)


def read_trace(
    path: str | os.PathLike[str],
    throughputs: ThroughputTable | None = None,
    gpu_types: Sequence[str] | None = None,
) -> list[Job]:
    """Every job of a trace, as a list (see :func:`iter_trace` for the checks)."""
    return list(iter_trace(path, throughputs, gpu_types))


class _LineParser:
    """Parses the fields of one trace line; every error names the file, line and field."""

    def __init__(self, source: str, lineno: int) -> None:
        self.source = source
        self.lineno = lineno

    def fail(self, field: str, message: str) -> NoReturn:
        raise InputError(message, source=self.source, line=self.lineno, field=field)

    def number(self, field: str, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            self.fail(field, f"must be a number, not {text!r}")
        if not math.isfinite(value):
            self.fail(field, f"must be finite, not {text!r}")
        return value

    def integer(self, field: str, text: str) -> int:
        try:
            return int(text)
        except ValueError:
            self.fail(field, f"must be an integer, not {text!r}")

    def bounded(self, field: str, value: float, bound: limits.Bound) -> float:
        problem = bound.problem(value)
        if problem is not None:
            self.fail(field, problem)
        return value

    def duration(
        self, job: Job, throughputs: ThroughputTable, gpu_types: Sequence[str] | None
    ) -> None:
        """Fails when the job would run longer than the bound even on its fastest type."""
        types = throughputs.gpu_types if gpu_types is None else tuple(gpu_types)
        fastest = float(max(throughputs.isolated(job.model, job.scale_factor, types), default=0))
        if fastest > 0:
            problem = limits.JOB_DURATION_S.problem(job.total_steps / fastest)
            if problem is not None:
                self.fail(
                    "total_steps",
                    f"{job.total_steps:g} steps at {fastest:g} steps/s take "
                    f"{job.total_steps / fastest:.3g} s; the run time {problem}",
                )

    def job(self, job_id: int, text: str) -> Job:
        fields = text.split("\t")
        if len(fields) != len(FIELDS):
            self.fail("fields", f"expected {len(FIELDS)} tab-separated fields, found {len(fields)}")
        (model, command, workdir, steps_arg, data_dir, steps, scale, weight, slo, arrival) = fields
        if not model.strip():
            self.fail("job_type", "must not be empty")
        if data_dir.strip() not in ("0", "1"):
            self.fail("needs_data_dir", f"must be 0 or 1, not {data_dir!r}")
        total_steps = self.bounded(
            "total_steps", self.number("total_steps", steps), limits.TRACE_STEPS
        )
        scale_factor = self.integer("scale_factor", scale)
        if scale_factor < 1:
            self.fail("scale_factor", f"must be at least 1, not {scale_factor}")
        self.bounded("scale_factor", scale_factor, limits.GPUS_IN_ALL)
        priority_weight = self.bounded(
            "priority_weight", self.number("priority_weight", weight), limits.PRIORITY_WEIGHT
        )
        slo_value = self.number("SLO", slo)
        if slo_value >= 0:
            self.bounded("SLO", slo_value, limits.TIME_S)
        arrival_time = self.bounded(
            "arrival_time", self.number("arrival_time", arrival), limits.TIME_S
        )
        return Job(
            job_id=job_id,
            model=model,
            scale_factor=scale_factor,
            total_steps=total_steps,
            arrival_time=arrival_time,
            priority_weight=priority_weight,
            slo=None if slo_value < 0 else slo_value,
            command=command,
            working_directory=workdir,
            num_steps_arg=steps_arg,
            needs_data_dir=data_dir.strip() == "1",
        )
