"""Editing a written CSV inside a test: a table as an older version wrote it."""

from __future__ import annotations

import csv
from pathlib import Path


def drop_column(path: Path, name: str) -> None:
    """Rewrites the CSV at ``path`` without its column ``name`` (a table from before
    the column existed); raises ValueError when the header has no such column."""
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    drop = rows[0].index(name)
    with path.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(
            [cell for i, cell in enumerate(row) if i != drop] for row in rows
        )
