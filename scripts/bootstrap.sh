#!/usr/bin/env bash
# Installs what funnelkit needs, and only what is missing:
#   bootstrap.sh demo   the compiler, CMake, Ninja, Eigen and Boost (Debian) and a project virtual
#                       environment .venv with scripts/requirements-demo.txt (build and run);
#   bootstrap.sh        (or "test") also ccache, GoogleTest, Google Benchmark, Chromium, a Java
#                       runtime for PySpark, PostgreSQL 15 with its server headers (the SQL
#                       extension and its tests), and scripts/requirements.txt (the other input
#                       formats, the references, PySpark and Dask).
# Idempotent. Prints what it installs; prints nothing when nothing is missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mode="${1:-test}"
case "$mode" in
  demo) requirements=scripts/requirements-demo.txt ;;
  test) requirements=scripts/requirements.txt ;;
  *) echo "usage: bootstrap.sh [demo|test]" >&2; exit 2 ;;
esac

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

packages=(g++ libeigen3-dev libboost-dev python3-venv python3-dev)
if [ "$mode" = test ]; then packages+=(libgtest-dev libbenchmark-dev ccache chromium openjdk-17-jre-headless postgresql-15 postgresql-server-dev-15); fi
need=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v ninja >/dev/null 2>&1 || need+=(ninja-build)
if [ ${#need[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${need[*]}"
  as_root apt-get update -qq
  # Slim Debian images lack the manual folders the Java packages link their pages into.
  case " ${need[*]} " in *" openjdk-17-jre-headless "*) as_root mkdir -p /usr/share/man/man1 ;; esac
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating the virtual environment .venv"
  "$python" -m venv .venv
fi
# One stamp per requirements file: the test set includes the demo set.
stamp=".venv/.funnelkit-$(basename "$requirements" .txt)"
want="$(cat scripts/requirements-demo.txt "$requirements" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: installing Python packages from $requirements into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  (cd scripts && ../.venv/bin/python -m pip install -q --disable-pip-version-check -r "$(basename "$requirements")")
  echo "$want" > "$stamp"
fi
