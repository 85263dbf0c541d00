"""Tests for cluster.spec: the ``A:B:C`` form, cluster TOML files and ClusterSpec."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cluster import DEFAULT_TYPE_ORDER, ClusterSpec, load_cluster_toml, parse_cluster
from hetsim.errors import InputError


def write(tmp_path: Path, text: str, name: str = "cluster.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_parse_reference_cluster() -> None:
    """'36:36:36' is 36 V100, 36 P100 and 36 K80 on one-GPU servers."""
    spec = parse_cluster("36:36:36")
    assert spec.gpu_types == DEFAULT_TYPE_ORDER == ("v100", "p100", "k80")
    assert spec.counts == (36, 36, 36)
    assert spec.gpus_per_server == (1, 1, 1)
    assert spec.total_gpus == 108
    assert spec.num_types == 3
    assert spec.source == "--cluster"


def test_parse_keeps_zero_count_types() -> None:
    """'0:8:4' keeps all three types, V100 with no GPUs."""
    spec = parse_cluster("0:8:4", gpus_per_server=4)
    assert spec.counts == (0, 8, 4)
    assert spec.gpus_per_server == (4, 4, 4)
    assert spec.count("v100") == 0
    assert spec.count("P100") == 8
    assert spec.count("a100") == 0


@given(st.tuples(*[st.integers(0, 500)] * 3).filter(lambda c: sum(c) > 0))
def test_parse_any_counts(counts: tuple[int, int, int]) -> None:
    """Any three non-negative counts with a positive total parse to those counts."""
    spec = parse_cluster(":".join(map(str, counts)))
    assert spec.counts == counts
    assert spec.total_gpus == sum(counts)


@pytest.mark.parametrize("text", ["36:36", "a:b:c", "-1:2:3", "1:2:3:4", "", "1.5:2:3", "36:36:"])
def test_parse_bad_forms(text: str) -> None:
    """Anything but three non-negative integers is an InputError showing the expected form."""
    with pytest.raises(InputError, match=r"36:36:36 \(V100:P100:K80\) or a \.toml file") as info:
        parse_cluster(text)
    assert info.value.source == "--cluster"
    assert info.value.field == "cluster"
    assert "\n" not in str(info.value)


def test_parse_empty_cluster() -> None:
    """'0:0:0' is rejected: a cluster needs at least one GPU."""
    with pytest.raises(InputError, match="no GPUs") as info:
        parse_cluster("0:0:0")
    assert info.value.field == "cluster"


def test_parse_bad_gpus_per_server() -> None:
    """gpus_per_server below 1 is an InputError on the field 'gpus-per-server'."""
    with pytest.raises(InputError, match=r"in \[1, 1,024\]") as info:
        parse_cluster("36:36:36", gpus_per_server=0)
    assert info.value.field == "gpus-per-server"


def test_toml_cluster(tmp_path: Path) -> None:
    """A TOML file keeps its type order, lowercases names and applies per-type server sizes."""
    path = write(
        tmp_path,
        "gpus_per_server = 4\n[types]\nV100 = 36\na100 = { count = 16, gpus_per_server = 8 }\n"
        "[types.k80]\ncount = 6\ngpus_per_server = 2\n",
    )
    spec = parse_cluster(str(path), gpus_per_server=1)
    assert spec.gpu_types == ("v100", "a100", "k80")
    assert spec.counts == (36, 16, 6)
    assert spec.gpus_per_server == (4, 8, 2)
    assert spec.source == str(path)


def test_toml_default_server_size_from_argument(tmp_path: Path) -> None:
    """Without a top-level gpus_per_server the argument applies to every type."""
    path = write(tmp_path, "[types]\nv100 = 8\np100 = 4\n")
    assert load_cluster_toml(path, gpus_per_server=2).gpus_per_server == (2, 2)


def test_existing_file_without_toml_suffix(tmp_path: Path) -> None:
    """An existing file path is read as TOML whatever its suffix."""
    path = write(tmp_path, "[types]\nv100 = 8\n", name="cluster.conf")
    assert parse_cluster(str(path)).counts == (8,)


@pytest.mark.parametrize(
    ("text", "field", "line"),
    [
        ("nodes = 3\n[types]\nv100 = 3\n", "nodes", 1),
        ("[types]\nv100 = 3\n\n[extra]\nx = 1\n", "extra", 4),
        ("[types]\nv100 = 3\na100 = { count = 16, speed = 2 }\n", "types.a100.speed", 3),
        ("[types]\nv100 = 3\n[types.a100]\ncount = 16\ncolour = 'red'\n", "types.a100.colour", 5),
    ],
)
def test_toml_unknown_key(tmp_path: Path, text: str, field: str, line: int) -> None:
    """An unknown key is rejected with its dotted name and its line."""
    path = write(tmp_path, text)
    with pytest.raises(InputError, match="unknown key") as info:
        load_cluster_toml(path)
    assert (info.value.source, info.value.field, info.value.line) == (str(path), field, line)
    assert str(info.value).startswith(f"{path}:{line}: field '{field}': ")


@pytest.mark.parametrize(
    ("text", "field", "line"),
    [
        ("[types]\nv100 = -3\n", "types.v100", 2),
        ("[types]\np100 = 1\nv100 = 2.5\n", "types.v100", 3),
        ("[types]\nv100 = true\n", "types.v100", 2),
        ("[types]\nv100 = { count = -1 }\n", "types.v100.count", 2),
        ("[types]\nv100 = { gpus_per_server = 2 }\n", "types.v100.count", 2),
        ("[types]\nv100 = { count = 4, gpus_per_server = 0 }\n", "types.v100.gpus_per_server", 2),
        ("gpus_per_server = 0\n[types]\nv100 = 4\n", "gpus_per_server", 1),
        ("[types]\nv100 = 0\n", "types", 1),
        ("gpus_per_server = 2\n", "types", None),
        ("types = 3\n", "types", 1),
    ],
)
def test_toml_bad_values(tmp_path: Path, text: str, field: str, line: int | None) -> None:
    """Bad counts and server sizes name the field and its line."""
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_cluster_toml(path)
    assert (info.value.field, info.value.line) == (field, line)


def test_toml_duplicate_type_names(tmp_path: Path) -> None:
    """Type names differing only in case are the same type and rejected."""
    path = write(tmp_path, "[types]\nv100 = 1\nV100 = 2\n")
    with pytest.raises(InputError, match="more than once") as info:
        load_cluster_toml(path)
    assert info.value.field == "types.V100"
    assert info.value.line == 3


def test_toml_malformed(tmp_path: Path) -> None:
    """Malformed TOML is an InputError carrying tomllib's line."""
    path = write(tmp_path, "[types]\nv100 = 3\np100 =\n")
    with pytest.raises(InputError, match="malformed TOML") as info:
        parse_cluster(str(path))
    assert info.value.line == 3
    assert str(info.value).startswith(f"{path}:3: ")


