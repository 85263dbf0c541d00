"""The one registry of scheduling policies, keyed by name.

A :class:`PolicySpec` carries what the round mechanism needs to know about a policy
besides its allocation function: whether it walks GPU types in the fixed
fastest-first order (heterogeneity-aware policies) or in a freshly shuffled order each
round (agnostic ones), and whether it is FIFO-like (never places a job where its
allocation is zero, so it is not work-conserving).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scheduler import policies
from scheduler.problem import Allocation, AllocationProblem

AllocateFn = Callable[[AllocationProblem, policies.PolicyContext], Allocation]


@dataclass(frozen=True)
class PolicySpec:
    """A registered policy: its name, allocation function and mechanism traits."""

    name: str
    allocate: AllocateFn
    fixed_type_order: bool
    fifo_like: bool
    summary: str


_REGISTRY: dict[str, PolicySpec] = {}


def register(spec: PolicySpec) -> PolicySpec:
    """Adds a policy; a second policy of the same name is a programming error."""
    if spec.name in _REGISTRY:
        raise ValueError(f"policy '{spec.name}' is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def get(name: str) -> PolicySpec:
    """The policy of that name; ``KeyError`` with the known names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown policy '{name}' (known: {', '.join(names())})") from None


def names() -> list[str]:
    return sorted(_REGISTRY)


for _spec in (
    PolicySpec(
        "max_min_fairness",
        policies.max_min_fairness,
        fixed_type_order=False,
        fifo_like=False,
        summary="LAS, heterogeneity-agnostic: equal time shares on every type",
    ),
    PolicySpec(
        "max_min_fairness_perf",
        policies.max_min_fairness_perf,
        fixed_type_order=True,
        fifo_like=False,
        summary="LAS, heterogeneity-aware: max-min of normalised effective throughput",
    ),
    PolicySpec(
        "fifo",
        policies.fifo,
        fixed_type_order=False,
        fifo_like=True,
        summary="first come first served on a random type with room",
    ),
    PolicySpec(
        "fifo_perf",
        policies.fifo_perf,
        fixed_type_order=True,
        fifo_like=True,
        summary="first come first served on the fastest type with room",
    ),
):
    register(_spec)
