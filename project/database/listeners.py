"""advanced-alchemy's session listeners on the sessionmakers the managers create.

The same listeners its ``SQLAlchemyAsyncConfig`` / ``SQLAlchemySyncConfig``
attach: ``FileObject`` storage (upload on commit, delete replaced or deleted
files, undo uploads on rollback), the ``updated_at`` touch and its cache
invalidation. Without them a ``FileObject`` row commits and its file is never
stored.

What differs: advanced-alchemy uploads in a task nobody waits for, so the
response can go out before the file exists; here the task is kept on the
session, and ``settle(session)`` (the plugin calls it after the request's
commit, ``manager.session()`` after its own) waits for it. And what they cost
a write is cut: the ``FileObject`` listener runs only for models with such a
column, and their on/off switches are read once per sessionmaker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapper, Session, sessionmaker

__all__ = [
    "file_work_running",
    "make_async_sessionmaker",
    "make_sync_sessionmaker",
    "pending",
    "settle",
]

logger = logging.getLogger("project.database")

_PENDING = "project_file_operations"  # session.info key: file tasks not yet awaited
_TRACKER = "_aa_file_tracker"  # advanced-alchemy's own session.info key for its tracker
_SWITCHES = ("enable_file_object_listener", "enable_cache_listener")  # its info keys
_running: set[asyncio.Task[None]] = set()  # keeps unawaited tasks alive until they finish
_file_models: WeakKeyDictionary[type, bool] = WeakKeyDictionary()  # see _stores_files
_FlushListener = Callable[[Session, Any, Any], None]


# advanced-alchemy's listener module imports Litestar: it is imported when the first
# sessionmaker is made, so commands that only need an engine stay light.


def make_sync_sessionmaker(bind: Any, **options: Any) -> sessionmaker[Session]:
    """A ``sessionmaker`` with advanced-alchemy's listeners, run inline at commit."""
    from advanced_alchemy._listeners import (
        SyncCacheListener,
        SyncFileObjectListener,
        touch_updated_timestamp,
    )

    maker: sessionmaker[Session] = sessionmaker(bind, info=_switches(bind), **options)
    event.listen(maker, "before_flush", _when_files(SyncFileObjectListener.before_flush))
    event.listen(maker, "after_commit", SyncFileObjectListener.after_commit)
    event.listen(maker, "after_rollback", SyncFileObjectListener.after_rollback)
    event.listen(maker, "before_flush", touch_updated_timestamp)
    event.listen(maker, "after_commit", SyncCacheListener.after_commit)
    event.listen(maker, "after_rollback", SyncCacheListener.after_rollback)
    return maker


def make_async_sessionmaker(
    bind: Any, session_class: type[Session] = Session, **options: Any
) -> async_sessionmaker[AsyncSession]:
    """An ``async_sessionmaker`` whose sync sessions (``session_class``) carry the listeners.

    SQLAlchemy fires session events on the sync ``Session`` inside an
    ``AsyncSession``, so (as advanced-alchemy does) the listeners go on a
    sync ``sessionmaker``. Events listened on a sessionmaker live on the
    subclass it made (``inner.class_``); that subclass is the
    ``sync_session_class``, so making a session skips the maker's call.
    """
    from advanced_alchemy._listeners import (
        AsyncCacheListener,
        BaseFileObjectListener,
        touch_updated_timestamp,
    )

    inner: sessionmaker[Session] = sessionmaker(class_=session_class)
    event.listen(inner, "before_flush", _when_files(BaseFileObjectListener.before_flush))
    event.listen(inner, "after_commit", _after_commit)
    event.listen(inner, "after_rollback", _after_rollback)
    event.listen(inner, "before_flush", touch_updated_timestamp)
    event.listen(inner, "after_commit", AsyncCacheListener.after_commit)
    event.listen(inner, "after_rollback", AsyncCacheListener.after_rollback)
    return async_sessionmaker(
        bind, sync_session_class=inner.class_, info=_switches(bind), **options
    )


def _switches(bind: Any) -> dict[str, bool]:
    """advanced-alchemy's on/off switches for its listeners, for every session's ``info``.

    Its listeners look in ``session.info`` first; without the keys there they
    call ``bind.execution_options()``, which makes a new ``OptionEngine``, on
    every flush and commit (most of what the listeners cost a POST). So the
    bind's own options (``enable_file_object_listener=False`` turns file
    storage off) are read here, once; a session may still set its own.
    """
    # An AsyncEngine or AsyncConnection keeps its options on its sync side.
    sync = getattr(bind, "sync_connection", None) or getattr(bind, "sync_engine", None) or bind
    options = sync.get_execution_options() if sync is not None else {}
    return {key: bool(options.get(key, True)) for key in _SWITCHES}


def _when_files(before_flush: _FlushListener) -> _FlushListener:
    """advanced-alchemy's FileObject ``before_flush``, for flushes of models with a FileObject.

    It inspects every column of every new, changed and deleted instance and
    makes a file tracker on each flush; a flush of models without a
    ``FileObject`` column (most of them) skips it.
    """

    def track_files(session: Session, flush_context: Any, instances: Any) -> None:
        changed = (session.new, session.dirty, session.deleted)
        if any(_stores_files(type(instance)) for group in changed for instance in group):
            before_flush(session, flush_context, instances)

    return track_files


def _stores_files(model: type) -> bool:
    """Whether the mapped class has a ``FileObject`` (``StoredObject``) column; cached."""
    known = _file_models.get(model)
    if known is None:
        from advanced_alchemy.types.file_object import StoredObject

        mapper: Mapper[Any] = inspect(model)
        known = any(isinstance(column.type, StoredObject) for column in mapper.columns)
        _file_models[model] = known
    return known


def _after_commit(session: Session) -> None:
    tracker = session.info.pop(_TRACKER, None)
    # A flush of a FileObject model makes a tracker; it may have nothing to store.
    if tracker is not None and _queued(tracker, "pending_saves", "pending_deletes"):
        _start(session, tracker.commit_async(), "store the files of a committed FileObject")


def _after_rollback(session: Session) -> None:
    tracker = session.info.pop(_TRACKER, None)
    if tracker is not None and _queued(tracker, "_saved_in_transaction"):
        what = "remove the files of a rolled-back FileObject"
        _start(session, tracker.rollback_async(), what)


def _queued(tracker: object, *collections: str) -> bool:
    """Whether the tracker holds file work (an attribute it lacks: assume it does)."""
    return any(getattr(tracker, name, True) for name in collections)


def _start(session: Session, work: Coroutine[Any, Any, None], what: str) -> None:
    task = asyncio.get_running_loop().create_task(_logged(work, what))
    _running.add(task)
    task.add_done_callback(_running.discard)
    session.info.setdefault(_PENDING, []).append(task)


async def _logged(work: Coroutine[Any, Any, None], what: str) -> None:
    try:
        await work
    except Exception:
        logger.exception("Could not %s; the database change stands.", what)


def file_work_running() -> bool:
    """Whether any session of the process has file uploads or deletions under way."""
    return bool(_running)


def pending(resource: object) -> bool:
    """Whether a session's last commit or rollback started file work not yet awaited.

    Checks the process-wide set first: on the hot path no file work runs at all.
    """
    return bool(_running) and isinstance(resource, AsyncSession) and _PENDING in resource.info


async def settle(session: AsyncSession | Session) -> None:
    """Wait for the file uploads and deletions the session's last commit or rollback started."""
    tasks: list[asyncio.Task[None]] = session.info.pop(_PENDING, [])
    if tasks:
        await asyncio.shield(asyncio.gather(*tasks))
