"""Clusters over HTTP and on the command line: the organiser's review page, starting a run and
watching it, every correction form, the public "vraagstukken", and malformed input on all of
them (never a 500)."""

import json
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from competition.engine import clustering as engine
from competition.extensions import db
from competition.models import AuditEvent, Cluster, ClusterMember, Job, Phase, Round
from competition.services import accounts, clustering, jobs, rounds
from tests.conftest import NOW
from tests.test_clustering_service import (
    PROPOSALS,
    SUBMITTED,
    T,
    fake_cluster_proposals,
    make_round,
)

HUGE = 2**64


@pytest.fixture
def fake_engine(monkeypatch):
    monkeypatch.setattr(engine, "cluster_proposals", fake_cluster_proposals)


def _site(app, people, *, suggested: bool, title: str):
    app.config["FROZEN_NOW"] = T
    with app.app_context():
        world = make_round(people, title=title)
        if suggested:
            clustering.run_clustering(world.round, replace_manual=False, threshold=None, now=T)
            db.session.commit()
        return SimpleNamespace(world=world, slug=world.round.slug, round_id=world.round_id,
                               ids=world.ids)


@pytest.fixture
def fresh(app, people, fake_engine):
    """A round in its clustering phase, nothing clustered yet."""
    return _site(app, people, suggested=False, title="Ronde zonder clusters")


@pytest.fixture
def site(app, people, fake_engine):
    """A round in its clustering phase with the (fake) engine's suggestion."""
    return _site(app, people, suggested=True, title="Ronde met clusters")


@pytest.fixture
def organiser(auth, people):
    auth.login(people["organiser"])
    return auth


def in_app(app, fn):
    with app.app_context():
        return fn()


def cluster_of(app, site, key) -> int:
    """The id of the cluster a proposal is in."""
    return in_app(app, lambda: db.session.scalar(
        select(ClusterMember.cluster_id).where(ClusterMember.proposal_id == site.ids[key])))


def state(app, site) -> dict:
    """Everything about the round's clusters: {id: (label, description, confirmed, members)}."""
    def read():
        return {c.id: (c.label, c.description, c.is_confirmed,
                       frozenset(m.proposal_id for m in c.members))
                for c in clustering.clusters(db.session.get(Round, site.round_id))}
    return in_app(app, read)


def jobs_count(app) -> int:
    return in_app(app, lambda: db.session.scalar(select(func.count(Job.id))))


def actions(app) -> list[str]:
    return in_app(app, lambda: list(db.session.scalars(
        select(AuditEvent.action).order_by(AuditEvent.id))))


def review_url(site) -> str:
    return f"/beheer/rondes/{site.slug}/clusters"


def assert_back_to_review(response, site):
    assert response.status_code == 302
    assert response.headers["Location"].split("#")[0].endswith(review_url(site))


def other_round_cluster(app, people) -> int:
    """A cluster of a second round in its clustering phase."""
    def build():
        other = make_round(people, title="Tweede ronde", items=PROPOSALS[:2], extras=False)
        clustering.run_clustering(other.round, replace_manual=False, threshold=None, now=T)
        db.session.commit()
        return db.session.scalar(select(ClusterMember.cluster_id).where(
            ClusterMember.proposal_id == other.ids["pas1"]))
    return in_app(app, build)


# --- the review page ---------------------------------------------------------------------------


def test_review_page_for_organisers(client, organiser, site, fresh):
    assert client.get(review_url(site)).status_code == 200
    assert client.get(review_url(fresh)).status_code == 200  # nothing clustered yet
    assert client.get("/beheer/rondes/bestaat-niet/clusters").status_code == 404


def test_review_page_needs_an_organiser(client, auth, people, site):
    response = client.get(review_url(site))
    assert response.status_code == 302 and "/inloggen" in response.headers["Location"]
    for role in ("jury", "member", "delegate"):
        auth.login(people[role])
        assert client.get(review_url(site)).status_code == 403
        assert client.get(review_url(site) + "/voortgang").status_code == 403
        auth.logout()


def test_review_page_after_the_clustering_phase(app, client, organiser, site):
    def close():
        rnd = db.session.get(Round, site.round_id)
        actor = accounts.find_user_by_email("org@example.org")
        clustering.confirm_all(actor, rnd, now=T)
        rounds.close_phase(rnd, Phase.CLUSTERING, actor=actor, now=T)
        db.session.commit()

    in_app(app, close)
    assert client.get(review_url(site)).status_code == 200


