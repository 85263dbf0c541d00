"""The sweep report: published curves, knees, comparison rows, the table, plots, redraw."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetsim.errors import InputError
from sweep import compare, plots, report
from sweep.published import load_published, load_published_means
from sweep.table import COLUMNS, RESULTS_CSV, read_results, row_of, time_split, write_results
from tests.csv_helpers import drop_column

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RATES = [0.4, 0.8, 1.2, 1.6, 2.0]


def make_row(policy: str, rate: float, seed: int = 0, jct: float | None = 20.0, **kw: Any) -> dict:
    """A results row with every column of the schema."""
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    status = kw.pop("status", "ok" if jct is not None else "saturated")
    row.update(
        scenario="test",
        trace="single-gpu",
        policy=policy,
        rate=rate,
        seed=seed,
        status=status,
        saturated=status == "saturated",
        avg_jct_h=jct,
        quirks="gavel",
    )
    row.update(kw)
    return row


def write_published(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    lines = ["trace,policy,jobs_per_hour,avg_jct_hours"] + [",".join(r) for r in rows]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


# -- the published curves --------------------------------------------------------------


def test_shipped_published_curves() -> None:
    single = load_published("single-gpu")
    mmf = dict(single["max_min_fairness"])
    assert mmf[5.6] == 95.99 and 6.0 not in mmf
    assert dict(single["max_min_fairness_perf"])[5.6] == 28.96
    assert [r for r, _ in single["fifo"]] == sorted(r for r, _ in single["fifo"])
    multi = load_published("multi-gpu")
    assert 2.8 not in dict(multi["gandiva"])  # printed as nan: saturated
    assert load_published("no-such-trace") == {}


def test_published_bad_number_names_file_line_field(tmp_path: Path) -> None:
    path = write_published(
        tmp_path / "p.csv",
        [("single-gpu", "fifo", "0.4", "17.5"), ("single-gpu", "fifo", "0.8", "lots")],
    )
    with pytest.raises(InputError) as err:
        load_published("single-gpu", path)
    assert (err.value.source, err.value.line, err.value.field) == (str(path), 3, "avg_jct_hours")
    assert str(err.value).startswith(f"{path}:3: field 'avg_jct_hours'")


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("trace,policy,rate,avg_jct_hours\r\n", 1, "jobs_per_hour"),
        (
            "trace,policy,jobs_per_hour,avg_jct_hours\r\nsingle-gpu,fifo,-1,3\r\n",
            2,
            "jobs_per_hour",
        ),
        ("trace,policy,jobs_per_hour,avg_jct_hours\r\nsingle-gpu,,1,3\r\n", 2, "policy"),
        (
            "trace,policy,jobs_per_hour,avg_jct_hours\r\n"
            "single-gpu,fifo,0.4,3\r\nsingle-gpu,fifo,0.40,4\r\n",
            3,
            "jobs_per_hour",
        ),
    ],
)
def test_published_bad_files(tmp_path: Path, text: str, line: int, field: str) -> None:
    path = tmp_path / "p.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_published("single-gpu", path)
    assert (err.value.line, err.value.field) == (line, field)


def test_published_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_published("single-gpu", tmp_path / "absent.csv")


# -- knees -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        ([(0.4, 10.0), (0.8, 15.0), (1.2, 25.0)], 1.2),
        ([(0.4, None), (0.8, 15.0)], 0.4),  # saturated at the lowest rate
        ([(0.4, 10.0), (0.8, 12.0), (1.2, 19.9)], None),  # no knee
        ([(0.4, 10.0), (0.8, 20.0)], None),  # exactly 2x is not a knee
        ([(0.4, 10.0), (0.8, 20.0), (1.2, 20.001)], 1.2),
        ([(0.4, 10.0), (0.8, 11.0), (1.2, None), (1.6, 12.0)], 1.2),  # saturated mid-curve
        ([(1.2, 25.0), (0.4, 10.0), (0.8, 15.0)], 1.2),  # order does not matter
        ([], None),
    ],
)
def test_knee_cases(points: list[tuple[float, float | None]], expected: float | None) -> None:
    assert compare.knee(points) == expected


curves = st.lists(
    st.one_of(st.none(), st.floats(1.0, 1000.0, allow_nan=False)), min_size=1, max_size=12
).map(lambda values: [(round(0.4 * (i + 1), 6), v) for i, v in enumerate(values)])


@settings(max_examples=200, deadline=None)
@given(curves)
def test_knee_is_the_first_point_past_twice_the_base(points: list[tuple[float, Any]]) -> None:
    found = compare.knee(points)
    base = points[0][1]
    before = points if found is None else [p for p in points if p[0] < found]
    for _, value in before:  # every point before the knee is finite and at most 2x the base
        assert value is not None and base is not None and value <= 2.0 * base
    if found is not None:
        value = dict(points)[found]
        assert value is None or base is None or value > 2.0 * base


@settings(max_examples=100, deadline=None)
@given(curves, st.randoms(use_true_random=False))
def test_knee_ignores_order_and_scale(points: list[tuple[float, Any]], rng: Any) -> None:
    shuffled = list(points)
    rng.shuffle(shuffled)
    doubled = [(r, None if v is None else 2.0 * v) for r, v in points]
    assert compare.knee(shuffled) == compare.knee(points) == compare.knee(doubled)


# -- our curves and the comparison ---------------------------------------------------------


def test_seed_zero_is_preferred_else_the_mean() -> None:
    rows = [
        make_row("a", 0.4, 0, 10.0),
        make_row("a", 0.4, 1, 30.0),
        make_row("a", 0.8, 1, 10.0),
        make_row("a", 0.8, 2, 20.0),
        make_row("a", 1.2, 1, 10.0),
        make_row("a", 1.2, 2, None, status="timeout", saturated=False),
        make_row("a", 1.6, 0, None, status="error", error="boom"),
        make_row("a", 1.6, 1, 12.0),
        make_row("a", 2.0, 0, None, status="error", error="boom"),
    ]
    curve = {p.rate: p for p in compare.comparison_curve(rows, "a")}
    assert (curve[0.4].jct_h, curve[0.4].seeds) == (10.0, (0,))
    assert (curve[0.8].jct_h, curve[0.8].seeds) == (15.0, (1, 2))
    assert curve[1.2].saturated and curve[1.2].value is None  # one seed timed out
    assert (curve[1.6].jct_h, curve[1.6].seeds) == (12.0, (1,))  # seed 0 errored
    assert 2.0 not in curve  # error only: missing, not saturated
    mean = {p.rate: p for p in compare.mean_curve(rows, "a")}
    assert (mean[0.4].jct_h, mean[0.4].low_h, mean[0.4].high_h) == (20.0, 10.0, 30.0)
    assert mean[1.2].saturated

    table = compare.comparison_rows(rows, {}, ["a"], RATES)
    by_rate = {r.rate: r for r in table}
    assert [by_rate[r].seeds for r in RATES] == ["0", "1+2", "1+2", "1", ""]
    assert by_rate[2.0].ours_saturated is None and by_rate[2.0].ours_jct_h is None
    assert by_rate[1.2].ours_saturated is True


def test_comparison_rows_against_the_published_grid(tmp_path: Path) -> None:
    path = write_published(
        tmp_path / "p.csv",
        [
            ("single-gpu", "a", "0.4", "10.0"),
            ("single-gpu", "a", "0.8", "12.0"),
            ("single-gpu", "a", "2.0", "30.0"),  # 1.2 and 1.6 are a gap: missing
            ("single-gpu", "b", "0.4", "9.0"),
            ("single-gpu", "b", "1.2", "9.0"),
            ("single-gpu", "b", "1.6", "9.0"),
            ("single-gpu", "b", "2.0", "nan"),
            ("single-gpu", "b", "2.4", "9.0"),
            ("multi-gpu", "a", "0.2", "5.0"),
        ],
    )
    published = load_published("single-gpu", path)
    assert dict(published["b"]) == {0.4: 9.0, 1.2: 9.0, 1.6: 9.0, 2.4: 9.0}
    rows = [make_row("a", r, 0, 11.0) for r in (0.4, 1.0, 2.0, 2.8)]
    rows += [make_row("b", 2.0, 0, 18.0)]
    ours = (0.4, 0.8, 1.0, 2.0, 2.4, 2.8)
    table = {
        (r.policy, r.rate): r for r in compare.comparison_rows(rows, published, ["a", "b"], ours)
    }
    assert table["a", 0.4].ratio == pytest.approx(1.1)
    assert table["a", 0.8].ours_saturated is None and table["a", 0.8].published_jct_h == 12.0
    assert table["a", 1.0].published_saturated is None  # off the published grid
    assert ("a", 1.2) not in table  # a gap in the reference, and we did not run it
    assert table["a", 2.0].ratio == pytest.approx(11.0 / 30.0)
    assert table["a", 2.4].published_saturated is True  # on the grid, after the last value
    assert table["a", 2.8].published_saturated is None  # beyond the grid
    assert table["b", 2.0].published_saturated is None  # nan below a finite rate: a gap
    assert table["b", 0.8].published_saturated is None  # a gap in the reference
    assert ("b", 1.2) not in table  # published only: plotted, not tabled
    assert table["b", 2.4].published_jct_h == 9.0 and table["b", 2.4].ours_saturated is None


def test_knee_summary_over_our_rates(tmp_path: Path) -> None:
    path = write_published(
        tmp_path / "p.csv",
        [("single-gpu", "a", f"{r:.1f}", v) for r, v in [(0.4, "10"), (0.8, "11"), (1.2, "25")]]
        + [("single-gpu", "b", "2.0", "9")],
    )
    published = load_published("single-gpu", path)
    rows = [make_row("a", r, 0, j) for r, j in [(0.4, 10.0), (0.8, 12.0), (1.2, 14.0)]]
    rows += [make_row("a", 1.6, 0, None), make_row("a", 2.0, 0, None)]
    result = compare.compare(rows, published, ["a"], RATES)
    (k,) = result.knees
    assert (k.ours, k.published, k.delta_steps, result.step) == (1.6, 1.2, 1, 0.4)
    # the reference's knee is taken over our rates: from 0.8 on, 25 > 2 x 11 still holds
    late = compare.compare([r for r in rows if r["rate"] > 0.5], published, ["a"])
    assert late.knees[0].published == 1.2 and late.knees[0].lowest == 0.8
    lines = compare.table_lines(result)
    assert any("knee: ours 1.6, published 1.2 (ours +1 steps of 0.4" in line for line in lines)
    assert any("below the published knee: max |ours/published - 1| = 9.1%" in x for x in lines)


def test_advantage_and_its_line() -> None:
    rows = []
    for seed in (0, 1):
        for rate, a, b in [(4.8, 30.0, 10.0), (5.2, 60.0, 20.0), (5.6, 90.0, 30.0)]:
            rows.append(make_row("x", rate, seed, a + seed))
            rows.append(make_row("x_perf", rate, seed, b + seed))
    rows[-2] = make_row("x", 5.6, 1, None)  # one seed of x saturated at 5.6
    assert compare.advantage(rows, "x", "x_perf", 4.8) == pytest.approx(30.5 / 10.5)
    assert compare.advantage(rows, "x", "x_perf", 5.6) is None
    assert compare.advantage(rows, "x", "x_perf", 9.9) is None
    published = {"x": [(5.2, 63.0)], "x_perf": [(5.2, 21.0)]}
    (adv,) = compare.advantages(rows, published, ["x", "x_perf"])
    assert (adv.rate, adv.published) == (5.2, pytest.approx(3.0))
    assert adv.ours == pytest.approx(60.5 / 20.5)
    lines = compare.table_lines(compare.compare(rows, published, ["x", "x_perf"]))
    assert lines[-1] == "x vs x_perf at 5.2 jobs/h: JCT ratio 2.95x (published seed 0: 3.00x)"


# -- the report files ----------------------------------------------------------------------


def fig9_rows() -> list[dict[str, Any]]:
    published = load_published("single-gpu")
    rows = []
    for policy in ("max_min_fairness", "max_min_fairness_perf"):
        reference = dict(published[policy])
        for rate in [*RATES, 5.6, 6.0]:
            for seed in (0, 1):
                jct = reference.get(rate)
                rows.append(make_row(policy, rate, seed, None if jct is None else jct + seed))
    return rows


SWEEP = {
    "name": "fig9",
    "title": "Single-GPU jobs, LAS",
    "trace": "single-gpu",
    "policies": ["max_min_fairness", "max_min_fairness_perf"],
    "rates": [*RATES, 5.6, 6.0],
    "seeds": [0, 1],
    "quick": False,
}


def test_write_report_files(tmp_path: Path) -> None:
    lines = report.write_report(tmp_path, fig9_rows(), SWEEP)
    assert lines[0].startswith("fig9: Single-GPU jobs, LAS (mean of 2 seeds)")
    # seeds 0 and 1 are the published values and the published values + 1 hour
    advantage = "max_min_fairness vs max_min_fairness_perf at 5.6 jobs/h: JCT ratio 3.28x"
    assert advantage + " (published seed 0: 3.31x)" in lines
    with (tmp_path / "comparison.csv").open(encoding="utf-8", newline="") as fh:
        read = list(csv.DictReader(fh))
    assert tuple(read[0]) == compare.CSV_COLUMNS
    cells = {(r["policy"], float(r["rate"])): r for r in read}
    assert float(cells["max_min_fairness", 5.6]["ours_jct_h"]) == 95.99
    assert float(cells["max_min_fairness", 5.6]["ratio"]) == 1.0
    assert cells["max_min_fairness", 6.0]["published_saturated"] == "true"
    assert cells["max_min_fairness", 6.0]["ours_jct_h"] == ""
    assert ("max_min_fairness", 2.4) not in cells  # published only: plotted, not tabled
    png = (tmp_path / "plots" / "jct_vs_rate.png").read_bytes()
    svg = (tmp_path / "plots" / "jct_vs_rate.svg").read_text(encoding="utf-8")
    assert png.startswith(PNG_MAGIC) and len(png) > 10_000
    assert "<svg" in svg and "Average JCT (hours)" in svg
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_redraw_is_deterministic(tmp_path: Path) -> None:
    write_results(tmp_path, fig9_rows())
    (tmp_path / "sweep.json").write_text(json.dumps(SWEEP), encoding="utf-8")
    files = ["comparison.csv", "plots/jct_vs_rate.png", "plots/jct_vs_rate.svg"]
    first_lines = report.redraw(tmp_path)
    first = [(tmp_path / f).read_bytes() for f in files]
    assert report.redraw(tmp_path) == first_lines
    assert [(tmp_path / f).read_bytes() for f in files] == first


def test_redraw_without_sweep_json_infers_it(tmp_path: Path) -> None:
    record = {
        "key": {"policy": "fifo", "rate": 0.4, "seed": 0},
        "status": "ok",
        "sweep": "mine",
        "trace": "single-gpu",
        "result": {"avg_jct_h": 17.58, "saturated": False},
    }
    write_results(tmp_path, [row_of(record)])
    lines = report.redraw(tmp_path)
    assert lines[0].startswith("mine (seed 0)")
    assert "     0.4      17.58      17.58   1.000" in lines


def test_redraw_bad_number_names_file_line_field(tmp_path: Path) -> None:
    write_results(tmp_path, fig9_rows())
    path = tmp_path / RESULTS_CSV
    text = path.read_text(encoding="utf-8").splitlines()
    text[3] = text[3].replace("23.33", "23.3x")  # line 4: max_min_fairness at 0.8, seed 0
    assert "23.3x" in text[3]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        report.redraw(tmp_path)
    assert str(err.value).startswith(f"{path}:4: field 'avg_jct_h': not a number")
    assert not (tmp_path / "comparison.csv").exists()


def test_redraw_missing_or_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        report.redraw(tmp_path)
    assert err.value.source == str(tmp_path / RESULTS_CSV)
    write_results(tmp_path, fig9_rows())
    (tmp_path / "sweep.json").write_text("{\n  not json", encoding="utf-8")
    with pytest.raises(InputError) as err:
        report.redraw(tmp_path)
    assert (err.value.source, err.value.line) == (str(tmp_path / "sweep.json"), 2)
    (tmp_path / "sweep.json").write_text(json.dumps({**SWEEP, "rates": "0.4"}), encoding="utf-8")
    with pytest.raises(InputError) as err:
        report.redraw(tmp_path)
    assert err.value.field == "rates"


# -- the published mean over seeds ---------------------------------------------------------


def write_means(path: Path, rows: list[tuple[str, ...]]) -> Path:
    lines = ["trace,policy,jobs_per_hour,avg_jct_hours,seeds"] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_shipped_published_means() -> None:
    multi = load_published_means("multi-gpu")
    ftf = {rate: (jct, seeds) for rate, jct, seeds in multi["finish_time_fairness"]}
    assert ftf[0.2] == (23.913384, (0, 1, 2))
    assert ftf[2.0][1] == (0, 1) and ftf[2.2][1] == (1, 2)  # the notebook's seed 0.5, 1.5
    assert 2.8 not in ftf  # past the last finished rate: saturated
    perf = {rate for rate, _, _ in multi["max_min_fairness_perf"]}
    assert 2.8 in perf and 3.0 not in perf  # 3.0 printed its no-result placeholder
    assert load_published_means("single-gpu") == {}


@pytest.mark.parametrize(
    ("cell", "message"), [("0+x", r"expected seeds like 0\+1\+2"), ("1+1", "a seed twice")]
)
def test_published_means_bad_seeds(tmp_path: Path, cell: str, message: str) -> None:
    path = write_means(
        tmp_path / "m.csv",
        [("multi-gpu", "a", "0.2", "5.0", "0+1+2"), ("multi-gpu", "a", "0.4", "5.0", cell)],
    )
    with pytest.raises(InputError, match=message) as err:
        load_published_means("multi-gpu", path)
    assert (err.value.line, err.value.field) == (3, "seeds")


def test_published_means_need_a_seeds_column(tmp_path: Path) -> None:
    path = write_published(tmp_path / "m.csv", [("multi-gpu", "a", "0.2", "5.0")])
    with pytest.raises(InputError) as err:
        load_published_means("multi-gpu", path)
    assert (err.value.line, err.value.field) == (1, "seeds")
    assert dict(load_published("multi-gpu", path)["a"]) == {0.2: 5.0}  # seed 0 needs none


def test_comparison_against_the_published_means(tmp_path: Path) -> None:
    means = load_published_means(
        "multi-gpu",
        write_means(
            tmp_path / "m.csv",
            [
                ("multi-gpu", "a", "0.2", "10.0", "0+1+2"),
                ("multi-gpu", "a", "0.4", "12.0", "0+1"),
                ("multi-gpu", "a", "0.6", "30.0", "0+1+2"),
                ("multi-gpu", "a", "0.8", "60.0", "0+1+2"),
                ("multi-gpu", "b", "1.0", "9.0", "0+1+2"),
            ],
        ),
    )
    rows = [
        make_row("a", 0.2, s, j, trace="multi-gpu") for s, j in [(0, 9.0), (1, 11.0), (2, 13.0)]
    ]
    rows += [
        make_row("a", 0.4, s, j, trace="multi-gpu") for s, j in [(0, 12.0), (1, 14.0), (2, 99.0)]
    ]
    rows += [make_row("a", 0.6, s, 20.0, trace="multi-gpu") for s in (0, 1)]  # no seed 2
    rows += [make_row("a", 1.0, s, None, trace="multi-gpu") for s in (0, 1, 2)]
    assert compare.has_seeds(rows) and not compare.has_seeds(rows, (0, 1, 2, 3))
    assert not compare.has_seeds([r for r in rows if r["rate"] in (0.6, 1.0) and r["seed"] < 2])
    result = compare.compare(rows, {}, ["a"], [0.2, 0.4, 0.6, 0.8, 1.0], means)
    assert result.reference == compare.SEED_MEAN
    table = {r.rate: r for r in result.rows}
    assert (table[0.2].ours_jct_h, table[0.2].seeds) == (11.0, "0+1+2")
    assert table[0.2].ratio == pytest.approx(1.1)
    assert (table[0.4].ours_jct_h, table[0.4].seeds) == (13.0, "0+1")  # the reference's seeds
    assert table[0.6].ours_saturated is None and table[0.6].published_jct_h == 30.0
    assert table[1.0].ours_saturated is True and table[1.0].published_saturated is True
    assert {r.reference for r in result.rows} == {"mean"}
    (k,) = result.knees
    assert (k.ours, k.published) == (1.0, 1.0)  # over our rates: 0.6 has no point of ours
    lines = compare.table_lines(result)
    assert "a: average JCT (hours), ours vs Gavel published (mean of seeds)" in lines


def test_advantage_over_given_seeds() -> None:
    rows = []
    for seed in (0, 1, 2):
        rows.append(make_row("x", 2.0, seed, 30.0 + seed))
        rows.append(make_row("x_perf", 2.0, seed, 10.0 + seed))
    rows.append(make_row("x", 2.0, 3, 100.0))
    assert compare.advantage(rows, "x", "x_perf", 2.0, (0, 1, 2)) == pytest.approx(31.0 / 11.0)
    assert compare.advantage(rows, "x", "x_perf", 2.0, (0, 3)) is None  # x_perf has no seed 3
    means = {"x": [(2.0, 33.0, (0, 1, 2))], "x_perf": [(2.0, 11.0, (0, 1, 2))]}
    (adv,) = compare.advantages(rows, {}, ["x", "x_perf"], means)
    assert (adv.ours, adv.published) == (pytest.approx(31.0 / 11.0), pytest.approx(3.0))
    lines = compare.table_lines(compare.compare(rows, {}, ["x", "x_perf"], (), means))
    assert lines[-1] == (
        "x vs x_perf at 2.0 jobs/h: JCT ratio 2.82x over seeds 0+1+2"
        " (published mean of seeds: 3.00x)"
    )


MULTI_SWEEP = {
    "name": "fig10",
    "title": "Multi-GPU jobs, LAS",
    "trace": "multi-gpu",
    "policies": ["max_min_fairness_perf"],
    "rates": [0.2, 0.4],
    "seeds": [0, 1, 2],
    "quick": False,
}


def test_write_report_adds_the_mean_comparison_with_three_seeds(tmp_path: Path) -> None:
    rows = [
        make_row("max_min_fairness_perf", rate, seed, 17.0 + seed, trace="multi-gpu")
        for rate in (0.2, 0.4)
        for seed in (0, 1, 2)
    ]
    lines = report.write_report(tmp_path, rows, MULTI_SWEEP)
    seed_zero = "max_min_fairness_perf: average JCT (hours), ours (seed 0) vs Gavel published"
    assert seed_zero + " (seed 0)" in lines
    assert (
        "max_min_fairness_perf: average JCT (hours), ours vs Gavel published (mean of seeds)"
        in lines
    )
    with (tmp_path / "comparison.csv").open(encoding="utf-8", newline="") as fh:
        read = list(csv.DictReader(fh))
    cells = {(r["reference"], float(r["rate"])): r for r in read}
    assert float(cells["seed0", 0.2]["ours_jct_h"]) == 17.0
    assert float(cells["seed0", 0.2]["published_jct_h"]) == 18.55
    assert float(cells["mean", 0.2]["ours_jct_h"]) == 18.0
    assert float(cells["mean", 0.2]["published_jct_h"]) == 17.291212
    assert cells["mean", 0.2]["seeds"] == "0+1+2"
    # seed 0 alone: no mean comparison
    report.write_report(tmp_path, [r for r in rows if r["seed"] == 0], MULTI_SWEEP)
    with (tmp_path / "comparison.csv").open(encoding="utf-8", newline="") as fh:
        assert {r["reference"] for r in csv.DictReader(fh)} == {"seed0"}


def test_the_plot_names_the_published_curve_it_draws() -> None:
    point = compare.Point(0.2, 17.0, False, (0, 1, 2), 16.0, 18.0)
    reference = compare.Point(0.2, 17.3, False, (0, 1, 2), 17.3, 17.3)
    figure = plots.jct_figure("t", {"a": [point]}, {"a": [reference]}, "Gavel, published mean")
    texts = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert "a (Gavel, published mean)" in texts and "a" in texts


# -- where a sweep's time went ---------------------------------------------------------


def test_solver_time_column_reads_the_record_and_round_trips(tmp_path: Path) -> None:
    record = {
        "key": {"policy": "fifo", "rate": 1.0, "seed": 0},
        "status": "ok",
        "worker": {"wall_s": 9.0},
        "result": {"wall_time_s": 8.5, "solver": {"solves": 3, "time_s": 2.25}},
    }
    row = row_of(record)
    assert (row["wall_time_s"], row["solver_time_s"], row["solver_solves"]) == (8.5, 2.25, 3)
    write_results(tmp_path, [row])
    (back,) = read_results(tmp_path / RESULTS_CSV)
    assert back["solver_time_s"] == 2.25
    # a results.csv from before the column still reads, with no solver time
    path = tmp_path / RESULTS_CSV
    drop_column(path, "solver_time_s")
    (old,) = read_results(path)
    assert old["solver_time_s"] is None and old["wall_time_s"] == 8.5
    assert time_split([old]) == (0.0, 0.0)


@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.floats(0.0, 1e4)), st.one_of(st.none(), st.floats(0.0, 1e4))
        ),
        max_size=20,
    )
)
def test_time_split_sums_the_rows_that_have_both(cells: list[tuple[Any, Any]]) -> None:
    rows = [make_row("fifo", 1.0, wall_time_s=w, solver_time_s=s) for w, s in cells]
    both = [(w, s) for w, s in cells if w is not None and s is not None]
    wall, solver = time_split(rows)
    assert wall == pytest.approx(sum(w for w, _ in both))
    assert solver == pytest.approx(sum(s for _, s in both))
