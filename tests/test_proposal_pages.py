"""Proposal pages over HTTP: writing, visibility, editing (conflicts, history), withdrawing,
co-submission and interest, export, the domain list, and malformed input on every form."""

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from competition.extensions import db
from competition.models import (
    AuditEvent,
    CoSubmission,
    Domain,
    Interest,
    Proposal,
    ProposalVersion,
)
from competition.services import proposals
from tests.conftest import NOW
from tests.proposal_helpers import TITLE, make_world

FORM = {
    "title": "Slimme lantaarnpalen in de binnenstad",
    "summary": "Lantaarnpalen die dimmen als er niemand is.",
    "problem": "Hoge energiekosten en lichtvervuiling.",
    "description": "## Plan\n\nSensoren in **200** palen.",
    "domain_id": "6",
    "planned_start": "2027-10-01",
    "estimated_cost": "120000",
    "contact_name": "Piet Licht",
    "contact_email": "piet@utrecht.example",
}


@pytest.fixture
def site(app, people):
    app.config["FROZEN_NOW"] = NOW + timedelta(hours=1)
    with app.app_context():
        world = make_world(people)
        published = world.propose()
        draft = world.propose(submit=False, title="Concept: chatbot voor de gemeente")
        db.session.commit()
        return {"world": world, "slug": world.round.slug, "pid": published.id,
                "draft": draft.id}


def proposal(app, proposal_id) -> Proposal:
    with app.app_context():
        row = db.session.get(Proposal, proposal_id)
        db.session.expunge_all()
        return row


def scalar(app, stmt):
    with app.app_context():
        return db.session.scalar(stmt)


def version_in(page: str) -> str:
    return re.search(r'name="version" type="hidden" value="([^"]*)"', page).group(1)


def refusal(app, site, role, proposal_id) -> str:
    """The reason the service gives, rendered in the default language (as the page does)."""
    with app.test_request_context():
        world = site["world"]
        p = db.session.get(Proposal, proposal_id)
        return proposals.edit_refusal(world.user(role), p, world.round)


# --- writing -----------------------------------------------------------------------------------


def test_new_proposal_as_draft_then_submitted(app, client, auth, people, site):
    url = f"/rondes/{site['slug']}/voorstellen/nieuw"
    auth.login(people["member"])
    assert client.get(url).status_code == 200
    response = client.post(url, data={**FORM, "action": "draft"})
    assert response.status_code == 302
    pid = int(re.search(r"/voorstellen/(\d+)$", response.headers["Location"]).group(1))
    draft = proposal(app, pid)
    assert draft.status == "draft" and draft.title == FORM["title"]
    assert draft.estimated_cost == 120_000 and str(draft.planned_start) == "2027-10-01"
    assert draft.domain_id == 6 and draft.contact_email == "piet@utrecht.example"
    assert client.post(f"/voorstellen/{pid}/indienen").status_code == 302
    assert proposal(app, pid).status == "submitted"
    assert client.post(f"/voorstellen/{pid}/indienen").status_code == 409


def test_new_proposal_submitted_at_once(app, client, auth, people, site):
    auth.login(people["delegate"])
    response = client.post(f"/rondes/{site['slug']}/voorstellen/nieuw",
                           data={**FORM, "action": "submit", "estimated_cost": ""})
    assert response.status_code == 302
    pid = int(response.headers["Location"].rsplit("/", 1)[1])
    p = proposal(app, pid)
    assert p.status == "submitted" and p.estimated_cost is None
    auth.logout()
    page = client.get(f"/voorstellen/{pid}").get_data(as_text=True)
    assert FORM["title"] in page and "<strong>200</strong>" in page


