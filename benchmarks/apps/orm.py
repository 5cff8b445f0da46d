"""The ORM model and the handlers used unchanged by both SQLAlchemy-based apps."""

from __future__ import annotations

from litestar import get, post
from litestar.exceptions import NotFoundException
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from benchmarks.apps.common import Item, ItemIn


class Base(DeclarativeBase):
    pass


class BenchItem(Base):
    __tablename__ = "bench_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    quantity: Mapped[int]


@get("/items/{item_id:int}")
async def get_item(item_id: int, db_session: AsyncSession) -> Item:
    row = await db_session.get(BenchItem, item_id)
    if row is None:
        raise NotFoundException(f"item {item_id} not found")
    return Item(id=row.id, name=row.name, quantity=row.quantity)


@post("/items")
async def create_item(data: ItemIn, db_session: AsyncSession) -> Item:
    row = BenchItem(name=data.name, quantity=data.quantity)
    db_session.add(row)
    await db_session.flush()
    return Item(id=row.id, name=row.name, quantity=row.quantity)


route_handlers = [get_item, create_item]
