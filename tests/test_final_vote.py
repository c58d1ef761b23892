"""The final vote: ranked ballots (service and pages), receipt codes and their public check,
population weights, turnout and reminders, and the database's one-current-ballot rule (with a
PostgreSQL test of 100 simultaneous casts).

The scene is the preselection service tests' main scene (see tests/test_preselection_service.py)
carried into the final vote:

    Voting municipalities  U = Utrecht (delegate, delegate2), A = Amsterdam (delegate_a),
                           G = Groningen (delegate_g); F (inactive) and R (only an inactive
                           delegate) do not vote.
    Cluster X finalists    p1 (U), p2 (A, co-submitted by G)
    Cluster Y finalists    q2 (G), q1 (A)
"""

import re
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from flask_babel import force_locale, gettext
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from competition.extensions import db
from competition.models import (
    AuditEvent,
    Cluster,
    FinalBallot,
    Municipality,
    Phase,
    Round,
    User,
    WeightBracket,
)
from competition.services import accounts, audit, mail, rounds, voting
from competition.services.errors import (
    InvalidState,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from tests.conftest import IS_POSTGRES, NOW
from tests.test_preselection_service import (
    Scene,
    build,
    close_preselection,
    make_round,
    score_and_vote,
)

T_FINAL = NOW + timedelta(hours=6)  # development closes: the final vote opens
T_CAST = NOW + timedelta(hours=7)
T_CHANGE = NOW + timedelta(hours=8)
T_CLOSE = NOW + timedelta(hours=10)  # the final vote closes and is counted

needs_postgres = pytest.mark.skipif(not IS_POSTGRES, reason="real row locks need PostgreSQL")


# --- the scene ---------------------------------------------------------------------------------


def carry_to_final_vote(people, *, open_vote: bool = True) -> Scene:
    s = build(people)
    score_and_vote(s)
    close_preselection(s)
    if open_vote:
        rounds.close_phase(s.round, Phase.DEVELOPMENT, actor=s.user("organiser"), now=T_FINAL)
    db.session.commit()
    mail.deliver_pending()  # the preselection's mail, so tests see only their own
    return s


@pytest.fixture
def final(app, people) -> Scene:
    """The scene with the final vote open (committed; ids only, usable in any context)."""
    with app.app_context():
        return carry_to_final_vote(people)


@pytest.fixture
def s(ctx, final) -> Scene:
    """The scene for service tests, inside the test's app context."""
    return final


def cast(s: Scene, who: str, ckey: str, *keys: str, now=T_CAST) -> FinalBallot:
    return voting.cast_ballot(s.user(who), s.c(ckey), [s.pids[k] for k in keys], now=now)


def ballots(s: Scene, ckey: str, code: str = "GM0344") -> list[FinalBallot]:
    return list(db.session.scalars(select(FinalBallot).where(
        FinalBallot.cluster_id == s.cids[ckey], FinalBallot.municipality_id == s.mid(code))
        .order_by(FinalBallot.id)))


def n_ballots() -> int:
    return db.session.scalar(select(func.count(FinalBallot.id)))


def forbid_own_finalist(round_id: int) -> None:
    # The rules are locked by now; set the flag as the round would have had it from the start.
    db.session.get(Round, round_id).is_own_finalist_vote_allowed = False
    db.session.commit()


def close_final_vote(s: Scene) -> None:
    rounds.close_phase(s.round, Phase.FINAL_VOTE, actor=s.user("organiser"), now=T_CLOSE)
    db.session.commit()


# --- casting (service) -------------------------------------------------------------------------


def test_casting_stores_the_ranking_the_weight_and_a_receipt(s):
    ballot = cast(s, "delegate", "X", "p2", "p1")
    db.session.commit()
    assert ballot.ranking == [s.pids["p2"], s.pids["p1"]]
    assert ballot.is_current and ballot.superseded_at is None
    assert ballot.weight == Decimal(1)
    assert ballot.cast_by_id == s.uid("delegate")
    assert re.fullmatch(r"[0-9a-f]{64}", ballot.receipt)
    rnd, utrecht = s.round, db.session.get(Municipality, s.mid("GM0344"))
    assert ballot.receipt == voting.receipt_of(ballot, rnd, utrecht)
    [event] = db.session.scalars(select(AuditEvent)
                                 .where(AuditEvent.action == "final_vote.ballot_cast")).all()
    # The log says who voted, never how.
    assert event.data == {"municipality": "GM0344", "receipt": ballot.receipt, "version": 1,
                          "replaced": False}


def test_a_subset_and_an_empty_ballot_are_allowed(s):
    assert cast(s, "delegate_a", "Y", "q2").ranking == [s.pids["q2"]]
    assert cast(s, "delegate_g", "X").ranking == []


def test_changing_keeps_the_previous_version_and_one_current(s):
    first = cast(s, "delegate", "X", "p1", "p2")
    second = cast(s, "delegate2", "X", "p2", now=T_CHANGE)  # another delegate of Utrecht
    db.session.commit()
    rows = ballots(s, "X")
    assert [b.id for b in rows] == [first.id, second.id]
    assert [b.is_current for b in rows] == [False, True]
    assert rows[0].superseded_at == T_CHANGE and rows[1].superseded_at is None
    assert rows[0].ranking == [s.pids["p1"], s.pids["p2"]]  # kept as it was
    assert voting.current_ballot(s.mid("GM0344"), s.c("X")).id == second.id
    assert [b.id for b in voting.ballot_history(s.mid("GM0344"), s.c("X"))] == [second.id,
                                                                                  first.id]
    # Other municipalities and clusters are untouched.
    other = cast(s, "delegate_a", "X", "p1", now=T_CHANGE)
    assert other.is_current and voting.current_ballot(s.mid("GM0344"), s.c("X")).is_current
    versions = [e.data["version"] for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "final_vote.ballot_cast")
        .order_by(AuditEvent.id))]
    assert versions == [1, 2, 1]


