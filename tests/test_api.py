"""The read-only JSON API under /api/v1: shapes (validated against the OpenAPI document),
pagination, filters, JSON errors with reasons, and that nothing private leaks: drafts,
e-mail addresses, juror names of an anonymous jury, ballots before the close, municipalities
on anonymous ballots.

Two worlds, each built once per session and copied into every test's database (building the
demo takes seconds): the demo round in its final vote ("voting"), and the same round after the
vote has closed, with anonymous ballots and some adoption recorded ("decided"). Both also hold
the demo's draft round and draft proposals. `tests/test_api_fuzz.py` and `tests/test_feeds.py`
use the same worlds.
"""

import re
import shutil
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy import MetaData, create_engine, make_url, select, text

from competition import create_app, demo
from competition.api.openapi import document
from competition.demo_final import finish_final_vote
from competition.extensions import db
from competition.models import (
    AdoptionStatus,
    Cluster,
    FinalBallot,
    JuryMember,
    Phase,
    Proposal,
    ProposalStatus,
    Round,
    Standard,
    User,
)
from competition.services import accounts, adoption, proposals, rounds, voting
from tests.conftest import BASE_CONFIG, IS_POSTGRES, NOW, _empty_postgres

ORGANISER = "organisator@demo.example"
DRAFT_ROUND = "sociaal-domein-2028"


# --- the worlds --------------------------------------------------------------------------------


class Snapshot:
    """A database state to copy into a test's (not yet opened) database. SQLite: a file.
    PostgreSQL: every table's rows."""

    def __init__(self, url: str, folder: Path, name: str) -> None:
        self.rows = None
        self.path = None
        if IS_POSTGRES:
            engine = create_engine(url)
            metadata = MetaData()
            with engine.connect() as conn:
                metadata.reflect(conn)
                self.rows = [(table, [dict(row._mapping) for row in conn.execute(table.select())])
                             for table in metadata.sorted_tables
                             if table.name != "alembic_version"]
            engine.dispose()
        else:
            self.path = folder / f"{name}.sqlite3"
            shutil.copyfile(make_url(url).database, self.path)

    def restore(self, app) -> None:
        target = app.config["SQLALCHEMY_DATABASE_URI"]
        if not IS_POSTGRES:
            shutil.copyfile(self.path, make_url(target).database)
            return
        engine = create_engine(target)
        with engine.begin() as conn:
            names = ", ".join(table.name for table, _rows in self.rows)
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
            for table, rows in self.rows:
                if rows:
                    conn.execute(table.insert(), rows)
                if rows and "id" in table.c:
                    # Table names come from our own schema (reflection), not from input.
                    conn.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608
                        f"(SELECT max(id) FROM {table.name}))"))
        engine.dispose()


class Worlds:
    """The "voting" and "decided" snapshots and the clock each stands at."""

    voting: Snapshot
    decided: Snapshot
    voting_now = NOW
    decided_now = None


_worlds: dict[str, Worlds] = {}


def _work_app(url: str, folder: Path):
    return create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": url,
                       "UPLOAD_FOLDER": str(folder / "uploads"),
                       "MAIL_FOLDER": str(folder / "mail")})


