"""Our JCT-vs-rate curves against Gavel's published curves: points, knees, the table.

Pure functions over result rows (the ``sweep.table`` schema) and published curves
(``sweep.published``). There are two references: the seed-0 curves, and (where
shipped) the reference's mean over seeds 0, 1 and 2, which is compared with our
mean over the same seeds. The rules:

- A run is *saturated* when its status is ``saturated`` or ``timeout`` (or its
  ``saturated`` flag is set); ``error`` runs, and runs without a JCT, give nothing.
- Our point for the comparison is seed 0's when seed 0 has a result (the
  published curve is seed 0 too), else the mean over the seeds with a result,
  and saturated if any of them is. The mean curve (for the plot) is the mean over
  every seed with a result, saturated if any of them is.
- Against the published means, our point at a rate is the mean over the seeds
  behind the published point (``0+1+2``, or the two seeds it had), and over
  seeds 0, 1 and 2 where the reference has no value; no point unless every one
  of those seeds has a result.
- A published point is the printed value; a rate on the trace's published grid
  with no value is saturated when the policy has no value at any higher rate (a
  gap below finished rates is just missing); a rate off the grid is missing.
- The *knee* of a curve is the first rate whose JCT is more than twice the JCT
  at the lowest rate, or that is saturated.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sweep.table import csv_cell

SATURATED_STATUSES = frozenset({"saturated", "timeout"})
KNEE_FACTOR = 2.0
PERF_SUFFIX = "_perf"
SEED_ZERO = "seed0"
SEED_MEAN = "mean"
MEAN_SEEDS = (0, 1, 2)
CSV_COLUMNS = (
    "reference",
    "policy",
    "rate",
    "ours_jct_h",
    "ours_saturated",
    "published_jct_h",
    "published_saturated",
    "ratio",
    "seeds",
)

PublishedCurves = Mapping[str, Sequence[tuple[float, float]]]
MeanCurves = Mapping[str, Sequence[tuple[float, float, tuple[int, ...]]]]


def _key(rate: float) -> float:
    """A rate as a lookup key (sweep grids are rounded to 6 digits)."""
    return round(float(rate), 6)


@dataclass(frozen=True)
class Point:
    """A curve at one rate: a JCT (hours) or saturated, and the seeds it is from.

    ``low_h`` and ``high_h`` are the smallest and largest JCT over those seeds
    (equal to ``jct_h`` for one seed; ``None`` when saturated).
    """

    rate: float
    jct_h: float | None
    saturated: bool
    seeds: tuple[int, ...] = ()
    low_h: float | None = None
    high_h: float | None = None

    @property
    def value(self) -> float | None:
        """The JCT, or ``None`` for saturated: what :func:`knee` takes."""
        return None if self.saturated else self.jct_h


def seeds_label(seeds: Sequence[int]) -> str:
    """``0`` for seed 0 alone, ``1+2`` for a mean over seeds 1 and 2."""
    return "+".join(str(s) for s in seeds)


def _outcome(row: Mapping[str, Any]) -> tuple[bool, float | None]:
    """Whether a row gives a result, and its JCT (``None``: saturated)."""
    if row.get("status") in SATURATED_STATUSES or row.get("saturated") is True:
        return True, None
    value = row.get("avg_jct_h")
    if row.get("status") != "ok" or not isinstance(value, int | float) or not math.isfinite(value):
        return False, None
    return True, float(value)


SeedValues = dict[int, float | None]


def _by_rate(rows: Iterable[Mapping[str, Any]], policy: str) -> dict[float, SeedValues]:
    """Rate -> seed -> JCT (``None``: saturated) over one policy's rows with a result."""
    table: dict[float, SeedValues] = {}
    for row in rows:
        if row.get("policy") != policy or row.get("rate") is None:
            continue
        usable, jct = _outcome(row)
        if usable:
            seed = row.get("seed")
            table.setdefault(_key(row["rate"]), {})[-1 if seed is None else int(seed)] = jct
    return table


