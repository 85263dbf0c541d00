"""The LP layer: the max-min program, the solver chain and its fallbacks."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from scheduler import lp


def _cvxpy_max_min(c: np.ndarray, s: np.ndarray, cap: np.ndarray) -> np.ndarray:
    x = cp.Variable(c.shape)
    sf = np.tile(s[:, None].astype(float), (1, c.shape[1]))
    prob = cp.Problem(
        cp.Maximize(cp.min(cp.sum(cp.multiply(c, x), axis=1))),
        [x >= 0, cp.sum(cp.multiply(sf, x), axis=0) <= cap, cp.sum(x, axis=1) <= 1],
    )
    prob.solve(solver="ECOS")
    return np.asarray(x.value)


def test_direct_ecos_matches_cvxpy_ecos() -> None:
    """The hand-built program gives the very point cvxpy + ECOS gives (same central optimum)."""
    rng = np.random.default_rng(3)
    for n in (5, 40, 120):
        t = rng.uniform(0.5, 3.0, (n, 3))
        s = rng.choice([1, 2, 4, 8], n, p=[0.7, 0.1, 0.15, 0.05])
        cap = np.array([36.0, 36.0, 36.0])
        c = t * s[:, None] / t.mean(axis=1, keepdims=True)
        program, cells, _ = lp.max_min_program(c, np.ones_like(c, dtype=bool), s, cap)
        sol = lp.solve(program, ("ecos",))
        assert sol.x is not None
        ours = lp.scatter(sol.x, cells, c.shape)
        np.testing.assert_allclose(ours, _cvxpy_max_min(c, s, cap), atol=1e-6)


def test_disallowed_cells_get_no_variable() -> None:
    """A cell that is not allowed has no variable and so no allocation."""
    c = np.array([[1.0, 2.0], [3.0, 0.0]])
    allowed = c > 0
    program, cells, members = lp.max_min_program(c, allowed, np.array([1, 1]), np.array([1.0, 1.0]))
    assert program.num_vars == 4  # three cells and t
    sol = lp.solve(program)
    assert sol.x is not None
    x = lp.scatter(sol.x, cells, c.shape)
    assert x[1, 1] == 0.0
    assert list(members) == [0, 1]


def test_job_without_allowed_cells_is_left_out_of_the_minimum() -> None:
    """A job that can run nowhere does not drag the max-min objective to zero."""
    c = np.array([[2.0, 1.0], [0.0, 0.0]])
    program, _, members = lp.max_min_program(c, c > 0, np.array([1, 1]), np.array([1.0, 1.0]))
    sol = lp.solve(program)
    assert sol.x is not None
    assert list(members) == [0]
    assert -program.c @ sol.x == pytest.approx(2.0, abs=1e-6)


def test_scs_agrees_with_ecos_on_the_objective() -> None:
    """The fallback solver reaches the same optimum (tight tolerances)."""
    rng = np.random.default_rng(7)
    t = rng.uniform(0.2, 4.0, (30, 3))
    s = rng.choice([1, 2, 4], 30)
    program, _, _ = lp.max_min_program(t, t > 0, s, np.array([10.0, 10.0, 10.0]))
    a = lp.solve(program, ("ecos",))
    b = lp.solve(program, ("scs",))
    assert a.x is not None and b.x is not None
    assert program.c @ a.x == pytest.approx(program.c @ b.x, abs=1e-5)


def test_chain_falls_back_when_a_solver_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """A solver that raises is recorded as failed and the next one answers."""

    def broken(_: lp.LinearProgram) -> tuple[str, None, str]:
        raise ValueError("ECOS cannot handle sparse data with nnz == 0")

    monkeypatch.setitem(lp.SOLVERS, "ecos", broken)
    program, _, _ = lp.max_min_program(
        np.ones((3, 2)), np.ones((3, 2), dtype=bool), np.ones(3, dtype=int), np.ones(2)
    )
    sol = lp.solve(program)
    assert sol.ok and sol.solver == "scs"
    assert sol.fallbacks == 1
    assert sol.attempts[0].status == lp.FAILED
    assert "nnz" in sol.attempts[0].detail


def test_inaccurate_answers_are_not_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reduced-accuracy status moves the chain on instead of being used."""
    monkeypatch.setitem(lp.SOLVERS, "ecos", lambda _: (lp.INACCURATE, None, "exitFlag 10"))
    program, _, _ = lp.max_min_program(
        np.ones((2, 1)), np.ones((2, 1), dtype=bool), np.ones(2, dtype=int), np.ones(1)
    )
    sol = lp.solve(program)
    assert sol.solver == "scs"
    assert [a.status for a in sol.attempts] == [lp.INACCURATE, lp.OPTIMAL]


def test_every_solver_failing_gives_no_point(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the whole chain fails the answer says so; nothing raises."""
    for name in ("ecos", "scs"):
        monkeypatch.setitem(lp.SOLVERS, name, lambda _: (lp.FAILED, None, "boom"))
    program, _, _ = lp.max_min_program(
        np.ones((2, 1)), np.ones((2, 1), dtype=bool), np.ones(2, dtype=int), np.ones(1)
    )
    sol = lp.solve(program)
    assert not sol.ok and sol.solver is None and sol.fallbacks == 1


def test_validate_chain_rejects_unknown_solvers() -> None:
    """Configuration names only solvers hetsim knows."""
    assert lp.validate_chain(["ECOS", "scs"]) == ("ecos", "scs")
    with pytest.raises(ValueError, match="unknown solver 'gurobi'"):
        lp.validate_chain(["gurobi"])
    with pytest.raises(ValueError, match="empty"):
        lp.validate_chain([])
