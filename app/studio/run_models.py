"""A studio test run: one instance of a draft's process in the scratch community, and its steps."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow


class StudioTestRun(Model):
    """``files``: the draft's files as they were when the run started (its forms answer for the
    run's tasks). ``steps``: one entry per action — ``{action, element, role, data_in,
    data_after, path, status}``. ``clock_offset_s``: how far the run's clock is ahead of the
    platform's (a timer fired "now" moves it to the timer's due time)."""

    __tablename__ = "studio_test_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[str] = mapped_column(String(60), index=True)
    process_path: Mapped[str] = mapped_column(String(300))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("wf_instance.id"))
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    files: Mapped[dict] = mapped_column(JSON, default=dict)
    start_data: Mapped[dict] = mapped_column(JSON, default=dict)
    steps: Mapped[list] = mapped_column(JSON, default=list)
    clock_offset_s: Mapped[int] = mapped_column(Integer, default=0)
    started_by: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
