"""What one request costs each app, measured in-process: no HTTP server, no load generator.

``http_bench.py`` measures throughput over loopback, which on a shared
two-core machine moves by tens of percent between rounds. This script calls
each app's ASGI callable directly, with the same concurrency and pool, and
reports what a request costs the process:

- CPU time per request: every app in one process, in rounds of rotating
  order; each ratio is the median of the rounds' ratios, and
- with ``--instructions``, instructions per request counted by valgrind's
  callgrind, each app alone: the same figure on a busy machine as on an idle
  one, so a change of a few percent to the same code shows (across apps,
  instructions of C and of Python code cost different time). Each app runs
  twice (``--instruction-requests`` and five times as many) and the
  difference is divided out, so start-up does not count.

Run from the repository root: ``.venv/bin/python -m benchmarks.request_cost``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from typing import Any

from benchmarks.apps.common import DEFAULT_DATABASE_URL, POOL_SIZE
from benchmarks.http_bench import APPS, METHODS, TARGETS, prepare_table

_POST_BODY = b'{"name":"bench","quantity":3}'
_COLLECTED = re.compile(rb"Collected : (\d+)")


def _scope(method: str, number: int) -> dict[str, Any]:
    path = f"/items/{number % 1000 + 1}" if method == "GET" else "/items"
    headers = [(b"host", b"bench"), (b"content-type", b"application/json")]
    if method == "POST":
        headers.append((b"content-length", str(len(_POST_BODY)).encode()))
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1", "method": method, "scheme": "http", "path": path,
        "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
    }  # fmt: skip


async def _one(app: Any, method: str, number: int) -> None:
    """One request, answered in full; an error status stops the benchmark."""
    body = _POST_BODY if method == "POST" else b""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    status: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(_scope(method, number), receive, send)
    if status[0] >= 400:
        raise RuntimeError(f"{method} answered {status[0]}")


async def _load(app: Any, method: str, requests: int, concurrency: int) -> float:
    """Serve ``requests`` requests from ``concurrency`` workers; the CPU seconds they took."""
    numbers = iter(range(requests))

    async def worker() -> None:
        for number in numbers:
            await _one(app, method, number)

    start = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.process_time() - start


async def _drive(
    apps: dict[str, Any], method: str, requests: int, concurrency: int, rounds: int
) -> dict[str, list[float]]:
    """Every app open at once, measured in rounds of rotating order: CPU seconds per round.

    One process and one event loop for all, so a slow spell of the machine, the
    heap and the interpreter's caches are shared alike by apps measured
    moments apart.
    """
    seconds: dict[str, list[float]] = {name: [] for name in apps}
    async with AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(app.lifespan())
            for number in range(50):  # warm-up: connections opened, statements cached
                await _one(app, method, number)
        names = list(apps)
        for round_number in range(rounds):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                seconds[name].append(await _load(apps[name], method, requests, concurrency))
    return seconds


def _serve(targets: list[str], method: str, requests: int, concurrency: int, rounds: int) -> None:
    """In this process: drive the apps and print their CPU seconds per round as JSON."""
    apps = {}
    for target in targets:
        module, _, name = target.partition(":")
        apps[target] = getattr(importlib.import_module(module), name)
    run: Callable[[Any], Any] = asyncio.run
    try:
        import uvloop

        run = uvloop.run
    except ImportError:
        pass
    try:
        seconds = run(_drive(apps, method, requests, concurrency, rounds))
    except Exception as exc:  # one line for the parent to show, not a traceback
        while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
        raise SystemExit(f"{type(exc).__name__}: {exc}") from None
    print(json.dumps({"cpu_s": seconds}))


def _command(
    names: list[str], method: str, requests: int, concurrency: int, rounds: int
) -> list[str]:
    return [
        sys.executable, "-m", "benchmarks.request_cost", "--serve", *(APPS[n] for n in names),
        "--method", method, "--requests", str(requests), "--concurrency", str(concurrency),
        "--rounds", str(rounds),
    ]  # fmt: skip


def _environment(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "BENCH_DATABASE_URL": database_url,
        "BENCH_POOL_SIZE": str(POOL_SIZE),
        "PYTHONHASHSEED": "0",  # the same dict layouts in every run
    }


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    """Run one measurement; a failing app stops the benchmark with its last error line."""
    done = subprocess.run(command, env=env, capture_output=True)
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines() or ["no output"]
        rerun = " ".join(command[command.index("-m") :])
        raise SystemExit(f"{lines[-1]}; rerun `python {rerun}` to see its whole output")
    return done


def cpu_per_request(
    names: list[str],
    method: str,
    requests: int,
    concurrency: int,
    rounds: int,
    env: dict[str, str],
) -> dict[str, list[float]]:
    """Microseconds of CPU per request of each app, per round, from one process."""
    command = _command(names, method, requests, concurrency, rounds)
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]  # the database gets the other core
    result = json.loads(_run(command, env).stdout.decode().strip().splitlines()[-1])
    per_round: dict[str, list[float]] = result["cpu_s"]  # by module:app target
    return {name: [s / requests * 1e6 for s in per_round[APPS[name]]] for name in names}


def _instructions(
    name: str, method: str, requests: int, concurrency: int, env: dict[str, str]
) -> int:
    valgrind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    done = _run([*valgrind, *_command([name], method, requests, concurrency, 1)], env)
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise SystemExit(f"callgrind printed no instruction count for {name}")
    return int(found.group(1))


def instructions_per_request(
    name: str, method: str, requests: int, concurrency: int, env: dict[str, str]
) -> float:
    """Instructions per request: two runs, the difference over the extra requests."""
    few = _instructions(name, method, requests, concurrency, env)
    many = _instructions(name, method, 5 * requests, concurrency, env)
    return (many - few) / (4 * requests)


def _report(title: str, unit: str, samples: dict[tuple[str, str], list[float]]) -> None:
    """Each app's median; each ratio the median of the rounds' ratios (apps measured together)."""
    print(f"\n{title}")
    for (name, method), values in sorted(samples.items()):
        print(f"  {method:4s} {name:19s} {statistics.median(values):12,.1f} {unit}")
    for method, app, baseline, minimum in TARGETS:
        if (app, method) not in samples or (baseline, method) not in samples:
            continue
        pairs = zip(samples[baseline, method], samples[app, method], strict=True)
        ratios = [base / ours for base, ours in pairs]  # cheaper is faster
        spread = f"; rounds {min(ratios):.3f}..{max(ratios):.3f}" if len(ratios) > 1 else ""
        verdict = "shown only" if minimum is None else f"target >= {minimum}x"
        ratio = statistics.median(ratios)
        print(f"  {method:4s} {app} / {baseline}: {ratio:.3f}x ({verdict}{spread})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", nargs="+", choices=sorted(APPS), default=sorted(APPS))
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--requests", type=int, default=2000, help="per CPU-time run")
    parser.add_argument("--rounds", type=int, default=5, help="CPU-time runs per app")
    parser.add_argument("--concurrency", type=int, default=32, help="workers, as wrk's connections")
    parser.add_argument("--instructions", action="store_true", help="also count with callgrind")
    parser.add_argument("--instruction-requests", type=int, default=100)
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--method", default="GET", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve, args.method, args.requests, args.concurrency, args.rounds)
        return
    if args.instructions and shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind: apt-get install valgrind")
    prepare_table(args.database_url)
    env = _environment(args.database_url)
    cases = [(name, method) for method in args.methods for name in args.apps]

    samples: dict[tuple[str, str], list[float]] = {}
    for method in args.methods:
        per_app = cpu_per_request(
            args.apps, method, args.requests, args.concurrency, args.rounds, env
        )
        samples.update({(name, method): values for name, values in per_app.items()})
    _report(f"CPU per request (median of {args.rounds} rounds, one process)", "us", samples)

    if args.instructions:
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            counts = pool.map(
                lambda case: instructions_per_request(
                    *case, args.instruction_requests, args.concurrency, env
                ),
                cases,
            )
            counted = {case: [count] for case, count in zip(cases, counts, strict=True)}
            _report("Instructions per request (callgrind)", "", counted)


if __name__ == "__main__":
    main()
