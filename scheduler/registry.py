"""The one registry of scheduling policies, keyed by name.

A :class:`PolicySpec` carries what the round mechanism needs to know about a policy
besides its allocation function: whether it walks GPU types in the fixed
fastest-first order (heterogeneity-aware policies) or in a freshly shuffled order each
round (agnostic ones), whether it is FIFO-like (never places a job where its
allocation is zero, so it is not work-conserving), whether it takes a
finish-time-fairness baseline (``--ftf-isolated``), and whether it can be solved in
POP-style parts (``--partitions``, :mod:`scheduler.partition`).
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
    single_gpu_only: bool = False
    # Space sharing: the policy allocates pairs of jobs on the same GPUs.
    packing: bool = False
    # Finish-time fairness: the policy takes a baseline (``PolicyContext.ftf_isolated``).
    ftf_baseline: bool = False
    # POP: the policy solves one allocation over all jobs together, so it can be solved
    # in parts (FIFO, AlloX, Gandiva and isolated cannot: nothing to split).
    partitionable: bool = True


_REGISTRY: dict[str, PolicySpec] = {}


def register(spec: PolicySpec) -> PolicySpec:
    """Adds a policy; a second policy of the same name is a programming error."""
    if spec.name in _REGISTRY:
        raise ValueError(f"policy '{spec.name}' is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def get(name: str) -> PolicySpec:
    """The policy of that name; ``KeyError`` with the known names otherwise.

    A plugin (``module:attribute``, ``file.py:attribute`` or a ``hetsim.policies``
    entry point) is loaded and registered on first use (``PluginError`` if it cannot
    be), in whichever process asks, so sweep workers find it too.
    """
    spec = _REGISTRY.get(name)
    if spec is not None:
        return spec
    from scheduler import plugins  # loads user code: only when a plugin is named

    if plugins.is_reference(name):
        return register(plugins.load(name))
    raise KeyError(f"unknown policy '{name}' (known: {', '.join(names())})")


def known(name: str) -> bool:
    """Whether ``name`` is a built-in or a registered or loadable plugin (a plugin that
    fails to load raises its ``PluginError``)."""
    try:
        get(name)
    except KeyError:
        return False
    return True


def names() -> list[str]:
    return sorted(_REGISTRY)


def _spec(
    name: str,
    fn: AllocateFn,
    summary: str,
    *,
    fixed: bool,
    fifo: bool = False,
    single_gpu_only: bool = False,
    packing: bool = False,
    ftf_baseline: bool = False,
    partitionable: bool = True,
) -> PolicySpec:
    return PolicySpec(
        name, fn, fixed, fifo, summary, single_gpu_only, packing, ftf_baseline, partitionable
    )


for _entry in (
    _spec(
        "max_min_fairness",
        policies.max_min_fairness,
        "LAS, heterogeneity-agnostic: equal GPU-time shares",
        fixed=False,
    ),
    _spec(
        "max_min_fairness_perf",
        policies.max_min_fairness_perf,
        "LAS, heterogeneity-aware: max-min of normalised effective throughput",
        fixed=True,
    ),
    _spec(
        "max_min_fairness_packed",
        policies.max_min_fairness_packed,
        "LAS, heterogeneity-aware, with space sharing (pairs of jobs on the same GPUs)",
        fixed=True,
        packing=True,
    ),
    _spec(
        "finish_time_fairness_packed",
        policies.finish_time_fairness_packed,
        "finish-time fairness with space sharing over each job's best partners",
        fixed=True,
        packing=True,
    ),
    _spec(
        "gandiva",
        policies.gandiva,
        "Gandiva: random pairs share GPUs under overload, equal time per combination",
        fixed=True,
        packing=True,
        partitionable=False,
    ),
    _spec(
        "max_min_fairness_water_filling",
        policies.max_min_fairness_water_filling,
        "leximin LAS, heterogeneity-agnostic",
        fixed=False,
    ),
    _spec(
        "max_min_fairness_water_filling_perf",
        policies.max_min_fairness_water_filling_perf,
        "leximin LAS, heterogeneity-aware",
        fixed=True,
    ),
    _spec(
        "finish_time_fairness",
        policies.finish_time_fairness,
        "minimise the largest finish-time ratio, heterogeneity-agnostic",
        fixed=False,
        ftf_baseline=True,
    ),
    _spec(
        "finish_time_fairness_perf",
        policies.finish_time_fairness_perf,
        "minimise the largest finish-time ratio, heterogeneity-aware",
        fixed=True,
        ftf_baseline=True,
    ),
    _spec(
        "min_total_duration",
        policies.min_total_duration,
        "minimise the makespan of the active jobs, heterogeneity-agnostic",
        fixed=False,
    ),
    _spec(
        "min_total_duration_perf",
        policies.min_total_duration_perf,
        "minimise the makespan of the active jobs, heterogeneity-aware",
        fixed=True,
    ),
    _spec(
        "max_sum_throughput_perf",
        policies.max_sum_throughput_perf,
        "maximise total throughput (per unit cost with type costs)",
        fixed=True,
    ),
    _spec(
        "isolated",
        policies.isolated,
        "an equal share of GPU time for every job, spread over the types, no solver",
        fixed=False,
        partitionable=False,
    ),
    _spec(
        "allox",
        policies.allox,
        "AlloX: min-cost assignment of waiting single-GPU jobs, non-preemptive",
        fixed=True,
        single_gpu_only=True,
        partitionable=False,
    ),
    _spec(
        "fifo",
        policies.fifo,
        "first come first served on a random type with room",
        fixed=False,
        fifo=True,
        partitionable=False,
    ),
    _spec(
        "fifo_packed",
        policies.fifo_packed,
        "FIFO on the fastest type, waiting jobs packed with running ones when it pays 1.5x",
        fixed=True,
        fifo=True,
        packing=True,
        partitionable=False,
    ),
    _spec(
        "fifo_perf",
        policies.fifo_perf,
        "first come first served on the fastest type with room",
        fixed=True,
        fifo=True,
        partitionable=False,
    ),
):
    register(_entry)
