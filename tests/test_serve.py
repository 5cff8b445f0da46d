"""``manage.py serve`` workers, pools per process, and ``check --deploy``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import psycopg2
from sqlalchemy import text

from project.database import DatabaseSessionManager
from project.management.deploy import deploy_report
from project.schema import DatabaseSettings
from tests.cli import ROOT, manage
from tests.postgres import free_port

APP_MODULE = """
import asyncio
import os

from litestar import get
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


@get("/who")
async def who(db_session: AsyncSession) -> dict[str, int]:
    backend = await db_session.scalar(text("SELECT pg_backend_pid()"))
    return {"worker": os.getpid(), "backend": int(backend)}


@get("/slow")
async def slow(db_session: AsyncSession) -> str:
    await db_session.scalar(text("SELECT pg_sleep(1.5)"))
    return "finished"
"""


def _settings(folder: Path, url: str, app_name: str) -> str:
    package = folder / "servetest"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "routes.py").write_text(APP_MODULE)
    (package / "settings.py").write_text(
        textwrap.dedent(
            f"""
            from settings.base import *

            SECRET_KEY = "x" * 40
            ROUTE_HANDLERS = ["servetest.routes.who", "servetest.routes.slow"]
            DATABASES = {{"default": {{
                "URL": {url!r},
                "OPTIONS": {{"async": {{"server_settings": {{"application_name": {app_name!r}}}}}}},
            }}}}
            """
        )
    )
    return "servetest.settings"


def _get(url: str, within: float = 30) -> Any:
    deadline = time.monotonic() + within
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = response.read()
                return json.loads(body) if body.startswith(b"{") else body.decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _backends(url: str, app_name: str) -> int:
    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (app_name,)
            )
            return int(cursor.fetchone()[0])  # type: ignore[index]
    finally:
        connection.close()


def test_workers_own_their_pools_and_finish_requests_on_shutdown(
    postgres_url: str, tmp_path: Path
) -> None:
    app_name = f"serve-{uuid.uuid4().hex[:8]}"
    module = _settings(tmp_path, postgres_url, app_name)
    port = free_port()
    env = {**os.environ, "SETTINGS_MODULE": module, "PYTHONPATH": str(tmp_path)}
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--workers", "2", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        seen: dict[int, set[int]] = {}
        deadline = time.monotonic() + 30
        while len(seen) < 2 and time.monotonic() < deadline:
            answer = _get(f"http://127.0.0.1:{port}/who")
            seen.setdefault(answer["worker"], set()).add(answer["backend"])
        slow: list[Any] = []
        request = threading.Thread(
            target=lambda: slow.append(_get(f"http://127.0.0.1:{port}/slow"))
        )
        request.start()
        time.sleep(0.5)  # the slow request is in flight
        server.send_signal(signal.SIGTERM)
        request.join(timeout=30)
        output, _ = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert len(seen) == 2, f"one worker answered every request: {seen}\n{output}"
    first, second = seen.values()
    assert not first & second, "two workers shared a server connection"
    assert slow == ["finished"], output
    assert server.returncode == 0, output
    assert "(2 workers)" in output
    assert _backends(postgres_url, app_name) == 0, "a worker left connections open"


def test_a_forked_child_never_uses_the_parents_connections(postgres_url: str) -> None:
    manager = DatabaseSessionManager("default", DatabaseSettings(URL=postgres_url))
    query = text("SELECT pg_backend_pid()")
    with manager.sync_connect() as connection:
        parent_backend = connection.execute(query).scalar_one()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            with manager.sync_connect() as connection:
                os.write(write, str(connection.execute(query).scalar_one()).encode())
        finally:
            os._exit(0)
    os.close(write)
    child_backend = int(os.read(read, 32))
    os.waitpid(child, 0)
    os.close(read)
    with manager.sync_connect() as connection:
        assert connection.execute(query).scalar_one() == parent_backend  # still the parent's
    manager.close_sync()
    assert child_backend != parent_backend


def test_deploy_check_warns_about_production_settings(postgres_url: str) -> None:
    values = {
        "DEBUG": True,
        "SECRET_KEY": "",
        "DATABASE_STARTUP_CHECK": "off",
        "WORKERS": 1,
        "DATABASES": {"default": DatabaseSettings(URL=postgres_url)},
    }
    report = deploy_report(values, workers=None)
    assert [warning.split(" ")[0] for warning in report.warnings] == [
        "DEBUG",
        "SECRET_KEY",
        "DATABASE_STARTUP_CHECK",
    ]
    assert (
        "1 worker x 3 pools (sync, async, async AUTOCOMMIT) x 15 connections = 45"
        in (report.notes[0])
    )


def test_deploy_check_compares_the_budget_with_the_servers_max_connections(
    postgres_url: str,
) -> None:
    connection = psycopg2.connect(postgres_url)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('max_connections')::int"
            " - current_setting('superuser_reserved_connections')::int"
        )
        allowed = int(cursor.fetchone()[0])  # type: ignore[index]
    connection.close()
    workers = allowed // 45 + 1  # one worker more than fits
    result = manage("check", "--deploy", "--workers", str(workers), database_url=postgres_url)
    assert result.returncode == 0, result.stderr
    assert f"WARNING: Connection budget exceeded: DATABASES['default']: {workers} workers" in (
        result.stderr
    )
    assert f"= {workers * 45} at most, {allowed} allowed (max_connections" in result.stderr
    assert "Lower WORKERS, POOL_SIZE or MAX_OVERFLOW" in result.stderr
    fits = manage("check", "--deploy", "--workers", "1", database_url=postgres_url)
    assert "Connection budget: DATABASES['default']: 1 worker x 3 pools" in fits.stdout
    assert "exceeded" not in fits.stderr
