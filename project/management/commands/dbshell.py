"""``manage.py dbshell``: the database's own client, connected.

The password travels in the client's environment (PGPASSWORD), never on its
command line, where every user of the machine could read it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from project.schema import DatabaseSettings

_INSTALL_HINT = {
    "psql": "Debian/Ubuntu: apt install postgresql-client; macOS: brew install libpq",
    "sqlite3": "Debian/Ubuntu: apt install sqlite3; macOS: it ships with the system",
}


def client_command(config: DatabaseSettings) -> tuple[list[str], dict[str, str]]:
    """The client's argv and the extra environment it needs; no password in argv."""
    from sqlalchemy.engine import URL, make_url

    target = make_url(config.url.sync_url)
    if config.url.family == "sqlite":
        if target.database in (None, "", ":memory:"):
            raise click.ClickException(
                "This is an in-memory SQLite database: it lives inside the running process "
                "and no client can open it. Use manage.py shell instead."
            )
        return ["sqlite3", str(target.database)], {}
    env = {"PGCONNECT_TIMEOUT": str(max(1, round(config.CONNECT_TIMEOUT)))}
    if target.password:
        env["PGPASSWORD"] = str(target.password)
    conninfo = URL.create(
        "postgresql", target.username, None, target.host, target.port, target.database, target.query
    )
    return ["psql", f"--dbname={conninfo.render_as_string(hide_password=False)}"], env


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--database", "alias", default="default", show_default=True, metavar="ALIAS")
@click.argument("client_args", nargs=-1, type=click.UNPROCESSED)
def command(alias: str, client_args: tuple[str, ...]) -> None:
    """Open psql or sqlite3 on a database.

    Arguments after -- go to the client: dbshell -- -c "select 1".
    """
    from project.database import databases

    config = databases[alias].config
    assert config is not None
    argv, extra_env = client_command(config)
    executable = shutil.which(argv[0])
    if executable is None:
        raise click.ClickException(
            f"dbshell needs the {argv[0]!r} client, which is not on PATH. "
            f"Install it ({_INSTALL_HINT[argv[0]]}) or add its folder to PATH."
        )
    # Ctrl-C belongs to the client (it cancels a query there), not to us.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        finished = subprocess.run(
            [executable, *argv[1:], *client_args],
            env={**os.environ, **extra_env},
            preexec_fn=_default_sigint,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    raise SystemExit(finished.returncode)
