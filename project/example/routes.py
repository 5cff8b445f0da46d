"""CRUD handlers for ``Item``, through advanced-alchemy's repository on our session."""

from __future__ import annotations

from advanced_alchemy.exceptions import NotFoundError
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from litestar import Controller, Router, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from project.example.models import Item
from project.example.schemas import ItemIn, ItemOut, ItemPatch


class ItemRepository(SQLAlchemyAsyncRepository[Item]):
    model_type = Item


def _out(item: Item) -> ItemOut:
    return ItemOut(id=item.id, name=item.name, quantity=item.quantity)


async def _get(repository: ItemRepository, item_id: FromPath[int]) -> Item:
    try:
        return await repository.get(item_id)
    except NotFoundError:
        raise NotFoundException(f"No item with id {item_id}.") from None


class ItemController(Controller):
    path = "/items"

    @get("/")
    async def list_items(self, db_session: NamedDependency[AsyncSession]) -> list[ItemOut]:
        items = await ItemRepository(session=db_session).get_many(order_by=Item.id.asc())
        return [_out(item) for item in items]

    @get("/{item_id:int}")
    async def get_item(
        self, db_session: NamedDependency[AsyncSession], item_id: FromPath[int]
    ) -> ItemOut:
        return _out(await _get(ItemRepository(session=db_session), item_id))

    @post("/")
    async def create_item(
        self, db_session: NamedDependency[AsyncSession], data: JSONBody[ItemIn]
    ) -> ItemOut:
        item = await ItemRepository(session=db_session).add(
            Item(name=data.name, quantity=data.quantity)
        )
        return _out(item)

    @patch("/{item_id:int}")
    async def update_item(
        self,
        db_session: NamedDependency[AsyncSession],
        item_id: FromPath[int],
        data: JSONBody[ItemPatch],
    ) -> ItemOut:
        repository = ItemRepository(session=db_session)
        item = await _get(repository, item_id)
        if data.name is not None:
            item.name = data.name
        if data.quantity is not None:
            item.quantity = data.quantity
        return _out(await repository.update(item))

    @delete("/{item_id:int}")
    async def delete_item(
        self, db_session: NamedDependency[AsyncSession], item_id: FromPath[int]
    ) -> None:
        repository = ItemRepository(session=db_session)
        await _get(repository, item_id)
        await repository.delete(item_id)


router = Router(path="/", route_handlers=[ItemController])
