"""Login, logout, invitations, password reset and user administration over HTTP.

Assertions are on status codes, redirects, database state, audit rows, field-error markers and
mailed links, not on wording (translations change).
"""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from competition import create_app
from competition.extensions import db
from competition.models import AuditEvent, Invitation, Municipality, OutboxMail, Role, User
from competition.services import accounts
from tests.conftest import BASE_CONFIG, NOW, PASSWORD, make_user
from tests.test_accounts import FailingBackend

NEW_PASSWORD = "a brand new passphrase 2027"


# --- helpers -----------------------------------------------------------------------------------


def login(client, email, password=PASSWORD, **kwargs):
    return client.post("/inloggen", data={"email": email, "password": password}, **kwargs)


def is_logged_in(client) -> bool:
    response = client.get("/account")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def redirects_to_login(response) -> bool:
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == (
        "/inloggen"
    )


def error_summary(response) -> str:
    match = re.search(r'<div class="[^"]*oc-error-summary.*?</div>',
                      response.get_data(as_text=True), re.S)
    assert match, "no error summary"
    return match.group(0)


def flashes(response) -> str:
    match = re.search(r'<div class="oc-flashes">.*?</div>\s*</div>',
                      response.get_data(as_text=True), re.S)
    return match.group(0) if match else ""


def field_error(response, field: str) -> bool:
    return f'id="{field}-error"' in response.get_data(as_text=True)


def mailed_path(message, path: str) -> str:
    match = re.search(rf"https?://[^\s/]+(/{path}/\S+)", message.body)
    assert match, message.body
    return match.group(1)


def audit_actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def user_by_email(app, email) -> User | None:
    with app.app_context():
        user = accounts.find_user_by_email(email)
        if user is not None:
            db.session.expunge(user)
        return user


def municipality_id(app, code: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Municipality.id).where(Municipality.code == code))


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(model.id)))


@pytest.fixture
def frozen(app):
    """Freeze the web clock at NOW; returns a setter to move it."""
    app.config["FROZEN_NOW"] = NOW

    def move(moment):
        app.config["FROZEN_NOW"] = moment

    return move


@pytest.fixture
def organiser_client(app, people):
    client = app.test_client()
    assert login(client, people["organiser"]).status_code == 302
    return client


# --- login -------------------------------------------------------------------------------------


def test_login_page(client):
    response = client.get("/inloggen")
    assert response.status_code == 200
    assert 'name="email"' in response.get_data(as_text=True)


def test_login_with_correct_password(app, client, people, frozen):
    response = login(client, people["member"])
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert is_logged_in(client)
    assert user_by_email(app, people["member"]).last_login_at == NOW
    assert audit_actions(app) == ["user.login"]


def test_login_email_is_case_insensitive(client, people):
    assert login(client, "  MEMBER@Utrecht.EXAMPLE ").status_code == 302
    assert is_logged_in(client)


def test_wrong_password_and_unknown_email_look_the_same(app, people):
    wrong = login(app.test_client(), people["member"], "not the password at all")
    unknown = login(app.test_client(), "nobody@utrecht.example", PASSWORD)
    assert wrong.status_code == unknown.status_code == 200
    assert error_summary(wrong) == error_summary(unknown)
    assert not field_error(wrong, "password") and not field_error(wrong, "email")
    assert audit_actions(app) == ["user.login_failed"]


def test_failed_login_does_not_log_in(client, people):
    login(client, people["member"], "not the password at all")
    assert not is_logged_in(client)


def test_deactivated_user_cannot_log_in(app, client, people):
    with app.app_context():
        accounts.find_user_by_email(people["member"]).is_active = False
        db.session.commit()
    response = login(client, people["member"])
    assert response.status_code == 200
    error_summary(response)
    assert not is_logged_in(client)


@pytest.mark.parametrize("data", [{}, {"email": "", "password": ""},
                                  {"email": "x" * 300, "password": "y"},
                                  {"email": "a@b.c", "password": "p" * 2000}])
