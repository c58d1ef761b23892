"""Append-only audit log of every state-changing action."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from competition.extensions import db
from competition.models.types import UTCDateTime
from competition.models.user import User


class AuditEvent(db.Model):
    """One action: who did what, when, on which object.

    The migration adds triggers that refuse UPDATE and DELETE on this table, on SQLite and
    PostgreSQL alike, so the log is append-only below the application too.
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(40))
    round_id: Mapped[int | None] = mapped_column(ForeignKey("rounds.id"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship(lazy="joined")
