"""Serve the app for production: uvicorn workers, proxy headers, graceful shutdown.

Each worker is a fresh process (uvicorn spawns them) that builds the app and
opens its own connection pools when it starts; on SIGTERM or SIGINT a worker
stops accepting, lets requests in flight finish (up to --graceful-timeout
seconds), then disposes its pools. There is no reload: use runserver for that.
"""

from __future__ import annotations

import click

from project.management.commands.runserver import APP_FACTORY


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    type=click.IntRange(1),
    default=None,
    help="Worker processes (default: the WORKERS setting).",
)
@click.option(
    "--forwarded-allow-ips",
    default=None,
    metavar="IPS",
    help="Proxies whose X-Forwarded-* headers are trusted (comma-separated, '*' for any; "
    "default: $FORWARDED_ALLOW_IPS or 127.0.0.1).",
)
@click.option(
    "--graceful-timeout",
    default=30,
    show_default=True,
    type=click.IntRange(0),
    help="Seconds a stopping worker waits for requests in flight.",
)
def command(
    host: str,
    port: int,
    workers: int | None,
    forwarded_allow_ips: str | None,
    graceful_timeout: int,
) -> None:
    """Serve the app in production (uvicorn workers)."""
    import uvicorn

    from project.conf import settings

    # A settings problem is one paragraph here, before any worker starts; a failed
    # startup in a worker prints one paragraph too, see project.startup_errors.
    module = settings.loaded.module
    count = workers or settings.WORKERS
    click.echo(
        f"Serving {APP_FACTORY} with settings {module!r} on http://{host}:{port} "
        f"({count} worker{'s' * (count != 1)})"
    )
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=count,
        reload=False,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        timeout_graceful_shutdown=graceful_timeout,
    )