def test_incomplete_login_forms_are_errors_not_crashes(client, people, data):
    response = client.post("/inloggen", data=data)
    assert response.status_code == 200
    assert not is_logged_in(client)


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/beheer/", "/beheer/"),
        ("/rondes?x=1", "/rondes?x=1"),
        ("https://evil.example/", "/"),
        ("http://evil.example", "/"),
        ("//evil.example/path", "/"),
        ("///evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("evil.example", "/"),
        ("", "/"),
    ],
)
def test_next_only_redirects_within_the_site(client, people, next_url, expected):
    response = client.post("/inloggen", query_string={"next": next_url},
                           data={"email": people["organiser"], "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == expected


@pytest.mark.parametrize("next_url", ["/\\evil.example", "/\t/evil.example", "\\\\evil.example",
                                      " //evil.example"])
def test_next_tricks_stay_on_the_site(client, people, next_url):
    response = client.post("/inloggen", query_string={"next": next_url},
                           data={"email": people["organiser"], "password": PASSWORD})
    location = response.headers["Location"]
    assert not urlsplit(location).netloc
    assert not location.startswith(("//", "/\\"))


def test_logged_in_visitor_is_sent_away_from_login(client, auth, people):
    auth.login(people["member"])
    assert client.get("/inloggen").status_code == 302


# --- rate limiting -----------------------------------------------------------------------------


def test_login_is_rate_limited(app, client, people):
    assert app.config["LOGIN_RATE_LIMIT"] == "10 per minute;50 per hour"
    for _ in range(10):
        assert login(client, people["member"], "wrong password here").status_code == 200
    assert login(client, people["member"], "wrong password here").status_code == 429
    # Even the right password is refused until the window passes.
    assert login(client, people["member"]).status_code == 429
    assert not is_logged_in(client)
    assert client.get("/inloggen").status_code == 200  # only POSTs count


def test_login_rate_limit_per_account_across_addresses(client, people):
    for i in range(10):
        response = login(client, people["member"], "wrong password here",
                         environ_base={"REMOTE_ADDR": f"10.0.0.{i}"})
        assert response.status_code == 200
    response = login(client, people["member"], "wrong password here",
                     environ_base={"REMOTE_ADDR": "10.0.1.1"})
    assert response.status_code == 429
    # Another account from a fresh address is not affected.
    response = login(client, people["jury"], environ_base={"REMOTE_ADDR": "10.0.1.2"})
    assert response.status_code == 302


def test_login_rate_limit_comes_from_config(app, client, people):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    for _ in range(3):
        assert login(client, people["member"], "wrong password here").status_code == 200
    assert login(client, people["member"], "wrong password here").status_code == 429


# --- logout ------------------------------------------------------------------------------------


def test_logout_needs_post(app, client, auth, people):
    auth.login(people["member"])
    assert client.get("/uitloggen").status_code == 405
    assert is_logged_in(client)
    response = auth.logout()
    assert response.status_code == 302
    assert not is_logged_in(client)
    assert audit_actions(app)[-1] == "user.logout"


def test_logout_when_logged_out(client):
    assert redirects_to_login(client.post("/uitloggen"))


# --- CSRF --------------------------------------------------------------------------------------


@pytest.fixture
def csrf_app(database_url, tmp_path):
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url,
                      "WTF_CSRF_ENABLED": True, "MAIL_FOLDER": str(tmp_path / "mail")})
    with app.app_context():
        make_user("jury@example.org", Role.JURY)
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def csrf_token(response) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.get_data(as_text=True))
    assert match
    return match.group(1)