def test_incomplete_submission_is_refused_but_a_draft_is_saved(app, client, auth, people, site):
    auth.login(people["member"])
    url = f"/rondes/{site['slug']}/voorstellen/nieuw"
    before = scalar(app, select(func.count(Proposal.id)))
    response = client.post(url, data={"title": FORM["title"], "action": "submit"})
    assert response.status_code == 200  # the form again, with the reason
    assert scalar(app, select(func.count(Proposal.id))) == before
    assert client.post(url, data={"title": FORM["title"], "action": "draft"}).status_code == 302
    assert scalar(app, select(func.count(Proposal.id))) == before + 1


def test_who_may_write(app, client, auth, people, site):
    url = f"/rondes/{site['slug']}/voorstellen/nieuw"
    assert "/inloggen" in client.get(url).headers["Location"]
    for role in ("jury", "organiser"):
        auth.login(people[role])
        assert client.get(url).status_code == 403
        assert client.post(url, data={**FORM, "action": "submit"}).status_code == 403
        auth.logout()
    with app.app_context():
        site["world"].end_submission()
        db.session.commit()
    auth.login(people["member"])
    assert client.get(url).status_code == 403
    assert client.post(url, data={**FORM, "action": "submit"}).status_code == 403
    assert scalar(app, select(func.count(Proposal.id))) == 2


# --- visibility --------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status"), [
    (None, 404), ("other_member", 404), ("jury", 404), ("member", 200), ("delegate", 200),
    ("organiser", 200),
])
def test_drafts_only_for_team_and_organisers(client, auth, people, site, role, status):
    if role:
        auth.login(people[role])
    draft = site["draft"]
    assert client.get(f"/voorstellen/{draft}").status_code == status
    assert client.get(f"/voorstellen/{draft}/geschiedenis").status_code == status
    assert client.get(f"/voorstellen/{site['pid']}").status_code == 200
    assert client.get(f"/voorstellen/{site['pid']}/geschiedenis").status_code == 200
    listing = client.get(f"/rondes/{site['slug']}/voorstellen").get_data(as_text=True)
    assert f'href="/voorstellen/{draft}"' not in listing.split('role="search"')[1]


def test_unknown_proposal_ids(client, auth, people, site):
    auth.login(people["member"])
    for pid in ("999999", str(10**30), "abc", "-1"):
        for path in ("", "/geschiedenis", "/bewerken", "/intrekken"):
            assert client.get(f"/voorstellen/{pid}{path}").status_code == 404, (pid, path)
        for path in ("/indienen", "/bijlagen", "/meedoen", "/interesse", "/volgen",
                     "/reacties"):
            assert client.post(f"/voorstellen/{pid}{path}").status_code == 404, (pid, path)
    for url in ("/meedoen/99999/accept", f"/meedoen/{10**30}/decline", "/meedoen/1/maybe"):
        assert client.post(url).status_code == 404


# --- editing -----------------------------------------------------------------------------------


def test_edit_and_history(app, client, auth, people, site):
    pid = site["pid"]
    auth.login(people["member"])
    page = client.get(f"/voorstellen/{pid}/bewerken").get_data(as_text=True)
    assert TITLE in page
    form = {**FORM, "version": version_in(page), "action": "save",
            "contact_email": "nieuw-contact@utrecht.example"}
    assert client.post(f"/voorstellen/{pid}/bewerken", data=form).status_code == 302
    p = proposal(app, pid)
    assert p.title == FORM["title"] and p.version == 2
    history = client.get(f"/voorstellen/{pid}/geschiedenis").get_data(as_text=True)
    assert TITLE in history and FORM["title"] in history  # before and after
    assert "nieuw-contact@utrecht.example" in history
    assert "Openbare ruimte" in history  # the domain by name, not its id
    with app.app_context():
        assert db.session.scalar(select(func.count(ProposalVersion.id)).where(
            ProposalVersion.proposal_id == pid)) == 2
        assert db.session.scalar(select(AuditEvent.data).where(
            AuditEvent.action == "proposal.edited"))["fields"]
    # The contact's email address is shown to logged-in users only, in the history too.
    auth.logout()
    history = client.get(f"/voorstellen/{pid}/geschiedenis").get_data(as_text=True)
    assert FORM["title"] in history and "nieuw-contact@utrecht.example" not in history
    assert "sanne@utrecht.example" not in history


