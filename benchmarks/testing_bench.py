"""Test-suite benchmark, issue 11: 200 client tests, rollback fixtures against truncation.

Copies the sample shop (examples/shop) to a temporary folder, adds 200 tests
that each insert a row through ``client`` and read the rows back, and runs
them in fresh pytest processes on PostgreSQL, alternating, best of two runs
each: with the rollback fixtures (the default) and with ``transactional_db``
(real commits, every table truncated after each test). The test database
is built once beforehand and reused (``--reuse-db``), so the runs time the
tests only.

Run from the repository root: ``.venv/bin/python -m benchmarks.testing_bench``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.apps.common import DEFAULT_DATABASE_URL

ROOT = Path(__file__).resolve().parent.parent
TARGET = 3.0
# pytest-asyncio's loop scope: "function" (its default) connects anew for every test;
# "session" lets the rollback fixtures keep their connection from test to test.
LOOPS = ("function", "session")

TESTS = """
import os

import pytest

if os.environ["BENCH_MODE"] == "transactional":
    pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.mark.parametrize("n", range({count}))
async def test_insert_and_read(client, n):
    response = await client.post("/products", json={{"name": f"p{{n}}", "stock": n}})
    assert response.status_code == 201
    assert [p["name"] for p in (await client.get("/products")).json()] == [f"p{{n}}"]
"""


def run(folder: Path, url: str, mode: str, *args: str) -> tuple[float, float]:
    """Wall time of the pytest process and the time pytest reports for its session."""
    env = {
        **os.environ,
        "SETTINGS_MODULE": "shop.settings",
        "SHOP_DATABASE_URL": url,
        "PYTHONPATH": str(folder),
        "BENCH_MODE": mode,
    }
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:warnings", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    found = re.search(r"passed.* in ([\d.]+)s", result.stdout)
    if result.returncode != 0 or not found:
        sys.exit(f"{mode} run failed:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return wall, float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each; the best counts")
    options = parser.parse_args()
    url = options.database_url + "_bench"  # its test database: test_<name>_bench
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "shop"
        shutil.copytree(ROOT / "examples" / "shop", folder)
        (folder / "tests" / "test_bench.py").write_text(TESTS.format(count=options.tests))
        bench = "tests/test_bench.py"
        one = ["-k", "test_insert_and_read[0]"]
        run(folder, url, "rollback", "--reuse-db", "--create-db", bench, *one)
        runs: dict[tuple[str, str], list[tuple[float, float]]] = {
            (mode, loop): [] for loop in LOOPS for mode in ("rollback", "transactional")
        }
        for _ in range(options.rounds):  # interleaved, so a noisy moment hits all alike
            for (mode, loop), results in runs.items():
                scope = [
                    f"-o=asyncio_default_{kind}_loop_scope={loop}" for kind in ("fixture", "test")
                ]
                results.append(run(folder, url, mode, "--reuse-db", *scope, bench))
        best = {key: min(results, key=lambda r: r[1]) for key, results in runs.items()}
        run(folder, url, "rollback", bench, *one)  # without --reuse-db: dropped at the end
    print(
        f"{options.tests} tests, each a POST (insert) and a GET (read) through client, "
        f"PostgreSQL; best of {options.rounds} runs each"
    )
    print(f"{'fixtures':<30}{'event loop':<12}{'pytest s':>9}{'wall s':>8}{'ms/test':>9}")
    names = {"rollback": "rollback (client)", "transactional": "transactional_db (truncate)"}
    for (mode, loop), (wall, session) in best.items():
        per_test = session / options.tests * 1000
        print(f"{names[mode]:<30}{loop:<12}{session:>9.2f}{wall:>8.2f}{per_test:>9.1f}")
    met = True
    for loop in LOOPS:
        ratio = best["transactional", loop][1] / best["rollback", loop][1]
        verdict = "met" if ratio >= TARGET else "MISSED"
        met = met and ratio >= TARGET
        print(f"{loop} loops: rollback is {ratio:.2f}x faster (target >= {TARGET}x: {verdict})")
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
