"""Allocation policies: hand-checked tiny cases and invariants over random inputs."""

from __future__ import annotations

import random

import numpy as np
import pytest
import scipy.sparse as sp

from scheduler import conic, policies, registry
from scheduler.policies import base
from scheduler.problem import AllocationProblem
from tests.allocation_checks import check_allocation
from workloads import GeneratorConfig, generate_n, load_throughputs

CTX = policies.PolicyContext(rng=random.Random(0))


def _problem(
    t: list[list[float]], s: list[int], cap: list[float], **kw: object
) -> AllocationProblem:
    return AllocationProblem.build(np.array(t, float), np.array(s), np.array(cap, float), **kw)  # type: ignore[arg-type]


def test_agnostic_max_min_splits_one_gpu_evenly() -> None:
    """Two jobs, one GPU: each gets half the time."""
    x = policies.max_min_fairness(_problem([[1.0], [3.0]], [1, 1], [1]), CTX).matrix
    np.testing.assert_allclose(x, [[0.5], [0.5]], atol=1e-6)


def test_agnostic_max_min_weights_time_by_gpu_count() -> None:
    """A 2-GPU job gets half the time of a 1-GPU job: equal GPU-time shares."""
    x = policies.max_min_fairness(_problem([[1.0], [1.0]], [1, 2], [2]), CTX).matrix
    # s1*x1 = s2*x2 and x1 + 2*x2 = 2  ->  x1 = 1, x2 = 0.5
    np.testing.assert_allclose(x[:, 0], [1.0, 0.5], atol=1e-6)


def test_agnostic_max_min_respects_priority_weights() -> None:
    """A job of weight 2 gets twice the share of a job of weight 1."""
    x = policies.max_min_fairness(_problem([[1.0], [1.0]], [1, 1], [1], weights=[2.0, 1.0]), CTX)
    np.testing.assert_allclose(x.matrix[:, 0], [2 / 3, 1 / 3], atol=1e-6)


def test_perf_max_min_gives_each_job_its_fast_type() -> None:
    """Two jobs each 3x faster on a different type: each gets all of its fast type."""
    x = policies.max_min_fairness_perf(_problem([[3.0, 1.0], [1.0, 3.0]], [1, 1], [1, 1]), CTX)
    np.testing.assert_allclose(x.matrix, [[1.0, 0.0], [0.0, 1.0]], atol=1e-4)


def test_perf_max_min_objective_beats_agnostic() -> None:
    """The heterogeneity-aware allocation's worst normalised throughput is no worse."""
    p = _problem([[4.0, 1.0], [2.0, 1.5], [1.0, 1.0]], [1, 1, 1], [1, 1])
    agn = policies.max_min_fairness(p, CTX).matrix
    perf = policies.max_min_fairness_perf(p, CTX).matrix
    iso = (p.throughputs * agn).sum(axis=1)
    assert ((p.throughputs * perf).sum(axis=1) / iso).min() >= 1.0 - 1e-6


def test_zero_throughput_cells_are_never_allocated() -> None:
    """A job that cannot run on a type gets no time there, whatever the policy."""
    p = _problem([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]], [1, 1, 1], [2, 2])
    for name in registry.names():
        x = registry.get(name).allocate(p, policies.PolicyContext(rng=random.Random(1))).matrix
        assert x[0, 1] == 0.0 and x[2, 0] == 0.0, name


def test_fifo_perf_takes_the_fastest_type_in_arrival_order() -> None:
    """Jobs are served in order, each on its fastest type with room."""
    p = _problem([[1.0, 5.0], [1.0, 5.0], [1.0, 5.0]], [1, 1, 1], [1, 1])
    x = policies.fifo_perf(p, CTX).matrix
    np.testing.assert_array_equal(x, [[0, 1], [1, 0], [0, 0]])


def test_fifo_blocks_behind_a_job_that_does_not_fit() -> None:
    """Nobody jumps ahead of a job waiting for room."""
    p = _problem([[1.0], [1.0], [1.0]], [1, 4, 1], [4])
    x = policies.fifo_perf(p, CTX).matrix
    np.testing.assert_array_equal(x[:, 0], [1, 0, 0])


def test_agnostic_fifo_keeps_the_type_a_job_holds() -> None:
    """A running FIFO job keeps its type; a newcomer gets what is left."""
    prev = np.array([[0.0, 1.0], [0.0, 0.0]])
    p = _problem([[1.0, 1.0], [1.0, 1.0]], [1, 1], [1, 1], previous=prev)
    x = policies.fifo(p, CTX).matrix
    np.testing.assert_array_equal(x, [[0, 1], [1, 0]])


