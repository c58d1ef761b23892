"""Competition rounds and the competition clock.

A round's phase is stored and advanced by `sync_round`, which moves it past every phase whose
planned end has passed, checking the next phase's preconditions first. Organisers may close the
current phase early or extend it. Closing a phase sets its window's `left_at` with a
compare-and-set update, so the work registered for the end of a phase runs exactly once, in the
same transaction, whether the date passed or an organiser pressed the button, and whichever
request or worker notices first (also after a restart: nothing is kept in memory).

Every service that changes a round's phase, schedule or rules first locks the round's row (on
PostgreSQL; SQLite serialises writers anyway) and reloads it, so concurrent requests queue in
the same order instead of deciding on stale data or deadlocking.
"""

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from competition.extensions import db
from competition.models import (
    DEFAULT_CRITERIA,
    PHASES,
    Criterion,
    Phase,
    PhaseWindow,
    Role,
    Round,
    User,
)
from competition.services import audit
from competition.services.accounts import require_role
from competition.services.errors import InvalidState, NotFound, ValidationError
from competition.services.locks import lock_row


class PhaseAlreadyClosed(InvalidState):
    """Another request or worker closed the phase first (its transaction ran the end work)."""


# --- extension points for later phases ---------------------------------------------------------

# A precondition returns None when the phase may open, or a message saying why it may not.
Precondition = Callable[[Round, datetime], str | None]
# Work run once when a phase ends, inside the transaction that closes it.
PhaseEndHook = Callable[[Round, datetime, User | None], None]

_preconditions: dict[Phase, list[Precondition]] = {p: [] for p in PHASES}
_end_hooks: dict[Phase, list[PhaseEndHook]] = {p: [] for p in PHASES}


def precondition(phase: Phase) -> Callable[[Precondition], Precondition]:
    """Register a check that must pass before `phase` can open."""

    def register(fn: Precondition) -> Precondition:
        _preconditions[phase].append(fn)
        return fn

    return register


def on_phase_end(phase: Phase) -> Callable[[PhaseEndHook], PhaseEndHook]:
    """Register work to run exactly once when `phase` ends."""

    def register(fn: PhaseEndHook) -> PhaseEndHook:
        _end_hooks[phase].append(fn)
        return fn

    return register


# --- rules and schedule ------------------------------------------------------------------------


@dataclass(frozen=True)
class RoundData:
    title: str
    theme: str
    description: str = ""
    max_finalists: int = 3
    max_winners: int = 1
    jury_weight: float = 0.5
    vote_weighting: str = "equal"
    diversity_threshold: float = 1 / 3
    is_own_finalist_vote_allowed: bool = True
    are_juror_names_public: bool = False
    are_ballots_anonymous: bool = False
    # Euros for one municipality to build such a solution itself (optional). Not a rule: it
    # only feeds the adoption dashboard's saving estimate, so it may change at any time.
    estimated_cost: int | None = None


# Far above any development cost, and inside a 32-bit INTEGER column.
COST_MAX = 1_000_000_000

RULE_FIELDS = (
    "max_finalists", "max_winners", "jury_weight", "vote_weighting", "diversity_threshold",
    "is_own_finalist_vote_allowed", "are_juror_names_public", "are_ballots_anonymous",
)

# Default durations used to propose a schedule (organisers change them in the form).
DEFAULT_DURATIONS: dict[Phase, timedelta] = {
    Phase.DRAFT: timedelta(days=7),
    Phase.SUBMISSION: timedelta(weeks=6),
    Phase.CLUSTERING: timedelta(weeks=2),
    Phase.PRESELECTION: timedelta(weeks=4),
    Phase.DEVELOPMENT: timedelta(weeks=12),
    Phase.FINAL_VOTE: timedelta(weeks=2),
    Phase.DECIDED: timedelta(weeks=1),
}


def default_schedule(start: datetime) -> dict[Phase, datetime | None]:
    """Planned phase ends for a round whose draft starts at `start` (adoption is open-ended)."""
    ends: dict[Phase, datetime | None] = {}
    moment = start
    for phase in PHASES:
        if phase is Phase.ADOPTION:
            ends[phase] = None
        else:
            moment = moment + DEFAULT_DURATIONS[phase]
            ends[phase] = moment
    return ends


