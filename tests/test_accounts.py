"""Account services: invitations, login, passwords, password reset, roles, the mail outbox,
and the account-related CLI commands (create-organiser, seed-demo, send-mail)."""

import re
from datetime import timedelta

import pytest
from flask_mailman.backends.base import BaseEmailBackend
from sqlalchemy import func, select

from competition.extensions import db
from competition.models import (
    PHASES,
    AuditEvent,
    Invitation,
    OutboxMail,
    Role,
    Round,
    User,
    utcnow,
)
from competition.services import accounts, mail
from competition.services.accounts import InvitationData, UserChanges
from competition.services.errors import InvalidState, PermissionDenied, ValidationError
from tests.conftest import NOW, PASSWORD, add_municipalities, make_user

NEW_PASSWORD = "a brand new passphrase 2027"


class FailingBackend(BaseEmailBackend):
    """A mail backend whose server is down."""

    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server unreachable")


# --- helpers -----------------------------------------------------------------------------------


def actions(action: str | None = None) -> list[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return list(db.session.scalars(stmt))


def outbox_rows() -> list[OutboxMail]:
    return list(db.session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def link_token(body: str, path: str) -> str:
    match = re.search(rf"https?://[^\s/]+/{path}/(\S+)", body)
    assert match, body
    return match.group(1)


def invite(organiser, email="nieuw@utrecht.example", roles=(Role.MEMBER,), municipality=None,
           now=NOW, name="Nieuwe Medewerker") -> tuple[Invitation, str]:
    """Invite someone; returns the invitation and the token from the mailed link."""
    before = len(outbox_rows())
    invitation = accounts.invite(
        organiser,
        InvitationData(email=email, name=name,
                       municipality_id=municipality.id if municipality else None,
                       roles=frozenset(roles)),
        now=now,
    )
    rows = outbox_rows()
    assert len(rows) == before + 1
    return invitation, link_token(rows[-1].body, "uitnodiging")


@pytest.fixture
def ms(ctx):
    """A few municipalities by code (flushed in the test's transaction)."""
    return add_municipalities()


@pytest.fixture
def organiser(ms):
    return make_user("org@example.org", Role.ORGANISER, name="Olga Organiser")


# --- invitations -------------------------------------------------------------------------------


def test_invite_queues_mail_with_link_and_audits(ms, organiser):
    invitation, token = invite(organiser, email="Nieuw@Utrecht.Example",
                               municipality=ms["GM0344"])
    assert invitation.email == "nieuw@utrecht.example"
    assert invitation.expires_at == NOW + timedelta(days=7)
    assert invitation.status(NOW) == "pending"
    (message,) = outbox_rows()
    assert message.to == "nieuw@utrecht.example"
    assert message.subject and message.sent_at is None
    assert message.category == "account"
    assert token == accounts.invitation_token(invitation)
    (event,) = actions("invitation.created")
    assert event.actor_id == organiser.id
    assert event.object_id == str(invitation.id)
    assert event.data["roles"] == ["member"]
    assert event.data["municipality_id"] == ms["GM0344"].id


def test_accepting_creates_the_account_once(ms, organiser):
    invitation, token = invite(organiser, roles=(Role.MEMBER, Role.DELEGATE),
                               municipality=ms["GM0344"])
    later = NOW + timedelta(days=1)
    assert accounts.invitation_for_token(token, now=later) is invitation

    user = accounts.accept_invitation(token, NEW_PASSWORD, now=later, name="  Nora Nieuw ")
    assert user.email == "nieuw@utrecht.example"
    assert user.name == "Nora Nieuw"
    assert user.roles == {Role.MEMBER, Role.DELEGATE}
    assert user.municipality_id == ms["GM0344"].id
    assert accounts.authenticate("nieuw@utrecht.example", NEW_PASSWORD, now=later) is user
    assert invitation.accepted_at == later and invitation.user_id == user.id
    assert invitation.status(later) == "accepted"
    (event,) = actions("user.created")
    assert event.actor_id == user.id and event.data == {"invitation_id": invitation.id}

    with pytest.raises(InvalidState):
        accounts.invitation_for_token(token, now=later)
    with pytest.raises(InvalidState):
        accounts.accept_invitation(token, NEW_PASSWORD, now=later)


def test_invitation_expires_after_seven_days(ms, organiser):
    _, token = invite(organiser, municipality=ms["GM0344"])
    accounts.invitation_for_token(token, now=NOW + timedelta(days=7) - timedelta(seconds=1))
    with pytest.raises(InvalidState):
        accounts.invitation_for_token(token, now=NOW + timedelta(days=7))
    with pytest.raises(InvalidState):
        accounts.accept_invitation(token, NEW_PASSWORD, now=NOW + timedelta(days=8))
    assert accounts.find_user_by_email("nieuw@utrecht.example") is None


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "WzEsIngiXQ"])
def test_invalid_invitation_tokens_are_refused(ms, organiser, token):
    with pytest.raises(InvalidState):
        accounts.invitation_for_token(token, now=NOW)


