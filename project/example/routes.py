"""CRUD handlers for ``Item``: an advanced-alchemy service on the plugin's session, unchanged."""

from __future__ import annotations

from advanced_alchemy.exceptions import NotFoundError
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from litestar import Controller, Router, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody
from msgspec.structs import asdict
from sqlalchemy.ext.asyncio import AsyncSession

from project.example.models import Item
from project.example.schemas import ItemIn, ItemOut, ItemPatch


class ItemService(SQLAlchemyAsyncRepositoryService[Item]):
    class Repository(SQLAlchemyAsyncRepository[Item]):
        model_type = Item

    repository_type = Repository


async def provide_items(db_session: NamedDependency[AsyncSession]) -> ItemService:
    """The service runs on the request's session: the plugin ends the transaction."""
    return ItemService(session=db_session)


def _out(item: Item) -> ItemOut:
    return ItemOut(id=item.id, name=item.name, quantity=item.quantity)


class ItemController(Controller):
    path = "/items"
    dependencies = {"items": Provide(provide_items)}  # noqa: RUF012 - Litestar's own layout

    @get("/")
    async def list_items(self, items: NamedDependency[ItemService]) -> list[ItemOut]:
        return [_out(item) for item in await items.get_many(order_by=Item.id.asc())]

    @get("/{item_id:int}")
    async def get_item(
        self, items: NamedDependency[ItemService], item_id: FromPath[int]
    ) -> ItemOut:
        return _out(await _existing(items, item_id))

    @post("/")
    async def create_item(
        self, items: NamedDependency[ItemService], data: JSONBody[ItemIn]
    ) -> ItemOut:
        return _out(await items.create(Item(name=data.name, quantity=data.quantity)))

    @patch("/{item_id:int}")
    async def update_item(
        self, items: NamedDependency[ItemService], item_id: FromPath[int], data: JSONBody[ItemPatch]
    ) -> ItemOut:
        await _existing(items, item_id)
        changes = {key: value for key, value in asdict(data).items() if value is not None}
        return _out(await items.update(changes, item_id=item_id))

    @delete("/{item_id:int}")
    async def delete_item(
        self, items: NamedDependency[ItemService], item_id: FromPath[int]
    ) -> None:
        await _existing(items, item_id)
        await items.delete(item_id)


async def _existing(items: ItemService, item_id: int) -> Item:
    try:
        return await items.get(item_id)
    except NotFoundError:
        raise NotFoundException(f"No item with id {item_id}.") from None


router = Router(path="/", route_handlers=[ItemController])
