"""The development phase over HTTP: a finalist's public page, its team publishing progress
updates, deliverable links and files and the cost and licence statement, who may do that, and
the vraagstuk's list of finalists.

Messages are compared as the page renders them (`shown`): through the app's own catalogue in
the page's language, so the tests hold whether or not a string is translated yet.
"""

import io
from datetime import timedelta
from types import SimpleNamespace

import pytest
from flask_babel import force_locale, gettext
from markupsafe import escape
from sqlalchemy import func, select

from competition.extensions import db
from competition.models import (
    Attachment,
    Cluster,
    ClusterMember,
    Comment,
    FinalistWork,
    Municipality,
    Phase,
    ProgressUpdate,
    Proposal,
    Role,
    Round,
)
from competition.services import accounts, development, preselection, proposals, rounds
from competition.services.errors import ValidationError as ServiceValidationError
from competition.services.preselection import ScoreInput
from tests.conftest import NOW, make_user
from tests.proposal_helpers import ensure_seed_domains, pdf_bytes, valid_data

LATER = NOW + timedelta(hours=1)  # the app's frozen clock
# One vraagstuk of three proposals; two finalist places. The jury ranks Utrecht's first and
# Amsterdam's second: Groningen's proposal is not a finalist.
TITLES = {"pU": "Digitaal paspoort aanvragen", "pA": "Paspoort thuisbezorgd",
          "pG": "Paspoort-app met DigiD"}
OWNERS = {"pU": "member", "pA": "other_member", "pG": "groningen_member"}
SCORES = {"pU": 5, "pA": 4, "pG": 1}


# --- helpers -----------------------------------------------------------------------------------


def shown(app, msgid: str, locale: str = "nl", **values) -> str:
    """A message as a page in `locale` shows it (HTML-escaped like Jinja does)."""
    with app.test_request_context(), force_locale(locale):
        return str(escape(gettext(msgid, **values)))


def in_app(app, fn):
    with app.app_context():
        return fn()


def count(app, model, *where) -> int:
    return in_app(app, lambda: db.session.scalar(
        select(func.count()).select_from(model).where(*where)))


def text_of(response) -> str:
    return response.get_data(as_text=True)


def follow(client, response):
    """The page a redirect leads to (flash messages included)."""
    assert response.status_code == 302, response.status_code
    return client.get(response.headers["Location"])


def login(auth, world, who: str) -> None:
    response = auth.login(world.emails[who])
    assert response.status_code == 302, f"login failed for {who}"


def work_of(app, proposal_id: int) -> dict | None:
    def read():
        work = db.session.scalar(select(FinalistWork).where(
            FinalistWork.proposal_id == proposal_id))
        if work is None:
            return None
        return {c: getattr(work, c) for c in (
            "demo_url", "documentation_url", "source_url", "licence", "licence_notes",
            "cost_estimate", "yearly_cost", "cost_notes")}
    return in_app(app, read)


def close(app, world, phase: Phase) -> None:
    def act():
        organiser = accounts.find_user_by_email(world.emails["organiser"])
        rounds.close_phase(db.session.get(Round, world.round_id), phase, actor=organiser,
                           now=LATER)
        db.session.commit()
    in_app(app, act)


# --- the world ---------------------------------------------------------------------------------


