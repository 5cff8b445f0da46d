"""Shared fixtures: the test settings, and a real PostgreSQL server when there is one."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.postgres import ThrowawayCluster, find_postgres

_postgres_url: str | None = None
_postgres_reason = ""
_cluster: ThrowawayCluster | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _postgres_url, _postgres_reason, _cluster
    _postgres_url, _postgres_reason, _cluster = find_postgres()
    if _postgres_url:
        os.environ["TEST_DATABASE_URL"] = _postgres_url
    else:
        os.environ.pop("TEST_DATABASE_URL", None)
    os.environ["SETTINGS_MODULE"] = "settings.test"


def pytest_unconfigure(config: pytest.Config) -> None:
    if _cluster is not None:
        _cluster.stop()


def pytest_report_header(config: pytest.Config) -> str:
    return f"PostgreSQL: {_postgres_url or 'none (' + _postgres_reason + ')'}"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The URL of a real PostgreSQL server; skips (fails under CI=true) without one."""
    if _postgres_url is None:
        message = f"PostgreSQL tests need a server: {_postgres_reason}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return _postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Each test that takes this runs once on a SQLite file and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.sqlite3'}"
    else:
        yield request.getfixturevalue("postgres_url")
