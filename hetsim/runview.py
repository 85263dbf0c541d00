"""A finished run as the diff reads it: per-job JCTs, per-round placements, a timeline.

:class:`RunView` is what ``hetsim diff`` compares, whatever made the run: a hetsim
output directory (read here from ``events.jsonl`` and ``result.json``) or a folder of
the reference simulator's outputs (read by :mod:`hetsim.reference_runs`). Placements
use hetsim's GPU numbering (types in cluster order, each type's GPUs consecutive).

Only rounds in which at least one job holds GPUs are kept: the reference logs only
those, so the ``k``-th busy round of one run is compared with the ``k``-th of the other.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hetsim.errors import InputError

# A job's placement in a round: its GPU type and GPU ids.
Placement = tuple[str, tuple[int, ...]]


@dataclass(frozen=True)
class Round:
    """One busy round: its start time, the run's own round number, who ran where."""

    time: float
    number: int
    placements: dict[int, Placement]


@dataclass
class RunView:
    """What the diff needs of one run."""

    name: str
    kind: str  # "hetsim" or "reference"
    gpu_types: tuple[str, ...]
    gpu_counts: tuple[int, ...]
    window: tuple[int, int] | None
    arrival: dict[int, float]
    jct: dict[int, float]
    rounds: list[Round]
    # One entry per round (busy or not): start time, GPUs busy, jobs active and running.
    timeline: dict[str, np.ndarray] = field(default_factory=dict)
    # The run's own window average (result.json or the reference's printed value).
    reported_avg_jct_s: float | None = None
    end_time: float | None = None
    # What the run knew of some jobs in a round (allocation, priorities...), read on demand.
    round_details: Callable[[Round, list[int]], dict[int, dict[str, Any]]] | None = None

    @property
    def total_gpus(self) -> int:
        return sum(self.gpu_counts)

    def window_jobs(self) -> list[int]:
        """Ids of the window's jobs that finished, or every finished job without a window."""
        if self.window is None:
            return sorted(self.jct)
        a, b = self.window
        return sorted(j for j in self.jct if a <= j < b)

    def window_avg_jct(self) -> float | None:
        jobs = self.window_jobs()
        return float(np.mean([self.jct[j] for j in jobs])) if jobs else None


def timeline_arrays(
    times: list[float], busy: list[int], active: list[int], running: list[int]
) -> dict[str, np.ndarray]:
    """The timeline columns, as arrays."""
    return {
        "time": np.asarray(times, dtype=float),
        "busy_gpus": np.asarray(busy, dtype=np.int64),
        "active_jobs": np.asarray(active, dtype=np.int64),
        "running_jobs": np.asarray(running, dtype=np.int64),
    }


def _telemetry_timeline(path: Path) -> dict[str, np.ndarray] | None:
    """Per-round telemetry from ``telemetry.parquet`` when it has the columns the diff
    draws (``sim_time``, ``busy_gpus``, ``active_jobs``, ``running_jobs``); else None."""
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is part of the dev install
        return None
    try:
        table = pq.read_table(path)
    except Exception:  # an unreadable or foreign file: fall back to the events
        return None
    cols = set(table.column_names)
    if not {"sim_time", "busy_gpus", "active_jobs", "running_jobs"} <= cols:
        return None
    return timeline_arrays(
        table.column("sim_time").to_pylist(),
        table.column("busy_gpus").to_pylist(),
        table.column("active_jobs").to_pylist(),
        table.column("running_jobs").to_pylist(),
    )


def load_hetsim_run(path: str | os.PathLike[str]) -> RunView:
    """Reads a hetsim output directory (it needs ``events.jsonl``: run with --events)."""
    root = Path(path)
    events_path = root / "events.jsonl"
    result_path = root / "result.json"
    if not events_path.is_file():
        raise InputError("no events.jsonl (run with --events to write one)", source=str(root))
    result: dict[str, Any] = {}
    if result_path.is_file():
        try:
            result = json.loads(result_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"not JSON: {exc.msg}", source=str(result_path)) from None
    window = (result.get("config") or {}).get("window")
    view = RunView(
        name=str(root),
        kind="hetsim",
        gpu_types=(),
        gpu_counts=(),
        window=None if not window else (int(window["start"]), int(window["end"])),
        arrival={},
        jct={},
        rounds=[],
        reported_avg_jct_s=result.get("avg_jct_s"),
        end_time=result.get("sim_time_s"),
    )
    _read_events(events_path, view)
    view.round_details = lambda r, jobs: _event_details(events_path, view.gpu_types, r, jobs)
    telemetry = root / "telemetry.parquet"
    if telemetry.is_file():
        view.timeline = _telemetry_timeline(telemetry) or view.timeline
    return view


def _read_events(path: Path, view: RunView) -> None:
    state: dict[int, Placement] = {}
    finished: list[int] = []
    number = 0
    times: list[float] = []
    busy: list[int] = []
    active: list[int] = []
    running: list[int] = []
    source = str(path)

    def close_round() -> None:
        if number and state:
            view.rounds.append(Round(times[-1], number, dict(state)))
        for j in finished:
            state.pop(j, None)
        finished.clear()

    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            try:
                ev = json.loads(line)
                name = ev["event"]
                t = float(ev["sim_time"])
                if name == "job_placed":
                    state[int(ev["job_id"])] = (str(ev["gpu_type"]), tuple(ev["gpus"]))
                elif name == "job_preempted":
                    state.pop(int(ev["job_id"]), None)
                elif name == "round_started":
                    close_round()
                    number = int(ev["round"])
                    times.append(t)
                    busy.append(int(ev["busy_gpus"]))
                    active.append(int(ev["active_jobs"]))
                    running.append(int(ev["running_jobs"]))
                elif name == "job_completed":
                    job = int(ev["job_id"])
                    finished.append(job)
                    view.jct[job] = float(ev["jct_s"])
                    view.arrival.setdefault(job, float(ev["arrival_time"]))
                elif name == "job_arrived":
                    view.arrival[int(ev["job_id"])] = t
                elif name == "run_started":
                    view.gpu_types = tuple(ev["gpu_types"])
                    view.gpu_counts = tuple(int(c) for c in ev["gpu_counts"])
                elif name == "run_ended" and view.end_time is None:
                    view.end_time = t
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                what = exc.msg if isinstance(exc, json.JSONDecodeError) else f"bad event: {exc}"
                raise InputError(what, source=source, line=lineno) from None
    close_round()
    if not view.gpu_types:
        raise InputError("no run_started event", source=source)
    view.timeline = timeline_arrays(times, busy, active, running)


def _event_details(
    path: Path, gpu_types: tuple[str, ...], at: Round, jobs: list[int]
) -> dict[int, dict[str, Any]]:
    """Each job's allocation in force in round ``at`` (the last solve at or before it)
    and the round's type order."""
    wanted = {str(j) for j in jobs}
    allocation: dict[str, list[float]] = {}
    type_order: list[str] | None = None
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            ev = json.loads(line)
            if ev["sim_time"] > at.time:
                break
            if ev["event"] == "allocation_solved":
                allocation = {k: v for k, v in ev["allocation"].items() if k in wanted}
            elif ev["event"] == "round_started" and ev["sim_time"] == at.time:
                type_order = ev["type_order"]
    out: dict[int, dict[str, Any]] = {}
    for j in jobs:
        row = allocation.get(str(j))
        out[j] = {
            "allocation": None if row is None else dict(zip(gpu_types, row, strict=False)),
            "type_order": type_order,
        }
    return out
