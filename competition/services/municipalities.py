"""Municipalities: the CBS list, imported idempotently from CSV."""

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from competition.extensions import db
from competition.models import Municipality, Role, User
from competition.services import audit
from competition.services.accounts import require_role
from competition.services.errors import NotFound, ValidationError

CODE_RE = re.compile(r"^GM[0-9]{4}$")
# Far above any Dutch municipality; keeps values inside a 32-bit integer column.
MAX_POPULATION = 100_000_000
COLUMNS = ("code", "name", "province", "population")
PROVINCES = (
    "Drenthe", "Flevoland", "Fryslân", "Gelderland", "Groningen", "Limburg", "Noord-Brabant",
    "Noord-Holland", "Overijssel", "Utrecht", "Zeeland", "Zuid-Holland",
)
BUNDLED_CSV = Path(__file__).resolve().parent.parent / "data" / "municipalities-nl.csv"


@dataclass(frozen=True)
class MunicipalityRow:
    line: int
    code: str
    name: str
    province: str
    population: int


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    deactivated: list[str] = field(default_factory=list)


class MunicipalityImportError(ValidationError):
    """The file has invalid rows; `errors` lists (line number, message)."""

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        super().__init__(_l("The file has %(n)d invalid row(s); nothing was imported.",
                            n=len(errors)))
        self.errors = errors


def parse_csv(text: str) -> list[MunicipalityRow]:
    """Parse and validate every row; raises with all errors (line numbers) if any row is bad."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    errors: list[tuple[int, str]] = []
    rows: list[MunicipalityRow] = []
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise MunicipalityImportError([(1, f"unreadable header: {exc}")]) from None
    if header is None or not any(h.strip() for h in header):
        raise MunicipalityImportError([(1, "the file is empty")])
    header = [h.strip().lower() for h in header]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise MunicipalityImportError(
            [(1, f"missing column(s): {', '.join(missing)} (expected {','.join(COLUMNS)})")]
        )
    index = {c: header.index(c) for c in COLUMNS}
    seen: dict[str, int] = {}
    while True:
        line = reader.line_num + 1  # where the next record starts (quoted cells may span lines)
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append((line, f"unreadable row: {exc}"))
            break  # the reader cannot go on after a malformed row
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            errors.append((line, f"expected {len(header)} columns, found {len(record)}"))
            continue
        code = record[index["code"]].strip().upper()
        name = record[index["name"]].strip()
        province = record[index["province"]].strip()
        population_text = record[index["population"]].strip().replace("_", "")
        problems = []
        if not CODE_RE.match(code):
            problems.append(f"code {code!r} is not GM followed by four digits")
        elif code in seen:
            problems.append(f"code {code} also on line {seen[code]}")
        else:
            seen[code] = line
        if not name or len(name) > 120:
            problems.append("name is empty or longer than 120 characters")
        elif not name.isprintable():  # e.g. NUL, which PostgreSQL refuses in text
            problems.append(f"name {name!r} contains control characters")
        if province not in PROVINCES:
            problems.append(f"unknown province {province!r}")
        # isascii: str.isdigit() also accepts characters such as "²" that int() refuses.
        if not (population_text.isascii() and population_text.isdigit()):
            problems.append(f"population {population_text!r} is not a whole number ≥ 0")
        elif int(population_text) > MAX_POPULATION:
            problems.append(f"population {population_text} is larger than {MAX_POPULATION:_}")
        if problems:
            errors.append((line, "; ".join(problems)))
            continue
        rows.append(MunicipalityRow(line, code, name, province, int(population_text)))
    if errors:
        raise MunicipalityImportError(errors)
    if not rows:
        raise MunicipalityImportError([(2, "the file has no municipalities")])
    return rows


def import_rows(
    rows: list[MunicipalityRow],
    *,
    actor: User | None,
    now: datetime,
    deactivate_missing: bool = False,
) -> ImportReport:
    """Upsert municipalities by CBS code; idempotent. Optionally deactivate ones not listed
    (after a merger the old municipality stays, inactive, so its history remains)."""
    if actor is not None:
        require_role(actor, Role.ORGANISER)
    existing = {m.code: m for m in db.session.scalars(select(Municipality))}
    report = ImportReport()
    for row in rows:
        current = existing.get(row.code)
        if current is None:
            db.session.add(
                Municipality(code=row.code, name=row.name, province=row.province,
                             population=row.population, is_active=True)
            )
            report.created.append(row.code)
            continue
        values = (row.name, row.province, row.population, True)
        if (current.name, current.province, current.population, current.is_active) == values:
            report.unchanged += 1
            continue
        current.name, current.province, current.population = row.name, row.province, row.population
        current.is_active = True
        report.updated.append(row.code)
    if deactivate_missing:
        listed = {row.code for row in rows}
        for code, municipality in existing.items():
            if code not in listed and municipality.is_active:
                municipality.is_active = False
                report.deactivated.append(code)
    db.session.flush()
    if report.created or report.updated or report.deactivated:
        audit.record(
            "municipality.imported",
            actor=actor,
            now=now,
            object_type="municipality",
            data={"created": report.created, "updated": report.updated,
                  "deactivated": report.deactivated, "unchanged": report.unchanged},
        )
    return report


def import_bundled(*, now: datetime) -> ImportReport:
    """Load the project's own list of all current municipalities."""
    return import_rows(parse_csv(BUNDLED_CSV.read_text(encoding="utf-8")), actor=None, now=now)


def set_active(actor: User, municipality: Municipality, is_active: bool, *, now: datetime) -> None:
    """Organisers (de)activate a municipality, e.g. after a merger."""
    require_role(actor, Role.ORGANISER)
    if municipality.is_active == is_active:
        return
    municipality.is_active = is_active
    audit.record("municipality.activated" if is_active else "municipality.deactivated",
                 actor=actor, now=now, object_type="municipality", object_id=municipality.code)


def get_by_code(code: str) -> Municipality:
    """A municipality by CBS code, or NotFound."""
    municipality = db.session.scalar(select(Municipality).where(Municipality.code == code.upper()))
    if municipality is None:
        raise NotFound(_l("No municipality with code %(code)s.", code=code))
    return municipality


def active_choices() -> list[tuple[int, str]]:
    """(id, "name (province)") of active municipalities, by name, for select fields."""
    rows = db.session.execute(
        select(Municipality.id, Municipality.name, Municipality.province)
        .where(Municipality.is_active)
        .order_by(func.lower(Municipality.name))
    )
    return [(mid, f"{name} ({province})") for mid, name, province in rows]
