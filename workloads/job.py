"""A job: one training run with its GPU count, amount of work and arrival time."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Job:
    """An immutable job description, as generated or read from a trace.

    ``total_steps`` is the work to do; ``duration_s``, when known, is the time
    the job would take alone on the generator's reference GPU type. ``slo`` is
    None when the job has none. The last four fields are template metadata
    carried through traces.
    """

    job_id: int
    model: str
    scale_factor: int
    total_steps: float
    arrival_time: float
    duration_s: float | None = None
    priority_weight: float = 1.0
    slo: float | None = None
    command: str = ""
    working_directory: str = ""
    num_steps_arg: str = ""
    needs_data_dir: bool = True