def _combine(rate: float, by_seed: Mapping[int, float | None]) -> Point:
    seeds = tuple(sorted(by_seed))
    values = [by_seed[s] for s in seeds]
    finite = [v for v in values if v is not None]
    if len(finite) < len(values):
        return Point(rate, None, True, seeds)
    return Point(rate, sum(finite) / len(finite), False, seeds, min(finite), max(finite))


def mean_curve(rows: Iterable[Mapping[str, Any]], policy: str) -> list[Point]:
    """One point per rate with a usable run: the mean over seeds (saturated if any is)."""
    return [_combine(rate, by_seed) for rate, by_seed in sorted(_by_rate(rows, policy).items())]


def comparison_curve(rows: Iterable[Mapping[str, Any]], policy: str) -> list[Point]:
    """One point per rate to set against the published seed-0 curve: seed 0's when it
    has a result, else the mean over the seeds that do."""
    curve = []
    for rate, by_seed in sorted(_by_rate(rows, policy).items()):
        if 0 in by_seed:
            curve.append(_combine(rate, {0: by_seed[0]}))
        else:
            curve.append(_combine(rate, by_seed))
    return curve


def knee(points: Sequence[tuple[float, float | None]]) -> float | None:
    """The first rate whose JCT is more than twice the JCT at the lowest rate, or that
    is saturated (``None`` JCT); ``None`` if there is none among ``points``."""
    ordered = sorted(points, key=lambda p: p[0])
    if not ordered:
        return None
    base = ordered[0][1]
    if base is None:
        return ordered[0][0]
    for rate, jct in ordered:
        if jct is None or jct > KNEE_FACTOR * base:
            return rate
    return None


def published_grid(published: PublishedCurves | MeanCurves) -> list[float]:
    """Every rate the reference reports for any policy of the trace, sorted."""
    return sorted({_key(point[0]) for curve in published.values() for point in curve})


def _reference_points(
    curve: Sequence[tuple[float, float, tuple[int, ...]]],
    grid: Sequence[float],
    default_seeds: tuple[int, ...],
) -> dict[float, Point]:
    if not curve:
        return {}
    values = {_key(rate): (jct, seeds) for rate, jct, seeds in curve}
    last = max(values)
    points = {}
    for rate in grid:
        if rate in values:
            jct, seeds = values[rate]
            points[rate] = Point(rate, jct, False, seeds, jct, jct)
        elif rate > last:
            points[rate] = Point(rate, None, True, default_seeds)
    return points


def published_curve(published: PublishedCurves, policy: str) -> dict[float, Point]:
    """Rate -> the reference's seed-0 point for one policy, over the published grid.

    Printed values as they are; grid rates above the policy's last printed value
    are saturated; gaps below it, and every rate of a policy the reference does not
    report, are absent.
    """
    curve = [(rate, jct, (0,)) for rate, jct in published.get(policy, ())]
    return _reference_points(curve, published_grid(published), (0,))


def published_mean_curve(means: MeanCurves, policy: str) -> dict[float, Point]:
    """Rate -> the reference's mean point for one policy, with the seeds behind it;
    the same grid rules as :func:`published_curve`."""
    return _reference_points(means.get(policy, ()), published_grid(means), MEAN_SEEDS)


def _only(by_seed: SeedValues, seeds: Sequence[int]) -> SeedValues | None:
    """``by_seed`` restricted to exactly ``seeds``; ``None`` unless each has a result."""
    if not all(s in by_seed for s in seeds):
        return None
    return {s: by_seed[s] for s in seeds}


def has_seeds(rows: Iterable[Mapping[str, Any]], seeds: Sequence[int] = MEAN_SEEDS) -> bool:
    """Whether some (policy, rate) has a result for every one of ``seeds``."""
    found: dict[tuple[str, float], set[int]] = {}
    for row in rows:
        if row.get("rate") is None or row.get("seed") is None or not _outcome(row)[0]:
            continue
        key = (str(row.get("policy")), _key(row["rate"]))
        found.setdefault(key, set()).add(int(row["seed"]))
    return any(set(seeds) <= got for got in found.values())


