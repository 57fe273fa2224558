#!/usr/bin/env bash
# The main job: installs what is missing, builds the library and the Python package if needed,
# and prints the funnel report of the built-in sample data set. Extra arguments go to
# `funnelkit report --sample` (e.g. --leads 100000 --html report.html).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh demo
bash scripts/install-python.sh
exec .venv/bin/python -m funnelkit report --sample "$@"