def test_login_and_logout_need_the_csrf_token(csrf_app):
    client = csrf_app.test_client()
    response = login(client, "jury@example.org")
    assert response.status_code == 400
    token = csrf_token(client.get("/inloggen"))
    response = client.post("/inloggen", data={"email": "jury@example.org",
                                              "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    assert client.post("/uitloggen").status_code == 400  # a cross-site form cannot log out
    assert is_logged_in(client)
    token = csrf_token(client.get("/account"))
    assert client.post("/uitloggen", data={"csrf_token": token}).status_code == 302
    assert not is_logged_in(client)


# --- invitations -------------------------------------------------------------------------------


def invite(organiser_client, app, email="nieuw@utrecht.example", roles=("member",),
           code="GM0344"):
    return organiser_client.post(
        "/beheer/uitnodigingen",
        data={"email": email, "name": "Nora Nieuw",
              "municipality_id": municipality_id(app, code) if code else 0,
              "roles": list(roles)},
    )


def test_invitation_link_works_once(app, frozen, organiser_client, outbox):
    response = invite(organiser_client, app, email="Nieuw@Utrecht.Example",
                      roles=("member", "delegate"))
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/beheer/uitnodigingen"
    assert len(outbox) == 1
    assert outbox[0].to == ["nieuw@utrecht.example"]
    path = mailed_path(outbox[0], "uitnodiging")

    invitee = app.test_client()
    assert invitee.get(path).status_code == 200
    response = invitee.post(path, data={"name": "Nora N.", "password": NEW_PASSWORD,
                                        "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert is_logged_in(invitee)
    user = user_by_email(app, "nieuw@utrecht.example")
    assert user.name == "Nora N."
    assert user.roles == {Role.MEMBER, Role.DELEGATE}
    assert user.municipality_id == municipality_id(app, "GM0344")

    assert invitee.get(path).status_code == 410
    again = app.test_client().post(path, data={"name": "X", "password": NEW_PASSWORD,
                                               "confirm": NEW_PASSWORD})
    assert again.status_code == 410
    assert count(app, User) == 6
    assert audit_actions(app)[-3:] == ["user.login", "invitation.created", "user.created"]
    # The new account logs in with its password.
    fresh = app.test_client()
    assert login(fresh, "nieuw@utrecht.example", NEW_PASSWORD).status_code == 302


def test_invitation_expires_after_seven_days(app, frozen, organiser_client, outbox):
    invite(organiser_client, app)
    path = mailed_path(outbox[0], "uitnodiging")
    frozen(NOW + timedelta(days=7) - timedelta(minutes=1))
    assert app.test_client().get(path).status_code == 200
    frozen(NOW + timedelta(days=7))
    anonymous = app.test_client()
    assert anonymous.get(path).status_code == 410
    response = anonymous.post(path, data={"name": "N", "password": NEW_PASSWORD,
                                          "confirm": NEW_PASSWORD})
    assert response.status_code == 410
    assert user_by_email(app, "nieuw@utrecht.example") is None


def test_resent_invitation_kills_the_old_link(app, frozen, organiser_client, outbox):
    invite(organiser_client, app)
    old_path = mailed_path(outbox[0], "uitnodiging")
    with app.app_context():
        invitation_id = db.session.scalar(select(Invitation.id))
    frozen(NOW + timedelta(days=6))
    response = organiser_client.post(f"/beheer/uitnodigingen/{invitation_id}/opnieuw")
    assert response.status_code == 302
    assert len(outbox) == 2
    new_path = mailed_path(outbox[1], "uitnodiging")
    assert new_path != old_path
    frozen(NOW + timedelta(days=10))  # past the first expiry, within the second
    assert app.test_client().get(old_path).status_code == 410
    assert app.test_client().get(new_path).status_code == 200
    assert "invitation.resent" in audit_actions(app)


def test_revoked_invitation_link_is_dead(app, frozen, organiser_client, outbox):
    invite(organiser_client, app)
    path = mailed_path(outbox[0], "uitnodiging")
    with app.app_context():
        invitation_id = db.session.scalar(select(Invitation.id))
    response = organiser_client.post(f"/beheer/uitnodigingen/{invitation_id}/intrekken")
    assert response.status_code == 302
    assert app.test_client().get(path).status_code == 410
    assert audit_actions(app)[-1] == "invitation.revoked"
    # Withdrawing again is refused politely (flash + redirect), not a crash.
    response = organiser_client.post(f"/beheer/uitnodigingen/{invitation_id}/intrekken")
    assert response.status_code == 302
    assert audit_actions(app).count("invitation.revoked") == 1


@pytest.mark.parametrize("action", ["opnieuw", "intrekken"])
def test_unknown_invitation_is_404(organiser_client, action):
    assert organiser_client.post(f"/beheer/uitnodigingen/9999/{action}").status_code == 404


def test_opening_an_invitation_link_does_not_log_you_out(app, organiser_client, outbox):
    invite(organiser_client, app)
    path = mailed_path(outbox[0], "uitnodiging")
    assert organiser_client.get(path).status_code == 200
    assert is_logged_in(organiser_client)


def test_inviting_an_existing_users_email_is_refused(app, organiser_client, outbox, people):
    response = invite(organiser_client, app, email=people["member"].upper())
    assert response.status_code == 200
    assert field_error(response, "email")
    assert len(outbox) == 0
    assert count(app, Invitation) == 0


@pytest.mark.parametrize("roles", [("member",), ("delegate",)])
def test_member_or_delegate_without_municipality_is_refused(app, organiser_client, outbox,
                                                             roles):
    response = invite(organiser_client, app, roles=roles, code=None)
    assert response.status_code == 200
    assert field_error(response, "municipality_id")
    assert len(outbox) == 0 and count(app, Invitation) == 0


def test_jury_invitation_without_municipality(app, organiser_client, outbox):
    response = invite(organiser_client, app, email="jurylid@example.org", roles=("jury",),
                      code=None)
    assert response.status_code == 302
    assert len(outbox) == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "nope", "name": "N", "municipality_id": 0, "roles": ["jury"]}, "email"),
        ({"email": "a@example.org", "name": "", "municipality_id": 0, "roles": ["jury"]},
         "name"),
        ({"email": "a@example.org", "name": "N", "municipality_id": 0}, "roles"),
        ({"email": "a@example.org", "name": "N", "municipality_id": 0, "roles": ["boss"]},
         "roles"),
        ({"email": "a@example.org", "name": "N", "municipality_id": "abc",
          "roles": ["jury"]}, "municipality_id"),
        ({"email": "a@example.org", "name": "N", "municipality_id": 424242,
          "roles": ["jury"]}, "municipality_id"),
    ],
)
def test_invite_form_errors(app, organiser_client, outbox, data, field):
    response = organiser_client.post("/beheer/uitnodigingen", data=data)
    assert response.status_code == 200
    assert field_error(response, field)
    assert len(outbox) == 0 and count(app, Invitation) == 0


