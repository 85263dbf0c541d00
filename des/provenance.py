"""What a result was made with: a fingerprint of the simulator's code, the versions of
the packages that decide it, and the SHA-256 of its input files.

Recorded in every result (``provenance``) so that a re-run that differs
(``hetsim replay DIR --verify``) can say whether the code, a package or an input
changed, and so that a sweep never reuses a record made by different code.
"""

from __future__ import annotations

import functools
import hashlib
import os
from importlib import metadata
from pathlib import Path
from typing import Any

SIMULATOR_PACKAGES = ("des", "scheduler", "cluster", "workloads")
# Third-party packages whose versions can change a run's numbers.
VERSIONED_PACKAGES = ("numpy", "scipy", "simpy", "ecos", "scs", "clarabel", "highspy", "cvxpy")


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of the simulator's code and data (the packages that decide a result)."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent
    for package in SIMULATOR_PACKAGES:
        for path in sorted((root / package).rglob("*")):
            if path.is_file() and path.suffix in (".py", ".json"):
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def package_versions() -> dict[str, str | None]:
    """Installed versions of :data:`VERSIONED_PACKAGES` (None: not installed)."""
    out: dict[str, str | None] = {}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def provenance(trace_path: str | None, throughputs_path: str | None) -> dict[str, Any]:
    """The ``provenance`` block of a result."""
    return {
        "code_fingerprint": code_fingerprint(),
        "packages": package_versions(),
        "trace_sha256": None if trace_path is None else file_sha256(trace_path),
        "throughputs_sha256": None if throughputs_path is None else file_sha256(throughputs_path),
    }
