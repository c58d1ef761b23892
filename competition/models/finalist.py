"""The outcome of the preselection: per cluster the computed result, per proposal the decision."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from competition.extensions import db
from competition.models.proposal import Proposal
from competition.models.types import UTCDateTime


class PreselectionResult(db.Model):
    """The engine's full result for one cluster, frozen when the preselection phase ended, so
    the published reasoning never changes afterwards (accounts, names and municipalities may)."""

    __tablename__ = "preselection_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id"), unique=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class FinalistDecision(db.Model):
    """Whether a proposal goes through to development: computed, and possibly overridden by an
    organiser with a public reason."""

    __tablename__ = "finalist_decisions"
    __table_args__ = (UniqueConstraint("proposal_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id"), index=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"))
    rank: Mapped[int]
    jury_score: Mapped[float | None] = mapped_column(Float)
    peer_score: Mapped[float | None] = mapped_column(Float)
    approvals: Mapped[int] = mapped_column(default=0)
    eligible: Mapped[int] = mapped_column(default=0)
    combined: Mapped[float | None] = mapped_column(Float)
    decided_by: Mapped[str | None] = mapped_column(String(12))
    is_computed_finalist: Mapped[bool] = mapped_column(default=False)
    is_finalist: Mapped[bool] = mapped_column(default=False)
    override_reason: Mapped[str | None] = mapped_column(Text)
    overridden_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    overridden_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    proposal: Mapped[Proposal] = relationship(lazy="joined")

    @property
    def is_overridden(self) -> bool:
        return self.override_reason is not None
