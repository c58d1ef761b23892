"""Notifications: delivery by the job worker with retries, the categories users switch off, and
every moment that mails (a phase opens or is about to close, the final vote opens, reminders to
delegates, results, a standard's new version), each to the right people exactly once.

The round scenes are the preselection and final-vote tests' (see tests/test_preselection_service
for who is who): team U, A, G (Utrecht, Amsterdam, Groningen: members and delegates), jurors
"jury", "juror_u", "juror_g"; an inactive member of Utrecht ("oud@"), a delegate of an inactive
municipality ("delegate@sudwest") and an inactive delegate ("delegate@rotterdam").
"""

import re
import smtplib
import threading
from datetime import date, timedelta

import pytest
from flask_mailman.backends.base import BaseEmailBackend
from sqlalchemy import func, select

from competition.extensions import db
from competition.models import (
    Adoption,
    AuditEvent,
    Job,
    NotificationMark,
    OutboxMail,
    Phase,
    Role,
    Standard,
    User,
)
from competition.services import accounts, jobs, mail, notifications, preselection, standards
from tests.conftest import IS_POSTGRES, NOW, PASSWORD, make_user
from tests.test_accounts import FailingBackend
from tests.test_final_vote import carry_to_final_vote, cast, close_final_vote
from tests.test_preselection_service import build, score_and_vote

TEAM = {"member@utrecht.example", "delegate@utrecht.example", "delegate2@utrecht.example",
        "member@amsterdam.example", "delegate@amsterdam.example", "member@groningen.example",
        "delegate@groningen.example"}
JURORS = {"jury@example.org", "jurylid@utrecht.example", "jurylid@groningen.example"}
DELEGATES = {"delegate@utrecht.example", "delegate2@utrecht.example",
             "delegate@amsterdam.example", "delegate@groningen.example"}
NEVER = {"oud@utrecht.example", "delegate@sudwest.example", "delegate@rotterdam.example",
         "member@rotterdam.example", "org@example.org"}


def rows(category: str | None = None, subject: str = "") -> list[OutboxMail]:
    stmt = select(OutboxMail).order_by(OutboxMail.id)
    if category:
        stmt = stmt.where(OutboxMail.category == category)
    return [m for m in db.session.scalars(stmt) if subject in m.subject]


def recipients(category: str | None = None, subject: str = "") -> list[str]:
    return sorted(m.to for m in rows(category, subject))


def delivery_jobs(status: str | None = None) -> list[Job]:
    stmt = select(Job).where(Job.kind == mail.DELIVERY_JOB).order_by(Job.id)
    if status:
        stmt = stmt.where(Job.status == status)
    return list(db.session.scalars(stmt))


def user(email: str) -> User:
    return accounts.find_user_by_email(email)


def mute(email: str, *categories: str) -> None:
    user(email).muted_categories = list(categories)
    db.session.commit()


def english() -> None:
    """Every user reads English mail (the assertions do not depend on the translations)."""
    for each in db.session.scalars(select(User)):
        each.locale = "en"
    db.session.commit()


class FakeRound:
    title = "Ronde"


def closing_mail(to: User, category: str = notifications.PHASE):
    return notifications.notify(to, category, "phase_closing", now=NOW, round=FakeRound(),
                                phase=Phase.SUBMISSION, ends_at=NOW,
                                link="https://example.org/ronde")


# --- delivery by the job worker ----------------------------------------------------------------


@pytest.fixture
def worker(app):
    """The default delivery: a background job sends the mail."""
    app.config["MAIL_DELIVERY"] = "worker"
    return app


def forgot(client, email: str):
    return client.post("/wachtwoord-vergeten", data={"email": email})


def test_mail_is_delivered_by_the_worker_by_default(app):
    assert mail.DELIVERY_MODES == ("worker", "inline")
    from competition import create_app

    bare = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert bare.config["MAIL_DELIVERY"] == "worker"
    with pytest.raises(ValueError):
        create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://",
                    "MAIL_DELIVERY": "sometimes"})


