"""Adoption: municipalities record how far they are with each standard; the platform shows how
far every standard has spread.

Statuses: not yet decided → intends to adopt (planned date) → adopting → adopted (date), or
declined (reason). A municipality without a row has not decided. Every change is kept in
`adoption_events`, so the history and the progress over time can always be shown.

Allowed changes (a municipality may reconsider, but an adoption is not undone silently):
- undecided → intends, adopting, adopted, declined
- intends → undecided, adopting, adopted, declined
- adopting → intends, adopted, declined
- adopted → declined (it stopped using the standard; the reason says why)
- declined → undecided, intends, adopting, adopted (it reconsidered)

Coverage counts adopted municipalities against all active municipalities, by number and by
population. The saving estimate is the round's estimated cost per municipality × (adopters − 1):
the standard was built once instead of by each adopter.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from competition.extensions import db
from competition.models import (
    Adoption,
    AdoptionEvent,
    AdoptionStatus,
    Municipality,
    Role,
    Round,
    Standard,
    User,
)
from competition.services import audit
from competition.services.errors import InvalidState, NotFound, PermissionDenied, ValidationError
from competition.services.proposals import clean_text, is_db_id

S = AdoptionStatus
TRANSITIONS: dict[AdoptionStatus, frozenset[AdoptionStatus]] = {
    S.UNDECIDED: frozenset({S.INTENDS, S.ADOPTING, S.ADOPTED, S.DECLINED}),
    S.INTENDS: frozenset({S.UNDECIDED, S.ADOPTING, S.ADOPTED, S.DECLINED}),
    S.ADOPTING: frozenset({S.INTENDS, S.ADOPTED, S.DECLINED}),
    S.ADOPTED: frozenset({S.DECLINED}),
    S.DECLINED: frozenset({S.UNDECIDED, S.INTENDS, S.ADOPTING, S.ADOPTED}),
}
REASON_MIN, REASON_MAX = 10, 2000


def get_standard(standard_id: int) -> Standard:
    """A standard by id, or NotFound."""
    standard = db.session.get(Standard, standard_id) if is_db_id(standard_id) else None
    if standard is None:
        raise NotFound(_l("No such standard."))
    return standard


def record_refusal(user: User | None) -> str | None:
    """Why this user cannot record adoption for a municipality (None when they can)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return str(_l("You need to log in for this."))
    if not (user.has_role(Role.MEMBER) or user.has_role(Role.DELEGATE)) \
            or user.municipality is None:
        return str(_l("Only members and delegates of a municipality record its adoption."))
    if not user.municipality.is_active:
        return str(_l("Your municipality does not take part at the moment."))
    return None


def status_of(standard: Standard, municipality_id: int) -> Adoption | None:
    """The municipality's current adoption row for the standard (None: not yet decided)."""
    return db.session.scalar(select(Adoption).where(
        Adoption.standard_id == standard.id, Adoption.municipality_id == municipality_id))


def current_status(adoption: Adoption | None) -> AdoptionStatus:
    return AdoptionStatus(adoption.status) if adoption is not None else S.UNDECIDED


def record(actor: User, standard: Standard, status: AdoptionStatus, *,
           planned_on: date | None = None, adopted_on: date | None = None, reason: str = "",
           now: datetime) -> Adoption:
    """Record the actor's municipality's status for a standard (kept in the history)."""
    refusal = record_refusal(actor)
    if refusal:
        raise PermissionDenied(refusal)
    current = status_of(standard, actor.municipality_id)
    before = current_status(current)
    if status is before and status is not S.INTENDS and status is not S.ADOPTED:
        raise InvalidState(_l("This is already the status of your municipality."))
    if status is not before and status not in TRANSITIONS[before]:
        raise InvalidState(_l("From “%(before)s” the status cannot go to “%(after)s”.",
                              before=status_label(before), after=status_label(status)))
    reason = clean_text(reason).strip()
    today = now.date()
    if status is S.INTENDS:
        if planned_on is None:
            raise ValidationError(_l("Give the date you plan to adopt it."), field="planned_on")
        if planned_on < standard.declared_at.date():
            raise ValidationError(_l("The planned date lies after the standard was declared."),
                                  field="planned_on")
    else:
        planned_on = None
    if status is S.ADOPTED:
        if adopted_on is None:
            raise ValidationError(_l("Give the date your municipality adopted it."),
                                  field="adopted_on")
        if adopted_on > today:
            raise ValidationError(_l("The adoption date cannot lie in the future; choose "
                                     "“adopting” until then."), field="adopted_on")
        if adopted_on < standard.declared_at.date():
            raise ValidationError(_l("The adoption date lies after the standard was declared."),
                                  field="adopted_on")
    else:
        adopted_on = None
    if status is S.DECLINED and not REASON_MIN <= len(reason) <= REASON_MAX:
        raise ValidationError(_l("Explain in %(min)d to %(max)d characters why.",
                                 min=REASON_MIN, max=REASON_MAX), field="reason")
    if len(reason) > REASON_MAX:
        raise ValidationError(_l("At most %(max)d characters.", max=REASON_MAX), field="reason")
    if current is None:
        current = Adoption(standard_id=standard.id, municipality_id=actor.municipality_id,
                           status=status.value, updated_at=now, updated_by_id=actor.id)
        db.session.add(current)
    current.status, current.planned_on, current.adopted_on = status.value, planned_on, adopted_on
    current.reason = reason
    current.updated_at, current.updated_by_id = now, actor.id
    db.session.add(AdoptionEvent(
        standard_id=standard.id, municipality_id=actor.municipality_id, status=status.value,
        previous_status=before.value, planned_on=planned_on, adopted_on=adopted_on,
        reason=reason, created_at=now, actor_id=actor.id))
    db.session.flush()
    audit.record("adoption.recorded", actor=actor, now=now, object_type="standard",
                 object_id=standard.id, round_id=standard.round_id,
                 data={"municipality": actor.municipality.code, "from": before.value,
                       "to": status.value,
                       "planned_on": planned_on.isoformat() if planned_on else None,
                       "adopted_on": adopted_on.isoformat() if adopted_on else None})
    return current