def test_token_signed_with_another_key_is_refused(ms, organiser, app):
    _, token = invite(organiser, municipality=ms["GM0344"])
    app.config["SECRET_KEY"] = "another-key"
    with pytest.raises(InvalidState):
        accounts.invitation_for_token(token, now=NOW)


def test_resend_replaces_the_link_and_extends_expiry(ms, organiser):
    invitation, old_token = invite(organiser, municipality=ms["GM0344"])
    later = NOW + timedelta(days=6)
    accounts.resend_invitation(organiser, invitation, now=later)
    new_token = link_token(outbox_rows()[-1].body, "uitnodiging")
    assert new_token != old_token
    assert invitation.expires_at == later + timedelta(days=7)
    with pytest.raises(InvalidState):
        accounts.invitation_for_token(old_token, now=later)
    # The new link still works after the original expiry.
    assert accounts.invitation_for_token(new_token, now=NOW + timedelta(days=10)) is invitation
    assert [e.object_id for e in actions("invitation.resent")] == [str(invitation.id)]


def test_resend_revives_an_expired_or_revoked_invitation(ms, organiser):
    invitation, _ = invite(organiser, municipality=ms["GM0344"])
    accounts.revoke_invitation(organiser, invitation, now=NOW + timedelta(hours=1))
    accounts.resend_invitation(organiser, invitation, now=NOW + timedelta(days=30))
    token = link_token(outbox_rows()[-1].body, "uitnodiging")
    assert invitation.status(NOW + timedelta(days=30)) == "pending"
    accounts.accept_invitation(token, NEW_PASSWORD, now=NOW + timedelta(days=31))


def test_revoked_invitation_link_is_dead(ms, organiser):
    invitation, token = invite(organiser, municipality=ms["GM0344"])
    accounts.revoke_invitation(organiser, invitation, now=NOW + timedelta(hours=1))
    assert invitation.status(NOW + timedelta(hours=1)) == "revoked"
    with pytest.raises(InvalidState):
        accounts.invitation_for_token(token, now=NOW + timedelta(hours=2))
    with pytest.raises(InvalidState):  # only pending invitations can be withdrawn
        accounts.revoke_invitation(organiser, invitation, now=NOW + timedelta(hours=2))
    assert len(actions("invitation.revoked")) == 1


def test_a_new_invitation_to_the_same_address_supersedes_the_old(ms, organiser):
    first, first_token = invite(organiser, municipality=ms["GM0344"])
    _, second_token = invite(organiser, roles=(Role.JURY,), now=NOW + timedelta(hours=1))
    assert first.status(NOW + timedelta(hours=1)) == "revoked"
    with pytest.raises(InvalidState):
        accounts.invitation_for_token(first_token, now=NOW + timedelta(hours=2))
    user = accounts.accept_invitation(second_token, NEW_PASSWORD, now=NOW + timedelta(hours=2))
    assert user.roles == {Role.JURY}


def test_resending_an_older_invitation_supersedes_the_newer(ms, organiser):
    first, _ = invite(organiser, municipality=ms["GM0344"])
    second, second_token = invite(organiser, roles=(Role.JURY,), now=NOW + timedelta(hours=1))
    accounts.resend_invitation(organiser, first, now=NOW + timedelta(hours=2))
    first_token = link_token(outbox_rows()[-1].body, "uitnodiging")
    moment = NOW + timedelta(hours=3)
    assert second.status(moment) == "revoked"
    with pytest.raises(InvalidState):
        accounts.invitation_for_token(second_token, now=moment)
    assert accounts.accept_invitation(first_token, NEW_PASSWORD, now=moment).roles == {
        Role.MEMBER
    }


