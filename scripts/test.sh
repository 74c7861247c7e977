#!/usr/bin/env bash
# Set up, check lint and formatting, and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-env.sh all
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest "$@"
