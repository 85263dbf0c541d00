"""Every bound on a number a user supplies, in one place, and the check that applies one.

A value outside its bound would make a run hang (a round length of a microsecond, an
arrival at 1e300 s where adding a round no longer moves the clock), eat the machine's
memory (a hundred million GPUs) or report nonsense; each is refused before anything
runs, with the one-line error naming the option or the file, line and field. The
bounds are generous: the reference's workload sits far inside every one of them. The
README's "Bounds" table lists them; keep the two in step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hetsim.errors import InputError, option_error


@dataclass(frozen=True)
class Bound:
    """A closed range ``[low, high]`` (``low`` excluded when ``low_open``) of a number."""

    low: float
    high: float
    unit: str = ""
    integer: bool = False
    low_open: bool = False

    def problem(self, value: object) -> str | None:
        """Why ``value`` is out of bounds (one phrase), or None when it is within them."""
        kind = "an integer" if self.integer else "a number"
        ok_type = isinstance(value, int) if self.integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok_type:
            return f"must be {kind} {self.describe()}, not {value!r}"
        number = float(value)  # type: ignore[arg-type]
        if math.isnan(number) or not self._within(number):
            return f"must be {kind} {self.describe()}, not {_show(value)}"
        return None

    def _within(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        return above and value <= self.high

    def describe(self) -> str:
        """``in [0.001, 10,000] jobs/h`` or ``in (0, 2,592,000] s``."""
        left = "(" if self.low_open else "["
        unit = f" {self.unit}" if self.unit else ""
        return f"in {left}{_num(self.low)}, {_num(self.high)}]{unit}"

    def check(self, value: object, *, source: str, field: str, line: int | None = None) -> None:
        """Raises InputError (source, line, field) when ``value`` is out of bounds."""
        problem = self.problem(value)
        if problem is not None:
            raise InputError(problem, source=source, line=line, field=field)

    def check_option(self, flag: str, value: object) -> None:
        """Raises the InputError of a command-line option (``--rate``) out of bounds."""
        problem = self.problem(value)
        if problem is not None:
            raise option_error(flag, problem)


def _num(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:g}"


def _show(value: object) -> str:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    if isinstance(value, int) and abs(value) >= 10**15:
        return f"{value:.3g}"
    return repr(value)


MAX_GPUS = 100_000
"""GPUs of one type, and of all types together."""

GPUS_PER_TYPE = Bound(0, MAX_GPUS, "GPUs", integer=True)
GPUS_IN_ALL = Bound(1, MAX_GPUS, "GPUs in all", integer=True)
GPUS_PER_SERVER = Bound(1, 1024, "GPUs", integer=True)

MAX_JOBS = 1_000_000
"""Jobs of a trace, ``--max-jobs``, ``trace --jobs`` and the end of a window."""
JOBS = Bound(1, MAX_JOBS, "jobs", integer=True)
WINDOW_END = Bound(1, MAX_JOBS, "(job id)", integer=True)

RATE = Bound(0.001, 10_000, "jobs/h")
SEED = Bound(0, 2**31 - 1, integer=True)

MAX_TIME_S = 1e9
"""About 31.7 years: where adding a round to the clock is still exact enough."""
TIME_S = Bound(0, MAX_TIME_S, "s")
ROUND_S = Bound(10, 86_400, "s")
RESET_INTERVAL_S = Bound(0, MAX_TIME_S, "s")
TIMEOUT_S = Bound(0, 30 * 86_400, "s", low_open=True)

TRACE_STEPS = Bound(0, 1e12, "steps", low_open=True)
JOB_DURATION_S = Bound(0, 1e7, "s on the job's fastest GPU type", low_open=True)
"""About 116 days; the generator's longest job takes 7 days on a V100."""
PRIORITY_WEIGHT = Bound(0, 1e6, low_open=True)
THROUGHPUT = Bound(0, 1e9, "steps/s")
TYPE_COST = Bound(0, 1e9, low_open=True)

SATURATION_WINDOW = Bound(2, 100_000, "completions", integer=True)
SATURATION_MIN_RATE = Bound(0, 1e6, "jobs/h")
SATURATION_MIN_UTIL = Bound(0, 1)
SATURATION_DRAIN_LIMIT = Bound(0, 1e6, "times the window's arrival time")

WORKERS = Bound(1, 1024, "worker processes", integer=True)

REPLAY_AT_H = Bound(0, MAX_TIME_S / 3600, "h")
