"""The development phase: finalists publish progress, deliverables and a cost and licence
statement."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from competition.extensions import db
from competition.models.types import UTCDateTime
from competition.models.user import User

# Licences offered for a standard (SPDX identifiers); "other" needs an explanation.
OPEN_LICENCES = ("EUPL-1.2", "MIT", "Apache-2.0", "GPL-3.0-or-later", "AGPL-3.0-or-later",
                 "MPL-2.0", "CC-BY-4.0", "CC0-1.0")


class ProgressUpdate(db.Model):
    __tablename__ = "progress_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(160))
    body: Mapped[str] = mapped_column(Text)  # Markdown, sanitised when shown
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    author: Mapped[User] = relationship(lazy="joined")


class FinalistWork(db.Model):
    """A finalist's links to its deliverables and its cost and licence statement."""

    __tablename__ = "finalist_work"
    __table_args__ = (
        CheckConstraint("cost_estimate IS NULL OR cost_estimate >= 0", name="cost_non_negative"),
        CheckConstraint("yearly_cost IS NULL OR yearly_cost >= 0", name="yearly_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), unique=True)
    demo_url: Mapped[str] = mapped_column(String(500), default="")
    documentation_url: Mapped[str] = mapped_column(String(500), default="")
    source_url: Mapped[str] = mapped_column(String(500), default="")
    licence: Mapped[str] = mapped_column(String(40), default="")
    licence_notes: Mapped[str] = mapped_column(Text, default="")
    # Euros: what building it cost, and what running it costs another municipality per year.
    cost_estimate: Mapped[int | None]
    yearly_cost: Mapped[int | None]
    cost_notes: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    updated_by: Mapped[User] = relationship()

    @property
    def is_open_licence(self) -> bool:
        return self.licence in OPEN_LICENCES
