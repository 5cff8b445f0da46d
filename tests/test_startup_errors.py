"""A settings or startup error prints its one paragraph however the app is served.

Each entry point runs as a subprocess, as a user starts it: uvicorn with a
module that builds ``Litestar(plugins=[DatabasePlugin()])`` at import time,
uvicorn with the ``create_app`` factory, Litestar's own ``litestar run``,
``manage.py runserver`` (also with ``--reload``, whose app runs in a child
process) and ``manage.py shell``.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import traceback
from pathlib import Path

import pytest

from tests.cli import ROOT, SECRET
from tests.postgres import free_port

USER_APP = """
from litestar import Litestar

from plugins.database import DatabasePlugin

app = Litestar(plugins=[DatabasePlugin()])
"""
# The password holds an unencoded '@': a settings error raised while the app is built.
BAD_SETTINGS = {"DATABASE_URL": f"postgresql://app:{SECRET}@x@127.0.0.1/app"}
SETTINGS_PARAGRAPH = "Settings error: DATABASES['default']['URL'] = 'postgresql://app:********@"


def _unreachable() -> dict[str, str]:
    """A database nobody listens on, with the startup check set to fail."""
    url = f"postgresql://app:{SECRET}@127.0.0.1:{free_port()}/app"
    return {"DATABASE_URL": url, "APP_DATABASE_STARTUP_CHECK": "fail"}


STARTUP_PARAGRAPH = "Database unreachable at startup: database 'default' at postgresql+asyncpg://"

ENTRY_POINTS = {
    "uvicorn module:app": ["-m", "uvicorn", "userapp:app"],
    "uvicorn --factory": ["-m", "uvicorn", "--factory", "project.app:create_app"],
    "litestar run": ["-m", "litestar", "--app", "userapp:app", "run"],
    "manage.py runserver": ["manage.py", "runserver"],
    "manage.py runserver --reload": ["manage.py", "runserver", "--reload"],
    "manage.py shell": ["manage.py", "shell", "-c", "print('started')"],
}


def _serve(argv: list[str], tmp_path: Path, **env: str) -> str:
    """Run one entry point to its exit; returns everything it printed."""
    (tmp_path / "userapp.py").write_text(USER_APP)
    environment = {**os.environ, "SETTINGS_MODULE": "settings.test", **env}
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(tmp_path)])
    if "runserver" in argv or "run" in argv or "uvicorn" in argv:
        argv = [*argv, "--port", str(free_port())]
    server = subprocess.Popen(
        [sys.executable, *argv],
        cwd=ROOT,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    watchdog = threading.Timer(60, server.kill)  # a server that never exits fails, not hangs
    watchdog.start()
    try:
        assert server.stdout is not None
        lines = []
        for line in server.stdout:
            lines.append(line)
            if "Application startup failed" in line and "--reload" in argv:
                # The reloader waits for a file change to try again, as it should.
                server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    finally:
        watchdog.cancel()
        server.kill()
    output = "".join(lines)
    assert "--reload" in argv or server.returncode != 0, output
    assert SECRET not in output
    return output


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_a_settings_error_is_one_paragraph(entry: str, tmp_path: Path) -> None:
    output = _serve(ENTRY_POINTS[entry], tmp_path, **BAD_SETTINGS)
    assert SETTINGS_PARAGRAPH in output
    assert "Percent-encode '@' as %40 in the password" in output
    assert "Traceback" not in output


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_a_failed_startup_is_one_paragraph(entry: str, tmp_path: Path) -> None:
    output = _serve(ENTRY_POINTS[entry], tmp_path, **_unreachable())
    assert STARTUP_PARAGRAPH in output
    assert "connection refused" in output
    assert "Traceback" not in output
    assert output.count(STARTUP_PARAGRAPH) == 1


def test_other_errors_keep_their_traceback(tmp_path: Path) -> None:
    """Only our own error types are shortened: a bug in the user's module shows where it is."""
    (tmp_path / "brokenapp.py").write_text(USER_APP + "\nraise RuntimeError('a bug')\n")
    output = _serve(["-m", "uvicorn", "brokenapp:app"], tmp_path)
    assert "Traceback (most recent call last)" in output
    assert "RuntimeError: a bug" in output


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def test_only_the_report_of_our_failed_startup_is_shortened() -> None:
    """The filter is keyed to the exception that failed, not to any traceback text."""
    from litestar import Litestar

    from plugins.database import DatabasePlugin, DatabasePluginConfig
    from project.schema import DatabaseSettings

    url = f"postgresql://app:{SECRET}@127.0.0.1:{free_port()}/app"
    config = DatabasePluginConfig(
        databases={"default": DatabaseSettings(URL=url, CONNECT_TIMEOUT=2)}, startup_check="fail"
    )
    app = Litestar(plugins=[DatabasePlugin(config)])
    with pytest.raises(BaseException) as caught:  # noqa: PT011 - Litestar wraps it in a group
        async with app.lifespan():
            pass
    report = "".join(traceback.format_exception(caught.value))  # what Litestar hands uvicorn
    server_log, kept = logging.getLogger("uvicorn.error"), _Kept()
    server_log.addHandler(kept)
    try:
        server_log.error("Traceback (most recent call last):\nRuntimeError: someone else's")
        server_log.error(report)
        server_log.error(report)  # reported once; a second report is not ours to change
    finally:
        server_log.removeHandler(kept)
    other, ours, again = kept.messages
    assert other.endswith("RuntimeError: someone else's")
    assert ours.startswith("Settings error: Database unreachable at startup")
    assert "Traceback" not in ours
    assert SECRET not in ours
    assert again == report
