"""Tests for workloads.throughputs: parsing, validation and lookup of throughput files."""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetsim.errors import InputError
from workloads import ThroughputTable, load_throughputs

SHIPPED_SHA256 = "17111f7295f03265fd9e5118d7eba31e3dd9d6e50a2e215c13ad3d3f91f74381"
R18 = "ResNet-18 (batch size 16)"
R50_128 = "ResNet-50 (batch size 128)"


@pytest.fixture(scope="module")
def table() -> ThroughputTable:
    """The shipped throughput table."""
    return load_throughputs()


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=4), encoding="utf-8")
    return path


def _small() -> dict[str, Any]:
    return {
        "v100": {
            "('A', 1)": {"null": 2.0, "('B', 1)": [1.0, 0.5]},
            "('B', 1)": {"null": 3.0},
        },
        "k80": {
            "('A', 1)": {"null": 0.5},
            "('B', 1)": {"null": 0.0},
        },
    }


def _where(path: Path, line: int, field: str) -> str:
    return re.escape(f"{path}:{line}: field '{field}'")


def test_shipped_file_is_the_attributed_copy() -> None:
    """The shipped data file has the sha256 recorded in SOURCE.md."""
    data = resources.files("workloads") / "data"
    digest = hashlib.sha256((data / "simulation_throughputs.json").read_bytes()).hexdigest()
    assert digest == SHIPPED_SHA256
    assert SHIPPED_SHA256 in (data / "SOURCE.md").read_text(encoding="utf-8")


def test_shipped_gpu_types_skip_unconsolidated(table: ThroughputTable) -> None:
    """gpu_types lists the three types in file order without the *_unconsolidated keys."""
    assert table.gpu_types == ("k80", "p100", "v100")
    assert table.source.endswith("simulation_throughputs.json")


def test_shipped_file_loads_quickly() -> None:
    """Parsing the 1.2 MB shipped file takes well under the 150 ms target."""
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        load_throughputs()
        best = min(best, time.perf_counter() - start)
    assert best < 0.15


def test_isolated_follows_requested_type_order(table: ThroughputTable) -> None:
    """isolated returns float64 steps/s in the order of the types asked for."""
    forward = table.isolated(R18, 1, ["v100", "p100", "k80"])
    backward = table.isolated(R18, 1, ("k80", "p100", "v100"))
    assert forward.dtype == np.float64
    assert forward[0] == pytest.approx(32.353384328946916)
    assert list(forward) == list(backward[::-1])


def test_isolated_keeps_zero_for_cannot_run(table: ThroughputTable) -> None:
    """A 0.0 entry (ResNet-50 batch 128 on two K80s) comes back as 0."""
    values = table.isolated(R50_128, 2, ["v100", "k80"])
    assert values[0] > 0
    assert values[1] == 0.0


def test_isolated_is_cached_and_read_only(table: ThroughputTable) -> None:
    """Repeated lookups return the same read-only array."""
    first = table.isolated("A3C", 1, ["v100", "k80"])
    assert table.isolated("A3C", 1, ("v100", "k80")) is first
    with pytest.raises(ValueError):
        first[0] = 1.0


def test_isolated_missing_key_names_file_and_field(table: ThroughputTable) -> None:
    """A (model, count) the table lacks raises InputError naming the file and field."""
    with pytest.raises(InputError, match=re.escape("field 'v100/('Foo', 2)'")) as info:
        table.isolated("Foo", 2, ["v100"])
    assert info.value.source == table.source
    with pytest.raises(InputError, match=re.escape("field 'v100/('A3C', 2)'")):
        table.isolated("A3C", 2, ["v100"])


def test_isolated_missing_type_names_the_type(table: ThroughputTable) -> None:
    """Asking for a GPU type the file lacks raises InputError with that type as field."""
    with pytest.raises(InputError, match=r"field 'a100'.*no GPU type 'a100'"):
        table.isolated(R18, 1, ["v100", "a100"])