# --- running -----------------------------------------------------------------------------------


def test_run_then_watch_the_progress(app, client, organiser, fresh):
    progress = review_url(fresh) + "/voortgang"
    assert client.get(progress).status_code == 200  # no run yet

    response = client.post(review_url(fresh) + "/uitvoeren", data={})
    assert_back_to_review(response, fresh)
    job = in_app(app, lambda: db.session.scalars(select(Job)).one())
    assert job.status == "queued" and job.payload["round_id"] == fresh.round_id
    assert job.payload["threshold"] is None and job.payload["replace_manual"] is False
    assert client.get(progress).status_code == 200
    assert client.get(review_url(fresh)).status_code == 200

    assert in_app(app, jobs.run_pending) == 1
    job = in_app(app, lambda: db.session.scalars(select(Job)).one())
    assert job.status == "done", job.error
    assert client.get(progress).status_code == 200
    assert client.get(review_url(fresh)).status_code == 200
    placed = in_app(app, lambda: set(db.session.scalars(select(ClusterMember.proposal_id))))
    assert placed == {fresh.ids[k] for k in SUBMITTED}
    assert "clustering.requested" in actions(app) and "clustering.suggested" in actions(app)


def test_a_failed_run_shows_on_the_page(app, client, organiser, fresh, monkeypatch):
    monkeypatch.setattr(engine, "cluster_proposals", lambda items, threshold=None: 1 / 0)

    def queue_one_shot():
        rnd = db.session.get(Round, fresh.round_id)
        jobs.enqueue(clustering.JOB_KIND, {"round_id": rnd.id, "replace_manual": False,
                                           "threshold": None}, now=T, max_attempts=1)
        db.session.commit()
        jobs.run_pending()

    in_app(app, queue_one_shot)
    assert in_app(app, lambda: db.session.scalars(select(Job)).one().status) == "failed"
    assert client.get(review_url(fresh)).status_code == 200
    assert client.get(review_url(fresh) + "/voortgang").status_code == 200


@pytest.mark.parametrize("given,expected", [
    ("50", 0.5), ("50,5", 0.505), ("50 %", 0.5), ("5", 0.05), ("95", 0.95), ("", None)])
def test_run_with_a_threshold(app, client, organiser, fresh, given, expected):
    response = client.post(review_url(fresh) + "/uitvoeren", data={"threshold": given})
    assert_back_to_review(response, fresh)
    threshold = in_app(app, lambda: db.session.scalars(select(Job)).one().payload["threshold"])
    if expected is None:
        assert threshold is None
    else:
        assert threshold == pytest.approx(expected)


@pytest.mark.parametrize("given", [
    "abc", "4", "96", "-50", "nan", "inf", "1e400", "0x10", "50;DROP", "٥٠" * 50])
def test_run_refuses_a_bad_threshold(app, client, organiser, fresh, given):
    response = client.post(review_url(fresh) + "/uitvoeren", data={"threshold": given})
    assert_back_to_review(response, fresh)
    assert jobs_count(app) == 0


def test_run_with_replace_manual(app, client, organiser, site):
    client.post(review_url(site) + "/uitvoeren", data={"replace_manual": "y"})
    job = in_app(app, lambda: db.session.scalars(select(Job)).one())
    assert job.payload["replace_manual"] is True


def test_one_run_at_a_time_over_http(app, client, organiser, fresh):
    client.post(review_url(fresh) + "/uitvoeren", data={})
    response = client.post(review_url(fresh) + "/uitvoeren", data={})
    assert_back_to_review(response, fresh)
    assert jobs_count(app) == 1


def test_run_needs_an_organiser(app, client, auth, people, fresh):
    response = client.post(review_url(fresh) + "/uitvoeren", data={})
    assert response.status_code == 302 and "/inloggen" in response.headers["Location"]
    auth.login(people["jury"])
    assert client.post(review_url(fresh) + "/uitvoeren", data={}).status_code == 403
    assert jobs_count(app) == 0


def test_run_outside_the_clustering_phase(app, client, organiser, people):
    app.config["FROZEN_NOW"] = NOW

    def submission_round():
        from tests.proposal_helpers import make_world

        world = make_world(people)
        world.propose()
        db.session.commit()
        return world.round.slug

    slug = in_app(app, submission_round)
    response = client.post(f"/beheer/rondes/{slug}/clusters/uitvoeren", data={})
    assert response.status_code == 302
    assert jobs_count(app) == 0


