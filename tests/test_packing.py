"""Space sharing: the type-aggregated max-min LP and its per-job pairs."""

from __future__ import annotations

import functools
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler import policies
from scheduler.policies import packing
from scheduler.policies.packing import max_min_fairness_packed
from scheduler.problem import AllocationProblem
from tests.allocation_checks import check_allocation

CTX = policies.PolicyContext(rng=random.Random(0))


def _two_types(pair_rate: float, jobs: int = 2) -> AllocationProblem:
    """`jobs` jobs alternating between two types, each 10 steps/s alone on one GPU."""
    types = np.arange(jobs) % 2
    rates = np.zeros((2, 2, 1, 2))
    rates[0, 1, 0] = (pair_rate, pair_rate)
    rates[1, 0, 0] = (pair_rate, pair_rate)
    p = AllocationProblem.build(np.full((jobs, 1), 10.0), np.ones(jobs, dtype=int), np.array([1.0]))
    return AllocationProblem(**{**p.__dict__, "job_types": types, "pair_rates": rates})


def _pair_total(alloc_pairs: np.ndarray | None, matrix: np.ndarray | None, row: int) -> float:
    if alloc_pairs is None or matrix is None:
        return 0.0
    mask = (alloc_pairs == row).any(axis=1)
    return float(matrix[mask].sum())


def test_a_good_pair_shares_the_gpu_all_the_time() -> None:
    """Together at 8 steps/s each beats 5 each by time-slicing: they share, full time."""
    alloc = max_min_fairness_packed(_two_types(8.0), CTX)
    assert alloc.pairs is not None and alloc.pair_matrix is not None
    assert alloc.pairs.tolist() == [[0, 1]]
    assert alloc.pair_matrix[0, 0] == pytest.approx(1.0, abs=1e-4)
    assert alloc.matrix.sum() == pytest.approx(0.0, abs=1e-4)


def test_a_bad_pair_time_slices_instead() -> None:
    """Together at 4 steps/s each loses to 5 each alone: no sharing, half the time each."""
    alloc = max_min_fairness_packed(_two_types(4.0), CTX)
    assert alloc.pairs is None or alloc.pair_matrix is None or alloc.pair_matrix.sum() < 1e-4
    np.testing.assert_allclose(alloc.matrix[:, 0], [0.5, 0.5], atol=1e-4)


def test_pair_time_is_spread_evenly_over_the_jobs_of_each_type() -> None:
    """Four jobs, two per type, one GPU: every cross-type pair gets the same share, and
    every job's total time (alone plus paired) is the same; the GPU is never oversold."""
    p = _two_types(8.0, jobs=4)
    alloc = max_min_fairness_packed(p, CTX)
    assert alloc.pairs is not None and alloc.pair_matrix is not None
    totals = [
        alloc.matrix[i].sum() + _pair_total(alloc.pairs, alloc.pair_matrix, i) for i in range(4)
    ]
    np.testing.assert_allclose(totals, totals[0], atol=1e-6)
    used = alloc.matrix.sum() + alloc.pair_matrix.sum()  # a pair occupies one GPU
    assert used <= 1.0 + 1e-6
    check_allocation(p, alloc.matrix)


def _packed_run(
    multi_gpu: bool = False,
    policy: str = "max_min_fairness_packed",
    cluster: str = "4:4:4",
    rate: float = 0.3,
) -> tuple[dict, list]:  # type: ignore[type-arg]
    from structlog.testing import capture_logs

    from cluster import parse_cluster
    from des.config import SimConfig, WindowConfig, WorkloadConfig
    from des.result import build_result
    from des.simulation import Simulation

    cfg = SimConfig(
        policy=policy,
        cluster=parse_cluster(cluster),
        workload=WorkloadConfig(rate_per_hour=rate, multi_gpu=multi_gpu),
        window=WindowConfig(10, 40),
        seed=1,
    )
    with capture_logs() as logs:
        result = build_result(Simulation(cfg).run())
    return result, logs