def test_draft_submitted_from_the_edit_form(app, client, auth, people, site):
    auth.login(people["delegate"])
    page = client.get(f"/voorstellen/{site['draft']}/bewerken").get_data(as_text=True)
    response = client.post(f"/voorstellen/{site['draft']}/bewerken",
                           data={**FORM, "version": version_in(page), "action": "submit"})
    assert response.status_code == 302
    assert proposal(app, site["draft"]).status == "submitted"


@pytest.mark.parametrize("role", ["other_member", "jury", "organiser"])
def test_edit_refused_with_a_reason(app, client, auth, people, site, role):
    auth.login(people[role])
    pid = site["pid"]
    reason = refusal(app, site, role, pid)
    response = client.get(f"/voorstellen/{pid}/bewerken")
    assert response.status_code == 403
    assert str(reason) in response.get_data(as_text=True)
    response = client.post(f"/voorstellen/{pid}/bewerken",
                           data={**FORM, "version": "1", "action": "save"})
    assert response.status_code == 403
    assert proposal(app, pid).title == TITLE


def test_edit_refused_outside_the_submission_phase(app, client, auth, people, site):
    with app.app_context():
        site["world"].end_submission()
        db.session.commit()
    auth.login(people["member"])
    pid = site["pid"]
    reason = refusal(app, site, "member", pid)
    for response in (client.get(f"/voorstellen/{pid}/bewerken"),
                     client.post(f"/voorstellen/{pid}/bewerken",
                                 data={**FORM, "version": "1", "action": "save"})):
        assert response.status_code == 403
        assert str(reason) in response.get_data(as_text=True)
    assert proposal(app, pid).title == TITLE
    # Nor attachments, nor withdrawing.
    assert client.post(f"/voorstellen/{pid}/intrekken",
                       data={"kind": "cancelled", "reason": "Te laat."}).status_code == 409


def test_concurrent_edits_conflict(app, client, auth, people, site):
    pid = site["pid"]
    other = app.test_client()
    other.post("/inloggen", data={"email": people["delegate"], "password": "correct horse "
                                  "battery staple"})
    auth.login(people["member"])
    mine = version_in(client.get(f"/voorstellen/{pid}/bewerken").get_data(as_text=True))
    theirs = version_in(other.get(f"/voorstellen/{pid}/bewerken").get_data(as_text=True))
    assert mine == theirs == "1"
    response = other.post(f"/voorstellen/{pid}/bewerken",
                          data={**FORM, "title": "Titel van de delegate, eerst bewaard",
                                "version": theirs, "action": "save"})
    assert response.status_code == 302
    response = client.post(f"/voorstellen/{pid}/bewerken",
                           data={**FORM, "title": "Titel van het lid, later bewaard",
                                 "version": mine, "action": "save"})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Titel van het lid, later bewaard" in page  # the typed text is not lost
    p = proposal(app, pid)
    assert p.title == "Titel van de delegate, eerst bewaard" and p.version == 2
    # A missing or mangled version can only conflict; never a server error.
    for version in ("", "abc", "1.5", "-1", "٣", "9" * 40, "0x2", " 2 "):
        data = {**FORM, "title": "Titel met een rare versie erbij", "action": "save"}
        if version:
            data["version"] = version
        response = client.post(f"/voorstellen/{pid}/bewerken", data=data)
        if version.strip() == "2":
            assert response.status_code == 302  # the current version, with spaces
            break
        assert response.status_code == 409, version
        assert proposal(app, pid).title == "Titel van de delegate, eerst bewaard"


