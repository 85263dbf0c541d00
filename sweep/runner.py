"""Runs a sweep: every (policy, rate, seed) of a spec, resumably, on any executor.

Each run's record is written atomically to ``DIR/runs/<policy>/rate-R_seed-S.json``
the moment it arrives, so a sweep killed at any point (SIGKILL included) keeps every
finished run and no half-written file; running the same command again skips them.
A record is reused when its configuration matches the one the spec asks for
(apart from the wall-clock budget), it was made by the same simulator code (a
fingerprint of the simulation packages), and it is a result: ``ok`` and ``saturated``
always, ``timeout`` when its budget was at least today's. ``error`` records are
retried. Runs are submitted a few at a time, so a worker process that dies takes
only the runs it held with it; the pool is replaced and the sweep goes on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from hetsim.errors import InputError, option_error
from hetsim.output import check_output_dir, write_json_atomic
from sweep.executors import Backend
from sweep.spec import SPEC_FILE, RunKey, SweepSpec
from sweep.task import run_fingerprint, run_one

log = structlog.get_logger()

RUNS_DIR = "runs"
RESULT_STATUSES = ("ok", "saturated", "timeout")
SWEEP_IDENTITY = ("name", "trace", "quick")
"""What makes a directory's sweep.json the same sweep (other keys may change: seeds,
rates, the budget, and the runs they leave unreusable are run again)."""


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k != "timeout_s"}


def _normalised(obj: Any) -> Any:
    """``obj`` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(obj))


def reusable(record: dict[str, Any], wanted: dict[str, Any], simulator: str) -> bool:
    """Whether a stored run record answers for the configuration ``wanted`` on the
    simulator whose code fingerprint is ``simulator``."""
    status = record.get("status")
    if status not in RESULT_STATUSES or record.get("simulator") != simulator:
        return False
    config = record.get("config")
    if not isinstance(config, dict) or _comparable(config) != _comparable(wanted):
        return False
    if status == "timeout":
        budget, today = config.get("timeout_s"), wanted.get("timeout_s")
        return budget is not None and (today is None or budget >= today)
    return True


def read_record(path: Path) -> dict[str, Any] | None:
    """A run record, or None if it is missing or unreadable (then the run is redone)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def load_records(out_dir: Path, keys: Iterable[RunKey] | None = None) -> list[dict[str, Any]]:
    """The readable run records under ``out_dir/runs``: those of ``keys``, or every one
    (in file-name order)."""
    runs = out_dir / RUNS_DIR
    paths = sorted(runs.glob("*/*.json")) if keys is None else [runs / k.slug for k in keys]
    records = []
    for path in paths:
        record = read_record(path)
        if record is not None and "key" in record:
            records.append(record)
    return records


def remove_stale_temporaries(out_dir: Path) -> int:
    """Deletes temporary files a killed sweep may have left (never a finished record)."""
    count = 0
    for path in (out_dir / RUNS_DIR).glob("*/.*.tmp"):
        path.unlink(missing_ok=True)
        count += 1
    return count


def check_sweep_dir(out_dir: Path, spec: SweepSpec, flag: str = "--out") -> None:
    """Refuses (InputError naming ``flag``) a directory that is not this sweep's: one
    holding another sweep (its sweep.json names another scenario), or anything else
    that is not empty. The same sweep again resumes; an empty directory is taken."""
    if not check_output_dir(out_dir, flag) or not any(out_dir.iterdir()):
        return
    path = out_dir / SPEC_FILE
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise option_error(
            flag,
            f"{out_dir} is not empty and holds no sweep ({SPEC_FILE}); give a new or empty "
            "directory, or the sweep's own",
        ) from None
    except (OSError, ValueError):
        raise InputError(f"unreadable; is {out_dir} a sweep?", source=str(path)) from None
    if not isinstance(stored, dict):
        raise InputError(f"not a sweep description; is {out_dir} a sweep?", source=str(path))
    mine = spec.to_dict()
    differ = [k for k in SWEEP_IDENTITY if stored.get(k) != mine[k]]
    if differ:
        theirs = ", ".join(f"{k} {stored.get(k)!r}" for k in differ)
        raise option_error(
            flag,
            f"{out_dir} holds another sweep ({theirs} in its {SPEC_FILE}, this one has "
            + ", ".join(f"{k} {mine[k]!r}" for k in differ)
            + "); give another directory",
        )


@dataclass
class SweepState:
    """Counts for the progress display, updated as runs finish."""

    total: int
    reused: int = 0
    done: int = 0
    running: int = 0
    saturated: int = 0
    timeouts: int = 0
    errors: int = 0
    started: float = field(default_factory=time.perf_counter)
    run_wall_s: float = 0.0
    slots: int = 1
    last: str = ""

    @property
    def finished(self) -> int:
        return self.reused + self.done

    @property
    def eta_s(self) -> float | None:
        """Remaining runs times the mean wall time per run so far, over the slots."""
        if self.done == 0:
            return None
        remaining = self.total - self.finished
        return remaining * (self.run_wall_s / self.done) / max(1, self.slots)


@dataclass(frozen=True)
class SweepOutcome:
    """What a sweep invocation did; ``records`` are the spec's runs that have one."""

    out_dir: Path
    state: SweepState
    wall_s: float
    records: list[dict[str, Any]]


def _record(
    spec: SweepSpec, key: RunKey, config: dict[str, Any], body: dict[str, Any]
) -> dict[str, Any]:
    return {
        "sweep": spec.name,
        "trace": spec.trace,
        "key": key.to_dict(),
        "status": body["status"],
        "error": body.get("error"),
        "traceback": body.get("traceback"),
        "worker": body.get("worker"),
        "simulator": body.get("simulator"),
        "config": config,
        "result": body.get("result"),
    }


