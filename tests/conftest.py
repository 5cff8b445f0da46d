"""Shared fixtures: the test settings, and a real PostgreSQL server when there is one."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.postgres import ThrowawayCluster, created, find_postgres

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


SLOW_COMMIT_SECONDS = 0.5


@pytest.fixture
def slow_commit_table(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL table ``(id int primary key, name text)`` whose COMMIT takes half a second.

    A deferred constraint trigger sleeps at commit time, so a test can cancel
    a task while its COMMIT is on the server.
    """
    name = f"slow_{uuid.uuid4().hex[:12]}"
    create = (
        f"CREATE TABLE {name} (id int PRIMARY KEY, name text);"
        f"CREATE FUNCTION {name}_sleep() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN PERFORM pg_sleep({SLOW_COMMIT_SECONDS}); RETURN NULL; END $$;"
        f"CREATE CONSTRAINT TRIGGER {name}_at_commit AFTER INSERT ON {name} "
        f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {name}_sleep();"
    )
    with created(postgres_url, create, f"DROP TABLE {name}; DROP FUNCTION {name}_sleep();"):
        yield name
