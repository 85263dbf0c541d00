"""The solver layer and the program builders: same answers as cvxpy, fallbacks, duals."""

from __future__ import annotations

from pathlib import Path

import cvxpy as cp
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler import conic, programs


def _cvxpy_max_min(c: np.ndarray, s: np.ndarray, cap: np.ndarray) -> np.ndarray:
    x = cp.Variable(c.shape)
    sf = np.tile(s[:, None].astype(float), (1, c.shape[1]))
    prob = cp.Problem(
        cp.Maximize(cp.min(cp.sum(cp.multiply(c, x), axis=1))),
        [x >= 0, cp.sum(cp.multiply(sf, x), axis=0) <= cap, cp.sum(x, axis=1) <= 1],
    )
    prob.solve(solver="ECOS")
    return np.asarray(x.value)


def _max_min(c: np.ndarray, s: np.ndarray, cap: np.ndarray, allowed: np.ndarray | None = None):  # type: ignore[no-untyped-def]
    allowed = c > 0 if allowed is None else allowed
    return programs.max_min(c, allowed, s, cap)


def test_direct_ecos_matches_cvxpy_ecos() -> None:
    """The hand-built program gives the very point cvxpy + ECOS gives (same central optimum)."""
    rng = np.random.default_rng(3)
    for n in (5, 40, 120):
        t = rng.uniform(0.5, 3.0, (n, 3))
        s = rng.choice([1, 2, 4, 8], n, p=[0.7, 0.1, 0.15, 0.05])
        cap = np.array([36.0, 36.0, 36.0])
        c = t * s[:, None] / t.mean(axis=1, keepdims=True)
        program, cells, _ = _max_min(c, s, cap)
        sol = conic.solve(program, ("ecos",))
        assert sol.x is not None
        np.testing.assert_allclose(cells.scatter(sol.x), _cvxpy_max_min(c, s, cap), atol=1e-6)


def test_disallowed_cells_get_no_variable() -> None:
    """A cell that is not allowed has no variable and so no allocation."""
    c = np.array([[1.0, 2.0], [3.0, 0.0]])
    program, cells, free = _max_min(c, np.array([1, 1]), np.array([1.0, 1.0]))
    assert program.num_vars == 4  # three cells and t
    sol = conic.solve(program)
    assert sol.x is not None
    assert cells.scatter(sol.x)[1, 1] == 0.0
    assert free.tolist() == [0, 1]


def test_job_without_allowed_cells_is_left_out_of_the_minimum() -> None:
    """A job that can run nowhere does not drag the max-min objective to zero."""
    c = np.array([[2.0, 1.0], [0.0, 0.0]])
    program, _, free = _max_min(c, np.array([1, 1]), np.array([1.0, 1.0]))
    sol = conic.solve(program)
    assert sol.x is not None and free.tolist() == [0]
    assert sol.x[-1] == pytest.approx(2.0, abs=1e-6)  # all its time on the fast type


def test_bottleneck_jobs_have_positive_duals() -> None:
    """Two jobs share one GPU (bottleneck); a third has a GPU to itself and could do more."""
    c = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 5.0]])
    program, _, free = _max_min(c, np.array([1, 1, 1]), np.array([1.0, 1.0]))
    sol = conic.solve(program, ("ecos",))
    assert sol.duals is not None
    duals = sol.duals[: free.size]
    assert duals[0] > 0.1 and duals[1] > 0.1 and duals[2] < 1e-6


def test_every_solver_agrees_on_the_optimum() -> None:
    """ECOS, SCS, Clarabel and HiGHS reach the same max-min value."""
    rng = np.random.default_rng(7)
    t = rng.uniform(0.2, 4.0, (30, 3))
    s = rng.choice([1, 2, 4], 30)
    program, _, _ = _max_min(t, s, np.array([10.0, 10.0, 10.0]))
    values = {}
    for name in ("ecos", "scs", "clarabel", "highs"):
        sol = conic.solve(program, (name,))
        assert sol.x is not None, name
        values[name] = float(sol.x[-1])
    assert max(values.values()) - min(values.values()) < 1e-5 * max(values.values())


def test_min_norm_point_is_the_same_for_every_solver() -> None:
    """The min-norm tie-break is unique: interior-point and first-order solvers agree."""
    rng = np.random.default_rng(11)
    t = rng.uniform(0.5, 3.0, (25, 3))
    s = np.ones(25, dtype=int)
    cap = np.array([5.0, 5.0, 5.0])
    program, _, _ = _max_min(t, s, cap)
    level = float(conic.solve(program, ("ecos",)).x[-1])  # type: ignore[index]
    points = []
    for name in ("ecos", "scs", "clarabel"):
        mn, cells = programs.min_norm(t, t > 0, s, cap, np.full(25, level * (1 - 1e-7)))
        sol = conic.solve(mn, (name,))
        assert sol.x is not None, name
        points.append(cells.scatter(sol.x))
    for p in points[1:]:
        np.testing.assert_allclose(p, points[0], atol=1e-4)