def test_resend_refused_once_accepted_or_when_an_account_exists(ms, organiser):
    invitation, token = invite(organiser, municipality=ms["GM0344"])
    accounts.accept_invitation(token, NEW_PASSWORD, now=NOW + timedelta(hours=1))
    with pytest.raises(InvalidState):
        accounts.resend_invitation(organiser, invitation, now=NOW + timedelta(hours=2))

    other, _ = invite(organiser, email="later@example.org", roles=(Role.JURY,))
    make_user("later@example.org", Role.JURY)  # e.g. created with the CLI meanwhile
    with pytest.raises(InvalidState):
        accounts.resend_invitation(organiser, other, now=NOW + timedelta(hours=2))


def test_accepting_when_the_account_already_exists_is_refused(ms, organiser):
    _, token = invite(organiser, roles=(Role.JURY,))
    make_user("nieuw@utrecht.example", Role.JURY)
    with pytest.raises(InvalidState):
        accounts.accept_invitation(token, NEW_PASSWORD, now=NOW)


def test_simultaneous_acceptance_is_a_refusal_not_a_crash(ms, organiser, monkeypatch):
    # The other acceptance inserts the user between our check and our insert.
    _, token = invite(organiser, roles=(Role.JURY,))
    make_user("nieuw@utrecht.example", Role.JURY)
    monkeypatch.setattr(accounts, "find_user_by_email", lambda email: None)
    with pytest.raises(InvalidState):
        accounts.accept_invitation(token, NEW_PASSWORD, now=NOW)
    db.session.rollback()


def test_accept_with_weak_password_creates_nothing(ms, organiser):
    invitation, token = invite(organiser, municipality=ms["GM0344"])
    db.session.commit()
    with pytest.raises(ValidationError) as exc:
        accounts.accept_invitation(token, "short", now=NOW)
    assert exc.value.field == "password"
    db.session.rollback()
    assert accounts.find_user_by_email("nieuw@utrecht.example") is None
    assert db.session.get(Invitation, invitation.id).accepted_at is None


def test_inviting_an_existing_users_email_is_refused(ms, organiser):
    make_user("taken@example.org", Role.JURY)
    with pytest.raises(ValidationError) as exc:
        invite(organiser, email=" TAKEN@Example.org ", roles=(Role.JURY,))
    assert exc.value.field == "email"
    assert outbox_rows() == []
    assert actions("invitation.created") == []


@pytest.mark.parametrize("roles", [(Role.MEMBER,), (Role.DELEGATE,), (Role.JURY, Role.MEMBER)])
def test_member_or_delegate_needs_a_municipality(ms, organiser, roles):
    with pytest.raises(ValidationError) as exc:
        invite(organiser, roles=roles)
    assert exc.value.field == "municipality_id"


def test_jury_and_organiser_need_no_municipality(ms, organiser):
    invitation, _ = invite(organiser, roles=(Role.JURY, Role.ORGANISER))
    assert invitation.municipality_id is None


@pytest.mark.parametrize(
    ("email", "name", "roles", "municipality", "field"),
    [
        ("not-an-email", "Naam", (Role.JURY,), None, "email"),
        ("", "Naam", (Role.JURY,), None, "email"),
        ("a@example.org", "   ", (Role.JURY,), None, "name"),
        ("a@example.org", "Na\x00am", (Role.JURY,), None, "name"),
        ("a@example.org", "x" * 121, (Role.JURY,), None, "name"),
        ("a\x00@example.org", "Naam", (Role.JURY,), None, "email"),
        ("a@example.org", "Naam", (), None, "roles"),
        ("a@example.org", "Naam", (Role.MEMBER,), "unknown", "municipality_id"),
        ("a@example.org", "Naam", (Role.MEMBER,), "inactive", "municipality_id"),
    ],
)
def test_invite_validation(ms, organiser, email, name, roles, municipality, field):
    municipality_id = None
    if municipality == "unknown":
        municipality_id = 99999
    elif municipality == "inactive":
        ms["GM0344"].is_active = False
        municipality_id = ms["GM0344"].id
    with pytest.raises(ValidationError) as exc:
        accounts.invite(
            organiser,
            InvitationData(email=email, name=name, municipality_id=municipality_id,
                           roles=frozenset(roles)),
            now=NOW,
        )
    assert exc.value.field == field
    assert outbox_rows() == []


