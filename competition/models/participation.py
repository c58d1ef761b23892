"""How municipalities relate to a proposal: co-submitters, interest, followers."""

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from competition.extensions import db
from competition.models.municipality import Municipality
from competition.models.types import UTCDateTime


class CoSubmissionStatus(enum.StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class CoSubmission(db.Model):
    """Another municipality develops this too ("wij ontwikkelen dit ook"), once accepted."""

    __tablename__ = "co_submissions"
    __table_args__ = (
        UniqueConstraint("proposal_id", "municipality_id"),
        CheckConstraint(
            "status IN ('requested', 'accepted', 'declined', 'withdrawn')", name="status_valid"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default=CoSubmissionStatus.REQUESTED.value)
    message: Mapped[str] = mapped_column(String(1000), default="")
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    municipality: Mapped[Municipality] = relationship(lazy="joined")


class Interest(db.Model):
    """A municipality wants to use this too ("wij willen dit ook gebruiken")."""

    __tablename__ = "interests"
    __table_args__ = (UniqueConstraint("proposal_id", "municipality_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Withdrawn interest is kept (nothing is hard-deleted); marking again clears this.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    municipality: Mapped[Municipality] = relationship(lazy="joined")


class Follow(db.Model):
    """A user follows a proposal (mailed about changes by the notifications area)."""

    __tablename__ = "follows"
    __table_args__ = (UniqueConstraint("user_id", "proposal_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
