"""The solver chain inside whole runs: fallbacks are counted and logged, runs never crash."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from cluster import parse_cluster
from des.config import SimConfig, WindowConfig, WorkloadConfig
from des.result import build_result
from des.simulation import Simulation
from scheduler import conic


def _config(policy: str, **kw: object) -> SimConfig:
    base: dict[str, object] = {
        "policy": policy,
        "cluster": parse_cluster("4:4:4"),
        "workload": WorkloadConfig(rate_per_hour=0.3, multi_gpu=True),
        "window": WindowConfig(5, 25),
        "seed": 3,
    }
    base.update(kw)
    return SimConfig(**base)  # type: ignore[arg-type]


def test_ecos_failing_on_cones_hands_over_to_scs(monkeypatch: pytest.MonkeyPatch) -> None:
    """ECOS fails every cone program (as it does at high load with finish-time fairness):
    SCS answers instead, every fallback is counted and logged, nothing fails."""
    real = conic.SOLVERS["ecos"]

    def flaky(program: conic.ConeProgram) -> conic.Outcome:
        if program.q:
            return conic.FAILED, None, None, "exitFlag -2 (forced: numerical problems)"
        return real(program)

    monkeypatch.setitem(conic.SOLVERS, "ecos", flaky)
    with capture_logs() as logs:
        result = build_result(Simulation(_config("finish_time_fairness_perf")).run())
    solver = result["solver"]
    assert result["end_reason"] == "window_complete"
    assert solver["failures"] == 0
    assert solver["program_solves"] > 0
    # Every program fell back at least once; SCS answered, or Clarabel after it.
    assert solver["fallbacks"] >= solver["program_solves"]
    assert set(solver["by_solver"]) <= {"scs", "clarabel"}
    warnings = [e for e in logs if e["event"] == "solver_fallback"]
    assert len(warnings) == solver["fallbacks"]
    from_ecos = [w for w in warnings if w["solver"] == "ecos"]
    assert len(from_ecos) == solver["program_solves"]
    assert all("forced" in w["detail"] for w in from_ecos)


def test_every_solver_failing_falls_back_to_the_previous_allocation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no solver at all the run still ends, on last-resort allocations, and says so."""
    for name in conic.SOLVERS:
        monkeypatch.setitem(conic.SOLVERS, name, lambda _: (conic.FAILED, None, None, "down"))
    with capture_logs() as logs:
        result = build_result(Simulation(_config("max_min_fairness_perf")).run())
    assert result["end_reason"] == "window_complete"
    assert result["solver"]["failures"] == result["solver"]["solves"] > 0
    solved = [e for e in logs if e["event"] == "allocation_solved"]
    assert solved and all(e["failed"] for e in solved)


def test_the_chain_is_configurable() -> None:
    """A run with Clarabel alone uses Clarabel for every program."""
    result = build_result(Simulation(_config("max_min_fairness_perf", solvers=("clarabel",))).run())
    assert set(result["solver"]["by_solver"]) == {"clarabel"}
    assert result["config"]["solvers"] == ["clarabel"]
