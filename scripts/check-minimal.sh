#!/usr/bin/env bash
# Installs the built funnelkit wheel into a fresh environment holding only its required
# dependencies (numpy, pyarrow) and checks that the package works there and that paths needing
# pandas or Polars name the extra to install.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
rm -rf build/wheel
.venv/bin/python -m pip wheel -q --disable-pip-version-check --no-build-isolation --no-deps -w build/wheel . >/dev/null
if [ ! -x build/venv-min/bin/python ]; then
  "${PYTHON:-python3}" -m venv build/venv-min
fi
build/venv-min/bin/python -m pip install -q --disable-pip-version-check "numpy>=1.24" "pyarrow>=14"
build/venv-min/bin/python -m pip install -q --disable-pip-version-check --no-deps --force-reinstall build/wheel/funnelkit-*.whl
cd build && venv-min/bin/python "$root/tests/minimal/check_minimal.py"
