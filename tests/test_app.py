"""create_app() from the settings: the example resource and the health endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from plugins.database import DatabasePlugin
from project.app import create_app
from project.conf import override_settings, settings
from project.errors import SettingsError
from project.example.models import Item


@pytest.fixture
def app(database_url: str) -> Iterator[Litestar]:
    """The app of settings.test on this test's database, with the example table in place."""
    with override_settings(DATABASES={"default": {"URL": database_url}}):
        app = create_app()
        with app.plugins.get(DatabasePlugin).registry["default"].sync_connect() as connection:
            Item.metadata.drop_all(connection, tables=[Item.__table__])
            Item.metadata.create_all(connection, tables=[Item.__table__])
        yield app


# The example's CRUD runs through project.testing's client in tests/test_example_app.py.


def test_health_endpoints(app: Litestar) -> None:
    with TestClient(app) as client:
        assert client.get("/health").json() == {"status": "ok"}
        report = client.get("/health/db")
        assert report.status_code == 200
        [result] = report.json()["databases"]
        assert result["ok"] is True
        assert result["server_version"]


def test_health_db_is_503_with_a_redacted_body_when_a_database_is_down(database_url: str) -> None:
    broken = "postgresql://app:hunter2secret@127.0.0.1:1/nothing"
    databases: dict[str, Any] = {"default": {"URL": database_url}, "broken": {"URL": broken}}
    with override_settings(DATABASES=databases, DATABASE_STARTUP_CHECK="off"):
        app = create_app()
        with TestClient(app) as client:
            response = client.get("/health/db")
    assert response.status_code == 503
    assert "hunter2secret" not in response.text
    by_alias = {result["alias"]: result for result in response.json()["databases"]}
    assert by_alias["default"]["ok"] is True
    assert by_alias["broken"]["ok"] is False
    assert "connection refused" in by_alias["broken"]["error"]


def test_settings_name_plugins_and_route_handlers() -> None:
    assert settings.PLUGINS == ["plugins.database.DatabasePlugin"]
    with override_settings(PLUGINS=[], ROUTE_HANDLERS=[]):
        app = create_app()
    with pytest.raises(KeyError):
        app.plugins.get(DatabasePlugin)
    paths = {route.path for route in app.routes if not route.path.startswith("/schema")}
    assert paths == {"/health", "/health/db"}


def test_a_bad_dotted_path_names_the_setting() -> None:
    bad = "project.example.nothing_here.router"
    with override_settings(ROUTE_HANDLERS=[bad]), pytest.raises(SettingsError) as caught:
        create_app()
    assert f"ROUTE_HANDLERS names {bad!r}" in str(caught.value)
