"""Notifications already sent for a moment, so the clock never mails the same thing twice."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from competition.extensions import db
from competition.models.types import UTCDateTime


class NotificationMark(db.Model):
    """`key` names a moment (e.g. "closing:<round>:<phase>:<end>"); its row means the mails for
    that moment were queued. The unique key makes concurrent clocks send them once."""

    __tablename__ = "notification_marks"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