@dataclass(frozen=True)
class ComparisonRow:
    """One policy at one rate, ours against the reference.

    ``*_saturated`` is ``None`` when that side has no point at the rate.
    """

    policy: str
    rate: float
    ours_jct_h: float | None
    ours_saturated: bool | None
    published_jct_h: float | None
    published_saturated: bool | None
    ratio: float | None
    seeds: str
    reference: str = SEED_ZERO


@dataclass(frozen=True)
class KneeSummary:
    """Where one policy's curve bends up, ours and the reference's over our rates."""

    policy: str
    ours: float | None
    published: float | None
    delta_steps: int | None
    lowest: float | None
    highest: float | None


@dataclass(frozen=True)
class Advantage:
    """How much lower ``policy_b``'s mean JCT is than ``policy_a``'s at one rate."""

    policy_a: str
    policy_b: str
    rate: float
    ours: float
    published: float | None


@dataclass(frozen=True)
class Comparison:
    """Everything the report prints about one sweep."""

    policies: tuple[str, ...]
    rows: tuple[ComparisonRow, ...]
    knees: tuple[KneeSummary, ...]
    advantages: tuple[Advantage, ...]
    step: float | None
    reference: str = SEED_ZERO


def sweep_policies(rows: Iterable[Mapping[str, Any]], policies: Sequence[str]) -> list[str]:
    """``policies`` in order, then any other policy the rows have, by name."""
    ordered = list(dict.fromkeys(policies))
    extra = sorted({str(r["policy"]) for r in rows if r.get("policy") is not None} - set(ordered))
    return ordered + extra


def _ours_against_means(
    rows: Sequence[Mapping[str, Any]], policy: str, theirs: Mapping[float, Point]
) -> dict[float, Point]:
    """Our points to set against the published means: over the reference point's seeds."""
    points = {}
    for rate, by_seed in _by_rate(rows, policy).items():
        ref = theirs.get(rate)
        chosen = _only(by_seed, ref.seeds if ref is not None and not ref.saturated else MEAN_SEEDS)
        if chosen is not None:
            points[rate] = _combine(rate, chosen)
    return points


def comparison_rows(
    rows: Sequence[Mapping[str, Any]],
    published: PublishedCurves,
    policies: Sequence[str],
    rates: Sequence[float] = (),
    means: MeanCurves | None = None,
) -> list[ComparisonRow]:
    """One row per (policy, rate) over our rates (``rates`` and the rows'); the
    reference's other rates are drawn on the plot, not tabled. Against the seed-0
    curves, or against the published ``means`` when given."""
    table = []
    for policy in sweep_policies(rows, policies):
        if means is None:
            ours = {p.rate: p for p in comparison_curve(rows, policy)}
            theirs = published_curve(published, policy)
        else:
            theirs = published_mean_curve(means, policy)
            ours = _ours_against_means(rows, policy, theirs)
        ran = {
            _key(r["rate"]) for r in rows if r.get("policy") == policy and r.get("rate") is not None
        }
        every = sorted({_key(r) for r in rates} | ran | set(ours))
        for rate in every:
            mine, ref = ours.get(rate), theirs.get(rate)
            ratio = None
            mine_h = None if mine is None else mine.value
            ref_h = None if ref is None else ref.value
            if mine_h is not None and ref_h is not None and ref_h > 0:
                ratio = mine_h / ref_h
            table.append(
                ComparisonRow(
                    policy=policy,
                    rate=rate,
                    ours_jct_h=mine_h,
                    ours_saturated=None if mine is None else mine.saturated,
                    published_jct_h=ref_h,
                    published_saturated=None if ref is None else ref.saturated,
                    ratio=ratio,
                    seeds="" if mine is None else seeds_label(mine.seeds),
                    reference=SEED_ZERO if means is None else SEED_MEAN,
                )
            )
    return table


