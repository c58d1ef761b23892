"""The list of policy domains proposals are filed under (edited by organisers)."""

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from competition.extensions import db
from competition.models import Domain, Role, User
from competition.services import audit
from competition.services.accounts import require_role
from competition.services.errors import NotFound, ValidationError
from competition.services.proposals import clean_text, is_db_id
from competition.services.rounds import slugify

POSITION_MAX = 999


@dataclass(frozen=True)
class DomainData:
    name_nl: str
    name_en: str
    position: int = 0
    is_active: bool = True


def _validate(data: DomainData) -> DomainData:
    name_nl = " ".join(clean_text(data.name_nl).split())
    name_en = " ".join(clean_text(data.name_en).split())
    if not 2 <= len(name_nl) <= 80:
        raise ValidationError(_l("The Dutch name needs 2 to 80 characters."), field="name_nl")
    if not 2 <= len(name_en) <= 80:
        raise ValidationError(_l("The English name needs 2 to 80 characters."), field="name_en")
    if not isinstance(data.position, int) or not 0 <= data.position <= POSITION_MAX:
        raise ValidationError(_l("Enter a position from 0 to %(max)d.", max=POSITION_MAX),
                              field="position")
    return DomainData(name_nl, name_en, data.position, bool(data.is_active))


def _unique_slug(name: str) -> str:
    # Slugs never change (exports use them), so a renamed domain keeps its old slug: a new
    # domain may need a suffix even though no current name clashes.
    base = slugify(name)[:55] if slugify(name) != "ronde" else "domein"
    slug, n = base, 2
    while db.session.scalar(select(Domain.id).where(Domain.slug == slug)):
        slug, n = f"{base}-{n}", n + 1
    return slug


def create_domain(actor: User, data: DomainData, *, now: datetime) -> Domain:
    """Add a domain to the list (organisers)."""
    require_role(actor, Role.ORGANISER)
    data = _validate(data)
    if db.session.scalar(select(Domain.id).where(
            func.lower(Domain.name_nl) == data.name_nl.lower())):
        raise ValidationError(_l("This domain already exists."), field="name_nl")
    slug = _unique_slug(data.name_nl)
    position = data.position or (db.session.scalar(select(func.max(Domain.position))) or 0) + 1
    domain = Domain(slug=slug, name_nl=data.name_nl, name_en=data.name_en, position=position,
                    is_active=True)
    db.session.add(domain)
    db.session.flush()
    audit.record("domain.created", actor=actor, now=now, object_type="domain",
                 object_id=domain.id, data={"name_nl": domain.name_nl, "name_en": domain.name_en})
    return domain


def update_domain(actor: User, domain: Domain, data: DomainData, *, now: datetime) -> None:
    """Rename, reorder or (de)activate a domain; proposals keep their domain either way."""
    require_role(actor, Role.ORGANISER)
    data = _validate(data)
    clash = db.session.scalar(select(Domain.id).where(
        func.lower(Domain.name_nl) == data.name_nl.lower(), Domain.id != domain.id))
    if clash:
        raise ValidationError(_l("This domain already exists."), field="name_nl")
    before = {"name_nl": domain.name_nl, "name_en": domain.name_en,
              "position": domain.position, "is_active": domain.is_active}
    domain.name_nl, domain.name_en = data.name_nl, data.name_en
    domain.position, domain.is_active = data.position, data.is_active
    after = {"name_nl": domain.name_nl, "name_en": domain.name_en,
             "position": domain.position, "is_active": domain.is_active}
    if before != after:
        audit.record("domain.updated", actor=actor, now=now, object_type="domain",
                     object_id=domain.id, data={"before": before, "after": after})


def get_domain(domain_id: int) -> Domain:
    """A domain by id, or NotFound."""
    domain = db.session.get(Domain, domain_id) if is_db_id(domain_id) else None
    if domain is None:
        raise NotFound(_l("No such domain."))
    return domain
