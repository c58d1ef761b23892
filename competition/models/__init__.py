"""All models, imported here so Alembic and the app see the whole schema."""

from competition.models.adoption import Adoption, AdoptionEvent, AdoptionStatus
from competition.models.approval import Approval, ApprovalBallot
from competition.models.attachment import Attachment
from competition.models.audit import AuditEvent, AuditHead
from competition.models.ballot import FinalBallot, VoteResult, WeightBracket
from competition.models.cluster import Cluster, ClusterMember
from competition.models.comment import Comment, CommentKind, ContentReport
from competition.models.criterion import DEFAULT_CRITERIA, Criterion
from competition.models.development import OPEN_LICENCES, FinalistWork, ProgressUpdate
from competition.models.domain import Domain
from competition.models.finalist import FinalistDecision, PreselectionResult
from competition.models.invitation import Invitation
from competition.models.job import Job, JobStatus
from competition.models.jury import JuryConflict, JuryMember, Score, Scorecard
from competition.models.municipality import Municipality
from competition.models.notification import NotificationMark
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
from competition.models.standard import Standard
from competition.models.types import UTCDateTime, utcnow
from competition.models.user import Role, User

__all__ = [
    "DEFAULT_CRITERIA",
    "OPEN_LICENCES",
    "PHASES",
    "VERSIONED_FIELDS",
    "VOTE_WEIGHTINGS",
    "Adoption",
    "AdoptionEvent",
    "AdoptionStatus",
    "Approval",
    "ApprovalBallot",
    "Attachment",
    "AuditEvent",
    "AuditHead",
    "Cluster",
    "ClusterMember",
    "CoSubmission",
    "CoSubmissionStatus",
    "Comment",
    "CommentKind",
    "ContentReport",
    "Criterion",
    "Domain",
    "FinalBallot",
    "FinalistDecision",
    "FinalistWork",
    "Follow",
    "Interest",
    "Invitation",
    "Job",
    "JobStatus",
    "JuryConflict",
    "JuryMember",
    "Municipality",
    "NotificationMark",
    "OutboxMail",
    "Phase",
    "PhaseWindow",
    "PreselectionResult",
    "ProgressUpdate",
    "Proposal",
    "ProposalStatus",
    "ProposalVersion",
    "Role",
    "Round",
    "Score",
    "Scorecard",
    "Standard",
    "UTCDateTime",
    "User",
    "VoteResult",
    "WeightBracket",
    "WithdrawalKind",
    "utcnow",
]
