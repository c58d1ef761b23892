"""Adoption of standards at the service level: every status change allowed and refused, the
dates and the reason each status needs, the history, who may record, and the figures built on
it (coverage, provinces, progress, the saving estimate, the dashboard and the jatprijs).

The world (`build_world`) is made directly in the database: a few municipalities with their
members and delegates, two rounds (one with a cost estimate) and three standards. The page
tests (tests/test_adoption_pages.py) use it too.
"""

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from competition.extensions import db
from competition.models import (
    AdoptionEvent,
    AdoptionStatus,
    AuditEvent,
    Cluster,
    Municipality,
    Phase,
    Proposal,
    ProposalStatus,
    Role,
    Round,
    Standard,
    User,
)
from competition.services import accounts, adoption, rounds
from competition.services.errors import InvalidState, PermissionDenied, ValidationError
from tests.conftest import NOW, add_municipalities, make_user

S = AdoptionStatus
TODAY = date(2027, 3, 1)  # NOW in Dutch time
DECLARED_A = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)
DECLARED_B = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)
DECLARED_C = datetime(2026, 12, 20, 9, 0, tzinfo=UTC)
COST = 100_000
REASON = "Wij gebruiken al een ander systeem."


# --- the world ---------------------------------------------------------------------------------


def _standard(rnd: Round, owner: Municipality, author: User, name: str,
              declared_at: datetime) -> Standard:
    cluster = Cluster(round_id=rnd.id, label=f"Vraagstuk {name}", is_confirmed=True,
                      created_at=NOW, updated_at=NOW)
    db.session.add(cluster)
    db.session.flush()
    proposal = Proposal(round_id=rnd.id, municipality_id=owner.id, author_id=author.id,
                        status=ProposalStatus.SUBMITTED.value, title=name, created_at=NOW,
                        updated_at=NOW, submitted_at=NOW)
    db.session.add(proposal)
    db.session.flush()
    standard = Standard(round_id=rnd.id, cluster_id=cluster.id, proposal_id=proposal.id,
                        owner_municipality_id=owner.id, name=name, declared_at=declared_at,
                        updated_at=declared_at)
    db.session.add(standard)
    db.session.flush()
    return standard


def _round(organiser: User, title: str, cost: int | None) -> Round:
    rnd = rounds.create_round(
        organiser, rounds.RoundData(title=title, theme="Dienstverlening", estimated_cost=cost),
        rounds.default_schedule(NOW + timedelta(days=1)), now=NOW)
    # Made directly: the round's vote is long over in this world.
    rnd.phase = Phase.ADOPTION.value
    return rnd


def build_world() -> SimpleNamespace:
    """Municipalities, their people, two rounds and three standards (committed).

    Utrecht, Zeist and Oudstad (province Utrecht), Amsterdam, Groningen and Súdwest-Fryslân
    take part; tests stop Oudstad's participation where they need a municipality that does
    not. Round 1 has a cost estimate, round 2 none.
    Standard A (round 1) was declared on 10 January 2027, B (round 2) on 1 February 2027,
    C (round 1) on 20 December 2026.
    """
    ms = add_municipalities()
    ms["GM0355"] = Municipality(code="GM0355", name="Zeist", province="Utrecht",
                                population=65_000)
    ms["GM0999"] = Municipality(code="GM0999", name="Oudstad", province="Utrecht",
                                population=10_000)
    db.session.add_all([ms["GM0355"], ms["GM0999"]])
    db.session.flush()
    people = {
        "organiser": make_user("org@example.org", Role.ORGANISER, name="Olga Organiser"),
        "jury": make_user("jury@example.org", Role.JURY, name="Jan Jury"),
        "member": make_user("member@utrecht.example", Role.MEMBER, municipality=ms["GM0344"]),
        "delegate": make_user("delegate@utrecht.example", Role.DELEGATE,
                              municipality=ms["GM0344"]),
        "other_member": make_user("member@amsterdam.example", Role.MEMBER,
                                  municipality=ms["GM0363"]),
        "groningen": make_user("member@groningen.example", Role.MEMBER,
                               municipality=ms["GM0014"]),
        "fryslan": make_user("delegate@sudwestfryslan.example", Role.DELEGATE,
                             municipality=ms["GM1900"]),
        "zeist": make_user("member@zeist.example", Role.MEMBER, municipality=ms["GM0355"]),
        "oudstad": make_user("member@oudstad.example", Role.MEMBER, municipality=ms["GM0999"]),
        "inactive": make_user("oud@utrecht.example", Role.MEMBER, municipality=ms["GM0344"],
                              is_active=False),
    }
    r1 = _round(people["organiser"], "Digitale dienstverlening 2026", COST)
    r2 = _round(people["organiser"], "Slimme meldingen 2027", None)
    a = _standard(r1, ms["GM0344"], people["member"], "Paspoort online", DECLARED_A)
    b = _standard(r2, ms["GM0363"], people["other_member"], "Meldingen-app", DECLARED_B)
    c = _standard(r1, ms["GM0014"], people["groningen"], "Afvalkalender", DECLARED_C)
    db.session.commit()
    return SimpleNamespace(
        emails={k: u.email for k, u in people.items()},
        municipalities={code: m.id for code, m in ms.items()},
        round_ids=(r1.id, r2.id), a=a.id, b=b.id, c=c.id)


