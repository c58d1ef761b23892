"""Preselection as a service (competition.services.preselection): the scorecard, the jury and its
recusals, scoring, the peer vote, the end of the phase that computes and publishes the finalists,
organiser overrides and reminders.

Every number is checked against a hand computation. The main scene (see `build`):

    Municipalities   U = Utrecht, A = Amsterdam, G = Groningen (active, with an active delegate:
                     the 3 voting municipalities); F = Súdwest-Fryslân (inactive, with an active
                     delegate) and R = Rotterdam (active, only an inactive delegate) do not vote.
    Criteria         c1 weight 2, c2 weight 1, both scale 1–5; jury weight 0.6; 2 finalists.
    Cluster X        p1 (U), p2 (A, co-submitted by G: accepted), p3 (G), p4 (U)
    Cluster Y        q1 (A; U asked to co-submit and was declined), q2 (G)
    Jurors           J1 "jury" (no municipality, whole round), J2 "juror_u" (U, cluster X only),
                     J3 "juror_g" (G, whole round)
"""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from competition.engine import preselection as engine
from competition.extensions import db
from competition.models import (
    Approval,
    ApprovalBallot,
    AuditEvent,
    Cluster,
    Criterion,
    FinalistDecision,
    JuryConflict,
    JuryMember,
    Municipality,
    OutboxMail,
    Phase,
    PreselectionResult,
    Proposal,
    Role,
    Scorecard,
    User,
)
from competition.services import accounts, clustering, mail, preselection, proposals, rounds
from competition.services.errors import (
    ConflictError,
    InvalidState,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from tests.conftest import NOW, make_user
from tests.proposal_helpers import World, ensure_seed_domains

# Submission closes at NOW + 30 min (World.end_submission).
T_CLUSTER = NOW + timedelta(hours=1)  # organisers cluster, confirm and assign jurors
T_OPEN = NOW + timedelta(hours=2)  # preselection opens
T_VOTE = NOW + timedelta(hours=3)  # jurors score, delegates approve
T_END = NOW + timedelta(hours=4)  # preselection closes: the result is published
T_DEV = NOW + timedelta(hours=5)  # development: organisers may override

CRITERIA = (
    preselection.CriterionData("Waarde voor inwoners", "Value for residents", weight=2.0),
    preselection.CriterionData("Haalbaarheid", "Feasibility", weight=1.0),
)

# cluster key -> [(proposal key, author, title)]
LAYOUT = {
    "X": [("p1", "member", "Paspoort online aanvragen"),
          ("p2", "other_member", "Paspoort thuisbezorgd"),
          ("p3", "member_g", "Paspoort via de app"),
          ("p4", "member", "Paspoort afspraak plannen")],
    "Y": [("q1", "other_member", "Slimme lantaarnpalen"),
          ("q2", "member_g", "Lantaarnpalen met sensoren")],
}
# (proposal key, requesting member, accepted?)
COSUBMISSIONS = [("p2", "member_g", True), ("q1", "member", False)]
# (juror, cluster keys; none: the whole round), assigned in this order
JURORS = [("jury", ()), ("juror_u", ("X",)), ("juror_g", ())]


# --- building the scene ------------------------------------------------------------------------


@dataclass
class Scene:
    world: World
    pids: dict[str, int]  # proposal key -> id
    cids: dict[str, int]  # cluster key -> id
    crit: list[int]  # criterion ids in order

    @property
    def round(self):
        return self.world.round

    def user(self, key: str) -> User:
        return self.world.user(key)

    def uid(self, key: str) -> int:
        return self.world.user_ids[key]

    def p(self, key: str) -> Proposal:
        return db.session.get(Proposal, self.pids[key])

    def c(self, key: str) -> Cluster:
        return db.session.get(Cluster, self.cids[key])

    def mid(self, code: str) -> int:
        return db.session.scalar(select(Municipality.id).where(Municipality.code == code))


def add_people() -> dict[str, int]:
    """Delegates, a second team member, jurors with a municipality and non-voting
    municipalities next to the `people` fixture's users; every user reads English mail."""
    ms = {m.code: m for m in db.session.scalars(select(Municipality))}
    rotterdam = Municipality(code="GM0599", name="Rotterdam", province="Zuid-Holland",
                             population=655468)
    db.session.add(rotterdam)
    db.session.flush()
    ms["GM1900"].is_active = False
    u, a, g = ms["GM0344"], ms["GM0363"], ms["GM0014"]
    users = {
        "delegate2": make_user("delegate2@utrecht.example", Role.DELEGATE, municipality=u),
        "inactive_member": make_user("oud@utrecht.example", Role.MEMBER, municipality=u,
                                     is_active=False),
        "delegate_a": make_user("delegate@amsterdam.example", Role.DELEGATE, municipality=a),
        "member_g": make_user("member@groningen.example", Role.MEMBER, municipality=g),
        "delegate_g": make_user("delegate@groningen.example", Role.DELEGATE, municipality=g),
        "delegate_f": make_user("delegate@sudwest.example", Role.DELEGATE,
                                municipality=ms["GM1900"]),
        "member_r": make_user("member@rotterdam.example", Role.MEMBER, municipality=rotterdam),
        "delegate_r": make_user("delegate@rotterdam.example", Role.DELEGATE,
                                municipality=rotterdam, is_active=False),
        "juror_u": make_user("jurylid@utrecht.example", Role.JURY, municipality=u,
                             name="Ursula Utrecht"),
        "juror_g": make_user("jurylid@groningen.example", Role.JURY, municipality=g,
                             name="Gerrit Groningen"),
    }
    for user in db.session.scalars(select(User)):
        user.locale = "en"
    db.session.flush()
    return {key: user.id for key, user in users.items()}


def make_round(people, *, max_finalists=2, jury_weight=0.6, criteria=CRITERIA,
               open_submission=True) -> World:
    """A round with the given rules and scorecard (set through the services while it is a
    draft); submission opened unless told otherwise."""
    ensure_seed_domains()
    organiser = accounts.find_user_by_email(people["organiser"])
    rnd = rounds.create_round(
        organiser,
        rounds.RoundData(title="Ronde digitale dienstverlening", theme="Dienstverlening",
                         max_finalists=max_finalists, jury_weight=jury_weight),
        rounds.default_schedule(NOW + timedelta(days=1)), now=NOW)
    existing = preselection.criteria(rnd)
    for criterion, data in zip(existing, criteria, strict=False):
        preselection.update_criterion(organiser, criterion, data, now=NOW)
    for criterion in existing[len(criteria):]:
        preselection.remove_criterion(organiser, criterion, now=NOW)
    if open_submission:
        rounds.close_phase(rnd, Phase.DRAFT, actor=organiser, now=NOW)
    db.session.flush()
    user_ids = {role: accounts.find_user_by_email(email).id for role, email in people.items()}
    return World(rnd.id, user_ids)


def build(people, *, layout=LAYOUT, cosubmissions=COSUBMISSIONS, jurors=JURORS,
          max_finalists=2, jury_weight=0.6, criteria=CRITERIA,
          preselection_open=True, clear_mail=True) -> Scene:
    """Round, people and proposals; clusters made and confirmed by the organiser, jurors
    assigned; the preselection phase opened at T_OPEN (else still clustering). Commits."""
    world = make_round(people, max_finalists=max_finalists, jury_weight=jury_weight,
                       criteria=criteria)
    world.user_ids.update(add_people())
    pids, author = {}, {}
    for items in layout.values():
        for key, role, title in items:
            pids[key] = world.propose(role, title=title).id
            author[key] = role
    for key, requester, accept in cosubmissions:
        request = proposals.request_cosubmission(
            world.user(requester), db.session.get(Proposal, pids[key]), "Wij doen mee.",
            now=NOW)
        proposals.decide_cosubmission(world.user(author[key]), request, accept, now=NOW)
    world.end_submission()
    organiser = world.user("organiser")
    cids = {}
    for ckey, items in layout.items():
        first, *rest = (db.session.get(Proposal, pids[key]) for key, *_ in items)
        cluster = clustering.split_out(organiser, first, now=T_CLUSTER)
        for proposal in rest:
            clustering.move(organiser, proposal, cluster, now=T_CLUSTER)
        cids[ckey] = cluster.id
    clustering.confirm_all(organiser, world.round, now=T_CLUSTER)
    for juror, ckeys in jurors:
        preselection.assign_juror(organiser, world.round, world.user(juror),
                                  [cids[k] for k in ckeys], now=T_CLUSTER)
    if preselection_open:
        rounds.close_phase(world.round, Phase.CLUSTERING, actor=organiser, now=T_OPEN)
    db.session.commit()
    if clear_mail:
        # The set-up's phase-opening mail (tests/test_notifications.py checks it, with
        # clear_mail=False) is not what these tests count.
        db.session.execute(delete(OutboxMail))
        db.session.commit()
    return Scene(world, pids, cids, [c.id for c in preselection.criteria(world.round)])


@pytest.fixture
def scene(ctx, people) -> Scene:
    return build(people)


def score(s: Scene, juror: str, key: str, *values, submit=True, now=T_VOTE, comments=()):
    """Save `juror`'s scorecard on proposal `key`: one value (or None) per criterion."""
    comments = list(comments) + [""] * (len(values) - len(comments))
    inputs = [preselection.ScoreInput(cid, value, note)
              for cid, value, note in zip(s.crit, values, comments, strict=False)]
    return preselection.save_scorecard(s.user(juror), s.p(key), inputs, submit=submit, now=now)


def approve(s: Scene, delegate: str, ckey: str, *keys, now=T_VOTE, expected_version=None):
    return preselection.cast_approvals(s.user(delegate), s.c(ckey), [s.pids[k] for k in keys],
                                       now=now, expected_version=expected_version)


def score_and_vote(s: Scene) -> None:
    """The main scene's scorecards and ballots (see EXPECTED for what they add up to)."""
    score(s, "jury", "p1", 5, 3, comments=["Sterk plan"])
    score(s, "juror_g", "p1", 4, 4)
    score(s, "jury", "p2", 3, 5)
    score(s, "juror_u", "p2", 2, 2)
    score(s, "jury", "p3", 1, 1)
    score(s, "juror_u", "p3", 4, 5)
    score(s, "juror_g", "p4", 3, 3)
    score(s, "jury", "p4", 5, 5, submit=False)  # a draft: does not count
    score(s, "jury", "q1", 4, 2)
    score(s, "jury", "q2", 2, 5)
    approve(s, "delegate", "X", "p2", "p3")
    approve(s, "delegate_a", "X", "p1", "p3")
    approve(s, "delegate_g", "X", "p1", "p4")
    approve(s, "delegate", "Y", "q1", "q2")  # U's declined co-submission does not stop it
    approve(s, "delegate_a", "Y", "q2")
    approve(s, "delegate_g", "Y")  # an empty ballot
    db.session.commit()


@pytest.fixture
def scored(scene) -> Scene:
    score_and_vote(scene)
    return scene


# jury = (2 × norm(mean c1) + 1 × norm(mean c2)) / 3 with norm(x) = (x − 1) / 4, over the
# submitted scorecards of non-recused jurors; peer = approvals / eligible (voters U, A, G minus
# the involved municipalities); combined = 0.6 × jury + 0.4 × peer.
#   p1: J1 (5,3), J3 (4,4); J2 recused (U owns)  → means 4.5, 3.5 → (1.75 + 0.625) / 3
#       approved by A, G of {A, G}               → 2/2        combined 0.475 + 0.4 = 0.875
#   p2: J1 (3,5), J2 (2,2); J3 recused (G co)    → means 2.5, 3.5 → (0.75 + 0.625) / 3
#       approved by U of {U}                     → 1/1        combined 0.275 + 0.4 = 0.675
#   p3: J1 (1,1), J2 (4,5); J3 recused (G owns)  → means 2.5, 3   → (0.75 + 0.5) / 3
#       approved by U, A of {U, A}               → 2/2        combined 0.25 + 0.4  = 0.65
#   p4: J3 (3,3); J1 only a draft; J2 recused    → 0.5; approved by G of {A, G} → 1/2 → 0.5
#   q1: J1 (4,2); J3 did not score               → (1.5 + 0.25) / 3; U of {U, G} → 1/2
#                                                             combined 0.35 + 0.2  = 0.55
#   q2: J1 (2,5); J3 recused (G owns)            → (0.5 + 1) / 3 = 0.5; U, A of {U, A} → 2/2
#                                                             combined 0.3 + 0.4   = 0.7
# key: (rank, jury, approvals, eligible, peer, combined, finalist, decided_by)
EXPECTED = {
    "p1": (1, 2.375 / 3, 2, 2, 1.0, 0.875, True, "combined"),
    "p2": (2, 1.375 / 3, 1, 1, 1.0, 0.675, True, "combined"),
    "p3": (3, 1.25 / 3, 2, 2, 1.0, 0.65, False, "combined"),
    "p4": (4, 0.5, 1, 2, 0.5, 0.5, False, None),
    "q2": (1, 0.5, 2, 2, 1.0, 0.7, True, "combined"),
    "q1": (2, 1.75 / 3, 1, 2, 0.5, 0.55, True, None),
}


def close_preselection(s: Scene, now=T_END) -> None:
    rounds.close_phase(s.round, Phase.PRESELECTION, actor=s.user("organiser"), now=now)
    db.session.commit()


def decision(s: Scene, key: str) -> FinalistDecision:
    return db.session.scalar(select(FinalistDecision)
                             .where(FinalistDecision.proposal_id == s.pids[key]))


def stored(s: Scene, ckey: str) -> dict:
    return db.session.scalar(select(PreselectionResult)
                             .where(PreselectionResult.cluster_id == s.cids[ckey])).data


def details(data: dict, pid: int) -> dict:
    [found] = [p for p in data["proposals"] if p["proposal_id"] == pid]
    return found


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def jury_score(s: Scene, key: str) -> float | None:
    """The jury score the engine computes from the current data (before the phase ends)."""
    return preselection.compute(s.round)[0].proposal(s.pids[key]).jury_score


def details_of_compute(s: Scene, key: str) -> engine.ProposalResult:
    return preselection.compute(s.round)[0].proposal(s.pids[key])


def recusal(s: Scene, juror: str, key: str) -> str | None:
    return preselection.task(s.user(juror), s.p(key)).recusal


# --- computing and publishing the result -------------------------------------------------------


def test_compute_combines_jury_and_peer_scores_exactly(scored):
    result, context = preselection.compute(scored.round)
    for key, (rank, jury, approvals, eligible, peer, combined, finalist, decided_by) in (
            EXPECTED.items()):
        p = result.proposal(scored.pids[key])
        assert p.rank == rank, key
        assert p.jury_score == pytest.approx(jury, abs=1e-12), key
        assert (p.approvals, p.eligible) == (approvals, eligible), key
        assert p.peer_score == pytest.approx(peer, abs=1e-12), key
        assert p.combined == pytest.approx(combined, abs=1e-12), key
        assert p.is_finalist is finalist, key
        assert p.decided_by == decided_by, key
        assert p.flags == (), key
    assert context["voters"] == 3
    assert preselection.voting_municipality_ids() == {
        scored.mid("GM0344"), scored.mid("GM0363"), scored.mid("GM0014")}
    assert preselection.turnout(scored.round) == (3, 3)


def test_closing_the_phase_publishes_decisions_with_ranks_and_scores(scored):
    close_preselection(scored)
    assert scored.round.current_phase is Phase.DEVELOPMENT
    assert count(FinalistDecision) == 6
    for key, (rank, jury, approvals, eligible, peer, combined, finalist, decided_by) in (
            EXPECTED.items()):
        d = decision(scored, key)
        assert d.cluster_id == scored.cids["X" if key.startswith("p") else "Y"]
        assert d.rank == rank, key
        assert d.jury_score == pytest.approx(jury, abs=1e-12), key
        assert (d.approvals, d.eligible) == (approvals, eligible), key
        assert d.peer_score == pytest.approx(peer, abs=1e-12), key
        assert d.combined == pytest.approx(combined, abs=1e-12), key
        assert d.is_computed_finalist is finalist and d.is_finalist is finalist, key
        assert d.decided_by == decided_by, key
        assert not d.is_overridden
    assert [p.id for p in preselection.finalists(scored.c("X"))] == [scored.pids["p1"],
                                                                      scored.pids["p2"]]
    # A cluster with no more proposals than places: all go through, whatever their scores.
    assert [p.id for p in preselection.finalists(scored.c("Y"))] == [scored.pids["q2"],
                                                                      scored.pids["q1"]]
    assert preselection.is_published(scored.round)
    [event] = events("preselection.published")
    assert event.actor_id == scored.uid("organiser")
    assert event.data == {"clusters": 2, "finalists": 4, "voting_municipalities": 3}


def test_the_stored_result_explains_every_proposal(scored):
    close_preselection(scored)
    s, (c1, c2) = scored, scored.crit
    j1, j2, j3 = s.uid("jury"), s.uid("juror_u"), s.uid("juror_g")
    x = stored(s, "X")
    assert x["cluster_id"] == s.cids["X"] and x["max_finalists"] == 2
    assert x["all_through"] is False and x["cutoff_decided_by"] == "combined"
    assert x["voters"] == 3
    assert x["rules"] == {"jury_weight": 0.6, "max_finalists": 2, "seed": s.round.draw_seed}
    assert x["criteria"] == [
        {"id": c1, "name_nl": "Waarde voor inwoners", "name_en": "Value for residents",
         "scale": [1, 5], "weight": 2.0},
        {"id": c2, "name_nl": "Haalbaarheid", "name_en": "Feasibility", "scale": [1, 5],
         "weight": 1.0},
    ]
    # Jurors get fixed numbers (J1 < J2 < J3 both by user id and by the order they joined).
    assert x["jurors"] == {str(j1): {"number": 1, "name": "Jan Jury"},
                           str(j2): {"number": 2, "name": "Ursula Utrecht"},
                           str(j3): {"number": 3, "name": "Gerrit Groningen"}}
    assert [p["proposal_id"] for p in x["proposals"]] == [s.pids[k] for k in
                                                          ("p1", "p2", "p3", "p4")]

    p1 = details(x, s.pids["p1"])
    assert p1["rank"] == 1 and p1["is_finalist"] is True
    assert p1["criteria"] == [
        {"criterion_id": c1, "mean": pytest.approx(4.5), "normalised": pytest.approx(0.875)},
        {"criterion_id": c2, "mean": pytest.approx(3.5), "normalised": pytest.approx(0.625)},
    ]
    assert p1["scorecards"] == [{"juror_id": j1, "scores": [[c1, 5], [c2, 3]]},
                                {"juror_id": j3, "scores": [[c1, 4], [c2, 4]]}]
    assert p1["recusals"] == [{"juror_id": j2, "reason": "automatic", "note": ""}]
    assert p1["comments"] == {str(j1): {str(c1): "Sterk plan"}}
    assert p1["missing"] == [] and p1["incomplete_juror_ids"] == []
    assert p1["jury_score"] == pytest.approx(2.375 / 3)
    assert p1["draw_key"] == engine.draw_key(s.round.draw_seed, s.cids["X"], s.pids["p1"])

    # The accepted co-submitter's juror is recused just like the owner's.
    p2 = details(x, s.pids["p2"])
    assert p2["recusals"] == [{"juror_id": j3, "reason": "automatic", "note": ""}]
    assert [c["juror_id"] for c in p2["scorecards"]] == [j1, j2]
    assert p2["eligible"] == 1 and p2["approvals"] == 1

    # A draft is neither counted nor "incomplete": the juror is listed as missing.
    p4 = details(x, s.pids["p4"])
    assert [c["juror_id"] for c in p4["scorecards"]] == [j3]
    assert p4["recusals"] == [{"juror_id": j2, "reason": "automatic", "note": ""}]
    assert p4["missing"] == [j1] and p4["incomplete_juror_ids"] == []
    assert p4["decided_by"] is None

    y = stored(s, "Y")
    assert y["all_through"] is True and y["cutoff_decided_by"] is None
    # J2 scores cluster X only: not a juror of Y at all.
    q1, q2 = details(y, s.pids["q1"]), details(y, s.pids["q2"])
    assert q1["recusals"] == [] and q1["missing"] == [j3]
    assert q2["recusals"] == [{"juror_id": j3, "reason": "automatic", "note": ""}]
    assert q2["missing"] == []
    assert {str(j1), str(j3)} <= set(y["jurors"])

    view = preselection.result_view(s.c("X"))
    assert view.details(s.pids["p3"])["rank"] == 3
    assert [d.rank for d in view.decisions] == [1, 2, 3, 4]


def test_publishing_mails_every_team_once(scored, outbox):
    close_preselection(scored)
    assert mail.deliver_pending() == (16, 0)
    s = scored
    u = {"member@utrecht.example", "delegate@utrecht.example", "delegate2@utrecht.example"}
    a = {"member@amsterdam.example", "delegate@amsterdam.example"}
    g = {"member@groningen.example", "delegate@groningen.example"}
    teams = {"p1": u, "p2": a | g, "p3": g, "p4": u, "q1": a, "q2": g}
    expected = set()
    for key, team in teams.items():
        title = s.p(key).title
        subject = (f"“{title}” is a finalist" if EXPECTED[key][6]
                   else f"Preselection result for “{title}”")
        expected |= {(email, subject) for email in team}
    got = [(m.to[0], m.subject) for m in outbox.messages]
    assert len(got) == len(set(got)) == 16
    assert set(got) == expected
    # Not the inactive member, not the juror from Utrecht, not other municipalities' people.
    assert not {m.to[0] for m in outbox.messages} & {
        "oud@utrecht.example", "jurylid@utrecht.example", "member@rotterdam.example"}
    [to_p3] = [m for m in outbox.messages
               if m.to[0] == "member@groningen.example" and "via de app" in m.subject]
    assert "Rank in its vraagstuk: 3" in to_p3.body
    assert f"/vraagstukken/{s.cids['X']}/voorselectie" in to_p3.body


def test_the_result_is_published_exactly_once(scored, outbox):
    close_preselection(scored)
    before = [(d.proposal_id, d.rank, d.combined) for d in preselection.decisions(scored.round)]
    with pytest.raises(InvalidState):
        rounds.close_phase(scored.round, Phase.PRESELECTION, actor=scored.user("organiser"),
                           now=T_END + timedelta(minutes=1))
    db.session.rollback()
    # The clock does not redo it either.
    assert rounds.sync_round(scored.round, now=T_END + timedelta(minutes=2)) == []
    db.session.commit()
    assert len(events("preselection.published")) == 1
    assert count(PreselectionResult) == 2
    assert [(d.proposal_id, d.rank, d.combined)
            for d in preselection.decisions(scored.round)] == before
    assert mail.deliver_pending() == (16, 0)


def test_the_clock_closing_the_phase_publishes_too(scored):
    rnd = scored.round
    due = rnd.window(Phase.PRESELECTION).ends_at
    assert rounds.sync_round(rnd, now=due) == [Phase.DEVELOPMENT]
    db.session.commit()
    [event] = events("preselection.published")
    assert event.actor_id is None
    assert count(FinalistDecision) == 6
    assert decision(scored, "p1").rank == 1


def test_a_declared_conflict_changes_the_outcome_and_is_published(scored):
    s = scored
    preselection.declare_conflict(s.user("jury"), s.p("p3"), "  Ik ken de indiener.  ",
                                  now=T_VOTE)
    db.session.commit()
    close_preselection(s)
    # p3 now has only J2's (4,5): (2 × 0.75 + 1) / 3; combined 0.6 × 5/6 + 0.4 = 0.9.
    d = decision(s, "p3")
    assert d.jury_score == pytest.approx(2.5 / 3, abs=1e-12)
    assert d.combined == pytest.approx(0.9, abs=1e-12)
    assert d.rank == 1 and d.is_finalist
    assert [p.id for p in preselection.finalists(s.c("X"))] == [s.pids["p3"], s.pids["p1"]]
    assert not decision(s, "p2").is_finalist
    p3 = details(stored(s, "X"), s.pids["p3"])
    assert p3["recusals"] == [
        {"juror_id": s.uid("jury"), "reason": "declared", "note": "Ik ken de indiener."},
        {"juror_id": s.uid("juror_g"), "reason": "automatic", "note": ""},
    ]
    assert [c["juror_id"] for c in p3["scorecards"]] == [s.uid("juror_u")]
    assert p3["missing"] == []


def test_a_proposal_without_submitted_scores_is_ranked_on_its_peer_score(scene):
    s = scene
    score(s, "jury", "q1", 5, None, submit=False)  # a partial draft only
    approve(s, "delegate", "Y", "q1")
    result, _ = preselection.compute(s.round)
    q1 = result.proposal(s.pids["q1"])
    assert q1.jury_score is None and q1.incomplete_juror_ids == ()
    assert q1.peer_score == pytest.approx(0.5)  # U of {U, G}
    assert q1.combined == pytest.approx(0.5) and q1.flags == (engine.FLAG_NO_JURY,)


def test_normalisation_uses_each_criterion_scale(ctx, people):
    criteria = (preselection.CriterionData("Impact", scale_min=0, scale_max=10, weight=1.0),
                preselection.CriterionData("Haalbaarheid", scale_min=1, scale_max=5,
                                           weight=3.0))
    s = build(people, criteria=criteria, cosubmissions=[], jury_weight=1.0,
              layout={"X": [("p1", "member", "Paspoort online aanvragen")]})
    assert [(c.scale_min, c.scale_max, c.weight) for c in preselection.criteria(s.round)] == [
        (0, 10, 1.0), (1, 5, 3.0)]
    score(s, "jury", "p1", 7, 2)
    assert jury_score(s, "p1") == pytest.approx((0.7 + 3 * 0.25) / 4, abs=1e-12)
    score(s, "juror_g", "p1", 10, 5)
    # means 8.5 (→ 0.85) and 3.5 (→ 0.625): (0.85 + 3 × 0.625) / 4
    assert jury_score(s, "p1") == pytest.approx(2.725 / 4, abs=1e-12)
    result, _ = preselection.compute(s.round)
    assert result.proposal(s.pids["p1"]).combined == pytest.approx(2.725 / 4, abs=1e-12)


# --- ties ----------------------------------------------------------------------------------------

TIE_LAYOUT = {
    "J": [("j1", "member", "Chatbot voor inwoners"),
          ("j2", "other_member", "Chatbot voor ondernemers")],
    "A": [("a1", "member", "Afvalcontainers met sensor"),
          ("a2", "member_g", "Afvalroute plannen")],
    "D": [("d1", "member", "Parkeervergunning digitaal"),
          ("d2", "other_member", "Parkeren met de app"),
          ("d3", "member_g", "Parkeerplaats vinden")],
}


@pytest.fixture
def tied(ctx, people) -> Scene:
    """One finalist per cluster, jury weight 0.5; every cluster ties on its combined score."""
    s = build(people, layout=TIE_LAYOUT, cosubmissions=[("a1", "other_member", True)],
              jurors=[("jury", ())], max_finalists=1, jury_weight=0.5)
    # J: j1 jury 1, no approvals (0 of {A, G}); j2 jury 0, approved by U and G (2 of {U, G}).
    score(s, "jury", "j1", 5, 5)
    score(s, "jury", "j2", 1, 1)
    approve(s, "delegate", "J", "j2")
    approve(s, "delegate_g", "J", "j2")
    # A: both jury 0.5 and peer 1; a1 (U + A) approved by G of {G}: 1 approval,
    # a2 (G) approved by U and A of {U, A}: 2 approvals.
    score(s, "jury", "a1", 3, 3)
    score(s, "jury", "a2", 3, 3)
    approve(s, "delegate_g", "A", "a1")
    approve(s, "delegate", "A", "a2")
    approve(s, "delegate_a", "A", "a2")
    # D: nothing at all; only the seeded draw separates them.
    db.session.commit()
    close_preselection(s)
    return s


def test_a_tie_on_the_combined_score_is_broken_by_the_jury_score(tied):
    j1, j2 = decision(tied, "j1"), decision(tied, "j2")
    assert j1.combined == pytest.approx(0.5) and j2.combined == pytest.approx(0.5)
    assert (j1.jury_score, j2.jury_score) == (pytest.approx(1.0), pytest.approx(0.0))
    assert (j1.rank, j1.decided_by, j1.is_finalist) == (1, "jury", True)
    assert (j2.rank, j2.decided_by, j2.is_finalist) == (2, None, False)
    assert stored(tied, "J")["cutoff_decided_by"] == "jury"


def test_then_by_the_number_of_approvals(tied):
    a1, a2 = decision(tied, "a1"), decision(tied, "a2")
    assert a1.combined == pytest.approx(0.75) and a2.combined == pytest.approx(0.75)
    assert a1.jury_score == pytest.approx(0.5) and a2.jury_score == pytest.approx(0.5)
    assert (a1.approvals, a1.eligible, a2.approvals, a2.eligible) == (1, 1, 2, 2)
    assert (a2.rank, a2.decided_by, a2.is_finalist) == (1, "approvals", True)
    assert (a1.rank, a1.is_finalist) == (2, False)
    assert stored(tied, "A")["cutoff_decided_by"] == "approvals"


def test_then_by_the_seeded_draw(tied):
    rnd, cid = tied.round, tied.cids["D"]
    ids = [tied.pids[k] for k in ("d1", "d2", "d3")]
    order = sorted(ids, key=lambda pid: engine.draw_key(rnd.draw_seed, cid, pid))
    rows = preselection.cluster_result(tied.c("D"))[1]
    assert [d.proposal_id for d in rows] == order
    assert [d.rank for d in rows] == [1, 2, 3]
    assert [d.decided_by for d in rows] == ["draw", "draw", None]
    assert [d.is_finalist for d in rows] == [True, False, False]
    assert all(d.jury_score is None and d.combined == 0.0 and d.approvals == 0 for d in rows)
    data = stored(tied, "D")
    assert data["cutoff_decided_by"] == "draw"
    assert [p["draw_key"] for p in data["proposals"]] == sorted(
        engine.draw_key(rnd.draw_seed, cid, pid) for pid in ids)
    assert all(p["flags"] == [engine.FLAG_NO_JURY] for p in data["proposals"])


# --- recusals --------------------------------------------------------------------------------


def test_a_juror_is_recused_automatically_from_own_and_co_submitted_proposals(scene):
    s = scene
    assert recusal(s, "juror_u", "p1") == "automatic"  # U owns p1
    assert recusal(s, "juror_g", "p2") == "automatic"  # G co-submits p2 (accepted)
    assert recusal(s, "juror_g", "p3") == "automatic"  # G owns p3
    assert recusal(s, "jury", "p1") is None  # no municipality: never automatic
    for juror, key in (("juror_u", "p1"), ("juror_u", "p4"), ("juror_g", "p2"),
                       ("juror_g", "p3"), ("juror_g", "q2")):
        with pytest.raises(PermissionDenied):
            score(s, juror, key, 3, 3)
        db.session.rollback()
    assert count(Scorecard) == 0


def test_a_declined_co_submission_does_not_recuse(scene):
    s = scene
    preselection.assign_juror(s.user("organiser"), s.round, s.user("juror_u"), [],
                              now=T_VOTE)
    assert recusal(s, "juror_u", "q1") is None  # U asked to co-submit q1, A declined
    score(s, "juror_u", "q1", 3, 4)
    assert details_of_compute(s, "q1").recusals == ()


def test_declaring_a_conflict_recuses_and_withdrawing_it_undoes_that(scene):
    s = scene
    score(s, "jury", "p2", 5, 5)
    score(s, "juror_u", "p2", 1, 1)
    assert jury_score(s, "p2") == pytest.approx(0.5)  # means 3, 3

    preselection.declare_conflict(s.user("jury"), s.p("p2"), "Mijn zus werkt bij Amsterdam",
                                  now=T_VOTE)
    assert recusal(s, "jury", "p2") == "declared"
    assert preselection.task(s.user("jury"), s.p("p2")).status == "recused"
    assert jury_score(s, "p2") == pytest.approx(0.0)  # only J2's (1,1) counts
    assert details_of_compute(s, "p2").recusals == (
        engine.Recusal(s.uid("jury"), "declared", "Mijn zus werkt bij Amsterdam"),
        engine.Recusal(s.uid("juror_g"), "automatic", ""),
    )
    db.session.commit()
    with pytest.raises(PermissionDenied):
        score(s, "jury", "p2", 4, 4, now=T_VOTE + timedelta(minutes=1))
    db.session.rollback()

    preselection.withdraw_conflict(s.user("jury"), s.p("p2"), now=T_VOTE + timedelta(minutes=2))
    assert recusal(s, "jury", "p2") is None
    assert jury_score(s, "p2") == pytest.approx(0.5)  # the kept scorecard counts again
    score(s, "jury", "p2", 3, 3, now=T_VOTE + timedelta(minutes=3))
    # means 2, 2 → 0.25
    assert jury_score(s, "p2") == pytest.approx(0.25)
    [conflict] = db.session.scalars(select(JuryConflict)).all()
    assert conflict.withdrawn_at == T_VOTE + timedelta(minutes=2)  # kept for the record
    assert [e.actor_id for e in events("jury.conflict_declared")] == [s.uid("jury")]
    assert len(events("jury.conflict_withdrawn")) == 1

    # Declaring again reuses the record.
    preselection.declare_conflict(s.user("jury"), s.p("p2"), "Toch wel", now=T_VOTE)
    assert count(JuryConflict) == 1
    assert recusal(s, "jury", "p2") == "declared"


@pytest.mark.parametrize("reason", ["", "ab", "   ab   ", "x" * 1001])
def test_a_conflict_needs_a_reason(scene, reason):
    with pytest.raises(ValidationError) as info:
        preselection.declare_conflict(scene.user("jury"), scene.p("p2"), reason, now=T_VOTE)
    assert info.value.field == "reason"
    db.session.rollback()
    assert count(JuryConflict) == 0


def test_conflicts_only_on_the_jurors_own_list(scene):
    s = scene
    with pytest.raises(PermissionDenied):  # J2 scores cluster X only
        preselection.declare_conflict(s.user("juror_u"), s.p("q1"), "Ken ze goed", now=T_VOTE)
    db.session.rollback()
    with pytest.raises(InvalidState):  # nothing declared
        preselection.withdraw_conflict(s.user("jury"), s.p("p2"), now=T_VOTE)
    db.session.rollback()
    with pytest.raises(PermissionDenied):
        preselection.declare_conflict(s.user("member"), s.p("p2"), "Geen jurylid", now=T_VOTE)


# --- scoring -----------------------------------------------------------------------------------


@pytest.mark.parametrize("values", [(0, 3), (3, 6), (-1, 3), (3, 100)])
def test_a_score_outside_the_scale_is_refused(scene, values):
    s = scene
    bad = s.crit[0] if values[0] not in range(1, 6) else s.crit[1]
    for submit in (True, False):
        with pytest.raises(ValidationError) as info:
            score(s, "jury", "p1", *values, submit=submit)
        assert info.value.field == f"c{bad}"
        db.session.rollback()
    assert count(Scorecard) == 0


def test_submitting_needs_every_criterion(scene):
    s = scene
    with pytest.raises(ValidationError) as info:
        score(s, "jury", "p1", 4)
    assert info.value.field == f"c{s.crit[1]}"
    db.session.rollback()
    with pytest.raises(ValidationError):
        score(s, "jury", "p1", None, 4)
    db.session.rollback()
    with pytest.raises(ValidationError):  # an unknown criterion
        preselection.save_scorecard(s.user("jury"), s.p("p1"),
                                    [preselection.ScoreInput(999_999, 3)], submit=False,
                                    now=T_VOTE)
    db.session.rollback()
    assert count(Scorecard) == 0


def test_a_draft_is_saved_but_does_not_count(scene):
    s = scene
    card = score(s, "jury", "p1", 4, submit=False)
    db.session.commit()
    card = db.session.get(Scorecard, card.id)
    assert not card.is_submitted and card.submitted_at is None
    assert [(x.criterion_id, x.value) for x in card.scores] == [(s.crit[0], 4)]
    assert preselection.task(s.user("jury"), s.p("p1")).status == "draft"
    assert jury_score(s, "p1") is None
    # A complete draft does not count either.
    score(s, "jury", "p1", 4, 4, submit=False)
    assert jury_score(s, "p1") is None
    score(s, "jury", "p1", 4, 4)  # submitted: (2 × 0.75 + 0.75) / 3
    assert jury_score(s, "p1") == pytest.approx(0.75)
    assert count(Scorecard) == 1
    assert [e.action for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.action.like("scorecard.%"))
        .order_by(AuditEvent.id))] == ["scorecard.saved", "scorecard.saved",
                                       "scorecard.submitted"]


