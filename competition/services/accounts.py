"""Accounts: invitations, passwords, login and roles."""

import hashlib
import secrets
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from competition.extensions import db
from competition.models import Invitation, Municipality, Role, User
from competition.models.user import new_session_token
from competition.services import audit
from competition.services.errors import InvalidState, NotFound, PermissionDenied, ValidationError
from competition.services.mail import queue_mail
from competition.urls import external_url

INVITE_SALT = "invitation"
RESET_SALT = "password-reset"


# --- authorization ---------------------------------------------------------------------------


def require_role(actor: User | None, role: Role) -> User:
    """Return the actor if it is an active user with `role`; otherwise refuse."""
    if actor is None or not actor.is_authenticated or not actor.is_active:
        raise PermissionDenied(_l("You need to log in for this."))
    if not actor.has_role(role):
        raise PermissionDenied(_l("This needs the role “%(role)s”.", role=role_label(role)))
    return actor


def role_label(role: Role) -> str:
    """The role's name in the current language."""
    labels = {
        Role.ORGANISER: _l("organiser"),
        Role.JURY: _l("jury member"),
        Role.DELEGATE: _l("delegate"),
        Role.MEMBER: _l("member"),
    }
    return str(labels[role])


# --- passwords ---------------------------------------------------------------------------------


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(
        time_cost=cfg["ARGON2_TIME_COST"],
        memory_cost=cfg["ARGON2_MEMORY_COST"],
        parallelism=cfg["ARGON2_PARALLELISM"],
    )


def hash_password(password: str) -> str:
    """Argon2id hash of a password."""
    return _hasher().hash(password)


def check_password_rules(password: str, *, email: str = "", name: str = "") -> None:
    """Refuse weak passwords with a message for the password field."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        raise ValidationError(
            _l("Use at least %(n)d characters.", n=minimum), field="password"
        )
    if len(password) > 1024:
        raise ValidationError(_l("Use at most 1024 characters."), field="password")
    lowered = password.lower()
    if (email and lowered == email.lower()) or (name and lowered == name.lower()):
        raise ValidationError(
            _l("Your password must differ from your name and email address."), field="password"
        )


def _set_password(user: User, password: str, now: datetime) -> None:
    check_password_rules(password, email=user.email, name=user.name)
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    # Every other session of this user ends: the login cookie carries the old token.
    user.session_token = new_session_token()


def normalise_email(email: str) -> str:
    """Validate an email address and return it lower-cased (emails are case-insensitive here)."""
    try:
        result = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationError(_l("Enter a valid email address."), field="email") from exc
    return result.normalized.lower()


def find_user_by_email(email: str) -> User | None:
    """Look a user up by email, ignoring case."""
    address = email.strip().lower()
    if "\x00" in address:  # no address has one, and PostgreSQL refuses NUL in text
        return None
    return db.session.scalar(select(User).where(User.email == address))


def clean_name(name: str) -> str:
    """A person's name, trimmed; refused when empty, too long or with control characters."""
    name = (name or "").strip()
    if not name or len(name) > 120 or not name.isprintable():
        raise ValidationError(_l("Enter a name."), field="name")
    return name


# --- login -------------------------------------------------------------------------------------

# Verified against when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH: str | None = None


def authenticate(email: str, password: str, *, now: datetime) -> User:
    """Check credentials; returns the user or raises one message that reveals nothing."""
    global _DUMMY_HASH
    failure = ValidationError(_l("Email address or password is incorrect."))
    user = find_user_by_email(email)
    hasher = _hasher()
    if user is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hasher.hash(secrets.token_hex(8))
        with suppress(VerificationError):
            hasher.verify(_DUMMY_HASH, password)
        raise failure
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        audit.record("user.login_failed", actor=None, now=now, object_type="user",
                     object_id=user.id)
        raise failure from None
    if not user.is_active:
        audit.record("user.login_failed", actor=None, now=now, object_type="user",
                     object_id=user.id, data={"reason": "deactivated"})
        raise ValidationError(_l("This account has been deactivated. Contact the organisers."))
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    user.last_login_at = now
    audit.record("user.login", actor=user, now=now, object_type="user", object_id=user.id)
    return user