def test_ties_are_refused(s):
    with pytest.raises(ValidationError):
        cast(s, "delegate", "X", "p1", "p1")
    db.session.rollback()
    assert n_ballots() == 0


@pytest.mark.parametrize("keys", [("q1",), ("p1", "q2"), ("p3",)])
def test_only_the_clusters_finalists_can_be_ranked(s, keys):
    # q1/q2 are finalists of another cluster; p3 is in X but not a finalist.
    with pytest.raises(ValidationError):
        cast(s, "delegate", "X", *keys)
    db.session.rollback()
    assert n_ballots() == 0


def test_unknown_ids_are_refused(s):
    with pytest.raises(ValidationError):
        voting.cast_ballot(s.user("delegate"), s.c("X"), [s.pids["p1"], 999_999], now=T_CAST)


def test_own_finalist_is_allowed_by_default(s):
    assert cast(s, "delegate", "X", "p1", "p2").ranking[0] == s.pids["p1"]
    # A co-submitter counts as involved too: G ranks p2 (A's, co-submitted by G).
    assert cast(s, "delegate_g", "X", "p2").is_current


@pytest.mark.parametrize(("who", "key"), [("delegate", "p1"), ("delegate_g", "p2"),
                                          ("delegate_a", "p2")])
def test_own_finalist_is_refused_when_the_rules_forbid_it(s, who, key):
    forbid_own_finalist(s.round.id)
    with pytest.raises(PermissionDenied):
        cast(s, who, "X", key)
    db.session.rollback()
    assert n_ballots() == 0
    options = {o.proposal.id: o.is_own for o in voting.options(s.c("X"), s.user(who)
                                                                  .municipality_id)}
    assert options[s.pids[key]] is True


def test_others_finalists_remain_rankable_when_own_is_forbidden(s):
    forbid_own_finalist(s.round.id)
    assert cast(s, "delegate", "X", "p2").ranking == [s.pids["p2"]]


@pytest.mark.parametrize("who", ["member", "organiser", "jury", "delegate_f", "other_member"])
def test_only_delegates_of_taking_part_municipalities_vote(s, who):
    with pytest.raises(PermissionDenied):
        cast(s, who, "X", "p2")


def test_voting_before_the_final_vote_is_refused(app, people):
    with app.app_context():
        s = carry_to_final_vote(people, open_vote=False)
        assert s.round.current_phase is Phase.DEVELOPMENT
        with pytest.raises(InvalidState):
            cast(s, "delegate", "X", "p2")
        db.session.rollback()
        assert n_ballots() == 0


def test_voting_after_the_close_is_refused(s):
    close_final_vote(s)
    with pytest.raises(InvalidState):
        cast(s, "delegate", "X", "p2", now=T_CLOSE + timedelta(minutes=1))


def test_a_cluster_that_is_not_confirmed_is_not_found(s):
    cluster = s.c("X")
    cluster.is_confirmed = False
    with pytest.raises(NotFound):
        cast(s, "delegate", "X", "p2")


# --- the database rule -------------------------------------------------------------------------


def test_the_database_allows_one_current_ballot_per_municipality_and_cluster(s):
    first = cast(s, "delegate", "X", "p1")
    db.session.commit()
    twin = FinalBallot(round_id=first.round_id, cluster_id=first.cluster_id,
                       municipality_id=first.municipality_id, ranking=[], weight=1,
                       receipt="f" * 64, salt="0" * 32, is_current=True,
                       cast_by_id=first.cast_by_id, cast_at=T_CHANGE)
    db.session.add(twin)
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    # Kept versions (not current) are as many as needed.
    twin = FinalBallot(round_id=first.round_id, cluster_id=first.cluster_id,
                       municipality_id=first.municipality_id, ranking=[], weight=1,
                       receipt="e" * 64, salt="0" * 32, is_current=False,
                       cast_by_id=first.cast_by_id, cast_at=T_CHANGE, superseded_at=T_CHANGE)
    db.session.add(twin)
    db.session.flush()


