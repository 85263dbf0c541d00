"""`hetsim sweep` and `hetsim plot` as a user runs them, and each figure's --quick variant."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import hetsim.cli
import scenarios
import sweep.task
from sweep.executors import Backend
from sweep.runner import SweepState
from sweep.spec import load_sweep
from sweep.table import COLUMNS
from tests.cli_helpers import run_cli

TINY = """\
name = "tiny"
title = "Tiny"
trace = "single-gpu"
policies = ["max_min_fairness", "max_min_fairness_perf"]
rates = [0.2, 0.5]
seeds = [0]
cluster = "4:4:4"
window = "10:20"
"""


def _tiny(tmp_path: Path) -> tuple[Path, Path]:
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY)
    return scenario, tmp_path / "out"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


@contextmanager
def _one_thread() -> Iterator[Backend]:
    """A sweep backend in this process: no worker process to start."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield Backend(pool, 1, "1 thread")


def test_sweep_writes_table_comparison_and_plots_then_plot_redraws(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario, out = _tiny(tmp_path)
    code, stdout, stderr = run_cli(
        ["sweep", str(scenario), "--out", str(out), "--jobs", "2", "--seeds", "0,1"], capsys
    )
    assert code == 0, stderr
    rows = _rows(out / "results.csv")
    assert list(rows[0]) == list(COLUMNS)
    assert [(r["policy"], r["rate"], r["seed"]) for r in rows] == [
        (p, r, s)
        for p in ("max_min_fairness", "max_min_fairness_perf")
        for r in ("0.2", "0.5")
        for s in ("0", "1")
    ]
    assert {r["status"] for r in rows} == {"ok"} and {r["saturated"] for r in rows} == {"false"}
    assert all(float(r["avg_jct_h"]) > 0 for r in rows)
    # each run's time in the solvers, a part of its wall time; the last line sums them
    assert all(0 < float(r["solver_time_s"]) < float(r["wall_time_s"]) for r in rows)
    wall = sum(float(r["wall_time_s"]) for r in rows)
    share = sum(float(r["solver_time_s"]) for r in rows) / wall
    assert f"the runs' wall times sum to {wall / 60:.1f} min, {share:.0%} of it in" in stdout
    comparison = _rows(out / "comparison.csv")
    assert {(c["policy"], c["rate"]) for c in comparison} == {
        (p, r) for p in ("max_min_fairness", "max_min_fairness_perf") for r in ("0.2", "0.5")
    }
    assert "not like-for-like (cluster" in stdout  # 4:4:4 is not the published setup
    assert "8 runs (0 reused, 8 run now" in stdout
    assert "[8/8]" in stderr  # the progress, one line per finished run off a terminal
    png = (out / "plots" / "jct_vs_rate.png").read_bytes()
    svg = (out / "plots" / "jct_vs_rate.svg").read_bytes()
    assert png.startswith(b"\x89PNG") and b"<svg" in svg
    spec = json.loads((out / "sweep.json").read_text())
    assert spec["seeds"] == [0, 1] and spec["name"] == "tiny"
    if (out / "results.parquet").exists():
        import pyarrow.parquet as pq

        assert pq.read_table(out / "results.parquet").num_rows == 8

    (out / "plots" / "jct_vs_rate.png").unlink()
    code, again, _ = run_cli(["plot", str(out)], capsys)
    assert code == 0
    assert (out / "plots" / "jct_vs_rate.png").read_bytes() == png
    assert "max_min_fairness_perf" in again

    code, stdout, _ = run_cli(["sweep", str(scenario), "--out", str(out), "--seeds", "0,1"], capsys)
    assert code == 0 and "8 runs (8 reused, 0 run now" in stdout

    # an interrupted sweep has records but no table: --rebuild makes it from runs/
    table = (out / "results.csv").read_text()
    (out / "results.csv").unlink()
    code, _, _ = run_cli(["plot", str(out), "--rebuild"], capsys)
    assert code == 0 and (out / "results.csv").read_text() == table


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["sweep", "fig99"], "unknown scenario 'fig99'"),
        (["sweep", "missing.toml"], "missing.toml: field 'scenario': no such file"),
        (["sweep", "fig9", "--seeds", "0,-1"], "--seeds: field 'seeds'"),
        (
            ["sweep", "fig9", "--budget", "0"],
            "--budget: field 'budget': must be a number in (0, 2,592,000] s",
        ),
        (
            ["sweep", "fig9", "--jobs", "0"],
            "--jobs: field 'jobs': must be an integer in [1, 1,024]",
        ),
        (
            ["plot", "nowhere"],
            "results.csv: no such file; `hetsim plot",
        ),
    ],
)
def test_bad_sweep_input_is_one_line_and_exit_2(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    if argv[0] == "plot":
        argv = ["plot", str(tmp_path / argv[1])]
    code, _, stderr = run_cli(argv, capsys)
    assert code == 2
    assert words in stderr and stderr.count("\n") == 1


def test_a_bad_scenario_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "bad.toml"
    scenario.write_text(TINY.replace("rates = [0.2, 0.5]", "rates = [0.2, -1]"))
    code, _, stderr = run_cli(["sweep", str(scenario), "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    assert f"{scenario}:5: field 'rates'" in stderr
    assert not (tmp_path / "o").exists()


def test_runs_over_budget_are_results_not_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario, out = _tiny(tmp_path)
    code, _, stderr = run_cli(
        ["sweep", str(scenario), "--out", str(out), "--jobs", "1", "--budget", "1e-9"], capsys
    )
    assert code == 0, stderr
    rows = _rows(out / "results.csv")
    assert {r["status"] for r in rows} == {"timeout"}
    assert {r["end_reason"] for r in rows} == {"timeout"}


def test_failed_runs_are_tabled_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crashing run is an error row; the others finish; the exit code says so."""
    real = sweep.task.Simulation

    def exploding(config: Any, **kw: Any) -> Any:
        if config.workload.rate_per_hour == 0.5:
            raise RuntimeError("solver on fire")
        return real(config, **kw)

    monkeypatch.setattr(sweep.task, "Simulation", exploding)
    monkeypatch.setattr(hetsim.cli, "open_backend", lambda jobs, dask: _one_thread())
    scenario, out = _tiny(tmp_path)
    code, _, stderr = run_cli(["sweep", str(scenario), "--out", str(out)], capsys)
    assert code == 1
    assert "2 run(s) failed" in stderr
    rows = _rows(out / "results.csv")
    assert [r["status"] for r in rows] == ["ok", "error", "ok", "error"]
    assert rows[1]["error"] == "RuntimeError: solver on fire"


def _check_figure_sweep(
    target: str, figure: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`hetsim sweep TARGET --quick` ran every policy of FIGURE at every rate: a table, a
    plot and the summary lines."""
    spec = load_sweep(scenarios.path_of(figure) if target == figure else target, quick=True)
    assert spec.name == figure
    out = tmp_path / figure
    code, stdout, stderr = run_cli(["sweep", target, "--quick", "--out", str(out)], capsys)
    assert code == 0, stderr
    rows = _rows(out / "results.csv")
    assert len(rows) == len(spec.policies) * len(spec.rates) * len(spec.seeds)
    assert {r["status"] for r in rows} <= {"ok", "saturated"}
    assert {r["policy"] for r in rows} == set(spec.policies)
    assert (out / "plots" / "jct_vs_rate.png").stat().st_size > 10_000
    assert f"{figure}: " in stdout and "knee:" in stdout


@pytest.mark.slow
@pytest.mark.parametrize("figure", ["fig9", "fig10", "fig11"])
def test_quick_variant_of_each_figure(
    figure: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`hetsim sweep FIG --quick` runs every policy of the figure end to end (minutes:
    fig11's finish-time fairness goes through cvxpy under quirks)."""
    _check_figure_sweep(figure, figure, tmp_path, capsys)


# What the default run keeps of the figures: each one's own file, its policies, trace,
# quirks and finish-time-fairness baseline, with a [quick] table of one small point.
_SMALL_QUICK = '[quick]\ncluster = "8:8:8"\nrates = [{rate}]\nwindow = "0:10"\nseeds = [0]\n'


@pytest.mark.slow  # a whole-system run (CI runs the slow tests too)
@pytest.mark.parametrize(("figure", "rate"), [("fig9", 0.4), ("fig10", 0.2), ("fig11", 0.2)])
def test_every_policy_of_each_figure_runs_through_a_sweep(
    figure: str,
    rate: float,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each figure's scenario, with its [quick] table replaced by one small point, runs
    every policy of the figure through `hetsim sweep` (the real --quick is marked slow;
    here on a thread, sparing the worker processes' start: the process pool is
    test_sweep_runner's)."""
    monkeypatch.setattr(hetsim.cli, "open_backend", lambda jobs, dask: _one_thread())
    text = (scenarios.path_of(figure) or Path()).read_text()
    assert text.count("\n[quick]\n") == 1
    body = text[: text.index("\n[quick]\n") + 1]
    assert not any(line.startswith("[") for line in body.splitlines())  # [quick] is last
    scenario = tmp_path / f"{figure}.toml"
    scenario.write_text(body + _SMALL_QUICK.format(rate=rate))
    _check_figure_sweep(str(scenario), figure, tmp_path, capsys)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_lines_elsewhere() -> None:
    """Runs done (reused ones included), running, saturated and an ETA."""
    state = SweepState(total=6, reused=2, slots=2)
    terminal, log = _Terminal(), io.StringIO()
    bar, lines = hetsim.cli._SweepDisplay(terminal, False), hetsim.cli._SweepDisplay(log, False)
    for show in (bar, lines):
        show(state)
    state.done, state.running, state.saturated, state.run_wall_s = 2, 2, 1, 120.0
    state.last = "fifo @ 6 jobs/h, seed 0: saturated, 30.00 h"
    for show in (bar, lines):
        show(state)
        show(state)  # nothing new: no new line
    bar.close()
    assert "4/6" in terminal.getvalue() and "saturated 1" in terminal.getvalue()
    printed = log.getvalue().splitlines()
    assert len(printed) == 1  # a line per finished run, none before the first
    assert printed[0].startswith("[4/6] running 2, saturated 1")
    assert "2 reused, ETA 1 min | fifo @ 6 jobs/h" in printed[0]
