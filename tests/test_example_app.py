"""The example app through project.testing's fixtures: the proof they serve our own app too.

The ``client`` runs ``create_app()`` of settings.test on the test's event loop,
against the test database (built with ``create_all`` of the example model).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from project.example.models import Item

Counter = Callable[[int], AbstractContextManager[list[str]]]


async def test_example_crud_end_to_end(client: httpx.AsyncClient) -> None:
    created = await client.post("/items", json={"name": "bolt", "quantity": 3})
    assert created.status_code == 201
    item_id = created.json()["id"]
    assert (await client.get(f"/items/{item_id}")).json() == {
        "id": item_id,
        "name": "bolt",
        "quantity": 3,
    }
    duplicate = await client.post("/items", json={"name": "bolt"})
    assert duplicate.status_code == 409
    assert (await client.patch(f"/items/{item_id}", json={"quantity": 5})).json()["quantity"] == 5
    assert [item["name"] for item in (await client.get("/items")).json()] == ["bolt"]
    assert (await client.delete(f"/items/{item_id}")).status_code == 204
    assert (await client.get(f"/items/{item_id}")).status_code == 404
    assert (await client.get("/items")).json() == []


async def test_what_a_handler_commits_the_test_sees_and_the_next_test_does_not(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    await client.post("/items", json={"name": "nut", "quantity": 1})
    assert (await db_session.scalars(select(Item.name))).all() == ["nut"]
    db_session.add(Item(name="washer"))
    await db_session.commit()
    assert len((await client.get("/items")).json()) == 2


async def test_the_rows_of_the_previous_test_are_gone(db_session: AsyncSession) -> None:
    assert await db_session.scalar(select(func.count()).select_from(Item)) == 0


async def test_listing_items_is_one_query(
    client: httpx.AsyncClient, assert_num_queries: Counter
) -> None:
    await client.post("/items", json={"name": "bolt"})
    with assert_num_queries(1):
        assert len((await client.get("/items")).json()) == 1
