"""Turns a run's outcome into the result record written as result.json.

Averages and percentiles are over the measurement window's jobs that finished; jobs
that never finished are counted, never averaged (an average over nothing is null).
Wall-clock fields are listed in :data:`WALL_CLOCK_FIELDS` so that two runs of the
same configuration can be compared byte for byte without them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import hetsim
from des.provenance import provenance
from des.simulation import RunOutcome

HOUR = 3600.0

# Dotted paths of the fields that depend on the machine's speed, not on the model.
WALL_CLOCK_FIELDS = ("wall_time_s", "solver.time_s", "profile")


def _percentile(values: np.ndarray, q: float) -> float | None:
    return float(np.percentile(values, q)) if values.size else None


def build_result(outcome: RunOutcome) -> dict[str, Any]:
    """The result record of a run (JSON-ready; key order is stable)."""
    cfg = outcome.config
    window = cfg.window
    completions = outcome.completions
    window_total: int | None
    if window is not None:
        jcts = completions.jcts(window.start, window.end)
        window_total = window.size
        window_desc: dict[str, Any] | None = {"start": window.start, "end": window.end}
    else:
        jcts = completions.jcts()
        window_total = outcome.jobs_arrived if outcome.end_reason == "all_jobs_done" else None
        window_desc = None
    avg = float(jcts.mean()) if jcts.size else None
    sim_time = outcome.sim_time
    capacity = np.array(outcome.gpu_counts, dtype=float) * sim_time
    overall = float(outcome.busy_gpu_s / capacity.sum()) if capacity.sum() > 0 else 0.0
    per_type = {
        name: (float(busy / cap) if cap > 0 else None)
        for name, busy, cap in zip(
            outcome.gpu_type_names, outcome.busy_gpu_s_by_type, capacity, strict=True
        )
    }
    verdict = outcome.saturation
    unfinished = None if window_total is None else window_total - jcts.size
    if window is not None:
        unrunnable = sum(1 for j in outcome.unrunnable if j in window)
        failed = sum(1 for f in outcome.failed if f.job_id in window)
    else:
        unrunnable = len(outcome.unrunnable)
        failed = len(outcome.failed)

    return {
        "hetsim_version": hetsim.__version__,
        "end_reason": outcome.end_reason,
        "avg_jct_s": avg,
        "avg_jct_h": None if avg is None else avg / HOUR,
        "jct_p50_s": _percentile(jcts, 50),
        "jct_p90_s": _percentile(jcts, 90),
        "jct_p99_s": _percentile(jcts, 99),
        "window": window_desc,
        "window_jobs_completed": int(jcts.size),
        "window_jobs_total": window_total,
        "window_jobs_unfinished": unfinished,
        "window_jobs_unrunnable": unrunnable,
        "window_jobs_failed": failed,
        "saturated": verdict is not None,
        "saturation_reason": None if verdict is None else verdict.reason,
        "saturation_message": None if verdict is None else verdict.message,
        "saturation_time_s": None if verdict is None else verdict.time,
        "utilization": {"overall": overall, "per_type": per_type},
        # types whose last server is smaller than the rest: {type: its size}
        "partial_servers": cfg.cluster.partial_servers(),
        "jobs_arrived": outcome.jobs_arrived,
        "jobs_completed": len(completions),
        "jobs_failed": [f.job_id for f in outcome.failed],
        "rounds": outcome.rounds,
        "sim_time_s": sim_time,
        "wall_time_s": outcome.wall_time,
        "solver": outcome.solver,
        "profile": outcome.profile,
        "exception": None,
        "provenance": provenance(cfg.workload.trace_path, cfg.workload.throughputs_path),
        "trace": outcome.trace,
        "config": cfg.to_dict(),
    }


def strip_wall_clock(result: dict[str, Any]) -> dict[str, Any]:
    """A copy of a result without the machine-dependent fields (for comparisons)."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in result.items()}
    for path in WALL_CLOCK_FIELDS:
        head, _, tail = path.partition(".")
        if tail:
            out.get(head, {}).pop(tail, None)
        else:
            out.pop(head, None)
    return out