def _wanted(spec: SweepSpec, key: RunKey) -> dict[str, Any]:
    """The configuration of ``key`` as its record stores it."""
    wanted: dict[str, Any] = _normalised(spec.config(key).to_dict())
    return wanted


def plan(spec: SweepSpec, out_dir: Path) -> tuple[list[RunKey], int]:
    """The runs still to do, in the order they are handed out (see
    :func:`submission_order`), and how many finished ones are reused."""
    todo: list[RunKey] = []
    earlier: dict[RunKey, float] = {}
    reused = 0
    for key in spec.runs():
        record = read_record(out_dir / RUNS_DIR / key.slug)
        fingerprint = run_fingerprint(spec.config(key))
        if record is not None and reusable(record, _wanted(spec, key), fingerprint):
            reused += 1
            continue
        todo.append(key)
        wall = _earlier_wall(record)
        if wall is not None:
            earlier[key] = wall
    return submission_order(todo, earlier), reused


def _earlier_wall(record: dict[str, Any] | None) -> float | None:
    """The wall time an earlier record of the run took (not a crashed one; a timeout
    took at least its budget)."""
    if record is None or record.get("status") not in ("ok", "saturated", "timeout"):
        return None
    wall = (record.get("worker") or {}).get("wall_s")
    return float(wall) if isinstance(wall, int | float) and wall >= 0 else None


def submission_order(todo: list[RunKey], earlier: dict[RunKey, float]) -> list[RunKey]:
    """Longest runs first, so that no long run starts last and holds the sweep up while
    the other workers idle: by the wall time of an earlier record where every run to do
    has one (a sweep run again after a change of the simulator), else by arrival rate,
    highest first (more active jobs, longer runs, up to the knee); ties keep the spec's
    order. Records and tables are in the spec's order whatever this is."""
    if todo and all(key in earlier for key in todo):
        return sorted(todo, key=lambda key: -earlier[key])
    return sorted(todo, key=lambda key: -key.rate)


def run_sweep(
    spec: SweepSpec,
    out_dir: Path,
    backend: Callable[[], AbstractContextManager[Backend]],
    on_progress: Callable[[SweepState], None] = lambda state: None,
    on_backend: Callable[[Backend], None] = lambda backend: None,
) -> SweepOutcome:
    """Runs what is left of ``spec`` under ``out_dir`` and returns every record.

    Nothing is written until a backend is open (or nothing is left to run), so a
    backend that cannot start (an unreachable Dask scheduler) leaves no trace."""

    def prepare() -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(out_dir)
        write_json_atomic(out_dir / SPEC_FILE, spec.to_dict())

    todo, reused = plan(spec, out_dir)
    if not todo:
        prepare()
    state = SweepState(total=len(spec.runs()), reused=reused)
    started = time.perf_counter()
    on_progress(state)
    queue: Iterator[RunKey] = iter(todo)
    retry: list[RunKey] = []
    prepared = not todo
    while todo and (retry or state.finished < state.total):
        with backend() as opened:
            if not prepared:  # once: a replaced pool finds the directory ready
                prepare()
                prepared = True
            on_backend(opened)
            state.slots = opened.slots
            broken = _drain(spec, out_dir, opened, queue, retry, state, on_progress)
        if not broken:
            break
    records = load_records(out_dir, spec.runs())
    return SweepOutcome(out_dir, state, time.perf_counter() - started, records)


def _drain(
    spec: SweepSpec,
    out_dir: Path,
    opened: Backend,
    queue: Iterator[RunKey],
    retry: list[RunKey],
    state: SweepState,
    on_progress: Callable[[SweepState], None],
) -> bool:
    """Feeds runs to ``opened`` a few at a time; True if the pool broke (start another)."""
    limit = max(2, 2 * opened.slots)
    pending: dict[Future[dict[str, Any]], RunKey] = {}
    broken = False
    pending_keys = iter([*retry, *queue])
    retry.clear()

    def submit_more() -> None:
        while not broken and len(pending) < limit:
            key = next(pending_keys, None)
            if key is None:
                return
            pending[opened.executor.submit(run_one, spec.config(key))] = key

    submit_more()
    while pending:
        state.running = min(len(pending), opened.slots)
        on_progress(state)
        finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
        for future in finished:
            key = pending.pop(future)
            try:
                body = future.result()
            except BrokenProcessPool as exc:
                # the worker died (killed, out of memory): this run is an error record,
                # and the runs the pool still held are handed to a fresh pool
                broken = True
                body = {"status": "error", "error": f"worker process died: {exc}"}
                for other, other_key in pending.items():
                    other.cancel()
                    retry.append(other_key)
                pending.clear()
            except Exception as exc:  # e.g. a Dask worker lost for good
                body = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
            record = _record(spec, key, _wanted(spec, key), body)
            write_json_atomic(out_dir / RUNS_DIR / key.slug, record)
            _count(state, key, record)
            if broken:
                break
        if broken:
            retry.extend(pending_keys)
            break
        submit_more()
    state.running = 0
    on_progress(state)
    return broken


def _count(state: SweepState, key: RunKey, record: dict[str, Any]) -> None:
    state.done += 1
    status = record["status"]
    if status == "saturated":
        state.saturated += 1
    elif status == "timeout":
        state.timeouts += 1
    elif status == "error":
        state.errors += 1
        log.warning("sweep_run_failed", run=str(key), message=f"{key}: {record['error']}")
    worker = record.get("worker") or {}
    state.run_wall_s += float(worker.get("wall_s") or 0.0)
    result = record.get("result") or {}
    jct = result.get("avg_jct_h")
    what = f"{jct:.2f} h" if jct is not None else record["error"] or "no jobs finished"
    state.last = f"{key}: {status}, {what}"