def test_isolated_rejects_a_single_string(table: ThroughputTable) -> None:
    """Passing 'v100' instead of ['v100'] is a programming error, not a lookup of 'v','1',..."""
    with pytest.raises(TypeError):
        table.isolated(R18, 1, "v100")


def test_has_checks_every_type(tmp_path: Path) -> None:
    """has is true only when the key is present for every type (or every given type)."""
    data = _small()
    data["v100"]["('C', 2)"] = {"null": 1.0}
    t = load_throughputs(_write(tmp_path / "t.json", data))
    assert t.has("A", 1)
    assert not t.has("C", 2)
    assert t.has("C", 2, ["v100"])
    assert not t.has("A", 1, ["a100"])
    assert t.keys() == (("A", 1), ("B", 1))


def test_pair_returns_colocated_rates(table: ThroughputTable) -> None:
    """pair gives (own, other's) steps/s for a co-located pair and None when unknown."""
    own, other = table.pair("v100", ("A3C", 1), ("CycleGAN", 1)) or (0.0, 0.0)
    assert own > 0
    assert other > 0
    assert table.pair("v100", ("A3C", 1), ("CycleGAN", 2)) is None
    assert table.pair("a100", ("A3C", 1), ("CycleGAN", 1)) is None


def test_require_types_mentions_context(table: ThroughputTable) -> None:
    """require_types passes for known types and names the missing type and the context."""
    table.require_types(["v100", "k80"])
    with pytest.raises(InputError, match=r"no GPU type 'h100'.*needed by cluster config"):
        table.require_types(["v100", "h100"], context="cluster config")


def test_from_dict_builds_a_validated_table() -> None:
    """from_dict accepts the JSON-shaped structure and validates it."""
    t = ThroughputTable.from_dict(_small())
    assert t.gpu_types == ("v100", "k80")
    assert t.pair("v100", ("A", 1), ("B", 1)) == (1.0, 0.5)
    with pytest.raises(InputError, match=re.escape("field 'v100/('A', 1)/null'")):
        ThroughputTable.from_dict({"v100": {"('A', 1)": {"null": -1}}})


def test_unconsolidated_sections_are_ignored(tmp_path: Path) -> None:
    """*_unconsolidated keys are neither validated nor listed."""
    data = _small()
    data["v100_unconsolidated"] = {"garbage": 1}
    t = load_throughputs(_write(tmp_path / "t.json", data))
    assert t.gpu_types == ("v100", "k80")


def test_not_json_reports_the_decoder_line(tmp_path: Path) -> None:
    """A syntax error is reported at the line the JSON decoder names."""
    path = tmp_path / "bad.json"
    path.write_text('{\n  "v100": {\n    "x": ,\n  }\n}\n', encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(f"{path}:3: ") + "not valid JSON"):
        load_throughputs(path)


def test_top_level_must_be_an_object(tmp_path: Path) -> None:
    """A JSON array at the top level is rejected."""
    path = _write(tmp_path / "t.json", [1, 2])
    with pytest.raises(InputError, match=re.escape(f"{path}:1: ") + "top level"):
        load_throughputs(path)


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    """A file that does not exist raises InputError naming it."""
    path = tmp_path / "nope.json"
    with pytest.raises(InputError, match=re.escape(str(path))):
        load_throughputs(path)


