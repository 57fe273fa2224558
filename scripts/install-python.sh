#!/usr/bin/env bash
# Builds and installs the funnelkit Python package into .venv when its sources changed since
# the last install (scikit-build-core, incremental build in build/<wheel tag>, ccache).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
stamp=.venv/.funnelkit-installed
want="$( (git ls-files -s -- CMakeLists.txt cmake include src bindings pyproject.toml 2>/dev/null;
          git diff -- CMakeLists.txt cmake include src bindings pyproject.toml 2>/dev/null;
          git ls-files --others --exclude-standard -- include src bindings 2>/dev/null | xargs -r cat) | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! .venv/bin/python -c "import funnelkit" >/dev/null 2>&1; then
  echo "building and installing the funnelkit Python package"
  # A development build may have left an in-place module next to the sources: never package it.
  rm -f bindings/python/funnelkit/_core*.so
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps . 
  echo "$want" > "$stamp"
fi
