"""The competition clock and round management, at service level.

Services take `now` as an argument, so every test sets the clock itself; nothing sleeps.
"""

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from competition import create_app
from competition.extensions import db
from competition.models import PHASES, AuditEvent, Phase, PhaseWindow, Role, Round, User
from competition.services import rounds
from competition.services.errors import InvalidState, NotFound, PermissionDenied, ValidationError
from competition.services.rounds import RoundData
from tests.conftest import BASE_CONFIG, IS_POSTGRES, NOW, add_municipalities, make_user

TITLE = "Digitale dienstverlening 2027"
DATA = RoundData(title=TITLE, theme="Digitale dienstverlening aan inwoners")
MINUTE = timedelta(minutes=1)


# --- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def clock_registry() -> Iterator[None]:
    """Test the clock on its own: only the round module's own preconditions, no other hooks.

    Whatever a test registers is removed afterwards, so the registry is as it was.
    """
    saved_pre = {p: list(fns) for p, fns in rounds._preconditions.items()}
    saved_hooks = {p: list(fns) for p, fns in rounds._end_hooks.items()}
    for phase in PHASES:
        rounds._preconditions[phase][:] = [
            fn for fn in saved_pre[phase] if fn.__module__ == rounds.__name__
        ]
        rounds._end_hooks[phase][:] = []
    yield
    for phase in PHASES:
        rounds._preconditions[phase][:] = saved_pre[phase]
        rounds._end_hooks[phase][:] = saved_hooks[phase]


