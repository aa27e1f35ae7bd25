#!/usr/bin/env bash
# Create .venv and install fc_core with its test extras. CPU torch comes from the pinned wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch first, pinned: the CPU build (an unpinned torch pulls a multi-GB CUDA build)
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[test]"