@pytest.fixture
def world(app, people):
    """A round in its development phase with one vraagstuk: Utrecht's and Amsterdam's
    proposals are finalists, Groningen's is not."""
    app.config["FROZEN_NOW"] = LATER
    with app.app_context():
        ms = {m.code: m for m in db.session.scalars(select(Municipality))}
        make_user("member@groningen.example", Role.MEMBER, municipality=ms["GM0014"],
                  name="Greet Groningen")
        emails = {**people, "groningen_member": "member@groningen.example"}
        ensure_seed_domains()
        organiser = accounts.find_user_by_email(people["organiser"])
        rnd = rounds.create_round(
            organiser,
            rounds.RoundData(title="Ronde gezamenlijke ontwikkeling",
                             theme="Digitale dienstverlening", max_finalists=2),
            rounds.default_schedule(NOW + timedelta(days=1)), now=NOW)
        rounds.close_phase(rnd, Phase.DRAFT, actor=organiser, now=NOW + timedelta(minutes=1))
        ids = {}
        for key, title in TITLES.items():
            owner = accounts.find_user_by_email(emails[OWNERS[key]])
            ids[key] = proposals.create_proposal(owner, rnd, valid_data(title=title),
                                                 submit=True,
                                                 now=NOW + timedelta(minutes=2)).id
        rounds.close_phase(rnd, Phase.SUBMISSION, actor=organiser,
                           now=NOW + timedelta(minutes=10))
        cluster = Cluster(round_id=rnd.id, label="Paspoort", created_at=NOW, updated_at=NOW,
                          is_confirmed=True)
        for key in TITLES:
            cluster.members.append(ClusterMember(proposal_id=ids[key], similarity=1.0,
                                                 added_at=NOW))
        db.session.add(cluster)
        db.session.flush()
        juror = accounts.find_user_by_email(people["jury"])
        preselection.assign_juror(organiser, rnd, juror, [], now=NOW + timedelta(minutes=15))
        rounds.close_phase(rnd, Phase.CLUSTERING, actor=organiser,
                           now=NOW + timedelta(minutes=20))
        criteria = [c.id for c in preselection.criteria(rnd)]
        for key, value in SCORES.items():
            preselection.save_scorecard(
                juror, db.session.get(Proposal, ids[key]),
                [ScoreInput(cid, value) for cid in criteria], submit=True,
                now=NOW + timedelta(minutes=25))
        rounds.close_phase(rnd, Phase.PRESELECTION, actor=organiser,
                           now=NOW + timedelta(minutes=30))
        db.session.commit()
        assert rnd.current_phase is Phase.DEVELOPMENT
        finalists = {p.id for p in development.cluster_finalists(cluster)}
        assert finalists == {ids["pU"], ids["pA"]}
        return SimpleNamespace(round_id=rnd.id, slug=rnd.slug, ids=ids, cluster_id=cluster.id,
                               emails=emails)


def page_url(world, key: str = "pU") -> str:
    return f"/voorstellen/{world.ids[key]}/ontwikkeling"


UPDATE = {"title": "Eerste sprint klaar",
          "body": "We hebben het **aanvraagformulier** gebouwd.\n\n<script>alert(1)</script>"}

WORK = {"demo_url": "https://demo.utrecht.example/paspoort",
        "documentation_url": "https://docs.utrecht.example/paspoort",
        "source_url": "https://code.example/utrecht/paspoort",
        "licence": "EUPL-1.2", "licence_notes": "",
        "cost_estimate": "€ 250.000", "yearly_cost": "12000",
        "cost_notes": "Hosting en beheer bij de eigen gemeente."}


# --- the public page ---------------------------------------------------------------------------


def test_finalist_page_is_public_and_a_non_finalist_has_none(app, client, world):
    page = client.get(page_url(world))
    assert page.status_code == 200
    html = text_of(page)
    assert TITLES["pU"] in html and "Utrecht" in html
    assert shown(app, "No progress updates yet.") in html
    assert f'href="/voorstellen/{world.ids["pU"]}#reacties"' in html
    assert f'action="{page_url(world)}/updates"' not in html  # no team forms for visitors

    assert client.get(page_url(world, "pG")).status_code == 404
    assert client.get("/voorstellen/999999/ontwikkeling").status_code == 404

    # The proposal page points finalists (only) to their page.
    assert f'href="{page_url(world)}"' in text_of(client.get(f"/voorstellen/{world.ids['pU']}"))
    assert page_url(world, "pG") not in text_of(client.get(f"/voorstellen/{world.ids['pG']}"))