def status_label(status: AdoptionStatus) -> str:
    """The status in the current language."""
    return str({
        S.UNDECIDED: _l("not yet decided"),
        S.INTENDS: _l("intends to adopt"),
        S.ADOPTING: _l("adopting"),
        S.ADOPTED: _l("adopted"),
        S.DECLINED: _l("declined"),
    }[status])


def history(standard: Standard, municipality_id: int | None = None) -> list[AdoptionEvent]:
    """The standard's adoption changes, newest first (of one municipality, when given)."""
    stmt = select(AdoptionEvent).where(AdoptionEvent.standard_id == standard.id)
    if municipality_id is not None:
        stmt = stmt.where(AdoptionEvent.municipality_id == municipality_id)
    return list(db.session.scalars(stmt.order_by(AdoptionEvent.created_at.desc(),
                                                 AdoptionEvent.id.desc())))


# --- figures -----------------------------------------------------------------------------------


@dataclass
class Coverage:
    counts: dict[AdoptionStatus, int]  # undecided = active municipalities without a status
    municipalities: int  # active municipalities
    population: int  # their inhabitants
    adopted_population: int

    @property
    def adopted(self) -> int:
        return self.counts[S.ADOPTED]

    @property
    def share(self) -> float:
        return self.adopted / self.municipalities if self.municipalities else 0.0

    @property
    def population_share(self) -> float:
        return self.adopted_population / self.population if self.population else 0.0


def _active_totals() -> tuple[int, int]:
    row = db.session.execute(select(func.count(Municipality.id),
                                    func.coalesce(func.sum(Municipality.population), 0))
                             .where(Municipality.is_active.is_(True))).one()
    return int(row[0]), int(row[1])


def coverage(standard: Standard) -> Coverage:
    """How far the standard has spread: municipalities per status, and the share of
    municipalities and of inhabitants that adopted it."""
    municipalities, population = _active_totals()
    rows = db.session.execute(
        select(Adoption.status, func.count(Adoption.id),
               func.coalesce(func.sum(Municipality.population), 0))
        .join(Municipality, Municipality.id == Adoption.municipality_id)
        .where(Adoption.standard_id == standard.id, Municipality.is_active.is_(True))
        .group_by(Adoption.status)).all()
    counts = dict.fromkeys(AdoptionStatus, 0)
    adopted_population = 0
    for status, n, people in rows:
        counts[AdoptionStatus(status)] += n
        if status == S.ADOPTED.value:
            adopted_population = int(people)
    counts[S.UNDECIDED] += municipalities - sum(n for s, n in counts.items()
                                                if s is not S.UNDECIDED)
    return Coverage(counts, municipalities, population, adopted_population)


def by_province(standard: Standard) -> list[tuple[str, int, dict[AdoptionStatus, int]]]:
    """Per province: its active municipalities and how many have each status."""
    totals = dict(db.session.execute(
        select(Municipality.province, func.count(Municipality.id))
        .where(Municipality.is_active.is_(True)).group_by(Municipality.province)).all())
    per: dict[str, Counter] = defaultdict(Counter)
    for province, status in db.session.execute(
            select(Municipality.province, Adoption.status)
            .join(Adoption, Adoption.municipality_id == Municipality.id)
            .where(Adoption.standard_id == standard.id, Municipality.is_active.is_(True))):
        per[province][AdoptionStatus(status)] += 1
    out = []
    for province in sorted(totals):
        counts = {s: per[province][s] for s in AdoptionStatus}
        counts[S.UNDECIDED] += totals[province] - sum(per[province].values())
        out.append((province, totals[province], counts))
    return out


