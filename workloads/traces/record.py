"""What a trace reader makes of one row: a :class:`TraceRecord`, and the :class:`TraceFormat`
interface every reader implements.

A record is still the trace's job, in the trace's own time base (seconds); turning it
into a hetsim job (selection, GPU-count rule, template, steps, arrival scaling) is
:mod:`workloads.traces.mapping`'s job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from workloads.traces.rows import Row

__all__ = ["STATUSES", "TraceFormat", "TraceRecord"]

STATUSES = ("completed", "failed", "killed", "running", "never_ran")
"""How a trace's job ended: ``running`` was still running when the trace ended (its
duration, when known, runs to the trace's end); ``never_ran`` was never scheduled."""


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """One job of a trace, as the trace gives it."""

    line: int
    job_key: str
    submit_s: float
    duration_s: float | None  # None: still running with no end time in the trace
    num_gpus: int
    status: str = "completed"
    gpu_fraction: float = 1.0  # of one GPU, for single-GPU jobs that share a GPU
    start_s: float | None = None  # when it started running, if the trace says
    trace_model: str | None = None  # a model name in the trace's own vocabulary
    job_type: str | None = None  # a hetsim job type the trace names (gavel7)
    total_steps: float | None = None  # steps the trace names (gavel7)
    vc: str | None = None  # virtual cluster
    gpu_models: tuple[str, ...] = ()  # GPU models the job accepts (empty: any)
    last_time_s: float | None = None  # the latest time this row mentions


@dataclass(frozen=True)
class TraceFormat:
    """A trace reader: how to stream a file's rows and parse one row into a record.

    ``rows(path)`` yields the file's rows (it raises only for a broken file, never
    for a bad row); ``parse(row, time_unit)`` makes a record or raises InputError
    naming the row's line and field (``--skip-bad-rows`` counts those instead).
    ``sniff(head)`` says whether the file's first line looks like this format.
    """

    name: str
    summary: str
    rows: Callable[[str], Iterator[Row]]
    parse: Callable[[Row, str], TraceRecord]
    sniff: Callable[[str], bool]
    has_vc: bool = False
    time_units: tuple[str, ...] = ("s",)