class HookLog:
    """An end-of-phase hook for every phase that records each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[Phase, object, int | None]] = []
        self._lock = threading.Lock()
        for phase in PHASES:
            rounds.on_phase_end(phase)(self._hook_for(phase))

    def _hook_for(self, phase: Phase):
        def hook(rnd: Round, now, actor: User | None) -> None:
            assert rnd.phase == phase.value  # runs before the round moves on
            with self._lock:
                self.calls.append((phase, now, actor.id if actor else None))

        return hook

    def count(self, phase: Phase) -> int:
        return sum(1 for p, _, _ in self.calls if p is phase)

    @property
    def phases(self) -> list[Phase]:
        return [p for p, _, _ in self.calls]


@pytest.fixture
def hooks(clock_registry) -> HookLog:
    return HookLog()


@pytest.fixture
def users(ctx) -> dict[str, User]:
    """Committed users per role (plus an inactive organiser)."""
    utrecht = add_municipalities()["GM0344"]
    result = {
        "organiser": make_user("org@example.org", Role.ORGANISER),
        "member": make_user("member@example.org", Role.MEMBER, municipality=utrecht),
        "jury": make_user("jury@example.org", Role.JURY),
        "delegate": make_user("delegate@example.org", Role.DELEGATE, municipality=utrecht),
        "inactive": make_user("gone@example.org", Role.ORGANISER, is_active=False),
    }
    db.session.commit()
    return result


@pytest.fixture
def org(users) -> User:
    return users["organiser"]


def schedule(start=NOW) -> dict[Phase, object]:
    """The default schedule with the draft starting at `start` (draft ends a week later)."""
    return rounds.default_schedule(start)


def new_round(org: User, *, data: RoundData = DATA, now=NOW, ends=None) -> Round:
    rnd = rounds.create_round(org, data, ends or schedule(now), now=now)
    db.session.commit()
    return rnd


def end_of(rnd: Round, phase: Phase):
    return rnd.window(phase).ends_at


def advance_to(rnd: Round, target: Phase) -> None:
    """Let the clock carry the round to `target`, one planned end at a time (committed)."""
    while rnd.current_phase is not target:
        entered = rounds.sync_round(rnd, now=end_of(rnd, rnd.current_phase))
        assert entered, f"stuck in {rnd.phase}"
    db.session.commit()


def events(action: str, round_id: int | None = None) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    if round_id is not None:
        stmt = stmt.where(AuditEvent.round_id == round_id)
    return list(db.session.scalars(stmt))


def count_rounds() -> int:
    return db.session.scalar(select(func.count(Round.id)))


def reload(rnd_id: int) -> Round:
    db.session.expire_all()
    return db.session.get(Round, rnd_id)


# --- create_round ------------------------------------------------------------------------------


def test_create_round_stores_rules_schedule_and_audit(ctx, org):
    data = replace(DATA, description="Waarom?", max_finalists=4, max_winners=2,
                   jury_weight=0.25, vote_weighting="population", diversity_threshold=0.4,
                   is_own_finalist_vote_allowed=False, are_juror_names_public=True,
                   are_ballots_anonymous=True)
    ends = schedule()
    rnd = new_round(org, data=data)

    rnd = reload(rnd.id)
    assert rnd.slug == "digitale-dienstverlening-2027"
    assert rnd.current_phase is Phase.DRAFT and not rnd.are_rules_locked
    assert (rnd.title, rnd.theme, rnd.description) == (TITLE, DATA.theme, "Waarom?")
    assert rnd.created_at == NOW and rnd.updated_at == NOW and rnd.created_by_id == org.id
    assert rnd.max_finalists == 4 and rnd.max_winners == 2 and rnd.jury_weight == 0.25
    assert rnd.vote_weighting == "population" and rnd.diversity_threshold == 0.4
    assert not rnd.is_own_finalist_vote_allowed
    assert rnd.are_juror_names_public and rnd.are_ballots_anonymous
    assert len(rnd.draw_seed) == 32
    assert [w.phase for w in rnd.windows] == [p.value for p in PHASES]
    assert {Phase(w.phase): w.ends_at for w in rnd.windows} == ends
    assert end_of(rnd, Phase.ADOPTION) is None
    assert rnd.window(Phase.DRAFT).entered_at == NOW
    assert all(w.entered_at is None for w in rnd.windows[1:])
    assert all(w.left_at is None for w in rnd.windows)
    # A phase starts where the previous one ends.
    assert rnd.starts_at(Phase.DRAFT) == NOW
    assert rnd.starts_at(Phase.SUBMISSION) == ends[Phase.DRAFT]
    assert rnd.starts_at(Phase.ADOPTION) == ends[Phase.DECIDED]
    assert [t[0] for t in rnd.timeline()] == PHASES

    (event,) = events("round.created")
    assert event.actor_id == org.id and event.round_id == rnd.id
    assert event.object_type == "round" and event.object_id == str(rnd.id)
    assert event.created_at == NOW
    assert event.data["title"] == TITLE and event.data["max_winners"] == 2
    assert event.data["end_draft"] == ends[Phase.DRAFT].isoformat()
    assert event.data["end_adoption"] is None


def test_create_round_strips_texts(ctx, org):
    rnd = new_round(org, data=replace(DATA, title="  Vijf tekens  ", theme="  abc "))
    assert (rnd.title, rnd.theme) == ("Vijf tekens", "abc")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "Vier"}, "title"),
        ({"title": "   Vier    "}, "title"),  # counted without surrounding spaces
        ({"title": "x" * 161}, "title"),
        ({"theme": "ab"}, "theme"),
        ({"theme": "y" * 161}, "theme"),
        ({"description": "z" * 20_001}, "description"),
        ({"max_finalists": 0}, "max_finalists"),
        ({"max_finalists": 11}, "max_finalists"),
        ({"max_winners": 0}, "max_winners"),
        ({"max_winners": 3}, "max_winners"),
        ({"jury_weight": -0.01}, "jury_weight"),
        ({"jury_weight": 1.01}, "jury_weight"),
        ({"jury_weight": math.nan}, "jury_weight"),
        ({"vote_weighting": "per capita"}, "vote_weighting"),
        ({"diversity_threshold": 0}, "diversity_threshold"),
        ({"diversity_threshold": 1.5}, "diversity_threshold"),
        ({"diversity_threshold": math.nan}, "diversity_threshold"),
    ],
)
def test_create_round_refuses_bad_rules(ctx, org, changes, field):
    with pytest.raises(ValidationError) as exc:
        rounds.create_round(org, replace(DATA, **changes), schedule(), now=NOW)
    assert exc.value.field == field
    assert count_rounds() == 0 and events("round.created") == []


def test_create_round_accepts_rule_boundaries(ctx, org):
    for i, changes in enumerate([
        {"max_finalists": 1, "max_winners": 1, "jury_weight": 0.0, "diversity_threshold": 1.0},
        {"max_finalists": 10, "max_winners": 2, "jury_weight": 1.0, "diversity_threshold": 0.01},
    ]):
        new_round(org, data=replace(DATA, title=f"Grensgeval {i}", **changes))
    assert count_rounds() == 2


def _shifted(ends, phase, moment):
    return {**ends, phase: moment}


@pytest.mark.parametrize(
    ("make_ends", "field"),
    [
        # a phase without an end
        (lambda e: _shifted(e, Phase.CLUSTERING, None), "end_clustering"),
        (lambda e: _shifted(e, Phase.DECIDED, None), "end_decided"),
        # out of order, or two phases ending at the same moment (a phase of no length)
        (lambda e: _shifted(e, Phase.CLUSTERING, e[Phase.SUBMISSION] - MINUTE), "end_clustering"),
        (lambda e: _shifted(e, Phase.CLUSTERING, e[Phase.SUBMISSION]), "end_clustering"),
        (lambda e: _shifted(e, Phase.SUBMISSION, e[Phase.DRAFT]), "end_submission"),
        (lambda e: _shifted(e, Phase.DECIDED, e[Phase.DRAFT]), "end_decided"),
        (lambda e: _shifted(e, Phase.ADOPTION, e[Phase.DECIDED]), "end_adoption"),
        # submission opening in the past, or right now
        (lambda e: _shifted(e, Phase.DRAFT, NOW - MINUTE), "end_draft"),
        (lambda e: _shifted(e, Phase.DRAFT, NOW), "end_draft"),
    ],
)
def test_create_round_refuses_bad_schedule(ctx, org, make_ends, field):
    with pytest.raises(ValidationError) as exc:
        rounds.create_round(org, DATA, make_ends(schedule()), now=NOW)
    assert exc.value.field == field
    assert count_rounds() == 0 and events("round.created") == []


def test_create_round_submission_may_open_a_minute_from_now(ctx, org):
    rnd = new_round(org, ends=_shifted(schedule(), Phase.DRAFT, NOW + MINUTE))
    assert end_of(rnd, Phase.DRAFT) == NOW + MINUTE


def test_create_round_without_adoption_key_is_open_ended(ctx, org):
    ends = schedule()
    del ends[Phase.ADOPTION]
    rnd = new_round(org, ends=ends)
    assert end_of(rnd, Phase.ADOPTION) is None


def test_slugs_are_unique_and_readable(ctx, org):
    first = new_round(org)
    second = new_round(org)
    third = new_round(org)
    assert [first.slug, second.slug, third.slug] == [
        "digitale-dienstverlening-2027", "digitale-dienstverlening-2027-2",
        "digitale-dienstverlening-2027-3",
    ]
    accented = new_round(org, data=replace(DATA, title="Één loket, überall!"))
    assert accented.slug == "een-loket-uberall"
    assert new_round(org, data=replace(DATA, title="日本語のラウンド")).slug == "ronde"
    assert len(new_round(org, data=replace(DATA, title="a" * 160)).slug) <= 80


def test_slug_never_shadows_the_new_round_page(ctx, org):
    """/beheer/rondes/nieuw is the form for a new round, so no round may have the slug 'nieuw'."""
    rnd = new_round(org, data=replace(DATA, title="Nieuw!"))
    assert rnd.slug != "nieuw"
    assert rounds.get_round(rnd.slug) == rnd


@pytest.mark.parametrize("role", ["member", "jury", "delegate", "inactive"])
def test_only_active_organisers_create_rounds(ctx, users, role):
    with pytest.raises(PermissionDenied):
        rounds.create_round(users[role], DATA, schedule(), now=NOW)
    with pytest.raises(PermissionDenied):
        rounds.create_round(None, DATA, schedule(), now=NOW)
    assert count_rounds() == 0


# --- transitions -------------------------------------------------------------------------------

CLOSABLE = PHASES[:-1]


@pytest.mark.parametrize("phase", CLOSABLE, ids=str)
def test_organiser_closes_each_phase_early(ctx, org, hooks, phase):
    rnd = new_round(org)
    moment = NOW
    while rnd.current_phase is not phase:  # get there by closing early, an hour apart
        moment += timedelta(hours=1)
        rounds.close_phase(rnd, rnd.current_phase, actor=org, now=moment)
    db.session.commit()
    planned = end_of(rnd, phase)
    moment += timedelta(hours=1)

    entered = rounds.close_phase(rnd, phase, actor=org, now=moment, reason="Klaar")
    db.session.commit()

    rnd = reload(rnd.id)
    assert entered is phase.next and rnd.current_phase is phase.next
    closed, opened = rnd.window(phase), rnd.window(phase.next)
    assert closed.left_at == moment and closed.left_by_id == org.id
    assert closed.ends_at == moment  # closed early: the next phase starts now
    assert rnd.starts_at(phase.next) == moment
    assert opened.entered_at == moment and opened.left_at is None
    assert rnd.updated_at == moment
    assert hooks.count(phase) == 1 and hooks.calls[-1] == (phase, moment, org.id)
    event = events("round.phase_closed")[-1]
    assert event.actor_id == org.id and event.created_at == moment
    assert event.data == {"from": phase.value, "to": phase.next.value,
                          "planned_end": planned.isoformat(), "early": True, "reason": "Klaar"}
    assert rnd.are_rules_locked


@pytest.mark.parametrize("phase", CLOSABLE, ids=str)
def test_clock_closes_each_phase_at_its_planned_end(ctx, org, hooks, phase):
    rnd = new_round(org)
    advance_to(rnd, phase)
    planned = end_of(rnd, phase)

    assert rounds.sync_round(rnd, now=planned - MINUTE) == []  # not yet
    assert rounds.sync_round(rnd, now=planned) == [phase.next]  # due the moment it ends
    db.session.commit()

    rnd = reload(rnd.id)
    closed = rnd.window(phase)
    assert rnd.current_phase is phase.next
    assert closed.left_at == planned and closed.left_by_id is None
    assert closed.ends_at == planned  # the plan is kept
    assert rnd.window(phase.next).entered_at == planned
    assert hooks.count(phase) == 1 and hooks.calls[-1] == (phase, planned, None)
    event = events("round.phase_closed")[-1]
    assert event.actor_id is None
    assert event.data == {"from": phase.value, "to": phase.next.value,
                          "planned_end": planned.isoformat(), "early": False, "reason": ""}


def test_whole_round_by_the_clock(ctx, org, hooks):
    rnd = new_round(org)
    planned = {p: end_of(rnd, p) for p in PHASES}
    advance_to(rnd, Phase.ADOPTION)

    rnd = reload(rnd.id)
    assert hooks.phases == CLOSABLE
    assert [e.data["to"] for e in events("round.phase_closed")] == [p.value for p in PHASES[1:]]
    for phase in CLOSABLE:
        assert rnd.window(phase).left_at == planned[phase]
        assert rnd.window(phase.next).entered_at == planned[phase]
    assert rnd.window(Phase.ADOPTION).left_at is None
    # The last phase never ends.
    far = planned[Phase.DECIDED] + timedelta(days=3650)
    assert rounds.sync_round(rnd, now=far) == []
    assert rounds.overdue_reasons(rnd, far) == []
    assert hooks.phases == CLOSABLE


def test_organiser_may_close_an_overdue_phase_late(ctx, org, hooks):
    rnd = new_round(org)
    advance_to(rnd, Phase.SUBMISSION)
    planned = end_of(rnd, Phase.SUBMISSION)
    late = planned + timedelta(hours=5)
    rounds.close_phase(rnd, Phase.SUBMISSION, actor=org, now=late)
    assert rnd.window(Phase.SUBMISSION).ends_at == planned  # not early: the plan stays
    assert rnd.window(Phase.SUBMISSION).left_at == late
    assert events("round.phase_closed")[-1].data["early"] is False


@pytest.mark.parametrize(
    ("current", "closing"),
    [
        (Phase.DRAFT, Phase.SUBMISSION),  # a future phase: skipping is not possible
        (Phase.DRAFT, Phase.ADOPTION),
        (Phase.SUBMISSION, Phase.DRAFT),  # a phase that already ended
        (Phase.DEVELOPMENT, Phase.PRESELECTION),
        (Phase.DEVELOPMENT, Phase.DECIDED),
        (Phase.ADOPTION, Phase.ADOPTION),  # the last phase does not close
        (Phase.ADOPTION, Phase.DECIDED),
    ],
    ids=str,
)
def test_invalid_transitions_are_refused(ctx, org, hooks, current, closing):
    rnd = new_round(org)
    advance_to(rnd, current)
    before = len(events("round.phase_closed"))
    calls = len(hooks.calls)
    with pytest.raises(InvalidState):
        rounds.close_phase(rnd, closing, actor=org, now=NOW + timedelta(days=400))
    db.session.rollback()
    rnd = reload(rnd.id)
    assert rnd.current_phase is current
    assert len(events("round.phase_closed")) == before and len(hooks.calls) == calls
    assert rnd.window(current).left_at is None


def test_the_clock_does_not_close_a_phase_before_its_end(ctx, org, hooks):
    rnd = new_round(org)
    with pytest.raises(InvalidState):
        rounds.close_phase(rnd, Phase.DRAFT, actor=None, now=end_of(rnd, Phase.DRAFT) - MINUTE)
    assert rnd.current_phase is Phase.DRAFT and hooks.calls == []
    assert rounds.close_phase(rnd, Phase.DRAFT, actor=None,
                              now=end_of(rnd, Phase.DRAFT)) is Phase.SUBMISSION


@pytest.mark.parametrize("role", ["member", "jury", "delegate", "inactive"])
def test_only_active_organisers_close_phases(ctx, users, hooks, role):
    rnd = new_round(users["organiser"])
    with pytest.raises(PermissionDenied):
        rounds.close_phase(rnd, Phase.DRAFT, actor=users[role], now=NOW + MINUTE)
    db.session.rollback()
    rnd = reload(rnd.id)
    assert rnd.current_phase is Phase.DRAFT and rnd.window(Phase.DRAFT).left_at is None
    assert hooks.calls == [] and events("round.phase_closed") == []


def test_draft_closes_only_when_submission_would_last(ctx, org):
    """The built-in precondition: submission must end after the moment it would open."""
    rnd = new_round(org)
    too_late = end_of(rnd, Phase.SUBMISSION)
    with pytest.raises(InvalidState) as exc:
        rounds.close_phase(rnd, Phase.DRAFT, actor=org, now=too_late)
    assert rounds.blocking_reasons(rnd, Phase.SUBMISSION, too_late)
    assert str(rounds.blocking_reasons(rnd, Phase.SUBMISSION, too_late)[0]) in str(exc.value)
    assert rounds.blocking_reasons(rnd, Phase.SUBMISSION, too_late - MINUTE) == []


# --- preconditions -----------------------------------------------------------------------------


class Gate:
    """A precondition that blocks while `reason` is set."""

    def __init__(self, phase: Phase, reason: str = "Eerst clusteren.") -> None:
        self.reason: str | None = reason
        rounds.precondition(phase)(self)

    def __call__(self, rnd: Round, now) -> str | None:
        return self.reason


def test_precondition_blocks_the_clock_and_the_organiser(ctx, org, hooks):
    gate = Gate(Phase.PRESELECTION, "Nog 3 voorstellen zonder cluster.")
    rnd = new_round(org)
    advance_to(rnd, Phase.CLUSTERING)
    planned = end_of(rnd, Phase.CLUSTERING)

    assert rounds.overdue_reasons(rnd, planned - MINUTE) == []  # not overdue before its end
    assert rounds.blocking_reasons(rnd, Phase.PRESELECTION, planned - MINUTE) == [gate.reason]

    later = planned + timedelta(days=2)
    assert rounds.sync_round(rnd, now=later) == []
    assert rnd.current_phase is Phase.CLUSTERING
    assert rounds.overdue_reasons(rnd, later) == [gate.reason]
    with pytest.raises(InvalidState) as exc:
        rounds.close_phase(rnd, Phase.CLUSTERING, actor=org, now=later)
    assert gate.reason in str(exc.value.message)
    db.session.rollback()
    rnd = reload(rnd.id)
    assert rnd.current_phase is Phase.CLUSTERING
    assert rnd.window(Phase.CLUSTERING).left_at is None
    assert hooks.count(Phase.CLUSTERING) == 0
    assert [e.data["to"] for e in events("round.phase_closed")] == ["submission", "clustering"]

    gate.reason = None  # the organisers finished
    even_later = later + timedelta(hours=1)
    assert rounds.overdue_reasons(rnd, even_later) == []
    assert rounds.sync_round(rnd, now=even_later) == [Phase.PRESELECTION]
    assert rnd.window(Phase.CLUSTERING).left_at == even_later
    assert rnd.window(Phase.CLUSTERING).ends_at == planned
    assert rnd.window(Phase.PRESELECTION).entered_at == even_later
    assert hooks.count(Phase.CLUSTERING) == 1


def test_every_failing_precondition_is_reported(ctx, org):
    Gate(Phase.SUBMISSION, "Eerste reden.")
    Gate(Phase.SUBMISSION, "Tweede reden.")
    Gate(Phase.CLUSTERING, "Niet deze.")
    rnd = new_round(org)
    after = end_of(rnd, Phase.DRAFT)
    assert rounds.overdue_reasons(rnd, after) == ["Eerste reden.", "Tweede reden."]
    with pytest.raises(InvalidState) as exc:
        rounds.close_phase(rnd, Phase.DRAFT, actor=org, now=NOW)
    assert "Eerste reden." in str(exc.value) and "Tweede reden." in str(exc.value)


def test_draft_stays_overdue_when_submission_end_has_passed_too(ctx, org, hooks):
    """Submission is never skipped: the organiser must give it a future end first."""
    rnd = new_round(org)
    later = end_of(rnd, Phase.SUBMISSION) + timedelta(days=1)
    assert rounds.sync_round(rnd, now=later) == []
    assert rnd.current_phase is Phase.DRAFT and len(rounds.overdue_reasons(rnd, later)) == 1

    ends = {p: later + timedelta(weeks=2 * (p.index)) for p in PHASES[1:-1]}
    rounds.reschedule(org, rnd, ends, now=later)
    assert rounds.overdue_reasons(rnd, later) == []
    assert rounds.sync_round(rnd, now=later) == [Phase.SUBMISSION]
    assert hooks.phases == [Phase.DRAFT]


# --- the clock: cascades -----------------------------------------------------------------------


def test_sync_cascades_through_every_due_phase(ctx, org, hooks):
    rnd = new_round(org)
    advance_to(rnd, Phase.CLUSTERING)
    planned = {p: end_of(rnd, p) for p in PHASES}
    later = planned[Phase.DEVELOPMENT] + timedelta(days=1)  # before the final vote ends

    assert rounds.sync_round(rnd, now=later) == [
        Phase.PRESELECTION, Phase.DEVELOPMENT, Phase.FINAL_VOTE
    ]
    db.session.commit()

    rnd = reload(rnd.id)
    assert rnd.current_phase is Phase.FINAL_VOTE
    for phase in (Phase.CLUSTERING, Phase.PRESELECTION, Phase.DEVELOPMENT):
        window = rnd.window(phase)
        assert window.left_at == later and window.left_by_id is None
        assert window.ends_at == planned[phase]  # the plan is not rewritten
    for phase in (Phase.PRESELECTION, Phase.DEVELOPMENT, Phase.FINAL_VOTE):
        assert rnd.window(phase).entered_at == later
    assert rnd.window(Phase.FINAL_VOTE).left_at is None
    assert hooks.phases[-3:] == [Phase.CLUSTERING, Phase.PRESELECTION, Phase.DEVELOPMENT]
    closed = events("round.phase_closed")[-3:]
    assert [(e.data["from"], e.data["planned_end"]) for e in closed] == [
        (p.value, planned[p].isoformat())
        for p in (Phase.CLUSTERING, Phase.PRESELECTION, Phase.DEVELOPMENT)
    ]
    assert all(e.created_at == later and e.actor_id is None for e in closed)


def test_sync_cascades_to_adoption_and_stops(ctx, org, hooks):
    rnd = new_round(org)
    advance_to(rnd, Phase.SUBMISSION)
    far = end_of(rnd, Phase.DECIDED) + timedelta(days=365)
    assert rounds.sync_round(rnd, now=far) == PHASES[2:]
    assert rnd.current_phase is Phase.ADOPTION
    assert hooks.phases == CLOSABLE


def test_sync_stays_put_when_nothing_is_due(ctx, org, hooks):
    rnd = new_round(org)
    advance_to(rnd, Phase.PRESELECTION)
    before = len(events("round.phase_closed"))
    for moment in (NOW, end_of(rnd, Phase.CLUSTERING), end_of(rnd, Phase.PRESELECTION) - MINUTE):
        assert rounds.sync_round(rnd, now=moment) == []
    assert rnd.current_phase is Phase.PRESELECTION
    assert len(events("round.phase_closed")) == before
    assert hooks.count(Phase.PRESELECTION) == 0


def test_sync_stops_at_a_blocked_phase_in_a_cascade(ctx, org, hooks):
    gate = Gate(Phase.DEVELOPMENT, "Jury nog niet klaar.")
    rnd = new_round(org)
    advance_to(rnd, Phase.CLUSTERING)
    later = end_of(rnd, Phase.FINAL_VOTE) + timedelta(days=1)
    assert rounds.sync_round(rnd, now=later) == [Phase.PRESELECTION]
    assert rnd.current_phase is Phase.PRESELECTION
    assert rounds.overdue_reasons(rnd, later) == [gate.reason]
    gate.reason = None
    assert rounds.sync_round(rnd, now=later) == [Phase.DEVELOPMENT, Phase.FINAL_VOTE,
                                                 Phase.DECIDED]
    assert hooks.phases.count(Phase.PRESELECTION) == 1


def test_failing_end_work_rolls_the_whole_transition_back(ctx, org, hooks):
    """A hook that fails leaves no half-closed phase behind, also not earlier in a cascade."""
    rnd = new_round(org)
    advance_to(rnd, Phase.CLUSTERING)

    def broken(rnd, now, actor):
        raise InvalidState("Uitslag kan niet worden berekend.")

    rounds.on_phase_end(Phase.PRESELECTION)(broken)
    later = end_of(rnd, Phase.DEVELOPMENT) + timedelta(days=1)
    calls = len(hooks.calls)
    with pytest.raises(InvalidState):
        rounds.sync_round(rnd, now=later)
    db.session.rollback()

    rnd = reload(rnd.id)
    assert rnd.current_phase is Phase.CLUSTERING
    assert rnd.window(Phase.CLUSTERING).left_at is None
    assert rnd.window(Phase.PRESELECTION).entered_at is None
    assert events("round.phase_closed")[-1].data["to"] == "clustering"

    rounds._end_hooks[Phase.PRESELECTION].remove(broken)
    del hooks.calls[calls:]  # the rolled-back attempt does not count
    assert rounds.sync_round(rnd, now=later) == [
        Phase.PRESELECTION, Phase.DEVELOPMENT, Phase.FINAL_VOTE
    ]
    db.session.commit()
    assert hooks.phases[calls:] == [Phase.CLUSTERING, Phase.PRESELECTION, Phase.DEVELOPMENT]


def test_sync_all_moves_only_due_rounds(ctx, org, hooks):
    due = new_round(org)
    later_round = new_round(org, now=NOW + timedelta(days=30))
    done = new_round(org, data=replace(DATA, title="Afgeronde ronde"))
    advance_to(done, Phase.ADOPTION)
    moment = end_of(due, Phase.DRAFT)

    assert rounds.sync_all(now=moment) == {due.slug: [Phase.SUBMISSION]}
    assert later_round.current_phase is Phase.DRAFT
    assert rounds.sync_all(now=moment) == {}


# --- exactly once ------------------------------------------------------------------------------


def test_end_work_runs_once_by_date(ctx, org, hooks):
    rnd = new_round(org)
    end = end_of(rnd, Phase.DRAFT)
    assert rounds.sync_round(rnd, now=end) == [Phase.SUBMISSION]
    assert rounds.sync_round(rnd, now=end) == []
    assert rounds.sync_round(rnd, now=end + timedelta(hours=1)) == []
    db.session.commit()
    assert rounds.sync_round(rnd, now=end + timedelta(hours=2)) == []
    assert rounds.sync_all(now=end + timedelta(hours=3)) == {}
    assert hooks.count(Phase.DRAFT) == 1
    assert len(events("round.phase_closed")) == 1


def test_end_work_runs_once_by_organiser(ctx, org, hooks):
    rnd = new_round(org)
    rounds.close_phase(rnd, Phase.DRAFT, actor=org, now=NOW + MINUTE)
    db.session.commit()
    with pytest.raises(InvalidState):
        rounds.close_phase(rnd, Phase.DRAFT, actor=org, now=NOW + 2 * MINUTE)
    db.session.rollback()
    # The planned end (now moved to the closing moment) passes: the clock does nothing more.
    assert rounds.sync_round(rnd, now=NOW + timedelta(days=8)) == []
    assert hooks.count(Phase.DRAFT) == 1
    assert hooks.calls[0] == (Phase.DRAFT, NOW + MINUTE, org.id)


def _load_in_new_session(app, rnd_id):
    rnd = db.session.get(Round, rnd_id)
    assert rnd is not None
    return rnd


def test_stale_session_does_not_close_again(app, ctx, org, hooks):
    """Two requests load the round; the one that closes second must not run the work again."""
    rnd = new_round(org)
    advance_to(rnd, Phase.SUBMISSION)
    stale = rnd  # loaded by "request A", which then waits
    assert stale.current_phase is Phase.SUBMISSION

    with app.app_context():  # "request B": its own session and connection
        fresh = _load_in_new_session(app, rnd.id)
        assert fresh is not stale
        actor = db.session.get(User, org.id)
        rounds.close_phase(fresh, Phase.SUBMISSION, actor=actor, now=NOW + timedelta(days=10))
        db.session.commit()

    assert stale.phase == Phase.SUBMISSION.value  # request A has not looked again
    with pytest.raises(InvalidState):
        rounds.close_phase(stale, Phase.SUBMISSION, actor=org, now=NOW + timedelta(days=11))
    db.session.rollback()
    assert rounds.sync_round(stale, now=end_of(stale, Phase.SUBMISSION)) == []
    assert hooks.count(Phase.SUBMISSION) == 1
    assert len(events("round.phase_closed", rnd.id)) == 2  # draft, submission


def test_stale_session_hits_the_compare_and_set(app, ctx, org, hooks, monkeypatch):
    """Even without the row lock and reload, the compare-and-set on left_at stops a second close."""
    rnd = new_round(org)
    advance_to(rnd, Phase.SUBMISSION)
    stale = rnd
    assert stale.current_phase is Phase.SUBMISSION and end_of(stale, Phase.SUBMISSION)

    with app.app_context():
        fresh = _load_in_new_session(app, rnd.id)
        rounds.close_phase(fresh, Phase.SUBMISSION, actor=None,
                           now=end_of(fresh, Phase.SUBMISSION))
        db.session.commit()

    monkeypatch.setattr(rounds, "_lock", lambda rnd: None)
    with pytest.raises(rounds.PhaseAlreadyClosed):
        rounds.close_phase(stale, Phase.SUBMISSION, actor=org, now=NOW + timedelta(days=50))
    assert stale.current_phase is Phase.CLUSTERING  # reloaded after losing
    db.session.rollback()
    # The clock on a stale object gives up quietly too.
    stale_again = rnd
    db.session.expire_all()
    assert rounds.sync_round(stale_again, now=end_of(stale_again, Phase.CLUSTERING) - MINUTE) == []
    assert hooks.count(Phase.SUBMISSION) == 1
    assert len(events("round.phase_closed", rnd.id)) == 2


def test_clock_in_a_stale_session_gives_up_quietly(app, ctx, org, hooks, monkeypatch):
    rnd = new_round(org)
    advance_to(rnd, Phase.SUBMISSION)
    end = end_of(rnd, Phase.SUBMISSION)
    assert rnd.current_phase is Phase.SUBMISSION  # loaded before the other request acts
    with app.app_context():
        rounds.sync_round(db.session.get(Round, rnd.id), now=end)
        db.session.commit()
    monkeypatch.setattr(rounds, "_lock", lambda rnd: None)
    assert rounds.sync_round(rnd, now=end) == []  # lost the race: no error, no second run
    db.session.rollback()
    assert hooks.count(Phase.SUBMISSION) == 1


def test_extension_by_another_request_is_seen_by_the_clock(app, ctx, org, hooks):
    """A request that loaded the round before an organiser extended the phase must not close
    the phase at its old end."""
    rnd = new_round(org)
    advance_to(rnd, Phase.SUBMISSION)
    old_end = end_of(rnd, Phase.SUBMISSION)
    assert rnd.current_phase is Phase.SUBMISSION  # loaded before the other request acts
    with app.app_context():
        fresh = db.session.get(Round, rnd.id)
        rounds.extend_phase(db.session.get(User, org.id), fresh, old_end + timedelta(days=3),
                            now=old_end - timedelta(hours=1))
        db.session.commit()
    assert end_of(rnd, Phase.SUBMISSION) == old_end  # this session has not looked again
    assert rounds.sync_round(rnd, now=old_end) == []
    assert rnd.current_phase is Phase.SUBMISSION
    assert end_of(rnd, Phase.SUBMISSION) == old_end + timedelta(days=3)
    assert hooks.count(Phase.SUBMISSION) == 0


def test_pending_transitions_run_once_after_a_restart(app, ctx, database_url, org, hooks):
    """Nothing is kept in memory: a new app instance finds the due phases in the database."""
    rnd = new_round(org)
    advance_to(rnd, Phase.SUBMISSION)
    rnd_id, slug = rnd.id, rnd.slug
    later = end_of(rnd, Phase.PRESELECTION) + timedelta(hours=1)
    db.session.remove()

    config = {**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url}
    for attempt in range(2):  # the second restart finds nothing left to do
        restarted = create_app(config)
        with restarted.app_context():
            entered = rounds.sync_all(now=later + timedelta(minutes=attempt))
            db.session.commit()
            if attempt == 0:
                assert entered == {slug: [Phase.CLUSTERING, Phase.PRESELECTION,
                                              Phase.DEVELOPMENT]}
            else:
                assert entered == {}
            db.session.remove()
            db.engine.dispose()

    rnd = db.session.get(Round, rnd_id)
    assert rnd.current_phase is Phase.DEVELOPMENT
    assert hooks.phases == [Phase.DRAFT, Phase.SUBMISSION, Phase.CLUSTERING, Phase.PRESELECTION]
    assert len(events("round.phase_closed", rnd_id)) == 4


def test_closed_phase_keeps_its_claim_in_the_database(ctx, org):
    rnd = new_round(org)
    rounds.close_phase(rnd, Phase.DRAFT, actor=org, now=NOW + MINUTE)
    db.session.commit()
    row = db.session.execute(
        select(PhaseWindow.left_at, PhaseWindow.left_by_id).where(
            PhaseWindow.round_id == rnd.id, PhaseWindow.phase == Phase.DRAFT.value)
    ).one()
    assert tuple(row) == (NOW + MINUTE, org.id)


# --- real concurrency (PostgreSQL: two threads, two sessions, two connections) ----------------

needs_postgres = pytest.mark.skipif(not IS_POSTGRES, reason="real row locks need PostgreSQL")


def _wait_for_lock_waiter(timeout: float = 10.0) -> None:
    """Block until some backend of this database waits for a lock (the second closer)."""
    deadline = time.monotonic() + timeout
    with db.engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )).scalar()
            conn.rollback()
            if waiting:
                return
            time.sleep(0.01)  # polling another connection; the competition clock is not involved
    raise AssertionError("the second closer never waited for the first")


def _race(app, rnd_id: int, first, second) -> dict[str, object]:
    """Run `first` and, while its transaction is open, `second`; return each outcome."""
    first_done, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def run(name, action, before_commit=None, wait_for=None):
        with app.app_context():
            try:
                if wait_for is not None:
                    assert wait_for.wait(10)
                rnd = db.session.get(Round, rnd_id)
                outcome[name] = action(rnd)
                if before_commit is not None:
                    before_commit()
                db.session.commit()
            except Exception as exc:  # reported to the test
                db.session.rollback()
                outcome[name] = exc
            finally:
                first_done.set()

    def hold_open():
        first_done.set()
        assert release.wait(10)

    a = threading.Thread(target=run, args=("first", first, hold_open))
    b = threading.Thread(target=run, args=("second", second, None, first_done))
    a.start()
    b.start()
    try:
        assert first_done.wait(10)
        _wait_for_lock_waiter()
    finally:
        release.set()
        a.join(20)
        b.join(20)
    return outcome


@needs_postgres
@pytest.mark.parametrize("locks", [True, False], ids=["row-lock", "compare-and-set-only"])
def test_two_organisers_close_at_once(app, ctx, org, hooks, monkeypatch, locks):
    rnd = new_round(org)
    advance_to(rnd, Phase.SUBMISSION)
    rnd_id, org_id = rnd.id, org.id
    if not locks:
        monkeypatch.setattr(rounds, "_lock", lambda rnd: None)
    db.session.remove()

    def close(moment):
        def action(rnd):
            return rounds.close_phase(rnd, Phase.SUBMISSION, actor=db.session.get(User, org_id),
                                      now=moment)
        return action

    outcome = _race(app, rnd_id, close(NOW + timedelta(days=10)), close(NOW + timedelta(days=11)))
    assert outcome["first"] is Phase.CLUSTERING
    assert isinstance(outcome["second"], InvalidState)
    if not locks:
        assert isinstance(outcome["second"], rounds.PhaseAlreadyClosed)
    assert hooks.count(Phase.SUBMISSION) == 1
    rnd = db.session.get(Round, rnd_id)
    assert rnd.current_phase is Phase.CLUSTERING
    assert rnd.window(Phase.SUBMISSION).left_at == NOW + timedelta(days=10)
    assert len(events("round.phase_closed", rnd_id)) == 2


@needs_postgres
def test_organiser_and_clock_close_at_once(app, ctx, org, hooks):
    rnd = new_round(org)
    advance_to(rnd, Phase.SUBMISSION)
    rnd_id, org_id, end = rnd.id, org.id, end_of(rnd, Phase.SUBMISSION)
    db.session.remove()

    outcome = _race(
        app, rnd_id,
        lambda rnd: rounds.close_phase(rnd, Phase.SUBMISSION,
                                       actor=db.session.get(User, org_id), now=end - MINUTE),
        lambda rnd: rounds.sync_round(rnd, now=end),
    )
    assert outcome == {"first": Phase.CLUSTERING, "second": []}
    assert hooks.count(Phase.SUBMISSION) == 1
    assert db.session.get(Round, rnd_id).current_phase is Phase.CLUSTERING


@needs_postgres
def test_two_clocks_at_once(app, ctx, org, hooks):
    rnd = new_round(org)
    advance_to(rnd, Phase.CLUSTERING)
    rnd_id = rnd.id
    later = end_of(rnd, Phase.DEVELOPMENT)
    db.session.remove()

    outcome = _race(app, rnd_id, lambda rnd: rounds.sync_round(rnd, now=later),
                    lambda rnd: rounds.sync_round(rnd, now=later))
    assert outcome == {"first": [Phase.PRESELECTION, Phase.DEVELOPMENT, Phase.FINAL_VOTE],
                       "second": []}
    assert hooks.phases[-3:] == [Phase.CLUSTERING, Phase.PRESELECTION, Phase.DEVELOPMENT]
    assert len(hooks.calls) == 5


@needs_postgres
def test_organiser_extends_while_another_closes(app, ctx, org, hooks):
    """Both take the round's lock first: no deadlock, and the extension is refused."""
    rnd = new_round(org)
    advance_to(rnd, Phase.SUBMISSION)
    rnd_id, org_id, end = rnd.id, org.id, end_of(rnd, Phase.SUBMISSION)
    clustering_end = end_of(rnd, Phase.CLUSTERING)
    db.session.remove()

    outcome = _race(
        app, rnd_id,
        lambda rnd: rounds.close_phase(rnd, Phase.SUBMISSION,
                                       actor=db.session.get(User, org_id), now=end - MINUTE),
        lambda rnd: rounds.extend_phase(db.session.get(User, org_id), rnd, end + MINUTE,
                                        now=end - MINUTE, phase=Phase.SUBMISSION),
    )
    assert outcome["first"] is Phase.CLUSTERING
    assert isinstance(outcome["second"], InvalidState)
    rnd = db.session.get(Round, rnd_id)
    assert end_of(rnd, Phase.SUBMISSION) == end - MINUTE  # closed early, not extended
    assert end_of(rnd, Phase.CLUSTERING) == clustering_end
    assert hooks.count(Phase.SUBMISSION) == 1