@pytest.mark.parametrize("role", [Role.JURY, Role.MEMBER, Role.DELEGATE, None])
def test_only_organisers_invite(ms, organiser, role):
    actor = None
    if role is not None:
        actor = make_user(f"{role.value}@example.org", role, municipality=ms["GM0344"])
    with pytest.raises(PermissionDenied):
        invite(actor, roles=(Role.JURY,))
    with pytest.raises(PermissionDenied):
        invite(make_user("old-org@example.org", Role.ORGANISER, is_active=False),
               roles=(Role.JURY,))


# --- login -------------------------------------------------------------------------------------


@pytest.fixture
def member(ms):
    return make_user("member@utrecht.example", Role.MEMBER, municipality=ms["GM0344"],
                     name="Mila Member")


def test_authenticate_correct_password(member):
    user = accounts.authenticate("member@utrecht.example", PASSWORD, now=NOW)
    assert user is member
    assert user.last_login_at == NOW
    (event,) = actions("user.login")
    assert event.actor_id == member.id


@pytest.mark.parametrize("email", ["MEMBER@Utrecht.Example", "  member@utrecht.example  "])
def test_authenticate_ignores_email_case_and_spaces(member, email):
    assert accounts.authenticate(email, PASSWORD, now=NOW) is member


def test_wrong_password_and_unknown_email_give_the_same_message(member):
    with pytest.raises(ValidationError) as wrong:
        accounts.authenticate("member@utrecht.example", "wrong password here", now=NOW)
    with pytest.raises(ValidationError) as unknown:
        accounts.authenticate("nobody@example.org", PASSWORD, now=NOW)
    assert str(wrong.value.message) == str(unknown.value.message)
    assert wrong.value.field is None and unknown.value.field is None
    assert member.last_login_at is None
    (event,) = actions("user.login_failed")
    assert event.object_id == str(member.id) and event.actor_id is None
    assert actions("user.login") == []


def test_deactivated_user_cannot_log_in(member):
    member.is_active = False
    with pytest.raises(ValidationError):
        accounts.authenticate("member@utrecht.example", PASSWORD, now=NOW)
    assert member.last_login_at is None
    assert actions("user.login") == []
    assert [e.data for e in actions("user.login_failed")] == [{"reason": "deactivated"}]


def test_session_id_resolves_only_with_the_current_token(member):
    assert accounts.load_session_user(member.get_id()) is member
    assert accounts.load_session_user(f"{member.id}:not-the-token") is None
    old_id = member.get_id()
    accounts.change_password(member, PASSWORD, NEW_PASSWORD, now=NOW)
    assert accounts.load_session_user(old_id) is None
    assert accounts.load_session_user(member.get_id()) is member
    member.is_active = False
    assert accounts.load_session_user(member.get_id()) is None


@pytest.mark.parametrize("session_id", ["", ":", "abc", "1", "1:", ":tok", "²:tok", "-1:tok",
                                        "99999:tok", "1:2:3"])
def test_malformed_session_ids_log_nobody_in(member, session_id):
    assert accounts.load_session_user(session_id) is None


# --- passwords ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    ["", "short", "elevenchars", "member@utrecht.example", "MEMBER@UTRECHT.EXAMPLE",
     "x" * 1025],
)
def test_password_rules(member, password):
    with pytest.raises(ValidationError) as exc:
        accounts.change_password(member, PASSWORD, password, now=NOW)
    assert exc.value.field == "password"