def test_saving_a_submitted_scorecard_as_draft_retracts_it(scene):
    s = scene
    score(s, "jury", "p1", 5, 5)
    assert jury_score(s, "p1") == pytest.approx(1.0)
    card = score(s, "jury", "p1", 5, 5, submit=False, now=T_VOTE + timedelta(minutes=1))
    assert not card.is_submitted and card.submitted_at is None
    assert jury_score(s, "p1") is None
    assert preselection.task(s.user("jury"), s.p("p1")).status == "draft"
    [event] = events("scorecard.retracted")
    assert event.actor_id == s.uid("jury")
    # Submitting again changes the same scorecard.
    score(s, "jury", "p1", 1, 1, now=T_VOTE + timedelta(minutes=2))
    assert count(Scorecard) == 1
    assert jury_score(s, "p1") == pytest.approx(0.0)
    card = db.session.scalar(select(Scorecard))
    assert card.is_submitted and card.submitted_at == T_VOTE + timedelta(minutes=2)
    assert sorted(x.value for x in card.scores) == [1, 1]


def test_a_juror_only_sees_and_scores_the_assigned_clusters(scene):
    s = scene
    member = preselection.membership(s.user("juror_u"), s.round)
    assert [c.id for c in preselection.member_clusters(member)] == [s.cids["X"]]
    tasks = preselection.tasks(member)
    assert {t.proposal.id: t.status for t in tasks} == {
        s.pids["p1"]: "recused", s.pids["p2"]: "todo", s.pids["p3"]: "todo",
        s.pids["p4"]: "recused"}
    for key in ("q1", "q2"):
        with pytest.raises(PermissionDenied):
            score(s, "juror_u", key, 3, 3)
        db.session.rollback()
    whole = preselection.tasks(preselection.membership(s.user("jury"), s.round))
    assert sorted(t.proposal.id for t in whole) == sorted(s.pids.values())
    # Reassigned to the whole round, J2 sees cluster Y too.
    preselection.assign_juror(s.user("organiser"), s.round, s.user("juror_u"), [],
                              now=T_VOTE)
    assert len(preselection.tasks(preselection.membership(s.user("juror_u"), s.round))) == 6
    [event] = events("jury.changed")
    assert event.data == {"name": "Ursula Utrecht", "clusters": []}


