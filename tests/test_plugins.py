"""Tests for policy plugins: loading by module, file or entry point, the example SRTF
plugin, and the clear error of every kind of broken plugin."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest

from hetsim.errors import InputError
from scheduler import plugins, registry
from scheduler.policies import PolicyContext
from scheduler.problem import Allocation, AllocationProblem
from sweep.spec import load_sweep
from tests.cli_helpers import run_cli

REPO = Path(__file__).resolve().parent.parent
SRTF = f"{REPO / 'examples' / 'srtf.py'}:shortest_remaining_time_first"
CTX = PolicyContext(rng=random.Random(0))


@pytest.fixture(autouse=True)
def _own_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plugins these tests load stay out of the registry other tests walk."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def problem() -> AllocationProblem:
    """Three jobs on two types (2 GPUs each); job 2 cannot run on type 1."""
    return AllocationProblem.build(
        throughputs=[[2.0, 1.0], [2.0, 1.0], [4.0, 0.0]],
        scale_factors=[1, 2, 1],
        capacities=[2.0, 2.0],
        remaining_steps=[100.0, 10.0, 1000.0],
        job_ids=[10, 11, 12],
        type_names=("v100", "k80"),
    )


def test_srtf_example_hand_checked() -> None:
    """SRTF: the shortest job (11, 2 GPUs) takes the fast type, the next one the slow
    type, the longest (12, fast type only) waits."""
    allocation = registry.get(SRTF).allocate(problem(), CTX)
    assert allocation.matrix.tolist() == [[0.0, 1.0], [1.0, 0.0], [0.0, 0.0]]
    spec = registry.get(SRTF)
    assert spec.fifo_like and spec.fixed_type_order and spec.name == SRTF


def plugin_file(tmp_path: Path, body: str) -> str:
    path = tmp_path / "mine.py"
    path.write_text("import numpy as np\nfrom scheduler.problem import Allocation\n" + body)
    return f"{path}:policy"


BROKEN = [
    ("raise ImportError('no solver here')\ndef policy(p, c): pass\n", "importing .*ImportError"),
    ("def policy(p, c):\n    return np.zeros((1, 1))\n", r"shape \(1, 1\), expected \(3, 2\)"),
    ("def policy(p, c):\n    return np.full((3, 2), np.nan)\n", r"not finite \(nan\) to job 10"),
    (
        "def policy(p, c):\n    return np.array([[0.9, 0], [0.9, 0], [0.9, 0]])\n",
        "breaks the capacity of v100: 3.6 GPUs of 2",
    ),
    (
        "def policy(p, c):\n    m = np.zeros((3, 2)); m[2, 1] = 0.5\n    return Allocation(m)\n",
        "gives time to job 12 on k80, where it cannot run",
    ),
    (
        "def policy(p, c):\n    m = np.zeros((3, 2)); m[0] = 0.7\n    return m\n",
        "gives job 10 a share of 1.4 of each round",
    ),
    ("def policy(p, c):\n    return [[0, 0]] * 3\n", "returned a list, not an Allocation"),
    ("def policy(p, c):\n    raise ZeroDivisionError('oops')\n", "raised ZeroDivisionError: oops"),
    ("policy = 3\n", "is a int, not a PolicySpec or a function"),
]


@pytest.mark.parametrize(("body", "message"), BROKEN)
def test_broken_plugins_name_the_plugin_and_the_fault(
    tmp_path: Path, body: str, message: str
) -> None:
    """Each way a plugin can be broken is one error naming the plugin and what is wrong."""
    name = plugin_file(tmp_path, body)
    with pytest.raises(plugins.PluginError, match=re.escape(f"policy plugin '{name}'")) as err:
        registry.get(name).allocate(problem(), CTX)
    assert re.search(message, str(err.value)), str(err.value)


def test_unloadable_references() -> None:
    """A missing module, attribute or file is a PluginError; a plain unknown name is not
    a plugin at all."""
    with pytest.raises(plugins.PluginError, match=r"cannot import module 'no_such_pkg\.x'"):
        registry.get("no_such_pkg.x:f")
    with pytest.raises(plugins.PluginError, match="has no attribute 'nope'"):
        registry.get("json:nope")
    with pytest.raises(plugins.PluginError, match="no such file"):
        registry.get("missing.py:f")
    assert not registry.known("no_such_policy")


def test_module_plugin_with_default_traits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An importable module's function is a policy with the default traits and its
    docstring as summary; an entry point names it too."""
    (tmp_path / "my_policies.py").write_text(
        "import numpy as np\n"
        "def equal(problem, context):\n"
        "    '''Equal split where a job can run.'''\n"
        "    m = problem.runnable.astype(float)\n"
        "    return m / max(1.0, (problem.scale_factors[:, None] * m).sum(axis=0).max())\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = registry.get("my_policies:equal")
    assert (spec.fixed_type_order, spec.fifo_like, spec.summary) == (
        True,
        False,
        "Equal split where a job can run.",
    )
    assert isinstance(spec.allocate(problem(), CTX), Allocation)
    monkeypatch.setattr(plugins, "entry_points", lambda: {"equal-ep": "my_policies:equal"})
    assert registry.get("equal-ep").summary == "Equal split where a job can run."


def test_policies_lists_plugins(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """hetsim policies lists the built-ins, then installed plugins, broken ones marked."""
    monkeypatch.setattr(plugins, "entry_points", lambda: {"srtf": SRTF, "bad": "nowhere_x:f"})
    code, out, _ = run_cli(["policies"], capsys)
    assert code == 0
    assert re.search(r"^fifo_perf\s+first come", out, re.M)
    assert re.search(r"^srtf\s+shortest remaining time first", out, re.M)
    assert re.search(r"^bad\s+BROKEN: cannot import module 'nowhere_x'", out, re.M)


def run_args(policy: str, out: Path) -> list[str]:
    return [
        "run", "--policy", policy, "--rate", "2", "--cluster", "4:4:4", "--max-jobs", "40",
        "--out", str(out), "--quiet",
    ]  # fmt: skip


def test_run_with_the_example_plugin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """hetsim run takes a file plugin and finishes every job; the result names it."""
    code, _, err = run_cli(run_args(SRTF, tmp_path / "r"), capsys)
    assert code == 0, err
    result = json.loads((tmp_path / "r" / "result.json").read_text())
    assert result["config"]["policy"] == SRTF
    assert result["window_jobs_completed"] == 40


def test_broken_plugin_in_a_run_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plugin that breaks capacity mid-run ends it with one line and exit 2, and
    leaves no output directory."""
    body = (
        "def policy(p, c):\n    m = np.zeros(p.throughputs.shape)\n    m[:, 0] = 1\n    return m\n"
    )
    name = plugin_file(tmp_path, body)
    code, _, err = run_cli(run_args(name, tmp_path / "r"), capsys)
    assert code == 2
    assert err.startswith(f"hetsim: error: policy plugin '{name}': ") and "capacity" in err
    assert err.count("\n") == 1
    assert not (tmp_path / "r").exists()
    code, _, err = run_cli(run_args("nowhere_y:f", tmp_path / "r"), capsys)
    assert code == 2 and "cannot import module 'nowhere_y'" in err


def test_sweep_with_the_plugin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The example sweep runs the plugin in worker processes beside two built-ins."""
    scenario = REPO / "examples" / "srtf_sweep.toml"
    spec = load_sweep(scenario, quick=True)
    assert spec.policies[0] == SRTF
    out = tmp_path / "sweep"
    code, _, err = run_cli(["sweep", str(scenario), "--quick", "--jobs", "1", "--out", str(out),
                            "--quiet"], capsys)  # fmt: skip
    assert code == 0, err
    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == 4 and all(",ok," in row for row in rows[1:])


def test_broken_plugin_in_a_scenario_names_the_key(tmp_path: Path) -> None:
    """A scenario naming a plugin that cannot load fails at its policies key."""
    path = tmp_path / "s.toml"
    path.write_text('name = "x"\ntrace = "single-gpu"\npolicies = ["nope.py:f"]\nrates = [1.0]\n')
    with pytest.raises(InputError, match=r"s\.toml:3: field 'policies': policy plugin"):
        load_sweep(path)
    assert np.isfinite(1.0)
