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
    PostgreSQL alike, so the log is append-only below the application too. Each event also
    stores the hash of the previous one (a hash chain), so changing or removing an event with
    the triggers switched off still shows: `flask competition verify-audit`.
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
    # Position in the chain (1, 2, …) and the chain's hashes; None for events recorded before
    # the chain existed.
    seq: Mapped[int | None] = mapped_column(index=True, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))

    actor: Mapped[User | None] = relationship(lazy="joined")


GENESIS_HASH = "0" * 64


class AuditHead(db.Model):
    """The chain's head: one row, updated with every event. Updating it first serialises the
    writers of the chain (a row lock on PostgreSQL, the write lock on SQLite), so two events
    can never claim the same predecessor."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)
