"""The sweep's server-size dimension: the `fragmentation` scenario, its points, its curves."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import hetsim.cli
import scenarios
from hetsim.errors import InputError
from sweep import compare, series
from sweep.executors import Backend
from sweep.report import write_report
from sweep.spec import RunKey, load_sweep
from sweep.table import COLUMNS, read_results, rows_of, write_results
from tests.cli_helpers import run_cli
from tests.csv_helpers import drop_column

BASE = """\
name = "t"
trace = "multi-gpu"
policies = ["max_min_fairness_perf", "fifo"]
rates = [1.0, 2.0]
seeds = [0]
cluster = "8:8:8"
window = "10:30"
"""


def _write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_fragmentation_scenario_is_las_perf_at_three_server_sizes() -> None:
    """The bundled `fragmentation`: multi-GPU LAS-perf on 36:36:36 at 1, 4 and 8 GPUs/server."""
    assert "fragmentation" in scenarios.names()
    spec = load_sweep(scenarios.path_of("fragmentation") or "")
    assert spec.policies == ("max_min_fairness_perf",) and spec.multi_gpu
    assert spec.cluster.counts == (36, 36, 36) and sorted(spec.server_sizes) == [1, 4, 8]
    assert len(spec.rates) >= 3 and list(spec.rates) == sorted(spec.rates)
    assert len(spec.runs()) == 3 * len(spec.rates) * len(spec.seeds)
    for key in spec.runs():
        assert spec.config(key).cluster.gpus_per_server == (key.gpus_per_server,) * 3
    assert spec.to_dict()["gpus_per_server"] == list(spec.server_sizes)
    quick = load_sweep(scenarios.path_of("fragmentation") or "", quick=True)
    assert len(quick.server_sizes) >= 2 and quick.window.size < spec.window.size


def test_a_list_of_sizes_expands_every_point_and_names_it(tmp_path: Path) -> None:
    spec = load_sweep(_write(tmp_path, BASE + "gpus_per_server = [4, 1]\n"))
    assert spec.server_sizes == (4, 1)  # the scenario's order
    assert spec.runs() == [
        RunKey(p, r, 0, g)
        for p in ("max_min_fairness_perf", "fifo")
        for g in (4, 1)
        for r in (1.0, 2.0)
    ]
    key = RunKey("fifo", 2.0, 0, 4)
    assert spec.config(key).cluster.gpus_per_server == (4, 4, 4)
    assert spec.config(RunKey("fifo", 2.0, 0, 1)).cluster.gpus_per_server == (1, 1, 1)
    assert key.slug == "fifo/rate-2.000_seed-0_gps-4.json"
    assert key.to_dict() == {"policy": "fifo", "rate": 2.0, "seed": 0, "gpus_per_server": 4}
    assert str(key) == "fifo @ 2 jobs/h, seed 0, 4 GPUs/server"
    assert str(RunKey("fifo", 2.0, 0, 1)).endswith("1 GPU/server")


def test_one_size_is_no_dimension(tmp_path: Path) -> None:
    """A single integer keeps today's points, file names and records (old sweeps resume)."""
    spec = load_sweep(_write(tmp_path, BASE + "gpus_per_server = 4\n"))
    assert spec.server_sizes == () and spec.cluster.gpus_per_server == (4, 4, 4)
    key = spec.runs()[0]
    assert key.gpus_per_server is None
    assert key.slug == "max_min_fairness_perf/rate-1.000_seed-0.json"
    assert key.to_dict() == {"policy": "max_min_fairness_perf", "rate": 1.0, "seed": 0}
    assert spec.config(key).cluster.gpus_per_server == (4, 4, 4)
    assert spec.to_dict()["gpus_per_server"] is None


def test_quick_keeps_the_sizes_when_it_changes_the_cluster(tmp_path: Path) -> None:
    text = BASE + 'gpus_per_server = [1, 4]\n[quick]\ncluster = "4:4:4"\n'
    quick = load_sweep(_write(tmp_path, text), quick=True)
    assert quick.server_sizes == (1, 4)
    assert quick.config(quick.runs()[1 * 2]).cluster.counts == (4, 4, 4)
    text = BASE + "gpus_per_server = [1, 4]\n[quick]\ngpus_per_server = [2]\n"
    assert load_sweep(_write(tmp_path, text), quick=True).server_sizes == (2,)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("[]", "a non-empty list"),
        ("[1, 1]", "lists a server size twice"),
        ("[1, 0]", "every size must be an integer in [1, 1,024]"),
        ('[1, "4"]', "every size must be an integer"),
        ("[4, 2.5]", "every size must be an integer"),
        ("0", "must be an integer in [1, 1,024]"),
        ("true", "must be an integer"),
    ],
)
def test_bad_sizes_name_file_line_and_field(tmp_path: Path, value: str, words: str) -> None:
    path = _write(tmp_path, BASE + f"gpus_per_server = {value}\n")
    with pytest.raises(InputError) as info:
        load_sweep(path)
    err = info.value
    assert (err.source, err.line, err.field) == (str(path), 8, "gpus_per_server")
    assert words in err.message and "\n" not in str(err)


