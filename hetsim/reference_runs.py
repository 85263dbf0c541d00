"""Reading a folder of the reference simulator's outputs as a :class:`RunView`.

The folders under ``shared/data/gavel/reference_runs/`` (their README describes
the columns) hold ``jct.csv`` (one row per finished job), ``placements.csv.gz`` (one
row per job per round it was given GPUs: the reference logs every placement every
round) and ``trace.tsv`` (the input, for arrival times). A crashed case has
``placements_until_crash.csv.gz`` instead, and no ``jct.csv``.

GPU numbering: the reference numbers its workers type by type in alphabetical type
order (for 36:36:36: K80 0-35, P100 36-71, V100 72-107); hetsim numbers them in
cluster order (V100 0-35, P100 36-71, K80 72-107). Ids are mapped by their rank
within the type, so the same physical slot has the same id in both runs.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from hetsim.errors import InputError
from hetsim.runview import Placement, Round, RunView, timeline_arrays

PLACEMENT_FILES = ("placements.csv.gz", "placements_until_crash.csv.gz")
DEFAULT_TYPES = ("v100", "p100", "k80")  # the reference's -c V100:P100:K80 order


def is_reference_run(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder of the reference's outputs (not a hetsim run)."""
    p = Path(path)
    return p.is_dir() and any((p / name).is_file() for name in PLACEMENT_FILES)


def renumbering(gpu_types: tuple[str, ...], counts: tuple[int, ...]) -> dict[str, int]:
    """Per type, what to add to a reference worker id to get hetsim's id."""
    hetsim_start: dict[str, int] = {}
    offset = 0
    for t, c in zip(gpu_types, counts, strict=True):
        hetsim_start[t] = offset
        offset += c
    ref_start: dict[str, int] = {}
    offset = 0
    for t in sorted(gpu_types):
        ref_start[t] = offset
        offset += counts[gpu_types.index(t)]
    return {t: hetsim_start[t] - ref_start[t] for t in gpu_types}