def test_accept_form_errors_keep_the_link_usable(app, organiser_client, outbox):
    invite(organiser_client, app)
    path = mailed_path(outbox[0], "uitnodiging")
    invitee = app.test_client()
    response = invitee.post(path, data={"name": "N", "password": NEW_PASSWORD,
                                        "confirm": NEW_PASSWORD + "x"})
    assert response.status_code == 200 and field_error(response, "confirm")
    response = invitee.post(path, data={"name": "N", "password": "short", "confirm": "short"})
    assert response.status_code == 200 and field_error(response, "password")
    response = invitee.post(path, data={"name": "N", "password": "nieuw@utrecht.example",
                                        "confirm": "nieuw@utrecht.example"})
    assert response.status_code == 200 and field_error(response, "password")
    response = invitee.post(path, data={"name": "", "password": NEW_PASSWORD,
                                        "confirm": NEW_PASSWORD})
    assert response.status_code == 200 and field_error(response, "name")
    assert user_by_email(app, "nieuw@utrecht.example") is None
    assert invitee.get(path).status_code == 200


@pytest.mark.parametrize("token", ["garbage", "x" * 500, "WzEsIngiXQ.abc"])
def test_bad_invitation_tokens_are_410(client, token):
    assert client.get(f"/uitnodiging/{token}").status_code == 410


def test_nul_in_invitation_token_is_400(client):
    assert client.get("/uitnodiging/%00").status_code == 400


def test_invitation_pages_are_for_organisers_only(app, client, auth, people):
    response = client.get("/beheer/uitnodigingen")
    assert redirects_to_login(response)
    auth.login(people["member"])
    assert client.get("/beheer/uitnodigingen").status_code == 403
    assert client.post("/beheer/uitnodigingen", data={"email": "x@example.org", "name": "X",
                                                      "municipality_id": 0,
                                                      "roles": ["organiser"]}).status_code == 403
    assert count(app, Invitation) == 0