def test_the_worker_command_runs_a_requested_run(app, client, organiser, fresh, runner):
    client.post(review_url(fresh) + "/uitvoeren", data={})
    result = runner.invoke(args=["competition", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert in_app(app, lambda: db.session.scalars(select(Job)).one().status) == "done"
    assert len(state(app, fresh)) > 0


# --- corrections -------------------------------------------------------------------------------


def test_rename(app, client, organiser, site):
    cid = cluster_of(app, site, "pas1")
    response = client.post(f"/beheer/clusters/{cid}/naam", data={
        f"c{cid}-label": "Paspoort  online", f"c{cid}-description": "Alles over het paspoort."})
    assert_back_to_review(response, site)
    label, description, _, _ = state(app, site)[cid]
    assert (label, description) == ("Paspoort online", "Alles over het paspoort.")
    assert actions(app).count("cluster.renamed") == 1


@pytest.mark.parametrize("data", [
    {}, {"c{cid}-label": ""}, {"c{cid}-label": "ab"}, {"c{cid}-label": "   ab   "},
    {"c{cid}-label": "x" * 121}, {"c{cid}-label": "Goede naam", "c{cid}-description": "x" * 5001},
    {"label": "Zonder voorvoegsel"}, {"c999-label": "Verkeerd voorvoegsel"}])
def test_rename_refuses_bad_input(app, client, organiser, site, data):
    cid = cluster_of(app, site, "pas1")
    before = state(app, site)
    response = client.post(f"/beheer/clusters/{cid}/naam",
                           data={k.format(cid=cid): v for k, v in data.items()})
    assert_back_to_review(response, site)
    assert state(app, site) == before
    assert "cluster.renamed" not in actions(app)


def test_confirm_and_unconfirm(app, client, organiser, site):
    cid = cluster_of(app, site, "pas1")
    assert_back_to_review(client.post(f"/beheer/clusters/{cid}/bevestigen",
                                      data={"confirmed": "1"}), site)
    assert state(app, site)[cid][2] is True
    assert_back_to_review(client.post(f"/beheer/clusters/{cid}/bevestigen",
                                      data={"confirmed": "0"}), site)
    assert state(app, site)[cid][2] is False
    assert [a for a in actions(app) if a.startswith("cluster.")] == [
        "cluster.confirmed", "cluster.unconfirmed"]


def test_merge(app, client, organiser, site):
    source, target = cluster_of(app, site, "lamp1"), cluster_of(app, site, "bot")
    response = client.post(f"/beheer/clusters/{source}/samenvoegen",
                           data={f"m{source}-target_id": str(target)})
    assert_back_to_review(response, site)
    after = state(app, site)
    assert source not in after
    assert after[target][3] == {site.ids[k] for k in ("lamp1", "lamp2", "bot")}
    assert "cluster.merged" in actions(app)


def test_merge_refuses_bad_targets(app, client, organiser, people, site):
    source, confirmed = cluster_of(app, site, "lamp1"), cluster_of(app, site, "pas1")
    client.post(f"/beheer/clusters/{confirmed}/bevestigen", data={"confirmed": "1"})
    elsewhere = other_round_cluster(app, people)
    before = state(app, site)
    for target in ["", "abc", "-1", "0", str(HUGE), str(elsewhere), str(source),
                   str(confirmed), "1.5"]:
        response = client.post(f"/beheer/clusters/{source}/samenvoegen",
                               data={f"m{source}-target_id": target})
        assert_back_to_review(response, site)
        assert state(app, site) == before, target
    # A confirmed cluster cannot be merged away either.
    response = client.post(f"/beheer/clusters/{confirmed}/samenvoegen",
                           data={f"m{confirmed}-target_id": str(source)})
    assert_back_to_review(response, site)
    assert state(app, site) == before
    assert "cluster.merged" not in actions(app)


def test_move(app, client, organiser, site):
    source, target = cluster_of(app, site, "pas1"), cluster_of(app, site, "bot")
    pid = site.ids["pas2"]
    response = client.post(f"/beheer/voorstellen/{pid}/cluster",
                           data={f"p{pid}-target_id": str(target)})
    assert_back_to_review(response, site)
    after = state(app, site)
    assert pid in after[target][3] and pid not in after[source][3]
    assert "cluster.proposal_moved" in actions(app)
    # Moving it where it already is changes nothing.
    client.post(f"/beheer/voorstellen/{pid}/cluster", data={f"p{pid}-target_id": str(target)})
    assert state(app, site) == after
    assert actions(app).count("cluster.proposal_moved") == 1


def test_move_refuses_bad_input(app, client, organiser, people, site):
    pid = site.ids["pas2"]
    elsewhere = other_round_cluster(app, people)
    before = state(app, site)
    for target in ["", "abc", str(HUGE), str(elsewhere), "-3"]:
        response = client.post(f"/beheer/voorstellen/{pid}/cluster",
                               data={f"p{pid}-target_id": target})
        assert_back_to_review(response, site)
        assert state(app, site) == before, target
    target = cluster_of(app, site, "bot")
    for key in ("draft", "withdrawn"):
        bad = site.ids[key]
        client.post(f"/beheer/voorstellen/{bad}/cluster", data={f"p{bad}-target_id": str(target)})
    assert state(app, site) == before
    for missing in (999_999, HUGE):
        response = client.post(f"/beheer/voorstellen/{missing}/cluster",
                               data={f"p{missing}-target_id": str(target)})
        assert response.status_code == 404
    assert "cluster.proposal_moved" not in actions(app)


def test_split_out(app, client, organiser, site):
    pid = site.ids["lamp2"]
    source = cluster_of(app, site, "lamp1")
    response = client.post(f"/beheer/voorstellen/{pid}/apart")
    assert_back_to_review(response, site)
    new = cluster_of(app, site, "lamp2")
    assert new != source
    after = state(app, site)
    assert after[new][3] == {pid} and after[source][3] == {site.ids["lamp1"]}
    assert "cluster.proposal_split_out" in actions(app)


def test_split_out_refuses_bad_input(app, client, organiser, site):
    before = state(app, site)
    for key in ("draft", "withdrawn"):
        response = client.post(f"/beheer/voorstellen/{site.ids[key]}/apart")
        assert_back_to_review(response, site)
    assert state(app, site) == before
    assert client.post("/beheer/voorstellen/999999/apart").status_code == 404
    assert client.post(f"/beheer/voorstellen/{HUGE}/apart").status_code == 404
    assert client.post("/beheer/voorstellen/abc/apart").status_code == 404


def test_changes_to_a_confirmed_cluster_are_refused_until_unconfirmed(app, client, organiser,
                                                                      site):
    cid, bot = cluster_of(app, site, "pas1"), cluster_of(app, site, "bot")
    client.post(f"/beheer/clusters/{cid}/bevestigen", data={"confirmed": "1"})
    before = state(app, site)
    pas2 = site.ids["pas2"]
    for url, data in [
        (f"/beheer/voorstellen/{pas2}/cluster", {f"p{pas2}-target_id": str(bot)}),
        (f"/beheer/voorstellen/{pas2}/apart", {}),
        (f"/beheer/clusters/{cid}/samenvoegen", {f"m{cid}-target_id": str(bot)}),
        (f"/beheer/clusters/{bot}/samenvoegen", {f"m{bot}-target_id": str(cid)}),
    ]:
        assert_back_to_review(client.post(url, data=data), site)
        assert state(app, site) == before, url
    client.post(f"/beheer/clusters/{cid}/bevestigen", data={"confirmed": "0"})
    client.post(f"/beheer/voorstellen/{pas2}/cluster", data={f"p{pas2}-target_id": str(bot)})
    assert pas2 in state(app, site)[bot][3]


def test_confirm_all_then_preselection_can_open(app, client, organiser, site):
    response = client.post(review_url(site) + "/alles-bevestigen")
    assert_back_to_review(response, site)
    assert all(confirmed for _, _, confirmed, _ in state(app, site).values())
    assert client.get(review_url(site)).status_code == 200

    def close():
        rnd = db.session.get(Round, site.round_id)
        actor = accounts.find_user_by_email("org@example.org")
        entered = rounds.close_phase(rnd, Phase.CLUSTERING, actor=actor, now=T)
        db.session.commit()
        return entered

    assert in_app(app, close) is Phase.PRESELECTION


def test_corrections_need_an_organiser(app, client, auth, people, site):
    cid, pid = cluster_of(app, site, "pas1"), site.ids["bot"]
    posts = [
        (f"/beheer/clusters/{cid}/naam", {f"c{cid}-label": "Andere naam"}),
        (f"/beheer/clusters/{cid}/bevestigen", {"confirmed": "1"}),
        (f"/beheer/clusters/{cid}/samenvoegen", {f"m{cid}-target_id": str(cid)}),
        (f"/beheer/voorstellen/{pid}/cluster", {f"p{pid}-target_id": str(cid)}),
        (f"/beheer/voorstellen/{pid}/apart", {}),
        (review_url(site) + "/alles-bevestigen", {}),
    ]
    before = state(app, site)
    for url, data in posts:
        response = client.post(url, data=data)
        assert response.status_code == 302 and "/inloggen" in response.headers["Location"]
    for role in ("jury", "member", "delegate"):
        auth.login(people[role])
        for url, data in posts:
            assert client.post(url, data=data).status_code == 403, (role, url)
        auth.logout()
    assert state(app, site) == before


def test_unknown_or_huge_cluster_ids_are_404(client, organiser, site):
    for cid in ("999999", str(HUGE), str(2**63), "0"):
        assert client.post(f"/beheer/clusters/{cid}/naam",
                           data={f"c{cid}-label": "Andere naam"}).status_code == 404
        assert client.post(f"/beheer/clusters/{cid}/bevestigen").status_code == 404
        assert client.post(f"/beheer/clusters/{cid}/samenvoegen").status_code == 404
        assert client.get(f"/vraagstukken/{cid}").status_code == 404


def test_corrections_after_the_clustering_phase_are_refused(app, client, organiser, site):
    client.post(review_url(site) + "/alles-bevestigen")

    def close():
        rnd = db.session.get(Round, site.round_id)
        rounds.close_phase(rnd, Phase.CLUSTERING,
                           actor=accounts.find_user_by_email("org@example.org"), now=T)
        db.session.commit()

    in_app(app, close)
    cid, bot, pid = cluster_of(app, site, "pas1"), cluster_of(app, site, "bot"), site.ids["pas2"]
    before = state(app, site)
    for url, data in [
        (f"/beheer/clusters/{cid}/naam", {f"c{cid}-label": "Andere naam"}),
        (f"/beheer/clusters/{cid}/bevestigen", {"confirmed": "0"}),
        (f"/beheer/clusters/{cid}/samenvoegen", {f"m{cid}-target_id": str(bot)}),
        (f"/beheer/voorstellen/{pid}/cluster", {f"p{pid}-target_id": str(bot)}),
        (f"/beheer/voorstellen/{pid}/apart", {}),
        (review_url(site) + "/alles-bevestigen", {}),
        (review_url(site) + "/uitvoeren", {}),
    ]:
        response = client.post(url, data=data)
        assert response.status_code in (302, 409), (url, response.status_code)
        assert state(app, site) == before, url
    assert jobs_count(app) == 0


def test_a_form_left_open_on_a_replaced_cluster_does_nothing(app, client, organiser, site):
    """A re-run replaces the clusters; a form still showing an old one must not act on a new
    cluster that happens to get the same id."""
    old = cluster_of(app, site, "lamp1")

    def rerun():
        clustering.run_clustering(db.session.get(Round, site.round_id), replace_manual=True,
                                  threshold=None, now=T)
        db.session.commit()

    in_app(app, rerun)
    before = state(app, site)
    assert old not in before
    response = client.post(f"/beheer/clusters/{old}/naam", data={f"c{old}-label": "Oud"})
    assert response.status_code == 404
    assert client.post(f"/beheer/clusters/{old}/bevestigen").status_code == 404
    assert state(app, site) == before


# --- the public "vraagstukken" -----------------------------------------------------------------


def test_public_list_shows_only_confirmed_clusters(app, client, organiser, auth, site):
    cid = cluster_of(app, site, "pas1")
    client.post(f"/beheer/clusters/{cid}/naam", data={f"c{cid}-label": "Paspoort digitaal"})
    lamps = cluster_of(app, site, "lamp1")
    client.post(f"/beheer/clusters/{lamps}/naam", data={f"c{lamps}-label": "Slimme verlichting"})
    auth.logout()
    url = f"/rondes/{site.slug}/vraagstukken"
    response = client.get(url)
    assert response.status_code == 200
    assert "Paspoort digitaal" not in response.text

    auth.login("org@example.org")
    client.post(f"/beheer/clusters/{cid}/bevestigen", data={"confirmed": "1"})
    auth.logout()
    response = client.get(url)
    assert response.status_code == 200
    assert "Paspoort digitaal" in response.text
    assert "Slimme verlichting" not in response.text
    assert f"/vraagstukken/{cid}" in response.text
    assert f"/vraagstukken/{lamps}" not in response.text


def test_public_list_of_unknown_or_draft_rounds_is_404(app, client, people, site):
    assert client.get("/rondes/bestaat-niet/vraagstukken").status_code == 404

    def draft_round():
        actor = accounts.find_user_by_email(people["organiser"])
        rnd = rounds.create_round(actor, rounds.RoundData(title="Nog geheim", theme="Thema"),
                                  rounds.default_schedule(NOW), now=NOW)
        db.session.commit()
        return rnd.slug

    slug = in_app(app, draft_round)
    assert client.get(f"/rondes/{slug}/vraagstukken").status_code == 404


def test_an_unconfirmed_vraagstuk_is_404_for_the_public(app, client, auth, people, site):
    cid = cluster_of(app, site, "pas1")
    assert client.get(f"/vraagstukken/{cid}").status_code == 404
    for role in ("member", "jury", "delegate"):
        auth.login(people[role])
        assert client.get(f"/vraagstukken/{cid}").status_code == 404
        auth.logout()
    auth.login(people["organiser"])
    assert client.get(f"/vraagstukken/{cid}").status_code == 200  # the organiser's preview


def test_a_confirmed_vraagstuk_shows_its_proposals_and_municipalities(app, client, auth, people,
                                                                      site):
    cid = cluster_of(app, site, "pas1")
    auth.login(people["organiser"])
    client.post(f"/beheer/clusters/{cid}/bevestigen", data={"confirmed": "1"})
    auth.logout()
    response = client.get(f"/vraagstukken/{cid}")
    assert response.status_code == 200
    html = response.text
    for key in ("pas1", "pas2"):
        assert f"/voorstellen/{site.ids[key]}" in html
    assert f"/voorstellen/{site.ids['lamp1']}" not in html
    titles = {key: title for key, _, title, _, _ in PROPOSALS}
    assert titles["pas1"] in html and titles["pas2"] in html
    # Utrecht (province Utrecht) and Amsterdam (Noord-Holland) took part; Groningen did not.
    assert "Amsterdam" in html and "Noord-Holland" in html and "Utrecht" in html
    assert "Groningen" not in html

    def involved():
        cluster = db.session.get(Cluster, cid)
        return [(m.name, m.province, n) for m, n in clustering.municipalities_involved(cluster)]

    assert in_app(app, involved) == [("Amsterdam", "Noord-Holland", 1),
                                     ("Utrecht", "Utrecht", 1)]


# --- the command line --------------------------------------------------------------------------


def write_jsonl(tmp_path, lines, name="in.jsonl", encoding="utf-8") -> str:
    path = tmp_path / name
    path.write_bytes("".join(line + "\n" for line in lines).encode(encoding)
                     if isinstance(lines, list) else lines)
    return str(path)


CLI_ITEMS = [
    {"id": 7, "title": "Paspoort online aanvragen", "body": "Paspoort aanvragen via de website."},
    {"id": "b-2", "title": "Slimme lantaarnpalen", "body": "Lantaarnpalen dimmen met sensoren."},
    {"id": 3, "title": "Online aanvraag paspoort", "body": "Digitaal een paspoort aanvragen."},
    {"id": "x", "title": "Lantaarnpalen met sensoren", "body": "Dimmen van de lantaarnpalen.",
     "domain": "openbare-ruimte"},
    {"id": 11, "title": "Chatbot", "body": "Een chatbot voor vragen van inwoners."},
]


def test_cluster_file_round_trip(runner, tmp_path):
    path = write_jsonl(tmp_path, [json.dumps(item) for item in CLI_ITEMS])
    result = runner.invoke(args=["competition", "cluster-file", path])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["id"] for row in rows] == [item["id"] for item in CLI_ITEMS]  # same order/types
    assert all(isinstance(row["cluster"], int) and row["cluster"] >= 1 for row in rows)
    by_id = {row["id"]: row["cluster"] for row in rows}
    assert by_id[7] == by_id[3]  # the passport proposals go together

    result = runner.invoke(args=["competition", "cluster-file", path, "--threshold", "0.9"])
    assert result.exit_code == 0
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == \
        [item["id"] for item in CLI_ITEMS]


def test_cluster_file_accepts_a_bom_and_blank_lines(runner, tmp_path):
    text = "\ufeff" + json.dumps(CLI_ITEMS[0]) + "\n\n" + json.dumps(CLI_ITEMS[1]) + "\n"
    path = write_jsonl(tmp_path, text.encode("utf-8"))
    result = runner.invoke(args=["competition", "cluster-file", path])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [7, "b-2"]


def test_cluster_file_of_an_empty_file_prints_nothing(runner, tmp_path):
    result = runner.invoke(args=["competition", "cluster-file", write_jsonl(tmp_path, [])])
    assert result.exit_code == 0 and result.stdout == ""


@pytest.mark.parametrize("bad_line", [
    "{not json",
    "[1, 2]",
    json.dumps({"title": "Zonder id", "body": "x"}),
    json.dumps({"id": "", "title": "Lege id", "body": "x"}),
    json.dumps({"id": True, "title": "Bool id", "body": "x"}),
    json.dumps({"id": 9, "body": "Geen titel"}),
    json.dumps({"id": 9, "title": "Geen body"}),
    json.dumps({"id": 9, "title": 5, "body": "x"}),
    json.dumps({"id": 9, "title": "x", "body": "x", "domain": 3}),
    json.dumps({"id": 7, "title": "Dubbel", "body": "x"}),
])
def test_cluster_file_malformed_input_is_a_clean_error(runner, tmp_path, bad_line):
    path = write_jsonl(tmp_path, [json.dumps(CLI_ITEMS[0]), bad_line, json.dumps(CLI_ITEMS[1])])
    result = runner.invoke(args=["competition", "cluster-file", path])
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit)
    assert "line 2" in result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""  # nothing half written


