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
Recording the same status again corrects its details (planned date, adoption date, reason);
it is refused when nothing would change.

Dates are calendar days in Dutch time: the planned date lies from today up to ten years
ahead; the adoption date lies between the day the standard was declared and today. Declining
needs a reason.

Coverage counts adopted municipalities against all active municipalities, by number and by
population; every figure (coverage, provinces, progress, dashboard, jatprijs) counts active
municipalities only, so they agree with each other. The saving estimate is the round's
estimated cost per municipality × (adopters − 1): the standard was built once instead of by
each adopter.
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
    Cluster,
    CoSubmission,
    CoSubmissionStatus,
    FinalBallot,
    Municipality,
    Phase,
    Proposal,
    ProposalStatus,
    Role,
    Round,
    Standard,
    User,
    VoteResult,
)
from competition.models.types import LOCAL_TZ
from competition.services import audit
from competition.services.errors import InvalidState, PermissionDenied, ValidationError
from competition.services.locks import lock_row
from competition.services.proposals import clean_text

S = AdoptionStatus
TRANSITIONS: dict[AdoptionStatus, frozenset[AdoptionStatus]] = {
    S.UNDECIDED: frozenset({S.INTENDS, S.ADOPTING, S.ADOPTED, S.DECLINED}),
    S.INTENDS: frozenset({S.UNDECIDED, S.ADOPTING, S.ADOPTED, S.DECLINED}),
    S.ADOPTING: frozenset({S.INTENDS, S.ADOPTED, S.DECLINED}),
    S.ADOPTED: frozenset({S.DECLINED}),
    S.DECLINED: frozenset({S.UNDECIDED, S.INTENDS, S.ADOPTING, S.ADOPTED}),
}
# The order in which tables list the statuses: the way a municipality goes.
STATUS_ORDER = (S.UNDECIDED, S.INTENDS, S.ADOPTING, S.ADOPTED, S.DECLINED)
REASON_MIN, REASON_MAX = 10, 2000
PLAN_HORIZON_YEARS = 10
HISTORY_LIMIT = 20


def local_date(moment: datetime) -> date:
    """The calendar day of a moment in Dutch time (the day people write down)."""
    return moment.astimezone(LOCAL_TZ).date()


def declared_on(standard: Standard) -> date:
    """The day (Dutch time) the standard was declared."""
    return local_date(standard.declared_at)


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
    """The status an adoption row stands for (no row: not yet decided)."""
    return AdoptionStatus(adoption.status) if adoption is not None else S.UNDECIDED


def _lock_municipality(municipality_id: int) -> None:
    """Queue simultaneous records of one municipality, so the first record of two requests
    cannot both insert a row."""
    lock_row(Municipality, municipality_id)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _check_dates(standard: Standard, status: AdoptionStatus, planned_on: date | None,
                 adopted_on: date | None, today: date) -> tuple[date | None, date | None]:
    """The planned and adoption date the status keeps (the other is dropped), checked."""
    if status is S.INTENDS:
        if planned_on is None:
            raise ValidationError(_l("Give the date you plan to adopt it."), field="planned_on")
        if planned_on < today or planned_on < declared_on(standard):
            raise ValidationError(_l("The planned date cannot lie in the past."),
                                  field="planned_on")
        if planned_on > _add_years(today, PLAN_HORIZON_YEARS):
            raise ValidationError(_l("The planned date lies at most %(years)d years ahead.",
                                     years=PLAN_HORIZON_YEARS), field="planned_on")
    else:
        planned_on = None
    if status is S.ADOPTED:
        if adopted_on is None:
            raise ValidationError(_l("Give the date your municipality adopted it."),
                                  field="adopted_on")
        if adopted_on > today:
            raise ValidationError(_l("The adoption date cannot lie in the future; choose "
                                     "“adopting” until then."), field="adopted_on")
        if adopted_on < declared_on(standard):
            raise ValidationError(
                _l("The adoption date cannot lie before the standard was declared (%(day)s).",
                   day=declared_on(standard).isoformat()), field="adopted_on")
    else:
        adopted_on = None
    return planned_on, adopted_on


