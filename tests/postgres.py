"""Find a PostgreSQL server for the tests, or say clearly why there is none.

Order: ``TEST_DATABASE_URL``; a server on 127.0.0.1:5432; a throwaway cluster
started with ``initdb`` when it is installed. Under ``CI=true`` a missing
server is a failure, not a skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2

LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _answers(url: str) -> str | None:
    """None when a server at ``url`` accepts a query, else the reason it did not."""
    dsn = url.replace("postgresql+psycopg2://", "postgresql://")
    try:
        psycopg2.connect(dsn, connect_timeout=3).close()
    except psycopg2.Error as exc:
        return str(exc).strip().splitlines()[0]
    return None


@contextmanager
def created(url: str, create: str, drop: str) -> Iterator[None]:
    """Run ``create`` on the server at ``url`` (autocommit), and ``drop`` when the block ends."""
    connection = psycopg2.connect(url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(create)
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute(drop)
    finally:
        connection.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=60)


class ThrowawayCluster:
    """A PostgreSQL cluster in a temporary folder, listening on 127.0.0.1.

    ``auth`` is the method for TCP clients ("trust", or "scram-sha-256" to test
    passwords); the socket in the folder always trusts. As root, the cluster
    belongs to the "postgres" user, since initdb refuses to run as root.
    """

    def __init__(self, auth: str = "trust", port: int | None = None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="project-pg-"))
        self.port = port or free_port()
        self._as_owner: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
            self._as_owner = ["runuser", "-u", "postgres", "--"]
        data = self.folder / "data"
        try:
            self._own("initdb", "-D", str(data), "-U", "postgres", f"--auth-host={auth}")
            self.start()
            self.psql("CREATE DATABASE test")
        except BaseException:
            self.stop()
            raise
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/test"

    def _own(self, *command: str) -> None:
        _run(*self._as_owner, *command)

    def psql(self, sql: str) -> None:
        """Run ``sql`` as the superuser, through the trusted socket."""
        _run("psql", "-h", str(self.folder), "-p", str(self.port), "-U", "postgres",
             "-d", "postgres", "-c", sql)  # fmt: skip

    def shutdown(self, mode: str = "fast", wait: bool = True) -> None:
        """Stop the server but keep the cluster ("smart" waits for clients; -W: do not wait)."""
        data = self.folder / "data"
        self._own("pg_ctl", "-D", str(data), "-m", mode, "-w" if wait else "-W", "stop")

    def start(self) -> None:
        """Start a cluster that ``shutdown`` stopped; returns once it accepts connections."""
        data = self.folder / "data"
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self._own("pg_ctl", "-D", str(data), "-o", options, "-w", "-l", f"{data}.log", "start")

    def restart(self, mode: str = "fast") -> None:
        self.shutdown(mode)
        self.start()

    def stop(self) -> None:
        """Stop the server for good and delete the cluster."""
        data = self.folder / "data"
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*self._as_owner, "pg_ctl", "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
            )
        shutil.rmtree(self.folder, ignore_errors=True)


def find_postgres() -> tuple[str | None, str, ThrowawayCluster | None]:
    """(url, reason when there is none, cluster to stop afterwards)."""
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        reason = _answers(explicit)
        return (
            (None, f"TEST_DATABASE_URL does not answer: {reason}", None)
            if reason
            else (explicit, "", None)
        )
    if _answers(LOCAL_URL) is None:
        return LOCAL_URL, "", None
    if shutil.which("initdb") and shutil.which("pg_ctl"):
        try:
            cluster = ThrowawayCluster()
        except (subprocess.CalledProcessError, OSError) as exc:
            stderr = getattr(exc, "stderr", b"") or b""
            why = stderr.decode(errors="replace").strip().splitlines()[-1:] or [str(exc)]
            return None, f"no server on 127.0.0.1:5432 and initdb failed: {why[0]}", None
        return cluster.url, "", cluster
    return (
        None,
        "no TEST_DATABASE_URL, no server on 127.0.0.1:5432 and no initdb to start one",
        None,
    )
