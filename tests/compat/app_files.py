"""A FileObject app: each document's content goes to object storage when its row commits."""

from __future__ import annotations

from typing import Any

import msgspec
from advanced_alchemy.types import FileObject
from litestar import Controller, delete, post, put
from litestar.exceptions import ClientException
from sqlalchemy.ext.asyncio import AsyncSession

from tests.compat.models import FILES, Doc


class DocIn(msgspec.Struct):
    name: str
    content: str


def _file(data: DocIn, version: int) -> FileObject:
    return FileObject(
        backend=FILES, filename=f"{data.name}-v{version}.txt", content=data.content.encode()
    )


def out(doc: Doc) -> dict[str, Any]:
    return {"id": doc.id, "name": doc.name, "path": doc.file.path if doc.file else None}


class DocController(Controller):
    path = "/docs"

    @post()
    async def upload(self, db_session: AsyncSession, data: DocIn) -> dict[str, Any]:
        doc = Doc(name=data.name, file=_file(data, 1))
        db_session.add(doc)
        await db_session.flush()
        return out(doc)

    @put("/{doc_id:int}")
    async def replace(self, db_session: AsyncSession, doc_id: int, data: DocIn) -> dict[str, Any]:
        doc = await db_session.get_one(Doc, doc_id)
        doc.file = _file(data, 2)  # the old file is deleted once this commits
        await db_session.flush()
        return out(doc)

    @delete("/{doc_id:int}")
    async def remove(self, db_session: AsyncSession, doc_id: int) -> None:
        await db_session.delete(await db_session.get_one(Doc, doc_id))
        await db_session.flush()

    @post("/rejected")
    async def rejected(self, db_session: AsyncSession, data: DocIn) -> None:
        db_session.add(Doc(name=data.name, file=_file(data, 1)))
        await db_session.flush()
        raise ClientException("rejected after the flush: nothing may be stored")


SCRIPT = [
    ("POST", "/docs", {"name": "report", "content": "first draft"}),
    ("POST", "/docs", {"name": "notes", "content": "to be deleted"}),
    ("PUT", "/docs/1", {"name": "report", "content": "final"}),
    ("DELETE", "/docs/2", None),
    ("POST", "/docs/rejected", {"name": "spam", "content": "never stored"}),
]