def test_mail_failure_keeps_the_action_and_send_mail_retries(app, organiser_client, outbox,
                                                             runner, monkeypatch):
    monkeypatch.setattr(app.extensions["mailman"], "backend", FailingBackend)
    response = invite(organiser_client, app)
    assert response.status_code == 302  # the invitation succeeded
    assert count(app, Invitation) == 1
    with app.app_context():
        (row,) = db.session.scalars(select(OutboxMail)).all()
        assert row.sent_at is None and row.attempts == 1
        assert "mail server unreachable" in row.last_error
    assert len(outbox) == 0

    monkeypatch.undo()
    result = runner.invoke(args=["competition", "send-mail"])
    assert result.exit_code == 0, result.output
    assert len(outbox) == 1
    assert "/uitnodiging/" in outbox[0].body
    with app.app_context():
        assert db.session.scalar(select(OutboxMail.sent_at)) is not None


# --- password reset ----------------------------------------------------------------------------


def test_forgot_password_known_and_unknown_look_the_same(app, people, outbox):
    known = app.test_client().post("/wachtwoord-vergeten", data={"email": people["member"]},
                                   follow_redirects=True)
    unknown = app.test_client().post("/wachtwoord-vergeten",
                                     data={"email": "nobody@utrecht.example"},
                                     follow_redirects=True)
    assert known.status_code == unknown.status_code == 200
    assert known.request.path == unknown.request.path == "/inloggen"
    assert flashes(known) and flashes(known) == flashes(unknown)
    assert len(outbox) == 1
    assert outbox[0].to == [people["member"]]
    assert audit_actions(app) == ["user.password_reset_requested"]


def test_password_reset_link_works_once(app, client, people, outbox, frozen):
    other_session = app.test_client()
    login(other_session, people["member"])
    client.post("/wachtwoord-vergeten", data={"email": people["member"].upper()})
    path = mailed_path(outbox[0], "wachtwoord-herstellen")
    assert client.get(path).status_code == 200
    response = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert is_logged_in(client)
    assert not is_logged_in(other_session)  # every other session ended
    assert client.get(path).status_code == 410
    assert app.test_client().post(path, data={"password": "another passphrase here",
                                              "confirm": "another passphrase here"}
                                  ).status_code == 410
    assert login(app.test_client(), people["member"]).status_code == 200  # old password
    assert login(app.test_client(), people["member"], NEW_PASSWORD).status_code == 302
    assert "user.password_reset" in audit_actions(app)


def test_password_reset_link_expires(app, client, people, outbox, frozen):
    client.post("/wachtwoord-vergeten", data={"email": people["member"]})
    path = mailed_path(outbox[0], "wachtwoord-herstellen")
    frozen(NOW + timedelta(hours=app.config["PASSWORD_RESET_HOURS"], seconds=1))
    assert client.get(path).status_code == 410
    response = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 410
    assert login(app.test_client(), people["member"]).status_code == 302  # unchanged


def test_password_reset_form_errors(app, client, people, outbox):
    client.post("/wachtwoord-vergeten", data={"email": people["member"]})
    path = mailed_path(outbox[0], "wachtwoord-herstellen")
    response = client.post(path, data={"password": "short", "confirm": "short"})
    assert response.status_code == 200 and field_error(response, "password")
    response = client.post(path, data={"password": NEW_PASSWORD, "confirm": "different one!!"})
    assert response.status_code == 200 and field_error(response, "confirm")
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("token", ["garbage", "eyJ1IjoxfQ.abc", "x" * 400])
def test_bad_reset_tokens_are_410(client, token):
    assert client.get(f"/wachtwoord-herstellen/{token}").status_code == 410


def test_forgot_password_form_errors(client, outbox):
    response = client.post("/wachtwoord-vergeten", data={"email": ""})
    assert response.status_code == 200 and field_error(response, "email")
    assert len(outbox) == 0


# --- one's own account -------------------------------------------------------------------------