def test_a_request_queues_the_mail_and_the_worker_sends_it(worker, client, people, outbox):
    assert forgot(client, people["member"]).status_code == 302
    assert len(outbox) == 0  # the request did not wait for the mail server
    with worker.app_context():
        (row,) = rows()
        assert row.sent_at is None and row.attempts == 0
        (job,) = delivery_jobs()
        assert job.status == "queued"
        assert jobs.run_pending() == 1
        db.session.refresh(row)
        assert row.sent_at is not None
        assert db.session.get(Job, job.id).status == "done"
        assert db.session.get(Job, job.id).result == {"sent": 1, "failed": 0}
    assert [m.to for m in outbox.messages] == [[people["member"]]]


def test_one_waiting_job_delivers_many_mails(worker, client, people, outbox):
    for email in (people["member"], people["delegate"], people["jury"]):
        forgot(client, email)
    with worker.app_context():
        assert len(rows()) == 3
        assert len(delivery_jobs()) == 1  # no pile of duplicate jobs
        assert jobs.run_pending() == 1
    assert len(outbox) == 3


def test_a_failing_mail_server_loses_neither_the_action_nor_the_mail(worker, client, people,
                                                                      outbox, monkeypatch):
    monkeypatch.setattr(worker.extensions["mailman"], "backend", FailingBackend)
    assert forgot(client, people["member"]).status_code == 302
    with worker.app_context():
        # The action is committed (its audit event), the mail waits.
        assert db.session.scalar(select(func.count(AuditEvent.id)).where(
            AuditEvent.action == "user.password_reset_requested")) == 1
        jobs.run_pending()
        (row,) = rows()
        assert row.sent_at is None and row.attempts == 1
        assert "mail server unreachable" in row.last_error
        (job,) = delivery_jobs()
        assert job.status == "queued" and job.attempts == 1  # retried later, with back-off
        assert "wait in the outbox for a retry" in job.error
        assert jobs.run_one() is None  # not yet: backing off

    # New mail meanwhile waits for that retry instead of adding a job.
    forgot(client, people["delegate"])
    with worker.app_context():
        assert len(delivery_jobs()) == 1

        monkeypatch.undo()
        job = delivery_jobs()[0]
        assert jobs.run_one(now=job.run_after).id == job.id
        db.session.expire_all()
        assert delivery_jobs()[0].status == "done"
        assert all(m.sent_at is not None for m in rows())
        assert rows()[0].attempts == 2 and rows()[0].last_error is None
    assert sorted(m.to[0] for m in outbox.messages) == sorted([people["member"],
                                                              people["delegate"]])


class RefusingBackend(BaseEmailBackend):
    """A mail server that refuses the address for good."""

    def send_messages(self, messages):
        raise smtplib.SMTPRecipientsRefused({messages[0].to[0]: (550, b"no such user")})


def test_a_refused_address_is_given_up_at_once_and_holds_up_nothing(worker, client, people,
                                                                    monkeypatch):
    monkeypatch.setattr(worker.extensions["mailman"], "backend", RefusingBackend)
    forgot(client, people["member"])
    with worker.app_context():
        jobs.run_pending()
        (row,) = rows()
        assert row.sent_at is None and row.attempts == mail.MAX_ATTEMPTS
        assert "SMTPRecipientsRefused" in row.last_error  # kept, with the reason
        assert delivery_jobs()[0].status == "done"


def test_the_clock_gives_waiting_mail_a_job_again(worker, people, ctx):
    closing_mail(user(people["member"]))
    db.session.commit()
    (job,) = delivery_jobs()
    job.status = "failed"  # it gave up (the mail server was down for long)
    db.session.commit()
    assert mail.sweep(NOW) is True
    db.session.commit()
    assert [j.status for j in delivery_jobs()] == ["failed", "queued"]
    assert jobs.run_pending() == 1
    assert mail.sweep(NOW) is False


