"""Scenario files: the bundled figures, the [quick] variant, and every kind of bad input."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import scenarios
from hetsim.errors import InputError
from sweep.spec import RunKey, load_sweep, rate_grid, with_overrides

BASE = """\
name = "t"
trace = "single-gpu"
policies = ["max_min_fairness", "fifo"]
rates = [1.0, 2.0]
seeds = [0]
cluster = "4:4:4"
window = "10:30"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


def test_bundled_figures_are_the_papers() -> None:
    """fig9/fig10/fig11: the issue's policies, rates (no float drift), seeds and setup."""
    assert {"fig10", "fig11", "fig9"} <= set(scenarios.names())
    fig9 = load_sweep(scenarios.path_of("fig9") or "")
    assert fig9.rates == tuple(round(0.4 * i, 1) for i in range(1, 16))
    assert fig9.rates[-1] == 6.0 and len(fig9.rates) == 15
    assert fig9.policies[:2] == ("max_min_fairness", "max_min_fairness_perf")
    assert {"fifo", "fifo_perf", "gandiva", "allox", "max_min_fairness_packed"} <= set(
        fig9.policies
    )
    assert fig9.seeds == (0, 1, 2) and not fig9.multi_gpu
    assert fig9.cluster.counts == (36, 36, 36)
    assert (fig9.window.start, fig9.window.end) == (4000, 5000)
    for name in ("fig10", "fig11"):
        spec = load_sweep(scenarios.path_of(name) or "")
        assert spec.multi_gpu
        assert spec.rates == tuple(round(0.2 * i, 1) for i in range(1, 16))
    fig11 = load_sweep(scenarios.path_of("fig11") or "")
    assert fig11.policies == ("finish_time_fairness", "finish_time_fairness_perf")
    assert fig11.ftf_isolated == "las" and fig9.ftf_isolated == "share"  # the published code


def test_quick_variant_changes_only_what_it_names() -> None:
    full = load_sweep(scenarios.path_of("fig9") or "")
    quick = load_sweep(scenarios.path_of("fig9") or "", quick=True)
    assert quick.quick and len(quick.rates) < len(full.rates)
    assert quick.window.size < full.window.size
    assert quick.policies == full.policies and quick.cluster == full.cluster


def test_runs_expand_and_configs_carry_the_settings(tmp_path: Path) -> None:
    spec = load_sweep(_write(tmp_path, BASE + 'quirks = "none"\nbudget_s = 60\n'))
    assert spec.runs() == [
        RunKey("max_min_fairness", 1.0, 0),
        RunKey("max_min_fairness", 2.0, 0),
        RunKey("fifo", 1.0, 0),
        RunKey("fifo", 2.0, 0),
    ]
    config = spec.config(RunKey("fifo", 2.0, 0))
    assert config.policy == "fifo" and config.workload.rate_per_hour == 2.0
    assert config.quirks == "none" and config.timeout_s == 60
    assert config.cluster.counts == (4, 4, 4) and config.window is not None
    assert RunKey("fifo", 2.0, 3).slug == "fifo/rate-2.000_seed-3.json"
    over = with_overrides(spec, seeds=(1, 2), quirks=None)
    assert over.seeds == (1, 2) and over.quirks == "none"
    assert config.ftf_isolated == "share" and spec.to_dict()["ftf_isolated"] == "share"
    text = BASE.replace('["max_min_fairness", "fifo"]', '["finish_time_fairness_perf"]')
    las = load_sweep(_write(tmp_path, text + 'ftf_isolated = "las"\n'))
    assert las.config(RunKey("finish_time_fairness_perf", 1.0, 0)).ftf_isolated == "las"
    assert las.to_dict()["ftf_isolated"] == "las"
    assert config.job_classes and spec.to_dict()["job_classes"] is True
    off = load_sweep(_write(tmp_path, BASE + "job_classes = false\n"))
    assert not off.config(RunKey("fifo", 1.0, 0)).job_classes
    assert off.to_dict()["job_classes"] is False


def test_the_figures_hold_a_drained_window_to_ten_times_its_arrival(tmp_path: Path) -> None:
    """The three figures set the held-up rule at 10 (off in their [quick] variant, whose
    warm-up is short); a scenario that does not name it leaves it off, and the value
    reaches every run's saturation settings and the sweep's description."""
    for name in ("fig9", "fig10", "fig11"):
        path = scenarios.path_of(name) or ""
        full, quick = load_sweep(path), load_sweep(path, quick=True)
        key = full.runs()[0]
        assert full.drain_limit == 10 and full.config(key).saturation.drain_limit == 10
        assert quick.drain_limit == 0 and quick.config(key).saturation.drain_limit == 0
        assert full.to_dict()["drain_limit"] == 10
    plain = load_sweep(_write(tmp_path, BASE))
    assert plain.config(plain.runs()[0]).saturation.drain_limit == 0
    set_ = load_sweep(_write(tmp_path, BASE + "drain_limit = 4.5\n"))
    assert set_.config(set_.runs()[0]).saturation.drain_limit == 4.5