def progress(standard: Standard) -> list[tuple[date, int]]:
    """The number of adopting municipalities over time: (month, cumulative adopted), from the
    declaration up to the last adoption (current adopters by their adoption date)."""
    dates = sorted(db.session.scalars(select(Adoption.adopted_on).where(
        Adoption.standard_id == standard.id, Adoption.status == S.ADOPTED.value)))
    start = standard.declared_at.date().replace(day=1)
    if not dates:
        return [(start, 0)]
    end = dates[-1].replace(day=1)
    months, month = [], start
    while month <= end:
        months.append(month)
        month = (month.replace(year=month.year + 1, month=1) if month.month == 12
                 else month.replace(month=month.month + 1))
    out, i = [], 0
    for m in months:
        nxt = (m.replace(year=m.year + 1, month=1) if m.month == 12
               else m.replace(month=m.month + 1))
        while i < len(dates) and dates[i] < nxt:
            i += 1
        out.append((m, i))
    return out


def adopters(standard: Standard) -> list[Adoption]:
    """Every municipality's status row for the standard, by municipality name."""
    return list(db.session.scalars(
        select(Adoption).join(Municipality, Municipality.id == Adoption.municipality_id)
        .where(Adoption.standard_id == standard.id).order_by(Municipality.name)))


def saving(standard: Standard, adopted: int) -> int | None:
    """Estimated saving in euros: the round's cost per municipality × (adopters − 1); None when
    the round recorded no cost estimate."""
    rnd = db.session.get(Round, standard.round_id)
    if rnd.estimated_cost is None:
        return None
    return rnd.estimated_cost * max(adopted - 1, 0)


@dataclass
class DashboardRow:
    standard: Standard
    adopted: int
    saving: int | None


def dashboard() -> list[DashboardRow]:
    """Every standard with its number of adopters and estimated saving, most adopted first."""
    counts = dict(db.session.execute(
        select(Adoption.standard_id, func.count(Adoption.id))
        .join(Municipality, Municipality.id == Adoption.municipality_id)
        .where(Adoption.status == S.ADOPTED.value, Municipality.is_active.is_(True))
        .group_by(Adoption.standard_id)).all())
    standards = db.session.scalars(select(Standard).order_by(Standard.declared_at.desc(),
                                                             Standard.id)).all()
    rows = [DashboardRow(s, counts.get(s.id, 0), saving(s, counts.get(s.id, 0)))
            for s in standards]
    return sorted(rows, key=lambda r: (-r.adopted, r.standard.name.lower()))


def top_adopters(limit: int = 10) -> list[tuple[Municipality, int]]:
    """The "jatprijs": municipalities that adopted the most standards."""
    rows = db.session.execute(
        select(Municipality, func.count(Adoption.id).label("n"))
        .join(Adoption, Adoption.municipality_id == Municipality.id)
        .where(Adoption.status == S.ADOPTED.value)
        .group_by(Municipality.id).order_by(func.count(Adoption.id).desc(), Municipality.name)
        .limit(limit)).all()
    return [(m, n) for m, n in rows]


def fastest(limit: int = 10, minimum: int = 1) -> list[tuple[Standard, float, int]]:
    """Standards adopted fastest: median days from declaration to adoption, with at least
    `minimum` adopters; (standard, median days, adopters), fastest first."""
    rows = db.session.execute(
        select(Standard, Adoption.adopted_on).join(Adoption, Adoption.standard_id == Standard.id)
        .where(Adoption.status == S.ADOPTED.value)).all()
    days: dict[int, list[int]] = defaultdict(list)
    standards: dict[int, Standard] = {}
    for standard, adopted_on in rows:
        standards[standard.id] = standard
        days[standard.id].append(max((adopted_on - standard.declared_at.date()).days, 0))
    out = []
    for sid, values in days.items():
        if len(values) < minimum:
            continue
        values.sort()
        mid = len(values) // 2
        median = values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
        out.append((standards[sid], float(median), len(values)))
    return sorted(out, key=lambda r: (r[1], -r[2], r[0].name.lower()))[:limit]


def municipality_statuses(municipality: Municipality) -> list[tuple[Standard, Adoption | None]]:
    """Every standard with the municipality's status for it (None: not yet decided)."""
    standards = db.session.scalars(select(Standard).order_by(Standard.declared_at.desc(),
                                                             Standard.id)).all()
    rows = {a.standard_id: a for a in db.session.scalars(
        select(Adoption).where(Adoption.municipality_id == municipality.id))}
    return [(s, rows.get(s.id)) for s in standards]


EXPORT_COLUMNS = ("municipality_code", "municipality", "province", "population", "status",
                  "planned_on", "adopted_on", "reason", "updated_at")


def export_rows(standard: Standard) -> list[list[str]]:
    """The standard's adoption table for CSV: every active municipality, also undecided ones."""
    rows = {a.municipality_id: a for a in adopters(standard)}
    out = []
    for m in db.session.scalars(select(Municipality).where(Municipality.is_active.is_(True))
                                .order_by(Municipality.name)):
        a = rows.get(m.id)
        out.append([
            m.code, m.name, m.province, str(m.population),
            a.status if a else S.UNDECIDED.value,
            a.planned_on.isoformat() if a and a.planned_on else "",
            a.adopted_on.isoformat() if a and a.adopted_on else "",
            a.reason if a else "",
            a.updated_at.isoformat() if a else "",
        ])
    return out
