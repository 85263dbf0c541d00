"""The reference's programs, as hetsim builds them for quirks, are cvxpy's to the bit."""

from __future__ import annotations

import cvxpy as cp
import ecos
import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler import reference_cvxpy as rcv
from scheduler import reference_forms as rf


@st.composite
def problems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 9))
    m = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.1, 50.0, (n, m))
    t[rng.random((n, m)) < 0.25] = 0.0  # cells where a job cannot run stay in the program
    t[:, 0] = np.maximum(t[:, 0], 0.5)
    s = rng.choice([1, 2, 4, 8], n)
    w = rng.choice([1.0, 2.0, 5.0], n)
    caps = rng.integers(4, 40, m).astype(float)
    return t, s, w, caps


def _reference_problem(
    t: np.ndarray, s: np.ndarray, w: np.ndarray, caps: np.ndarray
) -> tuple[cp.Problem, cp.Variable]:
    """The reference's max-min model, written as it writes it."""
    n, m = t.shape
    coefficients = rf.max_min_coefficients(t, s, w, caps)
    scale = np.tile(s.astype(float)[:, None], (1, m))
    x = cp.Variable((n, m))
    objective = cp.Maximize(cp.min(cp.sum(cp.multiply(coefficients, x), axis=1)))
    constraints = [
        x >= 0,
        cp.sum(cp.multiply(scale, x), axis=0) <= list(caps),
        cp.sum(x, axis=1) <= 1,
    ]
    return cp.Problem(objective, constraints), x


