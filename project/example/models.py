"""The example model, on advanced-alchemy's base; its table comes from migrations/default."""

from __future__ import annotations

from advanced_alchemy.base import BigIntBase
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column


class Item(BigIntBase):
    """Something kept in stock; names are unique."""

    __tablename__ = "example_item"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    quantity: Mapped[int] = mapped_column(default=0)
