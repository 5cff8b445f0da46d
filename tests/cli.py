"""Run ``manage.py`` as a user would: a subprocess in the repository root."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.postgres import ThrowawayCluster

ROOT = Path(__file__).resolve().parent.parent
SECRET = "Pw-s3cret-Do-Not-Print"


def manage(
    *args: str,
    database_url: str | None = None,
    input: str | None = None,
    timeout: float = 60,
    **env: str,
) -> subprocess.CompletedProcess[str]:
    """``python manage.py ARGS`` with the test settings, or with ``DATABASE_URL``."""
    environment = {**os.environ, "SETTINGS_MODULE": "settings.test", **env}
    if database_url is not None:
        environment["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def with_password(url: str, password: str = SECRET) -> str:
    """``url`` with a password added; the local server trusts 127.0.0.1, so it still connects."""
    if not url.startswith("postgresql"):
        return url
    scheme, _, rest = url.partition("://")
    user, _, host = rest.partition("@")
    return f"{scheme}://{user.split(':')[0]}:{password}@{host}"


@contextmanager
def password_cluster(role: str, password: str) -> Iterator[int]:
    """A throwaway PostgreSQL cluster that checks passwords, with one role; yields its port.

    The machine's server trusts every client on 127.0.0.1, so a wrong password
    cannot fail there. Skips when ``initdb`` is missing or cannot run.
    """
    if not (shutil.which("initdb") and shutil.which("pg_ctl")):
        pytest.skip("a password-checking server needs initdb and pg_ctl")
    try:
        cluster = ThrowawayCluster(auth="scram-sha-256")
    except (subprocess.CalledProcessError, OSError) as exc:
        pytest.skip(f"could not start a password-checking PostgreSQL cluster: {exc}")
    try:
        cluster.psql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        yield cluster.port
    finally:
        cluster.stop()