def test_cluster_file_is_relative_to_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text("[types]\na100 = 2\nv100 = 4\n")
    text = BASE.replace('cluster = "4:4:4"', 'cluster = "c.toml"')
    spec = load_sweep(_write(tmp_path, text))
    assert spec.cluster.gpu_types == ("a100", "v100")


@pytest.mark.parametrize(
    ("change", "line", "field", "words"),
    [
        (("rates = [1.0, 2.0]", "rates = [1.0, -2.0]"), 4, "rates", "in [0.001, 10,000] jobs/h"),
        (("rates = [1.0, 2.0]", "rates = { start = 1, stop = 2 }"), 4, "rates", "missing step"),
        (('"fifo"]', '"fifo", "nope"]'), 3, "policies", "unknown policy 'nope'"),
        (('window = "10:30"', 'window = "30:10"'), 7, "window", "START:END"),
        (('cluster = "4:4:4"', 'cluster = "4:4"'), 6, "cluster", "expected"),
        (("seeds = [0]", "seeds = [0, -1]"), 5, "seeds", "in [0, 2,147,483,647]"),
        (('trace = "single-gpu"', 'trace = "both"'), 2, "trace", "single-gpu, multi-gpu"),
        (('name = "t"', 'name = "t"\nbogus = 1'), 2, "bogus", "unknown key"),
        (('name = "t"', 'name = "t"\nftf_isolated = "x"'), 2, "ftf_isolated", "share, las"),
        (('name = "t"', 'name = "t"\njob_classes = 0'), 2, "job_classes", "true or false"),
        (('name = "t"', 'name = "t"\nftf_isolated = "las"'), 2, "ftf_isolated", "has 'max_min"),
        (('name = "t"', 'name = "t"\ndrain_limit = 0.5'), 2, "drain_limit", "0 to turn"),
        (
            ('name = "t"', 'name = "t"\ndrain_limit = -1'),
            2,
            "drain_limit",
            "in [0, 1,000,000] times",
        ),
        (('name = "t"', 'name = "t"\ndrain_limit = "10"'), 2, "drain_limit", "number"),
    ],
)
def test_bad_values_name_file_line_and_field(
    tmp_path: Path, change: tuple[str, str], line: int, field: str, words: str
) -> None:
    path = _write(tmp_path, BASE.replace(*change))
    with pytest.raises(InputError) as info:
        load_sweep(path)
    err = info.value
    assert (err.source, err.line, err.field) == (str(path), line, field)
    assert words in err.message
    assert "\n" not in str(err)


def test_missing_and_malformed(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="field 'policies': missing"):
        load_sweep(_write(tmp_path, BASE.replace('policies = ["max_min_fairness", "fifo"]', "")))
    with pytest.raises(InputError, match=r"s\.toml:3: malformed TOML"):
        load_sweep(_write(tmp_path, 'name = "t"\ntrace = "single-gpu"\npolicies = [\n'))
    with pytest.raises(InputError, match=r"needs a \[quick\] table"):
        load_sweep(_write(tmp_path, BASE), quick=True)
    with pytest.raises(InputError, match=r"field 'quick.name': unknown key"):
        load_sweep(_write(tmp_path, BASE + '[quick]\nname = "x"\n'), quick=True)
    multi = BASE.replace('"single-gpu"', '"multi-gpu"').replace('"fifo"', '"allox"')
    with pytest.raises(InputError, match="'allox' supports single-GPU jobs only"):
        load_sweep(_write(tmp_path, multi))


@given(
    start=st.integers(1, 40).map(lambda i: i / 10),
    step=st.integers(1, 10).map(lambda i: i / 10),
    count=st.integers(1, 30),
)
def test_rate_grid_has_every_step_and_both_ends(start: float, step: float, count: int) -> None:
    stop = start + (count - 1) * step
    grid = rate_grid(start, stop, step)
    assert len(grid) == count
    assert grid[0] == round(start, 6) and grid[-1] == round(stop, 6)
    assert all(b > a for a, b in itertools.pairwise(grid))
    assert all(len(repr(r)) <= 8 for r in grid)  # no 1.2000000000000002
