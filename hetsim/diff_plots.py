"""The diff's figures: the CDF of per-job JCT ratios, utilisation and queue over time.

Drawn on bare :class:`matplotlib.figure.Figure` objects (no pyplot) and written as
PNG and SVG with :func:`sweep.plots.figure_bytes` (the same bytes on every redraw).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from hetsim.output import dumps, write_bytes_atomic
from hetsim.rundir import StagedDir, check_target
from hetsim.runview import RunView
from sweep.plots import figure_bytes

HOUR = 3600.0


def ratio_cdf(ratios: np.ndarray, label_a: str, label_b: str) -> Figure:
    """Empirical CDF of JCT_B / JCT_A over the jobs compared (log-scaled x)."""
    fig = Figure(figsize=(7.0, 4.5))
    ax = fig.add_subplot()
    r = np.sort(ratios[np.isfinite(ratios) & (ratios > 0)])
    if r.size:
        y = np.arange(1, r.size + 1) / r.size
        ax.step(r, y, where="post", color="tab:blue")
        ax.set_xscale("log")
    ax.axvline(1.0, color="0.5", linewidth=0.8, linestyle="--")
    ax.set_xlabel(f"JCT ratio B / A (B: {label_b}, A: {label_a})")
    ax.set_ylabel("fraction of jobs")
    ax.set_ylim(0.0, 1.0)
    ax.set_title(f"Per-job JCT ratio over {r.size} jobs")
    ax.grid(True, color="0.85", linewidth=0.6)
    fig.tight_layout()
    return fig


def timelines(a: RunView, b: RunView) -> Figure:
    """Utilisation and waiting jobs over simulated time, both runs on each panel."""
    fig = Figure(figsize=(9.0, 6.0))
    util_ax, queue_ax = fig.subplots(2, 1, sharex=True)
    for view, label, colour in ((a, "A", "tab:blue"), (b, "B", "tab:orange")):
        tl = view.timeline
        if not tl or tl["time"].size == 0:
            continue
        hours = tl["time"] / HOUR
        util = tl["busy_gpus"] / max(view.total_gpus, 1)
        waiting = tl["active_jobs"] - tl["running_jobs"]
        name = f"{label}: {Path(view.name).name} ({view.kind})"
        util_ax.step(hours, util, where="post", color=colour, linewidth=0.7, label=name)
        queue_ax.step(hours, waiting, where="post", color=colour, linewidth=0.7, label=name)
    util_ax.set_ylabel("GPU utilisation")
    util_ax.set_ylim(0.0, 1.05)
    queue_ax.set_ylabel("waiting jobs")
    queue_ax.set_xlabel("simulated time (hours)")
    for ax in (util_ax, queue_ax):
        ax.grid(True, color="0.85", linewidth=0.6)
        ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    return fig


def write_figure(fig: Figure, out_dir: Path, stem: str) -> list[Path]:
    """Writes ``stem.png`` and ``stem.svg`` under ``out_dir``; returns their paths."""
    paths = []
    for fmt, data in figure_bytes(fig).items():
        path = out_dir / f"{stem}.{fmt}"
        write_bytes_atomic(path, data)
        paths.append(path)
    return paths


def write_outputs(
    out_dir: Path, report: dict[str, Any], a: RunView, b: RunView, rows: list[dict[str, Any]]
) -> list[Path]:
    """Writes the diff's folder whole or not at all: ``diff.json``, ``jct_ratios.csv``
    (one row per job compared), ``jct_ratio_cdf.png/.svg`` and ``timeline.png/.svg``."""
    check_target(out_dir, "-o", force=True)
    with StagedDir(out_dir, "-o") as staged:
        (staged.path / "diff.json").write_text(dumps(report), encoding="utf-8")
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=["job_id", "jct_a_s", "jct_b_s", "ratio"])
        writer.writeheader()
        writer.writerows(rows)
        (staged.path / "jct_ratios.csv").write_text(text.getvalue(), encoding="utf-8")
        ratios = np.array([r["ratio"] for r in rows if r["ratio"] is not None], dtype=float)
        label_a, label_b = Path(a.name).name, Path(b.name).name
        write_figure(ratio_cdf(ratios, label_a, label_b), staged.path, "jct_ratio_cdf")
        write_figure(timelines(a, b), staged.path, "timeline")
        names = sorted(p.name for p in staged.path.iterdir() if not p.name.startswith("."))
        staged.commit()
    return [out_dir / n for n in names]
