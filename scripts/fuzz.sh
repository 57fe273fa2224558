#!/usr/bin/env bash
# Fuzzes every deserializer and columnar entry point for a bounded time under address and
# undefined-behaviour sanitizers (tests/fuzz), then prints the executions per target.
#   bash scripts/fuzz.sh              # FUZZ_SECONDS (default 10) per target, 14 targets
#   FUZZ_SECONDS=60 bash scripts/fuzz.sh window_funnel conversion   # chosen targets, longer
# With clang (installed when missing, as scripts/bootstrap.sh installs packages) the targets
# are libFuzzer binaries; with FUZZ_ENGINE=driver, or without clang, tests/fuzz/driver.cpp's
# deterministic mutation loop drives them. Both start from tests/fuzz/corpus/<target> and use
# a fixed seed (FUZZ_SEED, default 1). New inputs go to build/fuzz/corpus, crashing inputs to
# build/fuzz/artifacts (build/fuzz-driver/... for the driver); the seed corpora in the source
# tree are never written to.
# Exits non-zero when a target crashes, hangs or fails a check.
# FUNNELKIT_BUILD_LOCK=<file> serialises the build with other builds through flock.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
seconds="${FUZZ_SECONDS:-10}"
seed="${FUZZ_SEED:-1}"
engine="${FUZZ_ENGINE:-auto}"
all_targets=(conversion_counts window_funnel_counts duration_summary flow_counts lifecycle_summary suppression_list
             window_funnel conversion build_histories velocity attribution campaign_state attribution_state
             funnel_durations)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# Debian packages: the build's own (as scripts/bootstrap.sh) and, unless the driver is asked
# for, clang with its compiler runtime (libFuzzer and the sanitizers).
need=()
for pkg in g++ libeigen3-dev libboost-dev; do installed "$pkg" || need+=("$pkg"); done
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v ninja >/dev/null 2>&1 || need+=(ninja-build)
if [ "$engine" != driver ] && ! command -v clang++ >/dev/null 2>&1; then need+=(clang); fi
if [ ${#need[@]} -gt 0 ]; then
  echo "fuzz: installing Debian packages: ${need[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ "$engine" != driver ] && command -v clang++ >/dev/null 2>&1; then
  # libFuzzer ships in the versioned compiler-runtime package, only recommended by clang.
  major="$(clang++ -dumpversion | cut -d. -f1)"
  rt="libclang-rt-${major}-dev"
  if ! installed "$rt" && apt-cache show "$rt" >/dev/null 2>&1; then
    echo "fuzz: installing Debian package: $rt"
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$rt" >/dev/null
  fi
fi

if [ "$engine" != driver ] && command -v clang++ >/dev/null 2>&1; then cxx=clang++; else cxx=g++; fi
driver=OFF
[ "$engine" = driver ] && driver=ON
build=build/fuzz
[ "$cxx" = g++ ] || [ "$driver" = ON ] && build=build/fuzz-driver
cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE= -DCMAKE_CXX_FLAGS="-O1 -g" \
  -DFUNNELKIT_BUILD_FUZZERS=ON -DFUNNELKIT_FUZZ_DRIVER="$driver" -DFUNNELKIT_BUILD_TESTS=OFF \
  -DFUNNELKIT_BUILD_BENCHMARKS=OFF -DFUNNELKIT_BUILD_EXAMPLES=OFF -DFUNNELKIT_BUILD_PYTHON=OFF \
  -DFUNNELKIT_INSTALL=OFF >/dev/null
lock=()
[ -n "${FUNNELKIT_BUILD_LOCK:-}" ] && lock=(flock "$FUNNELKIT_BUILD_LOCK")
"${lock[@]}" cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target "${targets[@]/#/fuzz_}"
used="$(grep -E '^FUNNELKIT_HAVE_LIBFUZZER:INTERNAL=1' "$build/CMakeCache.txt" >/dev/null && [ "$driver" = OFF ] && echo libFuzzer || echo driver)"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
mkdir -p "$build/artifacts"
total=0
failed=()
printf '%-22s %12s  %s\n' target executions result
for t in "${targets[@]}"; do
  work="$build/corpus/$t"
  mkdir -p "$work"
  log="$build/fuzz_$t.log"
  status=ok
  if ! "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -seed="$seed" -max_len=4096 -timeout=20 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
    status="FAILED (log: $log)"
    failed+=("$t")
  fi
  runs="$(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$log" | tail -n 1 | grep -Eo '[0-9]+$' || echo 0)"
  total=$((total + runs))
  printf '%-22s %12s  %s\n' "$t" "$runs" "$status"
done
printf '%-22s %12s  (%s, %s s per target, seed %s)\n' total "$total" "$used" "$seconds" "$seed"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in: ${failed[*]}; crashing inputs under $build/artifacts" >&2
  exit 1
fi