# --- reschedule and extend ---------------------------------------------------------------------


def test_extend_current_phase(ctx, org):
    rnd = new_round(org)
    advance_to(rnd, Phase.SUBMISSION)
    old = end_of(rnd, Phase.SUBMISSION)
    now = old - timedelta(days=1)
    rounds.extend_phase(org, rnd, old + timedelta(days=3), now=now)
    db.session.commit()
    rnd = reload(rnd.id)
    assert end_of(rnd, Phase.SUBMISSION) == old + timedelta(days=3)
    assert rnd.starts_at(Phase.CLUSTERING) == old + timedelta(days=3)
    assert rnd.updated_at == now
    (event,) = events("round.rescheduled")
    assert event.actor_id == org.id and event.created_at == now
    assert event.data == {"submission": [old.isoformat(), (old + timedelta(days=3)).isoformat()]}
    # The old end passes without effect.
    assert rounds.sync_round(rnd, now=old) == []
    assert rounds.sync_round(rnd, now=old + timedelta(days=3)) == [Phase.CLUSTERING]


def test_shorten_current_phase_to_a_future_moment(ctx, org):
    rnd = new_round(org)
    rounds.extend_phase(org, rnd, NOW + timedelta(hours=2), now=NOW)
    assert end_of(rnd, Phase.DRAFT) == NOW + timedelta(hours=2)
    assert rounds.sync_round(rnd, now=NOW + timedelta(hours=2)) == [Phase.SUBMISSION]


