#!/usr/bin/env bash
# Create .venv (if missing) and install wsal with its test tools, torch pinned by constraints.txt.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "wsal needs Python >= 3.10")'
[ -x .venv/bin/python ] || "$PY" -m venv .venv
export PIP_CONSTRAINT="$PWD/constraints.txt"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
