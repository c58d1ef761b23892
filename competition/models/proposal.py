"""Proposals (voorgenomen ontwikkelingen) and their version history."""

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from competition.extensions import db
from competition.models.domain import Domain
from competition.models.municipality import Municipality
from competition.models.types import UTCDateTime
from competition.models.user import User


class ProposalStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    WITHDRAWN = "withdrawn"


class WithdrawalKind(enum.StrEnum):
    DUPLICATE = "duplicate"
    CANCELLED = "cancelled"
    OTHER = "other"


# Fields a proposal's author edits; each saved edit stores a snapshot of them as a version.
VERSIONED_FIELDS = (
    "title",
    "summary",
    "description",
    "problem",
    "domain_id",
    "planned_start",
    "estimated_cost",
    "contact_name",
    "contact_email",
)


class Proposal(db.Model):
    __tablename__ = "proposals"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'submitted', 'withdrawn')", name="status_valid"),
        CheckConstraint("estimated_cost IS NULL OR estimated_cost >= 0", name="cost_non_negative"),
        CheckConstraint(
            "status <> 'withdrawn' OR withdrawn_at IS NOT NULL", name="withdrawal_recorded"
        ),
        Index("ix_proposals_round_status", "round_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(12), default=ProposalStatus.DRAFT.value)

    title: Mapped[str] = mapped_column(String(120))
    summary: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    problem: Mapped[str] = mapped_column(Text, default="")
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domains.id"))
    planned_start: Mapped[date | None] = mapped_column(Date)
    estimated_cost: Mapped[int | None]
    contact_name: Mapped[str] = mapped_column(String(120), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")

    withdrawal_kind: Mapped[str | None] = mapped_column(String(12))
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Stemmed words of title, summary and description: the portable full-text index.
    search_text: Mapped[str] = mapped_column(Text, default="")

    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # Optimistic locking: an edit based on an older version is refused, never silently lost.
    version: Mapped[int] = mapped_column(default=1)

    municipality: Mapped[Municipality] = relationship(lazy="joined")
    author: Mapped[User] = relationship()
    domain: Mapped[Domain | None] = relationship(lazy="joined")
    duplicate_of: Mapped["Proposal | None"] = relationship(remote_side=[id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_published(self) -> bool:
        return self.status != ProposalStatus.DRAFT.value

    @property
    def is_withdrawn(self) -> bool:
        return self.status == ProposalStatus.WITHDRAWN.value

    def snapshot(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in VERSIONED_FIELDS}
        if data["planned_start"] is not None:
            data["planned_start"] = data["planned_start"].isoformat()
        return data

    def __repr__(self) -> str:
        return f"<Proposal {self.id} {self.title!r}>"


class ProposalVersion(db.Model):
    """A saved state of a proposal's text; version 1 is the first save."""

    __tablename__ = "proposal_versions"
    __table_args__ = (UniqueConstraint("proposal_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    number: Mapped[int]
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    edited_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    edited_by: Mapped[User] = relationship(lazy="joined")
