"""The diff of two runs on the same jobs: where their placements part, how each job's
JCT changed, utilisation and queue over time, a summary table.

:func:`compare` takes two :class:`~hetsim.runview.RunView` (hetsim runs or reference
folders, see :func:`load_run`) and returns a JSON-ready report. The ratio of a job is
``JCT_B / JCT_A``: above 1 the job was slower in B. Both runs' busy rounds are paired
by their order (the ``k``-th round in which some job held GPUs in each): the first
pair whose job-to-type assignment differs is the first *differing round*; the first
pair whose GPU ids differ (the same jobs on the same types, other slots) is reported
as well.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from hetsim.reference_runs import is_reference_run, load_reference_run
from hetsim.runview import Placement, Round, RunView, load_hetsim_run

HOUR = 3600.0
ABS_TOLERANCE_S = 0.01
REL_TOLERANCE = 0.01


def load_run(path: str | os.PathLike[str]) -> RunView:
    """A hetsim output directory or a reference run folder, whichever ``path`` is."""
    return load_reference_run(path) if is_reference_run(path) else load_hetsim_run(path)


def _fmt(p: Placement | None) -> str | None:
    if p is None:
        return None
    return f"{p[0]} {','.join(str(g) for g in p[1])}"


def _round_info(r: Round) -> dict[str, Any]:
    return {"sim_time": r.time, "round": r.number, "jobs_running": len(r.placements)}


def _round_changes(ra: Round, rb: Round, *, types_only: bool) -> list[dict[str, Any]]:
    out = []
    for job in sorted(set(ra.placements) | set(rb.placements)):
        pa, pb = ra.placements.get(job), rb.placements.get(job)
        same = (pa and pa[0]) == (pb and pb[0]) if types_only else pa == pb
        if not same:
            out.append({"job_id": job, "a": _fmt(pa), "b": _fmt(pb)})
    return out


def _add_details(changes: list[dict[str, Any]], view: RunView, r: Round, key: str) -> None:
    """What the run knew of the differing jobs in that round (its allocation, and for the
    reference its printed priority and deficit), under ``details_a`` / ``details_b``."""
    if view.round_details is None:
        return
    details = view.round_details(r, [c["job_id"] for c in changes])
    for c in changes:
        c[f"details_{key}"] = details.get(c["job_id"])


def first_differences(a: RunView, b: RunView) -> dict[str, Any]:
    """The first paired busy round whose job-to-type assignment differs, and the first
    whose GPU ids differ; each with both runs' times and the jobs that differ there."""
    out: dict[str, Any] = {"rounds_compared": min(len(a.rounds), len(b.rounds))}
    for key, types_only in (("first_differing_round", True), ("first_differing_gpus", False)):
        found = None
        for k, (ra, rb) in enumerate(zip(a.rounds, b.rounds, strict=False)):
            if types_only:
                same = {j: p[0] for j, p in ra.placements.items()} == {
                    j: p[0] for j, p in rb.placements.items()
                }
            else:
                same = ra.placements == rb.placements
            if not same:
                changes = _round_changes(ra, rb, types_only=types_only)
                if types_only:
                    _add_details(changes, a, ra, "a")
                    _add_details(changes, b, rb, "b")
                found = {
                    "index": k + 1,
                    "a": _round_info(ra),
                    "b": _round_info(rb),
                    "jobs_differing": len(changes),
                    "jobs": changes,
                }
                break
        if found is None and len(a.rounds) != len(b.rounds):
            k = out["rounds_compared"]
            longer = a if len(a.rounds) > k else b
            found = {
                "index": k + 1,
                "a": _round_info(a.rounds[k]) if longer is a else None,
                "b": _round_info(b.rounds[k]) if longer is b else None,
                "jobs_differing": len(longer.rounds[k].placements),
                "jobs": [],
            }
        out[key] = found
    return out


def jct_ratios(a: RunView, b: RunView) -> dict[int, tuple[float, float]]:
    """(JCT in A, JCT in B) of every job that finished in both, restricted to A's
    window (B's when A has none) when there is one."""
    window = a.window or b.window
    common = set(a.jct) & set(b.jct)
    if window is not None:
        common = {j for j in common if window[0] <= j < window[1]}
    return {j: (a.jct[j], b.jct[j]) for j in sorted(common)}


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None