@needs_postgres
def test_100_simultaneous_casts_leave_one_current_ballot_and_every_version(app, final):
    s, workers = final, 100
    with app.app_context():
        cluster_id, user_id = s.cids["X"], s.uid("delegate")
        p1, p2 = s.pids["p1"], s.pids["p2"]
        municipality_id = s.mid("GM0344")
    barrier = threading.Barrier(workers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def vote(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            with app.app_context():
                try:
                    actor = db.session.get(User, user_id)
                    cluster = db.session.get(Cluster, cluster_id)
                    ranking = [p1, p2] if i % 2 else [p2]
                    voting.cast_ballot(actor, cluster, ranking, now=T_CAST + timedelta(
                        milliseconds=i))
                    db.session.commit()
                    result = "ok"
                except Exception as exc:  # reported below
                    db.session.rollback()
                    result = repr(exc)
                finally:
                    db.session.remove()
        except Exception as exc:  # pragma: no cover - a barrier or pool failure
            result = repr(exc)
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=vote, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert outcomes == ["ok"] * workers
    with app.app_context():
        rows = db.session.scalars(select(FinalBallot).where(
            FinalBallot.cluster_id == cluster_id,
            FinalBallot.municipality_id == municipality_id)).all()
        assert len(rows) == workers
        assert sum(b.is_current for b in rows) == 1
        assert all(b.superseded_at is not None for b in rows if not b.is_current)
        assert len({b.receipt for b in rows}) == workers
        # The casts queued: every one saw the previous one, so the versions run 1..100 and the
        # current ballot is the last one written.
        versions = sorted(e.data["version"] for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "final_vote.ballot_cast")))
        assert versions == list(range(1, workers + 1))
        assert max(rows, key=lambda b: b.id).is_current
        assert audit.verify_chain().ok


# --- receipts (service) ------------------------------------------------------------------------


def test_a_receipt_finds_its_ballot_whatever_its_spacing(s):
    ballot = cast(s, "delegate", "X", "p2")
    db.session.commit()
    blocks = voting.group_receipt(ballot.receipt)
    assert len(blocks) == 8 and all(len(b) == 8 for b in blocks)
    for typed in (ballot.receipt, " ".join(blocks), "-".join(blocks).upper(),
                  "\n".join(blocks) + "  ", "\u00a0".join(blocks)):
        found = voting.check_receipt(typed)
        assert found is not None and found.ballot.id == ballot.id, typed
        assert found.cluster.id == s.cids["X"] and found.round.id == s.round.id
        assert (found.is_counted, found.is_published) == (False, False)


@pytest.mark.parametrize("typed", ["", "abc", "g" * 64, "0" * 63, "0" * 65, "ä" * 64,
                                   "0" * 64, "'; DROP TABLE final_ballots; --", "x" * 10_000])
def test_garbage_and_unknown_receipts_find_nothing(s, typed):
    cast(s, "delegate", "X", "p2")
    assert voting.check_receipt(typed) is None


def test_after_the_close_the_current_ballot_is_counted_and_a_replaced_one_is_not(s):
    old = cast(s, "delegate", "X", "p1").receipt
    new = cast(s, "delegate", "X", "p2", now=T_CHANGE).receipt
    before = voting.check_receipt(old)
    assert before.ballot.is_current is False and before.is_counted is False
    close_final_vote(s)
    counted, replaced = voting.check_receipt(new), voting.check_receipt(old)
    assert (counted.is_published, counted.is_counted) == (True, True)
    assert (replaced.is_published, replaced.is_counted) == (True, False)
    # The published ballot list holds the counted receipt only.
    receipts = [b["receipt"] for b in voting.export(s.c("X"))["ballots"]]
    assert receipts == [new]


# --- weights (service) -------------------------------------------------------------------------


@pytest.fixture
def draft(ctx, people):
    """A round still in draft, weighted by population."""
    world = make_round(people, open_submission=False)
    world.round.vote_weighting = "population"
    db.session.commit()
    return world


def municipality(population: int) -> Municipality:
    return Municipality(code="GM9999", name="Proefstad", province="Utrecht",
                        population=population)


def test_defaults_apply_until_brackets_are_saved(draft):
    rnd = draft.round
    assert voting.brackets(rnd) == list(voting.DEFAULT_BRACKETS)
    assert voting.has_own_brackets(rnd) is False
    assert voting.weight_for(rnd, municipality(19_999)) == 1
    assert voting.weight_for(rnd, municipality(20_000)) == 2
    assert voting.weight_for(rnd, municipality(1_000_000)) == 5