BAD_CASES: list[tuple[str, Any, str, str, str, str]] = [
    # (id, entry replacing v100's second one, its key, field below v100, text on the
    #  reported line (searched from the entry's line on), message)
    ("key not a tuple", {"null": 1.0}, "B-1", "B-1", '"B-1"', "tuple text"),
    ("count below 1", {"null": 1.0}, "('B', 0)", "('B', 0)", "('B', 0)", "at least 1"),
    ("null missing", {"('A', 1)": [1.0, 1.0]}, "('B', 1)", "('B', 1)/null", "('B', 1)", "missing"),
    ("null not a number", {"null": "fast"}, "('B', 1)", "('B', 1)/null", '"null"', "a number"),
    ("null negative", {"null": -0.5}, "('B', 1)", "('B', 1)/null", '"null"', "must be >= 0"),
    ("null NaN", {"null": math.nan}, "('B', 1)", "('B', 1)/null", '"null"', "NaN"),
    (
        "pair short",
        {"null": 1.0, "('A', 1)": [1.0]},
        "('B', 1)",
        "('B', 1)/('A', 1)",
        "('A'",
        "two",
    ),
    ("pair negative", {"('A', 1)": [1, -2]}, "('B', 1)", "('B', 1)/('A', 1)", "('A'", "two"),
    ("pair key bad", {"null": 1.0, "A": [1.0, 1.0]}, "('B', 1)", "('B', 1)/A", '"A"', "tuple"),
    ("entry not object", "fast", "('B', 1)", "('B', 1)", "('B', 1)", "must be an object"),
]


@pytest.mark.parametrize(
    ("entry", "key", "field", "needle", "message"),
    [case[1:] for case in BAD_CASES],
    ids=[case[0] for case in BAD_CASES],
)
def test_bad_entries_name_file_line_and_field(
    tmp_path: Path, entry: Any, key: str, field: str, needle: str, message: str
) -> None:
    """Each malformed entry raises a one-line InputError at the line of the bad key."""
    data = _small()
    del data["v100"]["('B', 1)"]
    data["v100"][key] = entry
    path = _write(tmp_path / "t.json", data)
    lines = path.read_text(encoding="utf-8").splitlines()
    # The entry's own line (the same text also appears earlier as one of A's pair keys).
    opening = (json.dumps(key) + ": {", json.dumps(key) + ': "')
    entry_line = next(i for i, text in enumerate(lines, 1) if any(o in text for o in opening))
    line = next(i for i, text in enumerate(lines, 1) if i >= entry_line and needle in text)
    with pytest.raises(
        InputError, match=_where(path, line, f"v100/{field}") + ".*" + message
    ) as info:
        load_throughputs(path)
    assert "\n" not in str(info.value)
    assert info.value.line == line


_model = st.text(alphabet="ABCDEFGHIJ abc-()0123456789", min_size=1, max_size=12)
_rate = st.floats(min_value=0.0, max_value=1e4, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(
    entries=st.dictionaries(
        st.tuples(_model, st.sampled_from([1, 2, 4, 8])), st.tuples(_rate, _rate), min_size=1
    ),
)
def test_round_trip_of_random_tables(
    tmp_path_factory: pytest.TempPathFactory, entries: dict[tuple[str, int], tuple[float, float]]
) -> None:
    """Any well-formed table written as JSON loads back with the same isolated rates."""
    data = {
        "v100": {repr(k): {"null": v[0]} for k, v in entries.items()},
        "k80": {repr(k): {"null": v[1]} for k, v in entries.items()},
    }
    path = _write(tmp_path_factory.mktemp("tables") / "t.json", data)
    table = load_throughputs(path)
    for (model, count), (fast, slow) in entries.items():
        assert list(table.isolated(model, count, ["v100", "k80"])) == [fast, slow]


def test_bad_entry_in_a_later_type_points_into_that_type(tmp_path: Path) -> None:
    """A key repeated under several GPU types is located under the type at fault."""
    data = _small()
    data["k80"]["('B', 1)"] = {"null": "slow"}
    path = _write(tmp_path / "t.json", data)
    lines = path.read_text(encoding="utf-8").splitlines()
    k80_line = next(i for i, text in enumerate(lines, 1) if '"k80"' in text)
    line = next(i for i, text in enumerate(lines, 1) if i > k80_line and '"slow"' in text)
    with pytest.raises(InputError, match=_where(path, line, "k80/('B', 1)/null")):
        load_throughputs(path)