def record(actor: User, standard: Standard, status: AdoptionStatus | str, *,
           planned_on: date | None = None, adopted_on: date | None = None, reason: str = "",
           now: datetime) -> Adoption:
    """Record the actor's municipality's status for a standard (kept in the history)."""
    refusal = record_refusal(actor)
    if refusal:
        raise PermissionDenied(refusal)
    try:
        status = AdoptionStatus(status)
    except ValueError:
        raise ValidationError(_l("Choose one of the statuses."), field="status") from None
    _lock_municipality(actor.municipality_id)
    current = status_of(standard, actor.municipality_id)
    before = current_status(current)
    if status is not before and status not in TRANSITIONS[before]:
        raise InvalidState(_l("From “%(before)s” the status cannot go to “%(after)s”.",
                              before=status_label(before), after=status_label(status)),
                           field="status")
    reason = clean_text(reason)
    if len(reason) > REASON_MAX:
        raise ValidationError(_l("At most %(max)d characters.", max=REASON_MAX), field="reason")
    planned_on, adopted_on = _check_dates(standard, status, planned_on, adopted_on,
                                          local_date(now))
    if status is S.DECLINED and len(reason) < REASON_MIN:
        raise ValidationError(_l("Explain in %(min)d to %(max)d characters why.",
                                 min=REASON_MIN, max=REASON_MAX), field="reason")
    if status is before and (current is None or (current.planned_on, current.adopted_on,
                                                 current.reason)
                             == (planned_on, adopted_on, reason)):
        raise InvalidState(_l("This is already the status of your municipality."),
                           field="status")
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


def status_label(status: AdoptionStatus | str) -> str:
    """The status in the current language."""
    return str({
        S.UNDECIDED: _l("not yet decided"),
        S.INTENDS: _l("intends to adopt"),
        S.ADOPTING: _l("adopting"),
        S.ADOPTED: _l("adopted"),
        S.DECLINED: _l("declined"),
    }[AdoptionStatus(status)])


def history(standard: Standard, municipality_id: int | None = None,
            limit: int | None = None) -> list[AdoptionEvent]:
    """The standard's adoption changes, newest first (of one municipality, when given; the
    latest `limit`, when given)."""
    stmt = select(AdoptionEvent).where(AdoptionEvent.standard_id == standard.id)
    if municipality_id is not None:
        stmt = stmt.where(AdoptionEvent.municipality_id == municipality_id)
    stmt = stmt.order_by(AdoptionEvent.created_at.desc(), AdoptionEvent.id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt))


def history_count(standard: Standard) -> int:
    """How many changes the standard's history holds."""
    return db.session.scalar(select(func.count(AdoptionEvent.id))
                             .where(AdoptionEvent.standard_id == standard.id)) or 0


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


