"""Turn a database failure into one line: the cause, and a hint to fix it."""

from __future__ import annotations

import re
import socket

import msgspec

from project.redact import redact_text


class Diagnosis(msgspec.Struct, frozen=True):
    cause: str
    hint: str

    def __str__(self) -> str:
        return f"{self.cause}. {self.hint}"


# (pattern found in the error chain, cause, hint); the first match wins. Patterns
# match without regard to case; a group named "name" fills {name} in the words.
_KNOWN_FAILURES: list[tuple[str, str, str]] = [
    (
        r"""(?:keyword argument|connection option) ['"](?P<name>[\w.-]+)['"]""",
        "the URL or OPTIONS has an option '{name}' that one of the drivers does not understand",
        "Keep driver-specific options out of the URL and the shared OPTIONS: put them in "
        "OPTIONS['sync'] (psycopg2) or OPTIONS['async'] (asyncpg).",
    ),
    (
        r"password authentication failed|invalidpassworderror|no password supplied",
        "authentication failed",
        "Check the user and password in the URL (percent-encode special characters).",
    ),
    (
        r'role "(?P<name>[^"]+)" does not exist',
        "the role '{name}' does not exist",
        "Create it (createuser {name}) or fix the user name in the URL.",
    ),
    (
        r'role "(?P<name>[^"]+)" is not permitted to log in',
        "the role '{name}' may not log in",
        "Give it the LOGIN attribute (ALTER ROLE {name} LOGIN) or use another user in the URL.",
    ),
    (
        r'database "(?P<name>[^"]+)" does not exist',
        "the database '{name}' does not exist",
        "Create it (createdb {name}) or fix the database name in the URL.",
    ),
    (
        r'database "(?P<name>[^"]+)" is not currently accepting connections',
        "the database '{name}' does not accept connections",
        "Use another database in the URL, or allow them (ALTER DATABASE ... ALLOW_CONNECTIONS).",
    ),
    (
        r"too many connections for role|too many clients already|connection slots are reserved",
        "the server has no connection left for this user",
        "Lower POOL_SIZE and MAX_OVERFLOW (summed over every process), or raise the "
        "server's max_connections or the role's CONNECTION LIMIT.",
    ),
    (
        r"connection refused|connect call failed|errno 111",
        "connection refused",
        "Is the server running and listening on that host and port?",
    ),
    (
        r"name or service not known|nodename nor servname|could not translate host name"
        r"|temporary failure in name resolution|gaierror|errno -[23]\b",
        "unknown host",
        "Check the host name in the URL.",
    ),
    (
        r"rejected ssl upgrade|server does not support ssl",
        "the server does not support SSL, but the URL requires it",
        "Remove sslmode=require from the URL, or turn SSL on in the server.",
    ),
    (
        r"no pg_hba\.conf entry|no encryption",
        "the server refused this client (pg_hba.conf); it may require SSL",
        "Add ?sslmode=require to the URL, or allow this host in the server's pg_hba.conf.",
    ),
    (
        r"timeouterror|timed out|timeout expired|cancellederror",
        "timed out",
        "The server did not answer in time: check the host, firewall and CONNECT_TIMEOUT.",
    ),
    (
        r"no module named|modulenotfounderror",
        "driver not installed",
        "Install the project's dependencies: pip install -e .",
    ),
    (
        r"unable to open database file",
        "cannot open the SQLite file",
        "Check that the folder exists and is writable.",
    ),
]
_PATTERNS = [
    (re.compile(pattern, re.IGNORECASE), cause, hint) for pattern, cause, hint in _KNOWN_FAILURES
]


def diagnose(exc: BaseException) -> Diagnosis:
    """The likely cause of a failed connection or query, in words, with secrets masked."""
    chain: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 5:
        chain.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    text = " | ".join(chain)
    if isinstance(exc, socket.gaierror):
        text += " gaierror"
    for pattern, cause, hint in _PATTERNS:
        found = pattern.search(text)
        if found:
            name = found.groupdict().get("name") or ""
            return Diagnosis(
                redact_text(cause.format(name=name)), redact_text(hint.format(name=name))
            )
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return Diagnosis(
        redact_text(f"{type(exc).__name__}: {first_line}")[:200], "See the server log."
    )
