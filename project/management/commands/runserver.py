"""``manage.py runserver``: serve ``project.app`` with uvicorn."""

from __future__ import annotations

import click

APP_FACTORY = "project.app:create_app"


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
    # A failed startup prints one paragraph too, see project.startup_errors.
    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, reload=reload)
