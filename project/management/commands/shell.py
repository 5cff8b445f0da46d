"""``manage.py shell``: a console, or a script, with the app started and the databases at hand."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import click

INTERFACES = ("ipython", "python")


class Workspace:
    """The shell's namespace, with the app's lifespan held open while it is in use."""

    def __init__(self, bare: bool) -> None:
        self.bare = bare
        self.namespace: dict[str, Any] = {"__name__": "__main__", "asyncio": asyncio}
        self.banner = "Bare namespace (--no-imports): the app is not built."
        self._closers: list[Callable[[], Awaitable[None] | None]] = []

    async def start(self) -> dict[str, Any]:
        if self.bare:
            return self.namespace
        from project.conf import settings
        from project.management.console import LifespanRunner, short_traceback

        try:
            from project.app import create_app

            app = create_app()
            runner = LifespanRunner(app)
            await runner.start()
        except Exception as exc:
            from project.startup_errors import explaining

            ours = explaining(exc)  # also inside the exception group of a failed lifespan
            if ours is not None:
                raise ours from None
            raise click.ClickException(
                f"The app failed to start:\n{short_traceback(exc, '')}".rstrip()
            ) from exc
        self._closers.append(runner.stop)
        db = self._registry(app)
        self.namespace.update(_models(settings.MODEL_MODULES))
        self.namespace.update(self._core(settings, app, db))
        self.banner = _banner(self.namespace, db)
        return self.namespace

    def _registry(self, app: Any) -> Any:
        """The registry of the app's DatabasePlugin (its lifespan closes it), else ours to close."""
        from plugins.database import DatabasePlugin
        from project.database import databases

        try:
            return app.plugins.get(DatabasePlugin).registry
        except KeyError:
            registry = databases.current()
            self._closers.append(registry.close_all)
            return registry

    def _core(self, settings: Any, app: Any, db: Any) -> dict[str, Any]:
        from sqlalchemy import select, text

        from project.database.engines import SQLITE_BEGIN

        # Long-lived sessions: on SQLite they must not hold the write lock from their
        # first read, or the other session waits for it (PostgreSQL ignores this).
        manager = db["default"]
        deferred = {SQLITE_BEGIN: "DEFERRED"}
        session = manager.sync_sessionmaker(bind=manager.sync_engine.execution_options(**deferred))
        asession = manager.async_sessionmaker(
            bind=manager.async_engine.execution_options(**deferred)
        )
        self._closers += [asession.close, session.close]
        return {
            "settings": settings,
            "app": app,
            "db": db,
            "session": session,
            "asession": asession,
            "select": select,
            "text": text,
        }

    async def stop(self) -> None:
        """Close the sessions, then end the app's lifespan (which disposes the engines)."""
        while self._closers:
            closed = self._closers.pop()()
            if inspect.isawaitable(closed):
                await closed


def _models(modules: list[str]) -> dict[str, type]:
    from project.management.models import model_classes

    found: dict[str, type] = {}
    for dotted in modules:
        try:
            found.update(model_classes([dotted]))
        except Exception as exc:
            click.echo(f"Warning: MODEL_MODULES entry {dotted!r} failed to import: {exc}", err=True)
    return found


def _banner(namespace: dict[str, Any], db: Any) -> str:
    from project.conf import settings

    models = sorted(name for name, value in namespace.items() if isinstance(value, type))
    lines = [
        f"Settings {settings.loaded.module!r}. Top-level await works.",
        "  settings, app, db    the settings, the Litestar app, the databases: db['default']",
        "  session, asession    Session, AsyncSession on 'default': commit to keep changes",
        "  select, text         from sqlalchemy; asyncio too",
        f"  models               {', '.join(models) or '(none: list them in MODEL_MODULES)'}",
        "Databases:",
    ]
    lines += [f"  {alias:<20} {db[alias].redacted_url}" for alias in db]
    return "\n".join(lines)


async def _run_script(source: str, filename: str, bare: bool) -> int:
    from project.management.console import ScriptError, run_script

    workspace = Workspace(bare)
    try:
        namespace = await workspace.start()
        await run_script(source, namespace, filename)
    except ScriptError as exc:
        click.echo(exc.report, err=True, nl=False)
        return 1
    finally:
        await workspace.stop()
    return 0


def _interact(interface: str, bare: bool) -> None:
    from project.management import console

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    workspace = Workspace(bare)
    try:
        namespace = loop.run_until_complete(workspace.start())
        interact = console.interact_ipython if interface == "ipython" else console.interact_python
        interact(namespace, workspace.banner, loop)
    finally:
        loop.run_until_complete(workspace.stop())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def _interface(requested: str | None) -> str:
    has_ipython = importlib.util.find_spec("IPython") is not None
    if requested == "ipython" and not has_ipython:
        raise click.UsageError("IPython is not installed: pip install ipython, or use -i python.")
    return requested or ("ipython" if has_ipython else "python")


@click.command()
@click.option(
    "-i",
    "--interface",
    type=click.Choice(INTERFACES),
    help="Console to open (default: IPython when installed, else python).",
)
@click.option("-c", "--command", "source", metavar="CODE", help="Run CODE and exit.")
@click.option("--no-imports", is_flag=True, help="Empty namespace; the app is not built.")
def command(interface: str | None, source: str | None, no_imports: bool) -> None:
    """Open a console with the app started.

    Top-level await works, with IPython or the standard console. Code given
    with -c or piped on standard input runs the same way and exits; an
    exception in it exits 1 with a short traceback.
    """
    filename = "<shell -c>"
    if source is None and not sys.stdin.isatty():
        source, filename = sys.stdin.read(), "<stdin>"
    if source is None:
        _interact(_interface(interface), no_imports)
        return
    try:
        code = asyncio.run(_run_script(source, filename, no_imports))
    except KeyboardInterrupt:
        code = 130
    raise SystemExit(code)