def test_other_municipalities_and_the_organiser_see_no_forms(app, client, auth, world):
    for who in ("other_member", "organiser"):
        login(auth, world, who)
        html = text_of(client.get(page_url(world)))
        assert f'action="{page_url(world)}/updates"' not in html
        assert f'action="{page_url(world)}/verantwoording"' not in html
        auth.logout()
    login(auth, world, "delegate")  # Utrecht's delegate is on the team too
    html = text_of(client.get(page_url(world)))
    assert f'action="{page_url(world)}/updates"' in html
    assert f'action="{page_url(world)}/verantwoording"' in html
    assert f'action="{page_url(world)}/bestanden"' in html


# --- progress updates --------------------------------------------------------------------------


def test_team_posts_a_sanitised_update_and_edits_it(app, client, auth, world):
    login(auth, world, "member")
    response = client.post(f"{page_url(world)}/updates", data=UPDATE)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{page_url(world)}#updates")
    assert shown(app, "Your update has been published.") in text_of(follow(client, response))

    auth.logout()
    html = text_of(client.get(page_url(world)))
    assert "Eerste sprint klaar" in html
    assert "<strong>aanvraagformulier</strong>" in html
    assert "<script>alert(1)" not in html  # shown as text, never run
    assert "alert(1)" not in html or "&lt;script&gt;alert(1)" in html

    update_id = in_app(app, lambda: db.session.scalar(select(ProgressUpdate.id)))
    edit = f"/ontwikkeling/updates/{update_id}/bewerken"
    assert client.get(edit).status_code == 302  # anonymous: to the login page
    login(auth, world, "member")
    form = text_of(client.get(edit))
    assert 'value="Eerste sprint klaar"' in form

    # Too short: the error is shown next to the field and nothing changes.
    response = client.post(edit, data={"title": "Eerste sprint klaar", "body": "kort"})
    assert response.status_code == 200
    assert 'id="body-error"' in text_of(response)

    response = client.post(edit, data={"title": "Eerste sprint afgerond",
                                       "body": "Het formulier is klaar en getest."})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"#update-{update_id}")
    html = text_of(client.get(page_url(world)))
    assert "Eerste sprint afgerond" in html and "Het formulier is klaar en getest." in html
    assert count(app, ProgressUpdate) == 1


def test_an_invalid_update_is_shown_with_its_errors(app, client, auth, world):
    login(auth, world, "member")
    response = client.post(f"{page_url(world)}/updates", data={"title": "x", "body": ""})
    assert response.status_code == 200
    html = text_of(response)
    assert 'id="title-error"' in html and 'id="body-error"' in html
    assert count(app, ProgressUpdate) == 0


# --- the cost and licence statement ------------------------------------------------------------


def test_team_saves_the_statement_with_an_open_licence(app, client, auth, world):
    login(auth, world, "member")
    response = client.post(f"{page_url(world)}/verantwoording", data=WORK)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("#verantwoording")
    assert work_of(app, world.ids["pU"]) == {
        "demo_url": WORK["demo_url"], "documentation_url": WORK["documentation_url"],
        "source_url": WORK["source_url"], "licence": "EUPL-1.2", "licence_notes": "",
        "cost_estimate": 250_000, "yearly_cost": 12_000, "cost_notes": WORK["cost_notes"]}

    auth.logout()
    html = text_of(client.get(page_url(world)))
    for url in (WORK["demo_url"], WORK["documentation_url"], WORK["source_url"]):
        assert f'href="{url}"' in html
    assert "EUPL-1.2" in html and shown(app, "open licence") in html
    assert "250.000" in html and "12.000" in html
    assert WORK["cost_notes"] in html

    # The vraagstuk's list of finalists shows the licence.
    html = text_of(client.get(f"/vraagstukken/{world.cluster_id}/finalisten"))
    assert "EUPL-1.2" in html