@pytest.fixture
def world(ctx) -> SimpleNamespace:
    return build_world()


def user(world, who: str) -> User:
    return accounts.find_user_by_email(world.emails[who])


def standard(world, key: str = "a") -> Standard:
    return db.session.get(Standard, getattr(world, key))


def municipality(world, code: str) -> Municipality:
    return db.session.get(Municipality, world.municipalities[code])


def deactivate(world, code: str) -> None:
    municipality(world, code).is_active = False
    db.session.flush()


DETAILS = {
    S.UNDECIDED: {},
    S.INTENDS: {"planned_on": date(2027, 6, 1)},
    S.ADOPTING: {},
    S.ADOPTED: {"adopted_on": date(2027, 2, 1)},
    S.DECLINED: {"reason": REASON},
}
OTHER_DETAILS = {
    S.UNDECIDED: {"reason": "Nog in overleg met de afdeling."},
    S.INTENDS: {"planned_on": date(2027, 9, 1)},
    S.ADOPTING: {"reason": "Gestart met de invoering."},
    S.ADOPTED: {"adopted_on": date(2027, 2, 20)},
    S.DECLINED: {"reason": "Past niet bij onze werkwijze."},
}


def record(world, status, who: str = "member", key: str = "a", now: datetime = NOW,
           **details):
    return adoption.record(user(world, who), standard(world, key), status, now=now, **details)


def put(world, status: AdoptionStatus, who: str = "member", key: str = "a", **details):
    """Bring the actor's municipality to `status` with its usual details."""
    return record(world, status, who, key, **{**DETAILS[status], **details})


def events(world, key: str = "a") -> int:
    return db.session.scalar(select(func.count(AdoptionEvent.id))
                             .where(AdoptionEvent.standard_id == getattr(world, key)))


# --- status changes ----------------------------------------------------------------------------

ALLOWED = {
    (S.UNDECIDED, S.INTENDS), (S.UNDECIDED, S.ADOPTING), (S.UNDECIDED, S.ADOPTED),
    (S.UNDECIDED, S.DECLINED),
    (S.INTENDS, S.UNDECIDED), (S.INTENDS, S.ADOPTING), (S.INTENDS, S.ADOPTED),
    (S.INTENDS, S.DECLINED),
    (S.ADOPTING, S.INTENDS), (S.ADOPTING, S.ADOPTED), (S.ADOPTING, S.DECLINED),
    (S.ADOPTED, S.DECLINED),
    (S.DECLINED, S.UNDECIDED), (S.DECLINED, S.INTENDS), (S.DECLINED, S.ADOPTING),
    (S.DECLINED, S.ADOPTED),
}
PAIRS = [(a, b) for a in S for b in S]