def test_send_mail_stays_a_manual_retry(worker, client, people, runner, outbox):
    forgot(client, people["member"])
    result = runner.invoke(args=["competition", "send-mail"])
    assert result.exit_code == 0 and "1 sent" in result.output
    assert len(outbox) == 1
    with worker.app_context():
        assert jobs.run_pending() == 1  # the job finds nothing left to send
    assert len(outbox) == 1


# --- categories and opting out -----------------------------------------------------------------


def test_a_switched_off_category_is_not_mailed_and_the_others_are(ctx, people):
    mute(people["member"], notifications.PHASE, notifications.VOTE)
    member = user(people["member"])
    assert closing_mail(member) is None
    assert closing_mail(member, notifications.VOTE) is None
    assert closing_mail(member, notifications.JURY) is not None
    assert closing_mail(user(people["delegate"])) is not None
    assert recipients() == [people["delegate"], people["member"]]


def test_account_mail_cannot_be_switched_off(ctx, people):
    mute(people["member"], *notifications.CATEGORIES)
    accounts.request_password_reset(people["member"], now=NOW)
    assert recipients(notifications.ACCOUNT) == [people["member"]]


def test_inactive_users_get_no_mail(ctx, people):
    gone = make_user("weg@utrecht.example", Role.MEMBER,
                     municipality=user(people["member"]).municipality, is_active=False)
    assert closing_mail(gone) is None
    # Also when a service addresses the mail without the user object.
    assert mail.queue_mail(to=gone.email, template="phase_closing", category="phase", now=NOW,
                           user=None, round=FakeRound(), phase=Phase.SUBMISSION, ends_at=NOW,
                           link="https://example.org/") is None
    assert rows() == []


def test_the_switch_is_found_by_address_too(ctx, people):
    mute(people["jury"], notifications.JURY)
    assert mail.queue_mail(to=people["jury"], template="phase_closing", category="jury",
                           now=NOW, round=FakeRound(), phase=Phase.SUBMISSION, ends_at=NOW,
                           link="https://example.org/") is None


def test_an_unknown_category_is_a_programming_error(ctx, people):
    with pytest.raises(ValueError):
        closing_mail(user(people["member"]), "newsletter")


def test_mail_says_how_to_switch_its_kind_off_in_the_users_language(ctx, people):
    member = user(people["member"])
    member.locale = "en"
    body = closing_mail(member).body
    assert "You get this mail for: Phases" in body
    assert "/account#mail-settings" in body
    assert "https://example.org/ronde" in body
    accounts.request_password_reset(people["member"], now=NOW)
    (reset,) = rows(notifications.ACCOUNT)
    assert "/account#mail-settings" not in reset.body  # nothing to switch off


def test_every_service_mail_uses_a_known_category():
    # The categories the services pass (accounts, preselection, voting) and this module's.
    assert set(notifications.CATEGORIES) == {"account", "phase", "preselection", "vote",
                                             "results", "standards", "jury"}
    assert notifications.ACCOUNT not in notifications.OPTIONAL


# --- the account page --------------------------------------------------------------------------


@pytest.fixture
def member_client(client, people):
    client.post("/inloggen", data={"email": people["member"], "password": PASSWORD})
    client.post("/taal", data={"lang": "en"})
    return client


def checkboxes(html: str) -> dict[str, bool]:
    """The mail settings' checkboxes: value -> checked."""
    inputs = re.findall(r'<input[^>]*type="checkbox"[^>]*>', html)
    return {re.search(r'value="([^"]+)"', i).group(1): " checked" in i for i in inputs}


def test_the_account_page_lists_every_kind_of_mail_switched_on(member_client):
    html = member_client.get("/account").get_data(as_text=True)
    assert 'id="mail-settings"' in html
    assert re.search(r"<fieldset[^>]*>\s*<legend", html)
    assert checkboxes(html) == dict.fromkeys(notifications.OPTIONAL, True)
    assert 'for="categories-0"' in html  # every checkbox has its label
    # Account mail always goes out: no checkbox, a note instead.
    assert "Mail about your account (invitations, password resets) is always sent." in html