def test_password_may_not_equal_the_name(ctx):
    add_municipalities()
    user = make_user("x@example.org", Role.JURY, name="Johannes van den Berg")
    with pytest.raises(ValidationError):
        accounts.check_password_rules("johannes van den berg", email=user.email, name=user.name)
    accounts.check_password_rules("x" * 12, email=user.email, name=user.name)
    accounts.check_password_rules("x" * 1024, email=user.email, name=user.name)


def test_password_minimum_comes_from_config(member, app):
    app.config["PASSWORD_MIN_LENGTH"] = 20
    with pytest.raises(ValidationError):
        accounts.check_password_rules("nineteen characters")
    accounts.check_password_rules("twenty characters!!!")


def test_change_password_needs_the_current_one(member):
    token = member.session_token
    with pytest.raises(ValidationError) as exc:
        accounts.change_password(member, "not my password", NEW_PASSWORD, now=NOW)
    assert exc.value.field == "current_password"
    assert member.session_token == token
    assert actions("user.password_changed") == []


def test_change_password_rotates_session_and_audits(member):
    token = member.session_token
    later = NOW + timedelta(days=1)
    accounts.change_password(member, PASSWORD, NEW_PASSWORD, now=later)
    assert member.session_token != token
    assert member.password_changed_at == later
    assert accounts.authenticate(member.email, NEW_PASSWORD, now=later) is member
    with pytest.raises(ValidationError):
        accounts.authenticate(member.email, PASSWORD, now=later)
    (event,) = actions("user.password_changed")
    assert event.actor_id == member.id


def test_passwords_are_stored_as_argon2id(member):
    assert member.password_hash.startswith("$argon2id$")
    assert PASSWORD not in member.password_hash


# --- password reset ----------------------------------------------------------------------------


def request_reset(email: str, now=NOW) -> str | None:
    before = len(outbox_rows())
    accounts.request_password_reset(email, now=now)
    rows = outbox_rows()
    if len(rows) == before:
        return None
    return link_token(rows[-1].body, "wachtwoord-herstellen")


def test_password_reset_mails_a_link_that_works_once(member):
    token = request_reset("Member@Utrecht.example")
    assert token
    (message,) = outbox_rows()
    assert message.to == "member@utrecht.example"
    assert accounts.user_for_reset_token(token, now=NOW) is member
    old_session = member.session_token
    later = NOW + timedelta(minutes=10)
    assert accounts.reset_password(token, NEW_PASSWORD, now=later) is member
    assert member.session_token != old_session
    assert accounts.authenticate(member.email, NEW_PASSWORD, now=later) is member
    with pytest.raises(InvalidState):
        accounts.user_for_reset_token(token, now=later)
    with pytest.raises(InvalidState):
        accounts.reset_password(token, "yet another passphrase", now=later)
    assert len(actions("user.password_reset_requested")) == 1
    assert len(actions("user.password_reset")) == 1


def test_password_reset_link_expires(member, app):
    token = request_reset(member.email)
    hours = app.config["PASSWORD_RESET_HOURS"]
    accounts.user_for_reset_token(token, now=NOW + timedelta(hours=hours))
    with pytest.raises(InvalidState):
        accounts.user_for_reset_token(token, now=NOW + timedelta(hours=hours, seconds=1))


def test_password_reset_link_dies_when_the_password_changes(member):
    token = request_reset(member.email)
    accounts.change_password(member, PASSWORD, NEW_PASSWORD, now=NOW)
    with pytest.raises(InvalidState):
        accounts.user_for_reset_token(token, now=NOW)


def test_password_reset_for_unknown_or_deactivated_address_sends_nothing(member):
    assert request_reset("nobody@example.org") is None
    assert request_reset("not an email at all") is None
    member.is_active = False
    assert request_reset(member.email) is None
    assert outbox_rows() == []
    assert actions() == []


def test_reset_link_refused_once_the_user_is_deactivated(member):
    token = request_reset(member.email)
    member.is_active = False
    with pytest.raises(InvalidState):
        accounts.user_for_reset_token(token, now=NOW)


@pytest.mark.parametrize("token", ["", "garbage", "eyJ1IjoxfQ.bad"])
def test_invalid_reset_tokens(member, token):
    with pytest.raises(InvalidState):
        accounts.user_for_reset_token(token, now=NOW)


