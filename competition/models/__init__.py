"""All models, imported here so Alembic and the app see the whole schema."""

from competition.models.audit import AuditEvent
from competition.models.invitation import Invitation
from competition.models.municipality import Municipality
from competition.models.outbox import OutboxMail
from competition.models.phase import PHASES, Phase, PhaseWindow
from competition.models.round import VOTE_WEIGHTINGS, Round
from competition.models.types import UTCDateTime, utcnow
from competition.models.user import Role, User

__all__ = [
    "PHASES",
    "VOTE_WEIGHTINGS",
    "AuditEvent",
    "Invitation",
    "Municipality",
    "OutboxMail",
    "Phase",
    "PhaseWindow",
    "Role",
    "Round",
    "UTCDateTime",
    "User",
    "utcnow",
]
