"""Framework defaults: the lowest settings layer.

Every known setting is defined here, so ``diffsettings`` can show what a
project changed. Types are enforced by ``project.schema``.
"""

from typing import Any

# Turns on Litestar's debug mode (tracebacks in responses). Never in production.
DEBUG = False

# Secret used to sign data. Production refuses to start when it is empty.
SECRET_KEY = ""

# Which kind of deployment this is: "development", "test" or "production".
# "production" refuses DEBUG, an empty SECRET_KEY and a missing DATABASE_URL.
ENVIRONMENT = "development"

# One entry per database alias; "default" is required. Each entry takes (timeouts are
# at most 86400 seconds; a value out of range is refused when the settings load):
#   URL             str    e.g. postgresql://user:pass@host/db or sqlite:///db.sqlite3
#   POOL_SIZE       int    5      connections kept open per engine (≥ 0; 0: no limit)
#   MAX_OVERFLOW    int    10     extra connections allowed under load (≥ 0)
#   POOL_TIMEOUT    float  30.0   seconds to wait for a free connection (> 0)
#   POOL_RECYCLE    int    3600   seconds before a connection is replaced (≥ -1; -1: never)
#   PRE_PING        bool   False  ping on every checkout (costs a round trip each time)
#   PING_IDLE_AFTER float  30.0   ping on checkout when idle in the pool longer (≥ 0; 0: never)
#   ECHO            bool   False  log every SQL statement
#   CONNECT_TIMEOUT float  10.0   seconds to establish a connection (> 0)
#   OPTIONS         dict   {}     extra keyword arguments for the DB-API driver, checked
#                                 against what it accepts; OPTIONS['sync'] / ['async']: one side
#   TRANSACTION     str    "auto" request transactions: "auto", "atomic" or "autocommit"
#   PGBOUNCER       bool   False  the URL is a PgBouncer in transaction pooling mode: no
#                                 prepared statements are kept, statements that run
#                                 without a request transaction get one each
#   REPLICAS        list   []     read replicas: URLs, or {"URL": ..., "POOL_SIZE": ...} to
#                                 size one differently; reads outside a transaction go there
#   REPLICA_MAX_LAG float  10.0   seconds of replay lag before a replica leaves the rotation
#   REPLICA_CHECK_INTERVAL float 2.0  seconds between replica health and lag checks
DATABASES: dict[str, dict[str, Any]] = {}

# What the app does when a database is unreachable at startup:
# "fail" stops startup, "warn" logs a warning, "off" does not check.
DATABASE_STARTUP_CHECK = "warn"

# Dotted paths of Litestar plugins that create_app() loads (classes or instances).
PLUGINS: list[str] = ["plugins.database.DatabasePlugin"]

# Dotted paths of route handlers, controllers or routers that create_app() mounts.
ROUTE_HANDLERS: list[str] = []

# Dotted paths of modules whose SQLAlchemy models the shell imports and makemigrations
# compares; a model's ``__bind_key__`` names its database alias ("default" when unset).
MODEL_MODULES: list[str] = []

# Packages whose modules each define a click ``command`` for manage.py.
COMMAND_PACKAGES: list[str] = []

# Migrations (manage.py makemigrations / migrate): the versions folder of each alias,
# relative to the project root (the folder holding the settings package). An alias not
# named here keeps its revisions in "migrations/<alias>".
MIGRATIONS_FOLDERS: dict[str, str] = {}

# Folder of a project's own Alembic environment (env.py, script.py.mako), relative to the
# project root; "" uses the built-in one. env.py gets the connection, the dialect name
# (offline) and the context.configure options in config.attributes.
MIGRATIONS_ENVIRONMENT = ""

# What the app does at startup when a database has unapplied migrations:
# "fail" stops startup, "warn" logs a warning, "off" does not check.
MIGRATIONS_STARTUP_CHECK = "warn"
# Worker processes for ``manage.py serve`` (and the connection budget of ``check --deploy``).
WORKERS = 1

# How the pytest plugin (project.testing) builds each test database: "migrate" runs
# the migrations to head, "create_all" creates the MODEL_MODULES tables, "auto"
# migrates when the project has migrations and creates the tables otherwise.
TEST_DATABASE_CREATE = "auto"