def open_data_worlds(database_template: str, tmp_path_factory) -> Worlds:
    """Build both worlds once per test process (shared by the API, fuzz and feed tests)."""
    if database_template in _worlds:
        return _worlds[database_template]
    folder = tmp_path_factory.mktemp("open-data-worlds")
    if IS_POSTGRES:
        _empty_postgres(database_template)
        url = database_template
    else:
        work = folder / "work.sqlite3"
        shutil.copyfile(database_template, work)
        url = f"sqlite:///{work}"
    worlds = Worlds()

    app = _work_app(url, folder)
    with app.app_context():
        demo.seed(Phase.FINAL_VOTE, now=NOW)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    worlds.voting = Snapshot(url, folder, "voting")

    app = _work_app(url, folder)
    with app.app_context():
        rnd = db.session.scalar(select(Round).where(Round.title == demo.ROUND_TITLE))
        # The round's rules, as the organiser would have set them while it was a draft.
        rnd.are_ballots_anonymous = True
        rnd.estimated_cost = 40_000
        organiser = accounts.find_user_by_email(ORGANISER)
        end = rnd.window(Phase.FINAL_VOTE).ends_at
        finish_final_vote(rnd, organiser, end)
        rounds.close_phase(rnd, Phase.FINAL_VOTE, actor=None, now=end)
        decided_now = end + timedelta(hours=1)
        standard = db.session.scalars(select(Standard).order_by(Standard.id)).first()
        today = decided_now.date()
        for short, status, extra in (
            ("utrecht", AdoptionStatus.ADOPTED, {"adopted_on": today}),
            ("zwolle", AdoptionStatus.ADOPTED, {"adopted_on": today}),
            ("amsterdam", AdoptionStatus.INTENDS, {"planned_on": date(2027, 9, 1)}),
            ("groningen", AdoptionStatus.DECLINED,
             {"reason": "Wij gebruiken al een eigen oplossing die goed werkt."}),
        ):
            member = accounts.find_user_by_email(f"medewerker@{short}.example")
            adoption.record(member, standard, status, now=decided_now, **extra)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    worlds.decided = Snapshot(url, folder, "decided")
    worlds.decided_now = decided_now
    _worlds[database_template] = worlds
    return worlds


@pytest.fixture(scope="session")
def worlds(database_template, tmp_path_factory) -> Worlds:
    return open_data_worlds(database_template, tmp_path_factory)


@pytest.fixture
def decided(app, worlds):
    """The app on the decided world (the final vote closed and counted)."""
    worlds.decided.restore(app)
    app.config["FROZEN_NOW"] = worlds.decided_now
    return app


@pytest.fixture
def running(app, worlds):
    """The app on the voting world (the final vote running)."""
    worlds.voting.restore(app)
    app.config["FROZEN_NOW"] = worlds.voting_now
    return app


# --- checking answers against the document -----------------------------------------------------

_registry = Registry().with_resource(
    "urn:open-competitie-api",
    Resource.from_contents(document(), default_specification=DRAFT202012))


def conforms(data, schema: str) -> None:
    """Assert that `data` matches the named schema of the OpenAPI document."""
    validator = Draft202012Validator(
        {"$ref": f"urn:open-competitie-api#/components/schemas/{schema}"},
        registry=_registry, format_checker=FormatChecker())
    errors = [f"{e.json_path}: {e.message[:300]}" for e in validator.iter_errors(data)]
    assert not errors, "\n".join(errors[:10])


