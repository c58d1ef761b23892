"""The demo's preselection (competition/demo_preselection.py): jurors, scorecards, conflicts and
approval ballots while the demo stands in the preselection phase, and published finalists once
it has moved past it."""

from collections import Counter

from sqlalchemy import func, select

from competition import demo, demo_preselection
from competition.extensions import db
from competition.models import (
    ApprovalBallot,
    Cluster,
    FinalistDecision,
    JuryConflict,
    OutboxMail,
    Phase,
    PreselectionResult,
    Round,
    Scorecard,
)
from competition.services import accounts
from competition.services import preselection as ps
from tests.conftest import NOW

UTRECHT_DELEGATE = "afgevaardigde@utrecht.example"
DEMO_JURORS = ("jury.dekker@demo.example", "jury.visser@demo.example")


def _seed(phase: Phase) -> Round:
    rnd = demo.seed(phase, now=NOW)
    db.session.commit()
    assert rnd.current_phase is phase
    return rnd


def _clusters(rnd: Round) -> list[Cluster]:
    return list(db.session.scalars(
        select(Cluster).where(Cluster.round_id == rnd.id, Cluster.is_confirmed.is_(True))))


def _check_ballots_follow_the_rules(rnd: Round) -> list[ApprovalBallot]:
    ballots = list(db.session.scalars(
        select(ApprovalBallot).where(ApprovalBallot.round_id == rnd.id)))
    for b in ballots:
        cluster = db.session.get(Cluster, b.cluster_id)
        assert cluster.is_confirmed and cluster.round_id == rnd.id
        assert 1 <= len(b.proposal_ids) <= rnd.max_finalists
        own = {c.proposal.id for c in ps.choices(cluster, b.municipality_id) if c.is_own}
        options = {c.proposal.id for c in ps.choices(cluster, b.municipality_id)}
        assert b.proposal_ids <= options - own
    return ballots


def _check_scorecards_complete(rnd: Round) -> list[Scorecard]:
    crits = {c.id: c for c in ps.criteria(rnd)}
    cards = list(db.session.scalars(select(Scorecard).where(Scorecard.round_id == rnd.id)))
    for card in cards:
        values = {s.criterion_id: s.value for s in card.scores}
        if card.is_submitted:
            assert values.keys() == crits.keys()
        assert all(v in crits[k].scale for k, v in values.items() if v is not None)
    return cards


def test_demo_standing_in_preselection_leaves_work_to_do(ctx):
    rnd = _seed(Phase.PRESELECTION)
    window = rnd.window(Phase.PRESELECTION)
    clusters = _clusters(rnd)
    assert len(clusters) > 4

    # The jury: one juror for the whole round, one for some clusters (plus Zwolle's juror).
    members = {m.user.email: m for m in ps.jury_members(rnd)}
    assert set(DEMO_JURORS) <= members.keys()
    assert members["jury.dekker@demo.example"].is_whole_round
    assert 0 < len(members["jury.visser@demo.example"].clusters) < len(clusters)
    # The draft round already counted reusability double.
    assert {c.name_nl: c.weight for c in ps.criteria(rnd)}[
        "Herbruikbaarheid door andere gemeenten"] == 2.0

    cards = _check_scorecards_complete(rnd)
    assert sum(c.is_submitted for c in cards) >= 20
    assert any(not c.is_submitted for c in cards)
    (conflict,) = db.session.scalars(select(JuryConflict))
    assert conflict.juror_id == members["jury.visser@demo.example"].user_id
    assert len(conflict.reason) > 20 and conflict.withdrawn_at is None

    # Jurors are halfway: something done, something left.
    for row in ps.progress(rnd):
        assert row.count("submitted") > 0, row.member.user.email
        assert row.count("todo") > 0, row.member.user.email
    zwolle = next(row for row in ps.progress(rnd) if row.member.user.email == "jury@zwolle.example")
    assert zwolle.count("recused") > 0  # automatically, from Zwolle's own proposals

    ballots = _check_ballots_follow_the_rules(rnd)
    assert len(ballots) >= 2 * len(clusters)
    utrecht = accounts.find_user_by_email(UTRECHT_DELEGATE)
    overview = ps.peer_overview(utrecht, rnd)
    assert all(b is None for _, b, _ in overview)
    assert sum(could for _, _, could in overview) > 0
    voted, voters = ps.turnout(rnd)
    assert 0 < voted < voters == len(demo.DEMO_MUNICIPALITIES)

    # Everything happened through the services, inside the phase and before "now".
    moments = ([c.updated_at for c in cards] + [b.updated_at for b in ballots]
               + [conflict.declared_at])
    assert all(window.entered_at < m < NOW for m in moments)
    assert db.session.scalar(select(func.count(FinalistDecision.id))) == 0


def test_demo_past_preselection_has_published_finalists(ctx):
    rnd = _seed(Phase.DEVELOPMENT)
    window = rnd.window(Phase.PRESELECTION)
    clusters = _clusters(rnd)
    assert rnd.max_finalists == demo.DEMO_MAX_FINALISTS

    # The jurors finished, but for a couple of drafts; one conflict stands.
    cards = _check_scorecards_complete(rnd)
    assert sum(not c.is_submitted for c in cards) == 2
    assert db.session.scalar(select(func.count(JuryConflict.id))) == 1
    for row in ps.progress(rnd):
        assert row.count("todo") == 0, row.member.user.email
        assert row.count("submitted") >= 0.8 * (len(row.tasks) - row.count("recused"))

    # Every voting municipality voted, Utrecht included.
    ballots = _check_ballots_follow_the_rules(rnd)
    voted, voters = ps.turnout(rnd)
    assert voted == voters == len(demo.DEMO_MUNICIPALITIES)
    utrecht = accounts.find_user_by_email(UTRECHT_DELEGATE)
    assert any(b.municipality_id == utrecht.municipality_id for b in ballots)
    assert all(window.entered_at < b.updated_at < window.left_at for b in ballots)

    # The end of the phase published a result with finalists in every cluster.
    results = list(db.session.scalars(
        select(PreselectionResult).where(PreselectionResult.round_id == rnd.id)))
    assert {r.cluster_id for r in results} == {c.id for c in clusters}
    assert all(r.computed_at == window.left_at for r in results)
    decisions = ps.decisions(rnd)
    finalists = Counter(d.cluster_id for d in decisions if d.is_finalist)
    assert set(finalists) == {c.id for c in clusters}
    assert all(1 <= n <= rnd.max_finalists for n in finalists.values())
    assert any(not d.is_finalist for d in decisions)  # somewhere the preselection decided
    assert all(d.jury_score is not None and d.peer_score is not None for d in decisions)
    # The teams heard about it.
    assert db.session.scalar(select(func.count(OutboxMail.id))
                             .where(OutboxMail.category == "preselection")) > 0


def test_demo_before_preselection_only_has_its_jury(ctx):
    rnd = _seed(Phase.SUBMISSION)
    members = ps.jury_members(rnd)
    whole_round = {p.email for p in demo_preselection.JURORS if p.whole_round}
    assert {m.user.email for m in members} == whole_round
    assert db.session.scalar(select(func.count(Scorecard.id))) == 0
    assert db.session.scalar(select(func.count(ApprovalBallot.id))) == 0
