"""What a run wrote, gathered into arrays for the GPUVIZ01 file.

:func:`read_run` reads ``DIR/events.jsonl`` (placements, arrivals, completions),
``DIR/telemetry.parquet`` (or ``.csv``; phases, solves and the time series) and
``DIR/result.json`` (the configuration), never the simulator's internals. The state at
a round is the previous round's plus the round's ``job_placed`` / ``job_preempted``
changes, minus the jobs that completed (docs/events.md). :class:`RunData` is also what
the decoder returns, so a round trip compares like with like.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hetsim.errors import InputError
from hetsim.telemetry_file import find_telemetry, read_telemetry
from viz.format import IDLE, JOB_FINISHED, JOB_IN_WINDOW, JOB_UNRUNNABLE, PHASES, ROUND_SOLVED

U32 = npt.NDArray[np.uint32]


@dataclass
class RunData:
    """A run as the file holds it (arrays indexed by job row or round index)."""

    meta: dict[str, Any]
    type_names: list[str]
    counts: list[int]
    gpus_per_server: list[int]
    round_s: float
    models: list[str]
    job_ids: U32
    job_arrival_round: U32
    job_finish_round: U32
    job_gpus: npt.NDArray[np.uint8]
    job_model: npt.NDArray[np.uint8]
    job_flags: npt.NDArray[np.uint16]
    job_arrival_s: npt.NDArray[np.float64]
    job_finish_s: npt.NDArray[np.float64]
    job_rounds_run: U32  # [jobs, types]
    round_time: npt.NDArray[np.float64]
    round_no: U32
    round_active: U32
    round_running: U32
    round_completed: U32
    round_phase: npt.NDArray[np.uint8]
    round_flags: npt.NDArray[np.uint8]
    round_busy: npt.NDArray[np.uint16]  # [rounds, types]
    round_gpu_job: U32  # [rounds, gpus], IDLE where idle
    queues: list[U32]
    series_names: list[str]
    series: npt.NDArray[np.float32]  # [series, rounds]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_rounds(self) -> int:
        return int(self.round_time.shape[0])

    @property
    def num_gpus(self) -> int:
        return int(sum(self.counts))


_PLACEMENT = ("job_placed", "job_preempted")


class _Replayer:
    """Walks events.jsonl once, snapshotting the cluster at every round."""

    def __init__(self, num_gpus: int, source: str) -> None:
        self.num_gpus = num_gpus
        self.source = source
        self.jobs: dict[int, dict[str, Any]] = {}
        self.pending: list[int] = []
        self.active: set[int] = set()
        self.placed: dict[int, tuple[int, ...]] = {}
        self.completed = 0
        self.open = False
        self.rounds: list[tuple[float, int, int]] = []  # time, round, active
        self.grids: list[npt.NDArray[np.uint32]] = []
        self.running: list[int] = []
        self.done_at_start: list[int] = []
        self.queues: list[U32] = []

    def snapshot(self) -> None:
        grid = np.full(self.num_gpus, IDLE, dtype=np.uint32)
        for job_id in sorted(self.placed, reverse=True):  # a shared GPU shows the lower id
            grid[list(self.placed[job_id])] = job_id
        self.grids.append(grid)
        self.running.append(len(self.placed))
        self.done_at_start.append(self.completed)
        self.queues.append(np.array(sorted(self.active - self.placed.keys()), dtype=np.uint32))
        self.open = False

    def feed(self, e: dict[str, Any], line: int) -> None:
        kind = e["event"]
        if self.open and kind not in _PLACEMENT:
            self.snapshot()
        if kind == "round_started":
            self.active.update(self.pending)
            self.pending.clear()
            if len(self.active) != e["active_jobs"]:
                raise InputError(
                    f"round {e['round']}: {len(self.active)} active jobs replayed, "
                    f"the trace says {e['active_jobs']}",
                    source=self.source,
                    line=line,
                    field="active_jobs",
                )
            self.rounds.append((float(e["sim_time"]), int(e["round"]), int(e["active_jobs"])))
            self.open = True
        elif kind == "job_placed":
            self.placed[e["job_id"]] = tuple(e["gpus"])
        elif kind == "job_preempted":
            self.placed.pop(e["job_id"], None)
        elif kind == "job_arrived":
            self.jobs[e["job_id"]] = {
                "model": e["model"],
                "gpus": e["scale_factor"],
                "arrival": float(e["sim_time"]),
            }
            self.pending.append(e["job_id"])
        elif kind == "job_unrunnable":
            self.jobs[e["job_id"]]["unrunnable"] = True
            self.pending.remove(e["job_id"])
        elif kind == "job_completed":
            job_id = e["job_id"]
            self.jobs[job_id]["finish"] = float(e["sim_time"])
            self.active.discard(job_id)
            self.placed.pop(job_id, None)
            self.completed += 1


def _load_json_lines(path: Path, replayer: _Replayer) -> None:
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            # allocation_solved lines are the longest and carry nothing the file needs
            if line.startswith('{"event": "allocation_solved"') or line.startswith(
                '{"event": "solver_fallback"'
            ):
                continue
            try:
                event = json.loads(line)
                replayer.feed(event, number)
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                if isinstance(exc, InputError):
                    raise
                raise InputError(
                    f"not a hetsim event trace line ({type(exc).__name__}: {exc})",
                    source=str(path),
                    line=number,
                ) from None
    if replayer.open:
        replayer.snapshot()


def _series(tel: dict[str, npt.NDArray[Any]], types: list[str]) -> tuple[list[str], Any]:
    names = ["time_s", *(f"util_{t}" for t in types)]
    names += ["active_jobs", "waiting_jobs", "running_jobs", "completion_rate_per_h"]
    names += ["solve_wall_s", *(f"fragmented_{t}" for t in types)]
    rows = [np.asarray(tel[n], dtype=np.float32) for n in names]
    phase = np.array([PHASES.index(p) for p in tel["phase"]], dtype=np.float32)
    return [*names, "phase"], np.vstack([*rows, phase]) if rows else np.zeros((0, 0))


def read_run(directory: Path) -> RunData:
    """The run in ``directory`` as arrays; InputError naming the file when it is not
    a complete run with an event trace and telemetry."""
    events_path = directory / "events.jsonl"
    result_path = directory / "result.json"
    if not result_path.is_file():
        raise InputError("no result.json: not a hetsim run directory", source=str(directory))
    if not events_path.is_file():
        raise InputError("no events.jsonl (run with --events)", source=str(directory))
    tel_path = find_telemetry(directory)
    if tel_path is None:
        raise InputError(
            "no telemetry.parquet or telemetry.csv (run without --telemetry none)",
            source=str(directory),
        )
    try:
        result = json.loads(result_path.read_text(encoding="utf-8"))
        config = result["config"]
        cluster = config["cluster"]
        types = [str(t) for t in cluster["gpu_types"]]
        counts = [int(c) for c in cluster["counts"]]
        per_server = [int(c) for c in cluster["gpus_per_server"]]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"not a hetsim result ({exc})", source=str(result_path)) from None
    rep = _Replayer(sum(counts), str(events_path))
    _load_json_lines(events_path, rep)
    tel = read_telemetry(tel_path)
    r = len(rep.rounds)
    if len(tel["round"]) != r:
        raise InputError(
            f"{len(tel['round'])} telemetry rows but {r} rounds in events.jsonl",
            source=str(tel_path),
            field="round",
        )
    times = np.array([t for t, _, _ in rep.rounds], dtype=np.float64)
    grids = np.vstack(rep.grids) if r else np.zeros((0, sum(counts)), dtype=np.uint32)
    gpu_type = np.repeat(np.arange(len(types)), counts)
    busy = np.zeros((r, len(types)), dtype=np.uint16)
    for k in range(len(types)):
        busy[:, k] = (grids[:, gpu_type == k] != IDLE).sum(axis=1)

    ids = sorted(rep.jobs)
    models = sorted({rep.jobs[j]["model"] for j in ids})
    n, m = len(ids), len(types)
    window = config.get("window")
    rounds_run = np.zeros((n, m), dtype=np.uint32)
    id_array = np.array(ids, dtype=np.int64)
    for k in range(m):
        # each job once per round it held a GPU of this type
        cells = np.sort(grids[:, gpu_type == k], axis=1)
        first = np.ones(cells.shape, dtype=bool)
        first[:, 1:] = cells[:, 1:] != cells[:, :-1]
        held = cells[first & (cells != IDLE)].astype(np.int64)
        rows = np.searchsorted(id_array, held)
        rounds_run[:, k] = np.bincount(rows, minlength=n)[:n]
    arrival = np.array([rep.jobs[j]["arrival"] for j in ids], dtype=np.float64)
    finish = np.array([rep.jobs[j].get("finish", np.nan) for j in ids], dtype=np.float64)
    arrival_round = np.searchsorted(times, arrival, side="left").astype(np.int64)
    arrival_round[arrival_round >= r] = IDLE
    finish_round = np.searchsorted(times, finish, side="right").astype(np.int64) - 1
    finish_round[np.isnan(finish)] = IDLE
    flags = np.zeros(n, dtype=np.uint16)
    for i, j in enumerate(ids):
        info = rep.jobs[j]
        flags[i] |= JOB_FINISHED * ("finish" in info) | JOB_UNRUNNABLE * info.get("unrunnable", 0)
        if window is not None and window["start"] <= j < window["end"]:
            flags[i] |= JOB_IN_WINDOW
    names, series = _series(tel, types)
    meta = {
        "hetsim_version": result.get("hetsim_version"),
        "run": directory.name,
        "end_reason": result.get("end_reason"),
        "avg_jct_h": result.get("avg_jct_h"),
        "saturated": result.get("saturated"),
        "utilization": result.get("utilization"),
        "config": config,
    }
    return RunData(
        meta=meta,
        type_names=types,
        counts=counts,
        gpus_per_server=per_server,
        round_s=float(config.get("round_s", 0.0)),
        models=models,
        job_ids=np.array(ids, dtype=np.uint32),
        job_arrival_round=arrival_round.astype(np.uint32),
        job_finish_round=finish_round.astype(np.uint32),
        job_gpus=np.array([rep.jobs[j]["gpus"] for j in ids], dtype=np.uint8),
        job_model=np.array([models.index(rep.jobs[j]["model"]) for j in ids], dtype=np.uint8),
        job_flags=flags,
        job_arrival_s=arrival,
        job_finish_s=finish,
        job_rounds_run=rounds_run,
        round_time=times,
        round_no=np.array([rn for _, rn, _ in rep.rounds], dtype=np.uint32),
        round_active=np.array([a for _, _, a in rep.rounds], dtype=np.uint32),
        round_running=np.array(rep.running, dtype=np.uint32),
        round_completed=np.array(rep.done_at_start, dtype=np.uint32),
        round_phase=np.array([PHASES.index(p) for p in tel["phase"]], dtype=np.uint8),
        round_flags=(np.asarray(tel["solved"], dtype=bool) * ROUND_SOLVED).astype(np.uint8),
        round_busy=busy,
        round_gpu_job=grids.astype(np.uint32),
        queues=rep.queues,
        series_names=names,
        series=series.astype(np.float32),
    )