def test_highs_is_skipped_for_cone_programs() -> None:
    """A solver that cannot take the problem class is passed over, not counted as failing."""
    t = np.ones((2, 1))
    program, _ = programs.min_norm(t, t > 0, np.ones(2, dtype=int), np.ones(1), np.zeros(2))
    sol = conic.solve(program, ("highs", "ecos"))
    assert sol.solver == "ecos" and sol.fallbacks == 0
    alone = conic.solve(program, ("highs",))
    assert not alone.ok and alone.attempts[0].status == conic.UNSUPPORTED


def test_chain_falls_back_when_a_solver_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """A solver that raises is recorded as failed and the next one answers."""

    def broken(_: conic.ConeProgram) -> conic.Outcome:
        raise ValueError("ECOS cannot handle sparse data with nnz == 0")

    monkeypatch.setitem(conic.SOLVERS, "ecos", broken)
    program, _, _ = _max_min(np.ones((3, 2)), np.ones(3, dtype=int), np.ones(2))
    sol = conic.solve(program)
    assert sol.ok and sol.solver == "scs"
    assert sol.fallbacks == 1
    assert sol.attempts[0].status == conic.FAILED and "nnz" in sol.attempts[0].detail


def test_inaccurate_answers_are_not_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reduced-accuracy status moves the chain on instead of being used."""
    monkeypatch.setitem(
        conic.SOLVERS, "ecos", lambda _: (conic.INACCURATE, None, None, "exitFlag 10")
    )
    program, _, _ = _max_min(np.ones((2, 1)), np.ones(2, dtype=int), np.ones(1))
    sol = conic.solve(program)
    assert sol.solver == "scs"
    assert [a.status for a in sol.attempts] == [conic.INACCURATE, conic.OPTIMAL]


def test_every_solver_failing_gives_no_point(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the whole chain fails the answer says so; nothing raises."""
    for name in conic.DEFAULT_CHAIN:
        monkeypatch.setitem(conic.SOLVERS, name, lambda _: (conic.FAILED, None, None, "boom"))
    program, _, _ = _max_min(np.ones((2, 1)), np.ones(2, dtype=int), np.ones(1))
    sol = conic.solve(program)
    assert not sol.ok and sol.solver is None and sol.fallbacks == 2


def test_validate_chain_rejects_unknown_solvers() -> None:
    """Configuration names only solvers hetsim knows."""
    assert conic.validate_chain(["ECOS", "scs", "clarabel"]) == ("ecos", "scs", "clarabel")
    with pytest.raises(ValueError, match="unknown solver 'gurobi'"):
        conic.validate_chain(["gurobi"])
    with pytest.raises(ValueError, match="empty"):
        conic.validate_chain([])


def test_finish_time_programs_match_cvxpy() -> None:
    """Both SOCP forms of finish-time fairness reach the optimum cvxpy finds for the model."""
    rng = np.random.default_rng(5)
    n, m = 12, 3
    rates = rng.uniform(0.2, 3.0, (n, m))
    s = np.ones(n, dtype=int)
    cap = np.array([3.0, 3.0, 3.0])
    elapsed = rng.uniform(0.0, 500.0, n)
    remaining = rng.uniform(100.0, 1000.0, n)
    finish = rng.uniform(500.0, 2000.0, n)
    program, cells = programs.finish_time_reference(
        rates, rates > 0, s, cap, elapsed, remaining, finish
    )
    sol = conic.solve(program, ("ecos",))
    assert sol.x is not None
    x = cp.Variable((n, m))
    rho = [(elapsed[i] + remaining[i] * cp.inv_pos(rates[i] @ x[i])) / finish[i] for i in range(n)]
    prob = cp.Problem(
        cp.Minimize(cp.maximum(*rho)),
        [x >= 0, cp.sum(x, axis=0) <= cap, cp.sum(x, axis=1) <= 1],
    )
    prob.solve(solver="CLARABEL")
    assert sol.x[-1] == pytest.approx(prob.value, rel=1e-5)
    ours = cells.scatter(sol.x)
    achieved = max((elapsed[i] + remaining[i] / (rates[i] @ ours[i])) / finish[i] for i in range(n))
    assert achieved == pytest.approx(prob.value, rel=1e-5)
    iso = rng.uniform(0.5, 2.0, n)  # any positive isolated rate: the compact form's units
    compact, _ = programs.finish_time_compact(
        rates / iso[:, None], rates > 0, s, cap, elapsed / finish, remaining / (iso * finish)
    )
    sol2 = conic.solve(compact, ("ecos",))
    assert sol2.x is not None
    assert sol2.x[-1] == pytest.approx(prob.value, rel=1e-5)


