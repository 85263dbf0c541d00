"""Which job types of a throughput file a trace job can become, and the GPU-count rule.

A template can take a job of ``n`` GPUs when the throughput file has its ``(model, n)``
entry for every GPU type that matters (the cluster's and the reference type) and a
non-zero throughput on the reference type (total steps = duration x that throughput).
Candidates keep the throughput file's order, so a seeded draw is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from workloads.throughputs import ThroughputTable

__all__ = ["Catalog", "round_count"]


def round_count(count: int, supported: Sequence[int]) -> int:
    """The supported count nearest ``count`` in powers of two (ties go up); counts above
    the largest become the largest. ``supported`` must not be empty."""
    best = min(
        sorted(supported),
        key=lambda s: (abs(math.log2(s) - math.log2(count)), -s),
    )
    return max(supported) if count > max(supported) else best


class Catalog:
    """The throughput file's job types by GPU count, for one set of GPU types."""

    def __init__(
        self, table: ThroughputTable, gpu_types: Sequence[str] | None, reference_type: str
    ) -> None:
        table.require_types((reference_type,), context="the trace's reference type")
        types = tuple(dict.fromkeys((*(gpu_types or table.gpu_types), reference_type)))
        self.table = table
        self.types = types
        self.reference_type = reference_type
        self._rate: dict[tuple[str, int], float] = {}
        self.by_count: dict[int, list[str]] = {}
        self.counts_of: dict[str, list[int]] = {}
        for model, count in table.keys():  # noqa: SIM118 (a method, not a dict)
            if not table.has(model, count, types):
                continue
            rate = float(table.isolated(model, count, (reference_type,))[0])
            if rate <= 0:
                continue
            self._rate[(model, count)] = rate
            self.by_count.setdefault(count, []).append(model)
            self.counts_of.setdefault(model, []).append(count)
        self.counts = tuple(sorted(self.by_count))

    def knows(self, model: str) -> bool:
        return model in self.counts_of

    def supported(self, model: str | None) -> tuple[int, ...]:
        """GPU counts ``model`` runs at (any template's when None)."""
        if model is None:
            return self.counts
        return tuple(sorted(self.counts_of.get(model, ())))

    def rate(self, model: str, count: int) -> float:
        """Steps/s of ``model`` on ``count`` reference-type GPUs."""
        return self._rate[(model, count)]
