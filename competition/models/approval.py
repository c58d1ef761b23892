"""The peer vote of the preselection: one approval ballot per municipality per cluster."""

from datetime import datetime

from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from competition.extensions import db
from competition.models.municipality import Municipality
from competition.models.types import UTCDateTime
from competition.models.user import User


class ApprovalBallot(db.Model):
    __tablename__ = "approval_ballots"
    # The rule "one ballot per municipality per cluster" lives in the database too: two
    # delegates of one municipality voting at once cannot both create one.
    __table_args__ = (UniqueConstraint("cluster_id", "municipality_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id"), index=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    cast_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Counts the changes, and guards against two delegates overwriting each other unseen.
    version: Mapped[int] = mapped_column(default=1)

    municipality: Mapped[Municipality] = relationship(lazy="joined")
    cast_by: Mapped[User] = relationship(foreign_keys=[cast_by_id])
    updated_by: Mapped[User] = relationship(foreign_keys=[updated_by_id])
    approvals: Mapped[list["Approval"]] = relationship(
        back_populates="ballot", cascade="all, delete-orphan", lazy="selectin")

    __mapper_args__ = {"version_id_col": version}

    @property
    def proposal_ids(self) -> set[int]:
        return {a.proposal_id for a in self.approvals}


class Approval(db.Model):
    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("ballot_id", "proposal_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ballot_id: Mapped[int] = mapped_column(
        ForeignKey("approval_ballots.id", ondelete="CASCADE"), index=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)

    ballot: Mapped[ApprovalBallot] = relationship(back_populates="approvals")
