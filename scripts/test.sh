#!/usr/bin/env bash
# Sets everything up (a .venv with hetsim and its dev tools) and runs the checks:
# ruff, mypy and the test suite. Extra arguments go to pytest (e.g. -m slow).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
