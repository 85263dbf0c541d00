"""The bounds on user-supplied numbers: what they accept, and that the reference's own
workload sits inside them."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hetsim import limits
from hetsim.errors import InputError
from scenarios import names, path_of
from sweep.spec import load_sweep
from workloads import GeneratorConfig, ThroughputTable, generate_n, read_trace, write_trace


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_bound_accepts_exactly_its_range(value: float) -> None:
    """A number is accepted iff it is finite and within [low, high] (low open if asked)."""
    for bound in (limits.RATE, limits.TIMEOUT_S, limits.ROUND_S, limits.THROUGHPUT):
        inside = (
            math.isfinite(value)
            and (value > bound.low if bound.low_open else value >= bound.low)
            and value <= bound.high
        )
        assert (bound.problem(value) is None) == inside


@given(st.integers(min_value=-(10**30), max_value=10**30))
def test_an_integer_bound_names_the_value_readably(value: int) -> None:
    """Out of range, the message gives the range and the value (huge ones shortened)."""
    problem = limits.GPUS_PER_TYPE.problem(value)
    if 0 <= value <= limits.MAX_GPUS:
        assert problem is None
    else:
        assert problem is not None and "in [0, 100,000] GPUs" in problem
        assert len(problem) < 80


@pytest.mark.parametrize("value", [True, 1.5, "3", None])
def test_an_integer_bound_refuses_other_types(value: object) -> None:
    """Booleans, floats, strings and None are not GPU counts."""
    assert limits.GPUS_PER_TYPE.problem(value) is not None


def test_check_option_names_the_option() -> None:
    """The error of an option reads ``--flag: field 'flag': ...``."""
    with pytest.raises(InputError) as info:
        limits.ROUND_S.check_option("--round-length", 1e-6)
    assert str(info.value).startswith("--round-length: field 'round-length': must be a number in")


@pytest.mark.parametrize("multi_gpu", [False, True])
def test_the_reference_workload_is_inside_the_trace_bounds(
    multi_gpu: bool, throughputs: ThroughputTable, tmp_path: Path
) -> None:
    """3,000 generated jobs written as a trace read back with every bound checked."""
    jobs = generate_n(GeneratorConfig(0.2, seed=3, multi_gpu=multi_gpu), throughputs, 3000)
    path = tmp_path / "t.tsv"
    write_trace(path, jobs)
    back = read_trace(path, throughputs=throughputs, gpu_types=("v100", "p100", "k80"))
    assert len(back) == 3000


@pytest.mark.parametrize("name", names())
def test_the_bundled_scenarios_are_inside_the_bounds(name: str) -> None:
    """fig9, fig10 and fig11 (and their quick variants) load with every bound checked."""
    path = path_of(name)
    assert path is not None
    for quick in (False, True):
        spec = load_sweep(path, quick=quick)
        for key in spec.runs()[:3]:
            spec.config(key)
