"""Gavel's synthetic workload: seeded Poisson arrivals of jobs drawn from the templates.

The draws reproduce the reference generator bit for bit: a job stream seeded
with ``seed + 2`` draws each job's GPU count, duration and template (in that
order), and a separate inter-arrival stream seeded with ``seed + 3`` draws the
exponential gaps, so the jobs do not depend on the arrival rate.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from hetsim.errors import InputError
from workloads.job import Job
from workloads.templates import TEMPLATES, JobTemplate
from workloads.throughputs import ThroughputTable

__all__ = ["GeneratorConfig", "generate", "generate_n"]

JOB_STREAM_OFFSET = 2
"""The job stream is ``random.Random(seed + 2)``."""
ARRIVAL_STREAM_OFFSET = 3
"""The inter-arrival stream is ``random.Random(seed + 3)``."""


@dataclass(frozen=True)
class GeneratorConfig:
    """How to generate a workload: arrival rate, root seed and GPU-count mode.

    With ``multi_gpu`` False every job uses one GPU (the count is still drawn,
    so the rest of the stream is the same). Durations are times alone on
    ``reference_type`` GPUs.
    """

    rate_per_hour: float
    seed: int = 0
    multi_gpu: bool = False
    reference_type: str = "v100"

    def __post_init__(self) -> None:
        rate = self.rate_per_hour
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not (0 < rate < math.inf):
            raise InputError(
                f"arrival rate must be a finite number > 0 jobs/hour, not {rate!r}", field="rate"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"seed must be an integer >= 0, not {self.seed!r}", field="seed")
        if not isinstance(self.multi_gpu, bool):
            raise InputError(
                f"multi_gpu must be true or false, not {self.multi_gpu!r}", field="multi_gpu"
            )
        if not isinstance(self.reference_type, str) or not self.reference_type:
            raise InputError(
                f"reference_type must be a GPU type name, not {self.reference_type!r}",
                field="reference_type",
            )


def _draw_scale_factor(rng: random.Random) -> int:
    """GPU count: 1, 2, 4 or 8 with probabilities 0.70, 0.10, 0.15, 0.05."""
    r = rng.uniform(0, 1)
    if 0.7 <= r <= 0.8:
        return 2
    if 0.8 <= r <= 0.95:
        return 4
    if r >= 0.95:
        return 8
    return 1


def _draw_duration(rng: random.Random) -> float:
    """Seconds alone on the reference type: long (10^3..10^4 min) with probability 0.2."""
    if rng.random() >= 0.8:
        return 60 * 10 ** rng.uniform(3, 4)
    return 60 * 10 ** rng.uniform(1.5, 3)


def _draw_template(rng: random.Random, scale_factor: int) -> JobTemplate:
    """A uniformly chosen template, redrawn until it can run on ``scale_factor`` GPUs."""
    while True:
        template = rng.choice(TEMPLATES)
        if scale_factor == 1 or template.distributed:
            return template


def _arrival_times(rng: random.Random, rate_per_hour: float) -> Iterator[float]:
    """0.0, then cumulative exponential gaps with mean 3600 / rate seconds."""
    lam = 3600.0 / rate_per_hour
    now = 0.0
    while True:
        yield now
        # Written as the reference computes it, so the floating point matches.
        now = now + (-math.log(1.0 - rng.random()) / (1.0 / lam))


def generate(config: GeneratorConfig, throughputs: ThroughputTable) -> Iterator[Job]:
    """The infinite, lazy job stream for ``config``, with job ids 0, 1, 2, ...

    Raises InputError at once if the table lacks the reference GPU type.
    """
    throughputs.require_types((config.reference_type,), context="the generator's reference type")
    return _jobs(config, throughputs)


def _jobs(config: GeneratorConfig, throughputs: ThroughputTable) -> Iterator[Job]:
    job_rng = random.Random(config.seed + JOB_STREAM_OFFSET)
    arrival_rng = random.Random(config.seed + ARRIVAL_STREAM_OFFSET)
    reference = (config.reference_type,)
    arrivals = _arrival_times(arrival_rng, config.rate_per_hour)
    for job_id, arrival_time in zip(itertools.count(), arrivals, strict=False):
        scale_factor = _draw_scale_factor(job_rng)
        duration = _draw_duration(job_rng)
        if not config.multi_gpu:
            scale_factor = 1
        template = _draw_template(job_rng, scale_factor)
        rate = float(throughputs.isolated(template.model, scale_factor, reference)[0])
        yield Job(
            job_id=job_id,
            model=template.model,
            scale_factor=scale_factor,
            total_steps=duration * rate,
            arrival_time=arrival_time,
            duration_s=duration,
            command=template.command,
            working_directory=template.working_directory,
            num_steps_arg=template.num_steps_arg,
            needs_data_dir=template.needs_data_dir,
        )


def generate_n(config: GeneratorConfig, throughputs: ThroughputTable, n: int) -> list[Job]:
    """The first ``n`` jobs of :func:`generate`."""
    if n < 0:
        raise ValueError(f"n must be >= 0, not {n}")
    return list(itertools.islice(generate(config, throughputs), n))
