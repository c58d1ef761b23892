"""Questions, comments and answers; reports and moderation; following a proposal."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from competition.extensions import db
from competition.models import AuditEvent, Comment, CommentKind, ContentReport, Follow
from competition.services import comments, proposals
from competition.services.errors import (
    InvalidState,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from tests.conftest import NOW
from tests.proposal_helpers import audit_actions, count, make_world

LATER = NOW + timedelta(minutes=10)


@pytest.fixture
def world(ctx, people):
    w = make_world(people)
    db.session.commit()
    return w


# --- service -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["member", "other_member", "jury", "organiser", "delegate"])
def test_any_logged_in_user_asks_or_comments(world, role):
    p = world.propose()
    user = world.user(role)
    question = comments.add_comment(user, p, "  Werkt dit met **DigiD**?  ",
                                    CommentKind.QUESTION, now=NOW)
    remark = comments.add_comment(user, p, "Goed plan.", CommentKind.COMMENT, now=LATER)
    assert question.kind == "question" and question.body == "Werkt dit met **DigiD**?"
    assert remark.kind == "comment"
    assert question.author_id == user.id and question.municipality_id == user.municipality_id
    assert audit_actions("comment") == ["comment.question", "comment.comment"]


def test_comment_refusals(world):
    p = world.propose()
    draft = world.propose(submit=False)
    with pytest.raises(PermissionDenied):
        comments.add_comment(None, p, "Anoniem", CommentKind.QUESTION, now=NOW)
    with pytest.raises(InvalidState):
        comments.add_comment(world.user("member"), draft, "Concept?", CommentKind.QUESTION,
                             now=NOW)
    with pytest.raises(ValidationError):
        comments.add_comment(world.user("jury"), p, "Antwoord", CommentKind.ANSWER, now=NOW)
    for body in ("", " x ", "y" * 5001, "\x00\x00"):
        with pytest.raises(ValidationError) as exc:
            comments.add_comment(world.user("jury"), p, body, CommentKind.COMMENT, now=NOW)
        assert exc.value.field == "body"
    assert count(Comment) == 0


def test_owning_municipality_answers(world):
    p = world.propose()
    question = comments.add_comment(world.user("other_member"), p, "Hoe lang duurt het?",
                                    CommentKind.QUESTION, now=NOW)
    reply = comments.answer(world.user("delegate"), question, "Twee weken.", now=LATER)
    assert reply.kind == "answer" and reply.parent_id == question.id
    assert reply.municipality_id == p.municipality_id
    assert comments.thread(p) == [(question, [reply])]
    with pytest.raises(InvalidState):
        comments.answer(world.user("member"), reply, "Op een antwoord?", now=LATER)
    for role in ("other_member", "jury", "organiser"):
        with pytest.raises(PermissionDenied):
            comments.answer(world.user(role), question, "Ik antwoord ook.", now=LATER)
    assert comments.can_answer(world.user("member"), p)
    assert not comments.can_answer(None, p)
    assert "comment.answer" in audit_actions()


def test_accepted_cosubmitter_answers_too(world):
    p = world.propose()
    amsterdam = world.user("other_member")
    question = comments.add_comment(world.user("jury"), p, "Wie doet mee?",
                                    CommentKind.QUESTION, now=NOW)
    assert not comments.can_answer(amsterdam, p)
    request = proposals.request_cosubmission(amsterdam, p, "", now=NOW)
    proposals.decide_cosubmission(world.user("member"), request, True, now=NOW)
    assert comments.answer(amsterdam, question, "Amsterdam ook.", now=LATER).kind == "answer"


def test_anyone_reports_and_organisers_hide(world):
    p = world.propose()
    rude = comments.add_comment(world.user("other_member"), p, "Onbeschofte tekst.",
                                CommentKind.COMMENT, now=NOW)
    anonymous = comments.report(None, rude, "  Beledigend  ", now=NOW)
    assert anonymous.reporter_id is None and anonymous.reason == "Beledigend"
    by_member = comments.report(world.user("member"), rude, "Grof", now=NOW)
    assert by_member.reporter_id == world.user_ids["member"]
    with pytest.raises(ValidationError):
        comments.report(None, rude, "x", now=NOW)
    assert [r.id for r in comments.open_reports()] == [anonymous.id, by_member.id]
    for role in ("member", "jury"):
        with pytest.raises(PermissionDenied):
            comments.hide(world.user(role), rude, "Niet netjes.", now=LATER)
    with pytest.raises(ValidationError):
        comments.hide(world.user("organiser"), rude, "x", now=LATER)
    comments.hide(world.user("organiser"), rude, "Beledigend taalgebruik.", now=LATER)
    db.session.commit()
    stored = db.session.get(Comment, rude.id)
    assert stored.is_hidden and stored.hidden_reason == "Beledigend taalgebruik."
    assert stored.body == "Onbeschofte tekst."  # kept, not deleted
    assert stored.hidden_by_id == world.user_ids["organiser"]
    assert comments.open_reports() == []
    assert {r.resolution for r in db.session.scalars(select(ContentReport))} == {"hidden"}
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "comment.hidden"))
    assert event.data == {"reason": "Beledigend taalgebruik."}
    assert event.object_id == str(rude.id)
    reported = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "comment.reported")).all()
    assert [e.actor_id for e in reported] == [None, world.user_ids["member"]]
    with pytest.raises(InvalidState):
        comments.hide(world.user("organiser"), rude, "Nog eens.", now=LATER)
    with pytest.raises(InvalidState):
        comments.report(None, rude, "Nog steeds grof", now=LATER)


def test_dismissing_reports(world):
    p = world.propose()
    fine = comments.add_comment(world.user("jury"), p, "Prima tekst.", CommentKind.COMMENT,
                                now=NOW)
    comments.report(None, fine, "Vind ik niet leuk", now=NOW)
    with pytest.raises(PermissionDenied):
        comments.dismiss_reports(world.user("member"), fine, now=LATER)
    comments.dismiss_reports(world.user("organiser"), fine, now=LATER)
    assert comments.open_reports() == [] and not fine.is_hidden
    assert db.session.scalar(select(ContentReport.resolution)) == "dismissed"
    assert "comment.reports_dismissed" in audit_actions()


def test_unknown_comment(world):
    for bad in (0, 31337, 2**63, 10**30):
        with pytest.raises(NotFound):
            comments.get_comment(bad)


# --- HTTP --------------------------------------------------------------------------------------


@pytest.fixture
def site(app, people):
    app.config["FROZEN_NOW"] = NOW + timedelta(hours=1)
    with app.app_context():
        w = make_world(people)
        p = w.propose()
        draft = w.propose(submit=False, title="Concept zonder reacties nog")
        question = comments.add_comment(w.user("other_member"), p, "Vraag van Amsterdam hier",
                                        CommentKind.QUESTION, now=NOW)
        db.session.commit()
        return {"pid": p.id, "draft": draft.id, "qid": question.id, "world": w}


def comment_rows(app) -> list[Comment]:
    with app.app_context():
        rows = db.session.scalars(select(Comment).order_by(Comment.id)).all()
        db.session.expunge_all()
        return rows


def test_comment_over_http(app, client, auth, people, site):
    url = f"/voorstellen/{site['pid']}/reacties"
    response = client.post(url, data={"kind": "comment", "body": "Anoniem"})
    assert response.status_code == 302 and "/inloggen" in response.headers["Location"]
    auth.login(people["jury"])
    response = client.post(url, data={"kind": "comment", "body": "Mooi plan van de jury"})
    assert response.status_code == 302
    rows = comment_rows(app)
    assert rows[-1].body == "Mooi plan van de jury" and rows[-1].kind == "comment"
    assert f"#reactie-{rows[-1].id}" in response.headers["Location"]
    for bad in ({"kind": "answer", "body": "Geen vraag"}, {"kind": "question", "body": ""},
                {"kind": "question", "body": "z" * 6000}, {"kind": "x" * 500, "body": "ok ok"},
                {}):
        assert client.post(url, data=bad).status_code == 302
    assert len(comment_rows(app)) == 2
    page = client.get(f"/voorstellen/{site['pid']}").get_data(as_text=True)
    assert "Mooi plan van de jury" in page and "Vraag van Amsterdam hier" in page
    assert client.post(f"/voorstellen/{site['draft']}/reacties",
                       data={"kind": "comment", "body": "Concept"}).status_code == 404


def test_answer_over_http(app, client, auth, people, site):
    url = f"/reacties/{site['qid']}/antwoord"
    auth.login(people["other_member"])
    assert client.post(url, data={"body": "Zelf antwoorden"}).status_code == 403
    auth.logout()
    auth.login(people["delegate"])
    assert client.post(url, data={"body": ""}).status_code == 302
    response = client.post(url, data={"body": "Antwoord van Utrecht"})
    assert response.status_code == 302
    reply = comment_rows(app)[-1]
    assert reply.kind == "answer" and reply.parent_id == site["qid"]
    page = client.get(f"/voorstellen/{site['pid']}").get_data(as_text=True)
    assert "Antwoord van Utrecht" in page
    assert client.post("/reacties/987654/antwoord", data={"body": "x y"}).status_code == 404


def test_report_hide_and_moderation_over_http(app, client, auth, people, site):
    qid = site["qid"]
    assert client.get(f"/reacties/{qid}/melden").status_code == 200
    response = client.post(f"/reacties/{qid}/melden", data={"reason": "Dit is spam"})
    assert response.status_code == 302
    assert client.post(f"/reacties/{qid}/melden", data={"reason": ""}).status_code == 200
    with app.app_context():
        (report,) = db.session.scalars(select(ContentReport)).all()
        assert report.reporter_id is None and report.reason == "Dit is spam"
    auth.login(people["member"])
    assert client.get("/beheer/moderatie").status_code == 403
    assert client.post(f"/beheer/reacties/{qid}/verbergen",
                       data={"reason": "Spam"}).status_code == 403
    auth.logout()
    auth.login(people["organiser"])
    page = client.get("/beheer/moderatie").get_data(as_text=True)
    assert "Vraag van Amsterdam hier" in page and "Dit is spam" in page
    assert client.post(f"/beheer/reacties/{qid}/verbergen", data={"reason": ""}).status_code \
        == 302
    assert not comment_rows(app)[0].is_hidden
    response = client.post(f"/beheer/reacties/{qid}/verbergen",
                           data={"reason": "Reclame voor een bedrijf"})
    assert response.status_code == 302
    (hidden,) = comment_rows(app)
    assert hidden.is_hidden and hidden.body == "Vraag van Amsterdam hier"
    assert "Vraag van Amsterdam hier" not in client.get("/beheer/moderatie").get_data(
        as_text=True)
    with app.app_context():
        assert db.session.scalar(select(AuditEvent.data).where(
            AuditEvent.action == "comment.hidden")) == {"reason": "Reclame voor een bedrijf"}
    auth.logout()
    page = client.get(f"/voorstellen/{site['pid']}").get_data(as_text=True)
    assert "Reclame voor een bedrijf" in page
    assert "Vraag van Amsterdam hier" not in page
    # The report page quotes the message: not for a hidden one.
    response = client.get(f"/reacties/{qid}/melden")
    assert response.status_code == 409
    assert "Vraag van Amsterdam hier" not in response.get_data(as_text=True)
    assert client.post(f"/reacties/{qid}/melden", data={"reason": "Nog eens"}).status_code == 409
    assert client.get("/reacties/424242/melden").status_code == 404


def test_dismiss_over_http(app, client, auth, people, site):
    client.post(f"/reacties/{site['qid']}/melden", data={"reason": "Niet mee eens"})
    auth.login(people["organiser"])
    assert client.post(f"/beheer/reacties/{site['qid']}/afwijzen").status_code == 302
    assert client.post("/beheer/reacties/99999/afwijzen").status_code == 404
    with app.app_context():
        assert comments.open_reports() == []
    assert not comment_rows(app)[0].is_hidden


def test_follow_over_http(app, client, auth, people, site):
    url = f"/voorstellen/{site['pid']}/volgen"
    auth.login(people["jury"])
    assert client.post(url, data={"follow": "1"}).status_code == 302
    with app.app_context():
        follow = db.session.scalar(select(Follow).where(
            Follow.user_id == site["world"].user_ids["jury"]))
        assert follow is not None and follow.ended_at is None
    assert client.post(url, data={"follow": "0"}).status_code == 302
    with app.app_context():
        follow = db.session.scalar(select(Follow).where(
            Follow.user_id == site["world"].user_ids["jury"]))
        assert follow.ended_at is not None
    assert client.post(f"/voorstellen/{site['draft']}/volgen",
                       data={"follow": "1"}).status_code == 404
