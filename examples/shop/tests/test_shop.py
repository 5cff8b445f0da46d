"""Ten tests of the shop, written as a user would, with no conftest of their own."""

import os
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from project.database import databases
from shop.models import Product


async def test_create_through_the_api_is_visible_to_the_test(client, db_session):
    response = await client.post("/products", json={"name": "lamp", "stock": 3})
    assert response.status_code == 201
    assert (await db_session.scalars(select(Product.name))).all() == ["lamp"]


async def test_the_previous_test_was_rolled_back(db_session):
    assert await db_session.scalar(select(func.count()).select_from(Product)) == 0


async def test_rows_the_test_commits_are_seen_by_the_handler(client, db_session):
    db_session.add(Product(name="chair", stock=1))
    await db_session.commit()  # a SAVEPOINT: still rolled back after the test
    assert [p["name"] for p in (await client.get("/products")).json()] == ["chair"]


async def test_a_failed_commit_rolls_back_only_the_savepoint(client, db_session):
    await client.post("/products", json={"name": "desk"})
    duplicate = await client.post("/products", json={"name": "desk"})
    assert duplicate.status_code == 409
    assert (await client.get("/products")).json()[0]["name"] == "desk"


def test_the_sync_session_rolls_back_too(db_sync_session):
    db_sync_session.add(Product(name="sofa"))
    db_sync_session.commit()
    assert db_sync_session.scalar(select(func.count()).select_from(Product)) == 1


async def test_query_count_of_a_list(client, assert_num_queries):
    with assert_num_queries(1):
        assert (await client.get("/products")).json() == []


@pytest.mark.db
def test_marked_tests_use_the_test_database():
    # Runs after a client test: the app's shutdown closed the registry, reopened since.
    with databases["default"].sync_engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
        name = Path(connection.engine.url.database or "").name
    configured = os.environ["SHOP_DATABASE_URL"].rpartition("/")[2]
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # each xdist worker has its own clone
    if configured:  # (sqlite:// in memory becomes a temporary file)
        assert name == f"test_{configured}" + (f"_{worker}" if worker else "")


async def test_transactional_db_commits_for_real_and_both_drivers_agree(client, transactional_db):
    await client.post("/products", json={"name": "shelf"})
    assert (await client.get("/products/count")).json() == 1
    with databases["default"].sync_session() as session:
        assert session.scalar(select(Product.name)) == "shelf"


async def test_transactional_db_truncated_afterwards(db_session):
    assert await db_session.scalar(select(func.count()).select_from(Product)) == 0


def test_settings_fixture(settings):
    settings.DEBUG = True
    assert settings.DEBUG is True