def test_cluster_file_refuses_text_that_is_not_utf8(runner, tmp_path):
    raw = (json.dumps(CLI_ITEMS[0]) + "\n").encode() + b'{"id": 2, "title": "caf\xe9", ' \
        b'"body": "x"}\n'
    result = runner.invoke(args=["competition", "cluster-file", write_jsonl(tmp_path, raw)])
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit)
    assert "line 2" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("args", [
    ["--threshold", "0"], ["--threshold", "1.5"], ["--threshold", "nan"],
    ["--threshold", "abc"]])
def test_cluster_file_refuses_a_bad_threshold(runner, tmp_path, args):
    path = write_jsonl(tmp_path, [json.dumps(item) for item in CLI_ITEMS])
    result = runner.invoke(args=["competition", "cluster-file", path, *args])
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def test_cluster_file_of_a_missing_file(runner, tmp_path):
    result = runner.invoke(args=["competition", "cluster-file", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_cluster_command(app, runner, fresh, monkeypatch):
    monkeypatch.undo()  # the real engine
    result = runner.invoke(args=["competition", "cluster", fresh.slug])
    assert result.exit_code == 0, result.output
    placed = in_app(app, lambda: sorted(db.session.scalars(select(ClusterMember.proposal_id))))
    assert placed == sorted(fresh.ids[k] for k in SUBMITTED)
    # Again with a threshold: nothing was touched by hand, so everything is re-suggested.
    result = runner.invoke(args=["competition", "cluster", fresh.slug, "--threshold", "0.5"])
    assert result.exit_code == 0, result.output
    assert in_app(app, lambda: sorted(db.session.scalars(
        select(ClusterMember.proposal_id)))) == placed


@pytest.mark.parametrize("args", [
    ["bestaat-niet"], ["{slug}", "--threshold", "5"], ["{slug}", "--threshold", "nan"],
    ["{slug}", "--threshold", "abc"]])
def test_cluster_command_refuses_bad_input_cleanly(app, runner, fresh, args):
    result = runner.invoke(args=["competition", "cluster",
                                 *[a.format(slug=fresh.slug) for a in args]])
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert in_app(app, lambda: db.session.scalar(select(func.count(Cluster.id)))) == 0


def test_cluster_command_outside_the_clustering_phase(app, runner, people):
    def submission_round():
        from tests.proposal_helpers import make_world

        world = make_world(people)
        world.propose()
        db.session.commit()
        return world.round.slug

    slug = in_app(app, submission_round)
    result = runner.invoke(args=["competition", "cluster", slug])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
