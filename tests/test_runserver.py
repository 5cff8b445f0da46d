"""``manage.py runserver``: uvicorn serving project.app, stopped with Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from litestar import Litestar

from project.errors import DatabaseStartupError, ProjectError, SettingsError
from project.management.commands.runserver import OneParagraphStartupErrors
from tests.cli import ROOT, SECRET, with_password
from tests.postgres import free_port


def _get(url: str, within: float = 20) -> dict[str, object]:
    deadline = time.monotonic() + within
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return dict(json.load(response))
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.parametrize("reload", [False, True], ids=["plain", "reload"])
def test_serves_the_app_until_ctrl_c(database_url: str, reload: bool) -> None:
    port = free_port()
    env = {**os.environ, "SETTINGS_MODULE": "settings.test"}
    env["DATABASE_URL"] = with_password(database_url)
    argv = [sys.executable, "manage.py", "runserver", "--port", str(port)]
    server = subprocess.Popen(
        argv + ["--reload"] * reload,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        health = _get(f"http://127.0.0.1:{port}/health/db")
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=20)
    assert health["status"] == "ok", health
    assert server.returncode == 0, output
    assert f"on http://127.0.0.1:{port}" in output
    assert "Application shutdown complete" in output
    assert SECRET not in output + json.dumps(health)


def test_an_unreachable_database_stops_startup_with_one_paragraph() -> None:
    """DATABASE_STARTUP_CHECK="fail": the reason, not the traceback around it."""
    url = f"postgresql://someone:{SECRET}@127.0.0.1:{free_port()}/app"
    env = {**os.environ, "SETTINGS_MODULE": "settings.test", "DATABASE_URL": url}
    env["APP_DATABASE_STARTUP_CHECK"] = "fail"
    result = subprocess.run(
        [sys.executable, "manage.py", "runserver", "--port", str(free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Database unreachable at startup: database 'default'" in output
    assert "connection refused" in output
    assert "Traceback" not in output
    assert SECRET not in output


async def _startup_failure(app: Any) -> str:
    """Run an ASGI lifespan startup through ``app`` and return the failure message."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with pytest.raises(BaseException):  # noqa: B017, PT011 - Litestar re-raises what failed
        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    [failed] = [m for m in sent if m["type"] == "lifespan.startup.failed"]
    return str(failed["message"])


@pytest.mark.parametrize("grouped", [False, True], ids=["plain", "in-a-task-group"])
async def test_a_project_error_at_startup_is_found_by_type(grouped: bool) -> None:
    error = DatabaseStartupError(f"Database unreachable at startup: postgresql://a:{SECRET}@db/a")

    @asynccontextmanager
    async def failing(app: Litestar) -> AsyncIterator[None]:
        raise ExceptionGroup("startup", [error]) if grouped else error
        yield

    message = await _startup_failure(OneParagraphStartupErrors(Litestar(lifespan=[failing])))
    assert message.startswith("Database unreachable at startup")
    assert "Traceback" not in message
    assert SECRET not in message


async def test_any_other_startup_error_keeps_its_traceback() -> None:
    @asynccontextmanager
    async def failing(app: Litestar) -> AsyncIterator[None]:
        raise RuntimeError("a bug")
        yield

    message = await _startup_failure(OneParagraphStartupErrors(Litestar(lifespan=[failing])))
    assert "Traceback" in message
    assert "RuntimeError: a bug" in message


def test_an_unreachable_database_is_not_a_settings_error() -> None:
    assert issubclass(DatabaseStartupError, ProjectError)
    assert not issubclass(DatabaseStartupError, SettingsError)
    assert issubclass(SettingsError, ProjectError)