@pytest.mark.parametrize("offset", [timedelta(0), -MINUTE, -timedelta(days=30)])
def test_phase_cannot_be_moved_to_end_in_the_past(ctx, org, offset):
    rnd = new_round(org)
    old = end_of(rnd, Phase.DRAFT)
    with pytest.raises(ValidationError) as exc:
        rounds.extend_phase(org, rnd, NOW + offset, now=NOW)
    assert exc.value.field == "end_draft"
    with pytest.raises(ValidationError):
        rounds.reschedule(org, rnd, {Phase.CLUSTERING: NOW + offset}, now=NOW)
    db.session.rollback()
    rnd = reload(rnd.id)
    assert end_of(rnd, Phase.DRAFT) == old and events("round.rescheduled") == []


def test_extension_must_keep_the_order(ctx, org):
    rnd = new_round(org)
    with pytest.raises(ValidationError) as exc:
        rounds.extend_phase(org, rnd, end_of(rnd, Phase.SUBMISSION), now=NOW)
    assert exc.value.field == "end_submission"


def test_extension_is_refused_when_the_round_moved_on(ctx, org):
    """The organiser extends the phase they saw; if it closed meanwhile, nothing moves."""
    rnd = new_round(org)
    advance_to(rnd, Phase.CLUSTERING)
    old = {p: end_of(rnd, p) for p in PHASES}
    now = old[Phase.SUBMISSION] + MINUTE
    with pytest.raises(InvalidState):
        rounds.extend_phase(org, rnd, now + timedelta(days=3), now=now, phase=Phase.SUBMISSION)
    db.session.rollback()
    rnd = reload(rnd.id)
    assert {p: end_of(rnd, p) for p in PHASES} == old
    rounds.extend_phase(org, rnd, now + timedelta(days=3), now=now, phase=Phase.CLUSTERING)
    assert end_of(rnd, Phase.CLUSTERING) == now + timedelta(days=3)