def test_scores_of_a_juror_of_other_clusters_do_not_count_there(scene):
    s = scene
    score(s, "juror_u", "p2", 5, 5)
    assert jury_score(s, "p2") == pytest.approx(1.0)
    # Limited to cluster Y afterwards: the scorecard on p2 (cluster X) no longer counts.
    preselection.assign_juror(s.user("organiser"), s.round, s.user("juror_u"),
                              [s.cids["Y"]], now=T_VOTE)
    assert jury_score(s, "p2") is None


def test_only_jurors_of_the_round_score(scene):
    s = scene
    outsider = make_user("andere-jury@example.org", Role.JURY)
    with pytest.raises(PermissionDenied):
        preselection.save_scorecard(outsider, s.p("p1"),
                                    [preselection.ScoreInput(c, 3) for c in s.crit],
                                    submit=True, now=T_VOTE)
    db.session.rollback()
    for role in ("organiser", "member", "delegate"):
        with pytest.raises(PermissionDenied):
            score(s, role, "p1", 3, 3)
        db.session.rollback()
    assert count(Scorecard) == 0


# --- the peer vote -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["member", "jury", "juror_u", "organiser", "member_g"])
def test_only_delegates_approve(scene, role):
    with pytest.raises(PermissionDenied):
        approve(scene, role, "X", "p3")
    db.session.rollback()
    assert count(ApprovalBallot) == 0


