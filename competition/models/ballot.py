"""The final vote: ranked ballots (every version kept, one current per municipality per
cluster), population weight brackets and the frozen result per cluster."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from competition.extensions import db
from competition.models.municipality import Municipality
from competition.models.types import UTCDateTime
from competition.models.user import User


class WeightBracket(db.Model):
    """Municipalities from `min_population` inhabitants up to the next bracket weigh `weight`
    (only used when the round weights the final vote by population)."""

    __tablename__ = "weight_brackets"
    __table_args__ = (
        UniqueConstraint("round_id", "min_population"),
        CheckConstraint("min_population >= 0", name="min_non_negative"),
        CheckConstraint("weight > 0", name="weight_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"), index=True)
    min_population: Mapped[int]
    weight: Mapped[Decimal] = mapped_column(Numeric(10, 3))


class FinalBallot(db.Model):
    """One version of a municipality's ranked ballot in a cluster. Changing it adds a version;
    only the current one counts."""

    __tablename__ = "final_ballots"
    __table_args__ = (
        # One current ballot per municipality per cluster, enforced by the database.
        Index("uq_final_ballots_current", "cluster_id", "municipality_id", unique=True,
              sqlite_where=text("is_current"), postgresql_where=text("is_current")),
        CheckConstraint("weight >= 0", name="weight_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id"), index=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    # Proposal ids, best first; finalists left out rank below all ranked ones.
    ranking: Mapped[list[int]] = mapped_column(JSON)
    weight: Mapped[Decimal] = mapped_column(Numeric(10, 3))
    receipt: Mapped[str] = mapped_column(String(64), unique=True)
    salt: Mapped[str] = mapped_column(String(32))
    is_current: Mapped[bool] = mapped_column(default=True)
    cast_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime())
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    municipality: Mapped[Municipality] = relationship(lazy="joined")
    cast_by: Mapped[User] = relationship()


class VoteResult(db.Model):
    """The count of one cluster's final vote, frozen when the vote closed."""

    __tablename__ = "vote_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id"), unique=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    winner_ids: Mapped[list[int]] = mapped_column(JSON)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The audit chain's head right after counting: anyone can later check that the log
    # still leads to it.
    audit_head: Mapped[str] = mapped_column(String(64), default="")