def rate_step(rates: Iterable[float]) -> float | None:
    """The smallest gap between distinct rates (the sweep's step), or ``None``."""
    ordered = sorted({_key(r) for r in rates})
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(ordered)]
    return min(gaps) if gaps else None


def knee_summaries(table: Sequence[ComparisonRow], step: float | None) -> list[KneeSummary]:
    """Per policy: our knee and the reference's, over the rates where we have a point."""
    summaries = []
    for policy in dict.fromkeys(row.policy for row in table):
        mine = [r for r in table if r.policy == policy and r.ours_saturated is not None]
        ours = knee([(r.rate, r.ours_jct_h) for r in mine])
        reference = [r for r in mine if r.published_saturated is not None]
        theirs = knee([(r.rate, r.published_jct_h) for r in reference])
        delta = None
        if ours is not None and theirs is not None and step:
            delta = round((ours - theirs) / step)
        summaries.append(
            KneeSummary(
                policy=policy,
                ours=ours,
                published=theirs,
                delta_steps=delta,
                lowest=mine[0].rate if mine else None,
                highest=mine[-1].rate if mine else None,
            )
        )
    return summaries


def agreement(table: Sequence[ComparisonRow], policy: str, below: float | None) -> list[float]:
    """``|ours/published - 1|`` at each rate of ``policy`` below ``below`` with both values."""
    return [
        abs(r.ratio - 1.0)
        for r in table
        if r.policy == policy and r.ratio is not None and (below is None or r.rate < below)
    ]


def advantage(
    rows: Iterable[Mapping[str, Any]],
    policy_a: str,
    policy_b: str,
    rate: float,
    seeds: Sequence[int] | None = None,
) -> float | None:
    """Mean JCT of ``policy_a`` over mean JCT of ``policy_b`` at ``rate`` (every seed
    with a result, or exactly ``seeds``); ``None`` when either is saturated for any
    seed or has no result."""
    rows = list(rows)
    means = []
    for policy in (policy_a, policy_b):
        point = _by_rate(rows, policy).get(_key(rate))
        if seeds is not None and point is not None:
            point = _only(point, seeds)
        if not point:
            return None
        combined = _combine(_key(rate), point)
        if combined.value is None:
            return None
        means.append(combined.value)
    return means[0] / means[1] if means[1] > 0 else None


def advantages(
    rows: Sequence[Mapping[str, Any]],
    published: PublishedCurves,
    policies: Sequence[str],
    means: MeanCurves | None = None,
) -> list[Advantage]:
    """For each ``X`` and ``X_perf`` both in the sweep: ``X``'s JCT over ``X_perf``'s at
    the highest rate where both have results and no seed saturated (against the
    published ``means``: over seeds 0, 1 and 2 on both sides)."""
    seeds = None if means is None else MEAN_SEEDS
    found = []
    for policy in policies:
        perf = policy + PERF_SUFFIX
        if perf not in policies:
            continue
        rates = sorted(
            {p.rate for p in mean_curve(rows, policy)} & {p.rate for p in mean_curve(rows, perf)}
        )
        for rate in reversed(rates):
            ours = advantage(rows, policy, perf, rate, seeds)
            if ours is None:
                continue
            if means is None:
                a = published_curve(published, policy).get(rate)
                b = published_curve(published, perf).get(rate)
            else:
                a = published_mean_curve(means, policy).get(rate)
                b = published_mean_curve(means, perf).get(rate)
            a_h = None if a is None else a.value
            b_h = None if b is None else b.value
            ref = a_h / b_h if a_h is not None and b_h is not None and b_h > 0 else None
            found.append(Advantage(policy, perf, rate, ours, ref))
            break
    return found


