"""Where the trace samples are: ../shared/data/traces beside the repository, and the
hand-written fixtures in tests/data/traces."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO / ".." / "shared" / "data" / "traces"
FIXTURES = REPO / "tests" / "data" / "traces"
CLUSTER = ("v100", "p100", "k80")


def shared(relative: str) -> Path:
    """A real sample under ../shared/data/traces; the test skips when it is absent."""
    path = SHARED / relative
    if not path.is_file():
        pytest.skip(f"{path} is absent (the shared trace samples are not beside the repo)")
    return path


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path
