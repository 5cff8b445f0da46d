"""Handlers on the plugin's request session: list, create, and a sync-driver count."""

from typing import Any

from litestar import Router, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from shop.models import Product


@get("/products")
async def list_products(db_session: NamedDependency[AsyncSession]) -> list[dict[str, Any]]:
    products = await db_session.scalars(select(Product).order_by(Product.id))
    return [{"id": p.id, "name": p.name, "stock": p.stock} for p in products]


@post("/products")
async def create_product(
    db_session: NamedDependency[AsyncSession], data: JSONBody[dict[str, Any]]
) -> dict[str, Any]:
    product = Product(name=data["name"], stock=data.get("stock", 0))
    db_session.add(product)
    await db_session.flush()
    return {"id": product.id, "name": product.name, "stock": product.stock}


@get("/products/count", sync_to_thread=True)
def count_products(db_sync_session: NamedDependency[Session]) -> int:
    return db_sync_session.scalar(select(func.count()).select_from(Product)) or 0


router = Router(path="/", route_handlers=[list_products, create_product, count_products])
