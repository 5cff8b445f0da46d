"""Command start-up: ``manage.py --help`` and ``manage.py dbcheck`` against ``import litestar``.

Issue 5 targets, as ratios of the median wall-clock time in one run:
``--help`` at most 0.3x and a healthy one-alias PostgreSQL ``dbcheck`` at most
1.0x of ``python -c "import litestar"``. The commands run in rotating order so
that a slow moment of the machine hits each of them alike.

Run from the repository root: ``.venv/bin/python -m benchmarks.startup [--url URL]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

TARGETS = {"manage.py --help": 0.3, "manage.py dbcheck": 1.0}


def _timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    env = {**os.environ, "SETTINGS_MODULE": "settings.test", "DATABASE_URL": args.url}
    commands = {
        "import litestar": [sys.executable, "-c", "import litestar"],
        "manage.py --help": [sys.executable, "manage.py", "--help"],
        "manage.py dbcheck": [sys.executable, "manage.py", "dbcheck", "--database", "default"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    names = list(commands)
    for round_ in range(args.rounds):
        for name in names[round_ % 3 :] + names[: round_ % 3]:
            times[name].append(_timed(commands[name], env))
    baseline = statistics.median(times["import litestar"])
    failed = False
    print(f"{'command':<20} {'median':>9} {'ratio':>6}  target")
    for name, samples in times.items():
        median = statistics.median(samples)
        target = TARGETS.get(name)
        ratio = median / baseline
        verdict = "" if target is None else f"<= {target}  {'ok' if ratio <= target else 'MISSED'}"
        failed |= target is not None and ratio > target
        print(f"{name:<20} {median * 1000:>7.0f}ms {ratio:>6.2f}  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
