"""GPUVIZ01 fixtures: synthetic runs for the codec tests, and files for the JS tests.

``python -m tests.viz_fixtures DIR`` writes, for each fixture, ``NAME.viz.bin`` (the
Python encoder's bytes) and ``NAME.json`` (the Python decoder's view of it, field by
field), which the node tests in viz/web/test/ compare with the JS decoder's view.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from viz.decode import decode
from viz.encode import encode
from viz.format import IDLE, JOB_FINISHED
from viz.rundata import RunData


def synthetic(
    seed: int = 0,
    rounds: int = 30,
    counts: tuple[int, ...] = (4, 2, 3),
    first_id: int = 70_000,
    num_jobs: int = 12,
    idle_fraction: float = 0.4,
) -> RunData:
    """A small run with random placements (ids above 65,535 by default), idle GPUs and
    some empty queues."""
    rng = np.random.default_rng(seed)
    m, g = len(counts), sum(counts)
    ids = np.sort(
        rng.choice(np.arange(first_id, first_id + 10 * num_jobs), num_jobs, replace=False)
    )
    grid = rng.choice(ids, size=(rounds, g)).astype(np.uint32)
    grid[rng.random((rounds, g)) < idle_fraction] = IDLE
    gpu_type = np.repeat(np.arange(m), counts)
    busy = np.stack([(grid[:, gpu_type == k] != IDLE).sum(axis=1) for k in range(m)], axis=1)
    queues = []
    for r in range(rounds):
        running = set(grid[r].tolist()) - {IDLE}
        free = [j for j in ids.tolist() if j not in running]
        take = int(rng.integers(0, len(free) + 1)) if r % 3 else 0  # every third round empty
        queues.append(np.array(sorted(rng.choice(free, take, replace=False)), dtype=np.uint32))
    finish = rng.uniform(100, 1000, num_jobs)
    finish[::4] = np.nan
    names = [f"util_{k}" for k in range(m)] + ["waiting_jobs", "phase"]
    series = rng.random((len(names), rounds)).astype(np.float32)
    if rounds:
        series[-2, 0] = np.nan
    return RunData(
        meta={"config": {"policy": "synthetic", "seed": seed}, "end_reason": "test"},
        type_names=[f"type{k}" for k in range(m)],
        counts=list(counts),
        gpus_per_server=[1] * m,
        round_s=360.0,
        models=["ResNet-18 (batch size 64)", "Transformer (batch size 128)"],
        job_ids=ids.astype(np.uint32),
        job_arrival_round=rng.integers(0, max(rounds, 1), num_jobs).astype(np.uint32),
        job_finish_round=np.where(np.isnan(finish), IDLE, rounds - 1).astype(np.uint32),
        job_gpus=rng.choice([1, 2, 4, 8], num_jobs).astype(np.uint8),
        job_model=rng.integers(0, 2, num_jobs).astype(np.uint8),
        job_flags=np.where(np.isnan(finish), 0, JOB_FINISHED).astype(np.uint16),
        job_arrival_s=rng.uniform(0, 100, num_jobs),
        job_finish_s=finish,
        job_rounds_run=rng.integers(0, max(rounds, 1), (num_jobs, m)).astype(np.uint32),
        round_time=np.cumsum(rng.uniform(300, 400, rounds)),
        round_no=np.arange(1, rounds + 1, dtype=np.uint32),
        round_active=np.array(
            [len(set(grid[r].tolist()) - {IDLE}) + queues[r].size for r in range(rounds)],
            dtype=np.uint32,
        ),
        round_running=np.array(
            [len(set(grid[r].tolist()) - {IDLE}) for r in range(rounds)], dtype=np.uint32
        ),
        round_completed=np.arange(rounds, dtype=np.uint32),
        round_phase=np.minimum(np.arange(rounds) // 10, 3).astype(np.uint8),
        round_flags=(np.arange(rounds) % 5 == 0).astype(np.uint8),
        round_busy=busy.astype(np.uint16),
        round_gpu_job=grid,
        queues=queues,
        series_names=names,
        series=series,
    )


def _num(v: float) -> float | None:
    return None if math.isnan(v) else float(v)


def view(data: bytes) -> dict[str, Any]:
    """The Python decoder's view of a file as JSON-ready values (NaN as null)."""
    run = decode(data)
    return {
        "meta": run.meta,
        "types": [
            {"name": n, "count": c, "gpusPerServer": s}
            for n, c, s in zip(run.type_names, run.counts, run.gpus_per_server, strict=True)
        ],
        "models": run.models,
        "roundS": run.round_s,
        "jobs": [
            {
                "id": int(run.job_ids[i]),
                "arrivalRound": int(run.job_arrival_round[i]),
                "finishRound": int(run.job_finish_round[i]),
                "gpus": int(run.job_gpus[i]),
                "model": int(run.job_model[i]),
                "flags": int(run.job_flags[i]),
                "arrivalS": _num(run.job_arrival_s[i]),
                "finishS": _num(run.job_finish_s[i]),
                "roundsRun": run.job_rounds_run[i].tolist(),
            }
            for i in range(run.job_ids.size)
        ],
        "rounds": [
            {
                "time": float(run.round_time[k]),
                "round": int(run.round_no[k]),
                "active": int(run.round_active[k]),
                "running": int(run.round_running[k]),
                "completed": int(run.round_completed[k]),
                "phase": int(run.round_phase[k]),
                "flags": int(run.round_flags[k]),
                "busy": run.round_busy[k].tolist(),
                "gpus": run.round_gpu_job[k].tolist(),
                "queue": run.queues[k].tolist(),
            }
            for k in range(run.num_rounds)
        ],
        "series": {
            name: [_num(v) for v in run.series[i].tolist()]
            for i, name in enumerate(run.series_names)
        },
    }


def write_fixtures(out: Path, run_dirs: tuple[Path, ...] = ()) -> list[Path]:
    """Writes the fixtures (synthetic ones, raw and compact queues, and any run
    directories given); returns the .viz.bin paths."""
    out.mkdir(parents=True, exist_ok=True)
    blobs = {
        "synthetic-compact": encode(synthetic(1), compact_queue=True),
        "synthetic-raw": encode(
            synthetic(2, counts=(3, 5), first_id=4_000_000_000), compact_queue=False
        ),
        "synthetic-empty": encode(synthetic(3, rounds=0)),
    }
    from viz.rundata import read_run

    for d in run_dirs:
        blobs[f"run-{d.name}"] = encode(read_run(d))
    paths = []
    for name, blob in blobs.items():
        path = out / f"{name}.viz.bin"
        path.write_bytes(blob)
        (out / f"{name}.json").write_text(json.dumps(view(blob), allow_nan=False), encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":
    target = Path(sys.argv[1])
    for p in write_fixtures(target, tuple(Path(a) for a in sys.argv[2:])):
        print(p)
