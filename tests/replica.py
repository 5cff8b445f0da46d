"""A throwaway primary with a real streaming replica, from the local PostgreSQL binaries.

The primary is a ``ThrowawayCluster``; the replica is ``pg_basebackup -R`` of
it, started as a hot standby on a second free port.
"""

from __future__ import annotations

import shutil
import subprocess
import time

from tests.postgres import ThrowawayCluster, free_port

BINARIES = ("initdb", "pg_ctl", "pg_basebackup", "psql")


def missing_binaries() -> list[str]:
    return [name for name in BINARIES if shutil.which(name) is None]


class StreamingPair:
    """``.primary_url`` and ``.replica_url`` of one database ("test") kept in sync."""

    def __init__(self) -> None:
        self.primary = ThrowawayCluster()
        self.replica_port = free_port()
        self.replica_data = self.primary.folder / "replica"
        try:
            self.primary._own(
                "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port),
                "-U", "postgres", "-D", str(self.replica_data), "-R", "-X", "stream", "-c", "fast",
            )  # fmt: skip
            self.start_replica()
        except BaseException:
            self.stop()
            raise
        self.primary_url = self.primary.url
        self.replica_url = f"postgresql://postgres@127.0.0.1:{self.replica_port}/test"

    def start_replica(self) -> None:
        options = (
            f"-p {self.replica_port} -k {self.primary.folder} -c listen_addresses=127.0.0.1"
            " -c hot_standby=on"
        )
        log = f"{self.replica_data}.log"
        self.primary._own("pg_ctl", "-D", str(self.replica_data), "-o", options, "-w", "-l", log,
                          "start")  # fmt: skip

    def stop_replica(self) -> None:
        self.primary._own("pg_ctl", "-D", str(self.replica_data), "-m", "fast", "-w", "stop")

    def replica_sql(self, sql: str) -> str:
        """Run ``sql`` on the replica; its output, unaligned."""
        result = subprocess.run(
            ["psql", "-h", str(self.primary.folder), "-p", str(self.replica_port), "-U",
             "postgres", "-d", "test", "-Atc", sql],
            check=True, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        return result.stdout.strip()

    def wait_replayed(self, sql_on_replica: str, expected: str, within: float = 20) -> None:
        """Wait until the replica answers ``sql_on_replica`` with ``expected``."""
        deadline = time.monotonic() + within
        while (answer := self._try(sql_on_replica)) != expected:
            if time.monotonic() > deadline:
                raise AssertionError(f"replica still answers {answer!r}, not {expected!r}")
            time.sleep(0.05)

    def _try(self, sql: str) -> str:
        try:
            return self.replica_sql(sql)
        except subprocess.CalledProcessError as exc:  # e.g. the table is not replayed yet
            return str(exc.stderr).strip()

    def stop(self) -> None:
        if (self.replica_data / "postmaster.pid").exists():
            subprocess.run(
                [*self.primary._as_owner, "pg_ctl", "-D", str(self.replica_data),
                 "-m", "immediate", "stop"],
                capture_output=True,
            )  # fmt: skip
        self.primary.stop()