@settings(max_examples=25, deadline=None)
@given(problems())
def test_max_min_program_is_cvxpys_ecos_data_and_solution(
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """c, G (indptr, indices, values) and h equal cvxpy's, so ECOS answers identically."""
    t, s, w, caps = data
    problem, x = _reference_problem(t, s, w, caps)
    reference, _, _ = problem.get_problem_data(cp.ECOS)
    ours = rf.max_min_program(rf.max_min_coefficients(t, s, w, caps), s, caps)
    g = reference["G"]
    assert np.array_equal(g.indptr, ours.G.indptr)
    assert np.array_equal(g.indices, ours.G.indices)
    assert np.array_equal(g.data, ours.G.data)
    assert np.array_equal(reference["h"], ours.h)
    assert np.array_equal(reference["c"], ours.c)
    problem.solve(solver=cp.ECOS)
    sol = ecos.solve(ours.c, ours.G, ours.h, {"l": ours.l, "q": [], "e": 0}, verbose=False)
    n, m = t.shape
    mine = rf.allocation_of(np.asarray(sol["x"]), n, m)
    assert np.array_equal(mine, np.asarray(x.value).clip(min=0.0).clip(max=1.0))


def test_isolated_throughput_is_the_reference_formula() -> None:
    """sum_j T n_j / max(N, m s_i): a 2-GPU job among 1-GPU jobs, and a crowded cluster."""
    t = np.array([[10.0, 4.0], [10.0, 4.0]])
    caps = np.array([4.0, 4.0])
    iso = rf.isolated_throughputs(t, np.array([1, 2]), caps)
    # m = 2 jobs, N = 8 GPUs: max(8, 2) = 8 for the 1-GPU job, max(8, 4) = 8 for the 2-GPU job
    assert np.allclose(iso, [(10 * 4 + 4 * 4) / 8, (10 * 4 + 4 * 4) / 8])
    many = np.tile([[10.0, 4.0]], (6, 1))
    iso = rf.isolated_throughputs(many, np.array([2] * 6), caps)
    assert np.allclose(iso, (10 * 4 + 4 * 4) / (6 * 2))  # m s_i = 12 > N = 8


def test_columns_go_to_alphabetical_order_and_back() -> None:
    """The reference sorts GPU types by name; hetsim keeps the cluster's order."""
    order = rf.alphabetical(("v100", "p100", "k80"), 3)
    assert order.tolist() == [2, 1, 0]
    assert rf.alphabetical((), 3).tolist() == [0, 1, 2]


@st.composite
def ftf_problems(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    n = draw(st.integers(2, 16))
    m = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    t = rng.uniform(0.05, 20.0, (n, m))
    t[rng.random((n, m)) < 0.25] = 0.0  # cells where a job cannot run
    if draw(st.booleans()):
        t[draw(st.integers(0, n - 1))] = 0.0  # a job that can run nowhere (infeasible)
    s = rng.choice([1, 2, 4, 8], n)
    caps = rng.integers(1, 40, m).astype(float)
    elapsed = rng.uniform(0.0, 1e6, n)
    elapsed[rng.random(n) < 0.2] = 0.0  # just arrived
    remaining = rng.uniform(1.0, 1e7, n)
    finish = elapsed + remaining / rng.uniform(0.1, 10.0, n)
    return t, s, caps, elapsed, remaining, finish


@settings(max_examples=30, deadline=None)
@given(ftf_problems())
def test_finish_time_data_is_cvxpys_ecos_data_and_solution(args: tuple[np.ndarray, ...]) -> None:
    """The reference's finish-time-fairness model written directly is what cvxpy hands
    ECOS, to the bit (values, sparsity, order, signed zeros), and so is the answer:
    the same allocation, status and message, infeasible models included."""
    model = rcv.FinishTimeModel(*args)
    mine, theirs = rcv.ecos_data(model), rcv.cvxpy_ecos_data(model)
    assert mine is not None
    assert mine.dims == theirs.dims
    assert mine.c.tobytes() == theirs.c.tobytes()
    assert mine.h.tobytes() == theirs.h.tobytes()
    assert mine.G.shape == theirs.G.shape
    for part in ("data", "indices", "indptr"):
        assert getattr(mine.G, part).tobytes() == getattr(theirs.G, part).tobytes()
    fast, slow = rcv.finish_time(model), rcv.finish_time_cvxpy(model)
    assert (fast.attempt.solver, fast.attempt.status, fast.attempt.detail) == (
        slow.attempt.solver,
        slow.attempt.status,
        slow.attempt.detail,
    )
    assert (fast.x is None) == (slow.x is None)
    if fast.x is not None and slow.x is not None:
        assert fast.x.tobytes() == slow.x.tobytes()


def test_finish_time_shapes_not_written_directly_go_through_cvxpy() -> None:
    """One job, or a job with no work left: cvxpy poses those (another layout)."""
    t = np.array([[2.0, 1.0]])
    one = rcv.FinishTimeModel(
        t, np.array([1]), np.array([4.0, 4.0]), np.zeros(1), np.ones(1), np.ones(1)
    )
    assert rcv.ecos_data(one) is None
    assert rcv.finish_time(one).attempt.status == "optimal"
    done = rcv.FinishTimeModel(
        np.ones((2, 2)), np.ones(2, int), np.full(2, 4.0), np.zeros(2), np.array([1.0, 0.0]),
        np.ones(2),
    )  # fmt: skip
    assert rcv.ecos_data(done) is None


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 400), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_max_min_program_is_the_coo_form_eliminated_and_sorted(n: int, m: int, seed: int) -> None:
    """The CSC arrays written directly are those scipy gives the same entries as
    triplets, zeros (and negative zeros) eliminated and indices sorted: values, order
    and index dtype, bit for bit, at sizes cvxpy would be slow to check."""
    rng = np.random.default_rng(seed)
    c = rng.uniform(0.0, 3.0, (n, m))
    c[rng.random((n, m)) < 0.3] = 0.0
    c[rng.random((n, m)) < 0.05] = -0.0
    s = rng.choice([1, 2, 4, 8], n)
    caps = rng.integers(1, 40, m).astype(float)
    k = n * m
    jobs, types, var = np.tile(np.arange(n), m), np.repeat(np.arange(m), n), 1 + np.arange(k)
    scale = np.repeat(s.astype(float)[None, :], m, axis=0).ravel()
    rows = [np.arange(n), jobs, n + np.arange(k), n + k + types, n + k + m + jobs]
    cols = [np.zeros(n, dtype=np.int64), var, var, var, var]
    vals = [-np.ones(n), -c.T.ravel(), -np.ones(k), scale, np.ones(k)]
    triplets = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n + k + m + n, 1 + k),
    )
    triplets.eliminate_zeros()
    triplets.sort_indices()
    ours = rf.max_min_program(c, s, caps).G
    assert ours.shape == triplets.shape
    for name in ("indptr", "indices"):
        a, b = getattr(ours, name), getattr(triplets, name)
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert ours.data.tobytes() == triplets.data.tobytes()
