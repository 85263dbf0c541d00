"""Tests for workloads.generator: the seed-exact synthetic Gavel workload."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetsim.errors import InputError
from workloads import (
    TEMPLATES,
    GeneratorConfig,
    ThroughputTable,
    generate,
    generate_n,
    load_throughputs,
    template_for,
)


@pytest.fixture(scope="module")
def table() -> ThroughputTable:
    """The shipped throughput table."""
    return load_throughputs()


def test_job_4000_arrives_at_the_reference_time(table: ThroughputTable) -> None:
    """Seed 0 at 2 jobs/h: job 4000 arrives at t = 7,152,401.009 s, as in the reference."""
    job = generate_n(GeneratorConfig(rate_per_hour=2.0, seed=0), table, 4001)[4000]
    assert job.job_id == 4000
    assert round(job.arrival_time, 3) == 7152401.009


def test_first_jobs_are_pinned(table: ThroughputTable) -> None:
    """Regression pin: the first jobs of seed 0 (multi-GPU) never change."""
    jobs = generate_n(GeneratorConfig(2.0, seed=0, multi_gpu=True), table, 6)
    assert [(j.model, j.scale_factor) for j in jobs] == [
        ("ResNet-18 (batch size 64)", 8),
        ("Transformer (batch size 16)", 1),
        ("Recommendation (batch size 2048)", 1),
        ("Recommendation (batch size 8192)", 1),
        ("LM (batch size 5)", 4),
        ("Transformer (batch size 64)", 1),
    ]
    assert jobs[0].duration_s == 68344.35010595087
    assert jobs[1].arrival_time == 489.172145820603


def test_draw_order_matches_a_hand_replay(table: ThroughputTable) -> None:
    """Per job: U(0,1) for the count, then the duration draws, then choice until it fits."""
    seed = 7
    rng = random.Random(seed + 2)
    expected = []
    for _ in range(300):
        r = rng.uniform(0, 1)
        count = 2 if 0.7 <= r <= 0.8 else 4 if 0.8 <= r <= 0.95 else 8 if r >= 0.95 else 1
        long_job = rng.random() >= 0.8
        duration = 60 * 10 ** (rng.uniform(3, 4) if long_job else rng.uniform(1.5, 3))
        template = rng.choice(TEMPLATES)
        while count > 1 and not template.distributed:
            template = rng.choice(TEMPLATES)
        expected.append((template.model, count, duration))
    jobs = generate_n(GeneratorConfig(1.0, seed=seed, multi_gpu=True), table, 300)
    assert [(j.model, j.scale_factor, j.duration_s) for j in jobs] == expected


def test_arrivals_replay_the_interarrival_stream(table: ThroughputTable) -> None:
    """Job 0 arrives at 0; each gap is -ln(1-U)/(1/lam) from Random(seed + 3)."""
    rng = random.Random(5 + 3)
    lam = 3600 / 3.0
    expected = [0.0]
    for _ in range(99):
        expected.append(expected[-1] + (-math.log(1.0 - rng.random()) / (1.0 / lam)))
    jobs = generate_n(GeneratorConfig(3.0, seed=5), table, 100)
    assert [j.arrival_time for j in jobs] == expected


def test_multi_gpu_mode_keeps_the_arrival_times(table: ThroughputTable) -> None:
    """Single- and multi-GPU streams of one seed have identical arrival times."""
    # The jobs themselves diverge after the first template redraw for a multi-GPU job.
    single = generate_n(GeneratorConfig(2.0, seed=1), table, 500)
    multi = generate_n(GeneratorConfig(2.0, seed=1, multi_gpu=True), table, 500)
    assert [j.arrival_time for j in single] == [j.arrival_time for j in multi]
    assert all(j.scale_factor == 1 for j in single)
    assert any(j.scale_factor > 1 for j in multi)


def test_scale_factor_frequencies(table: ThroughputTable) -> None:
    """Multi-GPU counts 1, 2, 4, 8 occur about 70, 10, 15 and 5 % of the time."""
    n = 20_000
    counts = Counter(j.scale_factor for j in generate_n(GeneratorConfig(1.0, 0, True), table, n))
    for count, share in {1: 0.70, 2: 0.10, 4: 0.15, 8: 0.05}.items():
        assert counts[count] / n == pytest.approx(share, abs=0.012)
    assert set(counts) == {1, 2, 4, 8}


def test_multi_gpu_jobs_use_distributed_templates(table: ThroughputTable) -> None:
    """A job with more than one GPU always has a distributed template."""
    for job in generate_n(GeneratorConfig(1.0, seed=2, multi_gpu=True), table, 2000):
        template = template_for(job.model)
        assert template is not None
        assert job.scale_factor == 1 or template.distributed


def test_durations_follow_the_two_part_distribution(table: ThroughputTable) -> None:
    """About 20 % of jobs are long (10^3..10^4 min); the mean is about 16.8 h."""
    jobs = generate_n(GeneratorConfig(1.0, seed=0), table, 20_000)
    durations = [j.duration_s or 0.0 for j in jobs]
    assert all(60 * 10**1.5 <= d <= 60 * 10**4 for d in durations)
    long_share = sum(d >= 60 * 10**3 for d in durations) / len(durations)
    assert long_share == pytest.approx(0.2, abs=0.012)
    assert sum(durations) / len(durations) / 3600 == pytest.approx(16.77, rel=0.08)


def test_total_steps_is_duration_times_reference_rate(table: ThroughputTable) -> None:
    """total_steps = duration * steps/s alone on the reference type, not truncated."""
    for ref in ("v100", "p100"):
        for job in generate_n(GeneratorConfig(2.0, multi_gpu=True, reference_type=ref), table, 200):
            rate = table.isolated(job.model, job.scale_factor, [ref])[0]
            assert job.total_steps == (job.duration_s or 0.0) * float(rate)
    assert any(not j.total_steps.is_integer() for j in generate_n(GeneratorConfig(2.0), table, 5))


def test_jobs_carry_template_metadata(table: ThroughputTable) -> None:
    """Generated jobs copy the template's command fields and default weight and SLO."""
    for job in generate_n(GeneratorConfig(2.0), table, 100):
        template = template_for(job.model)
        assert template is not None
        assert job.command == template.command
        assert job.working_directory == template.working_directory
        assert job.num_steps_arg == template.num_steps_arg
        assert job.needs_data_dir == template.needs_data_dir
        assert job.priority_weight == 1.0
        assert job.slo is None


