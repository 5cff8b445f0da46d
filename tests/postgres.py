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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)


class ThrowawayCluster:
    """A PostgreSQL cluster in a temporary folder, for machines without a server."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="project-pg-"))
        self.port = _free_port()
        data = self.folder / "data"
        _run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust")
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        log = str(self.folder / "log")
        _run("pg_ctl", "-D", str(data), "-o", options, "-w", "-l", log, "start")
        _run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "test")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/test"

    def stop(self) -> None:
        subprocess.run(
            ["pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "stop"], capture_output=True
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