def test_population_brackets_give_the_right_weights(draft):
    rnd, organiser = draft.round, draft.user("organiser")
    voting.set_brackets(organiser, rnd, [(500_000, Decimal("3.5")), (0, Decimal(1)),
                                         (100_000, Decimal(2))], now=NOW)
    db.session.commit()
    assert voting.brackets(rnd) == [(0, 1), (100_000, 2), (500_000, Decimal("3.5"))]
    assert voting.has_own_brackets(rnd)
    weights = {p: voting.weight_for(rnd, municipality(p))
               for p in (0, 99_999, 100_000, 499_999, 500_000, 931_298)}
    assert weights == {0: 1, 99_999: 1, 100_000: 2, 499_999: 2, 500_000: Decimal("3.5"),
                       931_298: Decimal("3.5")}
    table = voting.bracket_table(rnd)
    assert [(b.min_population, b.max_population) for b in table] == [
        (0, 99_999), (100_000, 499_999), (500_000, None)]
    # Utrecht 374238, Amsterdam 931298, Groningen 244829; Súdwest-Fryslân 92035.
    assert [b.municipalities for b in table] == [1, 2, 1]
    rnd.vote_weighting = "equal"
    assert voting.weight_for(rnd, municipality(931_298)) == 1


def test_the_ballot_carries_its_municipalitys_weight(s):
    rnd = s.round
    rnd.vote_weighting = "population"  # rules are locked: as if set in the draft
    db.session.add(WeightBracket(round_id=rnd.id, min_population=0, weight=1))
    db.session.add(WeightBracket(round_id=rnd.id, min_population=300_000,
                                        weight=Decimal("2.5")))
    db.session.commit()
    assert cast(s, "delegate", "X", "p2").weight == Decimal("2.5")  # Utrecht
    assert cast(s, "delegate_g", "X", "p1").weight == 1  # Groningen
    assert voting.export(s.c("X"))["ballots"][0]["weight"] in (1, 2.5)


@pytest.mark.parametrize("rows", [
    [],
    [(10, Decimal(1))],  # does not start at 0
    [(0, Decimal(1)), (0, Decimal(2))],  # the same start twice
    [(0, Decimal(0))],
    [(0, Decimal(-1))],
    [(0, Decimal(1001))],
    [(0, Decimal("1.0005"))],
    [(0, Decimal(1)), (-5, Decimal(1))],
    [(0, Decimal(1)), (10**12, Decimal(2))],
    [(0, Decimal("NaN"))],
    [(0, Decimal("Infinity"))],
    [(i * 1000, Decimal(1)) for i in range(21)],
])
def test_invalid_brackets_are_refused(draft, rows):
    with pytest.raises(ValidationError):
        voting.set_brackets(draft.user("organiser"), draft.round, rows, now=NOW)
    db.session.rollback()
    assert voting.has_own_brackets(draft.round) is False


@pytest.mark.parametrize(("text", "value"), [("1", Decimal(1)), ("1,5", Decimal("1.5")),
                                             (" 2.25 ", Decimal("2.25"))])
def test_weights_are_read_with_a_decimal_comma_or_point(text, value):
    assert voting.parse_weight(text) == value


@pytest.mark.parametrize("text", ["", "een", "1,5,0", "NaN", "Infinity", "-inf"])
def test_unreadable_weights_are_refused(text):
    with pytest.raises(ValidationError):
        voting.parse_weight(text)


def test_brackets_are_only_editable_in_draft(s):
    with pytest.raises(InvalidState):
        voting.set_brackets(s.user("organiser"), s.round, [(0, Decimal(1))], now=T_CAST)


def test_brackets_are_for_organisers(draft):
    with pytest.raises(PermissionDenied):
        voting.set_brackets(draft.user("delegate"), draft.round, [(0, Decimal(1))], now=NOW)


# --- turnout and reminders (service) -----------------------------------------------------------


def test_turnout_shows_who_voted(s):
    cast(s, "delegate", "X", "p2")
    cast(s, "delegate_a", "X", "p1")
    cast(s, "delegate", "Y", "q1")
    cast(s, "delegate", "Y", "q2", now=T_CHANGE)  # a replaced ballot counts once
    rows = {t.cluster.id: t for t in voting.turnout(s.round)}
    x, y = rows[s.cids["X"]], rows[s.cids["Y"]]
    assert [m.name for m in x.voted] == ["Amsterdam", "Utrecht"]
    assert [m.name for m in y.voted] == ["Utrecht"]
    assert (x.eligible, y.eligible) == (3, 3)  # U, A, G
    total = 374_238 + 931_298 + 244_829
    assert (x.population, x.total_population) == (374_238 + 931_298, total)
    assert x.share == pytest.approx(2 / 3) and y.population_share == pytest.approx(
        374_238 / total)


def test_reminders_go_to_delegates_of_municipalities_missing_a_ballot(s, outbox):
    cast(s, "delegate", "X", "p2")
    cast(s, "delegate", "Y", "q1")  # Utrecht is done
    cast(s, "delegate_a", "X", "p1")  # Amsterdam misses Y; Groningen misses both
    db.session.commit()
    before = len(outbox)
    assert voting.remind_non_voters(s.user("organiser"), s.round, now=T_CHANGE) == 2
    db.session.commit()
    assert mail.deliver_pending() == (2, 0)
    by_to = {m.to[0]: m for m in outbox.messages[before:]}
    # Not Utrecht's delegates, not the inactive municipality's, not an inactive delegate.
    assert set(by_to) == {"delegate@amsterdam.example", "delegate@groningen.example"}
    assert "1 vraagstuk of" in by_to["delegate@amsterdam.example"].body
    assert "2 vraagstukken of" in by_to["delegate@groningen.example"].body
    assert s.round.title in by_to["delegate@groningen.example"].subject
    assert f"/rondes/{s.round.slug}/stemmen" in by_to["delegate@groningen.example"].body


