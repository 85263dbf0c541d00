"""Measured throughputs (steps/second) per GPU type, job kind and GPU count: parsing and lookup.

The file format is Gavel's ``simulation_throughputs.json``: top-level keys are
GPU type names (keys ending in ``_unconsolidated`` are ignored); under each,
keys are the text of a Python tuple ``"('ResNet-18 (batch size 16)', 1)"``
(model, GPU count). Each value maps ``"null"`` to the steps/second of the job
alone (0 means it cannot run on that type) and ``"('<other>', n)"`` to
``[own steps/s, other's steps/s]`` when the two jobs share the GPUs.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt

from hetsim import limits
from hetsim.errors import InputError
from workloads.textfile import read_text

__all__ = ["JobKey", "ThroughputTable", "key_text", "load_throughputs"]

JobKey = tuple[str, int]
"""(model name, GPU count)."""

_IGNORED_SUFFIX = "_unconsolidated"
_SHIPPED = "simulation_throughputs.json"
_KEY_RE = re.compile(r"\(\s*(['\"])(.*)\1\s*,\s*([-+]?\d+)\s*,?\s*\)")


def key_text(model: str, scale_factor: int) -> str:
    """The file's text for a (model, GPU count) key, e.g. ``"('A3C', 1)"``."""
    return repr((model, scale_factor))


class ThroughputTable:
    """A parsed throughput file: isolated and pairwise steps/second per GPU type.

    Build one with :func:`load_throughputs` or :meth:`from_dict`; both validate.
    """

    def __init__(
        self,
        source: str,
        isolated: Mapping[str, Mapping[JobKey, float]],
        pairs: Mapping[str, Mapping[JobKey, Mapping[JobKey, tuple[float, float]]]],
    ) -> None:
        """Wrap already-validated tables; prefer :func:`load_throughputs`."""
        self._source = source
        self._isolated = {t: dict(v) for t, v in isolated.items()}
        self._pairs = {t: {k: dict(p) for k, p in v.items()} for t, v in pairs.items()}
        self._gpu_types = tuple(self._isolated)
        self._cache: dict[tuple[str, int, tuple[str, ...]], npt.NDArray[np.float64]] = {}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<memory>") -> ThroughputTable:
        """Validate a structure shaped like the JSON file and build a table from it."""
        return _Parser(source, None).parse(data)

    @property
    def source(self) -> str:
        """Where the table came from (the path shown in error messages)."""
        return self._source

    @property
    def gpu_types(self) -> tuple[str, ...]:
        """GPU type names in file order, without the ``*_unconsolidated`` ones."""
        return self._gpu_types

    def keys(self) -> tuple[JobKey, ...]:
        """Every (model, GPU count) present for all GPU types, in file order."""
        if not self._gpu_types:
            return ()
        first, *rest = self._gpu_types
        return tuple(k for k in self._isolated[first] if all(k in self._isolated[t] for t in rest))

    def type_keys(self, gpu_type: str) -> tuple[JobKey, ...]:
        """Every (model, GPU count) the file has for ``gpu_type``, in file order."""
        return tuple(self._isolated.get(gpu_type, {}))

    def pair_count(self, gpu_type: str) -> int:
        """How many pair entries (two jobs sharing GPUs) the file has for ``gpu_type``."""
        return sum(len(p) for p in self._pairs.get(gpu_type, {}).values())

    def has(self, model: str, scale_factor: int, gpu_types: Sequence[str] | None = None) -> bool:
        """Whether (model, GPU count) has an entry for every GPU type (or every one given)."""
        types = self._gpu_types if gpu_types is None else gpu_types
        key = (model, scale_factor)
        return all(t in self._isolated and key in self._isolated[t] for t in types)

    def require_types(self, gpu_types: Sequence[str], *, context: str | None = None) -> None:
        """Raise InputError unless the table has every one of ``gpu_types``."""
        for gpu_type in gpu_types:
            if gpu_type not in self._isolated:
                message = (
                    f"throughput file has no GPU type {gpu_type!r} "
                    f"(it has {', '.join(self._gpu_types) or 'none'})"
                )
                if context:
                    message += f"; needed by {context}"
                raise InputError(message, source=self._source, field=gpu_type)

    def isolated(
        self, model: str, scale_factor: int, gpu_types: Sequence[str]
    ) -> npt.NDArray[np.float64]:
        """Steps/second of the job alone on each of ``gpu_types`` (read-only array, cached)."""
        if isinstance(gpu_types, str):
            raise TypeError("gpu_types must be a sequence of names, not one string")
        cache_key = (model, scale_factor, tuple(gpu_types))
        hit = self._cache.get(cache_key)
        if hit is not None:
            return hit
        values = np.empty(len(cache_key[2]), dtype=np.float64)
        key = (model, scale_factor)
        for i, gpu_type in enumerate(cache_key[2]):
            self.require_types((gpu_type,))
            value = self._isolated[gpu_type].get(key)
            if value is None:
                raise InputError(
                    f"throughput file has no entry for {key_text(model, scale_factor)} "
                    f"on GPU type {gpu_type!r}",
                    source=self._source,
                    field=f"{gpu_type}/{key_text(model, scale_factor)}",
                )
            values[i] = value
        values.flags.writeable = False
        self._cache[cache_key] = values
        return values

    def pair(self, gpu_type: str, a: JobKey, b: JobKey) -> tuple[float, float] | None:
        """(a's, b's) steps/second when a and b share GPUs of ``gpu_type``; None if unknown."""
        return self._pairs.get(gpu_type, {}).get(a, {}).get(b)

    def __repr__(self) -> str:
        return f"ThroughputTable(source={self._source!r}, gpu_types={self._gpu_types!r})"