def _validate_rules(data: RoundData) -> None:
    if not 5 <= len(data.title.strip()) <= 160:
        raise ValidationError(_l("The title needs 5 to 160 characters."), field="title")
    if not 3 <= len(data.theme.strip()) <= 160:
        raise ValidationError(_l("The theme needs 3 to 160 characters."), field="theme")
    if len(data.description) > 20_000:
        raise ValidationError(_l("The description is too long."), field="description")
    if not 1 <= data.max_finalists <= 10:
        raise ValidationError(_l("Choose 1 to 10 finalists per cluster."), field="max_finalists")
    if data.max_winners not in (1, 2):
        raise ValidationError(_l("A cluster has one or two winners."), field="max_winners")
    if not 0 <= data.jury_weight <= 1:
        raise ValidationError(_l("The jury weight lies between 0 and 1."), field="jury_weight")
    if data.vote_weighting not in ("equal", "population"):
        raise ValidationError(_l("Unknown vote weighting."), field="vote_weighting")
    if not 0 < data.diversity_threshold <= 1:
        raise ValidationError(
            _l("The diversity threshold lies above 0 and at most 1."), field="diversity_threshold"
        )
    if data.estimated_cost is not None and not 0 <= data.estimated_cost <= COST_MAX:
        raise ValidationError(
            _l("Give the estimated cost in whole euros, 0 or more."), field="estimated_cost"
        )


def _validate_schedule(ends: dict[Phase, datetime | None]) -> None:
    previous: datetime | None = None
    for phase in PHASES:
        end = ends.get(phase)
        if phase is Phase.ADOPTION:
            if end is not None and previous is not None and end <= previous:
                raise ValidationError(
                    _l("Each phase must end after the previous one."), field=f"end_{phase.value}"
                )
            continue
        if end is None:
            raise ValidationError(_l("Every phase needs an end date."), field=f"end_{phase.value}")
        if previous is not None and end <= previous:
            raise ValidationError(
                _l("Each phase must end after the previous one."), field=f"end_{phase.value}"
            )
        previous = end


def slugify(text: str) -> str:
    """ASCII, lower-case, hyphenated: 'Digitale Dienstverlening 2027' → 'digitale-…-2027'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:70] or "ronde"


# Slugs that would be shadowed by fixed routes (/beheer/rondes/nieuw).
RESERVED_SLUGS = frozenset({"nieuw"})


def _unique_slug(title: str) -> str:
    base = slugify(title)
    slug, n = base, 2
    while slug in RESERVED_SLUGS or db.session.scalar(
        select(Round.id).where(Round.slug == slug)
    ) is not None:
        slug, n = f"{base}-{n}", n + 1
    return slug


def create_round(
    actor: User, data: RoundData, schedule: dict[Phase, datetime | None], *, now: datetime
) -> Round:
    """Create a round in the draft phase with its rules and planned schedule (organisers)."""
    require_role(actor, Role.ORGANISER)
    _validate_rules(data)
    _validate_schedule(schedule)
    if schedule[Phase.DRAFT] <= now:
        raise ValidationError(
            _l("Submission must open in the future."), field=f"end_{Phase.DRAFT.value}"
        )
    rnd = Round(
        slug=_unique_slug(data.title),
        title=data.title.strip(),
        theme=data.theme.strip(),
        description=data.description,
        phase=Phase.DRAFT.value,
        created_at=now,
        updated_at=now,
        created_by_id=actor.id,
    )
    for name in RULE_FIELDS:
        setattr(rnd, name, getattr(data, name))
    rnd.estimated_cost = data.estimated_cost
    for phase in PHASES:
        rnd.windows.append(PhaseWindow(phase=phase.value, ends_at=schedule.get(phase)))
    rnd.window(Phase.DRAFT).entered_at = now
    db.session.add(rnd)
    db.session.flush()
    for position, (name_nl, name_en, text_nl, text_en) in enumerate(DEFAULT_CRITERIA):
        db.session.add(Criterion(round_id=rnd.id, position=position, name_nl=name_nl,
                                 name_en=name_en, description_nl=text_nl,
                                 description_en=text_en))
    db.session.flush()
    audit.record("round.created", actor=actor, now=now, object_type="round", object_id=rnd.id,
                 round_id=rnd.id, data={"title": rnd.title, **_rules(rnd),
                                        "estimated_cost": rnd.estimated_cost,
                                        **_schedule(rnd)})
    return rnd


def _rules(rnd: Round) -> dict:
    return {name: getattr(rnd, name) for name in RULE_FIELDS}


def _schedule(rnd: Round) -> dict:
    return {
        f"end_{w.phase}": w.ends_at.isoformat() if w.ends_at else None for w in rnd.windows
    }


def _lock(rnd: Round) -> None:
    """Lock the round's row (PostgreSQL) and reload it with its windows from the database."""
    db.session.flush()
    db.session.refresh(rnd, with_for_update=True)


