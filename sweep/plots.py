"""The sweep's figure: average JCT against input job rate, ours and Gavel's published.

One solid line per policy (mean over seeds, min-max shaded when there are several)
and the published curve of the same policy dashed in the same colour (seed 0, or
the reference's mean over seeds when the sweep has the same seeds). As
in the paper, saturated points (and points above the y-limit) are triangles on
the top edge: filled for ours, hollow and larger for the published curve (so both
show when they coincide), nudged sideways a little per policy so that policies
saturating at the same rate stay apart. The y-limit follows the low-load JCTs so
a blow-up near saturation does not flatten the rest.

Drawn on a bare :class:`matplotlib.figure.Figure` (no pyplot, no display) and
rendered to PNG and SVG bytes that are the same on every redraw.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Mapping, Sequence

import matplotlib
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sweep.compare import Point

X_LABEL = "Input job rate (jobs/hour)"
Y_LABEL = "Average JCT (hours)"
FIGSIZE = (8.0, 5.0)
DPI = 150
LOW_LOAD_FACTOR = 4.5
PUBLISHED_CAP_FACTOR = 6.0
DODGE = 0.8  # share of the smallest rate gap the top markers of all policies spread over
SVG_SALT = "hetsim"
INSIDE_LEGEND_POLICIES = 3


def _finite(points: Sequence[Point]) -> list[float]:
    return [p.jct_h for p in points if not p.saturated and p.jct_h is not None]


def _low_load(points: Sequence[Point]) -> float | None:
    """The JCT at the lowest rate, if that point has one."""
    return points[0].value if points else None


def _nice_ceiling(value: float) -> float:
    """``value`` rounded up to a multiple of a fifth of its power of ten (104.7 -> 120)."""
    if not value > 0.0 or not math.isfinite(value):
        return 1.0
    step = 10.0 ** math.floor(math.log10(value)) / 5.0
    return math.ceil(value / step - 1e-9) * step


def y_top(ours: Mapping[str, Sequence[Point]], published: Mapping[str, Sequence[Point]]) -> float:
    """The y-limit: 4.5x the largest low-load JCT, raised to the largest published value
    if that is bigger (but not beyond 6x the low-load JCT), rounded up."""
    curves = [*ours.values(), *published.values()]
    low = max((v for c in curves if (v := _low_load(c)) is not None), default=None)
    if low is None:
        highest = max((v for c in curves for v in _finite(c)), default=1.0)
        return _nice_ceiling(highest * 1.05)
    top = LOW_LOAD_FACTOR * low
    reference = max((v for c in published.values() for v in _finite(c)), default=0.0)
    top = max(top, min(reference * 1.05, PUBLISHED_CAP_FACTOR * low))
    return _nice_ceiling(top)


def _draw(
    ax: Axes,
    points: Sequence[Point],
    top: float,
    colour: str,
    *,
    published: bool,
    label: str,
    dodge: float = 0.0,
) -> None:
    rates = [p.rate for p in points]
    values = [math.nan if p.value is None else p.value for p in points]
    style = "--" if published else "-"
    marker = "" if published else "o"
    ax.plot(rates, values, style, color=colour, marker=marker, markersize=4, lw=1.6, label=label)
    over = [p.rate + dodge for p in points if p.value is None or p.value > top]
    if over:
        ax.plot(
            over,
            [top] * len(over),
            linestyle="none",
            marker="^",
            markersize=10 if published else 7,
            markerfacecolor="none" if published else colour,
            markeredgecolor=colour,
            markeredgewidth=1.3,
            clip_on=False,
            zorder=6 if published else 5,
        )
    if published:
        return
    spread = [p for p in points if len(p.seeds) > 1 and p.low_h is not None]
    if spread:
        ax.fill_between(
            [p.rate for p in spread],
            [p.low_h if p.low_h is not None else math.nan for p in spread],
            [p.high_h if p.high_h is not None else math.nan for p in spread],
            color=colour,
            alpha=0.18,
            linewidth=0,
        )


def jct_figure(
    title: str,
    ours: Mapping[str, Sequence[Point]],
    published: Mapping[str, Sequence[Point]],
    published_label: str = "Gavel, published",
    caption: Sequence[str] = (),
) -> Figure:
    """The figure: ``ours`` is policy -> mean curve (in legend order), ``published``
    policy -> the reference's curve (drawn for the policies in ``ours`` only), named
    ``POLICY (published_label)`` in the legend. ``caption``: lines written in the plot's
    lower right corner (the knee at each server size)."""
    figure = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    ax = figure.add_subplot()
    shown = {p: published[p] for p in ours if published.get(p)}
    top = y_top(ours, shown)
    colours = matplotlib.color_sequences["tab10"]
    rates = sorted({p.rate for c in [*ours.values(), *shown.values()] for p in c})
    gap = min((b - a for a, b in itertools.pairwise(rates)), default=0.0)
    many_seeds = False
    for i, (policy, points) in enumerate(ours.items()):
        colour = to_hex(colours[i % len(colours)])
        dodge = (i - (len(ours) - 1) / 2) * DODGE * gap / max(len(ours), 1)
        _draw(ax, points, top, colour, published=False, label=policy, dodge=dodge)
        many_seeds = many_seeds or any(len(p.seeds) > 1 for p in points)
        if policy in shown:
            label = f"{policy} ({published_label})"
            _draw(ax, shown[policy], top, colour, published=True, label=label, dodge=dodge)
    handles, labels = ax.get_legend_handles_labels()
    if many_seeds:
        handles.append(Patch(color="grey", alpha=0.3, linewidth=0))
        labels.append("min-max over seeds")
    handles.append(Line2D([], [], linestyle="none", marker="^", color="black", markersize=7))
    labels.append("saturated or above the axis (hollow: published)")
    if rates:
        pad = (max(rates) - min(rates)) * 0.03 or 0.1
        ax.set_xlim(min(rates) - pad, max(rates) + pad)
    ax.set_ylim(0.0, top)
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel(Y_LABEL)
    ax.set_title(title, pad=12)
    ax.grid(True, color="0.85", linewidth=0.6)
    ax.set_axisbelow(True)
    if caption:
        ax.text(
            0.99, 0.02, "\n".join(caption), transform=ax.transAxes, ha="right", va="bottom",
            fontsize="small", bbox={"facecolor": "white", "edgecolor": "0.8", "alpha": 0.9},
        )  # fmt: skip
    if len(ours) <= INSIDE_LEGEND_POLICIES:
        ax.legend(handles, labels, loc="upper left", fontsize="small", framealpha=0.9)
    else:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="x-small")
    return figure


def figure_bytes(figure: Figure) -> dict[str, bytes]:
    """The figure as PNG and SVG, the same bytes for the same figure every time."""
    rendered = {}
    with matplotlib.rc_context({"svg.hashsalt": SVG_SALT}):
        for fmt, metadata in (("png", {"Software": None}), ("svg", {"Date": None})):
            buffer = io.BytesIO()
            figure.savefig(buffer, format=fmt, dpi=DPI, metadata=metadata)
            rendered[fmt] = buffer.getvalue()
    return rendered
