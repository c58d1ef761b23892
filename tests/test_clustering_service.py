"""Clustering as a service: starting a run, what a run produces and keeps, the organiser's
corrections (rename, move, split out, merge, confirm), the preselection precondition, and that
proposals are never touched."""

import math
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from competition.engine import clustering as engine
from competition.extensions import db
from competition.models import (
    AuditEvent,
    Cluster,
    ClusterMember,
    Job,
    Phase,
    Proposal,
    Round,
    User,
    WithdrawalKind,
    utcnow,
)
from competition.services import clustering, jobs, proposals, rounds
from competition.services.errors import (
    ConflictError,
    InvalidState,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from tests.conftest import NOW
from tests.proposal_helpers import make_world

T = NOW + timedelta(hours=1)  # the clustering phase opens at NOW + 30 min

# (key, author role, title, summary, description)
PROPOSALS = [
    ("pas1", "member", "Paspoort online aanvragen",
     "Inwoners vragen hun paspoort online aan.",
     "Het paspoort aanvragen via de website met DigiD, zonder wachtrij aan de balie."),
    ("pas2", "other_member", "Online aanvraag van het paspoort",
     "Een paspoort digitaal aanvragen.",
     "Een digitale aanvraag voor paspoort en identiteitskaart via de website."),
    ("lamp1", "member", "Slimme lantaarnpalen",
     "Lantaarnpalen die dimmen als er niemand is.",
     "Sensoren in de lantaarnpalen dimmen het licht en besparen energie."),
    ("lamp2", "other_member", "Lantaarnpalen met bewegingssensoren",
     "Dimmen van lantaarnpalen met sensoren.",
     "Lantaarnpalen met sensoren die automatisch dimmen in de nacht."),
    ("bot", "member", "Chatbot voor vragen van inwoners",
     "Een chatbot beantwoordt veelgestelde vragen.",
     "Een chatbot op de gemeentelijke website, dag en nacht bereikbaar."),
    ("afval", "other_member", "Afvalcontainers met vulgraadmeting",
     "Containers melden zelf wanneer ze vol zijn.",
     "Ondergrondse afvalcontainers met een vulgraadsensor plannen de ophaalroute."),
]
SUBMITTED = [key for key, *_ in PROPOSALS]


def make_round(people, *, title="Ronde digitale dienstverlening", items=PROPOSALS,
               extras=True):
    """A round in its clustering phase with the given proposals (plus a draft and a withdrawn
    one); returns the World with `.ids` (key → proposal id). Commits."""
    world = make_world(people, title=title)
    ids = {}
    for key, role, t, summary, description in items:
        ids[key] = world.propose(role, title=t, summary=summary, description=description).id
    if extras:
        ids["draft"] = world.propose("member", submit=False, title="Concept: paspoort").id
        withdrawn = world.propose("other_member", title="Paspoort aanvragen (dubbel)")
        proposals.withdraw_proposal(world.user("other_member"), withdrawn,
                                    kind=WithdrawalKind.CANCELLED, reason="Gaat niet door.",
                                    duplicate_of_id=None, now=NOW)
        ids["withdrawn"] = withdrawn.id
    world.end_submission()
    db.session.commit()
    world.ids = ids
    return world


def fake_cluster_proposals(items, threshold=None):
    """A predictable engine: paspoort- and lantaarnpaal-proposals together, the rest alone."""
    groups: dict[str, list] = {}
    for p in sorted(items, key=lambda p: int(p.id)):
        title = p.title.lower()
        key = ("paspoort" if "paspoort" in title else "lantaarnpalen" if "lantaarn" in title
               else f"single-{p.id}")
        groups.setdefault(key, []).append(p)
    return [
        engine.Cluster(id=n, label=key if not key.startswith("single-") else members[0].title,
                       terms=(), members=tuple(engine.Member(p.id, 0.8) for p in members))
        for n, (key, members) in enumerate(groups.items(), start=1)
    ]


@pytest.fixture
def fake_engine(monkeypatch):
    monkeypatch.setattr(engine, "cluster_proposals", fake_cluster_proposals)


@pytest.fixture
def world(ctx, people):
    return make_round(people)


# --- helpers -----------------------------------------------------------------------------------


def org(world):
    return world.user("organiser")


def suggest(world, *, replace_manual=False, now=T, threshold=None) -> dict:
    stats = clustering.run_clustering(world.round, replace_manual=replace_manual,
                                      threshold=threshold, now=now)
    db.session.commit()
    return stats


def placement(rnd: Round) -> dict[int, int]:
    """proposal id → cluster id for the round."""
    rows = db.session.execute(
        select(ClusterMember.proposal_id, ClusterMember.cluster_id).join(Cluster)
        .where(Cluster.round_id == rnd.id)).all()
    return dict(rows)


def members_of(cluster_id: int) -> set[int]:
    return set(db.session.scalars(select(ClusterMember.proposal_id)
                                  .where(ClusterMember.cluster_id == cluster_id)))


def cluster_with(world, key: str) -> Cluster:
    db.session.expire_all()
    return db.session.get(Cluster, placement(world.round)[world.ids[key]])


def proposal(world, key: str) -> Proposal:
    return db.session.get(Proposal, world.ids[key])


def cluster_ids(rnd: Round) -> set[int]:
    return set(db.session.scalars(select(Cluster.id).where(Cluster.round_id == rnd.id)))


def proposal_rows() -> list[tuple]:
    """Every column of every proposal (version included), to prove nothing changed them."""
    return [tuple(r) for r in db.session.execute(
        select(Proposal.__table__).order_by(Proposal.__table__.c.id)).all()]


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def assert_covers_submitted(world) -> None:
    """Every submitted proposal in exactly one cluster; drafts and withdrawn ones in none."""
    rows = db.session.execute(
        select(ClusterMember.proposal_id).join(Cluster)
        .where(Cluster.round_id == world.round.id)).scalars().all()
    assert sorted(rows) == sorted(world.ids[k] for k in world.ids
                                  if k not in ("draft", "withdrawn"))
    assert world.ids.get("draft") not in rows and world.ids.get("withdrawn") not in rows


def to_preselection(world) -> None:
    clustering.confirm_all(org(world), world.round, now=T)
    rounds.close_phase(world.round, Phase.CLUSTERING, actor=org(world), now=T)
    db.session.commit()


# --- starting a run ----------------------------------------------------------------------------


def test_request_run_queues_a_job(world):
    job = clustering.request_run(org(world), world.round, replace_manual=True, threshold=0.3,
                                 now=T)
    db.session.commit()
    job = db.session.get(Job, job.id)
    assert job.kind == clustering.JOB_KIND
    assert job.status == "queued"
    assert job.payload == {"round_id": world.round_id, "replace_manual": True, "threshold": 0.3}
    assert job.created_by_id == org(world).id
    assert clustering.current_job(world.round).id == job.id
    [event] = events("clustering.requested")
    assert event.actor_id == org(world).id and event.data["job"] == job.id
    assert cluster_ids(world.round) == set()  # nothing happens until a worker runs it


@pytest.mark.parametrize("role", ["jury", "member", "delegate"])
def test_request_run_is_for_organisers_only(world, role):
    with pytest.raises(PermissionDenied):
        clustering.request_run(world.user(role), world.round, replace_manual=False,
                               threshold=None, now=T)
    db.session.rollback()
    assert db.session.scalars(select(Job)).all() == []


def test_request_run_only_in_the_clustering_phase(ctx, people):
    world = make_world(people)
    world.propose()
    db.session.commit()
    with pytest.raises(InvalidState):  # still in submission
        clustering.request_run(org(world), world.round, replace_manual=False, threshold=None,
                               now=NOW)
    db.session.rollback()
    world.end_submission()
    suggest(world)
    to_preselection(world)
    with pytest.raises(InvalidState):  # clustering is over
        clustering.request_run(org(world), world.round, replace_manual=False, threshold=None,
                               now=T)
    db.session.rollback()
    assert db.session.scalars(select(Job)).all() == []


def test_one_run_at_a_time(world):
    clustering.request_run(org(world), world.round, replace_manual=False, threshold=None, now=T)
    db.session.commit()
    with pytest.raises(InvalidState):
        clustering.request_run(org(world), world.round, replace_manual=False, threshold=None,
                               now=T)
    db.session.rollback()
    assert jobs.run_pending() == 1
    # Finished: a new run may start.
    clustering.request_run(org(world), world.round, replace_manual=False, threshold=None, now=T)
    db.session.commit()
    assert len(db.session.scalars(select(Job)).all()) == 2


def test_a_run_waiting_for_a_retry_still_counts_as_running(world, monkeypatch):
    monkeypatch.setattr(engine, "cluster_proposals", lambda items, threshold=None: 1 / 0)
    job = clustering.request_run(org(world), world.round, replace_manual=False,
                                 threshold=None, now=T)
    db.session.commit()
    jobs.run_one()
    assert db.session.get(Job, job.id).status == "queued"
    with pytest.raises(InvalidState):
        clustering.request_run(org(world), world.round, replace_manual=False, threshold=None,
                               now=T)
    db.session.rollback()
    far = utcnow() + timedelta(hours=1)
    jobs.run_one(now=far)
    jobs.run_one(now=far)
    job = db.session.get(Job, job.id)
    assert job.status == "failed" and "ZeroDivisionError" in job.error
    # A failed run does not block the next one.
    clustering.request_run(org(world), world.round, replace_manual=False, threshold=None, now=T)


def test_one_run_at_a_time_however_many_jobs_other_rounds_have(world):
    clustering.request_run(org(world), world.round, replace_manual=False, threshold=None, now=T)
    for _ in range(60):  # newer jobs of other rounds
        jobs.enqueue(clustering.JOB_KIND, {"round_id": 10_000, "replace_manual": False,
                                           "threshold": None}, now=T)
    db.session.commit()
    with pytest.raises(InvalidState):
        clustering.request_run(org(world), world.round, replace_manual=False, threshold=None,
                               now=T)


def test_two_organisers_pressing_at_once_start_one_run(app, world, monkeypatch):
    round_id, organiser_id = world.round_id, org(world).id
    barrier = threading.Barrier(2)
    real_lock = clustering._lock_round

    def lock_together(rnd):
        barrier.wait(timeout=10)  # both have read "nothing running" by the time they lock
        real_lock(rnd)

    monkeypatch.setattr(clustering, "_lock_round", lock_together)
    outcomes = []

    def press():
        with app.app_context():
            rnd = db.session.get(Round, round_id)
            actor = db.session.get(User, organiser_id)
            try:
                clustering.request_run(actor, rnd, replace_manual=False, threshold=None,
                                       now=T)
                db.session.commit()
                outcomes.append("queued")
            except InvalidState:
                db.session.rollback()
                outcomes.append("refused")
            except Exception as exc:  # pragma: no cover - reported below
                db.session.rollback()
                outcomes.append(repr(exc))
            db.session.remove()

    threads = [threading.Thread(target=press) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["queued", "refused"]
    db.session.expire_all()
    assert len(db.session.scalars(select(Job)).all()) == 1


@pytest.mark.parametrize("threshold", [0.0, 0.04, 0.951, 1.0, -0.5, 5.0, math.nan, math.inf])
def test_request_run_refuses_a_threshold_out_of_range(world, threshold):
    with pytest.raises(ValidationError) as info:
        clustering.request_run(org(world), world.round, replace_manual=False,
                               threshold=threshold, now=T)
    assert info.value.field == "threshold"
    db.session.rollback()
    assert db.session.scalars(select(Job)).all() == []


@pytest.mark.parametrize("threshold", [None, 0.05, 0.18, 0.95])
def test_request_run_accepts_a_threshold_in_range(world, threshold):
    job = clustering.request_run(org(world), world.round, replace_manual=False,
                                 threshold=threshold, now=T)
    assert job.payload["threshold"] == threshold


def test_the_job_clusters_the_round(world):
    before = proposal_rows()
    job = clustering.request_run(org(world), world.round, replace_manual=False, threshold=None,
                                 now=T)
    db.session.commit()
    assert jobs.run_pending() == 1
    job = db.session.get(Job, job.id)
    assert job.status == "done", job.error
    assert job.result["proposals"] == len(SUBMITTED)
    assert job.result["clusters"] == len(cluster_ids(world.round))
    assert_covers_submitted(world)
    assert events("clustering.suggested")
    assert proposal_rows() == before


def test_a_run_whose_round_moved_on_fails_cleanly(world):
    job = clustering.request_run(org(world), world.round, replace_manual=False, threshold=None,
                                 now=T)
    db.session.commit()
    suggest(world)
    to_preselection(world)
    far = utcnow() + timedelta(hours=1)
    for _ in range(3):
        jobs.run_one(now=far)
    job = db.session.get(Job, job.id)
    assert job.status == "failed" and job.error


# --- what a run produces -----------------------------------------------------------------------


def test_run_covers_every_submitted_proposal_once(world):
    before = proposal_rows()
    stats = suggest(world)
    assert_covers_submitted(world)
    clusters = clustering.clusters(world.round)
    assert stats["proposals"] == len(SUBMITTED)
    assert stats["clusters"] == len(clusters)
    assert stats["kept_proposals"] == 0 and stats["removed_clusters"] == 0
    assert stats["singletons"] == sum(1 for c in clusters if len(c.members) == 1)
    for cluster in clusters:
        assert cluster.label.strip() and len(cluster.label) <= clustering.LABEL_MAX
        assert cluster.suggested_label == cluster.label
        assert not cluster.is_confirmed and not cluster.is_edited
        assert cluster.members
        for member in cluster.members:
            assert 0.0 <= member.similarity <= 1.0
            assert not member.is_pinned
    # The real engine puts the two passport proposals together.
    assert placement(world.round)[world.ids["pas1"]] == placement(world.round)[world.ids["pas2"]]
    assert clustering.unclustered_proposals(world.round) == []
    [event] = events("clustering.suggested")
    assert event.actor_id is None and event.data == stats
    assert proposal_rows() == before


def test_run_with_a_threshold(world):
    suggest(world, threshold=0.95)
    assert_covers_submitted(world)


def test_run_refuses_a_threshold_out_of_range(world):
    for threshold in (0.0, 2.0, math.nan):
        with pytest.raises(ValidationError):
            clustering.run_clustering(world.round, replace_manual=False, threshold=threshold,
                                      now=T)
        db.session.rollback()


def test_run_outside_the_clustering_phase_is_refused(ctx, people):
    world = make_world(people)
    world.propose()
    db.session.commit()
    with pytest.raises(InvalidState):
        clustering.run_clustering(world.round, replace_manual=False, threshold=None, now=NOW)


def test_run_without_proposals_makes_no_clusters(ctx, people):
    world = make_round(people, items=[], extras=False)
    stats = suggest(world)
    assert stats["clusters"] == 0 and cluster_ids(world.round) == set()


def test_run_cleans_up_what_the_engine_returns(world, monkeypatch):
    def sloppy(items, threshold=None):
        ids = sorted((p.id for p in items), key=int)
        return [
            engine.Cluster(id=1, label="   ", terms=(),
                           members=(engine.Member(ids[0], 1.7), engine.Member(ids[1], -0.2))),
            engine.Cluster(id=2, label="x" * 300, terms=(),
                           members=tuple(engine.Member(i, 0.5) for i in ids[2:])),
        ]

    monkeypatch.setattr(engine, "cluster_proposals", sloppy)
    suggest(world)
    assert_covers_submitted(world)
    for cluster in clustering.clusters(world.round):
        assert cluster.label.strip() and len(cluster.label) <= clustering.LABEL_MAX
        assert all(0.0 <= m.similarity <= 1.0 for m in cluster.members)


@pytest.mark.parametrize("mistake", ["twice", "missing", "unknown"])
def test_run_refuses_an_engine_result_that_does_not_place_everything_once(world, monkeypatch,
                                                                          mistake):
    def wrong(items, threshold=None):
        ids = sorted((p.id for p in items), key=int)
        if mistake == "twice":
            ids = [*ids, ids[0]]
        elif mistake == "missing":
            ids = ids[1:]
        else:
            ids = [*ids, str(world.ids["draft"])]
        return [engine.Cluster(id=n, label="x", terms=(), members=(engine.Member(i, 1.0),))
                for n, i in enumerate(ids, start=1)]

    suggest(world, now=T)
    before = placement(world.round)
    monkeypatch.setattr(engine, "cluster_proposals", wrong)
    with pytest.raises(RuntimeError):
        clustering.run_clustering(world.round, replace_manual=False, threshold=None, now=T)
    db.session.rollback()
    assert placement(world.round) == before


# --- re-running --------------------------------------------------------------------------------


def test_rerun_without_manual_work_replaces_the_suggestion(world, fake_engine):
    suggest(world)
    first = cluster_ids(world.round)
    stats = suggest(world)
    assert cluster_ids(world.round).isdisjoint(first)
    assert stats["removed_clusters"] == len(first)
    assert_covers_submitted(world)


def test_rerun_keeps_confirmed_and_edited_clusters_and_pinned_members(world, fake_engine):
    suggest(world)
    actor = org(world)
    confirmed = cluster_with(world, "pas1")  # paspoort: pas1 + pas2
    clustering.set_confirmed(actor, confirmed, True, now=T)
    renamed = cluster_with(world, "lamp1")  # lantaarnpalen: lamp1 + lamp2
    clustering.rename(actor, renamed, "Slimme verlichting", "", now=T)
    # The chatbot is placed by hand with the waste containers.
    afval = cluster_with(world, "afval")
    clustering.move(actor, proposal(world, "bot"), afval, now=T)
    db.session.commit()
    snapshot = {c.id: (c.label, members_of(c.id), c.is_confirmed)
                for c in clustering.clusters(world.round)}
    before = proposal_rows()

    stats = suggest(world)
    after = {c.id: (c.label, members_of(c.id), c.is_confirmed)
             for c in clustering.clusters(world.round)}
    assert after[confirmed.id] == snapshot[confirmed.id]
    assert after[renamed.id] == ("Slimme verlichting", {world.ids["lamp1"], world.ids["lamp2"]},
                                 False)
    assert after[afval.id][1] == {world.ids["afval"], world.ids["bot"]}
    assert stats["kept_proposals"] == len(SUBMITTED)
    assert stats["proposals"] == 0
    assert_covers_submitted(world)
    assert proposal_rows() == before


def test_rerun_resuggests_only_what_nobody_touched(world, fake_engine):
    suggest(world)
    actor = org(world)
    paspoort = cluster_with(world, "pas1")
    clustering.set_confirmed(actor, paspoort, True, now=T)
    db.session.commit()
    untouched = {cluster_with(world, k).id for k in ("lamp1", "bot", "afval")}
    suggest(world)
    assert cluster_with(world, "pas1").id == paspoort.id
    now_ids = {cluster_with(world, k).id for k in ("lamp1", "bot", "afval")}
    assert now_ids.isdisjoint(untouched)
    assert_covers_submitted(world)


def test_rerun_keeps_a_pinned_member_of_an_unedited_cluster(world, fake_engine):
    suggest(world)
    lamps = cluster_with(world, "lamp1")
    # A placement by hand inside a cluster that is otherwise the engine's.
    member = db.session.scalar(select(ClusterMember).where(
        ClusterMember.proposal_id == world.ids["lamp2"]))
    member.is_pinned = True
    db.session.commit()
    suggest(world)
    kept = db.session.get(Cluster, lamps.id)
    assert kept is not None and kept.is_edited
    assert members_of(kept.id) == {world.ids["lamp2"]}
    assert cluster_with(world, "lamp1").id != lamps.id
    assert_covers_submitted(world)


def test_rerun_with_replace_manual_replaces_everything(world, fake_engine):
    suggest(world)
    actor = org(world)
    clustering.set_confirmed(actor, cluster_with(world, "pas1"), True, now=T)
    clustering.rename(actor, cluster_with(world, "lamp1"), "Slimme verlichting", "", now=T)
    clustering.move(actor, proposal(world, "bot"), cluster_with(world, "afval"), now=T)
    db.session.commit()
    first = cluster_ids(world.round)
    assert clustering.has_manual_work(world.round)

    stats = suggest(world, replace_manual=True)
    assert cluster_ids(world.round).isdisjoint(first)
    assert stats["kept_proposals"] == 0 and stats["proposals"] == len(SUBMITTED)
    assert_covers_submitted(world)
    assert not clustering.has_manual_work(world.round)
    assert all(not c.is_confirmed and not c.is_edited for c in clustering.clusters(world.round))
    assert not db.session.scalars(select(ClusterMember).where(ClusterMember.is_pinned)).all()


def test_a_run_does_not_lose_corrections_made_while_it_computes(app, world, fake_engine,
                                                                 monkeypatch):
    """The organiser keeps working while the engine runs: the run notices and starts over
    instead of deleting the correction."""
    suggest(world)
    target_id = cluster_with(world, "afval").id
    organiser_id, bot_id = org(world).id, world.ids["bot"]

    def engine_while_organiser_moves(items, threshold=None):
        with app.app_context():  # the organiser's request, committed meanwhile
            actor = db.session.get(User, organiser_id)
            clustering.move(actor, db.session.get(Proposal, bot_id),
                            db.session.get(Cluster, target_id), now=T)
            db.session.commit()
        return fake_cluster_proposals(items, threshold)

    monkeypatch.setattr(engine, "cluster_proposals", engine_while_organiser_moves)
    with pytest.raises(ConflictError):
        clustering.run_clustering(world.round, replace_manual=False, threshold=None, now=T)
    db.session.rollback()
    monkeypatch.setattr(engine, "cluster_proposals", fake_cluster_proposals)
    assert members_of(target_id) == {world.ids["afval"], bot_id}

    # As a background job the run is simply tried again, and then keeps the correction.
    job = clustering.request_run(org(world), world.round, replace_manual=False,
                                 threshold=None, now=T)
    db.session.commit()
    lamps_id = cluster_with(world, "lamp1").id

    def engine_while_organiser_renames(items, threshold=None):
        with app.app_context():
            actor = db.session.get(User, organiser_id)
            clustering.rename(actor, db.session.get(Cluster, lamps_id), "Verlichting", "",
                              now=T)
            db.session.commit()
        return fake_cluster_proposals(items, threshold)

    monkeypatch.setattr(engine, "cluster_proposals", engine_while_organiser_renames)
    jobs.run_one()
    job = db.session.get(Job, job.id)
    assert job.status == "queued" and "ConflictError" in job.error
    monkeypatch.setattr(engine, "cluster_proposals", fake_cluster_proposals)
    jobs.run_one(now=utcnow() + timedelta(minutes=5))
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert job.status == "done"
    lamps = db.session.get(Cluster, lamps_id)
    assert lamps.label == "Verlichting" and lamps.is_edited
    assert members_of(target_id) == {world.ids["afval"], bot_id}
    assert_covers_submitted(world)


# --- corrections -------------------------------------------------------------------------------


@pytest.fixture
def suggested(world, fake_engine):
    suggest(world)
    return world


def test_rename(suggested):
    world = suggested
    cluster = cluster_with(world, "pas1")
    old = cluster.label
    clustering.rename(org(world), cluster, "  Paspoort   online  ", " Alles over het paspoort. ",
                      now=T)
    db.session.commit()
    cluster = db.session.get(Cluster, cluster.id)
    assert cluster.label == "Paspoort online"
    assert cluster.description == "Alles over het paspoort."
    assert cluster.is_edited and cluster.updated_at == T
    assert cluster.suggested_label == old
    [event] = events("cluster.renamed")
    assert event.object_id == str(cluster.id) and event.actor_id == org(world).id
    assert event.data["label"] == [old, "Paspoort online"]
    # The same name again changes nothing and records nothing.
    clustering.rename(org(world), cluster, "Paspoort online", "Alles over het paspoort.", now=T)
    assert len(events("cluster.renamed")) == 1


@pytest.mark.parametrize("label,description", [
    ("ab", ""), ("   ", ""), ("a" * 121, ""), ("Goede naam", "x" * 5001)])
def test_rename_refuses_bad_input(suggested, label, description):
    cluster = cluster_with(suggested, "pas1")
    with pytest.raises(ValidationError):
        clustering.rename(org(suggested), cluster, label, description, now=T)
    db.session.rollback()
    assert events("cluster.renamed") == []


def test_a_confirmed_cluster_can_still_be_renamed(suggested):
    cluster = cluster_with(suggested, "pas1")
    clustering.set_confirmed(org(suggested), cluster, True, now=T)
    clustering.rename(org(suggested), cluster, "Paspoort", "", now=T)
    assert cluster.label == "Paspoort" and cluster.is_confirmed


def test_move(suggested):
    world = suggested
    source, target = cluster_with(world, "pas1"), cluster_with(world, "bot")
    clustering.move(org(world), proposal(world, "pas2"), target, now=T)
    db.session.commit()
    assert members_of(source.id) == {world.ids["pas1"]}
    assert members_of(target.id) == {world.ids["bot"], world.ids["pas2"]}
    member = db.session.scalar(select(ClusterMember).where(
        ClusterMember.proposal_id == world.ids["pas2"]))
    assert member.is_pinned and member.similarity == 0.0
    assert db.session.get(Cluster, source.id).is_edited
    assert db.session.get(Cluster, target.id).is_edited
    [event] = events("cluster.proposal_moved")
    assert event.object_type == "proposal" and event.object_id == str(world.ids["pas2"])
    assert event.data == {"from": source.id, "to": target.id}
    assert_covers_submitted(world)


def test_moving_to_its_own_cluster_is_a_no_op(suggested):
    cluster = cluster_with(suggested, "pas1")
    clustering.move(org(suggested), proposal(suggested, "pas1"), cluster, now=T)
    db.session.commit()
    cluster = db.session.get(Cluster, cluster.id)
    assert not cluster.is_edited
    assert members_of(cluster.id) == {suggested.ids["pas1"], suggested.ids["pas2"]}
    assert events("cluster.proposal_moved") == []


def test_a_cluster_that_becomes_empty_disappears(suggested):
    world = suggested
    bot = cluster_with(world, "bot")
    clustering.move(org(world), proposal(world, "bot"), cluster_with(world, "afval"), now=T)
    db.session.commit()
    assert db.session.get(Cluster, bot.id) is None
    assert_covers_submitted(world)


def test_moving_an_unplaced_proposal(ctx, people, fake_engine):
    world = make_round(people)
    suggest(world)
    # An unplaced proposal (e.g. after the organiser split… simulated by removing it).
    db.session.delete(db.session.scalar(select(ClusterMember).where(
        ClusterMember.proposal_id == world.ids["bot"])))
    db.session.commit()
    assert [p.id for p in clustering.unclustered_proposals(world.round)] == [world.ids["bot"]]
    target = cluster_with(world, "afval")
    clustering.move(org(world), proposal(world, "bot"), target, now=T)
    assert members_of(target.id) == {world.ids["afval"], world.ids["bot"]}
    assert events("cluster.proposal_moved")[0].data["from"] is None


@pytest.mark.parametrize("key", ["draft", "withdrawn"])
def test_only_taking_part_proposals_can_be_moved_or_split(suggested, key):
    with pytest.raises(ValidationError):
        clustering.move(org(suggested), proposal(suggested, key), cluster_with(suggested, "pas1"),
                        now=T)
    db.session.rollback()
    with pytest.raises(ValidationError):
        clustering.split_out(org(suggested), proposal(suggested, key), now=T)
    db.session.rollback()
    assert_covers_submitted(suggested)


def test_split_out(suggested):
    world = suggested
    source = cluster_with(world, "lamp1")
    new = clustering.split_out(org(world), proposal(world, "lamp2"), now=T)
    db.session.commit()
    assert new.id != source.id
    assert members_of(new.id) == {world.ids["lamp2"]}
    assert members_of(source.id) == {world.ids["lamp1"]}
    assert new.label == proposal(world, "lamp2").title
    assert new.is_edited and not new.is_confirmed
    [member] = new.members
    assert member.is_pinned and member.similarity == 1.0
    [event] = events("cluster.proposal_split_out")
    assert event.data == {"from": source.id, "to": new.id}
    assert_covers_submitted(world)


def test_splitting_a_lone_proposal_replaces_its_cluster(suggested):
    world = suggested
    old = cluster_with(world, "bot")
    new = clustering.split_out(org(world), proposal(world, "bot"), now=T)
    db.session.commit()
    assert db.session.get(Cluster, old.id) is None
    assert members_of(new.id) == {world.ids["bot"]}
    assert_covers_submitted(world)


def test_merge(suggested):
    world = suggested
    source, target = cluster_with(world, "lamp1"), cluster_with(world, "bot")
    source_id, source_label = source.id, source.label
    clustering.merge(org(world), source, target, now=T)
    db.session.commit()
    assert db.session.get(Cluster, source_id) is None
    assert members_of(target.id) == {world.ids[k] for k in ("lamp1", "lamp2", "bot")}
    target = db.session.get(Cluster, target.id)
    assert target.is_edited
    assert all(m.is_pinned for m in target.members if m.proposal_id != world.ids["bot"])
    [event] = events("cluster.merged")
    assert event.object_id == str(target.id)
    assert event.data["merged"] == source_id and event.data["merged_label"] == source_label
    assert sorted(event.data["proposals"]) == sorted([world.ids["lamp1"], world.ids["lamp2"]])
    assert_covers_submitted(world)


def test_merge_with_itself_is_refused(suggested):
    cluster = cluster_with(suggested, "pas1")
    with pytest.raises(ValidationError):
        clustering.merge(org(suggested), cluster, cluster, now=T)
    db.session.rollback()
    assert members_of(cluster.id) == {suggested.ids["pas1"], suggested.ids["pas2"]}


def test_clusters_of_different_rounds_do_not_mix(suggested, people):
    world = suggested
    other = make_round(people, title="Tweede ronde", items=PROPOSALS[:2], extras=False)
    suggest(other)
    theirs = cluster_with(other, "pas1")
    ours = cluster_with(world, "lamp1")
    for source, target in ((ours, theirs), (theirs, ours)):
        with pytest.raises(ValidationError):
            clustering.merge(org(world), source, target, now=T)
        db.session.rollback()
    with pytest.raises(ValidationError):
        clustering.move(org(world), proposal(world, "bot"), theirs, now=T)
    db.session.rollback()
    with pytest.raises(ValidationError):
        clustering.move(org(world), proposal(other, "pas1"), ours, now=T)
    db.session.rollback()
    assert_covers_submitted(world)
    assert_covers_submitted(other)


def test_confirm_and_unconfirm(suggested):
    world = suggested
    cluster = cluster_with(world, "pas1")
    clustering.set_confirmed(org(world), cluster, True, now=T)
    db.session.commit()
    cluster = db.session.get(Cluster, cluster.id)
    assert cluster.is_confirmed
    assert cluster.confirmed_at == T and cluster.confirmed_by_id == org(world).id
    assert clustering.confirmed_clusters(world.round) == [cluster]
    clustering.set_confirmed(org(world), cluster, True, now=T)  # again: nothing new
    assert len(events("cluster.confirmed")) == 1

    clustering.set_confirmed(org(world), cluster, False, now=T)
    db.session.commit()
    cluster = db.session.get(Cluster, cluster.id)
    assert not cluster.is_confirmed
    assert cluster.confirmed_at is None and cluster.confirmed_by_id is None
    assert len(events("cluster.unconfirmed")) == 1
    assert events("cluster.confirmed")[0].object_id == str(cluster.id)


def test_a_confirmed_cluster_is_locked_until_unconfirmed(suggested):
    world = suggested
    actor = org(world)
    paspoort, bot = cluster_with(world, "pas1"), cluster_with(world, "bot")
    clustering.set_confirmed(actor, paspoort, True, now=T)
    db.session.commit()
    refused = [
        lambda: clustering.move(actor, proposal(world, "bot"), paspoort, now=T),  # into it
        lambda: clustering.move(actor, proposal(world, "pas2"), bot, now=T),  # out of it
        lambda: clustering.split_out(actor, proposal(world, "pas2"), now=T),
        lambda: clustering.merge(actor, paspoort, bot, now=T),
        lambda: clustering.merge(actor, bot, paspoort, now=T),
    ]
    for action in refused:
        with pytest.raises(InvalidState):
            action()
        db.session.rollback()
    assert members_of(paspoort.id) == {world.ids["pas1"], world.ids["pas2"]}
    assert members_of(bot.id) == {world.ids["bot"]}
    assert not db.session.get(Cluster, paspoort.id).is_edited

    clustering.set_confirmed(actor, db.session.get(Cluster, paspoort.id), False, now=T)
    clustering.move(actor, proposal(world, "pas2"), db.session.get(Cluster, bot.id), now=T)
    db.session.commit()
    assert members_of(bot.id) == {world.ids["bot"], world.ids["pas2"]}


def test_confirm_all(suggested):
    world = suggested
    clustering.set_confirmed(org(world), cluster_with(world, "pas1"), True, now=T)
    total = len(cluster_ids(world.round))
    assert clustering.confirm_all(org(world), world.round, now=T) == total - 1
    db.session.commit()
    assert all(c.is_confirmed for c in clustering.clusters(world.round))
    assert len(events("cluster.confirmed")) == total
    assert clustering.confirm_all(org(world), world.round, now=T) == 0


def every_correction(world, actor):
    """Each correction once, as callables (unconfirm where confirming makes no sense)."""
    cluster, other = cluster_with(world, "pas1"), cluster_with(world, "bot")
    return [
        lambda: clustering.rename(actor, cluster, "Andere naam", "", now=T),
        lambda: clustering.move(actor, proposal(world, "bot"), cluster, now=T),
        lambda: clustering.split_out(actor, proposal(world, "pas1"), now=T),
        lambda: clustering.merge(actor, other, cluster, now=T),
        lambda: clustering.set_confirmed(actor, cluster, not cluster.is_confirmed, now=T),
        lambda: clustering.confirm_all(actor, world.round, now=T),
    ]


def test_corrections_are_for_organisers_only(suggested):
    world = suggested
    for role in ("jury", "member", "delegate"):
        for action in every_correction(world, world.user(role)):
            with pytest.raises(PermissionDenied):
                action()
            db.session.rollback()
    assert not clustering.has_manual_work(world.round)
    assert [e for e in db.session.scalars(select(AuditEvent.action))
            if e.startswith("cluster.")] == []


def test_corrections_only_in_the_clustering_phase(suggested):
    world = suggested
    to_preselection(world)
    for action in every_correction(world, org(world)):
        with pytest.raises(InvalidState):
            action()
        db.session.rollback()
    assert all(c.is_confirmed and not c.is_edited for c in clustering.clusters(world.round))


def test_a_correction_to_a_cluster_someone_just_removed_is_refused(app, suggested):
    world = suggested
    bot_id, organiser_id = cluster_with(world, "bot").id, org(world).id
    lamps = cluster_with(world, "lamp1")  # loaded here, then merged away by a colleague
    lamps_id = lamps.id
    with app.app_context():
        actor = db.session.get(User, organiser_id)
        clustering.merge(actor, db.session.get(Cluster, lamps_id),
                         db.session.get(Cluster, bot_id), now=T)
        db.session.commit()
    with pytest.raises(NotFound):
        clustering.rename(org(world), lamps, "Verlichting", "", now=T)
    db.session.rollback()
    assert db.session.get(Cluster, lamps_id) is None
    assert_covers_submitted(world)


def test_no_correction_changes_a_proposal(suggested):
    world = suggested
    actor = org(world)
    before = proposal_rows()
    clustering.rename(actor, cluster_with(world, "pas1"), "Paspoort", "Omschrijving", now=T)
    clustering.move(actor, proposal(world, "bot"), cluster_with(world, "afval"), now=T)
    clustering.split_out(actor, proposal(world, "lamp2"), now=T)
    clustering.merge(actor, cluster_with(world, "lamp2"), cluster_with(world, "lamp1"), now=T)
    suggest(world)
    suggest(world, replace_manual=True)
    clustering.confirm_all(actor, world.round, now=T)
    clustering.set_confirmed(actor, cluster_with(world, "pas1"), False, now=T)
    db.session.commit()
    db.session.expire_all()
    assert proposal_rows() == before


# --- the preselection precondition -------------------------------------------------------------


def close_clustering(world):
    return rounds.close_phase(world.round, Phase.CLUSTERING, actor=org(world), now=T)


def test_preselection_waits_until_every_proposal_is_in_a_confirmed_cluster(world, fake_engine):
    # Nothing clustered yet.
    reasons = rounds.blocking_reasons(world.round, Phase.PRESELECTION, T)
    assert reasons
    with pytest.raises(InvalidState) as info:
        close_clustering(world)
    assert all(reason in str(info.value.message) for reason in reasons)
    db.session.rollback()

    suggest(world)
    clustering.set_confirmed(org(world), cluster_with(world, "pas1"), True, now=T)
    db.session.commit()
    assert rounds.blocking_reasons(world.round, Phase.PRESELECTION, T)
    with pytest.raises(InvalidState):
        close_clustering(world)
    db.session.rollback()

    # One proposal out of every cluster again.
    clustering.confirm_all(org(world), world.round, now=T)
    db.session.delete(db.session.scalar(select(ClusterMember).where(
        ClusterMember.proposal_id == world.ids["bot"])))
    db.session.flush()
    assert rounds.blocking_reasons(world.round, Phase.PRESELECTION, T)
    db.session.rollback()

    assert clustering.confirm_all(org(world), world.round, now=T) >= 1
    assert rounds.blocking_reasons(world.round, Phase.PRESELECTION, T) == []
    assert close_clustering(world) is Phase.PRESELECTION
    db.session.commit()
    assert world.round.current_phase is Phase.PRESELECTION


def test_the_clock_does_not_open_preselection_early_either(world):
    end = world.round.window(Phase.CLUSTERING).ends_at
    assert rounds.sync_round(world.round, now=end + timedelta(minutes=1)) == []
    assert world.round.current_phase is Phase.CLUSTERING
    assert rounds.overdue_reasons(world.round, end + timedelta(minutes=1))
