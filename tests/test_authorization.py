"""Every route × every role: who gets the page, who gets 403, who is sent to log in.

New routes must be added to ACCESS, so no route can slip through unclassified.
"""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from competition.extensions import db
from competition.models import AuditEvent, Invitation, Role, User
from competition.services import accounts, rounds
from tests.conftest import NOW

PUBLIC = "public"  # anyone, logged in or not
LOGGED_IN = "logged_in"  # any logged-in user; anonymous visitors go to the login page
ORGANISER = "organiser"  # organisers only: 403 for other roles, login page for anonymous

ACCESS = {
    "rounds.home": PUBLIC,
    "rounds.about": PUBLIC,
    "rounds.round_page": PUBLIC,
    "healthz": PUBLIC,
    "static": PUBLIC,
    "set_language": PUBLIC,
    "auth.login": PUBLIC,
    "auth.forgot_password": PUBLIC,
    "auth.accept_invitation": PUBLIC,
    "auth.reset_password": PUBLIC,
    "auth.account": LOGGED_IN,
    "auth.logout": LOGGED_IN,
    "admin.dashboard": ORGANISER,
    "admin.audit_log": ORGANISER,
    "admin.users": ORGANISER,
    "admin.edit_user": ORGANISER,
    "admin.municipality_list": ORGANISER,
    "admin.toggle_municipality": ORGANISER,
    "admin.round_detail": ORGANISER,
    "admin.edit_round": ORGANISER,
    "admin.close_phase": ORGANISER,
    "admin.extend_phase": ORGANISER,
    "admin.schedule": ORGANISER,
    "admin.new_round": ORGANISER,
    "admin.invitations": ORGANISER,
    "admin.revoke_invitation": ORGANISER,
    "admin.resend_invitation": ORGANISER,
}

ROLES = ["anonymous", "member", "delegate", "jury", "organiser", "other_member"]


def test_every_route_is_classified(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - ACCESS.keys() == set(), "add new routes to ACCESS"
    assert ACCESS.keys() - endpoints == set(), "ACCESS lists routes that no longer exist"


@pytest.fixture
def world(app, people):
    """A round, an invitation and the URL values every route needs."""
    app.config["FROZEN_NOW"] = NOW + timedelta(hours=1)
    with app.app_context():
        organiser = accounts.find_user_by_email(people["organiser"])
        rnd = rounds.create_round(
            organiser,
            rounds.RoundData(title="Testronde digitale dienstverlening", theme="Thema"),
            rounds.default_schedule(NOW + timedelta(days=1)),
            now=NOW,
        )
        utrecht = accounts.find_user_by_email(people["member"]).municipality
        invitation = accounts.invite(
            organiser,
            accounts.InvitationData("nieuw@utrecht.example", "Nieuw", utrecht.id,
                                    frozenset({Role.MEMBER})),
            now=NOW,
        )
        db.session.commit()
        member_id = accounts.find_user_by_email(people["member"]).id
        return {
            "slug": rnd.slug,
            "user_id": member_id,
            "invitation_id": invitation.id,
            "code": "GM0344",
            "phase": rnd.phase,
            "token": "not-a-valid-token",
            "filename": "css/site.css",
        }


def _urls(app, values):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        args = {name: values[name] for name in rule.arguments}
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **args)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, url


def _audit_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(AuditEvent.id)))


@pytest.mark.parametrize("role", ROLES)
def test_route_access_by_role(app, client, auth, people, world, role):
    if role != "anonymous":
        response = auth.login(people[role])
        assert response.status_code == 302, f"login failed for {role}"
    failures = []
    for endpoint, method, url in _urls(app, world):
        policy = ACCESS[endpoint]
        if endpoint == "auth.logout":
            continue  # logging out would end this client's session for the next routes
        before = _audit_count(app)
        response = client.open(url, method=method, data={})
        status = response.status_code
        location = response.headers.get("Location", "")
        if status >= 500:
            failures.append(f"{method} {url}: server error {status}")
            continue
        if policy == PUBLIC:
            if status in (401, 403):
                failures.append(f"{method} {url}: public route gave {status}")
        elif role == "anonymous":
            if not (status == 302 and "/inloggen" in location):
                failures.append(f"{method} {url}: anonymous should go to login, got {status}")
        elif policy == ORGANISER and role != "organiser":
            if status != 403:
                failures.append(f"{method} {url}: {role} should get 403, got {status}")
            elif _audit_count(app) != before:
                failures.append(f"{method} {url}: refused request still changed data")
        elif status == 403 or (status == 302 and "/inloggen" in location):
            failures.append(f"{method} {url}: {role} should be allowed, got {status}")
    assert not failures, "\n".join(failures)


def test_logout_needs_login_and_post(client, auth, people):
    assert client.get("/uitloggen").status_code == 405
    response = client.post("/uitloggen")
    assert response.status_code == 302 and "/inloggen" in response.headers["Location"]
    auth.login(people["member"])
    assert client.post("/uitloggen").status_code == 302
    assert client.get("/account").status_code == 302


def test_services_refuse_without_the_role(ctx, people):
    """Authorization lives in the services, not only in the views."""
    from competition.services.errors import PermissionDenied

    member = accounts.find_user_by_email(people["member"])
    with pytest.raises(PermissionDenied):
        rounds.create_round(member, rounds.RoundData(title="Niet toegestaan", theme="x y z"),
                            rounds.default_schedule(NOW + timedelta(days=1)), now=NOW)
    with pytest.raises(PermissionDenied):
        accounts.invite(member, accounts.InvitationData("a@b.example", "A", None,
                                                        frozenset({Role.JURY})), now=NOW)
    with pytest.raises(PermissionDenied):
        accounts.update_user(member, member, accounts.UserChanges(
            "X", member.municipality_id, frozenset({Role.ORGANISER}), True), now=NOW)
    assert db.session.scalar(select(func.count(Invitation.id))) == 0
    assert db.session.get(User, member.id).is_organiser is False
