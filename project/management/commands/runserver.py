"""``manage.py runserver``: serve ``project.app`` with uvicorn."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

import click

from project.errors import ProjectError
from project.redact import redact_text

APP_FACTORY = f"{__name__}:serve"


def serve() -> Any:
    """``create_app()`` behind ``OneParagraphStartupErrors``: what uvicorn serves."""
    from project.app import create_app

    return OneParagraphStartupErrors(create_app())


class OneParagraphStartupErrors:
    """Report a failed startup by the error's own paragraph, not the traceback around it.

    Litestar hands uvicorn the formatted traceback of a failed startup. When
    the error is a ``ProjectError`` (a settings problem, an unreachable
    database) its message already explains itself, so that message is sent
    instead. Only the lifespan's ``send`` is wrapped: requests pass untouched.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, scope: Any, receive: Any, send: Any) -> Awaitable[None]:
        if scope["type"] == "lifespan":
            return self.app(scope, receive, _explaining(send))  # type: ignore[no-any-return]
        return self.app(scope, receive, send)  # type: ignore[no-any-return]


def _explaining(send: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
    async def send_explained(message: Any) -> None:
        if message["type"] == "lifespan.startup.failed":
            error = _project_error(sys.exc_info()[1])  # sent from inside Litestar's except
            if error is not None:
                message = {**message, "message": redact_text(str(error))}
        await send(message)

    return send_explained


def _project_error(exc: BaseException | None) -> ProjectError | None:
    """``exc`` or the first ``ProjectError`` inside it (task groups wrap what they raise)."""
    if isinstance(exc, ProjectError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _project_error(inner)
            if found is not None:
                return found
    return None


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
    click.echo(f"Serving project.app:create_app with settings {module!r} on http://{host}:{port}")
    uvicorn.run(APP_FACTORY, factory=True, interface="asgi3", host=host, port=port, reload=reload)
