"""Command start-up benchmark: manage.py commands against ``import litestar``.

Each command runs N times in fresh processes, interleaved so that a noisy
moment hits every command alike; the medians and their ratios to
``python -c "import litestar"`` are printed with the targets of issues 5 and 10
(``migrate`` with nothing to do and ``showmigrations``, on a migrated database).

Run from the repository root: ``.venv/bin/python -m benchmarks.startup_bench``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.apps.common import DEFAULT_DATABASE_URL

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "import litestar"
# name -> (arguments after the interpreter, highest allowed ratio to the baseline)
COMMANDS: dict[str, tuple[list[str], float | None]] = {
    BASELINE: (["-c", "import litestar"], None),
    "manage.py --help": (["manage.py", "--help"], 0.3),
    "manage.py dbcheck": (["manage.py", "dbcheck", "--database", "default"], 1.0),
    "migrate (no-op)": (["manage.py", "migrate", "--database", "default"], 1.0),
    "showmigrations": (["manage.py", "showmigrations", "--database", "default"], 1.0),
}


Completed = subprocess.CompletedProcess[str]


def run_once(arguments: list[str], env: dict[str, str]) -> tuple[float, Completed]:
    started = time.perf_counter()
    process = subprocess.run(
        [sys.executable, *arguments], cwd=ROOT, env=env, capture_output=True, text=True
    )
    return time.perf_counter() - started, process


def usable(name: str, process: Completed) -> bool:
    """Whether a command ran healthily; a failing command is reported, not timed."""
    if process.returncode == 0:
        return True
    output = (process.stdout + process.stderr).strip().splitlines()
    print(f"SKIPPED {name}: exit code {process.returncode}: {' | '.join(output[-3:])}")
    if "dbcheck" in name and "nknown command" in process.stdout + process.stderr:
        print("  (the dbcheck command does not exist yet; see issue 5)")
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per command")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    args = parser.parse_args()
    env = {**os.environ, "DATABASE_URL": args.database_url}

    commands: dict[str, tuple[list[str], float | None]] = {}
    for name, (arguments, target) in COMMANDS.items():
        _, process = run_once(arguments, env)  # warm-up; also checks the command works
        if usable(name, process):
            commands[name] = (arguments, target)
    if BASELINE not in commands:
        raise SystemExit("python -c 'import litestar' failed; nothing to compare against")

    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, (arguments, _target) in commands.items():
            elapsed, _process = run_once(arguments, env)
            times[name].append(elapsed)

    baseline = statistics.median(times[BASELINE])
    print(f"\n{args.runs} runs each, fresh processes, {sys.executable}")
    print(f"{'command':<20}{'median ms':>10}{'min ms':>9}{'max ms':>9}{'ratio':>8}  target")
    all_met = True
    for name, (_arguments, target) in commands.items():
        median = statistics.median(times[name])
        ratio = median / baseline
        verdict = ""
        if target is not None:
            met = ratio <= target
            all_met &= met
            verdict = f"<= {target}x: {'met' if met else 'MISSED'}"
        print(
            f"{name:<20}{median * 1000:>10.0f}{min(times[name]) * 1000:>9.0f}"
            f"{max(times[name]) * 1000:>9.0f}{ratio:>7.2f}x  {verdict}"
        )
    missing = len(commands) != len(COMMANDS)
    sys.exit(0 if all_met and not missing else 1)


if __name__ == "__main__":
    main()
