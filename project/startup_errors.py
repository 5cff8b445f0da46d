"""A settings or startup error prints as its one paragraph, however the app is served.

Our errors explain themselves; the traceback around them is noise. Two ways
bring one to the terminal, and each is shortened here for our types only
(chosen with ``isinstance``, never by reading class names out of text):

- The app fails to import or build (``uvicorn app:app`` with
  ``Litestar(plugins=[DatabasePlugin()])`` at module level, ``uvicorn --factory
  project.app:create_app``): the exception escapes the server and Python prints
  it through ``sys.excepthook``, which ``install()`` chains.
- The app's lifespan fails to start: Litestar hands the server the formatted
  traceback and uvicorn logs it on ``uvicorn.error``. ``startup_lifespan``,
  entered before every other lifespan, sees the failure first and has a log
  filter replace that one record with the paragraph.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

from project.errors import SettingsError
from project.redact import redact_text

# Exception types whose message is the whole story.
ONE_PARAGRAPH: tuple[type[BaseException], ...] = (SettingsError,)
SERVER_LOGGERS = ("uvicorn.error",)


def explaining(exc: BaseException) -> BaseException | None:
    """Our error, whether it is ``exc``, inside an exception group around it, or its cause."""
    pending, seen = [exc], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ONE_PARAGRAPH):
            return current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        if current.__cause__ is not None:
            pending.append(current.__cause__)
    return None


def paragraph(exc: BaseException) -> str:
    """The text shown for one of our errors: a label, then its message, secrets masked."""
    label = "Settings error" if isinstance(exc, SettingsError) else "Startup error"
    return f"{label}: {redact_text(str(exc))}"


# --- an app that fails to import or build -------------------------------------

_previous_hook = sys.excepthook


def _excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    ours = explaining(exc)
    if ours is None:
        _previous_hook(kind, exc, tb)
    else:
        sys.stderr.write(paragraph(ours) + "\n")


def install() -> None:
    """Print our uncaught errors as their paragraph; every other error as before."""
    global _previous_hook
    if sys.excepthook is not _excepthook:
        _previous_hook, sys.excepthook = sys.excepthook, _excepthook


# --- a lifespan that fails to start --------------------------------------------


class _ShortStartupFailure(logging.Filter):
    """Replaces the server's report of one of our failed startups with its paragraph."""

    LIMIT = 8  # failures noted but never reported (no server) are dropped oldest first

    def __init__(self) -> None:
        super().__init__()
        self.failures: list[BaseException] = []

    def note(self, exc: BaseException) -> None:
        self.failures = [*self.failures[1 - self.LIMIT :], exc]

    def filter(self, record: logging.LogRecord) -> bool:
        for exc in self.failures:
            if _reports(record, exc):
                self.failures.remove(exc)
                record.msg, record.args = paragraph(exc), ()
                record.exc_info, record.exc_text = None, None
                break
        return True


def _reports(record: logging.LogRecord, exc: BaseException) -> bool:
    """Whether ``record`` is a traceback of ``exc``: as ``exc_info``, or as formatted text."""
    if record.exc_info and record.exc_info[1] is not None:
        return explaining(record.exc_info[1]) is exc
    text = record.getMessage()
    first_line = str(exc).partition("\n")[0]
    return bool(first_line) and "Traceback (most recent call last)" in text and first_line in text


_filter = _ShortStartupFailure()


@asynccontextmanager
async def startup_lifespan(app: Any) -> AsyncIterator[None]:
    """A lifespan to enter before all others: it sees each later one fail, and notes ours."""
    try:
        yield
    except BaseException as exc:
        ours = explaining(exc)
        if ours is not None:
            _filter.note(ours)
            for name in SERVER_LOGGERS:
                logger = logging.getLogger(name)
                if _filter not in logger.filters:
                    logger.addFilter(_filter)
        raise