def test_sizes_a_cluster_file_overrides_are_refused(tmp_path: Path) -> None:
    """A cluster file that sets every type's size makes the sizes equal: refused, named."""
    _write(tmp_path, "gpus_per_server = 2\n[types]\nv100 = 4\nk80 = 4\n", "c.toml")
    text = BASE.replace('"8:8:8"', '"c.toml"') + "gpus_per_server = [1, 4]\n"
    path = _write(tmp_path, text)
    with pytest.raises(InputError, match="sizes 1 and 4 give the same cluster") as info:
        load_sweep(path)
    assert (info.value.line, info.value.field) == (8, "gpus_per_server")
    # a file that leaves the size to the scenario takes each size
    _write(tmp_path, "[types]\nv100 = 4\nk80 = 4\n", "c.toml")
    spec = load_sweep(path)
    assert [c.gpus_per_server for _, c in spec.server_clusters] == [(1, 1), (4, 4)]


def test_bad_size_on_the_command_line_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, BASE + "gpus_per_server = [1, 2000]\n")
    code, _, stderr = run_cli(["sweep", str(path), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and stderr.count("\n") == 1
    assert f"{path}:8: field 'gpus_per_server'" in stderr
    assert not (tmp_path / "o").exists()


@given(
    sizes=st.lists(st.integers(1, 16), min_size=1, max_size=4, unique=True),
    rates=st.lists(st.integers(1, 40), min_size=1, max_size=4, unique=True),
    seeds=st.lists(st.integers(0, 5), min_size=1, max_size=3, unique=True),
)
def test_points_are_the_product_with_distinct_files(
    tmp_path_factory: pytest.TempPathFactory, sizes: list[int], rates: list[int], seeds: list[int]
) -> None:
    """Every (policy, size, rate, seed) once, each with its own record file and cluster."""
    text = (
        BASE.replace("rates = [1.0, 2.0]", f"rates = {[r / 10 for r in rates]}")
        .replace("seeds = [0]", f"seeds = {seeds}")
        .replace('"8:8:8"', '"16:16:16"')
    )
    spec = load_sweep(_write(tmp_path_factory.mktemp("s"), text + f"gpus_per_server = {sizes}\n"))
    runs = spec.runs()
    assert len(runs) == 2 * len(sizes) * len(rates) * len(seeds)
    assert len({k.slug for k in runs}) == len(runs) == len(set(runs))
    assert {k.gpus_per_server for k in runs} == set(sizes)
    for key in runs:
        assert spec.config(key).cluster.gpus_per_server == (key.gpus_per_server,) * 3


def _row(policy: str, size: int | None, rate: float, jct: float | None) -> dict[str, Any]:
    row = dict.fromkeys(COLUMNS)
    status = "ok" if jct is not None else "saturated"
    row.update(
        scenario="t", trace="multi-gpu", policy=policy, gpus_per_server=size, rate=rate, seed=0,
        status=status, saturated=jct is None, avg_jct_h=jct,
    )  # fmt: skip
    return row


ROWS = [
    _row("max_min_fairness_perf", size, rate, jct)
    for size, curve in ((1, (10.0, 12.0, 30.0)), (8, (10.0, 25.0, None)))
    for rate, jct in zip((0.4, 2.0, 2.4), curve, strict=True)
]


def test_each_server_size_is_a_curve_with_its_knee() -> None:
    found = series.curves(ROWS, ["max_min_fairness_perf"])
    one, eight = "max_min_fairness_perf, 1 GPU/server", "max_min_fairness_perf, 8 GPUs/server"
    assert found.names == [one, eight] and found.sizes == (1, 8)
    published = found.published({"max_min_fairness_perf": [(0.4, 11.0)], "fifo": [(3.0, 1.0)]})
    assert published[one] == [(0.4, 11.0)] and eight not in published and "fifo" in published
    result = compare.compare(found.rows, published, found.names)
    knees = {k.policy: k.ours for k in result.knees}
    assert knees == {one: 2.4, eight: 2.0}
    assert series.knee_lines(found, result.knees) == [
        "max_min_fairness_perf: knee (jobs/h) by server size: 1 GPU/server 2.4, 8 GPUs/server 2.0"
    ]
    plain = series.curves([{**r, "gpus_per_server": None} for r in ROWS[:3]], [])
    assert plain.names == ["max_min_fairness_perf"] and plain.sizes == ()
    assert series.knee_lines(plain, result.knees) == []


def test_results_and_report_carry_the_size(tmp_path: Path) -> None:
    """results.csv has the size column (read back typed); the report draws one curve per size."""
    records = [
        {"sweep": "t", "trace": "multi-gpu", "status": "ok", "error": None,
         "key": {"policy": "max_min_fairness_perf", "rate": r["rate"], "seed": 0,
                 "gpus_per_server": r["gpus_per_server"]},
         "result": {"avg_jct_h": r["avg_jct_h"], "saturated": r["avg_jct_h"] is None}}
        for r in ROWS
    ]  # fmt: skip
    rows = rows_of(reversed(records))
    assert [(r["gpus_per_server"], r["rate"]) for r in rows] == [
        (r["gpus_per_server"], r["rate"]) for r in ROWS
    ]
    write_results(tmp_path, rows)
    back = read_results(tmp_path / "results.csv")
    assert [r["gpus_per_server"] for r in back] == [1, 1, 1, 8, 8, 8]
    sweep = {"name": "t", "trace": "multi-gpu", "policies": ["max_min_fairness_perf"]}
    lines = write_report(tmp_path, back, sweep)
    assert "max_min_fairness_perf, 8 GPUs/server: average JCT (hours)" in "\n".join(lines)
    assert lines[-1].endswith("1 GPU/server 2.4, 8 GPUs/server 2.0")
    with (tmp_path / "comparison.csv").open() as fh:
        curves = {row["policy"] for row in csv.DictReader(fh)}
    assert curves == {"max_min_fairness_perf, 1 GPU/server", "max_min_fairness_perf, 8 GPUs/server"}
    svg = (tmp_path / "plots" / "jct_vs_rate.svg").read_text()
    assert "8 GPUs/server" in svg
    assert "knee (jobs/h) by server size: 1 GPU/server 2.4, 8 GPUs/server 2.0" in svg  # caption


def test_a_results_csv_from_before_the_column_still_reads(tmp_path: Path) -> None:
    write_results(tmp_path, [_row("fifo", None, 1.0, 3.0)])
    path = tmp_path / "results.csv"
    drop_column(path, "gpus_per_server")
    (row,) = read_results(path)
    assert row["gpus_per_server"] is None and row["avg_jct_h"] == 3.0


TWO_SIZES = """\
name = "servers"
trace = "multi-gpu"
policies = ["max_min_fairness_perf"]
gpus_per_server = [1, 2]
rates = [0.3, 0.6]
seeds = [0]
cluster = "4:4:4"
window = "3:9"
quirks = "none"
"""


@contextmanager
def _thread() -> Iterator[Backend]:
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield Backend(pool, 1, "1 thread")


@pytest.mark.slow  # a whole-system run (CI runs the slow tests too)
def test_a_sweep_over_two_server_sizes_runs_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hetsim sweep` (in a thread, to stay fast), the table, the records, reuse, `plot`."""
    monkeypatch.setattr(hetsim.cli, "open_backend", lambda jobs, dask: _thread())
    scenario = _write(tmp_path, TWO_SIZES.replace("rates = [0.3, 0.6]", "rates = [0.3]"))
    out = tmp_path / "out"
    code, _, stderr = run_cli(["sweep", str(scenario), "--out", str(out)], capsys)
    assert code == 0, stderr
    scenario = _write(tmp_path, TWO_SIZES)  # more rates: only the new points run
    code, stdout, stderr = run_cli(["sweep", str(scenario), "--out", str(out)], capsys)
    assert code == 0, stderr
    assert "4 runs (1 policies x 2 rates x 1 seeds x 2 server sizes)" in stderr
    assert "4 runs (2 reused, 2 run now" in stdout
    spec = json.loads((out / "sweep.json").read_text())  # the sweep as it is now
    assert spec["rates"] == [0.3, 0.6] and spec["gpus_per_server"] == [1, 2]
    with (out / "results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["gpus_per_server"], r["rate"]) for r in rows] == [
        ("1", "0.3"), ("1", "0.6"), ("2", "0.3"), ("2", "0.6")
    ]  # fmt: skip
    assert {r["status"] for r in rows} == {"ok"}
    jct = {(r["gpus_per_server"], r["rate"]): float(r["avg_jct_h"]) for r in rows}
    assert jct[("2", "0.6")] != jct[("1", "0.6")]  # the size reached the simulation
    records = sorted(p.name for p in (out / "runs" / "max_min_fairness_perf").iterdir())
    assert records == [f"rate-{r}_seed-0_gps-{g}.json" for r in ("0.300", "0.600") for g in (1, 2)]
    assert "knee (jobs/h) by server size: 1 GPU/server" in stdout
    code, again, _ = run_cli(["sweep", str(scenario), "--out", str(out)], capsys)
    assert code == 0 and "4 runs (4 reused, 0 run now" in again
    code, redrawn, _ = run_cli(["plot", str(out)], capsys)
    assert code == 0 and "max_min_fairness_perf, 2 GPUs/server" in redrawn
