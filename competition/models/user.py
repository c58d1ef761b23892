"""User accounts and their roles."""

import enum
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from competition.extensions import db
from competition.models.municipality import Municipality
from competition.models.types import UTCDateTime


class Role(enum.StrEnum):
    ORGANISER = "organiser"
    JURY = "jury"
    DELEGATE = "delegate"
    MEMBER = "member"

    @property
    def needs_municipality(self) -> bool:
        return self in (Role.DELEGATE, Role.MEMBER)


def new_session_token() -> str:
    return secrets.token_hex(16)


class RoleFlags:
    """The four role booleans, shared by users and invitations."""

    is_organiser: Mapped[bool] = mapped_column(default=False)
    is_jury: Mapped[bool] = mapped_column(default=False)
    is_delegate: Mapped[bool] = mapped_column(default=False)
    is_member: Mapped[bool] = mapped_column(default=False)

    @property
    def roles(self) -> set[Role]:
        return {role for role in Role if getattr(self, f"is_{role.value}")}

    @roles.setter
    def roles(self, roles: set[Role]) -> None:
        for role in Role:
            setattr(self, f"is_{role.value}", role in roles)

    def has_role(self, role: Role) -> bool:
        return bool(getattr(self, f"is_{role.value}"))


# Members and delegates act for a municipality; the database refuses them without one.
ROLE_NEEDS_MUNICIPALITY = "NOT (is_member OR is_delegate) OR municipality_id IS NOT NULL"


class User(RoleFlags, UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint(ROLE_NEEDS_MUNICIPALITY, name="role_needs_municipality"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipalities.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # Part of the login cookie's identity: rotating it logs out every other session.
    session_token: Mapped[str] = mapped_column(String(32), default=new_session_token)
    is_active: Mapped[bool] = mapped_column(default=True)
    # Language for mail to this user; follows the language they last chose on the site.
    locale: Mapped[str] = mapped_column(String(5), default="nl")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Mail categories this user switched off (see services/notifications.py).
    muted_categories: Mapped[list[str]] = mapped_column(JSON, default=list,
                                                        server_default=text("'[]'"))

    municipality: Mapped[Municipality | None] = relationship(lazy="joined")

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    def __repr__(self) -> str:
        return f"<User {self.email}>"