@pytest.mark.parametrize(("before", "after"), PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_every_status_change_is_allowed_or_refused(world, before, after):
    if before is not S.UNDECIDED:
        put(world, before)
        db.session.commit()
    count = events(world)
    details = DETAILS[after]  # the same details: recording the same status changes nothing
    if (before, after) in ALLOWED:
        row = record(world, after, **details)
        assert adoption.current_status(row) is after
        assert events(world) == count + 1
        latest = adoption.history(standard(world))[0]
        assert (latest.previous_status, latest.status) == (before.value, after.value)
    else:
        with pytest.raises(InvalidState) as exc:
            record(world, after, **details)
        assert exc.value.field == "status"
        db.session.rollback()
        assert events(world) == count
        current = adoption.status_of(standard(world), world.municipalities["GM0344"])
        assert adoption.current_status(current) is before


def test_the_transition_table_matches_the_rules(world):
    assert {(a, b) for a, targets in adoption.TRANSITIONS.items() for b in targets} == ALLOWED


@pytest.mark.parametrize("status", [S.INTENDS, S.ADOPTING, S.ADOPTED, S.DECLINED, S.UNDECIDED],
                         ids=str)
def test_recording_the_same_status_again_corrects_its_details(world, status):
    if status is S.UNDECIDED:
        put(world, S.INTENDS)
    put(world, status)
    row = record(world, status, **OTHER_DETAILS[status])
    assert (row.planned_on, row.adopted_on, row.reason) == (
        OTHER_DETAILS[status].get("planned_on"), OTHER_DETAILS[status].get("adopted_on"),
        OTHER_DETAILS[status].get("reason", ""))
    latest = adoption.history(standard(world))[0]
    assert latest.previous_status == latest.status == status.value


def test_undecided_without_a_row_cannot_be_recorded(world):
    with pytest.raises(InvalidState):
        record(world, S.UNDECIDED)
    assert events(world) == 0


def test_an_unknown_status_is_a_validation_error(world):
    with pytest.raises(ValidationError) as exc:
        record(world, "maybe")
    assert exc.value.field == "status"
    row = record(world, "adopting")  # the value as a form sends it
    assert row.status == S.ADOPTING.value


# --- required details and dates ----------------------------------------------------------------


def test_intends_needs_a_planned_date(world):
    with pytest.raises(ValidationError) as exc:
        record(world, S.INTENDS)
    assert exc.value.field == "planned_on"


def test_adopted_needs_an_adoption_date(world):
    with pytest.raises(ValidationError) as exc:
        record(world, S.ADOPTED)
    assert exc.value.field == "adopted_on"


@pytest.mark.parametrize("reason", ["", "   ", "Te duur.", "x" * 9], ids=repr)
def test_declining_needs_a_reason_of_ten_characters(world, reason):
    with pytest.raises(ValidationError) as exc:
        record(world, S.DECLINED, reason=reason)
    assert exc.value.field == "reason"
    assert events(world) == 0


def test_a_reason_of_ten_characters_is_enough_and_is_kept_trimmed(world):
    row = record(world, S.DECLINED, reason="  Te duur!!\x00!  ")
    assert row.reason == "Te duur!!!"


@pytest.mark.parametrize("status", [S.ADOPTING, S.DECLINED], ids=str)
def test_a_reason_has_at_most_2000_characters(world, status):
    with pytest.raises(ValidationError) as exc:
        record(world, status, reason="x" * 2001)
    assert exc.value.field == "reason"
    assert record(world, status, reason="x" * 2000).reason == "x" * 2000


@pytest.mark.parametrize(("adopted_on", "ok"), [
    (TODAY + timedelta(days=1), False),  # the future: "adopting" until then
    (TODAY, True),
    (DECLARED_A.date(), True),  # the day it was declared
    (DECLARED_A.date() - timedelta(days=1), False),
], ids=["tomorrow", "today", "declaration-day", "before-declaration"])
def test_the_adoption_date_lies_between_declaration_and_today(world, adopted_on, ok):
    if ok:
        assert record(world, S.ADOPTED, adopted_on=adopted_on).adopted_on == adopted_on
    else:
        with pytest.raises(ValidationError) as exc:
            record(world, S.ADOPTED, adopted_on=adopted_on)
        assert exc.value.field == "adopted_on"


@pytest.mark.parametrize(("planned_on", "ok"), [
    (TODAY - timedelta(days=1), False),
    (TODAY, True),
    (date(2037, 3, 1), True),  # ten years ahead
    (date(2037, 3, 2), False),
], ids=["yesterday", "today", "ten-years", "beyond-ten-years"])
def test_the_planned_date_lies_from_today_up_to_ten_years_ahead(world, planned_on, ok):
    if ok:
        assert record(world, S.INTENDS, planned_on=planned_on).planned_on == planned_on
    else:
        with pytest.raises(ValidationError) as exc:
            record(world, S.INTENDS, planned_on=planned_on)
        assert exc.value.field == "planned_on"


def test_today_is_the_dutch_calendar_day(world):
    """23:30 UTC on 1 March is already 2 March in the Netherlands."""
    late = datetime(2027, 3, 1, 23, 30, tzinfo=UTC)
    row = record(world, S.ADOPTED, adopted_on=date(2027, 3, 2), now=late)
    assert row.adopted_on == date(2027, 3, 2)


def test_a_status_keeps_only_its_own_date(world):
    row = record(world, S.ADOPTING, planned_on=date(2027, 6, 1), adopted_on=date(2027, 2, 1))
    assert row.planned_on is None and row.adopted_on is None
    row = record(world, S.INTENDS, planned_on=date(2027, 6, 1), adopted_on=date(2027, 2, 1))
    assert row.planned_on == date(2027, 6, 1) and row.adopted_on is None
    row = record(world, S.ADOPTED, planned_on=date(2027, 6, 1), adopted_on=date(2027, 2, 1))
    assert row.planned_on is None and row.adopted_on == date(2027, 2, 1)


# --- history -----------------------------------------------------------------------------------


def test_every_change_is_kept_in_the_history(world):
    put(world, S.INTENDS, now=NOW - timedelta(days=20), planned_on=date(2027, 3, 1))
    record(world, S.ADOPTING, who="delegate", now=NOW - timedelta(days=10))
    put(world, S.ADOPTED, now=NOW)
    put(world, S.INTENDS, who="other_member")
    rows = adoption.history(standard(world), world.municipalities["GM0344"])
    assert [(e.previous_status, e.status) for e in rows] == [
        ("adopting", "adopted"), ("intends", "adopting"), ("undecided", "intends")]
    assert [e.actor.email for e in rows] == [
        "member@utrecht.example", "delegate@utrecht.example", "member@utrecht.example"]
    assert rows[-1].planned_on == date(2027, 3, 1) and rows[0].adopted_on == date(2027, 2, 1)
    everything = adoption.history(standard(world))
    assert len(everything) == 4 and everything[0].municipality.code == "GM0363"
    assert [e.id for e in adoption.history(standard(world), limit=2)] == [
        e.id for e in everything[:2]]
    assert adoption.history_count(standard(world)) == 4
    assert adoption.history(standard(world, "b")) == []


def test_recording_is_audit_logged(world):
    put(world, S.ADOPTED)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "adoption.recorded"))
    assert event.object_id == str(world.a) and event.actor_id == user(world, "member").id
    assert event.data == {"municipality": "GM0344", "from": "undecided", "to": "adopted",
                          "planned_on": None, "adopted_on": "2027-02-01"}