def test_the_account_page_saves_the_switched_off_kinds(app, member_client, people):
    response = member_client.post("/account/mail", data={"categories": ["phase", "results"]})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/account#mail-settings")
    with app.app_context():
        member = user(people["member"])
        assert member.muted_categories == ["preselection", "vote", "standards", "jury"]
        assert notifications.wanted_categories(member) == ["phase", "results"]
        (event,) = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "user.mail_settings_changed")).all()
        assert event.actor_id == member.id
    html = member_client.get("/account").get_data(as_text=True)
    assert [c for c, on in checkboxes(html).items() if on] == ["phase", "results"]
    # Saving the same choice again changes (and logs) nothing.
    member_client.post("/account/mail", data={"categories": ["results", "phase"]})
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditEvent.id)).where(
            AuditEvent.action == "user.mail_settings_changed")) == 1
    # Nothing checked: every optional kind is off.
    member_client.post("/account/mail", data={})
    with app.app_context():
        assert user(people["member"]).muted_categories == list(notifications.OPTIONAL)


def test_the_account_page_refuses_an_unknown_kind(app, member_client, people):
    response = member_client.post("/account/mail", data={"categories": ["phase", "spam"]})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="error-summary"' in html and "Choose from the listed kinds of mail." in html
    with app.app_context():
        assert user(people["member"]).muted_categories == []


def test_mail_settings_need_a_login(client):
    response = client.post("/account/mail", data={"categories": ["phase"]})
    assert response.status_code == 302 and "/inloggen" in response.headers["Location"]


def test_the_settings_service_refuses_strangers_and_unknown_kinds(ctx, people):
    from competition.services.errors import PermissionDenied, ValidationError

    with pytest.raises(ValidationError):
        notifications.set_wanted_categories(user(people["member"]), ["account"], now=NOW)
    gone = make_user("weg@utrecht.example", Role.MEMBER, is_active=False,
                     municipality=user(people["member"]).municipality)
    with pytest.raises(PermissionDenied):
        notifications.set_wanted_categories(gone, [], now=NOW)


# --- a phase opens -----------------------------------------------------------------------------


def test_each_phase_opening_mails_the_round_s_people_once(ctx, people):
    mute(people["other_member"], notifications.PHASE)
    s = build(people, clear_mail=False)
    # Submission opened: nobody took part yet. Clustering: the teams; preselection: the
    # teams (phase) and the jurors (jury).
    clustering = recipients("phase", "“Clustering” has started")
    assert clustering == sorted(TEAM - {people["other_member"]})
    assert recipients("phase", "“Preselection” has started") == clustering
    assert recipients("jury", "“Preselection” has started") == sorted(JURORS)
    assert not set(recipients()) & NEVER
    (mail_to_member,) = rows("phase", "“Clustering” has started")[:1]
    assert f"/rondes/{s.round.slug}" in mail_to_member.body
    assert "Submission has closed" in mail_to_member.body


def test_the_final_vote_opening_mails_every_delegate_and_the_rest_of_the_teams(ctx, people):
    carry_to_final_vote(people)
    assert recipients("vote", "final vote of") == sorted(DELEGATES)
    (to_delegate,) = [m for m in rows("vote") if m.to == "delegate@groningen.example"]
    assert "2 vraagstukken" in to_delegate.body and "/stemmen" in to_delegate.body
    assert recipients("phase", "“Final vote” has started") == sorted(TEAM - DELEGATES)
    assert not set(recipients()) & NEVER
    # Development opened earlier without a phase mail: the preselection result told the teams.
    assert recipients("phase", "“Development”") == []


