"""GET throughput through a read replica versus the primary, in one run.

Builds a throwaway primary and a streaming replica from the local PostgreSQL
binaries (as the tests do), seeds ``bench_item`` on the primary, waits until
the replica has it, then serves ``benchmarks.apps.ours`` (reads on the
primary) and ``benchmarks.apps.ours_replica`` (reads on the replica) under
uvicorn, and loads ``GET /items/{id}`` on each in alternating rounds with
``benchmarks.loadgen``. Both servers read the same rows; both PostgreSQL
servers share this machine, so the figure is the cost of routing, not the
relief a replica on its own host gives.

Run from the repository root: ``.venv/bin/python -m benchmarks.replica_bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg2

from benchmarks.apps.common import CREATE_TABLE, POOL_SIZE, SEED_TABLE
from benchmarks.http_bench import server_options
from tests.postgres import free_port
from tests.replica import StreamingPair

ROOT = Path(__file__).resolve().parent.parent
APPS = {"primary": "benchmarks.apps.ours:app", "replica": "benchmarks.apps.ours_replica:app"}


def _seed(pair: StreamingPair) -> None:
    connection = psycopg2.connect(pair.primary_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(CREATE_TABLE)
        cursor.execute(SEED_TABLE)
    connection.close()
    pair.wait_replayed("SELECT count(*) FROM bench_item", "1000")


def _load(port: int, connections: int, duration: float) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-m", "benchmarks.loadgen", f"http://127.0.0.1:{port}",
         "--method", "GET", "--connections", str(connections), "--duration", str(duration)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return dict(json.loads(output))


def _wait_ready(port: int, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/items/1", timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    pair = StreamingPair()
    servers: dict[str, tuple[int, subprocess.Popen[bytes]]] = {}
    try:
        _seed(pair)
        env = {
            **os.environ,
            "BENCH_DATABASE_URL": pair.primary_url,
            "BENCH_REPLICA_URL": pair.replica_url,
            "BENCH_POOL_SIZE": str(POOL_SIZE),
        }
        for name, app in APPS.items():
            port = free_port()
            command = [sys.executable, "-m", "uvicorn", app, "--port", str(port),
                       "--no-access-log", "--log-level", "warning", *server_options()]  # fmt: skip
            servers[name] = (port, subprocess.Popen(command, cwd=ROOT, env=env))
        for port, _ in servers.values():
            _wait_ready(port)
            _load(port, args.connections, 2.0)  # warm-up
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in APPS}
        for round_number in range(args.rounds):
            order = list(APPS) if round_number % 2 == 0 else list(reversed(APPS))
            for name in order:
                result = _load(servers[name][0], args.connections, args.duration)
                samples[name].append(result)
                rate = result["requests"] / result["duration_s"]
                errors = int(result["errors"])
                print(f"round {round_number + 1} {name:<8} {rate:8.0f} req/s  "
                      f"p99 {result['p99_ms']:6.1f} ms  errors {errors}")  # fmt: skip
        rates = {
            name: statistics.median(s["requests"] / s["duration_s"] for s in runs)
            for name, runs in samples.items()
        }
        print(f"\nmedian GET req/s: primary {rates['primary']:.0f}, replica {rates['replica']:.0f}"
              f" (replica/primary {rates['replica'] / rates['primary']:.2f})")  # fmt: skip
        replica_reads = pair.replica_sql(
            "SELECT sum(idx_scan) FROM pg_stat_user_tables WHERE relname = 'bench_item'"
        )
        print(f"index scans of bench_item on the replica: {replica_reads}")
    finally:
        for _, process in servers.values():
            process.terminate()
            process.wait(timeout=10)
        pair.stop()


if __name__ == "__main__":
    main()