# --- who may record ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["organiser", "jury", "inactive", "oudstad"])
def test_only_members_and_delegates_of_an_active_municipality_record(world, who):
    deactivate(world, "GM0999")  # Oudstad stopped taking part
    with pytest.raises(PermissionDenied):
        put(world, S.ADOPTED, who=who)
    assert events(world) == 0
    assert adoption.record_refusal(user(world, who)) is not None
    assert adoption.record_refusal(None) is not None


def test_a_municipality_that_stops_taking_part_cannot_record(world):
    put(world, S.INTENDS, who="zeist")
    deactivate(world, "GM0355")
    with pytest.raises(PermissionDenied):
        put(world, S.ADOPTING, who="zeist")


def test_members_and_delegates_record_for_their_own_municipality_only(world):
    put(world, S.ADOPTED, who="delegate")
    put(world, S.DECLINED, who="other_member")
    s = standard(world)
    assert adoption.status_of(s, world.municipalities["GM0344"]).status == "adopted"
    assert adoption.status_of(s, world.municipalities["GM0363"]).status == "declined"
    assert adoption.status_of(s, world.municipalities["GM0014"]) is None
    # The member continues where the delegate left off: one status per municipality.
    with pytest.raises(InvalidState):
        put(world, S.ADOPTING, who="member")
    assert adoption.record_refusal(user(world, "member")) is None
    assert adoption.record_refusal(user(world, "delegate")) is None


# --- figures -----------------------------------------------------------------------------------

POPULATION = {"GM0344": 374238, "GM0363": 931298, "GM0014": 244829, "GM1900": 92035,
              "GM0355": 65_000}


