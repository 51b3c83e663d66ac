"""Recipes people saved under a name, each kept for its owner only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db
from .jobs import UTCDateTime, utcnow


class Preset(db.Model):  # type: ignore[name-defined]
    __tablename__ = "presets"
    # Saving under a name the owner used already replaces that preset.
    __table_args__ = (UniqueConstraint("owner", "name", name="uq_presets_owner_name"),)

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(60))
    recipe: Mapped[str] = mapped_column(Text)  # the recipe JSON, as the API takes it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