def test_edit_keeps_a_deactivated_domain(app, client, auth, people, site):
    with app.app_context():
        db.session.get(Domain, 1).is_active = False
        db.session.commit()
    auth.login(people["member"])
    pid = site["pid"]
    page = client.get(f"/voorstellen/{pid}/bewerken").get_data(as_text=True)
    assert re.search(r'<option selected value="1">|<option value="1" selected', page)
    response = client.post(f"/voorstellen/{pid}/bewerken",
                           data={**FORM, "domain_id": "1", "version": version_in(page),
                                 "action": "save"})
    assert response.status_code == 302
    assert proposal(app, pid).domain_id == 1
    # A new proposal is not offered it, and cannot choose it.
    new_page = client.get(f"/rondes/{site['slug']}/voorstellen/nieuw").get_data(as_text=True)
    assert 'value="1"' not in new_page.split('id="domain_id"')[1].split("</select>")[0]
    response = client.post(f"/rondes/{site['slug']}/voorstellen/nieuw",
                           data={**FORM, "domain_id": "1", "action": "submit"})
    assert response.status_code == 200
    assert scalar(app, select(func.count(Proposal.id))) == 2


# --- withdrawing -------------------------------------------------------------------------------


def test_withdraw_over_http(app, client, auth, people, site):
    pid = site["pid"]
    auth.login(people["other_member"])
    assert client.get(f"/voorstellen/{pid}/intrekken").status_code == 403
    assert client.post(f"/voorstellen/{pid}/intrekken",
                       data={"kind": "other", "reason": "Niet van ons."}).status_code == 403
    auth.logout()
    auth.login(people["member"])
    assert client.get(f"/voorstellen/{pid}/intrekken").status_code == 200
    for bad in ({}, {"kind": "sideways", "reason": "Een reden."},
                {"kind": "other", "reason": "kort"},
                {"kind": "duplicate", "reason": "Dubbel.", "duplicate_of_id": "0"},
                {"kind": "duplicate", "reason": "Dubbel.", "duplicate_of_id": "abc"},
                {"kind": "duplicate", "reason": "Dubbel.", "duplicate_of_id": str(10**30)},
                {"kind": "duplicate", "reason": "Dubbel.", "duplicate_of_id": str(pid)},
                {"kind": "other", "reason": "r" * 3000}):
        assert client.post(f"/voorstellen/{pid}/intrekken", data=bad).status_code == 200, bad
    assert proposal(app, pid).status == "submitted"
    response = client.post(f"/voorstellen/{pid}/intrekken",
                           data={"kind": "cancelled", "reason": "Het college stopt ermee."})
    assert response.status_code == 302
    p = proposal(app, pid)
    assert p.status == "withdrawn" and p.withdrawal_reason == "Het college stopt ermee."
    auth.logout()
    page = client.get(f"/voorstellen/{pid}").get_data(as_text=True)
    assert "Het college stopt ermee." in page and TITLE in page
    listing = client.get(f"/rondes/{site['slug']}/voorstellen?status=withdrawn")
    assert f'href="/voorstellen/{pid}"' in listing.get_data(as_text=True)
    auth.login(people["member"])
    assert client.post(f"/voorstellen/{pid}/intrekken",
                       data={"kind": "other", "reason": "Nog een keer."}).status_code == 409
    # A draft cannot be withdrawn (that would make it public).
    assert client.post(f"/voorstellen/{site['draft']}/intrekken",
                       data={"kind": "other", "reason": "Concept weg."}).status_code == 409
    assert proposal(app, site["draft"]).status == "draft"


def test_withdraw_as_duplicate_over_http(app, client, auth, people, site):
    with app.app_context():
        original = site["world"].propose("other_member", title="Paspoort aanvragen in Amsterdam")
        db.session.commit()
        original_id = original.id
    auth.login(people["member"])
    page = client.get(f"/voorstellen/{site['pid']}/intrekken").get_data(as_text=True)
    assert f'value="{original_id}"' in page
    response = client.post(f"/voorstellen/{site['pid']}/intrekken",
                           data={"kind": "duplicate", "reason": "Amsterdam was eerder.",
                                 "duplicate_of_id": str(original_id)})
    assert response.status_code == 302
    assert proposal(app, site["pid"]).duplicate_of_id == original_id
    page = client.get(f"/voorstellen/{site['pid']}").get_data(as_text=True)
    assert f'href="/voorstellen/{original_id}"' in page