def test_invitation_token_is_no_reset_token(ms, organiser):
    _, token = invite(organiser, roles=(Role.JURY,))
    with pytest.raises(InvalidState):
        accounts.user_for_reset_token(token, now=NOW)


def test_reset_with_weak_password_keeps_the_link(member):
    token = request_reset(member.email)
    with pytest.raises(ValidationError) as exc:
        accounts.reset_password(token, "short", now=NOW)
    assert exc.value.field == "password"
    assert accounts.user_for_reset_token(token, now=NOW) is member


# --- user administration -----------------------------------------------------------------------


def changes_for(user: User, **overrides) -> UserChanges:
    values = {
        "name": user.name,
        "municipality_id": user.municipality_id,
        "roles": frozenset(user.roles),
        "is_active": user.is_active,
    }
    values.update(overrides)
    return UserChanges(**values)


def test_organiser_changes_roles_and_it_is_audited(ms, organiser, member):
    accounts.update_user(
        organiser, member,
        changes_for(member, roles=frozenset({Role.MEMBER, Role.DELEGATE}),
                    municipality_id=ms["GM0363"].id),
        now=NOW,
    )
    assert member.roles == {Role.MEMBER, Role.DELEGATE}
    assert member.municipality_id == ms["GM0363"].id
    (event,) = actions("user.updated")
    assert event.actor_id == organiser.id and event.object_id == str(member.id)
    assert event.data["before"]["roles"] == ["member"]
    assert event.data["after"]["roles"] == ["delegate", "member"]
    assert event.data["after"]["municipality_id"] == ms["GM0363"].id


def test_unchanged_save_writes_no_audit(ms, organiser, member):
    accounts.update_user(organiser, member, changes_for(member), now=NOW)
    assert actions("user.updated") == []


@pytest.mark.parametrize(
    "overrides",
    [{"roles": frozenset({Role.JURY})}, {"is_active": False},
     {"roles": frozenset()}],
)
def test_organiser_cannot_remove_own_organiser_role_or_deactivate_self(ms, organiser, overrides):
    with pytest.raises(ValidationError) as exc:
        accounts.update_user(organiser, organiser, changes_for(organiser, **overrides), now=NOW)
    assert exc.value.field == "roles"
    assert organiser.is_organiser and organiser.is_active


def test_organiser_may_add_roles_to_self(ms, organiser):
    accounts.update_user(organiser, organiser,
                         changes_for(organiser, roles=frozenset({Role.ORGANISER, Role.JURY})),
                         now=NOW)
    assert organiser.roles == {Role.ORGANISER, Role.JURY}


def test_organiser_may_remove_another_organisers_role(ms, organiser):
    other = make_user("other-org@example.org", Role.ORGANISER)
    accounts.update_user(organiser, other, changes_for(other, roles=frozenset({Role.JURY})),
                         now=NOW)
    assert other.roles == {Role.JURY}


def test_deactivation_ends_the_users_sessions(ms, organiser, member):
    session_id = member.get_id()
    accounts.update_user(organiser, member, changes_for(member, is_active=False), now=NOW)
    assert not member.is_active
    assert accounts.load_session_user(session_id) is None
    accounts.update_user(organiser, member, changes_for(member, is_active=True), now=NOW)
    assert accounts.load_session_user(session_id) is None  # old sessions stay ended
    assert accounts.load_session_user(member.get_id()) is member
    assert [e.data["after"]["is_active"] for e in actions("user.updated")] == [False, True]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "Mila\nMember"}, "name"),
        ({"municipality_id": None}, "municipality_id"),
        ({"roles": frozenset({Role.DELEGATE}), "municipality_id": None}, "municipality_id"),
        ({"roles": frozenset()}, "roles"),
        ({"municipality_id": 99999}, "municipality_id"),
    ],
)
def test_update_user_validation(ms, organiser, member, overrides, field):
    with pytest.raises(ValidationError) as exc:
        accounts.update_user(organiser, member, changes_for(member, **overrides), now=NOW)
    assert exc.value.field == field