def test_change_password_logs_out_other_sessions(app, people):
    this_one, other = app.test_client(), app.test_client()
    login(this_one, people["member"])
    login(other, people["member"])
    response = this_one.post("/account", data={"current_password": PASSWORD,
                                               "password": NEW_PASSWORD,
                                               "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/account"
    assert is_logged_in(this_one)
    assert redirects_to_login(other.get("/account"))
    assert login(app.test_client(), people["member"], NEW_PASSWORD).status_code == 302
    assert "user.password_changed" in audit_actions(app)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"current_password": "wrong password", "password": NEW_PASSWORD,
          "confirm": NEW_PASSWORD}, "current_password"),
        ({"current_password": PASSWORD, "password": "short", "confirm": "short"}, "password"),
        ({"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": "other"},
         "confirm"),
        ({"current_password": PASSWORD, "password": "member@utrecht.example",
          "confirm": "member@utrecht.example"}, "password"),
        ({}, "current_password"),
    ],
)
def test_change_password_errors(app, client, auth, people, data, field):
    auth.login(people["member"])
    response = client.post("/account", data=data)
    assert response.status_code == 200
    assert field_error(response, field)
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert is_logged_in(client)
    assert login(app.test_client(), people["member"]).status_code == 302  # unchanged
    assert "user.password_changed" not in audit_actions(app)


def test_account_needs_login(client):
    assert redirects_to_login(client.get("/account"))


# --- user administration -----------------------------------------------------------------------


def user_form(user: User, **overrides) -> dict:
    data = {
        "name": user.name,
        "municipality_id": user.municipality_id or 0,
        "roles": sorted(r.value for r in user.roles),
        "is_active": "y" if user.is_active else None,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_organiser_edits_roles(app, organiser_client, people):
    member = user_by_email(app, people["member"])
    response = organiser_client.post(
        f"/beheer/gebruikers/{member.id}",
        data=user_form(member, roles=["member", "delegate"],
                       municipality_id=municipality_id(app, "GM0363")),
    )
    assert response.status_code == 302
    member = user_by_email(app, people["member"])
    assert member.roles == {Role.MEMBER, Role.DELEGATE}
    assert member.municipality_id == municipality_id(app, "GM0363")
    assert audit_actions(app)[-1] == "user.updated"


def test_organiser_cannot_remove_own_organiser_role(app, organiser_client, people):
    me = user_by_email(app, people["organiser"])
    response = organiser_client.post(f"/beheer/gebruikers/{me.id}",
                                     data=user_form(me, roles=["jury"]))
    assert response.status_code == 200
    assert field_error(response, "roles")
    assert user_by_email(app, people["organiser"]).roles == {Role.ORGANISER}
    response = organiser_client.post(f"/beheer/gebruikers/{me.id}",
                                     data=user_form(me, is_active=None))
    assert response.status_code == 200
    assert user_by_email(app, people["organiser"]).is_active
    assert is_logged_in(organiser_client)
    assert "user.updated" not in audit_actions(app)


def test_deactivation_logs_the_user_out(app, organiser_client, people):
    member_client = app.test_client()
    login(member_client, people["member"])
    assert is_logged_in(member_client)
    member = user_by_email(app, people["member"])
    response = organiser_client.post(f"/beheer/gebruikers/{member.id}",
                                     data=user_form(member, is_active=None))
    assert response.status_code == 302
    assert not user_by_email(app, people["member"]).is_active
    assert redirects_to_login(member_client.get("/account"))
    assert login(member_client, people["member"]).status_code == 200
    assert not is_logged_in(member_client)


def test_user_of_a_merged_municipality_stays_editable(app, organiser_client, people):
    with app.app_context():
        db.session.scalar(select(Municipality).where(Municipality.code == "GM0344")
                          ).is_active = False
        db.session.commit()
    member = user_by_email(app, people["member"])
    page = organiser_client.get(f"/beheer/gebruikers/{member.id}")
    assert page.status_code == 200
    assert f'<option selected value="{member.municipality_id}">' in page.get_data(as_text=True)
    response = organiser_client.post(f"/beheer/gebruikers/{member.id}",
                                     data=user_form(member, is_active=None))
    assert response.status_code == 302
    assert not user_by_email(app, people["member"]).is_active


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"roles": ["superuser"]}, "roles"),
        ({"roles": None}, "roles"),
        ({"municipality_id": "abc"}, "municipality_id"),
        ({"municipality_id": 0}, "municipality_id"),
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
    ],
)
def test_edit_user_form_errors(app, organiser_client, people, overrides, field):
    member = user_by_email(app, people["member"])
    response = organiser_client.post(f"/beheer/gebruikers/{member.id}",
                                     data=user_form(member, **overrides))
    assert response.status_code == 200
    assert field_error(response, field)
    assert user_by_email(app, people["member"]).roles == {Role.MEMBER}


