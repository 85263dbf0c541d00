"""Running the command line inside a test: exit code, stdout and stderr."""

from __future__ import annotations

import pytest

from hetsim.cli import main


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``hetsim ARGV`` in this process; the exit code and what it printed."""
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