def test_user_keeps_a_municipality_that_became_inactive(ms, organiser, member):
    # After a merger the old municipality is inactive: its users stay editable (e.g. to
    # deactivate them), but nobody can be moved into an inactive municipality.
    ms["GM0344"].is_active = False
    accounts.update_user(organiser, member, changes_for(member, name="Mila M."), now=NOW)
    assert member.name == "Mila M."
    jury = make_user("j@example.org", Role.JURY)
    with pytest.raises(ValidationError):
        accounts.update_user(organiser, jury, changes_for(jury, municipality_id=ms["GM0344"].id),
                             now=NOW)


def test_only_organisers_update_users(ms, organiser, member):
    with pytest.raises(PermissionDenied):
        accounts.update_user(member, organiser, changes_for(organiser, name="Hacked"), now=NOW)


def test_record_logout(member):
    accounts.record_logout(member, now=NOW)
    (event,) = actions("user.logout")
    assert event.actor_id == member.id


# --- the mail outbox ---------------------------------------------------------------------------


def test_mail_is_queued_in_the_actions_transaction(ms, organiser):
    db.session.commit()
    invite(organiser, roles=(Role.JURY,))
    assert len(outbox_rows()) == 1
    db.session.rollback()
    assert outbox_rows() == []
    assert db.session.scalar(select(func.count(Invitation.id))) == 0
    assert actions() == []


def test_deliver_pending_sends_and_marks_sent(ms, organiser, outbox):
    _, token = invite(organiser, roles=(Role.JURY,))
    db.session.commit()
    assert mail.deliver_pending() == (1, 0)
    (row,) = outbox_rows()
    assert row.sent_at is not None and row.attempts == 1 and row.last_error is None
    assert len(outbox) == 1
    assert outbox[0].to == ["nieuw@utrecht.example"]
    assert outbox[0].subject == row.subject
    assert f"/uitnodiging/{token}" in outbox[0].body
    assert mail.deliver_pending() == (0, 0)  # nothing is sent twice
    assert len(outbox) == 1


def test_failed_delivery_keeps_the_mail_for_a_retry(ms, organiser, app, outbox, monkeypatch):
    invite(organiser, roles=(Role.JURY,))
    db.session.commit()
    monkeypatch.setattr(app.extensions["mailman"], "backend", FailingBackend)
    assert mail.deliver_pending() == (0, 1)
    (row,) = outbox_rows()
    assert row.sent_at is None and row.attempts == 1
    assert row.claimed_at is None  # released for the retry
    assert "ConnectionRefusedError" in row.last_error
    # The action itself was committed and survives.
    assert db.session.scalar(select(func.count(Invitation.id))) == 1

    monkeypatch.undo()
    assert mail.deliver_pending() == (1, 0)
    db.session.refresh(row)
    assert row.sent_at is not None and row.attempts == 2 and row.last_error is None
    assert len(outbox) == 1


def test_mail_claimed_by_another_sender_is_not_sent_twice(organiser, outbox):
    invite(organiser, roles=(Role.JURY,))
    db.session.commit()
    (row,) = outbox_rows()
    # Another sender (web worker or `send-mail`) claimed it a minute ago and is sending it.
    row.claimed_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert mail.deliver_pending() == (0, 0)
    assert len(outbox) == 0
    # That sender crashed: once its claim is stale the mail goes out after all.
    row.claimed_at = utcnow() - mail.CLAIM_TIMEOUT - timedelta(seconds=1)
    db.session.commit()
    assert mail.deliver_pending() == (1, 0)
    assert len(outbox) == 1


def test_claim_is_a_compare_and_set(organiser):
    invite(organiser, roles=(Role.JURY,))
    db.session.commit()
    (row,) = outbox_rows()
    assert mail._claim(row.id) is True
    assert mail._claim(row.id) is False  # the second sender loses
    db.session.refresh(row)
    assert row.attempts == 1 and row.claimed_at is not None


def test_delivery_gives_up_after_max_attempts(ms, organiser, app, monkeypatch):
    invite(organiser, roles=(Role.JURY,))
    db.session.commit()
    monkeypatch.setattr(app.extensions["mailman"], "backend", FailingBackend)
    for _ in range(mail.MAX_ATTEMPTS):
        assert mail.deliver_pending() == (0, 1)
    assert mail.deliver_pending() == (0, 0)
    assert outbox_rows()[0].attempts == mail.MAX_ATTEMPTS