def _timeline_means(v: RunView) -> dict[str, float | None]:
    """Time-weighted means over the run (each round weighs its length)."""
    tl = v.timeline
    t = tl.get("time")
    if t is None or t.size == 0:
        return {"utilization": None, "active_jobs": None, "waiting_jobs": None}
    end = max(v.end_time or t[-1], t[-1])
    w = np.diff(np.append(t, end))
    if w.sum() <= 0:
        w = np.ones_like(t)
    waiting = tl["active_jobs"] - tl["running_jobs"]
    return {
        "utilization": float(np.average(tl["busy_gpus"], weights=w) / max(v.total_gpus, 1)),
        "active_jobs": float(np.average(tl["active_jobs"], weights=w)),
        "waiting_jobs": float(np.average(waiting, weights=w)),
    }


def compare(a: RunView, b: RunView, *, top: int = 10) -> dict[str, Any]:
    """The whole report (JSON-ready)."""
    if a.gpu_types and b.gpu_types and sorted(a.gpu_types) != sorted(b.gpu_types):
        raise ValueError(f"the runs have different GPU types: {a.gpu_types} vs {b.gpu_types}")
    pairs = jct_ratios(a, b)
    ids = np.array(list(pairs), dtype=np.int64)
    ja = np.array([p[0] for p in pairs.values()], dtype=float)
    jb = np.array([p[1] for p in pairs.values()], dtype=float)
    ratio = np.divide(jb, ja, out=np.full_like(jb, np.nan), where=ja > 0)
    diff = np.abs(jb - ja)
    window = a.window or b.window
    window_jobs = set(a.window_jobs()) | set(b.window_jobs())
    n_window = len(window_jobs)
    order = np.argsort(ratio, kind="stable")

    def job_rows(idx: np.ndarray) -> list[dict[str, Any]]:
        return [
            {
                "job_id": int(ids[i]),
                "jct_a_s": float(ja[i]),
                "jct_b_s": float(jb[i]),
                "ratio": float(ratio[i]),
            }
            for i in idx
        ]

    runs = {}
    for key, v in (("a", a), ("b", b)):
        runs[key] = {
            "path": v.name,
            "kind": v.kind,
            "window_avg_jct_s": v.window_avg_jct(),
            "reported_avg_jct_s": v.reported_avg_jct_s,
            "window_jobs_completed": len(v.window_jobs()),
            "jobs_completed": len(v.jct),
            "busy_rounds": len(v.rounds),
            "end_time_s": v.end_time,
            **_timeline_means(v),
        }
    finite = ratio[np.isfinite(ratio)]
    return {
        "window": None if window is None else {"start": window[0], "end": window[1]},
        "runs": runs,
        "placements": first_differences(a, b),
        "jct": {
            "jobs_compared": int(ids.size),
            "window_jobs": n_window,
            "within_abs_s": ABS_TOLERANCE_S,
            "within_abs": int((diff <= ABS_TOLERANCE_S).sum()),
            "within_abs_fraction": (
                float((diff <= ABS_TOLERANCE_S).sum() / n_window) if n_window else None
            ),
            "within_rel": REL_TOLERANCE,
            "within_rel_count": int((diff <= REL_TOLERANCE * jb).sum()),
            "within_rel_fraction": (
                float((diff <= REL_TOLERANCE * jb).sum() / n_window) if n_window else None
            ),
            "ratio_mean": _mean(finite),
            "ratio_median": float(np.median(finite)) if finite.size else None,
            "ratio_min": float(finite.min()) if finite.size else None,
            "ratio_max": float(finite.max()) if finite.size else None,
            "most_slowed": job_rows(order[np.isfinite(ratio[order])][::-1][:top]),
            "most_sped_up": job_rows(order[np.isfinite(ratio[order])][:top]),
        },
    }