def test_another_licence_needs_an_explanation(app, client, auth, world):
    login(auth, world, "member")
    response = client.post(f"{page_url(world)}/verantwoording",
                           data={**WORK, "licence": "other", "licence_notes": ""})
    assert response.status_code == 200
    html = text_of(response)
    assert 'id="licence_notes-error"' in html
    assert shown(app, "Explain which licence and why it is not an open one.") in html
    assert 'aria-invalid="true"' in html
    # The team's input is kept in the form.
    assert f'value="{WORK["demo_url"]}"' in html
    assert work_of(app, world.ids["pU"]) is None

    response = client.post(f"{page_url(world)}/verantwoording", data={
        **WORK, "licence": "other",
        "licence_notes": "Eigen licentie van de leverancier; open maken kan pas in 2028."})
    assert response.status_code == 302
    assert work_of(app, world.ids["pU"])["licence"] == "other"
    html = text_of(client.get(page_url(world)))
    assert shown(app, "not an open licence") in html
    assert "Eigen licentie van de leverancier" in html


@pytest.mark.parametrize(("field", "value"), [
    ("demo_url", "javascript:alert(1)"),
    ("source_url", "code.example/utrecht"),
    ("cost_estimate", "veel"),
    ("yearly_cost", "-5"),
    ("licence", "WTFPL"),
])
def test_bad_input_in_the_statement_is_shown_next_to_its_field(app, client, auth, world,
                                                                field, value):
    login(auth, world, "member")
    response = client.post(f"{page_url(world)}/verantwoording", data={**WORK, field: value})
    assert response.status_code == 200
    assert f'id="{field}-error"' in text_of(response)
    assert work_of(app, world.ids["pU"]) is None


def test_every_mistake_in_the_statement_shows_at_once(app, client, auth, world):
    login(auth, world, "member")
    response = client.post(f"{page_url(world)}/verantwoording", data={
        **WORK, "demo_url": "geen adres", "licence": "other", "licence_notes": "",
        "cost_estimate": "veel"})
    assert response.status_code == 200
    html = text_of(response)
    for field in ("demo_url", "licence_notes", "cost_estimate"):
        assert f'id="{field}-error"' in html, field
        assert f'href="#{field}"' in html, field  # listed in the error summary
    assert html.count('id="error-summary"') == 1
    assert work_of(app, world.ids["pU"]) is None


def test_the_service_checks_the_statement_itself(app, world):
    """The form repeats the service's rules for the page; the service stays the authority."""
    valid = {k: v for k, v in WORK.items() if k not in ("cost_estimate", "yearly_cost")}
    with app.test_request_context():
        member = accounts.find_user_by_email(world.emails["member"])
        proposal = db.session.get(Proposal, world.ids["pU"])
        for changes, field in (({"licence": "other", "licence_notes": "kort"}, "licence_notes"),
                               ({"source_url": "ftp://code.example/x"}, "source_url"),
                               ({"licence": "WTFPL"}, "licence")):
            with pytest.raises(ServiceValidationError) as refused:
                development.save_work(member, proposal, **{**valid, **changes},
                                      cost_estimate=None, yearly_cost=0,
                                      now=LATER)
            assert refused.value.field == field
            db.session.rollback()
    assert work_of(app, world.ids["pU"]) is None


# --- deliverable files -------------------------------------------------------------------------


