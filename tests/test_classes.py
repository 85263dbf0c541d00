"""Job classes: the grouping itself, and max-min allocations solved per class against
the same allocations solved job by job."""

from __future__ import annotations

import random
from dataclasses import replace

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
    by_job = base.max_min_allocation(coefficients, p, replace(ctx, job_classes=False))
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


def test_classes_are_used_for_large_problems_that_shrink_and_for_small_ones_alike() -> None:
    """From CLASS_MIN_JOBS, when classes shrink the program by CLASS_SHRINK, both
    programs are posed per class (the large regime); below, with jobs alike, the answer
    is the job-by-job one to 1e-12 (the small regime, :func:`base.small_by_class`);
    with every job different, or with quirks, it is the job-by-job one to the bit."""
    ctx = policies.PolicyContext(rng=random.Random(0))
    p = _templated(600, 4, 3, seed=7)
    coefficients = perf_coefficients(p)
    by_class = base.max_min_allocation(coefficients, p, ctx, class_min_jobs=0)
    default = base.max_min_allocation(coefficients, p, ctx)
    assert p.num_jobs >= base.CLASS_MIN_JOBS
    assert np.array_equal(default.matrix, by_class.matrix)
    small = _templated(base.CLASS_MIN_JOBS - 1, 4, 3, seed=7)
    small_c = perf_coefficients(small)
    job_by_job = policies.PolicyContext(rng=random.Random(0), job_classes=False)
    alike = base.max_min_allocation(small_c, small, ctx)
    by_job = base.max_min_allocation(small_c, small, job_by_job)
    assert base.small_by_class(
        small_c, small.runnable & (small_c > 0), _classes(small_c, small), small, ctx
    )
    np.testing.assert_allclose(alike.matrix, by_job.matrix, rtol=0, atol=1e-10)
    assert [s.solver for s in alike.solves] == [s.solver for s in by_job.solves]
    # All jobs different: nothing to gain, so job by job.
    rng = np.random.default_rng(8)
    distinct = AllocationProblem.build(
        rng.uniform(0.2, 5.0, (200, 3)), rng.choice([1, 2], 200), np.array([60.0, 50.0, 40.0])
    )
    d_c = perf_coefficients(distinct)
    assert _classes(d_c, distinct).count == distinct.num_jobs
    assert np.array_equal(
        base.max_min_allocation(d_c, distinct, ctx).matrix,
        base.max_min_allocation(d_c, distinct, job_by_job).matrix,
    )
    # With quirks (no tie-break) the program is the job-by-job one whatever the size.
    quirks = policies.PolicyContext(rng=random.Random(0), quirks=True)
    assert np.array_equal(
        base.max_min_allocation(coefficients, p, quirks, class_min_jobs=0).matrix,
        base.max_min_allocation(coefficients, p, quirks, class_min_jobs=10**9).matrix,
    )


def _classes(coefficients: np.ndarray, p: AllocationProblem) -> JobClasses:
    return JobClasses.of(coefficients, p.runnable & (coefficients > 0), p.scale_factors)


def test_a_small_program_whose_level_sits_on_a_quantisation_step_is_posed_job_by_job() -> None:
    """Agnostic LAS with a GPU for every job: the level is exactly 1, on a step of the
    6-digit quantisation, where the floor depends on the program's last bits (and the
    row sums sit 1e-6 from their limit, inside the polish's tolerance): the answer is
    the job-by-job program's, bit for bit."""
    rows = np.array([[2.0, 1.0, 0.5]] * 6 + [[3.0, 1.5, 1.0]] * 4)
    p = AllocationProblem.build(rows, np.ones(10, dtype=np.int64), np.array([4.0, 4.0, 4.0]))
    ctx = policies.PolicyContext(rng=random.Random(0))
    coefficients = agnostic_coefficients(p, ctx)
    assert base.small_by_class(coefficients, p.runnable, _classes(coefficients, p), p, ctx) is None
    by_job = base.max_min_allocation(
        coefficients, p, policies.PolicyContext(rng=random.Random(0), job_classes=False)
    )
    assert np.array_equal(base.max_min_allocation(coefficients, p, ctx).matrix, by_job.matrix)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(2, 150),
    templates=st.integers(1, 8),
    m=st.integers(1, 3),
    seed=st.integers(0, 2**16),
    aware=st.booleans(),
)
def test_a_small_program_with_jobs_alike_gives_the_job_by_job_answer(
    n: int, templates: int, m: int, seed: int, aware: bool
) -> None:
    """Below the large regime, the allocation with classes on is the job-by-job one: to
    1e-10 (two floating-point paths to one minimum-norm point; 3.6e-12 apart at most
    seen, where the job-by-job answer itself gave two jobs alike rows 3e-14 apart), with
    the same solvers answering, whichever of the two forms answered."""
    p = _templated(n, templates, m, seed)
    ctx = policies.PolicyContext(rng=random.Random(0))
    coefficients = perf_coefficients(p) if aware else agnostic_coefficients(p, ctx)
    default = base.max_min_allocation(coefficients, p, ctx)
    by_job = base.max_min_allocation(
        coefficients, p, policies.PolicyContext(rng=random.Random(0), job_classes=False)
    )
    assert default.failed == by_job.failed
    np.testing.assert_allclose(default.matrix, by_job.matrix, rtol=0, atol=1e-10)
    assert [s.solver for s in default.solves] == [s.solver for s in by_job.solves]


def test_job_classes_off_poses_every_program_job_by_job() -> None:
    """``job_classes=False`` in the context: a 600-job problem whose classes shrink it is
    solved job by job, bit for bit, whatever ``class_min_jobs``; with classes on, the
    context's ``class_min_jobs`` moves the large regime's threshold (below it the small
    regime gives the job-by-job answer to 1e-10)."""
    p = _templated(600, 4, 3, seed=7)
    coefficients = perf_coefficients(p)
    on = policies.PolicyContext(rng=random.Random(0))
    off = policies.PolicyContext(rng=random.Random(0), job_classes=False)
    by_job = base.max_min_allocation(coefficients, p, off)
    by_class = base.max_min_allocation(coefficients, p, on, class_min_jobs=0)
    assert not np.array_equal(by_job.matrix, by_class.matrix)  # two paths: not the same bits
    assert np.array_equal(
        base.max_min_allocation(coefficients, p, off, class_min_jobs=0).matrix, by_job.matrix
    )
    higher = policies.PolicyContext(rng=random.Random(0), class_min_jobs=601)
    small = base.max_min_allocation(coefficients, p, higher)
    np.testing.assert_allclose(small.matrix, by_job.matrix, rtol=0, atol=1e-10)
    assert [s.solver for s in small.solves] == [s.solver for s in by_job.solves]
    lower = policies.PolicyContext(rng=random.Random(0), class_min_jobs=600)
    assert np.array_equal(base.max_min_allocation(coefficients, p, lower).matrix, by_class.matrix)