# --- CLI: create-organiser, send-mail, seed-demo ------------------------------------------------


def test_cli_create_organiser(app, runner):
    result = runner.invoke(
        args=["competition", "create-organiser", "Boss@Example.org", "Bea Baas"],
        input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = accounts.find_user_by_email("boss@example.org")
        assert user.roles == {Role.ORGANISER} and user.name == "Bea Baas"
        assert accounts.authenticate("boss@example.org", NEW_PASSWORD, now=NOW) is user
        (event,) = actions("user.created")
        assert event.actor_id is None and event.data["via"] == "cli"


@pytest.mark.parametrize(
    ("email", "name", "password"),
    [
        ("not an email", "Bea Baas", NEW_PASSWORD),
        ("boss@example.org", "Bea Baas", "short"),
        ("boss@example.org", "boss@example.org", "boss@example.org"),
        ("boss@example.org", "   ", NEW_PASSWORD),
        ("boss@example.org", "x" * 121, NEW_PASSWORD),
    ],
)
def test_cli_create_organiser_refuses_bad_input(app, runner, email, name, password):
    result = runner.invoke(
        args=["competition", "create-organiser", email, name, "--password", password]
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a clean ClickException, no traceback
    assert "Error:" in result.output
    with app.app_context():
        assert accounts.count_users() == 0


def test_cli_create_organiser_refuses_an_existing_address(app, runner, people):
    result = runner.invoke(
        args=["competition", "create-organiser", "ORG@example.org", "Olga", "--password",
              NEW_PASSWORD]
    )
    assert result.exit_code == 1 and "Error:" in result.output
    with app.app_context():
        assert accounts.count_users() == 5


def test_cli_send_mail_retries_failed_mail(app, runner, outbox, monkeypatch):
    with app.app_context():
        add_municipalities()
        organiser = make_user("org@example.org", Role.ORGANISER)
        invite(organiser, roles=(Role.JURY,))
        invite(organiser, email="second@example.org", roles=(Role.JURY,))
        db.session.commit()
    monkeypatch.setattr(app.extensions["mailman"], "backend", FailingBackend)
    result = runner.invoke(args=["competition", "send-mail"])
    assert result.exit_code == 1
    assert "0 sent, 2 failed" in result.output
    monkeypatch.undo()
    result = runner.invoke(args=["competition", "send-mail"])
    assert result.exit_code == 0, result.output
    assert "2 sent, 0 failed" in result.output
    assert sorted(m.to[0] for m in outbox.messages) == ["nieuw@utrecht.example",
                                                        "second@example.org"]
    result = runner.invoke(args=["competition", "send-mail"])
    assert result.exit_code == 0 and "0 sent, 0 failed" in result.output
    with app.app_context():
        assert all(row.sent_at is not None and row.attempts == 2 for row in outbox_rows())


@pytest.mark.parametrize("phase", [p.value for p in PHASES])
def test_cli_seed_demo_for_every_phase(app, runner, outbox, phase):
    result = runner.invoke(args=["competition", "seed-demo", "--phase", phase])
    assert result.exit_code == 0, result.output
    with app.app_context():
        from competition import demo

        demo_round = db.session.scalar(select(Round).where(Round.title == demo.ROUND_TITLE))
        assert demo_round.phase == phase
        assert accounts.find_user_by_email("organisator@demo.example").is_organiser
        assert accounts.authenticate("medewerker@utrecht.example", demo.DEMO_PASSWORD,
                                     now=NOW).municipality.code == "GM0344"
        # The pending demo invitation's mail was delivered.
        assert db.session.scalar(
            select(func.count(OutboxMail.id)).where(OutboxMail.sent_at.is_(None))
        ) == 0
    assert any(m.to == ["medewerker@tilburg.example"] for m in outbox.messages)


def test_cli_seed_demo_if_empty_leaves_existing_data_alone(app, runner, people):
    result = runner.invoke(args=["competition", "seed-demo", "--if-empty"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert accounts.count_users() == 5
        assert db.session.scalar(select(func.count(Round.id))) == 0