def test_adoption_cannot_be_extended(ctx, users):
    org = users["organiser"]
    rnd = new_round(org)
    advance_to(rnd, Phase.ADOPTION)
    later = end_of(rnd, Phase.DECIDED) + timedelta(days=1)
    with pytest.raises(InvalidState):
        rounds.extend_phase(org, rnd, later + timedelta(days=30), now=later)
    with pytest.raises(PermissionDenied):  # a member learns nothing about the round's state
        rounds.extend_phase(users["member"], rnd, later + timedelta(days=30), now=later)


def test_reschedule_future_phases_and_audit(ctx, org):
    rnd = new_round(org)
    advance_to(rnd, Phase.SUBMISSION)
    old = {p: end_of(rnd, p) for p in PHASES}
    now = old[Phase.DRAFT] + timedelta(days=1)
    new = {
        Phase.DRAFT: now + timedelta(days=2),  # ended: silently kept
        Phase.SUBMISSION: old[Phase.SUBMISSION],  # unchanged
        Phase.CLUSTERING: old[Phase.CLUSTERING] + timedelta(days=1),
        Phase.DEVELOPMENT: old[Phase.DEVELOPMENT] + timedelta(days=7),
    }
    rounds.reschedule(org, rnd, new, now=now)
    db.session.commit()
    rnd = reload(rnd.id)
    assert end_of(rnd, Phase.DRAFT) == old[Phase.DRAFT]
    assert end_of(rnd, Phase.CLUSTERING) == old[Phase.CLUSTERING] + timedelta(days=1)
    assert end_of(rnd, Phase.PRESELECTION) == old[Phase.PRESELECTION]
    assert end_of(rnd, Phase.DEVELOPMENT) == old[Phase.DEVELOPMENT] + timedelta(days=7)
    (event,) = events("round.rescheduled")
    assert set(event.data) == {"clustering", "development"}
    assert event.data["development"] == [old[Phase.DEVELOPMENT].isoformat(),
                                         (old[Phase.DEVELOPMENT] + timedelta(days=7)).isoformat()]


