"""A throwaway PostgreSQL server for the SQL tests, examples and benchmarks: initdb into a
temporary directory, a server listening only on a Unix socket in it, run as the user postgres
(the server refuses to run as root), stopped and removed at the end."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
CRASH_MARKS = ("terminated by signal", "was terminated by exception", "server process (PID",
               "terminating any other active server processes", "PANIC:")


def missing_reason() -> str | None:
    """Why no server can be started here, or None when one can."""
    for tool in ("initdb", "pg_ctl", "postgres", "pg_config"):
        if not (PG_BIN / tool).exists():
            return f"PostgreSQL 15 binaries are absent ({PG_BIN / tool}); scripts/bootstrap.sh test installs them"
    return None


def extension_missing() -> str | None:
    """Why CREATE EXTENSION funnelkit cannot work yet, or None."""
    share = subprocess.run([str(PG_BIN / "pg_config"), "--sharedir"], capture_output=True, text=True,
                           check=True).stdout.strip()
    libdir = subprocess.run([str(PG_BIN / "pg_config"), "--pkglibdir"], capture_output=True, text=True,
                            check=True).stdout.strip()
    for f in (Path(share) / "extension" / "funnelkit.control", Path(libdir) / "funnelkit.so"):
        if not f.exists():
            return f"the funnelkit extension is not installed ({f} is missing): run bash scripts/postgres.sh install"
    return None


def _run_as_postgres(args: list[str]) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, capture_output=True, text=True, check=False)


class Server:
    """A server in its own temporary directory. `conninfo` connects as postgres over the socket."""

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="funnelkit-pg-"))
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.settings = {"listen_addresses": "''", "unix_socket_directories": str(self.dir), "fsync": "off",
                         "max_worker_processes": "8", "max_parallel_workers": "8", **(settings or {})}
        self.conninfo = f"host={self.dir} user=postgres dbname=postgres"
        self.running = False

    def start(self) -> "Server":
        r = _run_as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                              "--no-sync", "-E", "UTF8"])
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed: {r.stderr}")
        opts = " ".join(f"-c {k}={v}" for k, v in self.settings.items())
        r = _run_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                              "-o", opts, "start"])
        if r.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {r.stderr}\n{self.log_text()}")
        self.running = True
        return self

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def crashes(self) -> list[str]:
        """Lines of the server log that report a crashed backend."""
        return [line for line in self.log_text().splitlines() if any(m in line for m in CRASH_MARKS)]

    def stop(self, remove: bool = True) -> None:
        if self.running:
            _run_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])
            self.running = False
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)

    def connect(self):  # -> psycopg.Connection
        import psycopg

        return psycopg.connect(self.conninfo, autocommit=True)
