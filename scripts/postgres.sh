#!/usr/bin/env bash
# The PostgreSQL extension and a throwaway PostgreSQL 15 server for tests, examples and benchmarks.
#   postgres.sh install [BUILD_DIR]  build bindings/postgresql in BUILD_DIR (default build/dev, the
#                                    C++ build of scripts/test.sh, so the library is reused) and
#                                    install it into the server's directories (needs root)
#   postgres.sh start DIR            initdb into DIR (once) and start a server listening only on a
#                                    Unix socket in DIR, as the user postgres (the server refuses
#                                    root); prints the psql connection string
#   postgres.sh stop DIR             stop that server
# Packages: postgresql-15 and postgresql-server-dev-15 (scripts/bootstrap.sh test installs them).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pg_bin="${PG_BIN:-/usr/lib/postgresql/15/bin}"
as_postgres() { if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi; }

case "${1:-}" in
  install)
    build="${2:-$root/build/dev}"
    if [ ! -f "$build/CMakeCache.txt" ]; then
      cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFUNNELKIT_BUILD_PYTHON=OFF \
        -DFUNNELKIT_BUILD_BENCHMARKS=OFF -DFUNNELKIT_BUILD_EXAMPLES=OFF >/dev/null
    fi
    cmake "$build" -DFUNNELKIT_BUILD_POSTGRES=ON -DFUNNELKIT_PG_CONFIG="$pg_bin/pg_config" >/dev/null
    cmake --build "$build" --target funnelkit_postgres -j "$(nproc 2>/dev/null || echo 2)"
    cmake --install "$build" --component postgres
    ;;
  start)
    dir="${2:?usage: postgres.sh start DIR}"
    mkdir -p "$dir"
    chown postgres "$dir" 2>/dev/null || true
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_postgres "$pg_bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >/dev/null
    fi
    as_postgres "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o "-k $dir -c listen_addresses=''" start >/dev/null
    echo "host=$dir user=postgres dbname=postgres"
    ;;
  stop)
    dir="${2:?usage: postgres.sh stop DIR}"
    as_postgres "$pg_bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
  *)
    echo "usage: postgres.sh install [BUILD_DIR] | start DIR | stop DIR" >&2
    exit 2
    ;;
esac
