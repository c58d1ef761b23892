"""The jury of a round: who scores which clusters, their scorecards and declared conflicts."""

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from competition.extensions import db
from competition.models.cluster import Cluster
from competition.models.criterion import Criterion
from competition.models.types import UTCDateTime
from competition.models.user import User

# The clusters of a juror who does not score the whole round.
jury_member_clusters = Table(
    "jury_member_clusters",
    db.metadata,
    Column("jury_member_id", ForeignKey("jury_members.id", ondelete="CASCADE"), primary_key=True),
    Column("cluster_id", ForeignKey("clusters.id", ondelete="CASCADE"), primary_key=True),
)


class JuryMember(db.Model):
    __tablename__ = "jury_members"
    __table_args__ = (UniqueConstraint("round_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Stored, not inferred from an empty cluster list: a juror limited to clusters that were
    # later merged away must not silently become a juror of every cluster.
    is_whole_round: Mapped[bool] = mapped_column(default=True)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
    clusters: Mapped[list[Cluster]] = relationship(
        secondary=jury_member_clusters, order_by=Cluster.label, passive_deletes=True)


class Scorecard(db.Model):
    """One juror's scores on one proposal; counts once submitted (and stays editable until the
    preselection phase ends)."""

    __tablename__ = "scorecards"
    __table_args__ = (UniqueConstraint("juror_id", "proposal_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    juror_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    is_submitted: Mapped[bool] = mapped_column(default=False)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    scores: Mapped[list["Score"]] = relationship(
        back_populates="scorecard", cascade="all, delete-orphan", lazy="selectin")

    def score_for(self, criterion_id: int) -> "Score | None":
        for score in self.scores:
            if score.criterion_id == criterion_id:
                return score
        return None


class Score(db.Model):
    __tablename__ = "scores"
    __table_args__ = (UniqueConstraint("scorecard_id", "criterion_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scorecard_id: Mapped[int] = mapped_column(
        ForeignKey("scorecards.id", ondelete="CASCADE"), index=True)
    criterion_id: Mapped[int] = mapped_column(ForeignKey("criteria.id", ondelete="CASCADE"))
    # None: the juror saved a comment but no score yet (a partial card).
    value: Mapped[int | None]
    comment: Mapped[str] = mapped_column(Text, default="")

    scorecard: Mapped[Scorecard] = relationship(back_populates="scores")
    criterion: Mapped[Criterion] = relationship()


class JuryConflict(db.Model):
    """A conflict of interest a juror declared on a proposal: the juror is recused from it."""

    __tablename__ = "jury_conflicts"
    __table_args__ = (UniqueConstraint("juror_id", "proposal_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    juror_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    reason: Mapped[str] = mapped_column(String(1000))
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Withdrawn declarations are kept for the record; declaring again clears this.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