def load_session_user(session_id: str) -> User | None:
    """Resolve the login cookie's `id:token` to an active user; a stale token logs out."""
    user_id, _, token = session_id.partition(":")
    # isascii: str.isdigit() also accepts digits such as "²" that int() refuses.
    if not (user_id.isascii() and user_id.isdigit()) or not token:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.is_active:
        return None
    if not secrets.compare_digest(user.session_token, token):
        return None
    return user


def record_logout(user: User, *, now: datetime) -> None:
    """Note in the audit log that a user logged out."""
    audit.record("user.logout", actor=user, now=now, object_type="user", object_id=user.id)


def change_password(user: User, current: str, new: str, *, now: datetime) -> None:
    """Change one's own password (needs the current one); ends other sessions."""
    try:
        _hasher().verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise ValidationError(
            _l("Your current password is incorrect."), field="current_password"
        ) from None
    _set_password(user, new, now)
    audit.record("user.password_changed", actor=user, now=now, object_type="user",
                 object_id=user.id)


# --- password reset ----------------------------------------------------------------------------


def _reset_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=RESET_SALT)


def _password_fingerprint(user: User) -> str:
    # Binds a reset link to the current password: once it changes, every older link is void.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:20]


def request_password_reset(email: str, *, now: datetime) -> None:
    """Mail a reset link if an active account has this email; silent otherwise (no probing)."""
    user = find_user_by_email(email)
    if user is None or not user.is_active:
        return
    token = _reset_serializer().dumps(
        {"u": user.id, "f": _password_fingerprint(user), "t": int(now.timestamp())}
    )
    queue_mail(
        to=user.email,
        template="password_reset",
        category="account",
        now=now,
        locale=user.locale,
        user=user,
        link=external_url("auth.reset_password", token=token),
        hours=current_app.config["PASSWORD_RESET_HOURS"],
    )
    audit.record("user.password_reset_requested", actor=None, now=now, object_type="user",
                 object_id=user.id)


