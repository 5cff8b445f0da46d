"""The pytest hooks and the session fixture: options, marker, the test databases.

``db_setup`` builds the test databases the first time a test needs one;
``_db_settings`` (project.testing.transactions) points every alias at them
for each test that uses the database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from project.testing import guard
from project.testing.lifecycle import TestDatabases
from project.testing.pointing import Pointing

__all__ = [
    "db_setup",
    "pytest_addoption",
    "pytest_configure",
    "pytest_sessionfinish",
    "pytest_testnodedown",
]

_TEMPLATES = "project_test_templates"  # xdist workeroutput: templates the controller drops
_dropped_by_controller: list[str] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("project", "test databases (project.testing)")
    group.addoption(
        "--reuse-db",
        action="store_true",
        help="Keep the test databases after the run and reuse them next time "
        "(rebuilt when the migrations head changed).",
    )
    group.addoption(
        "--create-db",
        action="store_true",
        help="Rebuild the test databases even when --reuse-db could keep them.",
    )
    parser.addini(
        "database_access",
        "'explicit' (default): a test may use the database only through the database "
        "fixtures or @pytest.mark.db; 'any': no check.",
        default="explicit",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "db: the test may use the database (pointed at the test database), without the "
        "isolation of the db_session/transactional_db fixtures.",
    )
    guard.install()


@pytest.fixture(scope="session")
def db_setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestDatabases]:
    """The test databases of this session, built (or reused) on first use, dropped at the end."""
    config = request.config
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    workerinput = getattr(config, "workerinput", None)
    scratch = tmp_path_factory.getbasetemp()
    if worker:
        scratch = scratch.parent  # shared by the workers: where a SQLite template lives
    databases = TestDatabases(
        reuse=config.getoption("reuse_db"),
        recreate=config.getoption("create_db"),
        worker=worker,
        run_id=workerinput["testrunuid"] if workerinput else uuid.uuid4().hex,
        scratch=Path(scratch),
    )
    try:
        urls = databases.setup()
        if workerinput is not None and not databases.reuse:
            config.workeroutput[_TEMPLATES] = databases.templates()  # type: ignore[attr-defined]
        databases.pointing = Pointing(urls)
        yield databases
    finally:
        if databases.pointing is not None:
            databases.pointing.close()
        databases.teardown()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """xdist controller: remember the templates a worker built, to drop them at the end."""
    output = getattr(node, "workeroutput", {})
    for url in output.get(_TEMPLATES, []):
        if url not in _dropped_by_controller:
            _dropped_by_controller.append(url)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _dropped_by_controller:
        return
    from project.testing.databases import server_for

    for url in _dropped_by_controller:
        server, name = server_for(url, Path())
        server.drop(name)
    _dropped_by_controller.clear()
