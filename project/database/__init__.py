"""Every engine and session of the product: ``from project.database import databases``.

Importing this package opens nothing; engines are created on first use.
"""

from project.database.diagnose import Diagnosis, diagnose
from project.database.faults import DatabaseUnavailableError, PoolExhaustedError
from project.database.manager import (
    CheckResult,
    DatabaseNotReadyError,
    DatabaseSessionManager,
)
from project.database.registry import DatabaseRegistry, UnknownDatabaseError

__all__ = [
    "CheckResult",
    "DatabaseNotReadyError",
    "DatabaseRegistry",
    "DatabaseSessionManager",
    "DatabaseUnavailableError",
    "Diagnosis",
    "PoolExhaustedError",
    "UnknownDatabaseError",
    "databases",
    "diagnose",
]

databases = DatabaseRegistry()