def ratio_table(a: RunView, b: RunView) -> list[dict[str, Any]]:
    """One row per job compared: its id and both JCTs and their ratio."""
    return [
        {"job_id": j, "jct_a_s": x, "jct_b_s": y, "ratio": (y / x) if x > 0 else None}
        for j, (x, y) in jct_ratios(a, b).items()
    ]


def _h(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds / HOUR:.4f} h"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def report_lines(report: dict[str, Any]) -> list[str]:
    """The report as text for the terminal."""
    ra, rb = report["runs"]["a"], report["runs"]["b"]
    j = report["jct"]
    w = report["window"]
    wdesc = f"window {w['start']}:{w['end']}" if w else "all jobs"
    rows = [
        ("", "A", "B"),
        ("run", ra["path"], rb["path"]),
        (f"{wdesc} avg JCT", _h(ra["window_avg_jct_s"]), _h(rb["window_avg_jct_s"])),
        ("reported avg JCT", _h(ra["reported_avg_jct_s"]), _h(rb["reported_avg_jct_s"])),
        (
            "window jobs finished",
            str(ra["window_jobs_completed"]),
            str(rb["window_jobs_completed"]),
        ),
        ("jobs finished", str(ra["jobs_completed"]), str(rb["jobs_completed"])),
        ("busy rounds", str(ra["busy_rounds"]), str(rb["busy_rounds"])),
        ("end (sim)", _h(ra["end_time_s"]), _h(rb["end_time_s"])),
        ("utilisation (time-weighted)", _pct(ra["utilization"]), _pct(rb["utilization"])),
        ("waiting jobs (mean)", _num(ra["waiting_jobs"]), _num(rb["waiting_jobs"])),
    ]
    width0 = max(len(r[0]) for r in rows)
    width1 = max(len(r[1]) for r in rows)
    lines = [f"{r[0]:{width0}s}  {r[1]:{width1}s}  {r[2]}" for r in rows]
    n = j["window_jobs"]
    lines.append(
        f"JCT B/A over {j['jobs_compared']} jobs finished in both: "
        f"within {j['within_abs_s']} s: {j['within_abs']}/{n} ({_pct(j['within_abs_fraction'])}), "
        f"within {j['within_rel']:.0%}: {j['within_rel_count']}/{n} "
        f"({_pct(j['within_rel_fraction'])}); ratio median {_num(j['ratio_median'])}, "
        f"min {_num(j['ratio_min'])}, max {_num(j['ratio_max'])}"
    )
    for key, label in (("most_slowed", "most slowed in B"), ("most_sped_up", "most sped up in B")):
        top = ", ".join(f"{r['job_id']} x{r['ratio']:.3f}" for r in j[key][:5])
        lines.append(f"  {label}: {top or 'none'}")
    pl = report["placements"]
    for key, label in (
        ("first_differing_round", "first round whose job-to-type placements differ"),
        ("first_differing_gpus", "first round whose GPU ids differ"),
    ):
        d = pl[key]
        if d is None:
            lines.append(f"{label}: none in {pl['rounds_compared']} busy rounds")
            continue
        da, db = d["a"], d["b"]
        ta = "-" if da is None else f"A round {da['round']} at {da['sim_time']:.2f} s"
        tb = "-" if db is None else f"B round {db['round']} at {db['sim_time']:.2f} s"
        lines.append(
            f"{label}: busy round {d['index']} ({ta}, {tb}), {d['jobs_differing']} jobs differ"
        )
        for c in d["jobs"][:10]:
            lines.append(f"    job {c['job_id']}: A {c['a'] or '-'} | B {c['b'] or '-'}")
            for side in ("a", "b"):
                info = c.get(f"details_{side}")
                if info:
                    text = ", ".join(f"{k} {_short(v)}" for k, v in info.items() if v is not None)
                    lines.append(f"        {side.upper()}: {text}")
        if d["jobs_differing"] > 10:
            lines.append(f"    ... and {d['jobs_differing'] - 10} more")
    return lines


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return (
            "["
            + " ".join(
                f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in value.items()
            )
            + "]"
        )
    if isinstance(value, list):
        return "/".join(str(v) for v in value)
    return str(value)


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"