def user_for_reset_token(token: str, *, now: datetime) -> User:
    """The user a reset link belongs to, or a clear refusal (invalid, used or expired)."""
    try:
        data = _reset_serializer().loads(token)
        user_id, fingerprint, issued = int(data["u"]), str(data["f"]), int(data["t"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise InvalidState(_l("This password reset link is invalid.")) from None
    user = db.session.get(User, user_id)
    if user is None or not user.is_active:
        raise InvalidState(_l("This password reset link is invalid."))
    if not secrets.compare_digest(fingerprint, _password_fingerprint(user)):
        raise InvalidState(_l("This password reset link has already been used."))
    hours = current_app.config["PASSWORD_RESET_HOURS"]
    if now.timestamp() - issued > hours * 3600:
        raise InvalidState(_l("This password reset link has expired. Request a new one."))
    return user


def reset_password(token: str, new_password: str, *, now: datetime) -> User:
    """Set a new password from a reset link (usable once)."""
    user = user_for_reset_token(token, now=now)
    _set_password(user, new_password, now)
    audit.record("user.password_reset", actor=user, now=now, object_type="user",
                 object_id=user.id)
    return user


# --- invitations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvitationData:
    email: str
    name: str
    municipality_id: int | None
    roles: frozenset[Role]


def _check_roles(
    roles: frozenset[Role] | set[Role],
    municipality_id: int | None,
    *,
    current_municipality_id: int | None = None,
) -> None:
    """Refuse an empty role set, a member/delegate without municipality and unknown or
    inactive municipalities (keeping a user's current one is fine, even after a merger)."""
    if not roles:
        raise ValidationError(_l("Choose at least one role."), field="roles")
    if municipality_id is None and any(r.needs_municipality for r in roles):
        raise ValidationError(
            _l("Members and delegates belong to a municipality: choose one."),
            field="municipality_id",
        )
    if municipality_id is not None:
        municipality = db.session.get(Municipality, municipality_id)
        if municipality is None:
            raise ValidationError(_l("Unknown municipality."), field="municipality_id")
        if not municipality.is_active and municipality_id != current_municipality_id:
            raise ValidationError(
                _l("%(name)s is no longer an active municipality.", name=municipality.name),
                field="municipality_id",
            )


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=INVITE_SALT)


def invitation_token(invitation: Invitation) -> str:
    """The signed value in an invitation link."""
    return _serializer().dumps([invitation.id, invitation.nonce])


def invite(actor: User, data: InvitationData, *, now: datetime) -> Invitation:
    """Invite a person by email (organisers only); earlier pending invitations lapse."""
    require_role(actor, Role.ORGANISER)
    email = normalise_email(data.email)
    name = clean_name(data.name)
    if find_user_by_email(email) is not None:
        raise ValidationError(
            _l("%(email)s already has an account; change its roles on the users page.",
               email=email),
            field="email",
        )
    _check_roles(data.roles, data.municipality_id)
    _lapse_open_invitations(email, now=now)
    invitation = Invitation(
        email=email,
        name=name,
        municipality_id=data.municipality_id,
        nonce=secrets.token_hex(16),
        invited_by_id=actor.id,
        created_at=now,
        expires_at=now + timedelta(days=current_app.config["INVITATION_DAYS"]),
    )
    invitation.roles = set(data.roles)
    db.session.add(invitation)
    db.session.flush()
    _mail_invitation(invitation, actor, now)
    audit.record(
        "invitation.created",
        actor=actor,
        now=now,
        object_type="invitation",
        object_id=invitation.id,
        data={"email": email, "roles": sorted(r.value for r in data.roles),
              "municipality_id": data.municipality_id},
    )
    return invitation


def _lapse_open_invitations(email: str, *, now: datetime, keep: Invitation | None = None) -> None:
    """Withdraw the open invitations for `email` (but `keep`): one live link per address."""
    stmt = select(Invitation).where(
        Invitation.email == email,
        Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None),
    )
    if keep is not None:
        stmt = stmt.where(Invitation.id != keep.id)
    for earlier in db.session.scalars(stmt):
        earlier.revoked_at = now


def _mail_invitation(invitation: Invitation, actor: User, now: datetime) -> None:
    queue_mail(
        to=invitation.email,
        template="invitation",
        category="account",
        now=now,
        invitation=invitation,
        inviter=actor,
        roles=[role_label(r) for r in sorted(invitation.roles)],
        link=external_url("auth.accept_invitation", token=invitation_token(invitation)),
    )


def resend_invitation(actor: User, invitation: Invitation, *, now: datetime) -> None:
    """Send a fresh link with a new expiry; the old link stops working."""
    require_role(actor, Role.ORGANISER)
    if invitation.accepted_at is not None:
        raise InvalidState(_l("This invitation has already been accepted."))
    if find_user_by_email(invitation.email) is not None:
        raise InvalidState(
            _l("%(email)s already has an account; change its roles on the users page.",
               email=invitation.email)
        )
    # Resending an older (withdrawn) invitation supersedes any newer open one for the address.
    _lapse_open_invitations(invitation.email, now=now, keep=invitation)
    invitation.nonce = secrets.token_hex(16)
    invitation.revoked_at = None
    invitation.expires_at = now + timedelta(days=current_app.config["INVITATION_DAYS"])
    _mail_invitation(invitation, actor, now)
    audit.record("invitation.resent", actor=actor, now=now, object_type="invitation",
                 object_id=invitation.id)


def revoke_invitation(actor: User, invitation: Invitation, *, now: datetime) -> None:
    """Withdraw a pending invitation."""
    require_role(actor, Role.ORGANISER)
    if invitation.status(now) != "pending":
        raise InvalidState(_l("Only pending invitations can be withdrawn."))
    invitation.revoked_at = now
    audit.record("invitation.revoked", actor=actor, now=now, object_type="invitation",
                 object_id=invitation.id)


