#!/usr/bin/env bash
# Sets everything up (a .venv with hetsim and its dev tools) and runs the checks:
# ruff, mypy, the JavaScript decoder's tests (node --test, against files the Python
# encoder writes now) and the test suite. Extra arguments go to pytest (e.g. -m slow).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
fixtures=$(mktemp -d)
trap 'rm -rf "$fixtures"' EXIT
.venv/bin/python -m tests.viz_fixtures "$fixtures" >/dev/null
VIZ_FIXTURES="$fixtures" node --test viz/web/test/
.venv/bin/python -m pytest "$@"
