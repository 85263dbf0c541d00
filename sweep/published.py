"""Gavel's published JCT curves, the reference our sweeps are compared with.

Two files are shipped (see ``sweep/data/SOURCE.md``), both one row per (trace,
policy, jobs/hour) with the average JCT in hours over the measurement window:

- ``published_jct_seed0.csv``: the seed-0 curves (both traces);
- ``published_jct_mean_seeds.csv``: the mean over seeds 0, 1 and 2 that the
  authors' plots show, with a ``seeds`` column naming the seeds behind each mean
  (``0+1+2``; ``0+1`` where a seed is missing). The multi-GPU trace only.

A rate the reference never finished has no row; a row that reads ``nan`` (the
notebook printed no average) is read the same way, so the curves returned here
hold finite values only. Any other bad cell is an :class:`InputError` naming the
file, the line and the column.
"""

from __future__ import annotations

import csv
import io
import math
from importlib import resources
from pathlib import Path

from hetsim.errors import InputError

PUBLISHED_CSV = "published_jct_seed0.csv"
PUBLISHED_MEANS_CSV = "published_jct_mean_seeds.csv"
COLUMNS = ("trace", "policy", "jobs_per_hour", "avg_jct_hours")
SEEDS_COLUMN = "seeds"

Curve = list[tuple[float, float]]
MeanCurve = list[tuple[float, float, tuple[int, ...]]]
"""(jobs/hour, mean JCT hours, the seeds averaged), sorted by rate."""


def _read_text(path: Path | None, shipped: str) -> tuple[str, str]:
    """The file's text and the name to report it by."""
    if path is None:
        resource = resources.files("sweep").joinpath("data", shipped)
        try:
            return resource.read_text(encoding="utf-8"), str(resource)
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", source=str(resource)) from None
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", source=str(path)) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", source=str(path)) from None


def _number(text: str, *, source: str, line: int, field: str, allow_nan: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"not a number: {text!r}", source=source, line=line, field=field) from None
    if math.isnan(value) and allow_nan:
        return value
    if not math.isfinite(value) or value <= 0.0:
        raise InputError(
            f"expected a positive number, got {text!r}", source=source, line=line, field=field
        )
    return value


def _seeds(text: str, *, source: str, line: int) -> tuple[int, ...]:
    """``0+1+2`` -> (0, 1, 2): distinct seeds >= 0, in increasing order."""
    parts = text.split("+")
    if not all(p.strip().isdigit() for p in parts):
        raise InputError(
            f"expected seeds like 0+1+2, got {text!r}", source=source, line=line, field="seeds"
        )
    seeds = [int(p) for p in parts]
    if len(set(seeds)) != len(seeds):
        raise InputError(f"a seed twice in {text!r}", source=source, line=line, field="seeds")
    return tuple(sorted(seeds))


def load_published(trace: str, path: Path | None = None) -> dict[str, Curve]:
    """Policy -> [(jobs/hour, avg JCT hours)] sorted by rate, for one trace: seed 0.

    Reads the shipped seed-0 CSV unless ``path`` is given. Rates without a finite
    value (absent rows, ``nan``) are left out; a trace the file does not cover
    gives an empty mapping.
    """
    curves = _load(trace, path, PUBLISHED_CSV, with_seeds=False)
    return {policy: [(r, j) for r, j, _ in curve] for policy, curve in curves.items()}


def load_published_means(trace: str, path: Path | None = None) -> dict[str, MeanCurve]:
    """Policy -> [(jobs/hour, mean JCT hours, seeds)] sorted by rate, for one trace:
    the reference's mean over seeds. Reads the shipped CSV unless ``path`` is given;
    the file needs a ``seeds`` column. Same rules as :func:`load_published`."""
    return _load(trace, path, PUBLISHED_MEANS_CSV, with_seeds=True)


def _load(trace: str, path: Path | None, shipped: str, *, with_seeds: bool) -> dict[str, MeanCurve]:
    text, source = _read_text(path, shipped)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise InputError("empty file; expected a header line", source=source, line=1)
    header = [cell.strip() for cell in header]
    wanted = (*COLUMNS, SEEDS_COLUMN) if with_seeds else COLUMNS
    missing = [c for c in wanted if c not in header]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}", source=source, line=1, field=missing[0]
        )
    index = {c: header.index(c) for c in wanted}
    curves: dict[str, dict[float, tuple[float, tuple[int, ...]]]] = {}
    for line, cells in enumerate(reader, start=2):
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise InputError(
                f"{len(cells)} cells, expected {len(header)}", source=source, line=line
            )
        cell = {c: cells[i].strip() for c, i in index.items()}
        for column in ("trace", "policy"):
            if not cell[column]:
                raise InputError("empty", source=source, line=line, field=column)
        rate = _number(
            cell["jobs_per_hour"], source=source, line=line, field="jobs_per_hour", allow_nan=False
        )
        jct = _number(
            cell["avg_jct_hours"], source=source, line=line, field="avg_jct_hours", allow_nan=True
        )
        seeds: tuple[int, ...] = (0,)
        if with_seeds:
            seeds = _seeds(cell[SEEDS_COLUMN], source=source, line=line)
        if cell["trace"] != trace:
            continue
        curve = curves.setdefault(cell["policy"], {})
        key = round(rate, 6)
        if key in curve:
            raise InputError(
                f"second row for {cell['policy']} at {rate:g} jobs/hour",
                source=source,
                line=line,
                field="jobs_per_hour",
            )
        curve[key] = (jct, seeds)
    return {
        policy: sorted((r, j, s) for r, (j, s) in points.items() if not math.isnan(j))
        for policy, points in curves.items()
    }