def test_agnostic_fifo_draws_types_from_its_stream() -> None:
    """The random type comes from the policy's stream: same seed, same choices."""
    p = _problem([[1.0] * 3] * 6, [1] * 6, [2, 2, 2])
    a = policies.fifo(p, policies.PolicyContext(rng=random.Random(5))).matrix
    b = policies.fifo(p, policies.PolicyContext(rng=random.Random(5))).matrix
    np.testing.assert_array_equal(a, b)
    assert a.sum(axis=0).tolist() == [2, 2, 2]


def test_solver_failure_falls_back_to_a_feasible_allocation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When every solver fails the policy still answers, marked failed and feasible."""
    for name in conic.DEFAULT_CHAIN:
        monkeypatch.setitem(conic.SOLVERS, name, lambda _: (conic.FAILED, None, None, "boom"))
    p = _problem([[1.0, 2.0], [1.0, 0.0], [3.0, 1.0]], [1, 2, 1], [2, 1])
    alloc = policies.max_min_fairness_perf(p, CTX)
    assert alloc.failed
    check_allocation(p, alloc.matrix)
    assert alloc.matrix.sum() > 0


def test_empty_problem_gives_empty_allocation() -> None:
    """No jobs: an empty matrix, no solve."""
    p = AllocationProblem.build(np.zeros((0, 3)), np.zeros(0, dtype=int), np.ones(3))
    for name in registry.names():
        x = registry.get(name).allocate(p, CTX).matrix
        assert x.shape == (0, 3)


def test_large_min_norm_programs_go_to_clarabel_first() -> None:
    """Above the size where ECOS's cone form of a quadratic is slower, Clarabel leads
    the chain (if the chain has it); smaller programs and other chains keep their order."""

    def program(num_vars: int) -> conic.ConeProgram:
        g = sp.identity(num_vars, format="csc")
        ones = np.ones(num_vars)
        return conic.ConeProgram(np.zeros(num_vars), g, ones, l=num_vars, P_diag=ones)

    big, small = program(base.CLARABEL_FIRST_VARS + 1), program(base.CLARABEL_FIRST_VARS)
    chain = conic.DEFAULT_CHAIN
    assert base.min_norm_chain(big, chain) == ("clarabel", "ecos", "scs")
    assert base.min_norm_chain(small, chain) == chain
    assert base.min_norm_chain(big, ("ecos", "scs")) == ("ecos", "scs")
    assert base.min_norm_chain(big, ("clarabel", "ecos")) == ("clarabel", "ecos")
    # A tie-break over job classes moves to Clarabel from a smaller size.
    mid = program(base.CLASS_CLARABEL_FIRST_VARS + 1)
    assert base.min_norm_chain(mid, chain) == chain
    assert base.min_norm_chain(mid, chain, base.CLASS_CLARABEL_FIRST_VARS)[0] == "clarabel"


def _many_jobs(n: int, seed: int) -> AllocationProblem:
    """n of the reference's multi-GPU jobs, mid-run, on a cluster of 2.5 GPUs a job."""
    types = ("v100", "p100", "k80")
    table = load_throughputs()
    jobs = generate_n(GeneratorConfig(rate_per_hour=2.0, seed=seed, multi_gpu=True), table, n)
    rng = np.random.default_rng(seed)
    return AllocationProblem.build(
        np.array([table.isolated(j.model, j.scale_factor, types) for j in jobs]),
        np.array([j.scale_factor for j in jobs]),
        np.round(np.array([0.85, 0.825, 0.825]) * n),
        remaining_steps=np.array([j.total_steps for j in jobs]) * rng.uniform(0.1, 1.0, n),
        times_since_start=rng.uniform(0, 2e5, n),
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", ["max_min_fairness_perf", "max_min_fairness"])
def test_the_tie_break_is_the_same_point_from_ecos_or_clarabel(seed: int, name: str) -> None:
    """What lets large tie-breaks go to Clarabel: after the polish, the allocation of 250
    jobs (750 cells) is the very same, bit for bit, whichever solver found the face."""
    spec = registry.get(name)
    p = _many_jobs(250, seed)
    out = {}
    for solver in ("ecos", "clarabel"):
        ctx = policies.PolicyContext(rng=random.Random(0), solvers=(solver,))
        alloc = spec.allocate(p, ctx)
        assert not alloc.failed
        assert [s.solver for s in alloc.solves] == [solver, solver]
        out[solver] = alloc.matrix
    assert np.array_equal(out["ecos"], out["clarabel"])
