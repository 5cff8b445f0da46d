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


# (text found in the error, cause, hint); the first match wins.
_KNOWN_FAILURES: list[tuple[tuple[str, ...], str, str]] = [
    (
        ("unexpected keyword argument", "invalid connection option", "invalid dsn"),
        "the URL or OPTIONS has an option {option}that one of the drivers does not understand",
        "Keep driver-specific options out of the URL and the shared OPTIONS: put them in "
        "OPTIONS['sync'] (psycopg2) or OPTIONS['async'] (asyncpg).",
    ),
    (
        ("password authentication failed", "invalidpassworderror", "no password supplied"),
        "authentication failed",
        "Check the user and password in the URL (percent-encode special characters).",
    ),
    (
        ("does not exist", "invalidcatalognameerror"),
        "the database does not exist",
        "Create it (createdb NAME) or fix the database name in the URL.",
    ),
    (
        ("connection refused", "connect call failed", "errno 111"),
        "connection refused",
        "Is the server running and listening on that host and port?",
    ),
    (
        (
            "name or service not known",
            "nodename nor servname",
            "could not translate host name",
            "temporary failure in name resolution",
            "gaierror",
            "errno -2",
            "errno -3",
        ),
        "unknown host",
        "Check the host name in the URL.",
    ),
    (
        ("rejected ssl upgrade", "server does not support ssl"),
        "the server does not support SSL, but the URL requires it",
        "Remove sslmode=require from the URL, or turn SSL on in the server.",
    ),
    (
        ("no pg_hba.conf entry", "no encryption"),
        "the server refused this client (pg_hba.conf); it may require SSL",
        "Add ?sslmode=require to the URL, or allow this host in the server's pg_hba.conf.",
    ),
    (
        ("timeouterror", "timed out", "timeout expired", "cancellederror"),
        "timed out",
        "The server did not answer in time: check the host, firewall and CONNECT_TIMEOUT.",
    ),
    (
        ("no module named", "modulenotfounderror"),
        "driver not installed",
        "Install the project's dependencies: pip install -e .",
    ),
    (
        ("unable to open database file",),
        "cannot open the SQLite file",
        "Check that the folder exists and is writable.",
    ),
]


_OPTION_NAME = re.compile(r"""(?:keyword argument|connection option) ['"]([\w.-]+)['"]""")


def diagnose(exc: BaseException) -> Diagnosis:
    """The likely cause of a failed connection or query, in words, with secrets masked."""
    chain: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 5:
        chain.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    text = " | ".join(chain).lower()
    if isinstance(exc, socket.gaierror):
        text += " gaierror"
    for needles, cause, hint in _KNOWN_FAILURES:
        if any(needle in text for needle in needles):
            option = _OPTION_NAME.search(text)
            return Diagnosis(cause.format(option=f"'{option[1]}' " if option else ""), hint)
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return Diagnosis(
        redact_text(f"{type(exc).__name__}: {first_line}")[:200], "See the server log."
    )
