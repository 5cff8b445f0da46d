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

import pytest

from project.errors import DatabaseStartupError, ProjectError, SettingsError
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


def test_an_unreachable_database_is_not_a_settings_error() -> None:
    assert issubclass(DatabaseStartupError, ProjectError)
    assert not issubclass(DatabaseStartupError, SettingsError)
    assert issubclass(SettingsError, ProjectError)
