"""Jury criteria: the published scorecard of a round."""

from sqlalchemy import CheckConstraint, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from competition.extensions import db

# The scorecard every new round starts with (organisers change it while the round is a draft).
DEFAULT_CRITERIA = (
    ("Waarde voor inwoners en ondernemers", "Value for residents and businesses",
     "Hoeveel beter wordt het voor de mensen die het gebruiken?",
     "How much better does it make things for the people who use it?"),
    ("Herbruikbaarheid door andere gemeenten", "Reusability by other municipalities",
     "Kunnen andere gemeenten het overnemen zonder het opnieuw te bouwen?",
     "Can other municipalities take it over without building it again?"),
    ("Haalbaarheid", "Feasibility",
     "Is het plan realistisch in tijd, kennis en middelen?",
     "Is the plan realistic in time, skills and means?"),
    ("Kosteneffectiviteit", "Cost-effectiveness",
     "Staan de kosten in verhouding tot de opbrengst, ook als velen het gebruiken?",
     "Are the costs in proportion to the benefits, also when many use it?"),
)


class Criterion(db.Model):
    __tablename__ = "criteria"
    __table_args__ = (
        CheckConstraint("scale_min < scale_max", name="scale_valid"),
        CheckConstraint("scale_max - scale_min <= 100", name="scale_size"),
        CheckConstraint("weight > 0", name="weight_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    name_nl: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120), default="")
    description_nl: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    scale_min: Mapped[int] = mapped_column(default=1)
    scale_max: Mapped[int] = mapped_column(default=5)
    weight: Mapped[float] = mapped_column(Float, default=1.0)

    def name(self, locale: str) -> str:
        """The name in `locale`, falling back to Dutch."""
        return (self.name_en if locale == "en" else "") or self.name_nl

    def description(self, locale: str) -> str:
        return (self.description_en if locale == "en" else "") or self.description_nl

    @property
    def scale(self) -> range:
        return range(self.scale_min, self.scale_max + 1)

    def __repr__(self) -> str:
        return f"<Criterion {self.id} {self.name_nl!r}>"
