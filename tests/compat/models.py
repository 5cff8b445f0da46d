"""The tables the compatibility apps share, on advanced-alchemy's bases as public apps use them."""

from __future__ import annotations

from advanced_alchemy.base import BigIntAuditBase
from advanced_alchemy.types import FileObject, StoredObject
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

FILES = "compat-files"  # the storage backend key; each run registers a fresh local folder


class Todo(BigIntAuditBase):
    """A todo with created_at / updated_at, as advanced-alchemy's examples have."""

    __tablename__ = "compat_todo"

    title: Mapped[str] = mapped_column(String(100), unique=True)
    done: Mapped[bool] = mapped_column(default=False)


class Doc(BigIntAuditBase):
    """A document whose content lives in object storage through a FileObject column."""

    __tablename__ = "compat_doc"

    name: Mapped[str] = mapped_column(String(100))
    file: Mapped[FileObject | None] = mapped_column(StoredObject(backend=FILES), nullable=True)


class Base(DeclarativeBase):
    """A plain declarative base, as Litestar's documentation example declares its own."""


class TodoItem(Base):
    """Litestar's documentation model: the title is the key, and the model is the request body."""

    __tablename__ = "compat_todo_item"

    title: Mapped[str] = mapped_column(String(100), primary_key=True)
    done: Mapped[bool]


TABLES = [Todo.__table__, Doc.__table__, TodoItem.__table__]