def _load_fixture(name: str) -> conic.ConeProgram:
    data = np.load(Path(__file__).parent / "data" / name)
    G = sp.coo_matrix(
        (data["G_data"], (data["G_row"], data["G_col"])), shape=tuple(data["G_shape"])
    ).tocsc()
    return conic.ConeProgram(
        data["c"], G, data["h"], int(data["l"]), tuple(int(k) for k in data["q"])
    )


def test_a_real_ecos_failure_is_taken_over_by_the_chain() -> None:
    """A finish-time-fairness program from a 2.8 jobs/h multi-GPU run (job ~1,500) that
    ECOS solves only to reduced accuracy: the chain moves on and SCS or Clarabel answers
    with the optimum Clarabel finds alone."""
    program = _load_fixture("ecos_failure_ftf.npz")
    alone = conic.solve(program, ("ecos",))
    assert not alone.ok and alone.attempts[0].status == conic.INACCURATE
    chained = conic.solve(program)
    assert chained.ok and chained.solver in ("scs", "clarabel") and chained.fallbacks >= 1
    reference = conic.solve(program, ("clarabel",))
    assert reference.x is not None and chained.x is not None
    assert chained.x[-1] == pytest.approx(reference.x[-1], rel=1e-4)


def test_a_program_no_solver_finishes_is_reported_not_raised() -> None:
    """Another program from that run on which ECOS, SCS and Clarabel all stop short: the
    chain says so (the policy then uses its last resort)."""
    program = _load_fixture("all_solvers_fail_ftf.npz")
    sol = conic.solve(program)
    assert not sol.ok and sol.fallbacks == 2
    assert {a.status for a in sol.attempts} == {conic.INACCURATE}


def test_cvxpy_dpp_model_is_dpp_and_agrees_with_the_direct_program() -> None:
    """The cvxpy model is built once per shape with Parameters (DPP) and reaches the same
    optimum as hetsim's direct program, problem after problem."""
    from scheduler.cvxpy_models import max_min_model

    model = max_min_model(20, 3)
    assert model.problem.is_dcp(dpp=True)
    assert max_min_model(20, 3) is model  # compiled once, reused for the shape
    rng = np.random.default_rng(9)
    for _ in range(3):
        t = rng.uniform(0.2, 4.0, (20, 3))
        t[rng.random((20, 3)) < 0.2] = 0.0
        s = rng.choice([1, 2, 4], 20)
        cap = np.array([8.0, 8.0, 8.0])
        value, x = model.solve(t, t > 0, s, cap)
        program, _, _ = programs.max_min(t, t > 0, s, cap)
        sol = conic.solve(program, ("clarabel",))
        assert sol.x is not None
        assert value == pytest.approx(sol.x[-1], rel=1e-5)
        assert (x[t == 0] <= 1e-7).all()


def test_quantize_down_floors_to_six_significant_digits() -> None:
    """Levels handed on are floored, never raised, to 6 significant digits."""
    from scheduler.policies.base import quantize_down

    values = np.array([0.0, -1.0, 1.23456789, 987654.321, 3.3e-7])
    out = quantize_down(values)
    np.testing.assert_allclose(out, [0.0, 0.0, 1.23456, 987654.0, 3.3e-7], rtol=1e-12)
    assert (out <= np.maximum(values, 0.0)).all()
    # Values that differ in the 8th digit pose the same next problem.
    assert quantize_down(np.array([0.87809397]))[0] == quantize_down(np.array([0.87809371]))[0]


def test_polish_returns_the_exact_min_norm_point() -> None:
    """A slightly off answer is replaced by the exact minimum-norm point of its active set."""
    from scheduler.policies.base import polish_min_norm

    # min ||x||^2 s.t. x0 + x1 >= 1, 0 <= x <= 1: the optimum is (0.5, 0.5).
    c = np.array([[1.0, 1.0]])
    program, _ = programs.min_norm(c, c > 0, np.array([1]), np.array([1.0, 1.0]), np.array([1.0]))
    noisy = np.array([0.5 + 3e-9, 0.5 - 2e-9])
    polished = polish_min_norm(program, noisy)
    np.testing.assert_allclose(polished, [0.5, 0.5], atol=1e-15)
    # A point on another face (a wrong active set) is not moved anywhere longer.
    far = np.array([1.0, 0.0])
    np.testing.assert_allclose(polish_min_norm(program, far), far, atol=1e-12)