def test_unknown_user_is_404(organiser_client):
    assert organiser_client.get("/beheer/gebruikers/9999").status_code == 404
    assert organiser_client.post("/beheer/gebruikers/9999", data={}).status_code == 404


@pytest.mark.parametrize(
    "query",
    ["", "?q=utrecht", "?q=ORG%40example", "?rol=jury", "?rol=nonsense", "?q=%25_%5C"],
)
def test_users_list(organiser_client, query):
    assert organiser_client.get(f"/beheer/gebruikers{query}").status_code == 200


@pytest.mark.parametrize("page", ["/beheer/gebruikers", "/beheer/audit", "/beheer/gemeenten",
                                  "/beheer/uitnodigingen"])
@pytest.mark.parametrize("number", ["abc", "0", "-1", "99999"])
def test_bad_page_numbers_are_no_server_errors(organiser_client, page, number):
    assert organiser_client.get(f"{page}?page={number}").status_code in (200, 404)


def test_users_list_filters(organiser_client, people):
    body = organiser_client.get("/beheer/gebruikers?rol=jury").get_data(as_text=True)
    assert people["jury"] in body and people["member"] not in body
    body = organiser_client.get("/beheer/gebruikers?q=AMSTERDAM").get_data(as_text=True)
    assert people["other_member"] in body and people["member"] not in body


# --- audit log page ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["", "?action=user.login", "?actor=org%40example.org", "?actor=nobody%40example.org",
     "?object_type=user&object_id=1", "?since=2020-01-01&until=2099-12-31",
     "?since=not-a-date", "?round=abc", "?action=bogus"],
)
def test_audit_log_page(organiser_client, query):
    assert organiser_client.get(f"/beheer/audit{query}").status_code == 200


def test_audit_log_filters_by_actor(app, organiser_client, people):
    login(app.test_client(), people["member"])
    login(app.test_client(), people["jury"])
    body = organiser_client.get("/beheer/audit?actor=" + people["member"]).get_data(as_text=True)
    rows = re.findall(r"<tbody.*?</tbody>", body, re.S)[0]
    assert people["member"] in rows and people["jury"] not in rows
    body = organiser_client.get("/beheer/audit?actor=nobody%40example.org").get_data(
        as_text=True)
    assert "<tbody" not in body