def test_results_are_mailed_once_when_the_final_vote_is_counted(ctx, people):
    s = carry_to_final_vote(people)
    cast(s, "delegate", "X", "p1")
    db.session.commit()
    close_final_vote(s)
    got = recipients("results")
    assert got == sorted(TEAM | JURORS | DELEGATES)
    assert len(got) == len(set(got))
    (one,) = [m for m in rows("results") if m.to == "jury@example.org"]
    assert one.subject == f"The results of {s.round.title} are out"
    assert f"/rondes/{s.round.slug}/uitslag" in one.body
    declared = db.session.scalar(select(func.count(Standard.id)))
    assert declared >= 1 and f"declared {declared} standard" in one.body


# --- a phase is about to close (the clock) -----------------------------------------------------


def test_jurors_with_missing_scorecards_are_reminded_48_hours_before_the_end(ctx, people):
    s = build(people, clear_mail=False)
    score_and_vote(s)
    end = s.round.window(Phase.PRESELECTION).ends_at
    before = len(rows())
    assert notifications.send_due(end - timedelta(hours=49)) == 0  # not yet
    missing = {row.member.user.email for row in preselection.progress(s.round) if row.missing}
    assert missing and missing < JURORS
    assert notifications.send_due(end - timedelta(hours=47)) == len(missing)
    db.session.commit()
    assert notifications.send_due(end - timedelta(hours=46)) == 0  # once
    assert sorted(m.to for m in rows()[before:]) == sorted(missing)
    assert {m.category for m in rows()[before:]} == {"jury"}
    assert db.session.scalar(select(func.count(NotificationMark.id))) == 1


def test_submission_closing_reminds_every_team_with_a_proposal_drafts_too(ctx, people):
    from tests.proposal_helpers import make_world

    world = make_world(people)
    english()
    world.propose("member", submit=False)  # Utrecht: only a draft
    world.propose("other_member")  # Amsterdam: submitted
    db.session.commit()
    end = world.round.window(Phase.SUBMISSION).ends_at
    assert notifications.send_due(end - timedelta(hours=47)) == 3
    assert recipients("phase", "closes soon") == sorted(
        [people["member"], people["delegate"], people["other_member"]])
    # A moved end date is a new moment: one more reminder before the new end.
    db.session.commit()
    world.round.window(Phase.SUBMISSION).ends_at = end + timedelta(days=3)
    db.session.commit()
    assert notifications.send_due(end - timedelta(hours=46)) == 0
    assert notifications.send_due(end + timedelta(days=3) - timedelta(hours=47)) == 3


def test_development_closing_reminds_the_finalists_teams(ctx, people):
    s = carry_to_final_vote(people, open_vote=False)
    end = s.round.window(Phase.DEVELOPMENT).ends_at
    before = len(rows())
    notifications.send_due(end - timedelta(hours=47))
    # Every team has a finalist here (p1 U, p2 A with G, q1 A, q2 G).
    assert sorted(m.to for m in rows()[before:]) == sorted(TEAM)
    assert {m.subject for m in rows()[before:]} == {
        f"{s.round.title}: the phase “Development” closes soon"}


def test_tick_twice_sends_the_reminders_once(app, people, runner):
    with app.app_context():
        s = carry_to_final_vote(people)
        cast(s, "delegate", "X", "p1")
        cast(s, "delegate", "Y", "q1")  # Utrecht voted everywhere
        cast(s, "delegate_a", "X", "p2")  # Amsterdam misses Y; Groningen misses both
        db.session.commit()
        mute("delegate@groningen.example", notifications.VOTE)
        end = s.round.window(Phase.FINAL_VOTE).ends_at
    app.config["FROZEN_NOW"] = end - timedelta(hours=47)
    for _ in range(2):
        result = runner.invoke(args=["competition", "tick"])
        assert result.exit_code == 0, result.output
    with app.app_context():
        reminders = rows("vote", "Reminder")
        assert [m.to for m in reminders] == ["delegate@amsterdam.example"]
        assert "1 vraagstuk of" in reminders[0].body
        assert reminders[0].sent_at is not None  # inline delivery under test: sent by tick