def active_municipality_count() -> int:
    """How many municipalities take part (the base of every share)."""
    return _active_totals()[0]


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
    # Undecided: every active municipality without another status (with or without a row).
    counts[S.UNDECIDED] = municipalities - sum(n for s, n in counts.items()
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
        counts[S.UNDECIDED] = totals[province] - sum(n for s, n in counts.items()
                                                     if s is not S.UNDECIDED)
        out.append((province, totals[province], counts))
    return out


def _next_month(month: date) -> date:
    return (month.replace(year=month.year + 1, month=1) if month.month == 12
            else month.replace(month=month.month + 1))


def progress(standard: Standard, until: date | None = None) -> list[tuple[date, int]]:
    """The number of adopting municipalities over time: (first day of the month, adopted by the
    end of that month), from the month of the declaration up to the month of `until` (or of the
    last adoption, when later or when `until` is not given). Counts the active municipalities
    that adopted it now, by their adoption date."""
    dates = sorted(db.session.scalars(
        select(Adoption.adopted_on)
        .join(Municipality, Municipality.id == Adoption.municipality_id)
        .where(Adoption.standard_id == standard.id, Adoption.status == S.ADOPTED.value,
               Municipality.is_active.is_(True))))
    start = declared_on(standard).replace(day=1)
    end = start
    if dates:
        end = max(end, dates[-1].replace(day=1))
    if until is not None:
        end = max(end, until.replace(day=1))
    out, month, i = [], start, 0
    while month <= end:
        nxt = _next_month(month)
        while i < len(dates) and dates[i] < nxt:
            i += 1
        out.append((month, i))
        month = nxt
    return out


def adopters(standard: Standard) -> list[Adoption]:
    """Every active municipality's status row for the standard, by municipality name (the
    same municipalities the counts and the CSV cover)."""
    return list(db.session.scalars(
        select(Adoption).join(Municipality, Municipality.id == Adoption.municipality_id)
        .where(Adoption.standard_id == standard.id, Municipality.is_active)
        .order_by(Municipality.name)))


def saving(standard: Standard, adopted: int) -> int | None:
    """Estimated saving in euros: the round's cost per municipality × (adopters − 1); None when
    the round recorded no cost estimate."""
    rnd = db.session.get(Round, standard.round_id)
    if rnd.estimated_cost is None:
        return None
    return rnd.estimated_cost * max(adopted - 1, 0)


def _adopted_counts() -> dict[int, int]:
    """Per standard id: the active municipalities that adopted it (standards without any are
    left out)."""
    return dict(db.session.execute(
        select(Adoption.standard_id, func.count(Adoption.id))
        .join(Municipality, Municipality.id == Adoption.municipality_id)
        .where(Adoption.status == S.ADOPTED.value, Municipality.is_active.is_(True))
        .group_by(Adoption.standard_id)).all())


def adoption_counts() -> dict[int, int]:
    """How many active municipalities adopted each standard, by standard id (0 when none)."""
    counts = _adopted_counts()
    return {sid: counts.get(sid, 0) for sid in db.session.scalars(select(Standard.id))}


@dataclass
class DashboardRow:
    standard: Standard
    adopted: int
    saving: int | None
    round: Round | None = None
    municipalities: int = 0  # active municipalities: the base of the share

    @property
    def share(self) -> float:
        return self.adopted / self.municipalities if self.municipalities else 0.0

    @property
    def cost(self) -> int | None:
        """The round's estimated development cost per municipality (None: not recorded)."""
        return self.round.estimated_cost if self.round is not None else None


def dashboard() -> list[DashboardRow]:
    """Every standard with its number of adopters and estimated saving, most adopted first."""
    counts = _adopted_counts()
    municipalities = active_municipality_count()
    rows = []
    for standard, rnd in db.session.execute(
            select(Standard, Round).join(Round, Round.id == Standard.round_id)
            .order_by(Standard.declared_at.desc(), Standard.id)).all():
        adopted = counts.get(standard.id, 0)
        rows.append(DashboardRow(standard, adopted, saving(standard, adopted), rnd,
                                 municipalities))
    return sorted(rows, key=lambda r: (-r.adopted, r.standard.name.lower(), r.standard.id))


@dataclass
class DashboardTotals:
    standards: int
    adoptions: int  # standards × municipalities that adopted them
    municipalities: int  # active municipalities that adopted at least one standard
    saving: int | None  # over the standards with a cost estimate (None: no estimate at all)
    without_estimate: int  # standards whose round recorded no cost


def dashboard_totals(rows: list[DashboardRow]) -> DashboardTotals:
    """The dashboard's totals row."""
    estimated = [r.saving for r in rows if r.saving is not None]
    adopting = db.session.scalar(
        select(func.count(func.distinct(Adoption.municipality_id)))
        .join(Municipality, Municipality.id == Adoption.municipality_id)
        .where(Adoption.status == S.ADOPTED.value, Municipality.is_active.is_(True))) or 0
    return DashboardTotals(
        standards=len(rows), adoptions=sum(r.adopted for r in rows), municipalities=adopting,
        saving=sum(estimated) if estimated else None,
        without_estimate=sum(1 for r in rows if r.saving is None))


def top_adopters(limit: int = 10) -> list[tuple[Municipality, int]]:
    """The "jatprijs": active municipalities that adopted the most standards (ties by name)."""
    rows = db.session.execute(
        select(Municipality, func.count(Adoption.id).label("n"))
        .join(Adoption, Adoption.municipality_id == Municipality.id)
        .where(Adoption.status == S.ADOPTED.value, Municipality.is_active.is_(True))
        .group_by(Municipality.id).order_by(func.count(Adoption.id).desc(), Municipality.name,
                                            Municipality.id)
        .limit(limit)).all()
    return [(m, n) for m, n in rows]


def fastest(limit: int = 10, minimum: int = 1) -> list[tuple[Standard, float, int]]:
    """Standards adopted fastest: median days from declaration to adoption (Dutch calendar
    days) over the active municipalities that adopted it, with at least `minimum` adopters;
    (standard, median days, adopters), fastest first, then more adopters, then by name."""
    rows = db.session.execute(
        select(Standard, Adoption.adopted_on).join(Adoption, Adoption.standard_id == Standard.id)
        .join(Municipality, Municipality.id == Adoption.municipality_id)
        .where(Adoption.status == S.ADOPTED.value, Municipality.is_active.is_(True))).all()
    days: dict[int, list[int]] = defaultdict(list)
    standards: dict[int, Standard] = {}
    for standard, adopted_on in rows:
        standards[standard.id] = standard
        days[standard.id].append(max((adopted_on - declared_on(standard)).days, 0))
    out = []
    for sid, values in days.items():
        if len(values) < minimum:
            continue
        values.sort()
        mid = len(values) // 2
        median = values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
        out.append((standards[sid], float(median), len(values)))
    return sorted(out, key=lambda r: (r[1], -r[2], r[0].name.lower(), r[0].id))[:limit]


def municipality_statuses(municipality: Municipality) -> list[tuple[Standard, Adoption | None]]:
    """Every standard with the municipality's status for it (None: not yet decided)."""
    standards = db.session.scalars(select(Standard).order_by(Standard.declared_at.desc(),
                                                             Standard.id)).all()
    rows = {a.standard_id: a for a in db.session.scalars(
        select(Adoption).where(Adoption.municipality_id == municipality.id))}
    return [(s, rows.get(s.id)) for s in standards]


# --- a municipality's public page --------------------------------------------------------------


def municipality_proposals(municipality: Municipality) -> list[tuple[Proposal, Round]]:
    """The municipality's published proposals (also withdrawn ones) in every visible round,
    newest round first."""
    rows = db.session.execute(
        select(Proposal, Round).join(Round, Round.id == Proposal.round_id)
        .where(Proposal.municipality_id == municipality.id,
               Proposal.status != ProposalStatus.DRAFT.value,
               Round.phase != Phase.DRAFT.value)
        .order_by(Round.created_at.desc(), Round.id.desc(), Proposal.submitted_at,
                  Proposal.id)).all()
    return [(p, r) for p, r in rows]


def municipality_cosubmissions(municipality: Municipality) -> list[tuple[Proposal, Round]]:
    """Published proposals of others that the municipality co-submits (accepted), newest round
    first."""
    rows = db.session.execute(
        select(Proposal, Round).join(CoSubmission, CoSubmission.proposal_id == Proposal.id)
        .join(Round, Round.id == Proposal.round_id)
        .where(CoSubmission.municipality_id == municipality.id,
               CoSubmission.status == CoSubmissionStatus.ACCEPTED.value,
               Proposal.status != ProposalStatus.DRAFT.value,
               Round.phase != Phase.DRAFT.value)
        .order_by(Round.created_at.desc(), Round.id.desc(), Proposal.submitted_at,
                  Proposal.id)).all()
    return [(p, r) for p, r in rows]


@dataclass
class PublicBallot:
    round: Round
    cluster: Cluster
    ranking: list[Proposal]  # best first; empty: a blank ballot
    cast_at: datetime


def ballots_are_public(rnd: Round) -> bool:
    """Whether the round's final-vote ballots may be shown with the municipality: only after
    the vote has closed, and never when the rules make them anonymous."""
    from competition.services.voting import is_closed

    return is_closed(rnd) and not rnd.are_ballots_anonymous


def public_ballots(municipality: Municipality) -> list[PublicBallot]:
    """The municipality's counted final-vote ballots where they are public (see
    `ballots_are_public`), newest round first, then by vraagstuk. The preselection's peer
    vote is never shown."""
    rows = db.session.execute(
        select(FinalBallot, Round, Cluster)
        .join(Round, Round.id == FinalBallot.round_id)
        .join(Cluster, Cluster.id == FinalBallot.cluster_id)
        .join(VoteResult, VoteResult.cluster_id == Cluster.id)
        .where(FinalBallot.municipality_id == municipality.id,
               FinalBallot.is_current.is_(True))
        .order_by(Round.created_at.desc(), Round.id.desc(), Cluster.label, Cluster.id)).all()
    out = []
    for ballot, rnd, cluster in rows:
        if not ballots_are_public(rnd):
            continue
        ranking = [p for p in (db.session.get(Proposal, pid) for pid in ballot.ranking)
                   if p is not None]
        out.append(PublicBallot(rnd, cluster, ranking, ballot.cast_at))
    return out


# --- open data ---------------------------------------------------------------------------------

EXPORT_COLUMNS = ("municipality_code", "municipality", "province", "population", "status",
                  "planned_on", "adopted_on", "reason", "updated_at")


def export_rows(standard: Standard) -> list[list[str]]:
    """The standard's adoption table for CSV: every active municipality, also undecided ones."""
    rows = {a.municipality_id: a for a in adopters(standard)}
    out = []
    for m in db.session.scalars(select(Municipality).where(Municipality.is_active.is_(True))
                                .order_by(Municipality.name, Municipality.code)):
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
