"""Keep secrets out of every repr, error message, log line and command output."""

import re
from typing import Any

MASK = "********"

_SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|KEY|PASS|API|AUTH|SIGNATURE", re.IGNORECASE)
# scheme://user:password@host: the password is whatever sits between the first
# colon after the user and the last "@" of the URL (it may hold "/", "@" or "#").
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)\S*@")


def is_secret_name(name: str) -> bool:
    """A setting or key whose name says it holds a secret."""
    return bool(_SECRET_NAME.search(name))


def redact_text(text: str) -> str:
    """Mask passwords embedded in URLs anywhere in ``text``."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)


def redact(value: Any, name: str = "") -> Any:
    """A copy of ``value`` safe to show: secret names masked, URL passwords hidden."""
    if name and is_secret_name(name) and value not in ("", None):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: redact(item, str(key)) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact(item) for item in value)
    return value