def get(client, url: str, schema: str | None = None, status: int = 200):
    response = client.get(url)
    assert response.status_code == status, (url, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/json"
    if schema is not None:
        conforms(response.get_json(), schema)
    return response.get_json()


def error_of(client, url: str, status: int) -> str:
    """The reason of a JSON error answer (checked against the Error schema)."""
    data = get(client, url, "Error", status)
    assert data["error"]["status"] == status
    assert data["error"]["reason"].strip()
    return data["error"]["reason"]


def main_round(app) -> Round:
    """The demo's main round (call inside an app context)."""
    return db.session.scalar(select(Round).where(Round.title == demo.ROUND_TITLE))


# --- the document ------------------------------------------------------------------------------


def test_openapi_document_is_valid_and_served(client):
    validate_spec(document())
    served = get(client, "/api/v1/openapi.json")
    assert served == document()
    assert served["openapi"].startswith("3.1")


def _documented_path(rule: str) -> str:
    """A Flask rule under /api/v1 as an OpenAPI path: <int:cluster_id> → {cluster_id}."""
    path = rule.removeprefix("/api/v1")
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", path) or "/"


def test_every_api_route_is_documented_and_every_documented_path_exists(app):
    doc = document()
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            methods = {m.lower() for m in rule.methods} - {"head", "options"}
            routes.setdefault(_documented_path(rule.rule), set()).update(methods)
    documented = {path: set(item) for path, item in doc["paths"].items()}
    assert routes == documented
    for path, item in doc["paths"].items():
        for op in item.values():
            names = {p.get("name") or p["$ref"].rsplit("/", 1)[1] for p in op["parameters"]}
            assert set(re.findall(r"{(\w+)}", path)) <= names, path
            assert {"200", "400", "429", "500"} <= set(op["responses"]), path


def test_index_links_to_the_collections(client):
    data = get(client, "/api/v1/", "Index")
    assert data["openapi"].endswith("/api/v1/openapi.json")


# --- rounds and clusters -----------------------------------------------------------------------


def test_rounds_list_only_public_rounds_with_phases(decided, client):
    data = get(client, "/api/v1/rounds", "RoundPage")
    slugs = [r["slug"] for r in data["items"]]
    assert DRAFT_ROUND not in slugs and len(slugs) == data["total"] == 1
    assert data["items"][0]["phase"] == "decided"
    assert get(client, "/api/v1/rounds?phase=decided", "RoundPage")["total"] == 1
    assert get(client, "/api/v1/rounds?phase=submission", "RoundPage")["items"] == []
    assert "phase" in error_of(client, "/api/v1/rounds?phase=draft", 400)

    detail = get(client, f"/api/v1/rounds/{slugs[0]}", "RoundDetail")
    phases = {p["phase"]: p for p in detail["phases"]}
    assert list(phases) == [p.value for p in Phase]
    assert phases["final_vote"]["entered_at"] and phases["final_vote"]["left_at"]
    assert phases["decided"]["is_current"] and phases["decided"]["left_at"] is None
    assert phases["submission"]["starts_at"] == phases["draft"]["ends_at"]
    assert detail["is_final_vote_closed"] and detail["rules"]["are_ballots_anonymous"]
    assert detail["published_proposals"] > 0
    error_of(client, f"/api/v1/rounds/{DRAFT_ROUND}", 404)
    error_of(client, "/api/v1/rounds/bestaat-niet", 404)


def test_clusters_are_the_confirmed_ones(decided, client):
    with decided.app_context():
        rnd = main_round(decided)
        hidden = db.session.scalars(select(Cluster).where(Cluster.round_id == rnd.id)
                                    .order_by(Cluster.id)).first()
        hidden.is_confirmed = False
        db.session.commit()
        hidden_id, slug = hidden.id, rnd.slug
        confirmed = db.session.scalar(select(db.func.count(Cluster.id)).where(
            Cluster.round_id == rnd.id, Cluster.is_confirmed.is_(True)))
    data = get(client, f"/api/v1/rounds/{slug}/clusters?per_page=100", "ClusterPage")
    ids = [c["id"] for c in data["items"]]
    assert hidden_id not in ids and len(ids) == data["total"] == confirmed
    labels = [c["label"] for c in data["items"]]
    assert labels == sorted(labels)
    cluster = get(client, f"/api/v1/clusters/{ids[0]}", "ClusterDetail")
    assert cluster["proposal_count"] == len(cluster["proposals"]) > 0
    error_of(client, f"/api/v1/clusters/{hidden_id}", 404)
    error_of(client, f"/api/v1/clusters/{hidden_id}/result", 404)
    error_of(client, f"/api/v1/rounds/{DRAFT_ROUND}/clusters", 404)


# --- proposals ---------------------------------------------------------------------------------


def test_proposals_are_paginated_in_a_stable_order(decided, client):
    everything = get(client, "/api/v1/proposals?per_page=100", "ProposalPage")
    with decided.app_context():
        published = db.session.scalar(select(db.func.count(Proposal.id)).where(
            Proposal.status != ProposalStatus.DRAFT.value))
    assert everything["total"] == published == len(everything["items"])
    assert everything["pages"] == 1 and everything["links"] == {"next": None, "prev": None}

    seen, url, pages = [], "/api/v1/proposals?per_page=7", 0
    while url:
        page = get(client, url, "ProposalPage")
        assert page["per_page"] == 7 and page["total"] == published
        seen += [p["id"] for p in page["items"]]
        pages += 1
        url = page["links"]["next"]
        if url:
            assert parse_qs(urlsplit(url).query)["page"] == [str(page["page"] + 1)]
    assert pages == -(-published // 7)
    assert seen == [p["id"] for p in everything["items"]]
    second = get(client, "/api/v1/proposals?per_page=7&page=2")
    assert parse_qs(urlsplit(second["links"]["prev"]).query)["page"] == ["1"]
    beyond = get(client, "/api/v1/proposals?per_page=7&page=999", "ProposalPage")
    assert beyond["items"] == [] and beyond["links"]["next"] is None


def test_proposal_filters(decided, client):
    with decided.app_context():
        rnd = main_round(decided)
        withdrawn = db.session.scalars(select(Proposal.id).where(
            Proposal.status == ProposalStatus.WITHDRAWN.value)).all()
        sample = db.session.scalars(select(Proposal).where(
            Proposal.status == ProposalStatus.SUBMITTED.value, Proposal.domain_id.is_not(None))
            .order_by(Proposal.id)).first()
        domain, code = sample.domain.slug, sample.municipality.code
        in_domain = set(db.session.scalars(select(Proposal.id).where(
            Proposal.domain_id == sample.domain_id,
            Proposal.status != ProposalStatus.DRAFT.value)))
        paspoort = [p.id for p in db.session.scalars(proposals.search_query(
            rnd, proposals.ProposalFilters(q="paspoort")))]
        involving = {p.id for p in db.session.scalars(proposals.search_query(
            rnd, proposals.ProposalFilters(municipality_code=code)))}
        cluster = db.session.scalars(select(Cluster).where(Cluster.round_id == rnd.id)
                                     .order_by(Cluster.id)).first()
        members = {m.proposal_id for m in cluster.members}
        slug = rnd.slug

    def ids(query: str) -> list[int]:
        data = get(client, f"/api/v1/proposals?per_page=100&{query}", "ProposalPage")
        return [p["id"] for p in data["items"]]

    assert len(ids(f"round={slug}")) == len(ids(""))
    assert ids("status=withdrawn") == withdrawn
    assert set(ids(f"domain={domain}")) == in_domain
    assert set(ids(f"municipality={code}")) == involving
    assert set(ids(f"municipality={code.lower()}")) == involving
    assert ids("q=paspoort") == paspoort and paspoort
    assert ids(f"round={slug}&q=paspoort") == paspoort
    assert set(ids(f"cluster={cluster.id}")) == members
    titles = [p["title"].lower() for p in get(
        client, "/api/v1/proposals?per_page=100&sort=title")["items"]]
    assert titles == sorted(titles)
    item = get(client, f"/api/v1/proposals?cluster={cluster.id}&per_page=1")["items"][0]
    assert item["cluster"] == cluster.id


@pytest.mark.parametrize(("query", "mentions"), [
    ("page=abc", "page"),
    ("page=0", "page"),
    ("page=-1", "page"),
    ("per_page=101", "per_page"),
    ("per_page=0", "per_page"),
    ("per_page=1.5", "per_page"),
    ("page=1&page=2", "page"),
    ("status=draft", "status"),
    ("sort=random", "sort"),
    ("province=Atlantis", "province"),
    ("domain=bestaat-niet", "bestaat-niet"),
    ("municipality=GM9999", "GM9999"),
    ("round=" + DRAFT_ROUND, DRAFT_ROUND),
    ("round=bestaat-niet", "bestaat-niet"),
    ("cluster=999999", "999999"),
    ("cluster=x", "cluster"),
    ("q=" + "x" * 201, "q"),
    ("muncipality=GM0344", "muncipality"),
    ("lang=xx", "lang"),
])
def test_bad_query_parameters_are_a_400_with_a_reason(decided, client, query, mentions):
    reason = error_of(client, f"/api/v1/proposals?{query}&lang=en", 400)
    assert mentions in reason


def test_a_nul_character_is_a_json_400(client):
    error_of(client, "/api/v1/proposals?q=a%00b", 400)


def test_proposal_detail_and_drafts_never_leak(decided, client):
    with decided.app_context():
        drafts = db.session.scalars(select(Proposal).where(
            Proposal.status == ProposalStatus.DRAFT.value)).all()
        draft_ids = [p.id for p in drafts]
        draft_titles = [p.title for p in drafts]
        shown = db.session.scalars(select(Proposal).where(
            Proposal.status == ProposalStatus.SUBMITTED.value).order_by(Proposal.id)).first()
        shown_id = shown.id
    assert draft_ids, "the demo should hold drafts"
    for pid in draft_ids:
        error_of(client, f"/api/v1/proposals/{pid}", 404)
    listed = get(client, "/api/v1/proposals?per_page=100")
    assert not {p["id"] for p in listed["items"]} & set(draft_ids)
    body = client.get("/api/v1/proposals?per_page=100").get_data(as_text=True)
    assert not any(title in body for title in draft_titles)
    detail = get(client, f"/api/v1/proposals/{shown_id}", "ProposalDetail")
    assert detail["preselection"] is not None and detail["description"]
    assert "contact_email" not in detail and "author" not in detail
    error_of(client, "/api/v1/proposals/999999", 404)
    error_of(client, f"/api/v1/proposals/{2**70}", 404)


def test_no_email_address_or_account_leaks_anywhere(decided, client):
    with decided.app_context():
        emails = set(db.session.scalars(select(User.email)))
        emails |= {e for e in db.session.scalars(select(Proposal.contact_email)) if e}
        rnd = main_round(decided)
        clusters = db.session.scalars(select(Cluster.id).where(Cluster.round_id == rnd.id)).all()
        standards = db.session.scalars(select(Standard.id)).all()
        proposal_ids = db.session.scalars(select(Proposal.id)).all()
        slug = rnd.slug
    urls = ["/api/v1/rounds", f"/api/v1/rounds/{slug}", f"/api/v1/rounds/{slug}/clusters",
            "/api/v1/proposals?per_page=100", "/api/v1/standards?per_page=100",
            "/api/v1/municipalities?per_page=100", "/api/v1/municipalities/GM0344"]
    for cid in clusters:
        urls += [f"/api/v1/clusters/{cid}{part}" for part in
                 ("", "/finalists", "/preselection", "/result", "/ballots")]
    urls += [f"/api/v1/standards/{sid}{part}" for sid in standards for part in ("", "/adoption")]
    urls += [f"/api/v1/proposals/{pid}" for pid in proposal_ids]
    for url in urls:
        response = client.get(url)
        assert response.status_code in (200, 404), url
        body = response.get_data(as_text=True)
        leaked = [e for e in emails if e in body]
        assert not leaked, (url, leaked)
        assert "@" not in body, url


# --- preselection and the final vote -----------------------------------------------------------


def _juror_names(app) -> list[str]:
    return list(db.session.scalars(select(User.name).join(
        JuryMember, JuryMember.user_id == User.id)))


def test_preselection_numbers_jurors_and_names_them_only_when_public(decided, client):
    with decided.app_context():
        rnd = main_round(decided)
        names = _juror_names(decided)
        cluster_id = voting.vote_clusters(rnd)[0].id
    assert names
    url = f"/api/v1/clusters/{cluster_id}/preselection"
    data = get(client, url, "Preselection")
    body = client.get(url).get_data(as_text=True)
    assert not any(name in body for name in names)
    assert {j["number"] for j in data["jurors"]} == set(range(1, len(data["jurors"]) + 1))
    assert all(j["name"] is None for j in data["jurors"])
    assert any(p["scorecards"] for p in data["proposals"])
    finalists = get(client, f"/api/v1/clusters/{cluster_id}/finalists", "Finalists")
    assert finalists["finalists"] and all(f["is_finalist"] for f in finalists["finalists"])
    assert [f["proposal"]["id"] for f in finalists["finalists"]] == [
        p["proposal"]["id"] for p in data["proposals"] if p["is_finalist"]]

    with decided.app_context():
        main_round(decided).are_juror_names_public = True
        db.session.commit()
    public = get(client, url, "Preselection")
    assert {j["name"] for j in public["jurors"]} <= set(names)
    assert all(j["name"] for j in public["jurors"])


def test_preselection_is_a_409_before_it_is_published(running, client):
    with running.app_context():
        rnd = main_round(running)
        cluster_id = db.session.scalars(select(Cluster.id).where(
            Cluster.round_id == rnd.id, Cluster.is_confirmed.is_(True))).first()
        # As if the round were still in its preselection phase.
        rnd.phase = Phase.PRESELECTION.value
        db.session.commit()
    for part in ("/preselection", "/finalists"):
        reason = error_of(client, f"/api/v1/clusters/{cluster_id}{part}?lang=en", 409)
        assert "preselection" in reason


def test_ballots_and_result_are_a_409_before_the_close(running, client):
    with running.app_context():
        rnd = main_round(running)
        cluster_id = voting.vote_clusters(rnd)[0].id
        slug = rnd.slug
        receipts = db.session.scalars(select(FinalBallot.receipt)).all()
    assert receipts, "the demo's vote should have ballots"
    reason = error_of(client, f"/api/v1/clusters/{cluster_id}/ballots?lang=en", 409)
    assert "closed" in reason
    error_of(client, f"/api/v1/clusters/{cluster_id}/result", 409)
    detail = get(client, f"/api/v1/rounds/{slug}", "RoundDetail")
    assert detail["phase"] == "final_vote" and not detail["is_final_vote_closed"]
    # No receipt (nor ranking) is published anywhere before the close.
    for url in ("/api/v1/proposals?per_page=100", f"/api/v1/clusters/{cluster_id}",
                f"/api/v1/clusters/{cluster_id}/preselection"):
        body = client.get(url).get_data(as_text=True)
        assert not any(r in body for r in receipts), url


def test_ballots_after_the_close_are_the_export_and_anonymous_when_the_rules_say(decided,
                                                                                  client):
    with decided.app_context():
        rnd = main_round(decided)
        cluster = voting.vote_clusters(rnd)[0]
        expected = voting.export(cluster)
        cluster_id = cluster.id
    data = get(client, f"/api/v1/clusters/{cluster_id}/ballots", "BallotFile")
    assert data == expected
    assert data["ballots"] and all(b["municipality"] is None for b in data["ballots"])
    codes = {code for code, _short in demo.DEMO_MUNICIPALITIES}
    body = client.get(f"/api/v1/clusters/{cluster_id}/ballots").get_data(as_text=True)
    assert not any(code in body for code in codes)

    with decided.app_context():
        main_round(decided).are_ballots_anonymous = False
        db.session.commit()
    open_ballots = get(client, f"/api/v1/clusters/{cluster_id}/ballots", "BallotFile")
    assert {b["municipality"] for b in open_ballots["ballots"]} <= codes
    assert all(b["municipality"] for b in open_ballots["ballots"])


def test_final_result_names_winners_and_standards(decided, client):
    with decided.app_context():
        rnd = main_round(decided)
        cluster = voting.vote_clusters(rnd)[0]
        result = voting.vote_result(cluster)
        winners = list(result.winner_ids)
        std_ids = [s.id for s in db.session.scalars(
            select(Standard).where(Standard.cluster_id == cluster.id))]
        cluster_id = cluster.id
    data = get(client, f"/api/v1/clusters/{cluster_id}/result", "FinalResult")
    assert [w["id"] for w in data["winners"]] == winners
    assert [s["id"] for s in data["standards"]] == std_ids
    assert data["count"]["ranking"][: len(winners)] == [str(w) for w in winners]
    assert re.fullmatch(r"[0-9a-f]{64}", data["audit_head"])


# --- standards, adoption, municipalities -------------------------------------------------------


def test_standards_and_adoption(decided, client):
    listed = get(client, "/api/v1/standards?per_page=100", "StandardPage")
    with decided.app_context():
        standard = db.session.scalars(select(Standard).order_by(Standard.id)).first()
        count = db.session.scalar(select(db.func.count(Standard.id)))
        standard_id, slug = standard.id, main_round(decided).slug
    assert listed["total"] == count > 0
    assert get(client, f"/api/v1/standards?round={slug}")["total"] == count
    error_of(client, f"/api/v1/standards?round={DRAFT_ROUND}", 400)
    detail = get(client, f"/api/v1/standards/{standard_id}", "StandardDetail")
    assert detail["round"] == slug
    data = get(client, f"/api/v1/standards/{standard_id}/adoption", "Adoption")
    assert data["counts"]["adopted"] == data["adopted"] == 2
    assert data["counts"]["intends"] == 1 and data["counts"]["declined"] == 1
    assert sum(data["counts"].values()) == data["municipalities"]
    assert data["share"] == pytest.approx(2 / data["municipalities"])
    assert 0 < data["population_share"] < 1
    assert data["estimated_saving"] == 40_000  # (2 adopters − 1) × the round's estimate
    by_code = {s["municipality"]["code"]: s for s in data["statuses"]}
    assert by_code["GM0344"]["status"] == "adopted" and by_code["GM0344"]["adopted_on"]
    assert by_code["GM0363"]["planned_on"] == "2027-09-01"
    assert by_code["GM0014"]["reason"]
    assert data["progress"][-1]["adopted"] == 2
    utrecht = get(client, "/api/v1/municipalities/gm0344", "MunicipalityDetail")
    assert {a["standard"]["id"]: a["status"] for a in utrecht["adoption"]}[standard_id] == \
        "adopted"
    error_of(client, "/api/v1/standards/999999", 404)
    error_of(client, "/api/v1/standards/999999/adoption", 404)


def test_municipalities(decided, client):
    data = get(client, "/api/v1/municipalities?per_page=100", "MunicipalityPage")
    assert data["total"] > 300 and len(data["items"]) == 100
    names = [m["name"] for m in data["items"]]
    assert names == sorted(names)
    utrecht = get(client, "/api/v1/municipalities?province=Utrecht&per_page=100")
    assert utrecht["items"] and {m["province"] for m in utrecht["items"]} == {"Utrecht"}
    assert get(client, "/api/v1/municipalities?active=false")["total"] == 0
    assert "province" in error_of(client, "/api/v1/municipalities?province=X&lang=en", 400)
    assert "active" in error_of(client, "/api/v1/municipalities?active=yes&lang=en", 400)
    error_of(client, "/api/v1/municipalities/GM9999", 404)
    domains = get(client, "/api/v1/domains", "DomainList")
    assert domains["items"] and all(d["slug"] for d in domains["items"])


# --- errors ------------------------------------------------------------------------------------


def test_unknown_urls_and_other_methods_are_json_errors(client):
    error_of(client, "/api/v1/bestaat-niet", 404)
    error_of(client, "/api/v1/clusters/abc", 404)
    for method in ("post", "put", "delete", "patch"):
        response = getattr(client, method)("/api/v1/rounds")
        assert response.status_code == 405 and response.mimetype == "application/json"
        conforms(response.get_json(), "Error")
        assert response.get_json()["error"]["status"] == 405
        assert "GET" in response.headers["Allow"]


def test_reasons_follow_the_language(client):
    english = error_of(client, "/api/v1/rounds/bestaat-niet?lang=en", 404)
    assert english == "No such round."


def test_html_errors_stay_html(client):
    response = client.get("/bestaat-niet")
    assert response.status_code == 404 and response.mimetype == "text/html"


def test_too_many_requests_is_a_json_429(app, client):
    app.config["API_RATE_LIMIT"] = "2 per minute"
    for _ in range(2):
        assert client.get("/api/v1/domains").status_code == 200
    reason = error_of(client, "/api/v1/domains", 429)
    assert reason
    assert client.get("/").status_code == 200  # the pages have no such limit


def test_a_server_error_is_a_json_500(app, client, monkeypatch):
    from competition.services import opendata

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(opendata, "rounds_query", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    reason = error_of(client, "/api/v1/rounds", 500)
    assert "boom" not in reason
