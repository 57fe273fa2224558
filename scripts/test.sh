#!/usr/bin/env bash
# Every test: installs what is missing, then
#   1. C++ build with tests, examples, benchmarks (smoke runs) and consumer projects -> ctest
#   2. the same tests under address + undefined-behaviour sanitizers -> ctest, then the fuzz
#      targets (tests/fuzz, deterministic driver) for a few seconds each
#   3. the Python package built with pip (scikit-build-core)
#   4. the wheel in an environment with only numpy and pyarrow
#   5. benchmarks/peers.py --quick: every event-funnel engine returns the same levels
#   6. the PostgreSQL extension, built on the C++ build of step 1 and installed into PostgreSQL 15
#   7. pytest (the SQL tests start their own PostgreSQL server)
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
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --preset asan -j "$jobs" -LE fuzz

step "fuzzing every deserializer and columnar entry point under the sanitizers"
ctest --preset asan -j "$jobs" -L fuzz -V > build/asan/fuzz.log 2>&1 || { tail -n 60 build/asan/fuzz.log; exit 1; }
grep -Eo 'stat::number_of_executed_units: [0-9]+' build/asan/fuzz.log |
  awk '{n += $2; t += 1} END {printf "fuzz: %d targets, %d executions, no findings\n", t, n}'
unset ASAN_OPTIONS UBSAN_OPTIONS

step "Python package"
bash scripts/install-python.sh

step "the package with only its required dependencies (numpy, pyarrow)"
bash scripts/check-minimal.sh

step "event funnels: funnelkit, ClickHouse (chdb), DuckDB, Polars and pandas must agree"
for order in entity_time time shuffled; do
  .venv/bin/python benchmarks/peers.py --quick --order "$order" --json "build/peers-quick-$order.json" | tail -n 1
done

step "PostgreSQL extension (build and install)"
bash scripts/postgres.sh install build/dev

step "Python tests"
export FUNNELKIT_EXAMPLE_BIN="$root/build/dev/examples"
.venv/bin/python -m pytest -q -p no:cacheprovider tests/python
step "all tests passed"