def spread(world) -> None:
    """Standard A: Utrecht and Amsterdam adopted, Groningen intends, Fryslân declined, Zeist
    went back to undecided; Oudstad adopted before it stopped taking part."""
    put(world, S.ADOPTED, who="member", adopted_on=date(2027, 1, 20))
    put(world, S.ADOPTED, who="other_member", adopted_on=date(2027, 2, 15))
    put(world, S.INTENDS, who="groningen")
    put(world, S.DECLINED, who="fryslan")
    put(world, S.INTENDS, who="zeist")
    record(world, S.UNDECIDED, who="zeist")
    put(world, S.ADOPTED, who="oudstad", adopted_on=date(2027, 1, 11))  # still active here
    deactivate(world, "GM0999")


def test_coverage_counts_and_shares(world):
    spread(world)
    cov = adoption.coverage(standard(world))
    assert cov.municipalities == 5  # Oudstad does not take part
    assert cov.counts == {S.UNDECIDED: 1, S.INTENDS: 1, S.ADOPTING: 0, S.ADOPTED: 2,
                          S.DECLINED: 1}
    assert sum(cov.counts.values()) == cov.municipalities
    assert cov.adopted == 2 and cov.share == pytest.approx(2 / 5)
    assert cov.population == sum(POPULATION.values())
    assert cov.adopted_population == POPULATION["GM0344"] + POPULATION["GM0363"]
    assert cov.population_share == pytest.approx(
        (POPULATION["GM0344"] + POPULATION["GM0363"]) / sum(POPULATION.values()))


def test_coverage_of_a_standard_nobody_adopted(world):
    deactivate(world, "GM0999")
    cov = adoption.coverage(standard(world, "b"))
    assert cov.counts[S.UNDECIDED] == 5 and cov.adopted == 0
    assert cov.share == 0 and cov.population_share == 0


def test_by_province_sums_to_the_coverage(world):
    spread(world)
    rows = adoption.by_province(standard(world))
    assert [p for p, _total, _counts in rows] == ["Fryslân", "Groningen", "Noord-Holland",
                                                  "Utrecht"]
    by = {p: (total, counts) for p, total, counts in rows}
    assert by["Utrecht"][0] == 2  # Utrecht and Zeist; Oudstad does not take part
    assert by["Utrecht"][1] == {S.UNDECIDED: 1, S.INTENDS: 0, S.ADOPTING: 0, S.ADOPTED: 1,
                                S.DECLINED: 0}
    assert by["Fryslân"][1][S.DECLINED] == 1 and by["Groningen"][1][S.INTENDS] == 1
    cov = adoption.coverage(standard(world))
    assert sum(total for _p, total, _c in rows) == cov.municipalities
    for status in S:
        assert sum(counts[status] for _p, _t, counts in rows) == cov.counts[status]
    for _p, total, counts in rows:
        assert sum(counts.values()) == total


def test_progress_per_month(world):
    spread(world)
    s = standard(world)
    assert adoption.progress(s) == [(date(2027, 1, 1), 1), (date(2027, 2, 1), 2)]
    assert adoption.progress(s, until=TODAY) == [
        (date(2027, 1, 1), 1), (date(2027, 2, 1), 2), (date(2027, 3, 1), 2)]
    # No adopters yet: the month of the declaration, up to `until`.
    assert adoption.progress(standard(world, "b")) == [(date(2027, 2, 1), 0)]
    assert adoption.progress(standard(world, "b"), until=TODAY) == [
        (date(2027, 2, 1), 0), (date(2027, 3, 1), 0)]


def test_progress_over_the_turn_of_the_year_and_after_declining(world):
    put(world, S.ADOPTED, key="c", adopted_on=date(2027, 1, 5))
    put(world, S.ADOPTED, key="c", who="other_member", adopted_on=date(2026, 12, 31))
    assert adoption.progress(standard(world, "c")) == [
        (date(2026, 12, 1), 1), (date(2027, 1, 1), 2)]
    put(world, S.DECLINED, key="c", who="other_member")  # counts current adopters only
    assert adoption.progress(standard(world, "c")) == [
        (date(2026, 12, 1), 0), (date(2027, 1, 1), 1)]


@pytest.mark.parametrize(("adopted", "expected"), [(0, 0), (1, 0), (2, COST), (5, 4 * COST)])
def test_saving_is_cost_times_adopters_minus_one(world, adopted, expected):
    assert adoption.saving(standard(world), adopted) == expected