# --- co-submission and interest ----------------------------------------------------------------


def test_cosubmission_over_http(app, client, auth, people, site):
    pid = site["pid"]
    auth.login(people["other_member"])
    assert client.get(f"/voorstellen/{pid}/bewerken").status_code == 403
    assert client.post(f"/voorstellen/{pid}/meedoen",
                       data={"message": "m" * 2000}).status_code == 302  # too long: refused
    assert scalar(app, select(func.count(CoSubmission.id))) == 0
    assert client.post(f"/voorstellen/{pid}/meedoen",
                       data={"message": "Wij ook!"}).status_code == 302
    request_id = scalar(app, select(CoSubmission.id))
    assert client.post(f"/meedoen/{request_id}/accept").status_code == 403  # not the owner
    assert client.post(f"/voorstellen/{pid}/meedoen", data={}).status_code == 409  # again
    auth.logout()
    auth.login(people["member"])
    page = client.get(f"/voorstellen/{pid}").get_data(as_text=True)
    assert "Wij ook!" in page
    assert client.post(f"/meedoen/{request_id}/accept").status_code == 302
    assert client.post(f"/meedoen/{request_id}/decline").status_code == 409
    auth.logout()
    auth.login(people["other_member"])
    assert client.get(f"/voorstellen/{pid}/bewerken").status_code == 200
    with app.app_context():
        p = db.session.get(Proposal, pid)
        codes = {m.code for m in db.session.scalars(select(proposals.Municipality).where(
            proposals.Municipality.id.in_(proposals.involved_municipality_ids(p))))}
    assert codes == {"GM0344", "GM0363"}
    # Involved now, so no interest marking.
    assert client.post(f"/voorstellen/{pid}/interesse",
                       data={"interested": "1"}).status_code == 409


def test_cosubmission_declined_over_http(app, client, auth, people, site):
    auth.login(people["other_member"])
    client.post(f"/voorstellen/{site['pid']}/meedoen", data={"message": ""})
    request_id = scalar(app, select(CoSubmission.id))
    auth.logout()
    auth.login(people["delegate"])
    assert client.post(f"/meedoen/{request_id}/decline").status_code == 302
    assert scalar(app, select(CoSubmission.status)) == "declined"
    auth.logout()
    auth.login(people["other_member"])
    assert client.get(f"/voorstellen/{site['pid']}/bewerken").status_code == 403


def test_interest_over_http(app, client, auth, people, site):
    url = f"/voorstellen/{site['pid']}/interesse"
    auth.login(people["other_member"])
    assert client.post(url, data={"interested": "1"}).status_code == 302
    with app.app_context():
        assert proposals.interest_counts([site["pid"]]) == {site["pid"]: 1}
    listing = client.get(f"/rondes/{site['slug']}/voorstellen").get_data(as_text=True)
    assert "1 gemeente" in listing or "1 municipality" in listing
    assert client.post(url, data={"interested": "0"}).status_code == 302
    assert client.post(url, data={"interested": "banana"}).status_code == 302
    with app.app_context():
        assert proposals.interest_counts([site["pid"]]) == {}
        assert db.session.scalar(select(func.count(Interest.id))) == 1
    auth.logout()
    auth.login(people["member"])
    assert client.post(url, data={"interested": "1"}).status_code == 409
    auth.logout()
    auth.login(people["jury"])
    assert client.post(url, data={"interested": "1"}).status_code == 403


# --- export ------------------------------------------------------------------------------------


