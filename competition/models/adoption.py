"""Adoption of standards by municipalities: the current status and its full history."""

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from competition.extensions import db
from competition.models.municipality import Municipality
from competition.models.types import UTCDateTime
from competition.models.user import User


class AdoptionStatus(enum.StrEnum):
    UNDECIDED = "undecided"
    INTENDS = "intends"
    ADOPTING = "adopting"
    ADOPTED = "adopted"
    DECLINED = "declined"


STATUS_VALUES = ", ".join(f"'{s.value}'" for s in AdoptionStatus)


class Adoption(db.Model):
    """A municipality's current status for one standard (no row: not yet decided)."""

    __tablename__ = "adoptions"
    __table_args__ = (
        UniqueConstraint("standard_id", "municipality_id"),
        CheckConstraint(f"status IN ({STATUS_VALUES})", name="status_valid"),
        CheckConstraint("status <> 'intends' OR planned_on IS NOT NULL", name="intends_planned"),
        CheckConstraint("status <> 'adopted' OR adopted_on IS NOT NULL", name="adopted_dated"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    standard_id: Mapped[int] = mapped_column(ForeignKey("standards.id"), index=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    status: Mapped[str] = mapped_column(String(12))
    planned_on: Mapped[date | None] = mapped_column(Date)
    adopted_on: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    municipality: Mapped[Municipality] = relationship(lazy="joined")
    updated_by: Mapped[User] = relationship()


class AdoptionEvent(db.Model):
    """One change of a municipality's status for a standard (the history; never changed)."""

    __tablename__ = "adoption_events"
    __table_args__ = (CheckConstraint(f"status IN ({STATUS_VALUES})", name="status_valid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    standard_id: Mapped[int] = mapped_column(ForeignKey("standards.id"), index=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    status: Mapped[str] = mapped_column(String(12))
    previous_status: Mapped[str] = mapped_column(String(12))
    planned_on: Mapped[date | None] = mapped_column(Date)
    adopted_on: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    municipality: Mapped[Municipality] = relationship(lazy="joined")
    actor: Mapped[User] = relationship()
