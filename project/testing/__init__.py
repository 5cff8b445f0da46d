"""The pytest plugin for projects built on this one (entry point ``pytest11``: ``project``).

Installed with the package, it gives a project's own tests a test database
per configured database (``--reuse-db``, ``--create-db``, one clone per
pytest-xdist worker) and these fixtures: ``db_session``, ``db_sync_session``,
``app``, ``client``, ``transactional_db``, ``settings``, ``override_settings``,
``assert_num_queries``, ``assert_max_num_queries``. A test that touches the
database without one of them (or ``@pytest.mark.db``) fails. One module per
job: ``plugin`` (hooks, ``db_setup``), ``lifecycle`` and ``databases`` (the
test databases), ``schema`` (building them), ``transactions`` (isolation),
``client``, ``queries``, ``settings``, ``access`` and ``guard``.
"""

from project.testing.access import _database_access
from project.testing.plugin import (
    db_setup,
    pytest_addoption,
    pytest_configure,
    pytest_sessionfinish,
    pytest_testnodedown,
)
from project.testing.queries import assert_max_num_queries, assert_num_queries
from project.testing.settings import override_settings, settings

__all__ = [
    "_database_access",
    "assert_max_num_queries",
    "assert_num_queries",
    "db_setup",
    "override_settings",
    "pytest_addoption",
    "pytest_configure",
    "pytest_sessionfinish",
    "pytest_testnodedown",
    "settings",
]

try:  # the database fixtures are async: they need pytest-asyncio
    import pytest_asyncio  # noqa: F401
except ImportError:  # pragma: no cover
    pass
else:
    from project.testing.client import app, client
    from project.testing.transactions import (
        _async_transaction,
        _db_settings,
        _kept_connections,
        _sync_transaction,
        db_session,
        db_sync_session,
        transactional_db,
    )

    __all__ += [
        "_async_transaction",
        "_db_settings",
        "_kept_connections",
        "_sync_transaction",
        "app",
        "client",
        "db_session",
        "db_sync_session",
        "transactional_db",
    ]