def test_a_delegate_of_an_inactive_municipality_does_not_approve(scene):
    with pytest.raises(PermissionDenied):
        approve(scene, "delegate_f", "X", "p1")
    db.session.rollback()
    assert count(ApprovalBallot) == 0


def test_at_most_max_finalists_approvals(scene):
    with pytest.raises(ValidationError) as info:
        approve(scene, "delegate_a", "X", "p1", "p3", "p4")
    assert info.value.field == "proposals"
    db.session.rollback()
    assert count(ApprovalBallot) == 0
    ballot = approve(scene, "delegate_a", "X", "p1", "p3", "p3")  # duplicates count once
    assert ballot.proposal_ids == {scene.pids["p1"], scene.pids["p3"]}


def test_never_a_proposal_the_municipality_is_involved_in(scene):
    s = scene
    for delegate, key in (("delegate", "p1"), ("delegate2", "p4"), ("delegate_a", "p2"),
                          ("delegate_g", "p2"),  # an accepted co-submission
                          ("delegate_g", "p3")):
        with pytest.raises(PermissionDenied):
            approve(s, delegate, "X", key)
        db.session.rollback()
    assert count(ApprovalBallot) == 0
    choices = {c.proposal.id: c.is_own
               for c in preselection.choices(s.c("X"), s.mid("GM0014"))}
    assert choices == {s.pids["p1"]: False, s.pids["p2"]: True, s.pids["p3"]: True,
                       s.pids["p4"]: False}