def compare(
    rows: Sequence[Mapping[str, Any]],
    published: PublishedCurves,
    policies: Sequence[str],
    rates: Sequence[float] = (),
    means: MeanCurves | None = None,
) -> Comparison:
    """The whole comparison of one sweep with the reference: its seed-0 curves, or
    its mean curves when ``means`` is given."""
    ordered = sweep_policies(rows, policies)
    table = comparison_rows(rows, published, ordered, rates, means)
    step = rate_step(list(rates) + [r.rate for r in table if r.ours_saturated is not None])
    return Comparison(
        policies=tuple(ordered),
        rows=tuple(table),
        knees=tuple(knee_summaries(table, step)),
        advantages=tuple(advantages(rows, published, ordered, means)),
        step=step,
        reference=SEED_ZERO if means is None else SEED_MEAN,
    )


def comparison_csv(table: Iterable[ComparisonRow]) -> str:
    """``comparison.csv``: one line per row; empty cells where a side has no point."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in table:
        writer.writerow([csv_cell(getattr(row, c)) for c in CSV_COLUMNS])
    return buffer.getvalue()


def _jct(value: float | None, saturated: bool | None) -> str:
    if saturated is None:
        return "-"
    return "saturated" if saturated else f"{value:.2f}"


def rate_text(rate: float | None) -> str:
    """``0.4``, ``2.0``, ``0.25``: a rate with the decimals it needs (at least one)."""
    if rate is None:
        return "none"
    text = f"{rate:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _knee_line(k: KneeSummary, step: float | None) -> str:
    if k.lowest is None:
        return "  knee: no results"
    line = f"  knee: ours {rate_text(k.ours)}, published {rate_text(k.published)}"
    if k.delta_steps is not None and step is not None:
        line += f" (ours {k.delta_steps:+d} steps of {rate_text(step)} jobs/h)"
    return line + f"; over {rate_text(k.lowest)}-{rate_text(k.highest)}"


def table_lines(comparison: Comparison) -> list[str]:
    """The printed comparison: a table per policy, its knees, its agreement below the
    published knee, and the X vs X_perf advantages."""
    lines = [
        f"knee: the first rate whose JCT is more than {KNEE_FACTOR:g}x the JCT at the lowest"
        " rate, or that is saturated"
    ]
    against_means = comparison.reference == SEED_MEAN
    if against_means:
        lines.append(
            "against the published mean over seeds: ours over the same seeds (the 'seeds'"
            " column), the reference over the seeds it printed"
        )
    for k in comparison.knees:
        rows = [r for r in comparison.rows if r.policy == k.policy]
        with_seeds = any(r.seeds not in ("", "0") for r in rows)
        ours = "ours" if with_seeds else "ours (seed 0)"
        theirs = "mean of seeds" if against_means else "seed 0"
        lines.append(f"{k.policy}: average JCT (hours), {ours} vs Gavel published ({theirs})")
        head = f"  {'rate':>6} {'ours':>10} {'published':>10} {'ratio':>7}"
        lines.append(head + ("  seeds" if with_seeds else ""))
        for r in rows:
            ratio = "-" if r.ratio is None else f"{r.ratio:.3f}"
            line = f"  {rate_text(r.rate):>6} {_jct(r.ours_jct_h, r.ours_saturated):>10} "
            line += f"{_jct(r.published_jct_h, r.published_saturated):>10} {ratio:>7}"
            lines.append(line + (f"  {r.seeds}" if with_seeds else ""))
        lines.append(_knee_line(k, comparison.step))
        deviations = agreement(comparison.rows, k.policy, k.published)
        where = "below the published knee" if k.published is not None else "at every rate"
        if deviations:
            lines.append(
                f"  {where}: max |ours/published - 1| = {max(deviations):.1%}"
                f" over {len(deviations)} rate{'' if len(deviations) == 1 else 's'}"
            )
        else:
            lines.append(f"  {where}: no rate with both values")
    for a in comparison.advantages:
        line = f"{a.policy_a} vs {a.policy_b} at {rate_text(a.rate)} jobs/h:"
        line += f" JCT ratio {a.ours:.2f}x"
        if against_means:
            line += " over seeds 0+1+2"
        if a.published is not None:
            which = "mean of seeds" if against_means else "seed 0"
            line += f" (published {which}: {a.published:.2f}x)"
        lines.append(line)
    return lines