def test_team_uploads_a_deliverable_and_removes_it(app, client, auth, world):
    login(auth, world, "member")
    response = client.post(f"{page_url(world)}/bestanden", data={
        "file": (io.BytesIO(pdf_bytes()), "architectuur.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("#opleveringen")
    attachment_id = in_app(app, lambda: db.session.scalar(
        select(Attachment.id).where(Attachment.is_deliverable.is_(True))))
    assert attachment_id is not None

    auth.logout()
    html = text_of(client.get(page_url(world)))
    download = f"/bijlagen/{attachment_id}/architectuur.pdf"
    assert f'href="{download}"' in html
    # A deliverable is not one of the proposal's attachments.
    assert download not in text_of(client.get(f"/voorstellen/{world.ids['pU']}"))
    response = client.get(download)
    assert response.status_code == 200
    assert response.data == pdf_bytes()
    assert response.mimetype == "application/pdf"

    # Not a PDF: refused with the reason, nothing stored.
    login(auth, world, "member")
    response = client.post(f"{page_url(world)}/bestanden", data={
        "file": (io.BytesIO(b"<html><script>x</script>"), "page.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    assert shown(app, "This file type is not allowed. Allowed: %(types)s.",
                 types="PDF, ODT, DOCX, PNG, JPG") in text_of(follow(client, response))
    assert count(app, Attachment) == 1

    # The proposal's own removal route does not take deliverables off.
    assert client.post(f"/bijlagen/{attachment_id}/verwijderen").status_code == 403

    response = client.post(f"/ontwikkeling/bestanden/{attachment_id}/verwijderen")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{page_url(world)}#opleveringen")
    auth.logout()
    assert f'href="{download}"' not in text_of(client.get(page_url(world)))
    assert client.get(download).status_code == 404  # gone for the public
    login(auth, world, "member")
    assert client.get(download).status_code == 200  # the team still has it


# --- who may publish ---------------------------------------------------------------------------


def _post_routes(app, world) -> list[tuple[str, dict, str | None]]:
    """Every publishing route on Utrecht's finalist, with valid input."""
    def make():
        proposal = db.session.get(Proposal, world.ids["pU"])
        member = accounts.find_user_by_email(world.emails["member"])
        update = development.post_update(member, proposal, "Een update", "Tien tekens of meer.",
                                         now=LATER)
        from competition.services import attachments
        file = development.add_deliverable_file(
            member, proposal, attachments.Upload("a.pdf", io.BytesIO(pdf_bytes())),
            upload_folder=app.config["UPLOAD_FOLDER"], now=LATER)
        db.session.commit()
        return update.id, file.id
    update_id, file_id = in_app(app, make)
    base = page_url(world)
    return [
        (f"{base}/updates", UPDATE, None),
        (f"/ontwikkeling/updates/{update_id}/bewerken", UPDATE, None),
        (f"{base}/verantwoording", WORK, None),
        (f"{base}/bestanden", None, "file"),
        (f"/ontwikkeling/bestanden/{file_id}/verwijderen", {}, None),
    ]


def _post(client, url, data, file_field):
    if file_field:
        return client.post(url, data={file_field: (io.BytesIO(pdf_bytes()), "b.pdf")},
                           content_type="multipart/form-data")
    return client.post(url, data=data)


def test_only_the_team_publishes(app, client, auth, world):
    routes = _post_routes(app, world)
    state = lambda: (count(app, ProgressUpdate), count(app, Attachment),  # noqa: E731
                     work_of(app, world.ids["pU"]),
                     in_app(app, lambda: db.session.scalar(select(ProgressUpdate.title))))
    before = state()

    for url, data, file_field in routes:
        response = _post(client, url, data, file_field)
        assert response.status_code == 302, url
        assert "/inloggen" in response.headers["Location"], url

    for who in ("other_member", "organiser", "groningen_member", "jury"):
        login(auth, world, who)
        for url, data, file_field in routes:
            assert _post(client, url, data, file_field).status_code == 403, (who, url)
        assert client.get(routes[1][0]).status_code == 403, who
        auth.logout()
    assert state() == before

    # Utrecht's team cannot publish on Amsterdam's finalist either.
    login(auth, world, "member")
    assert client.post(f"{page_url(world, 'pA')}/updates", data=UPDATE).status_code == 403
    # Nor on a proposal that is no finalist (its own team: the page does not exist).
    auth.logout()
    login(auth, world, "groningen_member")
    assert client.post(f"{page_url(world, 'pG')}/updates", data=UPDATE).status_code == 404
    assert state() == before


def test_publishing_outside_the_development_phase_is_refused(app, client, auth, world):
    routes = _post_routes(app, world)
    close(app, world, Phase.DEVELOPMENT)
    before = (count(app, ProgressUpdate), count(app, Attachment), work_of(app, world.ids["pU"]))
    reason = in_app(app, lambda: _refusal(app, world))

    login(auth, world, "member")
    html = text_of(client.get(page_url(world)))
    assert reason in html  # the team sees why there are no forms
    assert f'action="{page_url(world)}/updates"' not in html
    for url, data, file_field in routes:
        response = _post(client, url, data, file_field)
        assert response.status_code == 302, url
        assert reason in text_of(follow(client, response)), url
    assert (count(app, ProgressUpdate), count(app, Attachment),
            work_of(app, world.ids["pU"])) == before
    # What was published stays public.
    assert "Een update" in text_of(client.get(page_url(world)))


def _refusal(app, world) -> str:
    with app.test_request_context(), force_locale("nl"):
        member = accounts.find_user_by_email(world.emails["member"])
        return str(escape(development.publish_refusal(
            member, db.session.get(Proposal, world.ids["pU"]))))


# --- questions and answers ---------------------------------------------------------------------


def test_questions_from_other_municipalities_and_the_teams_answers(app, client, auth, world):
    login(auth, world, "other_member")
    proposal_url = f"/voorstellen/{world.ids['pU']}"
    response = client.post(f"{proposal_url}/reacties", data={
        "kind": "question", "body": "Werkt dit ook met eHerkenning?"})
    assert response.status_code == 302
    question_id = in_app(app, lambda: db.session.scalar(select(Comment.id)))
    html = text_of(client.get(page_url(world)))
    assert "Werkt dit ook met eHerkenning?" in html
    assert f'href="{proposal_url}#reacties"' in html
    auth.logout()

    login(auth, world, "member")
    # The team is pointed to the place to answer.
    assert f'href="{proposal_url}#reactie-{question_id}"' in text_of(client.get(page_url(world)))
    response = client.post(f"/reacties/{question_id}/antwoord",
                           data={"body": "Ja, vanaf de tweede sprint."})
    assert response.status_code == 302
    auth.logout()

    html = text_of(client.get(page_url(world)))
    assert "Ja, vanaf de tweede sprint." in html
    assert shown(app, "answer from the submitters") in html

    # Another municipality cannot answer on the team's behalf.
    login(auth, world, "other_member")
    assert client.post(f"/reacties/{question_id}/antwoord",
                       data={"body": "Nee hoor."}).status_code == 403


# --- the vraagstuk's finalists -----------------------------------------------------------------


def test_cluster_finalists_page(app, client, auth, world):
    login(auth, world, "member")
    client.post(f"{page_url(world)}/updates", data=UPDATE)
    auth.logout()
    response = client.get(f"/vraagstukken/{world.cluster_id}/finalisten")
    assert response.status_code == 200
    html = text_of(response)
    assert TITLES["pU"] in html and TITLES["pA"] in html and TITLES["pG"] not in html
    assert "Utrecht" in html and "Amsterdam" in html
    assert f'href="{page_url(world)}"' in html and f'href="{page_url(world, "pA")}"' in html
    assert "Eerste sprint klaar" in html
    assert shown(app, "no updates yet") in html  # Amsterdam's
    assert html.index(TITLES["pU"]) < html.index(TITLES["pA"])  # by preselection rank

    assert client.get("/vraagstukken/999999/finalisten").status_code == 404


def test_cluster_finalists_wait_for_the_preselection_result(app, client, world):
    def reopen():
        # Set back to its preselection (only to see the page before the result is out).
        rnd = db.session.get(Round, world.round_id)
        cluster = Cluster(round_id=rnd.id, label="Later", created_at=NOW, updated_at=NOW,
                          is_confirmed=True)
        db.session.add(cluster)
        db.session.flush()
        rnd.phase = Phase.PRESELECTION.value
        db.session.commit()
        return cluster.id
    cluster_id = in_app(app, reopen)
    response = client.get(f"/vraagstukken/{cluster_id}/finalisten")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/rondes/{world.slug}/voorselectie")


def test_unconfirmed_cluster_has_no_finalists_page(app, client, world):
    def make():
        cluster = Cluster(round_id=world.round_id, label="Concept", created_at=NOW,
                          updated_at=NOW, is_confirmed=False)
        db.session.add(cluster)
        db.session.commit()
        return cluster.id
    assert client.get(f"/vraagstukken/{in_app(app, make)}/finalisten").status_code == 404