def test_only_proposals_of_the_cluster(scene):
    for keys in (("q1",), ("p2", "q2")):
        with pytest.raises(ValidationError):
            approve(scene, "delegate", "X", *keys)
        db.session.rollback()
    with pytest.raises(ValidationError):
        preselection.cast_approvals(scene.user("delegate"), scene.c("X"), [999_999],
                                    now=T_VOTE)
    db.session.rollback()
    assert count(ApprovalBallot) == 0


def test_changing_a_ballot_replaces_its_approvals(scene):
    s = scene
    first = approve(s, "delegate", "X", "p2", "p3")
    assert first.version == 1
    later = T_VOTE + timedelta(minutes=5)
    second = approve(s, "delegate", "X", "p3", now=later)
    db.session.commit()
    assert second.id == first.id
    ballot = db.session.get(ApprovalBallot, first.id)
    assert ballot.proposal_ids == {s.pids["p3"]}
    assert count(Approval) == 1
    assert ballot.version == 2 and ballot.cast_at == T_VOTE and ballot.updated_at == later
    assert details_of_compute(s, "p2").approvals == 0
    assert details_of_compute(s, "p3").approvals == 1
    [cast] = events("preselection.ballot_cast")
    assert cast.actor_id == s.uid("delegate") and cast.object_id == str(s.cids["X"])
    assert cast.data == {"municipality": "GM0344", "before": [],
                         "after": sorted([s.pids["p2"], s.pids["p3"]])}
    [changed] = events("preselection.ballot_changed")
    assert changed.actor_id == s.uid("delegate")
    assert changed.data == {"municipality": "GM0344",
                            "before": sorted([s.pids["p2"], s.pids["p3"]]),
                            "after": [s.pids["p3"]]}
    # An empty ballot withdraws every approval but stays a ballot.
    approve(s, "delegate", "X", now=later + timedelta(minutes=1))
    assert count(Approval) == 0 and count(ApprovalBallot) == 1


