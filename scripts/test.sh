#!/usr/bin/env bash
# Every test: installs what is missing, then
#   1. C++ build with tests, examples, benchmarks (smoke runs) and consumer projects -> ctest
#   2. the same tests under address + undefined-behaviour sanitizers -> ctest
#   3. the Python package built with pip (scikit-build-core) -> pytest
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
start=$SECONDS
step() { printf '\n==> %s (%ds elapsed)\n' "$1" $((SECONDS - start)); }

step "installing what is missing"
bash scripts/bootstrap.sh
jobs="$(nproc 2>/dev/null || echo 2)"

step "C++ build and tests"
cmake --preset dev -DFUNNELKIT_BUILD_PYTHON=OFF >/dev/null
cmake --build --preset dev -j "$jobs"
ctest --preset dev -j "$jobs"

step "C++ tests under address and undefined-behaviour sanitizers"
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --preset asan -j "$jobs"

step "Python package and tests"
bash scripts/install-python.sh
export FUNNELKIT_EXAMPLE_BIN="$root/build/dev/examples"
.venv/bin/python -m pytest -q -p no:cacheprovider tests/python
step "all tests passed"
