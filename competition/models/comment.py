"""Questions and comments on a proposal, answers by its municipality, and moderation."""

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from competition.extensions import db
from competition.models.municipality import Municipality
from competition.models.types import UTCDateTime
from competition.models.user import User


class CommentKind(enum.StrEnum):
    QUESTION = "question"
    COMMENT = "comment"
    ANSWER = "answer"


class Comment(db.Model):
    __tablename__ = "comments"
    __table_args__ = (
        CheckConstraint("kind IN ('question', 'comment', 'answer')", name="kind_valid"),
        CheckConstraint("kind <> 'answer' OR parent_id IS NOT NULL", name="answer_has_parent"),
        CheckConstraint(
            "hidden_at IS NULL OR hidden_reason IS NOT NULL", name="hidden_has_reason"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The author's municipality at the time of writing (None for organisers and jurors).
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipalities.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    hidden_reason: Mapped[str | None] = mapped_column(String(500))

    author: Mapped[User] = relationship(foreign_keys=[author_id], lazy="joined")
    municipality: Mapped[Municipality | None] = relationship(lazy="joined")

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None


class ContentReport(db.Model):
    """Someone reported a comment as abusive; an organiser hides it or dismisses the report."""

    __tablename__ = "content_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"), index=True)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution: Mapped[str | None] = mapped_column(String(20))

    comment: Mapped[Comment] = relationship(lazy="joined")
