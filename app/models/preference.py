"""Per-user preferences that follow a login across devices (language for now)."""
from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model


class UserPreference(Model):
    __tablename__ = "user_preference"

    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id"), primary_key=True)
    locale: Mapped[str] = mapped_column(String(5), default="zh")