def _export_world(app, site):
    with app.app_context():
        world = site["world"]
        risky = world.propose("other_member", title="=HYPERLINK(\"http://evil\";\"klik\") plan",
                              summary="+31 20 123 4567 bellen")
        gone = world.propose("other_member", title="Ingetrokken plan voor afvalinzameling")
        proposals.withdraw_proposal(world.user("other_member"), gone,
                                    kind=proposals.WithdrawalKind.OTHER,
                                    reason="Samengevoegd met een ander plan.",
                                    duplicate_of_id=None, now=NOW)
        db.session.commit()
        return risky.id, gone.id


def test_csv_export(app, client, site):
    risky, gone = _export_world(app, site)
    response = client.get(f"/rondes/{site['slug']}/voorstellen.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert tuple(rows[0].keys()) == proposals.EXPORT_COLUMNS
    by_id = {int(r["id"]): r for r in rows}
    assert set(by_id) == {site["pid"], risky, gone}  # the draft is not exported
    assert by_id[site["pid"]]["title"] == TITLE
    assert by_id[site["pid"]]["municipality_code"] == "GM0344"
    assert by_id[site["pid"]]["estimated_cost_eur"] == "250000"
    assert by_id[site["pid"]]["url"].endswith(f"/voorstellen/{site['pid']}")
    assert by_id[gone]["status"] == "withdrawn"
    assert by_id[gone]["withdrawal_reason"] == "Samengevoegd met een ander plan."
    # Formulas are neutralised for spreadsheet programs.
    assert by_id[risky]["title"].startswith("'=HYPERLINK")
    assert by_id[risky]["summary"].startswith("'+31")
    assert "Concept: chatbot" not in text


def test_json_export(app, client, site):
    risky, gone = _export_world(app, site)
    response = client.get(f"/rondes/{site['slug']}/voorstellen.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = json.loads(response.get_data(as_text=True))
    assert body["round"] == site["slug"]
    assert body["columns"] == list(proposals.EXPORT_COLUMNS)
    by_id = {p["id"]: p for p in body["proposals"]}
    assert set(by_id) == {site["pid"], risky, gone}
    for row in body["proposals"]:
        assert list(row) == list(proposals.EXPORT_COLUMNS)
    assert by_id[risky]["title"].startswith("=HYPERLINK")  # exact text in JSON
    assert by_id[gone]["withdrawal_reason"] == "Samengevoegd met een ander plan."
    assert by_id[site["pid"]]["co_submitters"] == [] and by_id[site["pid"]]["domain"]
    assert client.get("/rondes/bestaat-niet/voorstellen.json").status_code == 404


# --- domains -----------------------------------------------------------------------------------


def test_domain_admin_pages(app, client, auth, people, site):
    auth.login(people["member"])
    assert client.get("/beheer/domeinen").status_code == 403
    assert client.post("/beheer/domeinen", data={"new-name_nl": "Zorg",
                                                 "new-name_en": "Care"}).status_code == 403
    assert client.post("/beheer/domeinen/1", data={"d1-name_nl": "Weg",
                                                   "d1-name_en": "Gone"}).status_code == 403
    auth.logout()
    auth.login(people["organiser"])
    page = client.get("/beheer/domeinen").get_data(as_text=True)
    assert "Dienstverlening" in page
    active_boxes = page.count("checked")
    response = client.post("/beheer/domeinen", data={"new-name_nl": "Zorg en welzijn",
                                                     "new-name_en": "Care and welfare"})
    assert response.status_code == 302
    added = scalar(app, select(Domain).where(Domain.name_nl == "Zorg en welzijn"))
    assert added.is_active and added.slug == "zorg-en-welzijn"
    # A refused addition shows the form again; the rows keep their stored values.
    response = client.post("/beheer/domeinen", data={"new-name_nl": "Z", "new-name_en": "C"})
    assert response.status_code == 200
    assert response.get_data(as_text=True).count("checked") == active_boxes + 1
    assert client.post("/beheer/domeinen", data={"new-name_nl": "zorg en welzijn",
                                                 "new-name_en": "Again"}).status_code == 200
    # Rename and deactivate.
    response = client.post(f"/beheer/domeinen/{added.id}",
                           data={f"d{added.id}-name_nl": "Zorg",
                                 f"d{added.id}-name_en": "Care",
                                 f"d{added.id}-position": "3"})
    assert response.status_code == 302
    changed = scalar(app, select(Domain).where(Domain.id == added.id))
    assert changed.name_nl == "Zorg" and changed.position == 3 and not changed.is_active
    assert changed.slug == "zorg-en-welzijn"
    auth.logout()
    auth.login(people["member"])
    new_page = client.get(f"/rondes/{site['slug']}/voorstellen/nieuw").get_data(as_text=True)
    assert f'value="{added.id}"' not in new_page.split('id="domain_id"')[1].split("</select>")[0]
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditEvent.id)).where(
            AuditEvent.object_type == "domain")) == 2