@st.composite
def sparse_matrices(
    draw: st.DrawFn, rows: tuple[int, int], cols: tuple[int, int], least_density: float
) -> tuple[sp.csc_matrix, np.random.Generator]:
    """A random CSC matrix, a third of its entries explicit zeros when so drawn, and the
    random stream that made it (for the test's other draws)."""
    seed = draw(st.integers(0, 2**31 - 1))
    shape = (draw(st.integers(*rows)), draw(st.integers(*cols)))
    density = draw(st.floats(least_density, 1.0))
    G = sp.random(*shape, density=density, format="csc", random_state=seed)
    rng = np.random.default_rng(seed)
    if draw(st.booleans()) and G.nnz:
        G.data[rng.random(G.nnz) < 0.3] = 0.0
    return G, rng


@settings(max_examples=120, deadline=None)
@given(matrix=sparse_matrices((0, 25), (1, 20), 0.0), unsorted=st.booleans())
def test_the_norm_cone_is_appended_as_stacking_and_compressing_would(
    matrix: tuple[sp.csc_matrix, np.random.Generator], unsorted: bool
) -> None:
    """The epigraph's G (a column for s, the cone rows below) is, array for array, what
    stacking G and the cone block and compressing gives: explicit zeros kept, and a G
    whose indices are not sorted taken through the sort."""
    from scheduler.blocks import Block, stack
    from scheduler.conic import _with_norm_cone

    G, _ = matrix
    rows, cols = G.shape
    if unsorted and G.nnz > 1:
        # reverse the entries of each column: the same matrix, indices not sorted
        for j in range(cols):
            lo, hi = G.indptr[j], G.indptr[j + 1]
            G.indices[lo:hi] = G.indices[lo:hi][::-1].copy()
            G.data[lo:hi] = G.data[lo:hi][::-1].copy()
        G.has_sorted_indices = False
    n = cols
    cone = Block(
        np.arange(n + 1), np.concatenate([[n], np.arange(n)]), -np.ones(n + 1), (n + 1, n + 1)
    )
    want = stack([Block.of(G).widen(n + 1), cone]).tocsc()
    got = _with_norm_cone(G)
    assert got.shape == want.shape == (rows + n + 1, n + 1)
    assert np.array_equal(got.indptr, want.indptr)
    assert np.array_equal(got.indices, want.indices)
    assert np.array_equal(got.data, want.data)
    assert got.indices.dtype == want.indices.dtype


def _polish_system_by_slicing(
    program: conic.ConeProgram, active: np.ndarray, free: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The polish's dense system as scipy.sparse slicing builds it (the oracle): the
    free columns, the active rows with an entry among them, densified."""
    g_free = program.G[:, np.flatnonzero(free)].tocsr()
    act = np.flatnonzero(active)
    rows = act[np.diff(g_free.indptr)[act] > 0]
    return g_free.toarray()[rows], rows


@settings(max_examples=120, deadline=None)
@given(matrix=sparse_matrices((1, 40), (1, 30), 0.02))
def test_the_polish_solves_the_system_slicing_would_build(
    matrix: tuple[sp.csc_matrix, np.random.Generator],
) -> None:
    """polish_min_norm's least-squares system, read off the CSC arrays, is the one
    slicing the sparse matrix gives (explicit zeros keep their rows), so its answer is
    the same to the bit."""
    import scipy.linalg

    from scheduler.policies import base

    G, rng = matrix
    rows, cols = G.shape
    x = np.where(rng.random(cols) < 0.3, 0.0, rng.uniform(0.1, 1.0, cols))
    h = G @ x + np.where(rng.random(rows) < 0.5, 0.0, rng.uniform(0.1, 1.0, rows))
    program = conic.ConeProgram(np.zeros(cols), G, h, l=rows)
    active = h - G @ x <= base.ACTIVE_TOLERANCE * (1.0 + np.abs(h))
    free = x > base.ACTIVE_TOLERANCE
    if not (active.any() and free.any()):
        return
    system, picked = _polish_system_by_slicing(program, active, free)
    sub = scipy.linalg.lstsq(system, h[picked], lapack_driver="gelsy", check_finite=False)[0]
    expected = np.zeros(cols)
    expected[free] = sub
    feasible = bool((G @ expected <= h + 1e-8 * (1.0 + np.abs(h))).all())
    if not (feasible and expected @ expected <= x @ x * (1.0 + 1e-4) + 1e-12):
        expected = x
    got = base.polish_min_norm(program, x)
    assert np.array_equal(got, expected)