def _cluster(summary: dict[str, Any]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    text = str(summary.get("cluster_spec_v100_p100_k80", "36:36:36"))
    try:
        counts = tuple(int(v) for v in text.split(":"))
    except ValueError:
        raise InputError(
            f"'{text}' is not V100:P100:K80 counts", field="cluster_spec_v100_p100_k80"
        ) from None
    if len(counts) != len(DEFAULT_TYPES):
        raise InputError(
            f"'{text}' is not V100:P100:K80 counts", field="cluster_spec_v100_p100_k80"
        )
    return DEFAULT_TYPES, counts


def _band(summary: dict[str, Any]) -> tuple[int, int] | None:
    """The band from ``band_job_ids`` ("2000:2500 (start inclusive, ...)"), if given."""
    text = str(summary.get("band_job_ids") or "").split(" ")[0]
    try:
        start, end = (int(v) for v in text.split(":"))
    except ValueError:
        return None
    return start, end


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        yield from enumerate(csv.DictReader(fh), start=2)


def _arrivals(trace: Path) -> dict[int, float]:
    """Arrival time of every job of the trace (job ids are line numbers from 0)."""
    out: dict[int, float] = {}
    with trace.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if line.strip():
                try:
                    out[i] = float(line.rstrip("\n").split("\t")[-1])
                except ValueError:
                    raise InputError(
                        "not a number", source=str(trace), line=i + 1, field="arrival_time"
                    ) from None
    return out


def load_reference_run(path: str | os.PathLike[str]) -> RunView:
    """Reads a reference run folder; InputError naming the file, line and field."""
    root = Path(path)
    summary_path = root / "summary.json"
    summary: dict[str, Any] = {}
    if summary_path.is_file():
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    gpu_types, counts = _cluster(summary)
    view = RunView(
        name=str(root),
        kind="reference",
        gpu_types=gpu_types,
        gpu_counts=counts,
        window=None,
        arrival={},
        jct={},
        rounds=[],
    )
    trace = root / "trace.tsv"
    if trace.is_file():
        view.arrival = _arrivals(trace)
    _read_jct(root / "jct.csv", view)
    placements = next((root / n for n in PLACEMENT_FILES if (root / n).is_file()), None)
    if placements is None:
        raise InputError(f"no {' or '.join(PLACEMENT_FILES)}", source=str(root))
    _read_placements(placements, view, renumbering(gpu_types, counts))
    view.round_details = lambda r, jobs: _row_details(placements, r, jobs)
    if view.window is None:
        view.window = _band(summary)
    printed = summary.get("band_average_jct_s_printed")
    view.reported_avg_jct_s = float(printed) if printed not in (None, "") else None
    return view


def _read_jct(path: Path, view: RunView) -> None:
    if not path.is_file():
        return  # a crashed case: no job finished as far as the table goes
    band: list[int] = []
    source = str(path)
    key = ""
    for lineno, row in _rows(path):
        try:
            key = "job_id"
            job = int(row[key])
            key = "arrival_time_s"
            view.arrival.setdefault(job, float(row[key]))
            key = "jct_driver_s" if row.get("jct_driver_s") else "jct_s"
            view.jct[job] = float(row[key])
            key = "in_band"
            if row[key] == "1":
                band.append(job)
        except (KeyError, TypeError, ValueError):
            raise InputError(
                "missing or not a number", source=source, line=lineno, field=key
            ) from None
    if band:
        view.window = (min(band), max(band) + 1)


def _read_placements(path: Path, view: RunView, shift: dict[str, int]) -> None:
    source = str(path)
    current: dict[int, Placement] = {}
    current_time: str | None = None
    number = 0
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        try:
            c_time, c_job, c_type, c_ids = (
                header.index(k) for k in ("sim_time_s", "job_id", "worker_type", "worker_ids")
            )
        except ValueError as exc:
            raise InputError(f"missing column ({exc})", source=source, line=1) from None
        for lineno, row in enumerate(reader, start=2):
            try:
                stamp = row[c_time]
                job = int(row[c_job])
                gpu_type = row[c_type]
                off = shift[gpu_type]
                gpus = tuple(sorted(int(w) + off for w in row[c_ids].split()))
            except (IndexError, KeyError, ValueError) as exc:
                raise InputError(f"bad row ({exc!r})", source=source, line=lineno) from None
            if stamp != current_time:
                if current_time is not None:
                    view.rounds.append(Round(float(current_time), number, current))
                number += 1
                current, current_time = {}, stamp
            current[job] = (gpu_type, gpus)
    if current_time is not None:
        view.rounds.append(Round(float(current_time), number, current))
    finishes = [view.arrival[j] + v for j, v in view.jct.items() if j in view.arrival]
    view.end_time = max([r.time for r in view.rounds[-1:]] + finishes, default=0.0)
    view.timeline = _timeline(view)


def _timeline(view: RunView) -> dict[str, np.ndarray]:
    """Busy GPUs and running jobs per logged round; active jobs from arrivals and
    completions (a job is active from its arrival until it finishes)."""
    times = [r.time for r in view.rounds]
    arrivals = np.sort(np.fromiter(view.arrival.values(), dtype=float))
    done = [view.arrival[j] + v for j, v in view.jct.items() if j in view.arrival]
    finish = np.sort(np.array(done, dtype=float))
    t = np.asarray(times, dtype=float)
    active = np.searchsorted(arrivals, t, side="right") - np.searchsorted(finish, t, side="right")
    busy = [sum(len(g) for _, g in r.placements.values()) for r in view.rounds]
    running = [len(r.placements) for r in view.rounds]
    return timeline_arrays(times, busy, active.tolist(), running)


def _row_details(path: Path, at: Round, jobs: list[int]) -> dict[int, dict[str, Any]]:
    """The reference's priority, deficit and allocation of each job in round ``at``, as
    its log printed them (jobs it did not place that round have none)."""
    wanted = set(jobs)
    out: dict[int, dict[str, Any]] = {j: {} for j in jobs}
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            t = float(row["sim_time_s"])
            if t > at.time:
                break
            job = int(row["job_id"])
            if t == at.time and job in wanted:
                out[job] = {
                    "priority": row.get("priority"),
                    "deficit": row.get("deficit"),
                    "allocation": row.get("allocation"),
                }
    return out
