"""The competition clock: the ordered phases of a round and each phase's dated window."""

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from competition.extensions import db
from competition.models.types import UTCDateTime


class Phase(enum.StrEnum):
    DRAFT = "draft"
    SUBMISSION = "submission"
    CLUSTERING = "clustering"
    PRESELECTION = "preselection"
    DEVELOPMENT = "development"
    FINAL_VOTE = "final_vote"
    DECIDED = "decided"
    ADOPTION = "adoption"

    @property
    def index(self) -> int:
        return PHASES.index(self)

    @property
    def next(self) -> "Phase | None":
        i = self.index
        return PHASES[i + 1] if i + 1 < len(PHASES) else None

    @property
    def previous(self) -> "Phase | None":
        i = self.index
        return PHASES[i - 1] if i > 0 else None


PHASES: list[Phase] = list(Phase)
PHASE_VALUES = ", ".join(f"'{p.value}'" for p in PHASES)


class PhaseWindow(db.Model):
    """One phase of one round.

    Only the planned end is stored: a phase starts where the previous one ends, so windows can
    never overlap or leave gaps. `entered_at`/`left_at` record what really happened; `left_at` is
    set exactly once (compare-and-set), which is what makes end-of-phase work run exactly once.
    """

    __tablename__ = "phase_windows"
    __table_args__ = (UniqueConstraint("round_id", "phase"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"))
    phase: Mapped[str] = mapped_column(String(20))
    # None only for the last phase (adoption), which is open-ended.
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    left_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    round = relationship("Round", back_populates="windows")