def test_every_action_is_audited(app, frozen, organiser_client, people, outbox):
    """One pass through the account lifecycle leaves one audit event per action."""
    invite(organiser_client, app, email="nieuw@example.org", roles=("jury",), code=None)
    path = mailed_path(outbox[-1], "uitnodiging")
    newcomer = app.test_client()
    newcomer.post(path, data={"name": "N", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    newcomer.post("/account", data={"current_password": NEW_PASSWORD,
                                    "password": NEW_PASSWORD + "!", "confirm": NEW_PASSWORD + "!"})
    newcomer.post("/uitloggen")
    login(newcomer, "nieuw@example.org", "wrong password here")
    newcomer.post("/wachtwoord-vergeten", data={"email": "nieuw@example.org"})
    newcomer.post(mailed_path(outbox[-1], "wachtwoord-herstellen"),
                  data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    user = user_by_email(app, "nieuw@example.org")
    organiser_client.post(f"/beheer/gebruikers/{user.id}", data=user_form(user, is_active=None))
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [e.action for e in events] == [
            "user.login",  # the organiser
            "invitation.created",
            "user.created",
            "user.password_changed",
            "user.logout",
            "user.login_failed",
            "user.password_reset_requested",
            "user.password_reset",
            "user.updated",
        ]
        assert all(e.created_at == NOW for e in events)


# --- municipalities page -----------------------------------------------------------------------


def test_municipality_toggle(app, organiser_client, people):
    response = organiser_client.post("/beheer/gemeenten/GM0344/actief")
    assert response.status_code == 302
    with app.app_context():
        assert not db.session.scalar(select(Municipality.is_active).where(
            Municipality.code == "GM0344"))
    assert audit_actions(app)[-1] == "municipality.deactivated"
    organiser_client.post("/beheer/gemeenten/gm0344/actief")
    assert audit_actions(app)[-1] == "municipality.activated"
    assert organiser_client.post("/beheer/gemeenten/GM9999/actief").status_code == 404


def test_municipality_toggle_refuses_off_site_referrer(organiser_client):
    response = organiser_client.post("/beheer/gemeenten/GM0344/actief",
                                     headers={"Referer": "https://evil.example/"})
    assert urlsplit(response.headers["Location"]).netloc in ("", "localhost")


@pytest.mark.parametrize("query", ["", "?q=utr", "?province=Utrecht", "?province=Atlantis",
                                   "?q=" + "x" * 200])
def test_municipality_list(organiser_client, query):
    assert organiser_client.get(f"/beheer/gemeenten{query}").status_code == 200


def test_municipality_toggle_for_non_organisers(app, client, auth, people):
    auth.login(people["delegate"])
    assert client.post("/beheer/gemeenten/GM0344/actief").status_code == 403
    with app.app_context():
        assert db.session.scalar(select(Municipality.is_active).where(
            Municipality.code == "GM0344"))



# --- hostile input: NUL bytes (PostgreSQL refuses them in text) --------------------------------


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/wachtwoord-vergeten", {"email": "a\x00b@example.org"}),
        ("/beheer/uitnodigingen", {"email": "x@example.org", "name": "a\x00b",
                                   "municipality_id": 0, "roles": ["jury"]}),
        ("/beheer/uitnodigingen", {"email": "x\x00@example.org", "name": "X",
                                   "municipality_id": 0, "roles": ["jury"]}),
        ("/account", {"current_password": PASSWORD, "password": "a\x00bcdefghijklmnop",
                      "confirm": "a\x00bcdefghijklmnop"}),
    ],
)
def test_nul_bytes_in_posts(app, organiser_client, outbox, url, data):
    response = organiser_client.post(url, data=data)
    assert response.status_code < 500
    assert len(outbox) == 0 and count(app, Invitation) == 0


def test_nul_bytes_in_login(app, client, people):
    response = login(client, "a\x00b@example.org")
    assert response.status_code == 400  # refused for every route by web._refuse_nul_bytes
    assert not is_logged_in(client)


def test_nul_bytes_in_user_edit(app, organiser_client, people):
    member = user_by_email(app, people["member"])
    response = organiser_client.post(f"/beheer/gebruikers/{member.id}",
                                     data=user_form(member, name="Mila\x00"))
    assert response.status_code == 400
    assert user_by_email(app, people["member"]).name == member.name


def test_nul_bytes_in_accepted_name(app, organiser_client, outbox):
    invite(organiser_client, app)
    path = mailed_path(outbox[0], "uitnodiging")
    response = app.test_client().post(path, data={"name": "N\x00", "password": NEW_PASSWORD,
                                                  "confirm": NEW_PASSWORD})
    assert response.status_code == 400
    assert user_by_email(app, "nieuw@utrecht.example") is None


@pytest.mark.parametrize("url", ["/beheer/gebruikers?q=a%00b", "/beheer/audit?actor=a%00b",
                                 "/beheer/audit?object_id=a%00b", "/beheer/gemeenten?q=a%00b"])
def test_nul_bytes_in_searches(organiser_client, url):
    assert organiser_client.get(url).status_code == 400


def test_reset_requests_are_limited_per_address(client, people, outbox):
    for _ in range(3):
        assert client.post("/wachtwoord-vergeten",
                           data={"email": people["member"]}).status_code == 302
    # A fourth request for the same address within the hour is refused, whatever the IP.
    response = client.post("/wachtwoord-vergeten", data={"email": people["member"]},
                           environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 429
    assert len(outbox) == 3


def test_nul_bytes_are_refused_with_400(client):
    assert client.get("/beheer/gebruikers?q=a%00b").status_code in (302, 400)
    response = client.post("/inloggen", data={"email": "a\x00@b.example", "password": "x"})
    assert response.status_code == 400
    assert client.get("/rondes/x%00y").status_code == 400