def load_throughputs(path: str | os.PathLike[str] | None = None) -> ThroughputTable:
    """Read and validate a throughput file; None means the one shipped with hetsim."""
    if path is None:
        resource = resources.files("workloads") / "data" / _SHIPPED
        source = str(resource)
        raw = resource.read_text(encoding="utf-8")
    else:
        source = os.fspath(path)
        raw = read_text(path, "throughput file")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", source=source, line=exc.lineno) from exc
    return _Parser(source, raw).parse(data)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Parser:
    """Validates the decoded JSON; knows the raw text only to point at lines."""

    def __init__(self, source: str, raw: str | None) -> None:
        self.source = source
        self.raw = raw
        self.keys: dict[str, JobKey | str] = {}

    def parse(self, data: object) -> ThroughputTable:
        if not isinstance(data, Mapping):
            raise InputError("top level must be an object of GPU types", source=self.source, line=1)
        isolated: dict[str, dict[JobKey, float]] = {}
        pairs: dict[str, dict[JobKey, dict[JobKey, tuple[float, float]]]] = {}
        for gpu_type, entries in data.items():
            if not isinstance(gpu_type, str):
                raise InputError("GPU type names must be strings", source=self.source)
            if gpu_type.endswith(_IGNORED_SUFFIX):
                continue
            if not isinstance(entries, Mapping):
                self.fail("must be an object of (model, GPU count) entries", gpu_type, (gpu_type,))
            isolated[gpu_type], pairs[gpu_type] = self.parse_type(gpu_type, entries)
        return ThroughputTable(self.source, isolated, pairs)

    def parse_type(
        self, gpu_type: str, entries: Mapping[str, Any]
    ) -> tuple[dict[JobKey, float], dict[JobKey, dict[JobKey, tuple[float, float]]]]:
        alone: dict[JobKey, float] = {}
        shared: dict[JobKey, dict[JobKey, tuple[float, float]]] = {}
        for text, entry in entries.items():
            path = (gpu_type, text)
            key = self.job_key(text, path)
            if not isinstance(entry, Mapping):
                self.fail('must be an object with a "null" entry', "/".join(path), path)
            shared[key] = partners = {}
            for other_text, value in entry.items():
                if other_text == "null":
                    continue
                other_path = (*path, other_text)
                other = self.job_key(other_text, other_path)
                if not (
                    isinstance(value, list)
                    and len(value) == 2
                    and all(limits.THROUGHPUT.problem(v) is None for v in value)
                ):
                    self.fail(
                        "must be a list of two numbers [own, other's steps/s], each "
                        + limits.THROUGHPUT.describe(),
                        "/".join(other_path),
                        other_path,
                    )
                partners[other] = (float(value[0]), float(value[1]))
            alone[key] = self.alone_value(entry, path)
        return alone, shared

    def alone_value(self, entry: Mapping[str, Any], path: tuple[str, str]) -> float:
        field = "/".join((*path, "null"))
        if "null" not in entry:
            self.fail("missing (steps/s of the job alone)", field, path)
        value = entry["null"]
        problem = None
        if not _is_number(value):
            problem = f"must be a number, not {json.dumps(value)}"
        elif math.isnan(value):
            problem = "is NaN"
        elif value < 0:
            problem = f"must be >= 0, not {value}"
        elif math.isinf(value):
            problem = "must be finite"
        else:
            problem = limits.THROUGHPUT.problem(value)
        if problem is not None:
            self.fail(problem, field, (*path, "null"))
        return float(value)

    def job_key(self, text: str, path: tuple[str, ...]) -> JobKey:
        parsed = self.keys.get(text)
        if parsed is None:
            match = _KEY_RE.fullmatch(text)
            if match is None:
                parsed = "key is not a \"('model', n)\" tuple text"
            elif int(match[3]) < 1:
                parsed = f"GPU count must be at least 1, not {int(match[3])}"
            else:
                parsed = (match[2], int(match[3]))
            self.keys[text] = parsed
        if isinstance(parsed, str):
            self.fail(parsed, "/".join(path), path)
        return parsed

    def fail(self, message: str, field: str, path: Sequence[str]) -> NoReturn:
        raise InputError(message, source=self.source, line=self.line_of(path), field=field)

    def line_of(self, path: Sequence[str]) -> int | None:
        """Line of the last key of ``path``, searching for each key after the previous one.

        A GPU type or entry key is looked for first where its value is not a list,
        so that it is not confused with the same text used as a pair key.
        """
        if self.raw is None:
            return None
        pos = 0
        found = False
        for depth, key in enumerate(path):
            needle = re.escape(json.dumps(key, ensure_ascii=False))
            patterns = [needle + r"\s*:", needle]
            if depth < 2:  # not a pair key, whose value would be a list
                patterns.insert(0, needle + r"\s*:\s*[^\s\[]")
            for pattern in patterns:
                match = re.compile(pattern).search(self.raw, pos)
                if match is not None:
                    pos, found = match.start(), True
                    break
            else:
                break
        if not found:
            return None
        return self.raw.count("\n", 0, pos) + 1