def test_one_ballot_per_municipality_per_cluster(scene):
    s = scene
    first = approve(s, "delegate", "X", "p2")
    second = approve(s, "delegate2", "X", "p3", now=T_VOTE + timedelta(minutes=1))
    db.session.commit()
    assert second.id == first.id
    assert count(ApprovalBallot, ApprovalBallot.cluster_id == s.cids["X"],
                 ApprovalBallot.municipality_id == s.mid("GM0344")) == 1
    ballot = db.session.get(ApprovalBallot, first.id)
    assert ballot.proposal_ids == {s.pids["p3"]}
    assert ballot.cast_by_id == s.uid("delegate")
    assert ballot.updated_by_id == s.uid("delegate2")
    assert preselection.ballot(s.mid("GM0344"), s.c("X")).id == first.id
    [changed] = events("preselection.ballot_changed")
    assert changed.actor_id == s.uid("delegate2")
    # The other cluster gets its own ballot.
    approve(s, "delegate2", "Y", "q1")
    assert count(ApprovalBallot) == 2
    assert preselection.turnout(s.round) == (1, 3)


def test_the_database_refuses_a_second_ballot(scene):
    s = scene
    approve(s, "delegate", "X", "p2")
    db.session.commit()
    db.session.add(ApprovalBallot(
        round_id=s.round.id, cluster_id=s.cids["X"], municipality_id=s.mid("GM0344"),
        cast_by_id=s.uid("delegate2"), cast_at=T_VOTE, updated_by_id=s.uid("delegate2"),
        updated_at=T_VOTE))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    assert count(ApprovalBallot) == 1


def test_a_ballot_changed_meanwhile_is_refused(scene):
    s = scene
    ballot = approve(s, "delegate", "X", "p2")
    db.session.commit()
    seen = db.session.get(ApprovalBallot, ballot.id).version
    approve(s, "delegate2", "X", "p3", now=T_VOTE + timedelta(minutes=1),
            expected_version=seen)
    db.session.commit()
    with pytest.raises(ConflictError):
        approve(s, "delegate", "X", "p2", "p3", now=T_VOTE + timedelta(minutes=2),
                expected_version=seen)
    db.session.rollback()
    ballot = db.session.get(ApprovalBallot, ballot.id)
    assert ballot.proposal_ids == {s.pids["p3"]} and ballot.version == seen + 1
    # With the current version it goes through.
    approve(s, "delegate", "X", "p2", "p3", now=T_VOTE + timedelta(minutes=3),
            expected_version=ballot.version)
    assert db.session.get(ApprovalBallot, ballot.id).proposal_ids == {s.pids["p2"],
                                                                     s.pids["p3"]}


def test_voting_municipalities_are_active_with_an_active_delegate(scene):
    s = scene
    assert preselection.voting_municipality_ids() == {s.mid("GM0344"), s.mid("GM0363"),
                                                      s.mid("GM0014")}
    # Groningen's only delegate leaves: Groningen no longer counts, so p1 has one eligible
    # municipality (A) left.
    s.user("delegate_g").is_active = False
    db.session.flush()
    assert preselection.voting_municipality_ids() == {s.mid("GM0344"), s.mid("GM0363")}
    p1 = details_of_compute(s, "p1")
    assert p1.eligible == 1