def test_a_phase_nobody_acts_in_gets_no_reminder(ctx, people):
    s = build(people, preselection_open=False, clear_mail=False)  # in clustering
    end = s.round.window(Phase.CLUSTERING).ends_at
    before = len(rows())
    assert notifications.send_due(end - timedelta(hours=47)) == 0
    assert len(rows()) == before
    # The moment is marked all the same, so the clock does not look at it again.
    assert db.session.scalar(select(func.count(NotificationMark.id))) == 1


def test_a_concurrent_clock_that_marked_the_moment_first_wins(ctx, people):
    s = build(people, clear_mail=False)
    end = s.round.window(Phase.PRESELECTION).ends_at
    (moment,) = notifications.due_moments(end - timedelta(hours=47))
    # Another clock inserted the mark between our read and our insert.
    db.session.add(NotificationMark(key=moment.key, created_at=NOW))
    db.session.flush()
    assert notifications._claim(moment.key, NOW) is False
    before = len(rows())
    assert notifications.send_due(end - timedelta(hours=47)) == 0
    assert len(rows()) == before


@pytest.mark.skipif(not IS_POSTGRES, reason="concurrent writers need PostgreSQL")
def test_two_clocks_at_once_send_the_reminders_once(app, people, monkeypatch):
    with app.app_context():
        s = build(people, clear_mail=False)
        score_and_vote(s)
        at = s.round.window(Phase.PRESELECTION).ends_at - timedelta(hours=47)
        before = len(rows())
    barrier = threading.Barrier(2)
    real = notifications.due_moments

    def due_together(now):
        found = real(now)
        barrier.wait(timeout=10)  # both clocks saw the moment as not yet sent
        return found

    monkeypatch.setattr(notifications, "due_moments", due_together)
    outcomes = []

    def tick():
        with app.app_context():
            try:
                outcomes.append(notifications.send_due(at))
                db.session.commit()
            except Exception as exc:  # pragma: no cover - reported below
                db.session.rollback()
                outcomes.append(repr(exc))
            db.session.remove()

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    with app.app_context():
        sent = rows()[before:]
        assert sorted(outcomes) == [0, len(sent)] and len(sent) == 2
        assert len({m.to for m in sent}) == 2


# --- a standard gets a new version -------------------------------------------------------------


def adopt(s, standard: Standard, code: str, status: str) -> None:
    extra = {"adopted_on": date(2027, 4, 1)} if status == "adopted" else {}
    if status == "intends":
        extra = {"planned_on": date(2027, 9, 1)}
    db.session.add(Adoption(standard_id=standard.id, municipality_id=s.mid(code),
                            status=status, updated_at=NOW, updated_by_id=s.uid("organiser"),
                            **extra))


def test_a_new_version_is_mailed_to_adopting_municipalities_only(ctx, people):
    s = carry_to_final_vote(people)
    cast(s, "delegate", "X", "p1")
    db.session.commit()
    close_final_vote(s)
    standard = db.session.scalars(select(Standard).order_by(Standard.id)).first()
    adopt(s, standard, "GM0344", "adopted")  # Utrecht
    adopt(s, standard, "GM0363", "adopting")  # Amsterdam
    adopt(s, standard, "GM0014", "intends")  # Groningen: not yet
    mute("delegate2@utrecht.example", notifications.STANDARDS)
    db.session.commit()

    def change(version: str, description: str = ""):
        data = standards.StandardData(description=description or standard.description,
                                      demo_url="", documentation_url="", source_url="",
                                      licence="", version=version)
        standards.update_standard(s.user("organiser"), standard, data, now=NOW)
        db.session.commit()

    change("1.0", description="Alleen de tekst.")  # no new version: no mail
    assert rows("standards") == []
    change("2.0")
    assert recipients("standards") == sorted(
        ["member@utrecht.example", "delegate@utrecht.example", "member@amsterdam.example",
         "delegate@amsterdam.example"])
    (one,) = [m for m in rows("standards") if m.to == "member@amsterdam.example"]
    assert one.subject == f"New version of {standard.name}: 2.0"
    assert "(was 1.0)" in one.body and f"/standaarden/{standard.id}" in one.body
