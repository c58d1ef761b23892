"""Questions, comments and answers on proposals, reports of abuse, and moderation."""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from competition.extensions import db
from competition.models import Comment, CommentKind, ContentReport, Proposal, Role, User
from competition.services import audit
from competition.services.accounts import require_role
from competition.services.errors import InvalidState, NotFound, PermissionDenied, ValidationError
from competition.services.proposals import clean_text, involved_municipality_ids, is_db_id

BODY_MAX = 5000


def _check_body(body: str) -> str:
    body = clean_text(body)
    if not 2 <= len(body) <= BODY_MAX:
        raise ValidationError(_l("Write 2 to %(max)d characters.", max=BODY_MAX), field="body")
    return body


def add_comment(actor: User, proposal: Proposal, body: str, kind: CommentKind, *,
                now: datetime) -> Comment:
    """Any logged-in user asks a question or comments on a published proposal."""
    if actor is None or not actor.is_authenticated or not actor.is_active:
        raise PermissionDenied(_l("You need to log in for this."))
    if not proposal.is_published:
        raise InvalidState(_l("Comments open when the proposal is submitted."))
    if kind not in (CommentKind.QUESTION, CommentKind.COMMENT):
        raise ValidationError(_l("Choose question or comment."), field="kind")
    comment = Comment(proposal_id=proposal.id, kind=kind.value, body=_check_body(body),
                      author_id=actor.id, municipality_id=actor.municipality_id, created_at=now)
    db.session.add(comment)
    db.session.flush()
    audit.record(f"comment.{kind.value}", actor=actor, now=now, object_type="comment",
                 object_id=comment.id, round_id=proposal.round_id,
                 data={"proposal": proposal.id})
    return comment


def can_answer(user: User | None, proposal: Proposal) -> bool:
    """Users of the municipalities that submit the proposal answer on its behalf."""
    return bool(user is not None and user.is_authenticated and user.municipality_id is not None
                and user.municipality_id in involved_municipality_ids(proposal))


def answer(actor: User, question: Comment, body: str, *, now: datetime) -> Comment:
    """The submitting municipality answers a question or comment (marked as its answer)."""
    proposal = db.session.get(Proposal, question.proposal_id)
    if not can_answer(actor, proposal):
        raise PermissionDenied(_l("Only the submitting municipalities answer on this proposal."))
    if question.kind == CommentKind.ANSWER.value:
        raise InvalidState(_l("Answer the question itself, not an answer."))
    reply = Comment(proposal_id=proposal.id, parent_id=question.id, kind=CommentKind.ANSWER.value,
                    body=_check_body(body), author_id=actor.id,
                    municipality_id=actor.municipality_id, created_at=now)
    db.session.add(reply)
    db.session.flush()
    audit.record("comment.answer", actor=actor, now=now, object_type="comment",
                 object_id=reply.id, round_id=proposal.round_id,
                 data={"proposal": proposal.id, "question": question.id})
    return reply


def report(reporter: User | None, comment: Comment, reason: str, *,
           now: datetime) -> ContentReport:
    """Anyone (also without an account) reports a comment as abusive."""
    reason = clean_text(reason)
    if not 3 <= len(reason) <= 1000:
        raise ValidationError(_l("Say briefly what is wrong (3 to 1000 characters)."),
                              field="reason")
    if comment.is_hidden:
        raise InvalidState(_l("This message has already been hidden."))
    reporter_id = reporter.id if reporter is not None and reporter.is_authenticated else None
    entry = ContentReport(comment_id=comment.id, reporter_id=reporter_id, reason=reason,
                          created_at=now)
    db.session.add(entry)
    db.session.flush()
    proposal = db.session.get(Proposal, comment.proposal_id)
    audit.record("comment.reported", actor=reporter if reporter_id else None, now=now,
                 object_type="comment", object_id=comment.id, round_id=proposal.round_id,
                 data={"reason": reason})
    return entry


def hide(actor: User, comment: Comment, reason: str, *, now: datetime) -> None:
    """An organiser hides a message; the reason is shown in its place and logged."""
    require_role(actor, Role.ORGANISER)
    reason = clean_text(reason)
    if not 3 <= len(reason) <= 500:
        raise ValidationError(_l("Give the reason that will be shown (3 to 500 characters)."),
                              field="reason")
    if comment.is_hidden:
        raise InvalidState(_l("This message has already been hidden."))
    comment.hidden_at = now
    comment.hidden_by_id = actor.id
    comment.hidden_reason = reason
    _resolve_reports(actor, comment, "hidden", now)
    proposal = db.session.get(Proposal, comment.proposal_id)
    audit.record("comment.hidden", actor=actor, now=now, object_type="comment",
                 object_id=comment.id, round_id=proposal.round_id, data={"reason": reason})


def dismiss_reports(actor: User, comment: Comment, *, now: datetime) -> None:
    """An organiser finds nothing wrong: the open reports are closed."""
    require_role(actor, Role.ORGANISER)
    _resolve_reports(actor, comment, "dismissed", now)
    proposal = db.session.get(Proposal, comment.proposal_id)
    audit.record("comment.reports_dismissed", actor=actor, now=now, object_type="comment",
                 object_id=comment.id, round_id=proposal.round_id)


def _resolve_reports(actor: User, comment: Comment, resolution: str, now: datetime) -> None:
    for entry in db.session.scalars(select(ContentReport).where(
        ContentReport.comment_id == comment.id, ContentReport.resolved_at.is_(None)
    )):
        entry.resolved_at = now
        entry.resolved_by_id = actor.id
        entry.resolution = resolution
    db.session.flush()


def thread(proposal: Proposal) -> list[tuple[Comment, list[Comment]]]:
    """Questions and comments, oldest first, each with its answers."""
    comments = list(db.session.scalars(
        select(Comment).where(Comment.proposal_id == proposal.id).order_by(Comment.id)))
    answers: dict[int, list[Comment]] = {}
    for c in comments:
        if c.parent_id is not None:
            answers.setdefault(c.parent_id, []).append(c)
    return [(c, answers.get(c.id, [])) for c in comments if c.parent_id is None]


def open_reports() -> list[ContentReport]:
    """Unresolved reports, oldest first (the moderation queue)."""
    return list(db.session.scalars(
        select(ContentReport).where(ContentReport.resolved_at.is_(None))
        .order_by(ContentReport.created_at)))


def get_comment(comment_id: int) -> Comment:
    """A comment by id, or NotFound."""
    comment = db.session.get(Comment, comment_id) if is_db_id(comment_id) else None
    if comment is None:
        raise NotFound(_l("No such message."))
    return comment