def test_no_saving_without_a_cost_estimate(world):
    assert adoption.saving(standard(world, "b"), 3) is None


def test_dashboard_orders_by_adopters_and_totals(world):
    spread(world)
    put(world, S.ADOPTED, key="b", who="groningen")
    put(world, S.ADOPTED, key="b", who="zeist")
    put(world, S.ADOPTED, key="b", who="fryslan")
    rows = adoption.dashboard()
    assert [(r.standard.name, r.adopted) for r in rows] == [
        ("Meldingen-app", 3), ("Paspoort online", 2), ("Afvalkalender", 0)]
    b, a, c = rows
    assert b.saving is None and b.cost is None  # round 2 recorded no cost
    assert a.saving == COST and a.cost == COST and a.share == pytest.approx(2 / 5)
    assert c.saving == 0 and c.share == 0
    totals = adoption.dashboard_totals(rows)
    assert (totals.standards, totals.adoptions, totals.saving, totals.without_estimate) == (
        3, 5, COST, 1)
    assert totals.municipalities == 5  # Utrecht, Amsterdam, Groningen, Zeist, Fryslân
    assert adoption.adoption_counts() == {world.a: 2, world.b: 3, world.c: 0}


def test_dashboard_ties_go_by_name(world):
    assert [r.standard.name for r in adoption.dashboard()] == [
        "Afvalkalender", "Meldingen-app", "Paspoort online"]
    totals = adoption.dashboard_totals(adoption.dashboard())
    assert totals.adoptions == 0 and totals.saving == 0 and totals.municipalities == 0


def test_top_adopters(world):
    spread(world)
    put(world, S.ADOPTED, key="c", who="member", adopted_on=date(2027, 1, 5))
    put(world, S.ADOPTED, key="b", who="groningen")
    top = adoption.top_adopters()
    assert [(m.name, n) for m, n in top] == [("Utrecht", 2), ("Amsterdam", 1),
                                             ("Groningen", 1)]
    assert [m.name for m, _n in adoption.top_adopters(limit=1)] == ["Utrecht"]


def test_fastest_by_median_days(world):
    spread(world)  # A: Utrecht after 10 days, Amsterdam after 36: median 23
    put(world, S.ADOPTED, key="c", adopted_on=date(2027, 1, 5))  # C: 16 days
    fast = adoption.fastest()
    assert [(s.name, days, n) for s, days, n in fast] == [
        ("Afvalkalender", 16.0, 1), ("Paspoort online", 23.0, 2)]
    assert [s.name for s, _d, _n in adoption.fastest(minimum=2)] == ["Paspoort online"]
    put(world, S.ADOPTED, key="a", who="groningen", adopted_on=date(2027, 1, 12))
    assert adoption.fastest(limit=1)[0][0].name == "Paspoort online"  # median 10 days now


def test_municipality_statuses_and_export(world):
    spread(world)
    utrecht = municipality(world, "GM0344")
    statuses = {s.name: a for s, a in adoption.municipality_statuses(utrecht)}
    assert statuses["Paspoort online"].status == "adopted"
    assert statuses["Meldingen-app"] is None and statuses["Afvalkalender"] is None
    rows = adoption.export_rows(standard(world))
    assert [r[0] for r in rows] == ["GM0363", "GM0014", "GM1900", "GM0344", "GM0355"]
    by_code = {r[0]: dict(zip(adoption.EXPORT_COLUMNS, r, strict=True)) for r in rows}
    assert by_code["GM0344"]["status"] == "adopted"
    assert by_code["GM0344"]["adopted_on"] == "2027-01-20"
    assert by_code["GM0014"]["planned_on"] == "2027-06-01"
    assert by_code["GM1900"]["reason"] == REASON
    assert by_code["GM0355"]["status"] == "undecided"


def test_ballots_are_public_only_after_the_close_and_not_anonymous(world):
    rnd = db.session.get(Round, world.round_ids[0])
    for phase in Phase:
        for anonymous in (False, True):
            rnd.phase, rnd.are_ballots_anonymous = phase.value, anonymous
            expected = phase.index > Phase.FINAL_VOTE.index and not anonymous
            assert adoption.ballots_are_public(rnd) is expected, (phase, anonymous)
