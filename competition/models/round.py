"""Competition round: its rules and its current phase."""

import secrets
from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from competition.extensions import db
from competition.models.phase import PHASE_VALUES, PHASES, Phase, PhaseWindow
from competition.models.types import UTCDateTime

VOTE_WEIGHTINGS = ("equal", "population")


def new_draw_seed() -> str:
    return secrets.token_hex(16)


class Round(db.Model):
    __tablename__ = "rounds"
    __table_args__ = (
        CheckConstraint(f"phase IN ({PHASE_VALUES})", name="phase_valid"),
        CheckConstraint("max_finalists BETWEEN 1 AND 10", name="max_finalists_range"),
        CheckConstraint("max_winners IN (1, 2)", name="max_winners_range"),
        CheckConstraint("jury_weight >= 0 AND jury_weight <= 1", name="jury_weight_range"),
        CheckConstraint(
            "diversity_threshold > 0 AND diversity_threshold <= 1", name="diversity_range"
        ),
        CheckConstraint("vote_weighting IN ('equal', 'population')", name="vote_weighting_valid"),
        CheckConstraint("estimated_cost IS NULL OR estimated_cost >= 0",
                        name="estimated_cost_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(160))
    theme: Mapped[str] = mapped_column(String(160))
    description: Mapped[str] = mapped_column(Text, default="")

    # Rules: fixed once the submission phase opens.
    max_finalists: Mapped[int] = mapped_column(default=3)
    max_winners: Mapped[int] = mapped_column(default=1)
    jury_weight: Mapped[float] = mapped_column(Float, default=0.5)
    vote_weighting: Mapped[str] = mapped_column(String(20), default="equal")
    diversity_threshold: Mapped[float] = mapped_column(Float, default=1 / 3)
    is_own_finalist_vote_allowed: Mapped[bool] = mapped_column(default=True)
    are_juror_names_public: Mapped[bool] = mapped_column(default=False)
    are_ballots_anonymous: Mapped[bool] = mapped_column(default=False)
    # Estimated cost (euros) for one municipality to develop such a solution on its own: the
    # basis of the "saving" estimate when others adopt the standard instead. Optional.
    estimated_cost: Mapped[int | None]
    # Published before any draw is needed, so every tie-break can be re-done by anyone.
    draw_seed: Mapped[str] = mapped_column(String(64), default=new_draw_seed)

    phase: Mapped[str] = mapped_column(String(20), default=Phase.DRAFT.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    windows: Mapped[list[PhaseWindow]] = relationship(
        back_populates="round",
        cascade="all, delete-orphan",
        order_by=PhaseWindow.id,
        lazy="selectin",
    )

    @property
    def current_phase(self) -> Phase:
        return Phase(self.phase)

    @property
    def are_rules_locked(self) -> bool:
        return self.current_phase is not Phase.DRAFT

    def window(self, phase: Phase) -> PhaseWindow:
        for w in self.windows:
            if w.phase == phase.value:
                return w
        raise LookupError(f"round {self.id} has no window for {phase}")

    def starts_at(self, phase: Phase) -> datetime | None:
        """A phase starts where the previous one ends; draft starts when the round is made."""
        if phase is Phase.DRAFT:
            return self.created_at
        return self.window(phase.previous).ends_at

    def timeline(self) -> list[tuple[Phase, datetime | None, datetime | None, PhaseWindow]]:
        return [(p, self.starts_at(p), self.window(p).ends_at, self.window(p)) for p in PHASES]

    def __repr__(self) -> str:
        return f"<Round {self.slug} {self.phase}>"
