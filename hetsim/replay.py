"""Replaying an event trace: job timelines, the cluster at any time, a cross-check.

Reads ``events.jsonl`` (see docs/events.md) without the simulator. Placements are
logged as changes, so the GPUs a job holds at time ``t`` are those of its last
``job_placed`` at or before ``t`` unless a ``job_preempted`` or ``job_completed`` came
after it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hetsim.errors import InputError


@dataclass
class Stint:
    """A stretch of time a job held the same GPUs (``end`` None: still holding)."""

    start: float
    gpu_type: str
    gpus: tuple[int, ...]
    end: float | None = None


@dataclass
class JobStory:
    """Everything the trace says about one job."""

    job_id: int
    model: str | None = None
    scale_factor: int | None = None
    arrival: float | None = None
    finish: float | None = None
    stints: list[Stint] = field(default_factory=list)

    @property
    def jct(self) -> float | None:
        if self.finish is None or self.arrival is None:
            return None
        return self.finish - self.arrival

    def held_seconds(self) -> dict[str, float]:
        """Seconds holding GPUs, per GPU type (whole rounds; the last may end early)."""
        out: dict[str, float] = {}
        for s in self.stints:
            if s.end is not None:
                out[s.gpu_type] = out.get(s.gpu_type, 0.0) + s.end - s.start
        return out


@dataclass
class Replay:
    """A parsed trace: the events in order and each job's story."""

    source: str
    events: list[dict[str, Any]]
    jobs: dict[int, JobStory]
    end_reason: str | None

    def holding_at(self, t: float) -> dict[int, Stint]:
        """Which job held which GPUs at simulated time ``t``."""
        out: dict[int, Stint] = {}
        for story in self.jobs.values():
            for s in story.stints:
                if s.start <= t and (s.end is None or t < s.end):
                    out[story.job_id] = s
        return dict(sorted(out.items()))

    def window_average(self, start: int | None, end: int | None) -> tuple[float | None, int]:
        """Average JCT (seconds) over finished jobs with ids in [start, end), and how many."""
        jcts = [
            s.jct
            for j, s in self.jobs.items()
            if s.jct is not None and (start is None or (start <= j < (end or math.inf)))
        ]
        if not jcts:
            return None, 0
        return sum(jcts) / len(jcts), len(jcts)


_REQUIRED = {
    "job_arrived": ("job_id", "model", "scale_factor"),
    "job_placed": ("job_id", "gpu_type", "gpus"),
    "job_preempted": ("job_id",),
    "job_completed": ("job_id", "jct_s"),
}


