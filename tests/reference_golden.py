"""Golden outputs of the reference simulator, compacted, and the round-by-round view of a
hetsim run to compare them with.

The reference (Gavel c4fa400) was run on traces written by ``hetsim trace``; its outputs
are in ``shared/data/gavel/reference_runs/`` (see its README). What the regression test
needs of them is shipped here, in ``tests/data/reference_runs/<case>.json.gz``:

- the case: policy, seed, rate, multi-GPU, job count, measurement band;
- the trace's sha256 (the test writes the trace again with hetsim's generator and
  checks it, so the trace itself need not be shipped);
- every round the reference logged: its start time (as printed) and a digest of its
  placements, by (job, GPU type) and by (job, GPU type, GPU ids in hetsim's numbering);
- each band job's JCT (the driver's, 3 decimals), the printed band average, and the
  jobs the reference failed.

``python -m tests.reference_golden SHARED_DIR`` rebuilds the files from the shared data.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent / "data" / "reference_runs"
CASES = ("g1", "g2", "g3", "g4", "g5", "g6")

# The reference numbers its K80 workers 0-35, P100s 36-71, V100s 72-107 (36:36:36);
# hetsim numbers V100s 0-35, P100s 36-71, K80s 72-107.
_REFERENCE_TO_HETSIM = {"k80": 72, "p100": 0, "v100": -72}

Placement = dict[int, tuple[str, tuple[int, ...]]]


def digest(placements: Placement, with_ids: bool) -> str:
    """A short hash of one round's placements (order-free)."""
    items = sorted(
        f"{job}:{gpu_type}:{','.join(map(str, ids)) if with_ids else ''}"
        for job, (gpu_type, ids) in placements.items()
    )
    return hashlib.sha1("|".join(items).encode()).hexdigest()[:12]


def _reference_rounds(folder: Path) -> Iterator[tuple[str, Placement]]:
    name = "placements.csv.gz"
    if not (folder / name).exists():
        name = "placements_until_crash.csv.gz"
    current: str | None = None
    round_: Placement = {}
    with gzip.open(folder / name, "rt") as f:
        for row in csv.DictReader(f):
            t = row["sim_time_s"]
            if t != current:
                if current is not None:
                    yield current, round_
                current, round_ = t, {}
            offset = _REFERENCE_TO_HETSIM[row["worker_type"]]
            ids = tuple(sorted(int(w) + offset for w in row["worker_ids"].split()))
            round_[int(row["job_id"])] = (row["worker_type"], ids)
    if current is not None:
        yield current, round_


def build(shared: Path, case: str) -> dict[str, Any]:
    """The compact golden of one case from the shared reference outputs."""
    folder = shared / "data" / "gavel" / "reference_runs" / case
    summary = json.loads((folder / "summary.json").read_text())
    trace = summary["trace"]
    band = [int(x) for x in summary["band_job_ids"].split()[0].split(":")]
    jct: dict[str, float] = {}
    if (folder / "jct.csv").exists():
        with open(folder / "jct.csv") as f:
            for row in csv.DictReader(f):
                if row["in_band"] == "1":
                    jct[row["job_id"]] = float(row["jct_driver_s"])
    printed = summary.get("band_average_jct_s_printed")
    return {
        "case": case,
        "source": f"shared/data/gavel/reference_runs/{case} (Gavel {summary['gavel_commit']})",
        "policy": summary["policy"],
        "seed": trace["seed"],
        "rate": trace["rate_jobs_per_hour"],
        "jobs": trace["jobs"],
        "multi_gpu": trace["multi_gpu"],
        "band": band,
        "trace_sha256": hashlib.sha256((folder / "trace.tsv").read_bytes()).hexdigest(),
        "band_average_s": None if printed is None else float(printed),
        "band_jct_s": jct,
        "failed": [int(j["job_id"]) for j in summary.get("jobs_failed", [])],
        "crash_time_s": summary.get("crash_sim_time_s"),
        "rounds": [[t, digest(p, False), digest(p, True)] for t, p in _reference_rounds(folder)],
    }


def load(case: str) -> dict[str, Any]:
    with gzip.open(HERE / f"{case}.json.gz", "rt") as f:
        data: dict[str, Any] = json.load(f)
    return data


def hetsim_rounds(events: Iterable[str]) -> Iterator[tuple[float, Placement]]:
    """Each round of a hetsim run in which some job ran: its start and its placements,
    rebuilt from ``events.jsonl`` lines (placements are logged as changes; a job that
    finished or failed during a round is gone from the next)."""
    state: Placement = {}
    gone: set[int] = set()
    start: float | None = None
    for line in events:
        e = json.loads(line)
        name = e["event"]
        if name == "round_started":
            if start is not None and state:
                yield start, dict(state)
            for job in gone:
                state.pop(job, None)
            gone = set()
            start = float(e["sim_time"])
        elif name == "job_placed":
            state[e["job_id"]] = (e["gpu_type"], tuple(sorted(e["gpus"])))
        elif name == "job_preempted":
            state.pop(e["job_id"], None)
        elif name in ("job_completed", "job_failed"):
            gone.add(e["job_id"])
    if start is not None and state:
        yield start, dict(state)


def main(argv: list[str]) -> None:
    shared = Path(argv[1]) if len(argv) > 1 else Path(__file__).parents[2] / "shared"
    HERE.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        data = build(shared, case)
        with gzip.GzipFile(HERE / f"{case}.json.gz", "wb", mtime=0) as f:
            f.write(json.dumps(data, separators=(",", ":")).encode())
        print(case, len(data["rounds"]), "rounds")


if __name__ == "__main__":
    main(sys.argv)
