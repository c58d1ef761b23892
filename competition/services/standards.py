"""Standards: the winners of the final vote, each with its own public page.

The count at the end of the final vote declares them (`voting.count`); afterwards the
organisers and the owning municipality's team (its active members and delegates) keep the
description, links, licence and version up to date. Every change is audit-logged.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from competition.extensions import db
from competition.models import Cluster, Role, Round, Standard, User
from competition.services import audit, notifications
from competition.services.development import check_licence, check_url
from competition.services.errors import NotFound, PermissionDenied, ValidationError
from competition.services.proposals import clean_text, is_db_id

DESCRIPTION_MAX = 20_000
VERSION_MAX = 40
# A version as people write them: 1.0, 2.1.3, 2027.1, 1.0-beta, v2 …
VERSION_PATTERN = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]*")
EDITABLE_FIELDS = ("description", "demo_url", "documentation_url", "source_url", "licence",
                   "version")


@dataclass
class Listed:
    standard: Standard
    round: Round
    cluster: Cluster


def all_standards() -> list[Listed]:
    """Every standard with its round and vraagstuk, newest first."""
    rows = db.session.execute(
        select(Standard, Round, Cluster)
        .join(Round, Round.id == Standard.round_id)
        .join(Cluster, Cluster.id == Standard.cluster_id)
        .order_by(Standard.declared_at.desc(), Standard.round_id.desc(), Standard.cluster_id,
                  Standard.place)).all()
    return [Listed(s, r, c) for s, r, c in rows]


def round_standards(rnd: Round) -> dict[int, list[Standard]]:
    """The round's standards per cluster id (winner first)."""
    out: dict[int, list[Standard]] = {}
    for s in db.session.scalars(select(Standard).where(Standard.round_id == rnd.id)
                                .order_by(Standard.cluster_id, Standard.place)):
        out.setdefault(s.cluster_id, []).append(s)
    return out


def cluster_standards(cluster: Cluster) -> list[Standard]:
    """The standards a vraagstuk's vote declared (winner first)."""
    return list(db.session.scalars(select(Standard).where(Standard.cluster_id == cluster.id)
                                   .order_by(Standard.place)))


def get_standard(standard_id: int) -> Standard:
    """A standard by id, or NotFound."""
    standard = db.session.get(Standard, standard_id) if is_db_id(standard_id) else None
    if standard is None:
        raise NotFound(_l("No such standard."))
    return standard


def is_owner_team(user: User | None, standard: Standard) -> bool:
    """Whether the user is an active member or delegate of the owning municipality."""
    return bool(
        user is not None and getattr(user, "is_authenticated", False) and user.is_active
        and (user.has_role(Role.MEMBER) or user.has_role(Role.DELEGATE))
        and user.municipality_id is not None
        and user.municipality_id == standard.owner_municipality_id)


def edit_refusal(user: User | None, standard: Standard) -> str | None:
    """Why the user cannot change this standard (None when they can)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return str(_l("You need to log in for this."))
    if user.has_role(Role.ORGANISER) or is_owner_team(user, standard):
        return None
    return str(_l("Only the organisers and the team of the owning municipality can change "
                  "this standard."))


@dataclass
class StandardData:
    description: str
    demo_url: str
    documentation_url: str
    source_url: str
    licence: str
    version: str


def _clean(data: StandardData) -> StandardData:
    description = clean_text(data.description)
    if len(description) > DESCRIPTION_MAX:
        raise ValidationError(_l("At most %(max)d characters.", max=DESCRIPTION_MAX),
                              field="description")
    licence = check_licence(data.licence)
    version = clean_text(data.version)
    if not version or len(version) > VERSION_MAX or not VERSION_PATTERN.fullmatch(version):
        raise ValidationError(
            _l("Give a version such as 1.0, 2.1.3 or 1.0-beta (letters, digits and . + _ -, "
               "at most %(max)d characters).", max=VERSION_MAX), field="version")
    return StandardData(
        description=description,
        demo_url=check_url(data.demo_url, "demo_url"),
        documentation_url=check_url(data.documentation_url, "documentation_url"),
        source_url=check_url(data.source_url, "source_url"),
        licence=licence,
        version=version,
    )


def update_standard(actor: User, standard: Standard, data: StandardData, *,
                    now: datetime) -> list[str]:
    """Change a standard's description, links, licence and version (organisers and the owning
    municipality's team); returns the names of the fields that changed."""
    refusal = edit_refusal(actor, standard)
    if refusal:
        raise PermissionDenied(refusal)
    clean = _clean(data)
    changed = [name for name in EDITABLE_FIELDS
               if getattr(standard, name) != getattr(clean, name)]
    if not changed:
        return []
    previous_version = standard.version
    for name in changed:
        setattr(standard, name, getattr(clean, name))
    standard.updated_at = now
    db.session.flush()
    # The new values, except the description (long text): the log names that it changed.
    audit.record("standard.updated", actor=actor, now=now, object_type="standard",
                 object_id=standard.id, round_id=standard.round_id,
                 data={"changed": changed,
                       **{name: getattr(clean, name) for name in changed
                          if name != "description"}})
    if "version" in changed:
        # The adopting municipalities hear of it, in this transaction.
        notifications.standard_version_changed(standard, previous_version, actor=actor, now=now)
    return changed