def hold_phase(rnd: Round, phase: Phase, refusal: str) -> None:
    """Refuse with `refusal` unless the round is in `phase`, and keep it there until commit.

    Actions that only count during a phase (scores, votes) call this first, so the phase cannot
    close between the check and the commit: nothing lands after the end-of-phase work has read
    the data. PostgreSQL: a FOR SHARE row lock (closing takes FOR UPDATE and waits; voters do
    not wait for each other). SQLite: the database's write lock, taken up front.
    """
    db.session.flush()
    lock_row(Round, rnd.id, shared=True)
    db.session.refresh(rnd, ["phase"])
    if rnd.current_phase is not phase:
        raise InvalidState(refusal)


def update_round(actor: User, rnd: Round, data: RoundData, *, now: datetime) -> None:
    """Edit title, theme, description and the estimated cost; the rules only while the round
    is a draft."""
    require_role(actor, Role.ORGANISER)
    _validate_rules(data)
    _lock(rnd)
    changed_rules = {n for n in RULE_FIELDS if getattr(rnd, n) != getattr(data, n)}
    if changed_rules and rnd.are_rules_locked:
        raise InvalidState(
            _l("The rules are fixed once submission has opened."), field=sorted(changed_rules)[0]
        )
    before = {"title": rnd.title, "theme": rnd.theme, "description": rnd.description,
              "estimated_cost": rnd.estimated_cost, **_rules(rnd)}
    rnd.title, rnd.theme, rnd.description = data.title.strip(), data.theme.strip(), data.description
    rnd.estimated_cost = data.estimated_cost
    for name in changed_rules:
        setattr(rnd, name, getattr(data, name))
    after = {"title": rnd.title, "theme": rnd.theme, "description": rnd.description,
             "estimated_cost": rnd.estimated_cost, **_rules(rnd)}
    if before != after:
        rnd.updated_at = now
        changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
        audit.record("round.updated", actor=actor, now=now, object_type="round",
                     object_id=rnd.id, round_id=rnd.id, data=changes)


def reschedule(
    actor: User, rnd: Round, ends: dict[Phase, datetime | None], *, now: datetime
) -> None:
    """Change the planned ends of phases that have not ended yet.

    Past phases keep their dates; the current phase may be extended or shortened but not to a
    moment in the past (closing now is `close_phase`).
    """
    require_role(actor, Role.ORGANISER)
    _lock(rnd)
    _reschedule(actor, rnd, ends, now=now)


def _reschedule(
    actor: User, rnd: Round, ends: dict[Phase, datetime | None], *, now: datetime
) -> None:
    current = rnd.current_phase
    merged: dict[Phase, datetime | None] = {}
    changes: dict[str, list[str | None]] = {}
    for phase in PHASES:
        window = rnd.window(phase)
        new = ends.get(phase, window.ends_at)
        if phase.index < current.index:
            new = window.ends_at  # history is not rewritten
        elif new != window.ends_at and new is not None and new <= now:
            raise ValidationError(
                _l("A phase that has not ended cannot end in the past."),
                field=f"end_{phase.value}",
            )
        merged[phase] = new
    _validate_schedule_from(merged, current)
    for phase in PHASES:
        window = rnd.window(phase)
        if merged[phase] != window.ends_at:
            changes[phase.value] = [
                window.ends_at.isoformat() if window.ends_at else None,
                merged[phase].isoformat() if merged[phase] else None,
            ]
            window.ends_at = merged[phase]
    if changes:
        rnd.updated_at = now
        audit.record("round.rescheduled", actor=actor, now=now, object_type="round",
                     object_id=rnd.id, round_id=rnd.id, data=changes)


