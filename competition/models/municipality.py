"""Municipality (gemeente), identified by its CBS code."""

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from competition.extensions import db


def _without_digits(expression: str) -> str:
    for digit in "0123456789":
        expression = f"replace({expression}, '{digit}', '')"
    return expression


# "GM" and four ASCII digits, the same on SQLite and PostgreSQL. (LIKE 'GM____' is not: on
# SQLite it ignores case, and `_` matches any character.)
CODE_FORMAT = (
    "length(code) = 6 AND substr(code, 1, 2) = 'GM' AND "
    f"{_without_digits('substr(code, 3)')} = ''"
)


class Municipality(db.Model):
    __tablename__ = "municipalities"
    __table_args__ = (
        CheckConstraint(CODE_FORMAT, name="code_format"),
        CheckConstraint("population >= 0", name="population_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(6), unique=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    province: Mapped[str] = mapped_column(String(40), index=True)
    population: Mapped[int]
    is_active: Mapped[bool] = mapped_column(default=True)

    def __repr__(self) -> str:
        return f"<Municipality {self.code} {self.name}>"