@functools.cache
def _packed_run_once(multi_gpu: bool, policy: str) -> tuple[dict, list]:  # type: ignore[type-arg]
    """``_packed_run(multi_gpu, policy)`` run once for the module (tests only read it)."""
    return _packed_run(multi_gpu, policy)


@pytest.mark.parametrize(
    ("multi_gpu", "policy"),
    [
        (False, "max_min_fairness_packed"),
        (True, "max_min_fairness_packed"),
        (True, "gandiva"),
        (False, "finish_time_fairness_packed"),
    ],
)
def test_packed_runs_share_gpus_only_in_pairs_of_equal_size(multi_gpu: bool, policy: str) -> None:
    """A whole run: jobs share GPUs in pairs (never three on a GPU), only with a job of
    the same GPU count, and every window job finishes."""
    result, logs = _packed_run_once(multi_gpu, policy)
    assert result["end_reason"] == "window_complete"
    sizes = {e["job_id"]: e["scale_factor"] for e in logs if e["event"] == "job_arrived"}
    placed = [e for e in logs if e["event"] == "job_placed"]
    paired = [e for e in placed if e["partner"] is not None]
    assert paired, "no job ever shared GPUs"
    for e in paired:
        assert sizes[e["job_id"]] == sizes[e["partner"]]
    # At each round start, a GPU is held by at most the two jobs of one pair.
    holders: dict[int, tuple[int, ...]] = {}
    by_time: dict[float, list] = {}  # type: ignore[type-arg]
    for e in placed:
        by_time.setdefault(e["sim_time"], []).append(e)
    for events in by_time.values():
        for e in events:
            holders[e["job_id"]] = tuple(e["gpus"])
        per_gpu: dict[int, set[int]] = {}
        for e in events:
            for g in e["gpus"]:
                per_gpu.setdefault(g, set()).add(e["job_id"])
        assert all(len(jobs) <= 2 for jobs in per_gpu.values())


def test_packed_runs_are_deterministic() -> None:
    """The same seed gives the same packed run."""
    from des.result import strip_wall_clock

    a, logs_a = _packed_run_once(False, "max_min_fairness_packed")
    b, logs_b = _packed_run()
    assert strip_wall_clock(a) == strip_wall_clock(b)
    assert logs_a == logs_b


def test_gandiva_splits_evenly_without_overload() -> None:
    """Two jobs, four GPUs: no sharing, each gets half of every type (its isolated share)."""
    p = _two_types(8.0)
    p = AllocationProblem(**{**p.__dict__, "capacities": np.array([4.0])})
    alloc = policies.gandiva(p, CTX)
    assert alloc.pairs is None or len(alloc.pairs) == 0
    np.testing.assert_allclose(alloc.matrix[:, 0], [1.0, 1.0])


def test_gandiva_pairs_under_overload_and_keeps_its_pairs() -> None:
    """Four jobs on one GPU: random pairs that pay; the same pairs are kept next time."""
    p = _two_types(8.0, jobs=4)
    first = policies.gandiva(p, policies.PolicyContext(rng=random.Random(1)))
    assert first.pairs is not None and len(first.pairs) >= 1
    check_allocation(p, first.matrix)
    again = AllocationProblem(**{**p.__dict__, "previous_pairs": first.pairs})
    second = policies.gandiva(again, policies.PolicyContext(rng=random.Random(99)))
    assert second.pairs is not None
    assert {tuple(r) for r in second.pairs.tolist()} >= {tuple(r) for r in first.pairs.tolist()}


def test_gandiva_never_keeps_a_pair_that_does_not_pay() -> None:
    """Together at 2 steps/s each (of 10 alone): 0.4 in sum, below 1: no pair."""
    p = _two_types(2.0, jobs=4)
    alloc = policies.gandiva(p, CTX)
    assert alloc.pairs is None or len(alloc.pairs) == 0


