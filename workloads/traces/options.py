"""How a real trace becomes hetsim jobs: every choice, in one frozen dataclass with its defaults.

The field names are the keys of a scenario file's ``[trace_options]`` table and, with
dashes, the ``hetsim run`` / ``hetsim trace convert`` options. ``check`` raises the
one-line InputError naming the field.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from hetsim.errors import InputError

__all__ = ["CHOICES", "TraceOptions"]

CHOICES: dict[str, tuple[str, ...]] = {
    "time_unit": ("s", "ms"),
    "gpu_rule": ("round", "drop", "refuse"),
    "failed": ("keep", "drop"),
    "killed": ("keep", "drop"),
    "running": ("drop", "keep"),
    "cpu_only": ("drop", "refuse"),
    "fractional": ("whole", "drop"),
    "unmapped": ("draw", "refuse"),
}
"""Each choice's values; the first is the default."""


@dataclass(frozen=True)
class TraceOptions:
    """The mapping rules of a trace (see docs/traces.md); defaults are the first choice.

    - ``gpu_rule``: a GPU count no template of the throughput file has is rounded to
      the nearest count one has (in powers of two, ties up; above the largest, the
      largest), or the job is dropped, or the run refused.
    - ``failed``/``killed``: keep such jobs for the time they ran, or drop them.
    - ``running``: jobs still running when the trace ended: dropped, or kept for the
      time they ran until the trace's last recorded time.
    - ``cpu_only``: jobs with no GPU are dropped, or refused.
    - ``fractional``: a job on a fraction of one GPU counts as one whole GPU, or is
      dropped.
    - ``unmapped``: with a mapping file, a job it does not name gets a drawn template,
      or is refused.
    - ``time_range_h``: keep jobs submitted within [start, end) hours after the
      trace's first job; ``max_jobs``: the first N jobs kept; ``vcs``: only these
      virtual clusters.
    - ``arrival_scale``: arrival gaps multiplied by this (0.5: twice the load), or
      ``target_rate``: jobs/hour of the replay (the scale follows from the trace).
    - ``seed``: the template draw's stream (``hetsim run`` uses its ``--seed``).
    """

    time_unit: str = "s"
    reference_type: str = "v100"
    gpu_rule: str = "round"
    failed: str = "keep"
    killed: str = "keep"
    running: str = "drop"
    cpu_only: str = "drop"
    fractional: str = "whole"
    unmapped: str = "draw"
    mapping_path: str | None = None
    time_range_h: tuple[float, float] | None = None
    max_jobs: int | None = None
    vcs: tuple[str, ...] | None = None
    arrival_scale: float | None = None
    target_rate: float | None = None
    seed: int = 0
    skip_bad_rows: bool = False

    def check(self, source: str | None = None) -> TraceOptions:
        """Raises InputError naming the first bad field; returns self."""

        def bad(name: str, message: str) -> InputError:
            return InputError(message, source=source, field=name)

        for name, choices in CHOICES.items():
            value = getattr(self, name)
            if value not in choices:
                raise bad(name, f"must be one of {', '.join(choices)}, not {value!r}")
        if not isinstance(self.reference_type, str) or not self.reference_type:
            raise bad("reference_type", "must be a GPU type name")
        if self.time_range_h is not None:
            start, end = self.time_range_h
            if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end):
                raise bad(
                    "time_range_h",
                    f"must be START:END hours with 0 <= START < END, not {start:g}:{end:g}",
                )
        if self.max_jobs is not None and self.max_jobs < 1:
            raise bad("max_jobs", f"must be >= 1, not {self.max_jobs}")
        if self.vcs is not None and (not self.vcs or not all(self.vcs)):
            raise bad("vcs", "must name at least one virtual cluster")
        for name in ("arrival_scale", "target_rate"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise bad(name, f"must be a number > 0, not {value!r}")
        if self.arrival_scale is not None and self.target_rate is not None:
            raise bad("target_rate", "give arrival_scale or target_rate, not both")
        if self.seed < 0:
            raise bad("seed", "must be >= 0")
        return self

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for name in ("time_range_h", "vcs"):
            if out[name] is not None:
                out[name] = list(out[name])
        return out

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))
