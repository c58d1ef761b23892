"""Clusters ("vraagstukken"): groups of similar proposals in a round, suggested by the engine
and confirmed by an organiser."""

from datetime import datetime

from sqlalchemy import Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from competition.extensions import db
from competition.models.proposal import Proposal
from competition.models.types import UTCDateTime


class Cluster(db.Model):
    __tablename__ = "clusters"
    # Re-running the engine deletes clusters and makes new ones; an id must never come back
    # (SQLite would reuse the highest ids), or a form still open on a deleted cluster would
    # act on another one, and old links would show a different "vraagstuk".
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    label: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    # Labels the engine suggested, kept so an organiser sees what it thought.
    suggested_label: Mapped[str] = mapped_column(String(120), default="")
    is_confirmed: Mapped[bool] = mapped_column(default=False)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Set when an organiser changed the cluster by hand (re-running keeps such clusters).
    is_edited: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    members: Mapped[list["ClusterMember"]] = relationship(
        back_populates="cluster", order_by="ClusterMember.similarity.desc()",
        cascade="all, delete-orphan",
    )


class ClusterMember(db.Model):
    """A proposal's place in a cluster; a proposal is in at most one cluster."""

    __tablename__ = "cluster_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"),
                                            index=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), unique=True)
    # Cosine similarity to the cluster's centre at the time it was computed (0–1).
    similarity: Mapped[float] = mapped_column(Float, default=0.0)
    # Placed here by an organiser: re-running clustering keeps it where it is.
    is_pinned: Mapped[bool] = mapped_column(default=False)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())

    cluster: Mapped[Cluster] = relationship(back_populates="members")
    proposal: Mapped[Proposal] = relationship(lazy="joined")
