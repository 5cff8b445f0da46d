"""What the example API accepts and returns."""

from __future__ import annotations

import msgspec


class ItemIn(msgspec.Struct):
    name: str
    quantity: int = 0


class ItemPatch(msgspec.Struct):
    name: str | None = None
    quantity: int | None = None


class ItemOut(msgspec.Struct):
    id: int
    name: str
    quantity: int