def test_fifo_packed_pairs_a_waiting_job_when_it_pays_one_and_a_half() -> None:
    """One GPU, two jobs: the second joins the first at 8+8 of 10+10 (1.6 > 1.5), not at
    7+7 (1.4)."""
    good = policies.fifo_packed(_two_types(8.0), CTX)
    assert good.pairs is not None and good.pairs.tolist() == [[0, 1]]
    assert good.pair_matrix is not None and good.pair_matrix[0, 0] == 1.0
    assert good.matrix.sum() == 0.0
    poor = policies.fifo_packed(_two_types(7.0), CTX)
    assert poor.pairs is None
    np.testing.assert_array_equal(poor.matrix[:, 0], [1.0, 0.0])


def test_fifo_packed_packs_when_jobs_wait() -> None:
    """On a busy cluster waiting FIFO jobs join running ones, always in pairs of equal size."""
    result, logs = _packed_run(policy="fifo_packed", cluster="2:2:2", rate=0.5)
    assert result["window_jobs_completed"] > 0
    paired = [e for e in logs if e["event"] == "job_placed" and e["partner"] is not None]
    assert paired


def test_finish_time_packed_shares_when_it_shortens_the_worst_finish() -> None:
    """Two fresh jobs, one GPU: together at 8+8 of 10+10 both finish sooner (rho 1.25)
    than by halving the GPU (rho 2); at 4+4 they time-slice instead."""
    base = _two_types(8.0)
    p = AllocationProblem(**{**base.__dict__, "remaining_steps": np.array([1000.0, 1000.0])})
    good = policies.finish_time_fairness_packed(p, CTX)
    assert good.pairs is not None and good.pair_matrix is not None
    assert good.pair_matrix.sum() == pytest.approx(1.0, abs=1e-4)
    base = _two_types(4.0)
    p = AllocationProblem(**{**base.__dict__, "remaining_steps": np.array([1000.0, 1000.0])})
    poor = policies.finish_time_fairness_packed(p, CTX)
    assert poor.pairs is None or len(poor.pairs) == 0
    np.testing.assert_allclose(poor.matrix[:, 0], [0.5, 0.5], atol=1e-4)