def test_toml_missing_file(tmp_path: Path) -> None:
    """A missing .toml file is an InputError naming the file."""
    missing = tmp_path / "nope.toml"
    with pytest.raises(InputError, match="cannot read") as info:
        parse_cluster(str(missing))
    assert info.value.source == str(missing)


def test_spec_dict_round_trip() -> None:
    """to_dict is JSON-ready and from_dict reads it back to an equal spec."""
    spec = ClusterSpec(("v100", "a100"), (4, 16), (1, 8))
    data = spec.to_dict()
    assert data == {"gpu_types": ["v100", "a100"], "counts": [4, 16], "gpus_per_server": [1, 8]}
    assert ClusterSpec.from_dict(data) == spec


def test_spec_from_dict_unknown_key() -> None:
    """from_dict rejects keys it does not know."""
    data = {"gpu_types": ["v100"], "counts": [1], "gpus_per_server": [1], "racks": 2}
    with pytest.raises(InputError, match="unknown key") as info:
        ClusterSpec.from_dict(data)
    assert info.value.field == "racks"


def test_spec_lowercases_names() -> None:
    """Type names are stored lowercase."""
    assert ClusterSpec(("V100", "K80"), (1, 2), (1, 1)).gpu_types == ("v100", "k80")


@pytest.mark.parametrize(
    ("types", "counts", "sizes", "match"),
    [
        ((), (), (), "at least one"),
        (("v100",), (1, 2), (1,), "equal lengths"),
        (("v100", "V100"), (1, 2), (1, 1), "more than once"),
        (("",), (1,), (1,), "non-empty"),
        (("v100",), (-1,), (1,), r"in \[0, 100,000\]"),
        (("v100", "k80"), (0, 0), (1, 1), "no GPUs"),
        (("v100",), (4,), (0,), r"in \[1, 1,024\]"),
    ],
)
def test_spec_validation(
    types: tuple[str, ...], counts: tuple[int, ...], sizes: tuple[int, ...], match: str
) -> None:
    """ClusterSpec rejects inconsistent or impossible values."""
    with pytest.raises(InputError, match=match):
        ClusterSpec(types, counts, sizes)
