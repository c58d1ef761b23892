"""Database constraints, the append-only audit log and UTC timestamps (SQLite and PostgreSQL)."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from competition.extensions import db
from competition.models import AuditEvent, Invitation, Municipality, OutboxMail, Role, User
from competition.services import audit
from tests.conftest import IS_POSTGRES, NOW, add_municipalities, make_user


def flush_fails(obj, error=IntegrityError) -> None:
    """Adding `obj` is refused by the database; the session is usable again afterwards."""
    db.session.add(obj)
    with pytest.raises(error):
        db.session.flush()
    db.session.rollback()


def insert_municipality(code: str, population: int = 1) -> None:
    db.session.execute(
        text("INSERT INTO municipalities (code, name, province, population, is_active) "
             "VALUES (:code, 'Naam', 'Utrecht', :population, :active)"),
        {"code": code, "population": population, "active": True},
    )


# --- municipalities ----------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["GM0344", "GM0000", "GM9999"])
def test_municipality_code_format_accepted(ctx, code):
    insert_municipality(code)
    db.session.flush()


@pytest.mark.parametrize(
    "code",
    ["gm0344", "Gm0344", "XX0344", "GM034", "GM03444", "GMabcd", "GM03a4", "GM 344", "GM٠٣٤٤",
     "0344GM", "", "GM-344"],
)
def test_municipality_code_format_refused(ctx, code):
    # PostgreSQL refuses a too-long code by the column length (DataError) before the check.
    with pytest.raises((IntegrityError, DataError)):
        insert_municipality(code)
    db.session.rollback()


def test_municipality_code_unique(ctx):
    insert_municipality("GM0344")
    with pytest.raises(IntegrityError):
        insert_municipality("GM0344")
    db.session.rollback()


def test_municipality_population_not_negative(ctx):
    flush_fails(Municipality(code="GM0344", name="U", province="Utrecht", population=-1))


# --- users -------------------------------------------------------------------------------------


def new_user(email: str, *roles: Role, municipality_id: int | None = None) -> User:
    user = User(email=email, name="N", municipality_id=municipality_id, password_hash="x",
                created_at=NOW, password_changed_at=NOW)
    user.roles = set(roles)
    return user


def test_user_email_must_be_lower_case(ctx):
    flush_fails(new_user("Someone@Example.org", Role.JURY))
    db.session.add(new_user("someone@example.org", Role.JURY))
    db.session.flush()


def test_user_email_unique(ctx):
    make_user("someone@example.org", Role.JURY)
    flush_fails(new_user("someone@example.org", Role.ORGANISER))


@pytest.mark.parametrize("roles", [(Role.MEMBER,), (Role.DELEGATE,), (Role.JURY, Role.MEMBER)])
def test_user_role_needs_municipality(ctx, roles):
    flush_fails(new_user("m@example.org", *roles))
    ms = add_municipalities()
    db.session.add(new_user("m@example.org", *roles, municipality_id=ms["GM0344"].id))
    db.session.flush()


@pytest.mark.parametrize("roles", [(), (Role.JURY,), (Role.ORGANISER,)])
def test_jury_and_organisers_need_no_municipality(ctx, roles):
    db.session.add(new_user("j@example.org", *roles))
    db.session.flush()


def test_user_municipality_must_exist(ctx):
    flush_fails(new_user("m@example.org", Role.MEMBER, municipality_id=4242))


def test_user_defaults(ctx):
    user = new_user("d@example.org", Role.JURY)
    db.session.add(user)
    db.session.flush()
    assert user.is_active and user.locale == "nl"
    assert len(user.session_token) == 32
    assert user.get_id() == f"{user.id}:{user.session_token}"


# --- invitations -------------------------------------------------------------------------------


@pytest.fixture
def inviter(ctx):
    return make_user("org@example.org", Role.ORGANISER)


def new_invitation(inviter: User, **overrides) -> Invitation:
    values = {"email": "new@example.org", "name": "N", "nonce": "n" * 32,
              "invited_by_id": inviter.id, "created_at": NOW,
              "expires_at": NOW + timedelta(days=7), "municipality_id": None}
    values.update(overrides)
    roles = values.pop("roles", {Role.JURY})
    invitation = Invitation(**values)
    invitation.roles = roles
    return invitation


def test_valid_invitation(inviter):
    db.session.add(new_invitation(inviter))
    db.session.flush()


def test_invitation_email_lower_case(inviter):
    flush_fails(new_invitation(inviter, email="New@Example.org"))


def test_invitation_role_needs_municipality(inviter):
    flush_fails(new_invitation(inviter, roles={Role.DELEGATE}))


@pytest.mark.parametrize("delta", [timedelta(0), timedelta(seconds=-1)])
def test_invitation_expires_after_creation(inviter, delta):
    flush_fails(new_invitation(inviter, expires_at=NOW + delta))


def test_invitation_needs_an_existing_inviter(ctx):
    flush_fails(new_invitation(User(id=4242)))


# --- the audit log is append-only --------------------------------------------------------------


@pytest.fixture
def event(ctx) -> int:
    """One committed audit event; returns its id."""
    recorded = audit.record("test.event", actor=None, now=NOW, object_type="test",
                            object_id=1, data={"k": "v"})
    db.session.commit()
    return recorded.id


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'forged' WHERE id = :id",
        "UPDATE audit_events SET data = '{}'",
        "DELETE FROM audit_events WHERE id = :id",
        "DELETE FROM audit_events",
    ],
)
def test_audit_events_refuse_update_and_delete(event, statement):
    with pytest.raises(DBAPIError) as exc:
        db.session.execute(text(statement), {"id": event})
    assert "append-only" in str(exc.value)
    db.session.rollback()
    row = db.session.get(AuditEvent, event)
    assert row.action == "test.event" and row.data == {"k": "v"}


def test_audit_events_refuse_orm_changes(event):
    row = db.session.get(AuditEvent, event)
    row.action = "forged"
    with pytest.raises(DBAPIError):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEvent, event))
    with pytest.raises(DBAPIError):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(AuditEvent, event).action == "test.event"


@pytest.mark.skipif(not IS_POSTGRES, reason="TRUNCATE exists on PostgreSQL only")
def test_audit_events_refuse_truncate(event):
    with pytest.raises(DBAPIError):
        db.session.execute(text("TRUNCATE audit_events"))
    db.session.rollback()
    assert db.session.get(AuditEvent, event) is not None


def test_audit_events_accept_inserts(event):
    audit.record("test.second", actor=None, now=NOW, object_type="test")
    db.session.commit()
    assert db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all() == [
        "test.event", "test.second"]


# --- timestamps --------------------------------------------------------------------------------


def test_aware_datetimes_round_trip_as_utc(ctx):
    amsterdam_summer = timezone(timedelta(hours=2))
    moment = datetime(2027, 6, 1, 14, 30, 15, 123456, tzinfo=amsterdam_summer)
    mail = OutboxMail(to="a@example.org", subject="s", body="b", category="test",
                      created_at=moment)
    db.session.add(mail)
    db.session.commit()
    mail_id = mail.id
    db.session.expire_all()
    loaded = db.session.get(OutboxMail, mail_id)
    assert loaded.created_at == moment
    assert loaded.created_at.utcoffset() == timedelta(0)
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.replace(tzinfo=None) == datetime(2027, 6, 1, 12, 30, 15, 123456)
    assert loaded.sent_at is None


def test_utc_comparisons_in_queries(ctx):
    db.session.add(OutboxMail(to="a@example.org", subject="s", body="b", category="test",
                              created_at=NOW, sent_at=NOW + timedelta(hours=1)))
    db.session.flush()
    in_other_zone = (NOW + timedelta(minutes=30)).astimezone(timezone(timedelta(hours=-5)))
    found = db.session.scalars(select(OutboxMail).where(OutboxMail.sent_at > in_other_zone))
    assert len(found.all()) == 1


def test_naive_datetimes_are_refused(ctx):
    naive = datetime(2027, 3, 1, 9, 0)
    db.session.add(OutboxMail(to="a@example.org", subject="s", body="b", category="test",
                              created_at=naive))
    with pytest.raises(StatementError) as exc:
        db.session.flush()
    assert isinstance(exc.value.orig, ValueError)
    db.session.rollback()


def test_naive_datetimes_are_refused_in_queries(ctx):
    with pytest.raises(StatementError):
        db.session.scalars(
            select(OutboxMail).where(OutboxMail.created_at > datetime(2027, 1, 1))).all()
    db.session.rollback()
