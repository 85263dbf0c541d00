"""Scheduling policies: pure functions from an :class:`AllocationProblem` to an allocation.

Every policy has the signature ``(problem, context) -> Allocation`` and is registered by
name in :mod:`scheduler.registry`. Without quirks none of them gives time to a cell
where the job's throughput is 0.
"""

from scheduler.policies.allox import allox
from scheduler.policies.base import (
    FTF_BASELINES,
    FTF_DEFAULT,
    PolicyContext,
    last_resort,
    proportional_throughputs,
)
from scheduler.policies.fairness import (
    max_min_fairness,
    max_min_fairness_perf,
    max_min_fairness_water_filling,
    max_min_fairness_water_filling_perf,
)
from scheduler.policies.fifo import fifo, fifo_packed, fifo_perf
from scheduler.policies.finish_time import finish_time_fairness, finish_time_fairness_perf
from scheduler.policies.finish_time_packed import finish_time_fairness_packed
from scheduler.policies.gandiva import gandiva
from scheduler.policies.makespan import min_total_duration, min_total_duration_perf
from scheduler.policies.packing import max_min_fairness_packed
from scheduler.policies.throughput import isolated, max_sum_throughput_perf

__all__ = [
    "FTF_BASELINES",
    "FTF_DEFAULT",
    "PolicyContext",
    "allox",
    "fifo",
    "fifo_packed",
    "fifo_perf",
    "finish_time_fairness",
    "finish_time_fairness_packed",
    "finish_time_fairness_perf",
    "gandiva",
    "isolated",
    "last_resort",
    "max_min_fairness",
    "max_min_fairness_packed",
    "max_min_fairness_perf",
    "max_min_fairness_water_filling",
    "max_min_fairness_water_filling_perf",
    "max_sum_throughput_perf",
    "min_total_duration",
    "min_total_duration_perf",
    "proportional_throughputs",
]
