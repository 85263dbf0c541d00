"""Job classes: the grouping itself, and max-min allocations solved per class against
the same allocations solved job by job."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler import policies
from scheduler.classes import JobClasses
from scheduler.policies import base
from scheduler.policies.fairness import agnostic_coefficients, perf_coefficients
from scheduler.problem import AllocationProblem
from tests.allocation_checks import check_allocation


@settings(max_examples=80, deadline=None)
@given(
    kinds=st.lists(st.integers(0, 4), min_size=1, max_size=40),
    m=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_classes_group_equal_rows_numbered_by_their_first_job(
    kinds: list[int], m: int, seed: int
) -> None:
    """Rows drawn from a few kinds: jobs share a class exactly when their rows, allowed
    cells and GPU counts are equal; classes are numbered by first job, and expanding
    the class rows gives back every job's row."""
    rng = np.random.default_rng(seed)
    table = rng.uniform(0.0, 3.0, (5, m))
    table[rng.random((5, m)) < 0.3] = 0.0
    gpus_of_kind = rng.choice([1, 2, 4], 5)
    coefficients = table[kinds]
    allowed = coefficients > 0
    scale = gpus_of_kind[kinds]
    classes = JobClasses.of(coefficients, allowed, scale)
    key = [
        (tuple(c), tuple(a), int(s)) for c, a, s in zip(coefficients, allowed, scale, strict=True)
    ]
    firsts: dict[tuple[object, ...], int] = {}
    for i, k in enumerate(key):
        firsts.setdefault(k, i)
    assert classes.first.tolist() == sorted(firsts.values())
    assert classes.count == len(firsts)
    for i, k in enumerate(key):
        assert classes.first[classes.of_job[i]] == firsts[k]
    assert classes.sizes.sum() == len(kinds)
    assert np.array_equal(classes.expand(coefficients[classes.first]), coefficients)


def _templated(n: int, templates: int, m: int, seed: int) -> AllocationProblem:
    """n jobs drawn from a few templates (throughput rows with zero cells, GPU counts)."""
    rng = np.random.default_rng(seed)
    rows = rng.uniform(0.2, 5.0, (templates, m))
    rows[rng.random((templates, m)) < 0.25] = 0.0
    rows[rows.max(axis=1) == 0, 0] = 1.0
    gpus = rng.choice([1, 1, 2, 4], templates)
    pick = rng.integers(0, templates, n)
    capacities = np.maximum(1, np.round(rng.uniform(0.3, 1.2, m) * n)).astype(float)
    return AllocationProblem.build(rows[pick], gpus[pick], capacities)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(8, 120),
    templates=st.integers(1, 6),
    m=st.integers(1, 3),
    seed=st.integers(0, 2**16),
    aware=st.booleans(),
)
def test_a_max_min_allocation_per_class_is_the_one_job_by_job(
    n: int, templates: int, m: int, seed: int, aware: bool
) -> None:
    """The tie-broken max-min allocation of LAS (aware or agnostic) posed over classes
    is the allocation posed over jobs: feasible, the same minimum level, the same
    allocation to within the level's quantisation (floors are cut to 6 significant
    digits, so the two optima may stand up to a unit of the 6th digit apart), every job
    of a class the same row."""
    p = _templated(n, templates, m, seed)
    ctx = policies.PolicyContext(rng=random.Random(0))
    coefficients = perf_coefficients(p) if aware else agnostic_coefficients(p, ctx)
    by_job = base.max_min_allocation(coefficients, p, ctx, class_min_jobs=n + 1)
    usable = p.runnable & (coefficients > 0)
    classes = JobClasses.of(coefficients, usable, p.scale_factors)
    by_class = base.max_min_by_class(coefficients, usable, classes, p, ctx)
    assert not by_job.failed and not by_class.failed
    check_allocation(p, by_class.matrix)
    assert np.array_equal(by_class.matrix, classes.expand(by_class.matrix[classes.first]))
    levels_job = (coefficients * by_job.matrix).sum(axis=1)
    levels_class = (coefficients * by_class.matrix).sum(axis=1)
    # Each tie-break keeps every level above its LP optimum less LEVEL_SLACK (1e-6),
    # floored to 6 significant digits (one unit there is up to 1e-5 of the value), and
    # the two LP optima may differ in their 8th digit: so the minimum levels can stand
    # up to about 1.1e-5 of the value apart (1.3e-6 at a level of 0.3636 seen).
    assert levels_class.min() == pytest.approx(levels_job.min(), rel=1.2e-5, abs=1e-9)
    np.testing.assert_allclose(by_class.matrix, by_job.matrix, atol=2e-5)