def test_reschedule_without_changes_writes_nothing(ctx, org):
    rnd = new_round(org)
    rounds.reschedule(org, rnd, {p: end_of(rnd, p) for p in PHASES}, now=NOW)
    rounds.reschedule(org, rnd, {}, now=NOW)
    assert events("round.rescheduled") == [] and rnd.updated_at == NOW


@pytest.mark.parametrize(
    ("make_ends", "field"),
    [
        (lambda r: {Phase.PRESELECTION: r.window(Phase.CLUSTERING).ends_at}, "end_preselection"),
        (lambda r: {Phase.CLUSTERING: r.window(Phase.PRESELECTION).ends_at + MINUTE},
         "end_preselection"),
        (lambda r: {Phase.DECIDED: None}, "end_decided"),
        (lambda r: {Phase.ADOPTION: r.window(Phase.DECIDED).ends_at}, "end_adoption"),
    ],
)
def test_reschedule_validates_the_order(ctx, org, make_ends, field):
    rnd = new_round(org)
    with pytest.raises(ValidationError) as exc:
        rounds.reschedule(org, rnd, make_ends(rnd), now=NOW)
    assert exc.value.field == field
    db.session.rollback()
    assert events("round.rescheduled") == []


def test_reschedule_an_overdue_round(ctx, org):
    """The current phase's end has passed (blocked): later phases can still be moved."""
    gate = Gate(Phase.CLUSTERING)
    rnd = new_round(org)
    advance_to(rnd, Phase.SUBMISSION)
    overdue_end = end_of(rnd, Phase.SUBMISSION)
    now = overdue_end + timedelta(days=3)
    assert rounds.sync_round(rnd, now=now) == []
    rounds.reschedule(org, rnd, {p: end_of(rnd, p) for p in PHASES} | {
        Phase.DECIDED: end_of(rnd, Phase.DECIDED) + timedelta(days=1)}, now=now)
    assert end_of(rnd, Phase.SUBMISSION) == overdue_end
    # Extending the overdue phase into the future lifts the overdue state.
    rounds.extend_phase(org, rnd, now + timedelta(days=1), now=now)
    gate.reason = None
    assert rounds.overdue_reasons(rnd, now) == []
    assert rounds.sync_round(rnd, now=now) == []


