"""A real PgBouncer (Debian's package) in transaction pooling mode, for the tests.

It listens on a free port in front of a PostgreSQL server and trusts every
user listed in its auth file. PgBouncer refuses to run as root, so under root
it runs as the "postgres" user, as the throwaway clusters do.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from tests.postgres import free_port

MISSING = (
    "PgBouncer tests need the pgbouncer binary (Debian: apt-get install pgbouncer; "
    ".ci/run installs it)"
)


class PgBouncer:
    """``PgBouncer(server_url)`` starts it; ``.url`` reaches the same database through it."""

    def __init__(self, server_url: str, pool_size: int = 8, user: str = "postgres") -> None:
        server = urlsplit(server_url)
        self.folder = Path(tempfile.mkdtemp(prefix="project-pgbouncer-"))
        self.port = free_port()
        self.pool_size = pool_size
        ini = self.folder / "pgbouncer.ini"
        (self.folder / "users.txt").write_text(f'"{user}" ""\n')
        ini.write_text(
            "[databases]\n"
            f"* = host={server.hostname} port={server.port or 5432}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.folder / 'users.txt'}\n"
            f"pool_mode = transaction\ndefault_pool_size = {pool_size}\n"
            f"max_client_conn = 500\nstats_users = {user}\n"
            f"logfile = {self.folder / 'pgbouncer.log'}\n"
        )
        as_owner: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
            for path in self.folder.iterdir():
                shutil.chown(path, "postgres")
            as_owner = ["runuser", "-u", "postgres", "--"]
        self._process = subprocess.Popen(
            [*as_owner, "pgbouncer", str(ini)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_listening()
        self.url = server._replace(netloc=f"{user}@127.0.0.1:{self.port}").geturl()

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                log = self.folder / "pgbouncer.log"
                tail = log.read_text()[-500:] if log.exists() else ""
                self.stop()
                raise RuntimeError(f"pgbouncer exited at startup: {tail}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("pgbouncer did not listen within 10 s")

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