def test_domain_forms_with_bad_input(app, client, auth, people, site):
    auth.login(people["organiser"])
    for data in ({}, {"new-name_nl": "x" * 500, "new-name_en": "y"},
                 {"new-name_nl": "Goed", "new-name_en": "Good", "new-position": "abc"},
                 {"new-name_nl": "Goed", "new-name_en": "Good", "new-position": str(10**30)},
                 {"new-name_nl": "  ", "new-name_en": "Good"}):
        assert client.post("/beheer/domeinen", data=data).status_code == 200, data
    for data in ({}, {"d1-name_nl": "", "d1-name_en": "x"},
                 {"d1-name_nl": "Dienst", "d1-name_en": "Service", "d1-position": "-5"},
                 {"d1-name_nl": "Dienst", "d1-name_en": "Service", "d1-position": "1e9"},
                 {"d1-name_nl": "Sociaal domein", "d1-name_en": "Clash"}):
        assert client.post("/beheer/domeinen/1", data=data).status_code == 302, data
    assert scalar(app, select(Domain.name_nl).where(Domain.id == 1)) == "Dienstverlening"
    assert scalar(app, select(Domain.is_active).where(Domain.id == 1)) is True
    for url in ("/beheer/domeinen/999", f"/beheer/domeinen/{10**30}"):
        assert client.post(url, data={}).status_code == 404


# --- malformed input never gives a server error --------------------------------------------


BAD_PROPOSAL_INPUT = [
    {"estimated_cost": "veel geld"},
    {"estimated_cost": "12.5"},
    {"estimated_cost": "-100"},
    {"estimated_cost": str(10**40)},
    {"estimated_cost": "1e9"},
    {"planned_start": "2027-13-45"},
    {"planned_start": "morgen"},
    {"planned_start": "0001-01-01"},
    {"planned_start": "9999-12-31"},
    {"planned_start": "2027-02-30"},
    {"title": "t" * 100_000},
    {"title": ""},
    {"title": "\x00" * 20},
    {"summary": "s" * 10_000},
    {"description": "d" * 25_000},
    {"problem": "p" * 6_000},
    {"domain_id": "abc"},
    {"domain_id": "999"},
    {"domain_id": str(10**30)},
    {"domain_id": "-1"},
    {"contact_email": "geen e-mail"},
    {"contact_email": "a" * 300 + "@example.org"},
    {"contact_name": "n" * 500},
]


def expected_status(data: dict) -> int:
    """The form again (200); a NUL character is refused for the whole site with 400."""
    return 400 if any("\x00" in str(v) for v in data.values()) else 200


