"""What a cluster is made of: GPU types, their counts and their server size.

A cluster is given on the command line either as ``A:B:C`` (V100:P100:K80
counts, the reference's form, e.g. ``36:36:36``) or as the path of a TOML file::

    gpus_per_server = 4          # optional; default for every type
                                 # (overrides the --gpus-per-server value)
    [types]                      # required; types keep the file's order
    v100 = 36                    # a count, or
    a100 = { count = 16, gpus_per_server = 8 }   # a count and its own server size

The long form may also be written as a table, ``[types.a100]`` with
``count = 16`` and ``gpus_per_server = 8`` under it. Type names are
case-insensitive and stored lowercase. Any other key is rejected with its
dotted name and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hetsim import limits, tomlfile
from hetsim.errors import InputError

DEFAULT_TYPE_ORDER: tuple[str, ...] = ("v100", "p100", "k80")
"""The reference's GPU types, in the order of the counts in ``A:B:C``."""

CLI_SOURCE = "--cluster"
EXPECTED_FORM = "36:36:36 (V100:P100:K80) or a .toml file"

_TOP_KEYS = ("gpus_per_server", "types")
_TYPE_KEYS = ("count", "gpus_per_server")
_COUNTS = re.compile(r"\s*([0-9]+)\s*:\s*([0-9]+)\s*:\s*([0-9]+)\s*")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class ClusterSpec:
    """GPU types in a fixed order, with a count and a server size per type."""

    gpu_types: tuple[str, ...]
    counts: tuple[int, ...]
    gpus_per_server: tuple[int, ...]
    source: str = field(default=CLI_SOURCE, compare=False)
    """Where the spec came from, for error messages; not part of equality."""

    def __post_init__(self) -> None:
        names = tuple(self.gpu_types)
        counts = tuple(self.counts)
        sizes = tuple(self.gpus_per_server)

        def bad(key: str, message: str) -> InputError:
            return InputError(message, source=self.source, field=key)

        if not names:
            raise bad("gpu_types", "a cluster needs at least one GPU type")
        if not len(names) == len(counts) == len(sizes):
            raise bad(
                "gpu_types",
                f"{len(names)} types but {len(counts)} counts and "
                f"{len(sizes)} server sizes; they must have equal lengths",
            )
        lowered: list[str] = []
        for name in names:
            if not isinstance(name, str) or not name.strip():
                raise bad("gpu_types", f"type names must be non-empty strings, got {name!r}")
            low = name.strip().lower()
            if low in lowered:
                raise bad("gpu_types", f"type {low!r} appears more than once")
            lowered.append(low)
        for name, count in zip(lowered, counts, strict=True):
            limits.GPUS_PER_TYPE.check(count, source=self.source, field=f"counts.{name}")
        for name, size in zip(lowered, sizes, strict=True):
            limits.GPUS_PER_SERVER.check(size, source=self.source, field=f"gpus_per_server.{name}")
        if sum(counts) == 0:
            raise bad("counts", "the cluster has no GPUs (all counts are 0)")
        limits.GPUS_IN_ALL.check(sum(counts), source=self.source, field="counts")
        object.__setattr__(self, "gpu_types", tuple(lowered))
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "gpus_per_server", sizes)

    @property
    def total_gpus(self) -> int:
        """All GPUs of all types."""
        return sum(self.counts)

    @property
    def num_types(self) -> int:
        """How many GPU types (including types with a count of 0)."""
        return len(self.gpu_types)

    def partial_servers(self) -> dict[str, int]:
        """Types whose count is not a multiple of their server size, with the size of
        their last (smaller) server: ``{"k80": 2}`` for 10 K80s in servers of 4."""
        return {
            name: count % size
            for name, count, size in zip(
                self.gpu_types, self.counts, self.gpus_per_server, strict=True
            )
            if count % size
        }

    def count(self, gpu_type: str) -> int:
        """GPUs of ``gpu_type`` (case-insensitive); 0 for a type the cluster lacks."""
        try:
            return self.counts[self.gpu_types.index(gpu_type.lower())]
        except ValueError:
            return 0

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict; ``from_dict`` reads it back."""
        return {
            "gpu_types": list(self.gpu_types),
            "counts": list(self.counts),
            "gpus_per_server": list(self.gpus_per_server),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "cluster") -> ClusterSpec:
        """The inverse of ``to_dict``; unknown or missing keys raise InputError."""
        if not isinstance(data, dict):
            raise InputError(f"expected a mapping, got {type(data).__name__}", source=source)
        expected = ("gpu_types", "counts", "gpus_per_server")
        for key in data:
            if key not in expected:
                raise InputError("unknown key", source=source, field=str(key))
        for key in expected:
            if key not in data:
                raise InputError("missing", source=source, field=key)
            if not isinstance(data[key], list | tuple):
                raise InputError("must be a list", source=source, field=key)
        return cls(
            gpu_types=tuple(data["gpu_types"]),
            counts=tuple(data["counts"]),
            gpus_per_server=tuple(data["gpus_per_server"]),
            source=source,
        )


def _check_server_size(gpus_per_server: int) -> int:
    limits.GPUS_PER_SERVER.check_option("--gpus-per-server", gpus_per_server)
    return gpus_per_server


def parse_cluster(text: str, gpus_per_server: int = 1) -> ClusterSpec:
    """Read ``--cluster``: ``A:B:C`` (V100:P100:K80 counts) or a TOML file path."""
    size = _check_server_size(gpus_per_server)
    stripped = text.strip()
    if stripped.endswith(".toml") or (stripped and Path(stripped).is_file()):
        return load_cluster_toml(stripped, size)
    match = _COUNTS.fullmatch(text)
    if match is None:
        raise InputError(
            f"expected {EXPECTED_FORM}, got {text!r}", source=CLI_SOURCE, field="cluster"
        )
    counts = tuple(int(group) for group in match.groups())
    if sum(counts) == 0:
        raise InputError(
            f"the cluster has no GPUs; expected {EXPECTED_FORM}, got {text!r}",
            source=CLI_SOURCE,
            field="cluster",
        )
    for name, count in zip(DEFAULT_TYPE_ORDER, counts, strict=True):
        problem = limits.GPUS_PER_TYPE.problem(count)
        if problem is not None:
            raise InputError(f"{name}: {problem}", source=CLI_SOURCE, field="cluster")
    problem = limits.GPUS_IN_ALL.problem(sum(counts))
    if problem is not None:
        raise InputError(problem, source=CLI_SOURCE, field="cluster")
    return ClusterSpec(
        gpu_types=DEFAULT_TYPE_ORDER,
        counts=counts,
        gpus_per_server=(size,) * len(DEFAULT_TYPE_ORDER),
        source=CLI_SOURCE,
    )


# --- TOML ----------------------------------------------------------------------------


def load_cluster_toml(path: str | Path, gpus_per_server: int = 1) -> ClusterSpec:
    """Read a cluster TOML file (format in the module docstring)."""
    size = _check_server_size(gpus_per_server)
    toml = tomlfile.load(path, "cluster file")
    data = toml.data
    bad = toml.error

    for key in data:
        if key not in _TOP_KEYS:
            raise bad((key,), f"unknown key; expected one of {', '.join(_TOP_KEYS)}")
    if "gpus_per_server" in data:
        size = data["gpus_per_server"]
        _bounded(toml, ("gpus_per_server",), size, limits.GPUS_PER_SERVER)
    types = data.get("types")
    if not isinstance(types, dict) or not types:
        raise bad(("types",), "a [types] table with at least one GPU type is required")

    names: list[str] = []
    counts: list[int] = []
    sizes: list[int] = []
    for name, value in types.items():
        if not name.strip():
            raise bad(("types", name), "a GPU type name must not be empty")
        if name.lower() in names:
            raise bad(("types", name), f"type {name.lower()!r} appears more than once")
        type_size = size
        if isinstance(value, dict):
            for key in value:
                if key not in _TYPE_KEYS:
                    raise bad(
                        ("types", name, key),
                        f"unknown key; expected one of {', '.join(_TYPE_KEYS)}",
                    )
            if "count" not in value:
                raise bad(("types", name, "count"), "missing")
            count = value["count"]
            _bounded(toml, ("types", name, "count"), count, limits.GPUS_PER_TYPE)
            if "gpus_per_server" in value:
                type_size = value["gpus_per_server"]
                _bounded(
                    toml, ("types", name, "gpus_per_server"), type_size, limits.GPUS_PER_SERVER
                )
        else:
            count = value
            if not _is_int(count):
                raise bad(
                    ("types", name),
                    f"must be an integer >= 0 or a table {{ count = N, gpus_per_server = M }}, "
                    f"got {count!r}",
                )
            _bounded(toml, ("types", name), count, limits.GPUS_PER_TYPE)
        names.append(name.lower())
        counts.append(count)
        sizes.append(type_size)
    if sum(counts) == 0:
        raise bad(("types",), "the cluster has no GPUs (all counts are 0)")
    _bounded(toml, ("types",), sum(counts), limits.GPUS_IN_ALL)
    return ClusterSpec(
        gpu_types=tuple(names),
        counts=tuple(counts),
        gpus_per_server=tuple(sizes),
        source=toml.source,
    )


def _bounded(
    toml: tomlfile.TomlFile, key: tuple[str, ...], value: object, bound: limits.Bound
) -> None:
    """Raises the InputError naming ``key``'s line when ``value`` is out of ``bound``."""
    problem = bound.problem(value)
    if problem is not None:
        raise toml.error(key, problem)