@pytest.mark.parametrize("role", ["member", "jury", "delegate", "inactive"])
def test_only_organisers_reschedule(ctx, users, role):
    rnd = new_round(users["organiser"])
    with pytest.raises(PermissionDenied):
        rounds.reschedule(users[role], rnd, {Phase.DECIDED: NOW + timedelta(days=999)}, now=NOW)
    with pytest.raises(PermissionDenied):
        rounds.extend_phase(users[role], rnd, NOW + timedelta(days=2), now=NOW)
    db.session.rollback()
    assert events("round.rescheduled") == []


# --- update_round ------------------------------------------------------------------------------


def test_update_rules_and_texts_in_draft(ctx, org):
    rnd = new_round(org)
    later = NOW + timedelta(hours=1)
    rounds.update_round(org, rnd, replace(DATA, title="Nieuwe titel", max_finalists=5,
                                          are_ballots_anonymous=True), now=later)
    db.session.commit()
    rnd = reload(rnd.id)
    assert rnd.title == "Nieuwe titel" and rnd.max_finalists == 5 and rnd.are_ballots_anonymous
    assert rnd.slug == "digitale-dienstverlening-2027"  # links keep working
    assert rnd.updated_at == later
    (event,) = events("round.updated")
    assert event.actor_id == org.id and event.created_at == later
    assert event.data == {"title": [TITLE, "Nieuwe titel"], "max_finalists": [3, 5],
                          "are_ballots_anonymous": [False, True]}


