"""A real PostgreSQL server for the tests and benchmarks, in a temporary folder on a free loopback port.

initdb refuses to run as root (as tests and CI do), so the server then runs as the `postgres`
system user that Debian's package creates. Where the server programs are missing, `make test`
installs Debian's `postgresql` package first; if there is still no server, this raises
ServerMissing with what to do, and the tests that need it fail (they are never skipped).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

USER = "postgres"  # the system user the server runs as when the tests run as root


class ServerMissing(RuntimeError):
    pass


def bin_dir() -> Path:
    """The folder of initdb and pg_ctl: NEWSBOT_PG_BINDIR, else `pg_config --bindir`, else Debian's."""
    candidates = [os.environ.get("NEWSBOT_PG_BINDIR", "")]
    if shutil.which("pg_config"):
        result = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(result.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if folder and (Path(folder) / "initdb").is_file():
            return Path(folder)
    raise ServerMissing(
        "PostgreSQL's server programs (initdb, pg_ctl) are not installed: run `make test` "
        "(it installs Debian's postgresql package), or set NEWSBOT_PG_BINDIR to their folder"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """`with PostgresServer() as server:` a server, stopped and deleted at the end; `server.new_database()`."""

    def __init__(self) -> None:
        self.bin = bin_dir()
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="newsbot-pg-"))
        self.data = self.folder / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam(USER)
            except KeyError:
                raise ServerMissing(f"tests run as root and there is no {USER!r} user to run PostgreSQL as") from None
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            self.as_user = ["runuser", "-u", USER, "--"]
        self.url = f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        result = subprocess.run([*self.as_user, *command], capture_output=True, text=True, check=False)
        if result.returncode:
            raise ServerMissing(f"{' '.join(command[:2])} failed: {(result.stderr or result.stdout).strip()[-500:]}")

    def start(self) -> PostgresServer:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off -c max_connections=200"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w",
                  "start")  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return self
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run(
                [*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                check=False,
            )
        shutil.rmtree(self.folder, ignore_errors=True)

    def new_database(self) -> str:
        """The URL of a new, empty database on this server."""
        name = f"newsbot_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *_: object) -> None:
        self.stop()