def test_generate_is_an_infinite_lazy_stream(table: ThroughputTable) -> None:
    """generate yields ids 0, 1, 2, ... and agrees with generate_n."""
    config = GeneratorConfig(4.0, seed=3)
    stream = generate(config, table)
    head = list(itertools.islice(stream, 50))
    assert [j.job_id for j in head] == list(range(50))
    assert next(stream).job_id == 50
    assert head == generate_n(config, table, 50)
    assert generate_n(config, table, 0) == []


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**31),
    rate_a=st.floats(min_value=0.05, max_value=50),
    rate_b=st.floats(min_value=0.05, max_value=50),
    multi_gpu=st.booleans(),
)
def test_job_stream_is_independent_of_rate(
    table: ThroughputTable, seed: int, rate_a: float, rate_b: float, multi_gpu: bool
) -> None:
    """Two rates give the same jobs in the same order; only arrival times scale."""
    a = generate_n(GeneratorConfig(rate_a, seed, multi_gpu), table, 60)
    b = generate_n(GeneratorConfig(rate_b, seed, multi_gpu), table, 60)
    assert [(j.model, j.scale_factor, j.total_steps) for j in a] == [
        (j.model, j.scale_factor, j.total_steps) for j in b
    ]
    assert a[0].arrival_time == b[0].arrival_time == 0.0
    assert all(x.arrival_time <= y.arrival_time for x, y in itertools.pairwise(a))
    assert a[-1].arrival_time * rate_a == pytest.approx(b[-1].arrival_time * rate_b, rel=1e-9)


@pytest.mark.parametrize("rate", [0, -1.0, math.nan, math.inf, True, "2"])
def test_config_rejects_bad_rates(rate: object) -> None:
    """A rate that is not a finite number > 0 raises InputError on field 'rate'."""
    with pytest.raises(InputError, match="field 'rate'"):
        GeneratorConfig(rate_per_hour=rate)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0"])
def test_config_rejects_bad_seeds(seed: object) -> None:
    """A seed that is not an integer >= 0 raises InputError on field 'seed'."""
    with pytest.raises(InputError, match="field 'seed'"):
        GeneratorConfig(rate_per_hour=1.0, seed=seed)  # type: ignore[arg-type]


def test_missing_reference_type_fails_at_once(table: ThroughputTable) -> None:
    """generate raises before the first draw when the table lacks the reference type."""
    with pytest.raises(InputError, match="no GPU type 'a100'"):
        generate(GeneratorConfig(1.0, reference_type="a100"), table)