def _validate_schedule_from(ends: dict[Phase, datetime | None], current: Phase) -> None:
    # Past phases may have ended later than planned (blocked transitions), so ordering is only
    # required from the current phase on.
    previous: datetime | None = None
    for phase in PHASES[current.index :]:
        end = ends[phase]
        if end is None:
            if phase is not Phase.ADOPTION:
                raise ValidationError(
                    _l("Every phase needs an end date."), field=f"end_{phase.value}"
                )
            continue
        if previous is not None and end <= previous:
            raise ValidationError(
                _l("Each phase must end after the previous one."), field=f"end_{phase.value}"
            )
        previous = end


def extend_phase(
    actor: User, rnd: Round, new_end: datetime, *, now: datetime, phase: Phase | None = None
) -> None:
    """Move the current phase's end to a later (or earlier, but future) moment.

    `phase` is the phase the organiser meant; when the round has moved on since (the clock or
    another organiser closed it), nothing changes rather than moving another phase's end.
    """
    require_role(actor, Role.ORGANISER)
    _lock(rnd)
    current = rnd.current_phase
    if phase is not None and phase is not current:
        raise InvalidState(
            _l("The round is in phase “%(current)s”, not “%(phase)s”.",
               current=phase_label(current), phase=phase_label(phase))
        )
    if current is Phase.ADOPTION:
        raise InvalidState(_l("The adoption phase has no end."))
    _reschedule(actor, rnd, {current: new_end}, now=now)


# --- transitions -------------------------------------------------------------------------------


def blocking_reasons(rnd: Round, target: Phase, now: datetime) -> list[str]:
    """Why `target` cannot open now (empty when it can)."""
    reasons = []
    for check in _preconditions[target]:
        reason = check(rnd, now)
        if reason:
            reasons.append(str(reason))
    return reasons


@precondition(Phase.SUBMISSION)
def _schedule_complete(rnd: Round, now: datetime) -> str | None:
    ends = {Phase(w.phase): w.ends_at for w in rnd.windows}
    try:
        _validate_schedule_from(ends, Phase.SUBMISSION)
    except ValidationError as exc:
        return str(exc.message)
    if (ends[Phase.SUBMISSION] or now) <= now:
        return str(_l("The submission phase would end immediately: move its end date first."))
    return None


def close_phase(
    rnd: Round, phase: Phase, *, actor: User | None, now: datetime, reason: str = ""
) -> Phase:
    """End `phase` (which must be current) and open the next one; returns the new phase.

    With an actor this is an organiser closing the phase early; without, the clock, which only
    closes a phase once its planned end has passed.
    """
    if actor is not None:
        require_role(actor, Role.ORGANISER)
    _lock(rnd)
    return _close(rnd, phase, actor=actor, now=now, reason=reason)


