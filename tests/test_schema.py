"""The typed schema: database URLs, conversions from text, and redaction."""

from __future__ import annotations

import msgspec
import pytest

from project.conf import SettingsError
from project.redact import MASK, redact, redact_text
from project.schema import DatabaseSettings, convert
from project.text import did_you_mean
from project.urls import parse_database_url


@pytest.mark.parametrize(
    ("url", "sync_url", "async_url"),
    [
        (
            "postgresql://app@db:5432/app",
            "postgresql+psycopg2://app@db:5432/app",
            "postgresql+asyncpg://app@db:5432/app",
        ),
        (
            "postgres://app@db/app",
            "postgresql+psycopg2://app@db/app",
            "postgresql+asyncpg://app@db/app",
        ),
        (
            "postgresql+asyncpg://app@db/app",
            "postgresql+psycopg2://app@db/app",
            "postgresql+asyncpg://app@db/app",
        ),
        (
            "postgresql+psycopg2://app@db/app?sslmode=require",
            "postgresql+psycopg2://app@db/app?sslmode=require",
            "postgresql+asyncpg://app@db/app?ssl=require",
        ),
        ("sqlite:///db.sqlite3", "sqlite+pysqlite:///db.sqlite3", "sqlite+aiosqlite:///db.sqlite3"),
        ("sqlite+aiosqlite://", "sqlite+pysqlite://", "sqlite+aiosqlite://"),
    ],
)
def test_one_url_gives_a_sync_and_an_async_url_of_its_family(
    url: str, sync_url: str, async_url: str
) -> None:
    parsed = parse_database_url(url)
    assert (parsed.sync_url, parsed.async_url) == (sync_url, async_url)


@pytest.mark.parametrize("spelling", ["sslmode", "ssl"])
def test_the_ssl_mode_is_spelt_for_each_driver(spelling: str) -> None:
    url = parse_database_url(f"postgresql://app@db/app?{spelling}=require&application_name=x")
    assert url.sync_url == "postgresql+psycopg2://app@db/app?application_name=x&sslmode=require"
    assert url.async_url == "postgresql+asyncpg://app@db/app?application_name=x&ssl=require"


@pytest.mark.parametrize("query", ["sslmode=yes", "sslmode=require&ssl=disable"])
def test_an_unknown_or_conflicting_ssl_mode_is_an_error(query: str) -> None:
    with pytest.raises(SettingsError, match="Give one sslmode, one of disable, allow"):
        parse_database_url(f"postgresql://app@db/app?{query}")


def test_an_unsupported_scheme_lists_the_supported_ones() -> None:
    with pytest.raises(SettingsError) as caught:
        parse_database_url("oracle://scott:tiger@db/orcl")
    message = str(caught.value)
    assert "unsupported scheme 'oracle'" in message
    for scheme in (
        "postgresql+psycopg2",
        "postgresql+asyncpg",
        "sqlite+pysqlite",
        "sqlite+aiosqlite",
    ):
        assert scheme in message
    assert "tiger" not in message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://app:s3cret@db", "names no database"),
        ("postgresql://app:s3cret/x@db/app", "Percent-encode '/' as %2F in the password"),
        ("postgresql://app:5/s3cret@db/app", "Percent-encode '/' as %2F in the password"),
        ("postgresql://app:s3cret#x@db/app", "Percent-encode '#' as %23 in the password"),
        ("postgresql://app:s3cret?x@db/app", "Percent-encode '?' as %3F in the password"),
        ("postgresql://app:s3c@ret@db/app", "Percent-encode '@' as %40 in the password"),
        ("postgresql://app:s3c@r/et@db/app", "'@' as %40, '/' as %2F in the password"),
    ],
)
def test_errors_about_a_url_never_show_its_password(url: str, expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_database_url(url)
    assert expected in str(caught.value)
    assert "s3cret" not in str(caught.value)
    assert "postgresql://app:********@db" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "tp", "expected"),
    [
        ("true", bool, True),
        ("0", bool, False),
        ("20", int, 20),
        ("1.5", float, 1.5),
        ("a, b,c", list[str], ["a", "b", "c"]),
        ('["a", "b"]', list[str], ["a", "b"]),
        ('{"k": 1}', dict[str, int], {"k": 1}),
    ],
)
def test_text_from_the_environment_converts_to_the_schema_type(
    text: str, tp: type, expected: object
) -> None:
    assert convert(text, tp, from_text=True) == expected


def test_values_from_a_module_are_checked_strictly() -> None:
    with pytest.raises(msgspec.ValidationError):
        convert("20", int)


def test_did_you_mean_only_suggests_close_names() -> None:
    assert did_you_mean("DATABSES", ["DEBUG", "DATABASES"]) == "DATABASES"
    assert did_you_mean("pool_sze", ["POOL_SIZE", "ECHO"]) == "POOL_SIZE"
    assert did_you_mean("GREETING", ["DEBUG", "DATABASES"]) is None


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://app:pw@db/app", "postgresql://app:********@db/app"),
        ("postgresql://app:p@ss@db/app", "postgresql://app:********@db/app"),
        ("postgresql://app:p/ss@db/app", "postgresql://app:********@db/app"),
        ("postgresql://:pw@db/app", "postgresql://:********@db/app"),
        ("failed: postgresql+asyncpg://u:pw@h/d.", "failed: postgresql+asyncpg://u:********@h/d."),
        ("postgresql://app@db/app", "postgresql://app@db/app"),
        ("sqlite:///tmp/db.sqlite3", "sqlite:///tmp/db.sqlite3"),
    ],
)
def test_redact_text_hides_url_passwords(text: str, shown: str) -> None:
    assert redact_text(text) == shown


def test_redact_masks_secret_names_at_any_depth() -> None:
    value = {"SECRET_KEY": "k", "OPTIONS": {"password": "p", "port": 5432}, "API_TOKEN": ""}
    assert redact(value) == {
        "SECRET_KEY": MASK,
        "OPTIONS": {"password": MASK, "port": 5432},
        "API_TOKEN": "",  # an empty secret shows that it is empty
    }


def test_database_settings_repr_hides_passwords() -> None:
    config = DatabaseSettings(URL="postgresql://app:pw123@db/app", OPTIONS={"password": "pw456"})
    shown = f"{config!r} {config}"
    assert "pw123" not in shown
    assert "pw456" not in shown
    assert "postgresql://app:********@db/app" in shown


def test_an_encoded_user_name_is_shown_as_written() -> None:
    """Only the password is wrong here; the encoded user name is not encoded twice."""
    with pytest.raises(SettingsError) as caught:
        parse_database_url("postgresql://me%40corp:s3c@ret@db/app")
    assert "the password holds '@' unencoded" in str(caught.value)
    assert "postgresql://me%40corp:<encoded password>@db/app" in str(caught.value)
    assert "s3c" not in str(caught.value)
