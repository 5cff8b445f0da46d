"""``manage.py runserver``: serve ``project.app`` with uvicorn."""

from __future__ import annotations

import copy
import logging
from typing import Any

import click

APP_FACTORY = "project.app:create_app"


class OneParagraphStartupErrors(logging.Filter):
    """Show a failed startup's own explanation instead of the traceback around it.

    Litestar hands uvicorn the whole formatted traceback of a failed startup; a
    settings or database problem already explains itself in one paragraph.
    """

    MARKERS = ("DatabaseStartupError: ", "SettingsError: ")

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        for marker in self.MARKERS:
            if marker in text:
                record.msg = text.rsplit(marker, 1)[1].splitlines()[0].strip()
                record.args = ()
                record.exc_info = None
                break
        return True


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--reload", is_flag=True, help="Restart when a Python file changes (development).")
def command(host: str, port: int, reload: bool) -> None:
    """Serve the app (project.app:create_app) with uvicorn."""
    import uvicorn

    from project.conf import settings

    # A settings problem is one paragraph here, not a traceback from inside uvicorn.
    module = settings.loaded.module
    click.echo(f"Serving {APP_FACTORY} with settings {module!r} on http://{host}:{port}")
    uvicorn.run(
        APP_FACTORY, factory=True, host=host, port=port, reload=reload, log_config=_log_config()
    )


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, with the filter on its error log (also in a --reload child)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["one_paragraph"] = {
        "()": f"{__name__}.{OneParagraphStartupErrors.__name__}"
    }
    config["loggers"]["uvicorn.error"]["filters"] = ["one_paragraph"]
    return config