def invitation_for_token(token: str, *, now: datetime) -> Invitation:
    """The pending invitation behind a link, or a clear refusal."""
    try:
        invitation_id, nonce = _serializer().loads(token)
    except (BadSignature, TypeError, ValueError):
        raise InvalidState(_l("This invitation link is invalid.")) from None
    invitation = db.session.get(Invitation, invitation_id) if isinstance(
        invitation_id, int) else None
    if invitation is None or not secrets.compare_digest(str(nonce), invitation.nonce):
        raise InvalidState(_l("This invitation link is invalid or has been replaced."))
    status = invitation.status(now)
    if status == "accepted":
        raise InvalidState(_l("This invitation has already been used. Log in instead."))
    if status == "revoked":
        raise InvalidState(_l("This invitation has been withdrawn."))
    if status == "expired":
        raise InvalidState(
            _l("This invitation has expired. Ask the organisers for a new one.")
        )
    return invitation


def accept_invitation(token: str, password: str, *, now: datetime, name: str | None = None) -> User:
    """Create the account for an invitation and set its password (the link works once)."""
    invitation = invitation_for_token(token, now=now)
    if find_user_by_email(invitation.email) is not None:
        raise InvalidState(_l("An account with this email address already exists. Log in."))
    name = clean_name(name) if name and name.strip() else invitation.name
    user = User(
        email=invitation.email,
        name=name,
        municipality_id=invitation.municipality_id,
        created_at=now,
        password_changed_at=now,
        password_hash="",
    )
    user.roles = invitation.roles
    _set_password(user, password, now)
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:  # a simultaneous acceptance created the account first
        # The caller rolls back, as after every domain error.
        raise InvalidState(
            _l("This invitation has already been used. Log in instead.")
        ) from None
    # Compare-and-set: of two simultaneous acceptances only one updates the row.
    claimed = db.session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.accepted_at.is_(None))
        .values(accepted_at=now, user_id=user.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise InvalidState(_l("This invitation has already been used. Log in instead."))
    db.session.refresh(invitation)
    audit.record("user.created", actor=user, now=now, object_type="user", object_id=user.id,
                 data={"invitation_id": invitation.id})
    return user


# --- user administration -----------------------------------------------------------------------


@dataclass(frozen=True)
class UserChanges:
    name: str
    municipality_id: int | None
    roles: frozenset[Role]
    is_active: bool


def update_user(actor: User, user: User, changes: UserChanges, *, now: datetime) -> None:
    """Organisers change a user's name, municipality, roles and active flag."""
    require_role(actor, Role.ORGANISER)
    if user.id == actor.id and (Role.ORGANISER not in changes.roles or not changes.is_active):
        raise ValidationError(
            _l("You cannot remove your own organiser role or deactivate yourself."),
            field="roles",
        )
    name = clean_name(changes.name)
    _check_roles(changes.roles, changes.municipality_id,
                 current_municipality_id=user.municipality_id)
    before = _user_snapshot(user)
    user.name = name
    user.municipality_id = changes.municipality_id
    user.roles = set(changes.roles)
    if user.is_active and not changes.is_active:
        user.session_token = new_session_token()
    user.is_active = changes.is_active
    after = _user_snapshot(user)
    if before != after:
        audit.record("user.updated", actor=actor, now=now, object_type="user",
                     object_id=user.id, data={"before": before, "after": after})


def _user_snapshot(user: User) -> dict:
    return {
        "name": user.name,
        "municipality_id": user.municipality_id,
        "roles": sorted(r.value for r in user.roles),
        "is_active": user.is_active,
    }


def get_user(user_id: int) -> User:
    """A user by id, or NotFound."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_l("No such user."))
    return user


def count_users() -> int:
    """Number of user accounts."""
    return db.session.scalar(select(func.count(User.id))) or 0
