"""Text helpers for messages written to the user: type names and "did you mean"."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Annotated, Any, Literal

import msgspec


def type_name(tp: Any) -> str:
    """How a type reads in an error message."""
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return _ranged_name(*typing.get_args(tp))
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


_NOUNS = {int: "an integer", float: "a number"}
_BOUNDS = (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"))


def _ranged_name(tp: Any, *metadata: Any) -> str:
    """``Annotated[int, Meta(ge=0)]`` reads as "an integer ≥ 0"."""
    bounds = [
        f"{sign} {_number(getattr(meta, key))}"
        for meta in metadata
        if isinstance(meta, msgspec.Meta)
        for key, sign in _BOUNDS
        if getattr(meta, key) is not None
    ]
    noun = _NOUNS.get(tp) or type_name(tp)
    return " and ".join([f"{noun} {bounds[0]}", *bounds[1:]]) if bounds else noun


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