def iter_events(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each event of a trace file with its line number, checked (see :func:`_event`)
    and in time order (InputError naming the file, line and field otherwise)."""
    source = str(path)
    last_t = 0.0
    try:
        with path.open("rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise InputError("not UTF-8 text", source=source, line=lineno) from None
                if not line.strip():
                    continue
                ev = _event(line, source, lineno)
                t = float(ev["sim_time"])
                if t < last_t:
                    raise InputError(
                        f"time goes backwards ({t} after {last_t})",
                        source=source,
                        line=lineno,
                        field="sim_time",
                    )
                last_t = t
                yield lineno, ev
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", source=source) from None


def load(path: str | os.PathLike[str]) -> Replay:
    """Parses a trace; InputError naming the file, line and field on malformed input."""
    p = Path(path)
    if p.is_dir():
        p = p / "events.jsonl"
    source = str(p)
    if not p.is_file():
        raise InputError("no such file (run with --events to write one)", source=source)
    events: list[dict[str, Any]] = []
    jobs: dict[int, JobStory] = {}
    end_reason = None
    for _lineno, ev in iter_events(p):
        name = str(ev["event"])
        events.append(ev)
        _apply(jobs, name, float(ev["sim_time"]), ev)
        if name == "run_ended":
            end_reason = ev.get("reason")
    return Replay(source, events, jobs, end_reason)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# what each field an event needs must be, and how to say it
_CHECKS: dict[str, tuple[Any, str]] = {
    "job_id": (_is_count, "an integer >= 0"),
    "scale_factor": (lambda v: _is_count(v) and v >= 1, "an integer >= 1"),
    "model": (lambda v: isinstance(v, str), "a string"),
    "gpu_type": (lambda v: isinstance(v, str), "a string"),
    "gpus": (lambda v: isinstance(v, list) and all(_is_count(g) for g in v), "a list of GPU ids"),
    "jct_s": (_is_number, "a finite number"),
    "arrival_time": (_is_number, "a finite number"),
}


def _event(line: str, source: str, lineno: int) -> dict[str, Any]:
    """One line's event, with the fields replay relies on checked."""

    def bad(message: str, field: str | None = None) -> InputError:
        return InputError(message, source=source, line=lineno, field=field)

    try:
        ev = json.loads(line)
    except json.JSONDecodeError as exc:
        raise bad(f"not JSON: {exc.msg}") from None
    except RecursionError:
        raise bad("not JSON: nested too deeply") from None
    if not isinstance(ev, dict):
        raise bad("not a JSON object")
    name = ev.get("event")
    if not isinstance(name, str):
        raise bad("missing or not a string", "event")
    if not _is_number(ev.get("sim_time")) or ev["sim_time"] < 0:
        raise bad("missing or not a finite number >= 0", "sim_time")
    for key in _REQUIRED.get(name, ()):
        if key not in ev:
            raise bad(f"missing in '{name}'", key)
    for key, (ok, what) in _CHECKS.items():
        if key in ev and name in _REQUIRED and not ok(ev[key]):
            raise bad(f"must be {what}, not {json.dumps(ev[key])[:40]}", key)
    return ev


def _apply(jobs: dict[int, JobStory], name: str, t: float, ev: dict[str, Any]) -> None:
    if name not in _REQUIRED:
        return
    job_id = int(ev["job_id"])
    story = jobs.setdefault(job_id, JobStory(job_id))
    if name == "job_arrived":
        story.model = str(ev["model"])
        story.scale_factor = int(ev["scale_factor"])
        story.arrival = t
        return
    if story.stints and story.stints[-1].end is None:
        story.stints[-1].end = t
    if name == "job_placed":
        story.stints.append(Stint(t, str(ev["gpu_type"]), tuple(int(g) for g in ev["gpus"])))
    elif name == "job_completed":
        story.finish = t
        if story.arrival is None and "arrival_time" in ev:
            story.arrival = float(ev["arrival_time"])


def load_result(path: Path) -> dict[str, Any]:
    """The fields of a result.json that replay compares with the trace, checked."""
    source = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", source=source) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", source=source) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg}", source=source, line=exc.lineno) from None
    if not isinstance(data, dict):
        raise InputError("not a JSON object", source=source, line=1)
    window = data.get("window")
    if window is not None and not (
        isinstance(window, dict) and all(_is_count(window.get(k)) for k in ("start", "end"))
    ):
        raise InputError("must be null or {start, end} job ids", source=source, field="window")
    avg = data.get("avg_jct_s")
    if avg is not None and not _is_number(avg):
        raise InputError("must be null or a finite number", source=source, field="avg_jct_s")
    return data


def job_lines(story: JobStory) -> list[str]:
    """A readable timeline of one job."""
    hours = 3600.0
    head = f"job {story.job_id}: {story.model} on {story.scale_factor} GPU(s)"
    lines = [head]
    if story.arrival is not None:
        lines.append(f"  {story.arrival / hours:10.2f} h  arrived")
    for s in story.stints:
        end = "still running" if s.end is None else f"until {s.end / hours:.2f} h"
        gpus = ",".join(str(g) for g in s.gpus)
        lines.append(f"  {s.start / hours:10.2f} h  on {s.gpu_type} GPUs {gpus} ({end})")
    if story.finish is not None and story.jct is not None:
        lines.append(f"  {story.finish / hours:10.2f} h  completed, JCT {story.jct / hours:.2f} h")
    held = story.held_seconds()
    if held:
        parts = ", ".join(f"{k} {v / hours:.2f} h" for k, v in sorted(held.items()))
        lines.append(f"  held GPUs: {parts}")
    return lines