def test_approvals_of_a_municipality_that_no_longer_votes_do_not_count(scene):
    s = scene
    approve(s, "delegate_g", "X", "p1")
    approve(s, "delegate_a", "X", "p1")
    assert (details_of_compute(s, "p1").approvals, details_of_compute(s, "p1").eligible) == (
        2, 2)
    s.user("delegate_g").is_active = False
    db.session.flush()
    p1 = details_of_compute(s, "p1")
    assert (p1.approvals, p1.eligible, p1.peer_score) == (1, 1, 1.0)


# --- phases ------------------------------------------------------------------------------------


def every_phase_bound_action(s: Scene):
    return {
        "score": lambda: score(s, "jury", "p2", 3, 3),
        "draft": lambda: score(s, "jury", "p2", 3, submit=False),
        "declare": lambda: preselection.declare_conflict(s.user("jury"), s.p("p2"),
                                                         "Ik ken ze", now=T_VOTE),
        "withdraw": lambda: preselection.withdraw_conflict(s.user("jury"), s.p("p2"),
                                                           now=T_VOTE),
        "approve": lambda: approve(s, "delegate", "X", "p2"),
        "remind": lambda: preselection.send_reminders(s.user("organiser"), s.round,
                                                      now=T_VOTE),
    }


ALL_PHASE_BOUND = ["score", "draft", "declare", "withdraw", "approve", "remind"]


def refused_actions(s: Scene) -> list[str]:
    """The phase-bound actions refused with InvalidState (anything else fails the test)."""
    refused = []
    for name, action in every_phase_bound_action(s).items():
        try:
            action()
        except InvalidState:
            refused.append(name)
        db.session.rollback()
    return refused


def test_scoring_conflicts_and_votes_wait_for_the_preselection_phase(ctx, people):
    s = build(people, preselection_open=False)
    assert s.round.current_phase is Phase.CLUSTERING
    assert refused_actions(s) == ALL_PHASE_BOUND
    assert count(Scorecard) + count(JuryConflict) + count(ApprovalBallot) == 0


def test_scoring_conflicts_and_votes_end_with_the_preselection_phase(scene):
    s = scene
    preselection.declare_conflict(s.user("jury"), s.p("p2"), "Ik ken ze", now=T_VOTE)
    db.session.commit()
    close_preselection(s)
    assert refused_actions(s) == ALL_PHASE_BOUND
    assert count(Scorecard) + count(ApprovalBallot) == 0


def test_the_scorecard_changes_only_while_the_round_is_a_draft(ctx, people):
    world = make_round(people, open_submission=False)
    organiser = world.user("organiser")
    rnd = world.round
    added = preselection.add_criterion(
        organiser, rnd, preselection.CriterionData("  Innovatie  ", scale_max=10, weight=0.5),
        now=NOW)
    assert (added.name_nl, added.position, added.scale_max) == ("Innovatie", 2, 10)
    assert [c.name_nl for c in preselection.criteria(rnd)] == [
        "Waarde voor inwoners", "Haalbaarheid", "Innovatie"]
    assert len(events("criterion.added")) == 1
    rounds.close_phase(rnd, Phase.DRAFT, actor=organiser, now=NOW)
    db.session.commit()
    first = preselection.criteria(rnd)[0]
    for action in (
        lambda: preselection.add_criterion(organiser, rnd, preselection.CriterionData("Nieuw"),
                                           now=NOW),
        lambda: preselection.update_criterion(
            organiser, first, preselection.CriterionData("Anders", weight=5.0), now=NOW),
        lambda: preselection.remove_criterion(organiser, first, now=NOW),
    ):
        with pytest.raises(InvalidState):
            action()
        db.session.rollback()
    assert [(c.name_nl, c.weight) for c in preselection.criteria(rnd)] == [
        ("Waarde voor inwoners", 2.0), ("Haalbaarheid", 1.0), ("Innovatie", 0.5)]


@pytest.mark.parametrize(("data", "field"), [
    (preselection.CriterionData("  "), "name_nl"),
    (preselection.CriterionData("x" * 121), "name_nl"),
    (preselection.CriterionData("Impact", scale_min=5, scale_max=5), "scale_max"),
    (preselection.CriterionData("Impact", scale_min=0, scale_max=101), "scale_max"),
    (preselection.CriterionData("Impact", weight=0.0), "weight"),
    (preselection.CriterionData("Impact", weight=101.0), "weight"),
])
def test_criteria_are_validated(ctx, people, data, field):
    world = make_round(people, open_submission=False)
    with pytest.raises(ValidationError) as info:
        preselection.add_criterion(world.user("organiser"), world.round, data, now=NOW)
    assert info.value.field == field


def test_criteria_are_for_organisers_and_one_must_remain(ctx, people):
    world = make_round(people, open_submission=False, criteria=CRITERIA[:1])
    rnd = world.round
    [only] = preselection.criteria(rnd)
    for role in ("jury", "member", "delegate"):
        with pytest.raises(PermissionDenied):
            preselection.add_criterion(world.user(role), rnd, preselection.CriterionData("X"),
                                       now=NOW)
    with pytest.raises(InvalidState):  # the jury counts (weight 0.6): it needs a criterion
        preselection.remove_criterion(world.user("organiser"), only, now=NOW)
    assert count(Criterion, Criterion.round_id == rnd.id) == 1


def test_jurors_are_assigned_until_the_preselection_ends(scene):
    s = scene
    organiser = s.user("organiser")
    newcomer = make_user("nieuw-jurylid@example.org", Role.JURY, name="Nina Nieuw")
    member = preselection.assign_juror(organiser, s.round, newcomer, [s.cids["Y"]],
                                       now=T_VOTE)
    assert [c.id for c in member.clusters] == [s.cids["Y"]]
    assert events("jury.assigned")[-1].data == {"name": "Nina Nieuw",
                                                "clusters": [s.cids["Y"]]}
    db.session.commit()
    close_preselection(s)
    with pytest.raises(InvalidState):
        preselection.assign_juror(organiser, s.round, s.user("juror_u"), [], now=T_DEV)
    db.session.rollback()
    with pytest.raises(InvalidState):
        preselection.remove_juror(organiser, preselection.membership(newcomer, s.round),
                                  now=T_DEV)
    db.session.rollback()
    assert count(JuryMember) == 4


def test_only_active_jury_users_and_clusters_of_the_round(scene):
    s = scene
    organiser = s.user("organiser")
    inactive = make_user("weg@example.org", Role.JURY, is_active=False)
    for user in (s.user("member"), s.user("organiser"), inactive):
        with pytest.raises(ValidationError) as info:
            preselection.assign_juror(organiser, s.round, user, [], now=T_VOTE)
        assert info.value.field == "user_id"
    with pytest.raises(ValidationError) as info:
        preselection.assign_juror(organiser, s.round, s.user("jury"), [999_999], now=T_VOTE)
    assert info.value.field == "cluster_ids"
    with pytest.raises(PermissionDenied):
        preselection.assign_juror(s.user("jury"), s.round, s.user("jury"), [], now=T_VOTE)


# --- overrides ---------------------------------------------------------------------------------


@pytest.fixture
def published(scored) -> Scene:
    close_preselection(scored)
    mail.deliver_pending()
    return scored


