"""Where the accepted ``OPTIONS`` come from: the drivers' own signatures, read without importing."""

from __future__ import annotations

import json
import subprocess
import sys

import aiosqlite
import asyncpg
import pytest

from project.driver_options import _keywords, keywords_of
from tests.cli import ROOT


@pytest.mark.parametrize(
    ("driver", "filename"), [(asyncpg, "connection.py"), (aiosqlite, "core.py")]
)
def test_the_source_gives_the_same_names_as_the_signature(driver: object, filename: str) -> None:
    """Breaks loudly if a driver moves its ``connect``: then update the file name."""
    from_source = keywords_of(driver.__name__, filename, "connect")  # type: ignore[attr-defined]
    assert from_source == _keywords(driver.connect)  # type: ignore[attr-defined]
    assert "database" in from_source


def test_checking_options_imports_no_driver() -> None:
    """``manage.py --help`` loads the settings; OPTIONS must not make that import a driver."""
    options = {"async": {"command_timeout": 5}, "sync": {"application_name": "x"}}
    code = (
        "import sys\n"
        "from project.loader import load\n"
        "loaded = load('settings.test', {'DATABASE_URL': 'postgresql://app@db/app',"
        f" 'APP_DATABASES__DEFAULT__OPTIONS': {json.dumps(json.dumps(options))}}})\n"
        "assert loaded.problems == [], loaded.problems\n"
        "print(sorted(m for m in ('asyncpg', 'aiosqlite', 'psycopg2') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