def _close(rnd: Round, phase: Phase, *, actor: User | None, now: datetime, reason: str) -> Phase:
    current = rnd.current_phase
    if phase is not current:
        raise InvalidState(
            _l("The round is in phase “%(current)s”, not “%(phase)s”.",
               current=phase_label(current), phase=phase_label(phase))
        )
    target = current.next
    if target is None:
        raise InvalidState(_l("The adoption phase is the last phase; it does not close."))
    if actor is None and not _is_due(rnd, now):
        raise InvalidState(_l("The planned end of this phase has not passed yet."))
    reasons = blocking_reasons(rnd, target, now)
    if reasons:
        raise InvalidState(
            _l("“%(phase)s” cannot open yet: %(reasons)s",
               phase=phase_label(target), reasons=" ".join(reasons))
        )
    window = rnd.window(current)
    claimed = db.session.execute(
        update(PhaseWindow)
        .where(PhaseWindow.id == window.id, PhaseWindow.left_at.is_(None))
        .values(left_at=now, left_by_id=actor.id if actor else None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        # Someone else closed it a moment ago; their transaction ran the end-of-phase work.
        db.session.refresh(rnd)
        raise PhaseAlreadyClosed(_l("This phase has just been closed by someone else."))
    db.session.refresh(window)
    planned_end = window.ends_at
    early = planned_end is None or now < planned_end
    if early and actor is not None:
        window.ends_at = now
    for hook in _end_hooks[current]:
        hook(rnd, now, actor)
    rnd.phase = target.value
    rnd.window(target).entered_at = now
    rnd.updated_at = now
    db.session.flush()
    audit.record(
        "round.phase_closed",
        actor=actor,
        now=now,
        object_type="round",
        object_id=rnd.id,
        round_id=rnd.id,
        data={
            "from": current.value,
            "to": target.value,
            "planned_end": planned_end.isoformat() if planned_end else None,
            "early": bool(early and actor is not None),
            "reason": reason,
        },
    )
    return target


def overdue_reasons(rnd: Round, now: datetime) -> list[str]:
    """When the current phase's end has passed but the next cannot open: why (else empty)."""
    current = rnd.current_phase
    window = rnd.window(current)
    if current.next is None or window.ends_at is None or now < window.ends_at:
        return []
    return blocking_reasons(rnd, current.next, now)


def sync_round(rnd: Round, *, now: datetime) -> list[Phase]:
    """Advance the round through every phase whose planned end has passed.

    Stops at the first phase whose successor's preconditions fail (the round then shows as
    overdue). Returns the phases entered. Takes a row lock on PostgreSQL so concurrent
    requests queue instead of racing; the compare-and-set in `close_phase` is the backstop.
    Errors raised by end-of-phase work propagate: the caller rolls the whole transaction back,
    so a phase is never left half closed.
    """
    entered: list[Phase] = []
    if not _is_due(rnd, now) or blocking_reasons(rnd, rnd.current_phase.next, now):
        return entered  # nothing to do: no lock taken (overdue rounds are read on every page)
    _lock(rnd)
    while _is_due(rnd, now):
        current = rnd.current_phase
        if blocking_reasons(rnd, current.next, now):
            break
        try:
            entered.append(_close(rnd, current, actor=None, now=now, reason=""))
        except PhaseAlreadyClosed:
            break
    return entered


def _is_due(rnd: Round, now: datetime) -> bool:
    current = rnd.current_phase
    if current.next is None:
        return False
    end = rnd.window(current).ends_at
    return end is not None and end <= now


def due_rounds(*, now: datetime) -> list[Round]:
    """Rounds whose current phase has passed its planned end (one indexed query, so checking
    the clock on every page view costs nothing when nothing is due)."""
    return list(db.session.scalars(
        select(Round)
        .join(PhaseWindow, (PhaseWindow.round_id == Round.id) & (PhaseWindow.phase == Round.phase))
        .where(Round.phase != Phase.ADOPTION.value, PhaseWindow.ends_at <= now)
        .order_by(Round.id)
    ))


def next_phase_end() -> datetime | None:
    """The earliest planned end of any round's current phase (past or future), in one query;
    pages cached for anonymous visitors must not outlive it."""
    return db.session.scalar(
        select(func.min(PhaseWindow.ends_at))
        .join(Round, (PhaseWindow.round_id == Round.id) & (PhaseWindow.phase == Round.phase))
        .where(Round.phase != Phase.ADOPTION.value)
    )


def sync_all(*, now: datetime) -> dict[str, list[Phase]]:
    """Sync every round that is due (the caller commits; see `flask competition tick` for one
    transaction per round)."""
    changed = {}
    for rnd in due_rounds(now=now):
        entered = sync_round(rnd, now=now)
        if entered:
            changed[rnd.slug] = entered
    return changed


# --- reading -----------------------------------------------------------------------------------


def phase_label(phase: Phase) -> str:
    """The phase's name in the current language."""
    labels = {
        Phase.DRAFT: _l("Draft"),
        Phase.SUBMISSION: _l("Submission"),
        Phase.CLUSTERING: _l("Clustering"),
        Phase.PRESELECTION: _l("Preselection"),
        Phase.DEVELOPMENT: _l("Development"),
        Phase.FINAL_VOTE: _l("Final vote"),
        Phase.DECIDED: _l("Decided"),
        Phase.ADOPTION: _l("Adoption"),
    }
    return str(labels[phase])


def get_round(slug: str) -> Round:
    """A round by slug, or NotFound."""
    # Windows load with "selectin" (one more query, however many rounds): not a joined eager
    # load, which would make the later FOR UPDATE refresh an outer join PostgreSQL refuses.
    rnd = db.session.scalar(select(Round).where(Round.slug == slug))
    if rnd is None:
        raise NotFound(_l("No such round."))
    return rnd


def public_rounds() -> list[Round]:
    """Rounds the public may see (everything past draft), newest first."""
    return list(
        db.session.scalars(
            select(Round).where(Round.phase != Phase.DRAFT.value).order_by(Round.created_at.desc())
        )
    )


def all_rounds() -> list[Round]:
    """Every round, newest first (organisers)."""
    return list(db.session.scalars(select(Round).order_by(Round.created_at.desc())))
