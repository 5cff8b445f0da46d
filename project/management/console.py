"""The machinery behind ``manage.py shell``: code with top-level ``await``, on one loop.

Everything runs on a single asyncio loop: the app's lifespan (so its engines
are bound to that loop), scripts, and each line typed into the console. The
standard console works like ``python -m asyncio``: the loop runs in the main
thread, the prompt in a second one. IPython runs each cell on the same loop
through its ``loop_runner`` hook.
"""

from __future__ import annotations

import ast
import asyncio
import code
import concurrent.futures
import inspect
import linecache
import sys
import threading
import traceback
import types
from typing import Any

from project.redact import redact_text

TOP_LEVEL_AWAIT = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


class ScriptError(Exception):
    """A script given to the shell raised; ``report`` is its short, redacted traceback."""

    def __init__(self, report: str) -> None:
        super().__init__(report)
        self.report = report


async def run_script(source: str, namespace: dict[str, Any], filename: str) -> None:
    """Run ``source`` like a module body in which ``await`` is allowed at top level."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    try:
        compiled = compile(source, filename, "exec", flags=TOP_LEVEL_AWAIT, dont_inherit=True)
        result = eval(compiled, namespace)
        if inspect.iscoroutine(result):
            await result
    except (SystemExit, KeyboardInterrupt, asyncio.CancelledError):
        raise
    except BaseException as exc:
        raise ScriptError(short_traceback(exc, filename)) from exc


def short_traceback(exc: BaseException, filename: str) -> str:
    """The traceback from the script's first frame on; the shell's own frames are noise."""
    report = traceback.TracebackException.from_exception(exc)
    frames = list(report.stack)
    first = next((i for i, frame in enumerate(frames) if frame.filename == filename), 0)
    report.stack = traceback.StackSummary.from_list(frames[first:])
    return redact_text("".join(report.format()))


class LifespanRunner:
    """Holds an app's lifespan open in one task until ``stop()``.

    Litestar's lifespan enters anyio task groups, which must be left from the
    task that entered them; one long-lived task does both.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._hold(started))
        await started

    async def _hold(self, started: asyncio.Future[None]) -> None:
        try:
            async with self.app.lifespan():
                started.set_result(None)
                await self._stop.wait()
        except BaseException as exc:
            if started.done():
                raise
            started.set_exception(exc)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


class AsyncConsole(code.InteractiveConsole):
    """The standard console, each entry run on ``loop`` with top-level ``await`` allowed."""

    def __init__(self, namespace: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(namespace, filename="<console>")
        self.compile.compiler.flags |= TOP_LEVEL_AWAIT
        self.namespace = namespace
        self.loop = loop
        self.running: asyncio.Task[Any] | None = None
        self.interrupted = False

    def runcode(self, code: types.CodeType) -> None:
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self.loop.call_soon_threadsafe(self._start, code, done)
        try:
            done.result()
        except SystemExit:
            raise
        except BaseException:
            if self.interrupted:
                self.write("\nKeyboardInterrupt\n")
            else:
                self.showtraceback()

    def _start(self, code: types.CodeType, done: concurrent.futures.Future[None]) -> None:
        self.interrupted = False
        try:
            result = types.FunctionType(code, self.namespace)()
        except BaseException as exc:
            done.set_exception(exc)
            return
        if not inspect.iscoroutine(result):
            done.set_result(None)
            return
        self.running = self.loop.create_task(result)
        self.running.add_done_callback(lambda task: _copy_outcome(task, done))

    def interrupt(self) -> None:
        """Ctrl-C in the main thread: cancel what the console is awaiting."""
        if self.running is not None and not self.running.done():
            self.interrupted = True
            self.running.cancel()

    def showtraceback(self) -> None:
        value = sys.exc_info()[1]
        if value is not None:
            self.write(short_traceback(value, self.filename))


def _copy_outcome(task: asyncio.Task[Any], done: concurrent.futures.Future[None]) -> None:
    if task.cancelled():
        done.set_exception(KeyboardInterrupt())
    elif (exc := task.exception()) is not None:
        done.set_exception(exc)
    else:
        done.set_result(None)


def interact_python(
    namespace: dict[str, Any],
    banner: str,
    loop: asyncio.AbstractEventLoop,
) -> None:
    """The standard console in a thread while ``loop`` runs here, as ``python -m asyncio``."""
    import contextlib

    with contextlib.suppress(ImportError):
        import readline  # noqa: F401 - line editing and history for input()

    console = AsyncConsole(namespace, loop)

    def prompt() -> None:
        try:
            console.interact(banner=banner, exitmsg="")
        finally:
            loop.call_soon_threadsafe(loop.stop)

    threading.Thread(target=prompt, name="shell-prompt", daemon=True).start()
    while True:
        try:
            loop.run_forever()
        except KeyboardInterrupt:
            console.interrupt()
            continue
        break


def interact_ipython(
    namespace: dict[str, Any],
    banner: str,
    loop: asyncio.AbstractEventLoop,
) -> None:
    """IPython with autoawait, each cell run to completion on ``loop``."""
    from IPython.terminal.ipapp import TerminalIPythonApp
    from traitlets.config import Config

    config = Config()
    config.TerminalInteractiveShell.banner2 = banner + "\n"
    config.InteractiveShell.autoawait = True
    ipython = TerminalIPythonApp.instance(config=config, user_ns=namespace)
    ipython.initialize(argv=[])  # type: ignore[no-untyped-call]
    # Set on the instance: config values are deep-copied, and a loop cannot be.
    assert ipython.shell is not None
    ipython.shell.loop_runner = loop.run_until_complete
    ipython.start()  # type: ignore[no-untyped-call]
