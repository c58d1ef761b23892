"""Atom feeds: new proposals (every round and per round), phase changes and results.

Each feed is parsed and checked for what RFC 4287 requires (ids, titles, updated, links, an
author), for its entries, and for what must stay out of it: drafts, draft rounds, who closed
a phase and why. The worlds are those of tests/test_api.py.
"""

from datetime import datetime
from urllib.parse import urlsplit

import pytest
from lxml import etree
from sqlalchemy import select

from competition import demo
from competition.extensions import db
from competition.models import AuditEvent, Proposal, ProposalStatus, Round, Standard
from competition.services import voting
from tests.test_api import DRAFT_ROUND, open_data_worlds

NS = {"a": "http://www.w3.org/2005/Atom"}


@pytest.fixture
def decided(app, database_template, tmp_path_factory):
    worlds = open_data_worlds(database_template, tmp_path_factory)
    worlds.decided.restore(app)
    app.config["FROZEN_NOW"] = worlds.decided_now
    return app


@pytest.fixture
def running(app, database_template, tmp_path_factory):
    worlds = open_data_worlds(database_template, tmp_path_factory)
    worlds.voting.restore(app)
    app.config["FROZEN_NOW"] = worlds.voting_now
    return app


def _time(element) -> datetime:
    return datetime.fromisoformat(element.findtext("a:updated", namespaces=NS))


def _is_iri(value: str) -> bool:
    parts = urlsplit(value)
    return bool(parts.scheme and parts.netloc)


def feed(client, url: str):
    """The parsed feed, checked for what every Atom feed needs; returns (feed, entries)."""
    response = client.get(url)
    assert response.status_code == 200, url
    assert response.mimetype == "application/atom+xml"
    assert response.mimetype_params.get("charset", "").lower() == "utf-8"
    root = etree.fromstring(response.data)
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    assert _is_iri(root.findtext("a:id", namespaces=NS))
    assert root.findtext("a:title", namespaces=NS).strip()
    _time(root)
    assert root.find("a:author/a:name", namespaces=NS) is not None
    self_links = root.findall("a:link[@rel='self']", namespaces=NS)
    assert len(self_links) == 1 and self_links[0].get("href").endswith(url)
    assert self_links[0].get("type") == "application/atom+xml"
    entries = root.findall("a:entry", namespaces=NS)
    ids = [e.findtext("a:id", namespaces=NS) for e in entries]
    assert len(ids) == len(set(ids)), "entry ids must be unique"
    for entry in entries:
        assert _is_iri(entry.findtext("a:id", namespaces=NS))
        assert entry.findtext("a:title", namespaces=NS).strip()
        _time(entry)
        link = entry.find("a:link", namespaces=NS)
        assert link is not None and _is_iri(link.get("href"))
        assert link.get("rel", "alternate") == "alternate"
        assert entry.findtext("a:summary", namespaces=NS) is not None
    if entries:
        assert _time(root) == max(_time(e) for e in entries)
    return root, entries


def titles(entries) -> list[str]:
    return [e.findtext("a:title", namespaces=NS) for e in entries]


def test_new_proposals_feed_lists_published_proposals_newest_first(decided, client):
    with decided.app_context():
        published = db.session.scalars(select(Proposal).where(
            Proposal.status != ProposalStatus.DRAFT.value)
            .order_by(Proposal.submitted_at.desc(), Proposal.id.desc())).all()
        expected = [p.title for p in published]
        drafts = db.session.scalars(select(Proposal.title).where(
            Proposal.status == ProposalStatus.DRAFT.value)).all()
        slug = db.session.scalar(select(Round.slug).where(Round.title == demo.ROUND_TITLE))
    _root, entries = feed(client, "/feeds/voorstellen.atom")
    assert titles(entries) == expected[:50]
    assert drafts and not set(drafts) & set(titles(entries))
    first = entries[0]
    assert "/voorstellen/" in first.find("a:link", namespaces=NS).get("href")
    assert first.find("a:author/a:name", namespaces=NS).text
    assert first.findtext("a:published", namespaces=NS)

    _root, per_round = feed(client, f"/rondes/{slug}/voorstellen.atom")
    assert titles(per_round) == titles(entries)
    assert client.get(f"/rondes/{DRAFT_ROUND}/voorstellen.atom").status_code == 404
    assert client.get("/rondes/bestaat-niet/voorstellen.atom").status_code == 404


def test_phase_feed_shows_phase_changes_but_not_who_or_why(decided, client):
    with decided.app_context():
        events = db.session.scalars(select(AuditEvent).join(
            Round, Round.id == AuditEvent.round_id).where(
            AuditEvent.action == "round.phase_closed", Round.phase != "draft")).all()
        organiser = "Fatima el Amrani"
    _root, entries = feed(client, "/feeds/fasen.atom")
    assert len(entries) == len(events) == 6
    ids = [e.findtext("a:id", namespaces=NS) for e in entries]
    assert ids[0].endswith("#phase-decided") and ids[-1].endswith("#phase-submission")
    times = [_time(e) for e in entries]
    assert times == sorted(times, reverse=True)
    body = client.get("/feeds/fasen.atom").get_data(as_text=True)
    assert organiser not in body and "@" not in body.replace("python-feedgen", "")


def test_results_feed_after_the_preselection_and_after_the_close(running, client):
    _root, entries = feed(client, "/feeds/uitslagen.atom")
    # During the final vote: only the finalists are out.
    assert len(entries) == 1
    assert "/voorselectie" in entries[0].find("a:link", namespaces=NS).get("href")


def test_results_feed_names_the_standards(decided, client):
    with decided.app_context():
        rnd = db.session.scalar(select(Round).where(Round.title == demo.ROUND_TITLE))
        counted = len(voting.round_results(rnd))
        names = db.session.scalars(select(Standard.name)).all()
    _root, entries = feed(client, "/feeds/uitslagen.atom")
    assert len(entries) == counted + 1
    summaries = " ".join(e.findtext("a:summary", namespaces=NS) for e in entries)
    assert names and all(name in summaries for name in names)
    links = [e.find("a:link", namespaces=NS).get("href") for e in entries]
    assert sum("/uitslag" in link for link in links) == counted


def test_text_that_xml_cannot_carry_is_left_out(decided, client):
    with decided.app_context():
        proposal = db.session.scalars(select(Proposal).where(
            Proposal.status == ProposalStatus.SUBMITTED.value)
            .order_by(Proposal.submitted_at.desc())).first()
        proposal.summary = "Bel\x01 ons\x0b gerust \ufffe"
        db.session.commit()
    _root, entries = feed(client, "/feeds/voorstellen.atom")
    assert "Bel ons gerust " in [e.findtext("a:summary", namespaces=NS) for e in entries]


def test_feeds_of_an_empty_platform_are_valid(client):
    for url in ("/feeds/voorstellen.atom", "/feeds/fasen.atom", "/feeds/uitslagen.atom"):
        _root, entries = feed(client, url)
        assert entries == []
