"""HTTP benchmark: our DatabasePlugin against advanced-alchemy, SQLAlchemy alone and asyncpg.

Starts each app under uvicorn (one worker, same loop and HTTP parser for all),
loads ``GET /items/{id}`` and ``POST /items`` over loopback with a fixed number
of keep-alive connections, repeats the rounds in rotating order, and prints
the medians and the ratios that issues 4 and 9 set as targets.

Run from the repository root: ``.venv/bin/python -m benchmarks.http_bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.apps.common import (
    CREATE_TABLE,
    DEFAULT_DATABASE_URL,
    POOL_SIZE,
    RESET_TABLE,
    SEED_TABLE,
)

ROOT = Path(__file__).resolve().parent.parent
APPS = {
    "ours": "benchmarks.apps.ours:app",
    "ours-connection": "benchmarks.apps.ours_connection:app",
    "minimal-session": "benchmarks.apps.minimal_session:app",
    "minimal-core": "benchmarks.apps.minimal_core:app",
    "injected-session": "benchmarks.apps.injected_session:app",
    "injected-connection": "benchmarks.apps.injected_connection:app",
    "advanced-alchemy": "benchmarks.apps.advanced_alchemy_app:app",
    "raw-asyncpg": "benchmarks.apps.raw_asyncpg:app",
}
METHODS = ("GET", "POST")
# (method, app, baseline, minimum ratio of the app to the baseline or None: shown only).
# Issue 9: what the plugin adds on top of SQLAlchemy's own floors, and advanced-alchemy.
TARGETS: tuple[tuple[str, str, str, float | None], ...] = (
    ("GET", "ours", "minimal-session", 0.97),
    ("GET", "ours-connection", "minimal-core", 0.95),
    ("GET", "ours", "advanced-alchemy", 1.6),
    ("POST", "ours", "advanced-alchemy", 1.25),
    ("POST", "ours", "minimal-session", None),
    ("GET", "ours", "injected-session", None),
    ("GET", "injected-session", "minimal-session", None),
    ("GET", "injected-session", "advanced-alchemy", None),  # the most any DI plugin starts from
    ("GET", "ours-connection", "injected-connection", None),
    ("GET", "injected-connection", "minimal-core", None),
    ("GET", "ours", "raw-asyncpg", None),
    ("GET", "minimal-session", "raw-asyncpg", None),
)
SERVER_CPU = 0
LOADGEN_CPU = 1

WRK_SCRIPT = """
math.randomseed(os.time())
local method = "%(method)s"
local body = '{"name":"bench","quantity":3}'
request = function()
  if method == "GET" then
    return wrk.format("GET", "/items/" .. math.random(1, 1000))
  end
  return wrk.format("POST", "/items", {["Content-Type"] = "application/json"}, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%%d,"duration_s":%%f,"p50_ms":%%f,"p99_ms":%%f,"errors":%%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, e.status + e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass
class Sample:
    rps: float
    p99_ms: float
    errors: int
    server_cpu: float  # share of one core the server used during the run
    loadgen_cpu: float  # share of one core the load generator used

    @property
    def per_cpu(self) -> float:
        """Requests per second of server CPU time."""
        return self.rps / self.server_cpu if self.server_cpu else 0.0


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    samples: dict[str, list[Sample]] = field(default_factory=lambda: {m: [] for m in METHODS})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _pin(cpu: int | None) -> Callable[[], None] | None:
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def prepare_table(database_url: str) -> None:
    """Create ``bench_item`` and reset it to the seeded rows."""
    import asyncpg

    async def _prepare() -> None:
        connection = await asyncpg.connect(database_url)
        try:
            await connection.execute(CREATE_TABLE)
            await connection.execute(RESET_TABLE)
            await connection.execute(SEED_TABLE)
            await connection.execute("VACUUM ANALYZE bench_item")
        finally:
            await connection.close()

    asyncio.run(_prepare())


def server_options() -> list[str]:
    """The same event loop and HTTP parser for every app: the fastest installed."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return ["--loop", loop, "--http", http]


@contextmanager
def servers(
    names: list[str], database_url: str, base_port: int, cpu: int | None
) -> Iterator[list[Server]]:
    env = {**os.environ, "BENCH_DATABASE_URL": database_url, "BENCH_POOL_SIZE": str(POOL_SIZE)}
    started: list[Server] = []
    try:
        for offset, name in enumerate(names):
            port = base_port + offset
            command = [
                sys.executable,
                "-m",
                "uvicorn",
                APPS[name],
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
                *server_options(),
            ]
            process = subprocess.Popen(command, cwd=ROOT, env=env, preexec_fn=_pin(cpu))
            started.append(Server(name, port, process))
        for server in started:
            _wait_ready(server)
        yield started
    finally:
        for server in started:
            server.process.terminate()
        for server in started:
            try:
                server.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.process.kill()


def _wait_ready(server: Server, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited with {server.process.returncode} at startup")
        try:
            with urllib.request.urlopen(f"{server.url}/items/1", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{server.name} did not answer within {timeout}s")
        time.sleep(0.2)


def check_same_json(started: list[Server]) -> None:
    """Every app must answer both endpoints with the same JSON."""

    def fetch(server: Server, method: str) -> tuple[int, dict[str, object]]:
        body = b'{"name":"check","quantity":7}' if method == "POST" else None
        path = "/items" if method == "POST" else "/items/42"
        request = urllib.request.Request(
            server.url + path, data=body, method=method,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=5) as response:
            answer = json.loads(response.read())
            answer.pop("id") if method == "POST" else None
            return response.status, answer

    for method in METHODS:
        answers = {server.name: fetch(server, method) for server in started}
        if len(set(map(repr, answers.values()))) != 1:
            raise SystemExit(f"The apps disagree on {method}: {answers}")


def load(
    server: Server, method: str, connections: int, duration: float, tool: str, cpu: int | None
) -> Sample:
    """One timed run against one server; returns what the load generator measured."""
    script = Path(tempfile.gettempdir()) / f"http_bench_{method.lower()}.lua"
    if tool == "wrk":
        script.write_text(WRK_SCRIPT % {"method": method})
        command = [
            "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
            "-s", str(script), server.url,
        ]  # fmt: skip
    else:
        command = [
            sys.executable, "-m", "benchmarks.loadgen", server.url, "--method", method,
            "--connections", str(connections), "--duration", str(duration),
        ]  # fmt: skip
    server_before = _cpu_seconds(server.process.pid)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=True, preexec_fn=_pin(cpu)
    ).stdout
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = json.loads(output.strip().splitlines()[-1])
    elapsed = result["duration_s"]
    loadgen_cpu = (children.ru_utime + children.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    return Sample(
        rps=result["requests"] / elapsed,
        p99_ms=result["p99_ms"],
        errors=result["errors"],
        server_cpu=(_cpu_seconds(server.process.pid) - server_before) / elapsed,
        loadgen_cpu=loadgen_cpu / elapsed,
    )


def _median(samples: list[Sample], attribute: str) -> float:
    return float(statistics.median(getattr(sample, attribute) for sample in samples))


def report(started: list[Server]) -> bool:
    """Print the medians, the ratios and whether each target is met."""
    print()
    header = f"{'app':<18}" + "".join(
        f"{method + ' req/s':>12}{method + ' p99 ms':>13}{'srv cpu':>9}{'gen cpu':>9}"
        for method in METHODS
    )
    print(header)
    print("-" * len(header))
    for server in started:
        row = f"{server.name:<18}"
        for method in METHODS:
            samples = server.samples[method]
            row += (
                f"{_median(samples, 'rps'):>12.0f}{_median(samples, 'p99_ms'):>13.1f}"
                f"{_median(samples, 'server_cpu'):>8.0%} {_median(samples, 'loadgen_cpu'):>8.0%}"
            )
        print(row)
    errors = sum(s.errors for server in started for m in METHODS for s in server.samples[m])
    if errors:
        print(f"WARNING: {errors} non-2xx responses or socket errors during the runs")
    by_name = {server.name: server for server in started}
    print()
    all_met = True
    for method, name, baseline, target in TARGETS:
        if name not in by_name or baseline not in by_name:
            continue
        ours, base = by_name[name].samples[method], by_name[baseline].samples[method]
        ratio = _median(ours, "rps") / _median(base, "rps")
        # Requests per second of server CPU: steadier than req/s when other work shares the core.
        per_cpu = _median(ours, "per_cpu") / _median(base, "per_cpu")
        per_round = [a.rps / b.rps for a, b in zip(ours, base, strict=True)]
        met = target is None or ratio >= target
        all_met &= met
        verdict = "shown only" if target is None else f"target >= {target}x: "
        verdict += "" if target is None else ("met" if met else "MISSED")
        print(
            f"{method:<5} {name + ' / ' + baseline:<36}{ratio:>6.2f}x  ({verdict}; "
            f"rounds {min(per_round):.2f}..{max(per_round):.2f}; per CPU-second {per_cpu:.2f}x)"
        )
    return all_met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per timed run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before each run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="repeats, in rotating app order")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--apps", nargs="+", choices=list(APPS), default=list(APPS))
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and load to CPUs")
    parser.add_argument("--port", type=int, default=8101, help="first of the servers' ports")
    args = parser.parse_args()

    tool = args.loadgen
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "python"
    pinned = not args.no_pin and len(os.sched_getaffinity(0)) >= 2
    server_cpu, loadgen_cpu = (SERVER_CPU, LOADGEN_CPU) if pinned else (None, None)
    print(
        f"uvicorn {' '.join(server_options())}, 1 worker; pool size {POOL_SIZE}; load: {tool}, "
        f"{args.connections} connections, {args.duration:g}s runs after {args.warmup:g}s "
        f"warm-up, {args.rounds} rounds; "
        + (f"server on CPU {server_cpu}, load on CPU {loadgen_cpu}" if pinned else "unpinned")
        + " (PostgreSQL floats)",
        flush=True,
    )
    prepare_table(args.database_url)
    with servers(args.apps, args.database_url, args.port, server_cpu) as started:
        check_same_json(started)
        for round_number in range(args.rounds):
            shift = round_number % len(started)
            for server in started[shift:] + started[:shift]:
                for method in METHODS:
                    if args.warmup:
                        load(server, method, args.connections, args.warmup, tool, loadgen_cpu)
                    sample = load(
                        server, method, args.connections, args.duration, tool, loadgen_cpu
                    )
                    server.samples[method].append(sample)
                    print(
                        f"round {round_number + 1} {server.name:<17} {method:<4} "
                        f"{sample.rps:>8.0f} req/s  p99 {sample.p99_ms:>6.1f} ms  "
                        f"server cpu {sample.server_cpu:.0%}  load cpu {sample.loadgen_cpu:.0%}",
                        flush=True,
                    )
    all_met = report(started)
    sys.exit(0 if all_met else 1)


if __name__ == "__main__":
    main()
