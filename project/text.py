"""Text helpers for messages written to the user: type names and "did you mean"."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, Literal

import msgspec


def type_name(tp: Any) -> str:
    """How a type reads in an error message."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(arg) for arg in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(arg) for arg in typing.get_args(tp))
    if origin is not None:
        args = ", ".join(type_name(arg) for arg in typing.get_args(tp))
        return f"{origin.__name__}[{args}]"
    if tp is Any:
        return "any value"
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return "a table of " + ", ".join(tp.__struct_fields__)
    return getattr(tp, "__name__", str(tp))


def did_you_mean(name: str, candidates: typing.Iterable[str]) -> str | None:
    """The closest known name to a likely typo, if one is close enough."""
    matches = difflib.get_close_matches(name.upper(), [c.upper() for c in candidates], 1, 0.75)
    if not matches:
        return None
    return next(c for c in candidates if c.upper() == matches[0])
