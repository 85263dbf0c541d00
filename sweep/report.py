"""A sweep's report: ``comparison.csv``, ``plots/jct_vs_rate.{png,svg}`` and the printed table.

:func:`write_report` builds it from the result rows and the sweep's description
(``sweep.json``: name, title, trace, policies, rates, seeds, quick);
:func:`redraw` rebuilds it from a sweep directory's ``results.csv`` alone, so a
finished (or half-finished) sweep can be re-plotted without running anything.
Every file is written through a temporary file in the same directory.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hetsim.errors import InputError
from hetsim.output import write_bytes_atomic
from sweep import compare, series
from sweep.published import load_published, load_published_means
from sweep.spec import SPEC_FILE
from sweep.table import RESULTS_CSV, read_results

COMPARISON_CSV = "comparison.csv"
PLOTS_DIR = "plots"
PLOT_STEM = "jct_vs_rate"


def plot_title(sweep: dict[str, Any]) -> str:
    """``fig9: Single-GPU jobs, LAS (seed 0)``; ``(mean of 3 seeds)`` for several."""
    name, title = str(sweep.get("name") or ""), str(sweep.get("title") or "")
    head = f"{name}: {title}" if name and title and title != name else (title or name)
    seeds = list(sweep.get("seeds") or [])
    which = f"seed {seeds[0]}" if len(seeds) == 1 else f"mean of {len(seeds)} seeds"
    if sweep.get("quick"):
        which += ", quick"
    return f"{head} ({which})" if seeds else head


PUBLISHED_SETUP = {
    "cluster": {"v100": 36, "p100": 36, "k80": 36},
    "window": "4000:5000",
}


def setup_differences(sweep: dict[str, Any]) -> list[str]:
    """How the sweep's setup differs from the published curves' (36:36:36, window
    4000:5000, the reference's quirks); parts the description lacks count as equal."""
    found = []
    cluster = sweep.get("cluster")
    if isinstance(cluster, dict):
        types = cluster.get("gpu_types") or []
        counts = cluster.get("counts") or []
        if dict(zip(types, counts, strict=False)) != PUBLISHED_SETUP["cluster"]:
            found.append(
                "cluster " + ":".join(f"{t}={c}" for t, c in zip(types, counts, strict=False))
            )
    window = sweep.get("window")
    if window is not None and window != PUBLISHED_SETUP["window"]:
        found.append(f"window {window}")
    if sweep.get("quirks", "gavel") != "gavel":
        found.append(f"quirks {sweep.get('quirks')}")
    return found


def write_report(out_dir: Path, rows: list[dict[str, Any]], sweep: dict[str, Any]) -> list[str]:
    """Writes ``comparison.csv`` and the plots under ``out_dir``; the printed lines.

    One curve per policy, or per policy and server size when the rows have a
    ``gpus_per_server`` dimension (:mod:`sweep.series`). The comparison is with the
    published seed-0 curves and, when the reference
    printed its mean over seeds for this trace and the sweep ran seeds 0, 1 and 2,
    with those means too; the plot then draws the published means (like for like
    with our mean over seeds), else the seed-0 curves.
    """
    trace = str(sweep["trace"])
    found = series.curves(rows, sweep.get("policies") or ())
    rows, policies = found.rows, found.names
    rates: Sequence[float] = sweep.get("rates") or ()
    published = found.published(load_published(trace))
    comparison = compare.compare(rows, published, policies, rates)
    comparisons = [comparison]
    means = found.published(load_published_means(trace))
    if means and compare.has_seeds(rows):
        comparisons.append(compare.compare(rows, published, policies, rates, means))
    table = [row for c in comparisons for row in c.rows]
    write_bytes_atomic(out_dir / COMPARISON_CSV, compare.comparison_csv(table).encode())
    ours = {p: compare.mean_curve(rows, p) for p in comparison.policies}
    if len(comparisons) > 1:
        curves = {p: compare.published_mean_curve(means, p) for p in comparison.policies}
        label = "Gavel, published mean of seeds"
    else:
        curves = {p: compare.published_curve(published, p) for p in comparison.policies}
        label = "Gavel, published seed 0"
    reference = {p: sorted(c.values(), key=lambda q: q.rate) for p, c in curves.items()}
    from sweep import plots  # matplotlib loads only when a figure is drawn

    knees = series.knee_lines(found, comparison.knees)
    figure = plots.jct_figure(plot_title(sweep), ours, reference, label, caption=knees)
    for fmt, data in plots.figure_bytes(figure).items():
        write_bytes_atomic(out_dir / PLOTS_DIR / f"{PLOT_STEM}.{fmt}", data)
    head = f"{plot_title(sweep)}: ours vs Gavel ({trace} trace)"
    differences = setup_differences(sweep)
    if not published and not means:
        head = f"{plot_title(sweep)} ({sweep.get('trace_file') or trace} trace; nothing published)"
    elif differences:
        head += (
            f"\nnote: not like-for-like ({', '.join(differences)}); the published curves are "
            "for 36:36:36, window 4000:5000, quirks gavel, so ratios only show the trend"
        )
    lines = [*head.split("\n"), *compare.table_lines(comparison)]
    lines += knees
    for extra in comparisons[1:]:
        lines += ["", *compare.table_lines(extra)]
    return lines


def _inferred(out_dir: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A sweep description from the rows alone (no ``sweep.json``)."""
    traces = sorted({str(r["trace"]) for r in rows if r.get("trace")})
    if len(traces) != 1:
        found = ", ".join(traces) if traces else "none"
        raise InputError(
            f"no {SPEC_FILE} and not one trace in the results (found: {found})",
            source=str(out_dir / RESULTS_CSV),
            field="trace",
        )
    scenarios = [str(r["scenario"]) for r in rows if r.get("scenario")]
    name = scenarios[0] if scenarios else out_dir.name
    return {
        "name": name,
        "title": name,
        "trace": traces[0],
        "policies": list(dict.fromkeys(str(r["policy"]) for r in rows)),
        "rates": sorted({float(r["rate"]) for r in rows}),
        "seeds": sorted({int(r["seed"]) for r in rows if r.get("seed") is not None}),
        "quick": False,
    }


def _checked(path: Path, spec: Any) -> dict[str, Any]:
    """``sweep.json``'s content, with the types the report relies on checked."""
    if not isinstance(spec, dict):
        raise InputError("expected a JSON object", source=str(path), line=1)
    if not isinstance(spec.get("trace"), str):
        raise InputError("missing or not a string", source=str(path), field="trace")
    for key, kind in (("policies", str), ("seeds", int), ("rates", int | float)):
        value = spec.get(key, [])
        if not isinstance(value, list) or not all(
            isinstance(v, kind) and not isinstance(v, bool) for v in value
        ):
            raise InputError(f"expected a list of {key}", source=str(path), field=key)
    for key in ("name", "title"):
        if not isinstance(spec.get(key, ""), str):
            raise InputError("not a string", source=str(path), field=key)
    return spec


def sweep_description(out_dir: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """``out_dir/sweep.json`` if there is one, else what the rows tell."""
    path = out_dir / SPEC_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _inferred(out_dir, rows)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", source=str(path)) from None
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg}", source=str(path), line=exc.lineno) from None
    return _checked(path, spec)


def redraw(out_dir: Path) -> list[str]:
    """Rebuilds the report of the sweep in ``out_dir`` from its ``results.csv``."""
    rows = read_results(out_dir / RESULTS_CSV)
    return write_report(out_dir, rows, sweep_description(out_dir, rows))