def _per_job_plainly(
    x: np.ndarray,
    alone: tuple[np.ndarray, np.ndarray],
    pair_cells: tuple[np.ndarray, np.ndarray, np.ndarray],
    types: np.ndarray,
    counts: np.ndarray,
    m: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The spread of a per-type solution over jobs and concrete pairs, type pair by type
    pair with a dict and a loop (the oracle of ``packing._per_job``)."""
    at, aj = alone
    per_type = np.zeros((counts.size, m))
    per_type[at, aj] = x[: at.size]
    by_pair: dict[tuple[int, int], np.ndarray] = {}
    pt, pu, pj = pair_cells
    times = x[at.size :].tolist()
    for t, u, j, w in zip(pt.tolist(), pu.tolist(), pj.tolist(), times, strict=True):
        if w > packing.MIN_PAIR_TIME:
            by_pair.setdefault((t, u), np.zeros(m))[j] += w
    by_type = np.split(np.argsort(types, kind="stable"), np.cumsum(counts)[:-1])
    rows: list[np.ndarray] = [np.zeros((0, 2), dtype=np.int64)]
    vals: list[np.ndarray] = [np.zeros((0, m))]
    for (t, u), w in by_pair.items():
        if t == u:
            i, k = np.triu_indices(counts[t], k=1)
            combos = np.column_stack([by_type[t][i], by_type[t][k]])
            each = 2.0 * w / (counts[t] * (counts[t] - 1))
        else:
            left = np.repeat(by_type[t], counts[u])
            right = np.tile(by_type[u], counts[t])
            combos = np.column_stack([np.minimum(left, right), np.maximum(left, right)])
            each = w / (counts[t] * counts[u])
        rows.append(combos)
        vals.append(np.tile(each, (combos.shape[0], 1)))
    return per_type[types], np.concatenate(rows), np.concatenate(vals)


@settings(max_examples=150, deadline=None)
@given(
    counts=st.lists(st.integers(1, 4), min_size=1, max_size=5),
    m=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_pair_time_spread_is_the_plain_loops_to_the_bit(
    counts: list[int], m: int, seed: int
) -> None:
    """``_per_job`` (all type pairs at once) gives the plain loop's singles, pairs (same
    order) and pair rows bit for bit, over random type counts, cells and times (some at
    or below the threshold of a pair's time)."""
    rng = np.random.default_rng(seed)
    count = np.array(counts, dtype=np.int64)
    a = count.size
    types = rng.permutation(np.repeat(np.arange(a), count))
    at, aj = np.nonzero(rng.random((a, m)) < 0.6)
    tt, uu = np.triu_indices(a)
    keep = (tt != uu) | (count[tt] >= 2)
    tt, uu = tt[keep], uu[keep]
    pi, pj = np.nonzero(rng.random((tt.size, m)) < 0.7)
    pt, pu = tt[pi], uu[pi]
    x = rng.random(at.size + pt.size)
    x[rng.random(x.size) < 0.3] = rng.choice([0.0, packing.MIN_PAIR_TIME, 1e-12])
    got = packing._per_job(x, (at, aj), (pt, pu, pj), types, count, m, ())
    singles, pairs, pair_matrix = _per_job_plainly(x, (at, aj), (pt, pu, pj), types, count, m)
    assert got.matrix.tobytes() == singles.tobytes()
    assert got.pairs is not None and got.pair_matrix is not None
    assert got.pairs.dtype == pairs.dtype and got.pairs.tolist() == pairs.tolist()
    assert got.pair_matrix.shape == pair_matrix.shape
    assert got.pair_matrix.tobytes() == pair_matrix.tobytes()


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 30), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_gandiva_shares_are_each_combination_row_by_row(jobs: int, m: int, seed: int) -> None:
    """The shares written for all combinations at once are, to the bit, each single
    job's and each pair's row computed on its own (share / GPUs where it can run,
    scaled to sum to at most 1)."""
    rng = np.random.default_rng(seed)
    kinds = 3
    rates = rng.uniform(0.0, 12.0, (kinds, kinds, m, 2))
    rates[rng.random((kinds, kinds, m)) < 0.3] = 0.0
    rates = (rates + rates[:, :, :, ::-1].transpose(1, 0, 2, 3)) / 2  # symmetric
    throughputs = rng.uniform(1.0, 10.0, (jobs, m))
    throughputs[rng.random((jobs, m)) < 0.2] = 0.0
    throughputs[:, 0] = np.maximum(throughputs[:, 0], 1.0)
    scale = rng.choice([1, 2], jobs)
    caps = rng.integers(1, 6, m).astype(float)
    p = AllocationProblem.build(throughputs, scale, caps)
    p = AllocationProblem(
        **{**p.__dict__, "job_types": rng.integers(0, kinds, jobs), "pair_rates": rates}
    )
    alloc = policies.gandiva(p, policies.PolicyContext(rng=random.Random(seed)))
    pairs = [] if alloc.pairs is None else alloc.pairs.tolist()
    paired = {j for pair in pairs for j in pair}
    allowed = policies.base.allowed_cells(p, CTX)
    combos = sum(1 for i in range(jobs) if allowed[i].any() and i not in paired) + len(pairs)
    if combos == 0:  # nobody can run anywhere
        assert not alloc.matrix.any()
        return
    share = caps / combos
    for i in range(jobs):
        if i in paired or not allowed[i].any():
            continue
        row = np.where(allowed[i], share / float(scale[i]), 0.0)
        assert (row / max(1.0, row.sum())).tobytes() == alloc.matrix[i].tobytes()
    assert alloc.pair_matrix is not None or not pairs
    for k, (a, b) in enumerate(pairs):
        both = rates[p.job_types[a], p.job_types[b]]
        row = np.where((both > 0).all(axis=1), share / float(scale[a]), 0.0)
        assert alloc.pair_matrix is not None
        assert (row / max(1.0, row.sum())).tobytes() == alloc.pair_matrix[k].tobytes()