@pytest.mark.parametrize("bad", BAD_PROPOSAL_INPUT)
@pytest.mark.parametrize("action", ["submit", "draft", "similar"])
def test_bad_input_on_the_new_form(app, client, auth, people, site, bad, action):
    auth.login(people["member"])
    before = scalar(app, select(func.count(Proposal.id)))
    response = client.post(f"/rondes/{site['slug']}/voorstellen/nieuw",
                           data={**FORM, **bad, "action": action})
    assert response.status_code == expected_status(bad), response.status_code
    assert scalar(app, select(func.count(Proposal.id))) == before


@pytest.mark.parametrize("bad", BAD_PROPOSAL_INPUT)
def test_bad_input_on_the_edit_form(app, client, auth, people, site, bad):
    auth.login(people["member"])
    response = client.post(f"/voorstellen/{site['pid']}/bewerken",
                           data={**FORM, **bad, "version": "1", "action": "save"})
    assert response.status_code == expected_status(bad)
    assert proposal(app, site["pid"]).title == TITLE


def test_nul_characters_never_reach_the_database(app, client, auth, people, site):
    auth.login(people["member"])
    before = scalar(app, select(func.count(Proposal.id)))
    response = client.post(f"/rondes/{site['slug']}/voorstellen/nieuw",
                           data={**FORM, "title": "Lantaarn\x00palen in de binnenstad",
                                 "action": "submit"})
    assert response.status_code == 400
    assert scalar(app, select(func.count(Proposal.id))) == before
    for url, data in ((f"/voorstellen/{site['pid']}/reacties",
                       {"kind": "question", "body": "Vr\x00aag"}),
                      (f"/voorstellen/{site['pid']}/intrekken",
                       {"kind": "other", "reason": "Re\x00den genoeg"}),
                      (f"/voorstellen/{site['pid']}/meedoen", {"message": "\x00"})):
        assert client.post(url, data=data).status_code == 400
    assert proposal(app, site["pid"]).status == "submitted"


def test_other_forms_with_bad_input(app, client, auth, people, site):
    pid = site["pid"]
    auth.login(people["other_member"])
    for data in ({"message": "m" * 100_000}, {}):
        assert client.post(f"/voorstellen/{pid}/meedoen", data=data).status_code in (302, 409)
    for data in ({"follow": "x" * 1000}, {}):
        assert client.post(f"/voorstellen/{pid}/volgen", data=data).status_code == 302
    for data in ({"interested": "2"}, {}):
        assert client.post(f"/voorstellen/{pid}/interesse", data=data).status_code == 302
    for data in ({"kind": "question", "body": "b" * 100_000}, {"kind": "ja", "body": "ok"}):
        assert client.post(f"/voorstellen/{pid}/reacties", data=data).status_code == 302
    auth.logout()
    question = None
    with app.app_context():
        from competition.models import CommentKind
        from competition.services import comments

        question = comments.add_comment(site["world"].user("jury"), db.session.get(Proposal, pid),
                                        "Een vraag voor de test", CommentKind.QUESTION,
                                        now=NOW).id
        db.session.commit()
    for data in ({"reason": "r" * 100_000}, {"reason": "   "}, {}):
        assert client.post(f"/reacties/{question}/melden", data=data).status_code == 200
    auth.login(people["organiser"])
    for data in ({"reason": "h" * 100_000}, {"reason": "   "}, {},
                 {"reason": "Verborgen", "next": "https://evil.example/"}):
        response = client.post(f"/beheer/reacties/{question}/verbergen", data=data)
        assert response.status_code in (302, 409)
        assert "evil.example" not in response.headers.get("Location", "")
    auth.logout()
    auth.login(people["member"])
    for data in ({"body": "a" * 100_000}, {"body": "  "}):
        assert client.post(f"/reacties/{question}/antwoord", data=data).status_code in (302,
                                                                                        409)
    response = client.post(f"/voorstellen/{pid}/bijlagen",
                           data={"file": (io.BytesIO(b""), "")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    response = client.post(f"/voorstellen/{pid}/bijlagen", data={"file": "geen bestand"})
    assert response.status_code == 302