def test_reminders_are_for_organisers_during_the_vote(s):
    with pytest.raises(PermissionDenied):
        voting.remind_non_voters(s.user("delegate"), s.round, now=T_CAST)
    close_final_vote(s)
    with pytest.raises(InvalidState):
        voting.remind_non_voters(s.user("organiser"), s.round, now=T_CLOSE)


# --- pages -------------------------------------------------------------------------------------


def shown(app, msgid: str, locale: str = "en", **values) -> str:
    """A message as a page in `locale` shows it (translated when the catalogue has it,
    HTML-escaped like Jinja does). The scene's users read English."""
    with app.test_request_context(), force_locale(locale):
        return str(escape(gettext(msgid, **values)))


def in_app(app, fn):
    with app.app_context():
        return fn()


@pytest.fixture
def web(app, final):
    app.config["FROZEN_NOW"] = T_CAST
    return final


def login(auth, who: str):
    emails = {"delegate": "delegate@utrecht.example", "delegate2": "delegate2@utrecht.example",
              "delegate_a": "delegate@amsterdam.example",
              "delegate_g": "delegate@groningen.example", "member": "member@utrecht.example",
              "organiser": "org@example.org", "jury": "jury@example.org"}
    auth.logout()
    response = auth.login(emails[who])
    assert response.status_code == 302, who


def slug(app, s: Scene) -> str:
    return in_app(app, lambda: s.round.slug)


def ballot_url(s: Scene, ckey: str) -> str:
    return f"/vraagstukken/{s.cids[ckey]}/stemmen"


def places(s: Scene, **by_key: str) -> dict[str, str]:
    return {f"rank_{s.pids[k]}": v for k, v in by_key.items()}


def current(app, s: Scene, ckey: str, code: str = "GM0344") -> list[int] | None:
    def find():
        b = voting.current_ballot(s.mid(code), s.c(ckey))
        return None if b is None else list(b.ranking)
    return in_app(app, find)


def count_ballots(app) -> int:
    return in_app(app, n_ballots)


def test_the_overview_lists_the_vraagstukken_and_the_rules(app, client, auth, web):
    s = web
    login(auth, "delegate")
    page = client.get(f"/rondes/{slug(app, s)}/stemmen")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for ckey in ("X", "Y"):
        assert f'href="/vraagstukken/{s.cids[ckey]}/stemmen"' in html
    assert shown(app, "not cast") in html
    assert shown(app, "Your municipality may rank a finalist it submitted or co-submitted.") \
        in html
    assert shown(app, "One municipality, one vote: every ballot weighs 1.") in html


def test_the_overview_shows_the_weight_and_brackets_when_weighted(app, client, auth, web):
    s = web

    def weigh():
        s.round.vote_weighting = "population"
        db.session.commit()
    in_app(app, weigh)
    login(auth, "delegate")
    html = client.get(f"/rondes/{slug(app, s)}/stemmen").get_data(as_text=True)
    assert 'id="brackets-caption"' in html
    assert "374,238" in html  # Utrecht's population, in the delegate's English


def test_the_ballot_pages_are_for_delegates(app, client, auth, web):
    s = web
    for who in ("member", "organiser", "jury"):
        login(auth, who)
        assert client.get(f"/rondes/{slug(app, s)}/stemmen").status_code == 403, who
        assert client.get(ballot_url(s, "X")).status_code == 403, who
        assert client.post(ballot_url(s, "X"), data=places(s, p2="1")).status_code == 403
        assert client.get(f"{ballot_url(s, 'X')}/stembewijs").status_code == 403, who
    auth.logout()
    response = client.get(ballot_url(s, "X"))
    assert response.status_code == 302 and "/inloggen" in response.headers["Location"]
    assert count_ballots(app) == 0


