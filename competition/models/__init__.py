"""All models, imported here so Alembic and the app see the whole schema."""

from competition.models.attachment import Attachment
from competition.models.audit import AuditEvent
from competition.models.cluster import Cluster, ClusterMember
from competition.models.comment import Comment, CommentKind, ContentReport
from competition.models.domain import Domain
from competition.models.invitation import Invitation
from competition.models.job import Job, JobStatus
from competition.models.municipality import Municipality
from competition.models.outbox import OutboxMail
from competition.models.participation import CoSubmission, CoSubmissionStatus, Follow, Interest
from competition.models.phase import PHASES, Phase, PhaseWindow
from competition.models.proposal import (
    VERSIONED_FIELDS,
    Proposal,
    ProposalStatus,
    ProposalVersion,
    WithdrawalKind,
)
from competition.models.round import VOTE_WEIGHTINGS, Round
from competition.models.types import UTCDateTime, utcnow
from competition.models.user import Role, User

__all__ = [
    "PHASES",
    "VERSIONED_FIELDS",
    "VOTE_WEIGHTINGS",
    "Attachment",
    "AuditEvent",
    "Cluster",
    "ClusterMember",
    "CoSubmission",
    "CoSubmissionStatus",
    "Comment",
    "CommentKind",
    "ContentReport",
    "Domain",
    "Follow",
    "Interest",
    "Invitation",
    "Job",
    "JobStatus",
    "Municipality",
    "OutboxMail",
    "Phase",
    "PhaseWindow",
    "Proposal",
    "ProposalStatus",
    "ProposalVersion",
    "Role",
    "Round",
    "UTCDateTime",
    "User",
    "WithdrawalKind",
    "utcnow",
]