def test_classes_are_used_only_for_large_problems_that_shrink() -> None:
    """Below CLASS_MIN_JOBS, or when classes would not shrink the program by
    CLASS_SHRINK, the allocation is the job-by-job one to the bit; above, per class;
    and never with quirks (the reference's own program)."""
    ctx = policies.PolicyContext(rng=random.Random(0))
    p = _templated(600, 4, 3, seed=7)
    coefficients = perf_coefficients(p)
    by_class = base.max_min_allocation(coefficients, p, ctx, class_min_jobs=0)
    default = base.max_min_allocation(coefficients, p, ctx)
    assert p.num_jobs >= base.CLASS_MIN_JOBS
    assert np.array_equal(default.matrix, by_class.matrix)
    small = _templated(base.CLASS_MIN_JOBS - 1, 4, 3, seed=7)
    small_c = perf_coefficients(small)
    assert np.array_equal(
        base.max_min_allocation(small_c, small, ctx).matrix,
        base.max_min_allocation(small_c, small, ctx, class_min_jobs=10**9).matrix,
    )
    # All jobs different: nothing to gain, so job by job.
    distinct = _templated(600, 600, 3, seed=8)
    d_c = perf_coefficients(distinct)
    assert np.array_equal(
        base.max_min_allocation(d_c, distinct, ctx).matrix,
        base.max_min_allocation(d_c, distinct, ctx, class_min_jobs=10**9).matrix,
    )
    # With quirks (no tie-break) the program is the job-by-job one whatever the size.
    quirks = policies.PolicyContext(rng=random.Random(0), quirks=True)
    assert np.array_equal(
        base.max_min_allocation(coefficients, p, quirks, class_min_jobs=0).matrix,
        base.max_min_allocation(coefficients, p, quirks, class_min_jobs=10**9).matrix,
    )


def test_job_classes_off_poses_every_program_job_by_job() -> None:
    """``job_classes=False`` in the context: a 600-job problem whose classes shrink it is
    solved job by job, bit for bit; the context's ``class_min_jobs`` moves the threshold."""
    p = _templated(600, 4, 3, seed=7)
    coefficients = perf_coefficients(p)
    on = policies.PolicyContext(rng=random.Random(0))
    off = policies.PolicyContext(rng=random.Random(0), job_classes=False)
    by_job = base.max_min_allocation(coefficients, p, on, class_min_jobs=10**9)
    by_class = base.max_min_allocation(coefficients, p, on, class_min_jobs=0)
    assert not np.array_equal(by_job.matrix, by_class.matrix)  # two paths: not the same bits
    assert np.array_equal(base.max_min_allocation(coefficients, p, off).matrix, by_job.matrix)
    assert np.array_equal(
        base.max_min_allocation(coefficients, p, off, class_min_jobs=0).matrix, by_job.matrix
    )
    higher = policies.PolicyContext(rng=random.Random(0), class_min_jobs=601)
    assert np.array_equal(base.max_min_allocation(coefficients, p, higher).matrix, by_job.matrix)
    lower = policies.PolicyContext(rng=random.Random(0), class_min_jobs=600)
    assert np.array_equal(base.max_min_allocation(coefficients, p, lower).matrix, by_class.matrix)