def test_casting_over_http_shows_the_receipt(app, client, auth, web):
    s = web
    login(auth, "delegate")
    page = client.get(ballot_url(s, "X")).get_data(as_text=True)
    for key in ("p1", "p2"):
        assert f'name="rank_{s.pids[key]}"' in page
    assert "<fieldset" in page and "<legend" in page
    response = client.post(ballot_url(s, "X"), data=places(s, p1="2", p2="1"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{ballot_url(s, 'X')}/stembewijs")
    assert current(app, s, "X") == [s.pids["p2"], s.pids["p1"]]
    receipt = in_app(app, lambda: voting.current_ballot(s.mid("GM0344"), s.c("X")).receipt)
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert " ".join(voting.group_receipt(receipt)) in html
    # The ballot page shows the current ballot filled in.
    page = client.get(ballot_url(s, "X")).get_data(as_text=True)
    select_p2 = re.search(rf'<select[^>]*name="rank_{s.pids["p2"]}".*?</select>', page, re.S)
    assert '<option selected value="1">' in select_p2.group(0)
    # And the overview the cast.
    overview = client.get(f"/rondes/{slug(app, s)}/stemmen").get_data(as_text=True)
    assert receipt[:8] in overview


def test_changing_over_http_keeps_the_old_version(app, client, auth, web):
    s = web
    login(auth, "delegate")
    client.post(ballot_url(s, "X"), data=places(s, p1="1"))
    login(auth, "delegate2")
    client.post(ballot_url(s, "X"), data=places(s, p2="1", p1="2"))
    assert current(app, s, "X") == [s.pids["p2"], s.pids["p1"]]
    assert count_ballots(app) == 2
    html = client.get(f"{ballot_url(s, 'X')}/stembewijs").get_data(as_text=True)
    assert 'id="versions-title"' in html


def test_a_tie_is_refused_with_a_message_and_nothing_stored(app, client, auth, web):
    s = web
    login(auth, "delegate")
    response = client.post(ballot_url(s, "X"), data=places(s, p1="1", p2="1"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    title_p2 = in_app(app, lambda: s.p("p2").title)
    assert shown(app, "Place %(place)d is also given to %(others)s: give every finalist its own "
                 "place (ties are not allowed).", place=1, others=f"“{title_p2}”") in html
    assert 'id="error-summary"' in html
    assert count_ballots(app) == 0


def test_a_gap_in_the_places_keeps_the_order(app, client, auth, web):
    s = web
    login(auth, "delegate")
    assert client.post(ballot_url(s, "X"), data=places(s, p1="", p2="2")).status_code == 302
    assert current(app, s, "X") == [s.pids["p2"]]


@pytest.mark.parametrize("value", ["0", "9", "abc", "-1", "1.5", "²"])
def test_a_place_outside_the_list_is_refused(app, client, auth, web, value):
    s = web
    login(auth, "delegate")
    response = client.post(ballot_url(s, "X"), data=places(s, p1=value))
    assert response.status_code == 200
    assert 'id="error-summary"' in response.get_data(as_text=True)
    assert count_ballots(app) == 0


def test_nothing_ranked_is_an_empty_ballot(app, client, auth, web):
    s = web
    login(auth, "delegate")
    assert client.post(ballot_url(s, "X"), data={}).status_code == 302
    assert current(app, s, "X") == []


def test_own_finalist_over_http_when_the_rules_forbid_it(app, client, auth, web):
    s = web
    in_app(app, lambda: forbid_own_finalist(s.round.id))
    login(auth, "delegate")
    page = client.get(ballot_url(s, "X")).get_data(as_text=True)
    own = re.search(rf'<select[^>]*name="rank_{s.pids["p1"]}"[^>]*>', page).group(0)
    other = re.search(rf'<select[^>]*name="rank_{s.pids["p2"]}"[^>]*>', page).group(0)
    assert "disabled" in own and "disabled" not in other
    # A post that ranks it anyway is refused with the reason.
    response = client.post(ballot_url(s, "X"), data=places(s, p1="1", p2="2"))
    assert response.status_code == 200
    title = in_app(app, lambda: s.p("p1").title)
    assert shown(app, "The rules of this round do not let your municipality rank its own "
                 "finalist “%(title)s”.", title=title) in response.get_data(as_text=True)
    assert count_ballots(app) == 0
    assert client.post(ballot_url(s, "X"), data=places(s, p2="1")).status_code == 302


def test_pages_before_the_final_vote_are_not_found(app, client, auth, people):
    s = in_app(app, lambda: carry_to_final_vote(people, open_vote=False))
    app.config["FROZEN_NOW"] = T_CAST
    login(auth, "delegate")
    assert client.get(f"/rondes/{slug(app, s)}/stemmen").status_code == 404
    assert client.get(ballot_url(s, "X")).status_code == 404
    assert client.post(ballot_url(s, "X"), data=places(s, p2="1")).status_code == 404
    assert count_ballots(app) == 0


def test_a_cluster_without_finalists_or_unknown_is_not_found(app, client, auth, web):
    login(auth, "delegate")
    assert client.get("/vraagstukken/999999/stemmen").status_code == 404
    assert client.get("/vraagstukken/99999999999999999999/stemmen").status_code == 404


def test_voting_after_the_close_is_refused_over_http(app, client, auth, web):
    s = web
    in_app(app, lambda: close_final_vote(s))
    app.config["FROZEN_NOW"] = T_CLOSE + timedelta(minutes=5)
    login(auth, "delegate")
    page = client.get(ballot_url(s, "X"))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert shown(app, "The final vote is closed.") in html
    assert "Replace ballot" not in html and 'type="submit"' not in html.split("<form")[-1]
    response = client.post(ballot_url(s, "X"), data=places(s, p2="1"))
    assert response.status_code == 200
    assert count_ballots(app) == 0


# --- the receipt check page --------------------------------------------------------------------


def check_url(app, s: Scene) -> str:
    return f"/rondes/{slug(app, s)}/stembewijs"


def test_the_check_page_finds_current_and_replaced_ballots(app, client, auth, web):
    s = web
    login(auth, "delegate")
    client.post(ballot_url(s, "X"), data=places(s, p1="1"))
    old = in_app(app, lambda: voting.current_ballot(s.mid("GM0344"), s.c("X")).receipt)
    app.config["FROZEN_NOW"] = T_CHANGE
    client.post(ballot_url(s, "X"), data=places(s, p2="1"))
    new = in_app(app, lambda: voting.current_ballot(s.mid("GM0344"), s.c("X")).receipt)
    auth.logout()
    assert client.get(check_url(app, s)).status_code == 200  # the empty form, for anyone
    grouped = "-".join(voting.group_receipt(new)).upper()
    html = client.get(check_url(app, s), query_string={"code": grouped}).get_data(as_text=True)
    assert shown(app, "This is the municipality’s current ballot: it counts unless the "
                      "municipality replaces it before the vote closes.") in html
    html_old = client.get(check_url(app, s), query_string={"code": old}).get_data(as_text=True)
    assert "Replaced by a later ballot" in html_old or shown(
        app, "Only the last ballot counts.") in html_old
    # Before the close nothing tells how anyone voted (the vraagstuk's name may be a title).
    label = in_app(app, lambda: s.c("X").label)
    titles = in_app(app, lambda: [s.p("p1").title, s.p("p2").title])
    for page in (html, html_old):
        assert all(t not in page for t in titles if t != label)
        assert "<ol" not in page and "Utrecht" not in page


@pytest.mark.parametrize("typed", ["", "hallo", "0" * 63, "z" * 64, "x" * 5000, "<script>"])
def test_the_check_page_handles_garbage(app, client, web, typed):
    response = client.get(check_url(app, web), query_string={"code": typed})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert shown(app, "This is not a receipt code: a receipt code has 64 characters, the "
                      "digits 0–9 and the letters a–f.", locale="nl") in html
    assert "<script>" not in html


def test_the_check_page_says_when_a_code_is_not_found(app, client, web):
    response = client.get(check_url(app, web), query_string={"code": "ab" * 32})
    assert response.status_code == 200
    assert shown(app, "No ballot of this round has this receipt code. Check that you copied "
                      "all 64 characters; a code of another round is checked on that round’s "
                      "page.", locale="nl") in response.get_data(as_text=True)


def test_after_the_close_the_check_page_says_counted(app, client, auth, web):
    s = web
    login(auth, "delegate")
    client.post(ballot_url(s, "X"), data=places(s, p1="1", p2="2"))
    receipt = in_app(app, lambda: voting.current_ballot(s.mid("GM0344"), s.c("X")).receipt)
    in_app(app, lambda: close_final_vote(s))
    app.config["FROZEN_NOW"] = T_CLOSE + timedelta(minutes=5)
    auth.logout()
    html = client.get(check_url(app, s), query_string={"code": receipt}).get_data(as_text=True)
    assert shown(app, "Counted: this is the municipality’s last ballot in this vraagstuk.") \
        in html
    if "results.ballots_json" in app.view_functions:
        assert f"/vraagstukken/{s.cids['X']}/stembiljetten.json" in html


# --- turnout and reminders (pages) -------------------------------------------------------------


def test_turnout_page_lists_who_voted_never_how(app, client, auth, web):
    s = web
    login(auth, "delegate")
    client.post(ballot_url(s, "X"), data=places(s, p2="1"))
    url = f"/beheer/rondes/{slug(app, s)}/opkomst"
    for who in ("delegate", "member", "jury"):
        login(auth, who)
        assert client.get(url).status_code == 403
        assert client.post(f"{url}/herinneren").status_code == 403
    login(auth, "organiser")
    html = client.get(url).get_data(as_text=True)
    x_section = html.split(f'id="turnout-{s.cids["X"]}-title"')[1].split("</section>")[0]
    assert "Utrecht" in x_section and "Amsterdam" not in x_section
    assert in_app(app, lambda: s.p("p2").title) not in html


def test_the_remind_button_mails_the_missing_delegates(app, client, auth, web, outbox):
    s = web
    login(auth, "delegate")
    client.post(ballot_url(s, "X"), data=places(s, p2="1"))
    client.post(ballot_url(s, "Y"), data=places(s, q1="1"))
    login(auth, "organiser")
    before = len(outbox)
    response = client.post(f"/beheer/rondes/{slug(app, s)}/opkomst/herinneren",
                           follow_redirects=True)
    assert response.status_code == 200
    sent = outbox.messages[before:]
    assert sorted(m.to[0] for m in sent) == ["delegate@amsterdam.example",
                                             "delegate@groningen.example"]
    with app.test_request_context(), force_locale("en"):
        from flask_babel import ngettext
        flash = str(escape(ngettext("%(num)d delegate has been reminded.",
                                    "%(num)d delegates have been reminded.", 2)))
    assert flash in response.get_data(as_text=True)


# --- weights (pages) ---------------------------------------------------------------------------


@pytest.fixture
def draft_round(app, people) -> str:
    with app.app_context():
        world = make_round(people, open_submission=False)
        world.round.vote_weighting = "population"
        db.session.commit()
        return world.round.slug


def stored_brackets(app, round_slug: str):
    return in_app(app, lambda: voting.brackets(rounds.get_round(round_slug))
                  if voting.has_own_brackets(rounds.get_round(round_slug)) else None)


def weights_form(*rows) -> dict[str, str]:
    data = {}
    for i, (minimum, weight) in enumerate(rows):
        data[f"rows-{i}-min_population"] = minimum
        data[f"rows-{i}-weight"] = weight
    return data


def test_weights_page_edits_the_brackets_in_draft(app, client, auth, draft_round):
    url = f"/beheer/rondes/{draft_round}/weging"
    for who in ("delegate", "member", "jury"):
        login(auth, who)
        assert client.get(url).status_code == 403
        assert client.post(url, data=weights_form(("0", "1"))).status_code == 403
    login(auth, "organiser")
    html = client.get(url).get_data(as_text=True)
    assert shown(app, "No brackets have been saved for this round: these are the defaults.",
                 locale="nl") \
        in html
    # 5 default rows and 3 empty ones to add brackets without JavaScript.
    assert 'name="rows-7-min_population"' in html and "rows-8-" not in html
    response = client.post(url, data=weights_form(("100.000", "2,5"), ("", ""), ("0", "1"),
                                                  ("20 000", "1.5")))
    assert response.status_code == 302
    assert stored_brackets(app, draft_round) == [(0, 1), (20_000, Decimal("1.5")),
                                                 (100_000, Decimal("2.5"))]
    html = client.get(url).get_data(as_text=True)
    assert 'value="2,5"' in html  # shown as typed in Dutch


@pytest.mark.parametrize("rows", [
    [("0", "")],  # half a row
    [("", "1")],
    [("0", "een")],
    [("nul", "1")],
    [("0", "1"), ("0", "2")],
    [("10", "1")],
    [("0", "0")],
    [("0", "NaN")],
    [("0", "1" * 30)],
    [("0", "1"), ("1" * 15, "2")],
    [("", "")],
])
def test_weights_page_refuses_invalid_rows(app, client, auth, draft_round, rows):
    login(auth, "organiser")
    response = client.post(f"/beheer/rondes/{draft_round}/weging", data=weights_form(*rows))
    assert response.status_code == 200
    assert 'id="error-summary"' in response.get_data(as_text=True)
    assert stored_brackets(app, draft_round) is None


def test_weights_are_read_only_after_the_draft(app, client, auth, web):
    s = web
    url = f"/beheer/rondes/{slug(app, s)}/weging"
    login(auth, "organiser")
    html = client.get(url).get_data(as_text=True)
    assert "rows-0-min_population" not in html and 'id="weights-caption"' in html
    response = client.post(url, data=weights_form(("0", "7")), follow_redirects=True)
    assert response.status_code == 200
    assert shown(app, "The weights are part of the round's rules: they can only change while "
                      "the round is a draft.") in response.get_data(as_text=True)
    assert stored_brackets(app, slug(app, s)) is None


def test_a_reminder_uses_the_mail_template(app, web):
    # The template renders on its own with what remind_non_voters passes.
    with app.test_request_context():
        from flask import render_template

        text = render_template("mail/vote_reminder.txt", user=accounts.find_user_by_email(
            "delegate@utrecht.example"), round=web.round, missing=1,
            ends_at=T_CLOSE, link="https://example.org/rondes/x/stemmen")
    assert text.startswith("Subject: ") and "https://example.org/rondes/x/stemmen" in text


def test_the_ballot_form_keeps_the_order_across_a_skipped_place(app):
    from types import SimpleNamespace

    from werkzeug.datastructures import MultiDict

    from competition.voting.forms import ballot_form

    options = [SimpleNamespace(proposal=SimpleNamespace(id=i, title=f"F{i}"), is_own=False)
               for i in (11, 12, 13)]
    with app.test_request_context(method="POST"):
        form = ballot_form(options, formdata=MultiDict({"rank_11": "3", "rank_12": "",
                                                        "rank_13": "1"}))
        assert form.validate()
        assert form.ranked() == [13, 11]
        tie = ballot_form(options, formdata=MultiDict({"rank_11": "2", "rank_13": "2"}))
        assert not tie.validate()
        assert tie.place_field(11).errors and tie.place_field(13).errors
        assert not tie.place_field(12).errors