def test_update_without_changes_writes_nothing(ctx, org):
    rnd = new_round(org)
    rounds.update_round(org, rnd, DATA, now=NOW + MINUTE)
    assert events("round.updated") == [] and rnd.updated_at == NOW


@pytest.mark.parametrize(
    "changes",
    [{"max_finalists": 4}, {"max_winners": 2}, {"jury_weight": 0.7},
     {"vote_weighting": "population"}, {"diversity_threshold": 0.5},
     {"is_own_finalist_vote_allowed": False}, {"are_juror_names_public": True},
     {"are_ballots_anonymous": True}],
    ids=lambda c: next(iter(c)),
)
def test_rules_are_locked_once_submission_opens(ctx, org, changes):
    rnd = new_round(org)
    advance_to(rnd, Phase.SUBMISSION)
    with pytest.raises(InvalidState) as exc:
        rounds.update_round(org, rnd, replace(DATA, title="Andere titel", **changes),
                            now=NOW + timedelta(days=8))
    assert exc.value.field == next(iter(changes))
    db.session.rollback()
    rnd = reload(rnd.id)
    assert rnd.title == TITLE and events("round.updated") == []
    assert all(getattr(rnd, k) != v for k, v in changes.items())


@pytest.mark.parametrize("phase", PHASES[1:], ids=str)
def test_texts_stay_editable_after_draft(ctx, org, phase):
    rnd = new_round(org)
    advance_to(rnd, phase)
    rounds.update_round(org, rnd, replace(DATA, theme="Een scherper thema",
                                          description="Meer uitleg."), now=NOW)
    db.session.commit()
    rnd = reload(rnd.id)
    assert rnd.theme == "Een scherper thema" and rnd.description == "Meer uitleg."
    (event,) = events("round.updated")
    assert set(event.data) == {"theme", "description"}


def test_update_sees_a_phase_change_made_by_another_request(app, ctx, org):
    """Rules changed by a request that loaded the round while it was still a draft are refused
    when submission opened in the meantime."""
    rnd = new_round(org)
    end = end_of(rnd, Phase.DRAFT)
    assert rnd.current_phase is Phase.DRAFT  # loaded before the other request acts
    with app.app_context():
        rounds.sync_round(db.session.get(Round, rnd.id), now=end)
        db.session.commit()
    assert rnd.phase == Phase.DRAFT.value  # stale
    with pytest.raises(InvalidState):
        rounds.update_round(org, rnd, replace(DATA, max_finalists=7), now=NOW + MINUTE)


def test_update_validates_and_checks_the_role(ctx, users):
    rnd = new_round(users["organiser"])
    with pytest.raises(ValidationError) as exc:
        rounds.update_round(users["organiser"], rnd, replace(DATA, title="Kort"), now=NOW)
    assert exc.value.field == "title"
    for role in ("member", "jury", "delegate", "inactive"):
        with pytest.raises(PermissionDenied):
            rounds.update_round(users[role], rnd, replace(DATA, title="Overgenomen!"), now=NOW)
    db.session.rollback()
    assert reload(rnd.id).title == TITLE and events("round.updated") == []


# --- reading -----------------------------------------------------------------------------------


def test_reading_rounds(ctx, org):
    draft = new_round(org, data=replace(DATA, title="Nog een concept"))
    running = new_round(org, now=NOW + timedelta(hours=1))
    advance_to(running, Phase.SUBMISSION)
    assert rounds.public_rounds() == [running]
    assert rounds.all_rounds() == [running, draft]  # newest first
    assert rounds.get_round(draft.slug) == draft
    with pytest.raises(NotFound):
        rounds.get_round("bestaat-niet")


def test_every_phase_has_a_label_and_a_place(ctx):
    labels = [rounds.phase_label(p) for p in PHASES]
    assert all(labels) and len(set(labels)) == len(PHASES)
    assert Phase.DRAFT.previous is None and Phase.ADOPTION.next is None
    assert [p.next for p in CLOSABLE] == PHASES[1:]
    assert [p.previous for p in PHASES[1:]] == CLOSABLE


def test_default_schedule_is_valid(ctx, org):
    ends = rounds.default_schedule(NOW)
    assert ends[Phase.ADOPTION] is None
    assert [ends[p] for p in CLOSABLE] == sorted(ends[p] for p in CLOSABLE)
    assert ends[Phase.DRAFT] == NOW + rounds.DEFAULT_DURATIONS[Phase.DRAFT]
