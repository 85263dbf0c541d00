"""A sweep's curves: one per policy, or one per (policy, server size) with a server-size dimension.

The comparison and the plot (:mod:`sweep.compare`, :mod:`sweep.plots`) draw one curve
per name in the rows' ``policy`` column. A sweep whose scenario lists several
``gpus_per_server`` sizes has a ``gpus_per_server`` cell in every row; :func:`curves`
then names each row's curve ``POLICY, N GPUs/server``, so each server size is its own
curve with its own knee and legend entry. The published curves were measured with one
GPU per server, so they are attached to the ``1 GPU/server`` curves only (the other
policies' published curves stay in the mapping: they decide the published grid).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sweep.compare import KneeSummary, rate_text
from sweep.spec import server_size_text

Curve = TypeVar("Curve")


def curve_name(policy: str, size: int) -> str:
    """``max_min_fairness_perf, 8 GPUs/server``."""
    return f"{policy}, {server_size_text(size)}"


@dataclass(frozen=True)
class Curves:
    """Rows named by curve, the curves in legend order, and which policy and server
    size each curve is (empty ``sizes``: the sweep has no server-size dimension)."""

    rows: list[dict[str, Any]]
    names: list[str]
    sizes: tuple[int, ...]
    of: Mapping[str, tuple[str, int | None]]

    def published(self, curves: Mapping[str, Sequence[Curve]]) -> dict[str, Sequence[Curve]]:
        """``curves`` (policy -> published curve) with each one also under the name of
        its policy's 1-GPU/server curve."""
        named = dict(curves)
        for name, (policy, size) in self.of.items():
            if size == 1 and policy in curves:
                named[name] = curves[policy]
        return named


def curves(rows: Sequence[Mapping[str, Any]], policies: Sequence[str]) -> Curves:
    """The sweep's curves over ``rows`` (``policies`` first, in order, then any other)."""
    ordered = list(dict.fromkeys([*policies, *(str(r["policy"]) for r in rows)]))
    sizes = tuple(sorted({int(r["gpus_per_server"]) for r in rows if r.get("gpus_per_server")}))
    if not sizes:
        return Curves([dict(r) for r in rows], ordered, (), {p: (p, None) for p in ordered})
    named: list[dict[str, Any]] = []
    for row in rows:
        size = row.get("gpus_per_server")
        name = curve_name(str(row["policy"]), int(size)) if size else str(row["policy"])
        named.append({**row, "policy": name})
    of: dict[str, tuple[str, int | None]] = {}
    for policy in ordered:
        for size in sizes:
            of[curve_name(policy, size)] = (policy, size)
    present = {r["policy"] for r in named}
    names = [n for n in of if n in present]
    return Curves(named, names, sizes, {n: of[n] for n in names})


def knee_lines(found: Curves, knees: Sequence[KneeSummary]) -> list[str]:
    """With a server-size dimension, one line per policy: its knee at each size."""
    if not found.sizes:
        return []
    by_policy: dict[str, list[str]] = {}
    for k in knees:
        policy, size = found.of.get(k.policy, (k.policy, None))
        if size is not None:
            where = rate_text(k.ours) if k.ours is not None else f"beyond {rate_text(k.highest)}"
            where = "no results" if k.lowest is None else where
            by_policy.setdefault(policy, []).append(f"{server_size_text(size)} {where}")
    return [f"{p}: knee (jobs/h) by server size: {', '.join(v)}" for p, v in by_policy.items()]
