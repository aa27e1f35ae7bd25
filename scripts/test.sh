#!/usr/bin/env bash
# Set up a virtual environment (once) and run the test suite. Used by README and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
python -m pytest -q -x --durations=15 "$@"