def test_an_organiser_makes_a_proposal_a_finalist_with_a_reason(published, outbox):
    s = published
    sent = len(outbox)
    reason = "  Uniek voor kleine gemeenten.  "
    d = preselection.override(s.user("organiser"), s.p("p3"), True, reason, now=T_DEV)
    db.session.commit()
    d = decision(s, "p3")
    assert d.is_finalist and not d.is_computed_finalist and d.is_overridden
    assert d.override_reason == "Uniek voor kleine gemeenten."
    assert d.overridden_at == T_DEV and d.overridden_by_id == s.uid("organiser")
    assert d.rank == 3 and d.combined == pytest.approx(0.65)  # the computed result stays
    assert [p.id for p in preselection.finalists(s.c("X"))] == [
        s.pids["p1"], s.pids["p2"], s.pids["p3"]]
    [event] = events("preselection.overridden")
    assert event.actor_id == s.uid("organiser") and event.object_id == str(s.pids["p3"])
    assert event.data == {"from": False, "to": True, "reason": "Uniek voor kleine gemeenten.",
                          "computed": False}
    # The published reasoning is frozen: the stored result is unchanged.
    assert details(stored(s, "X"), s.pids["p3"])["is_finalist"] is False
    # Groningen's team hears it, with the reason.
    assert mail.deliver_pending() == (2, 0)
    new = outbox.messages[sent:]
    assert {m.to[0] for m in new} == {"member@groningen.example", "delegate@groningen.example"}
    for m in new:
        assert m.subject == "“Paspoort via de app” is a finalist"
        assert "The organisers changed the preselection result" in m.body
        assert "Their reason: Uniek voor kleine gemeenten." in m.body


def test_an_organiser_takes_a_finalist_place_away(published):
    s = published
    preselection.override(s.user("organiser"), s.p("p1"), False, "Voldoet niet aan de regels",
                          now=T_DEV)
    d = decision(s, "p1")
    assert not d.is_finalist and d.is_computed_finalist
    assert [p.id for p in preselection.finalists(s.c("X"))] == [s.pids["p2"]]
    # Undoing it is an override too (back to the computed outcome).
    preselection.override(s.user("organiser"), s.p("p1"), True, "Toch wel, na bezwaar.",
                          now=T_DEV)
    assert decision(s, "p1").is_finalist
    assert [e.data["to"] for e in events("preselection.overridden")] == [False, True]


def test_an_override_to_the_current_state_is_refused(published):
    s = published
    with pytest.raises(InvalidState):
        preselection.override(s.user("organiser"), s.p("p1"), True, "Is al finalist, toch?",
                              now=T_DEV)
    db.session.rollback()
    with pytest.raises(InvalidState):
        preselection.override(s.user("organiser"), s.p("p4"), False, "Was al geen finalist",
                              now=T_DEV)
    db.session.rollback()
    assert events("preselection.overridden") == []


@pytest.mark.parametrize("reason", ["", "Te kort", "   123456789   ", "x" * 2001])
def test_an_override_needs_a_reason_of_ten_characters(published, reason):
    s = published
    with pytest.raises(ValidationError) as info:
        preselection.override(s.user("organiser"), s.p("p3"), True, reason, now=T_DEV)
    assert info.value.field == "reason"
    db.session.rollback()
    assert not decision(s, "p3").is_finalist
    # Exactly ten characters is enough.
    preselection.override(s.user("organiser"), s.p("p3"), True, "  1234567890 ", now=T_DEV)
    assert decision(s, "p3").is_finalist


@pytest.mark.parametrize("role", ["jury", "member", "delegate"])
def test_overrides_are_for_organisers_only(published, role):
    with pytest.raises(PermissionDenied):
        preselection.override(published.user(role), published.p("p3"), True,
                              "Ik wil dit graag zo.", now=T_DEV)
    db.session.rollback()
    assert not decision(published, "p3").is_finalist


def test_overrides_only_during_development(scored):
    s = scored
    with pytest.raises(InvalidState):  # no result yet
        preselection.override(s.user("organiser"), s.p("p3"), True, "Uniek voor kleine gemeenten",
                              now=T_VOTE)
    db.session.rollback()
    close_preselection(s)
    rounds.close_phase(s.round, Phase.DEVELOPMENT, actor=s.user("organiser"), now=T_DEV)
    db.session.commit()
    with pytest.raises(InvalidState):  # the final vote has opened
        preselection.override(s.user("organiser"), s.p("p3"), True, "Uniek voor kleine gemeenten",
                              now=T_DEV)
    db.session.rollback()
    assert not decision(s, "p3").is_finalist


def test_an_override_needs_a_published_decision(published):
    s = published
    draft = Proposal(round_id=s.round.id, municipality_id=s.mid("GM0344"),
                     author_id=s.uid("member"), title="Concept", created_at=NOW, updated_at=NOW)
    db.session.add(draft)
    db.session.flush()
    with pytest.raises(NotFound):
        preselection.override(s.user("organiser"), draft, True, "Uniek voor kleine gemeenten",
                              now=T_DEV)


# --- progress and reminders --------------------------------------------------------------------


def test_reminders_go_to_jurors_with_missing_scorecards(scene, outbox):
    s = scene
    # J1: everything submitted except a draft on p4 → 1 missing.
    for key in ("p1", "p2", "p3", "q1", "q2"):
        score(s, "jury", key, 3, 3)
    score(s, "jury", "p4", 3, 3, submit=False)
    # J2: p2 and p3 submitted, p1 and p4 recused → nothing missing.
    score(s, "juror_u", "p2", 3, 3)
    score(s, "juror_u", "p3", 3, 3)
    # J3: nothing yet: p1, p4 and q1 (p2, p3 and q2 recused) → 3 missing.
    # An inactive juror with missing scorecards is not mailed.
    gone = make_user("gone@example.org", Role.JURY)
    preselection.assign_juror(s.user("organiser"), s.round, gone, [], now=T_VOTE)
    gone.is_active = False
    db.session.commit()

    progress = {row.member.user_id: row for row in preselection.progress(s.round)}
    j1, j2, j3 = (progress[s.uid(k)] for k in ("jury", "juror_u", "juror_g"))
    assert (j1.count("submitted"), j1.count("draft"), len(j1.missing)) == (5, 1, 1)
    assert (j2.count("submitted"), j2.count("recused"), len(j2.missing)) == (2, 2, 0)
    assert (j3.count("todo"), j3.count("recused"), len(j3.missing)) == (3, 3, 3)

    assert preselection.send_reminders(s.user("organiser"), s.round, now=T_VOTE) == 2
    db.session.commit()
    assert mail.deliver_pending() == (2, 0)
    by_to = {m.to[0]: m for m in outbox.messages}
    assert set(by_to) == {"jury@example.org", "jurylid@groningen.example"}
    assert "1 proposal in" in by_to["jury@example.org"].body
    assert "3 proposals in" in by_to["jurylid@groningen.example"].body
    assert f"/jury/rondes/{s.round.slug}" in by_to["jury@example.org"].body
    reminded = {m.user_id: m.reminded_at for m in preselection.jury_members(s.round)}
    assert reminded[s.uid("jury")] == T_VOTE and reminded[s.uid("juror_g")] == T_VOTE
    assert reminded[s.uid("juror_u")] is None and reminded[gone.id] is None
    [event] = events("jury.reminded")
    assert event.data == {"jurors": 2} and event.actor_id == s.uid("organiser")


def test_reminders_are_for_organisers(scene):
    with pytest.raises(PermissionDenied):
        preselection.send_reminders(scene.user("jury"), scene.round, now=T_VOTE)


def test_a_juror_whose_clusters_disappear_does_not_become_a_whole_round_juror(scene):
    """Clusters can be merged away during clustering; the juror limited to them must then
    score nothing, not everything."""
    s = scene
    organiser = s.user("organiser")
    newcomer = make_user("beperkt-jurylid@example.org", Role.JURY, name="Bea Beperkt")
    member = preselection.assign_juror(organiser, s.round, newcomer, [s.cids["Y"]], now=T_VOTE)
    assert member.is_whole_round is False
    db.session.delete(db.session.get(Cluster, s.cids["Y"]))  # as a merge or re-run would
    db.session.flush()
    db.session.expire(member)
    assert member.clusters == [] and member.is_whole_round is False
    assert preselection.member_clusters(member) == []
    assert preselection.tasks(member) == []
    everyone = preselection.assign_juror(organiser, s.round, newcomer, [], now=T_VOTE)
    assert everyone.is_whole_round is True
    assert preselection.member_clusters(everyone)
