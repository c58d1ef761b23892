"""The development phase: finalist teams publish progress updates, deliverables and a cost and
licence statement. Everything they publish is public; questions from other municipalities use
the proposal's comment thread, which the team answers.

A finalist team is the active members and delegates of the municipalities involved in a
finalist proposal (owner and accepted co-submitters). Teams publish during the development
phase only; what they published stays visible afterwards.
"""

from datetime import datetime
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from competition.extensions import db
from competition.models import (
    OPEN_LICENCES,
    Attachment,
    Cluster,
    FinalistDecision,
    FinalistWork,
    Phase,
    ProgressUpdate,
    Proposal,
    Role,
    Round,
    User,
)
from competition.services import attachments, audit
from competition.services.errors import NotFound, PermissionDenied, ValidationError
from competition.services.proposals import clean_text, involved_municipality_ids, is_db_id
from competition.services.rounds import hold_phase, phase_label

TITLE_MAX = 160
BODY_MAX = 20_000
URL_MAX = 500
NOTES_MAX = 5000
LICENCE_OTHER = "other"
LICENCE_NOTES_MIN = 10  # another licence needs an explanation of at least this length


def is_finalist(proposal: Proposal) -> bool:
    """Whether the proposal went through the preselection (after overrides)."""
    return bool(db.session.scalar(select(FinalistDecision.is_finalist).where(
        FinalistDecision.proposal_id == proposal.id)))


def is_team(user: User | None, proposal: Proposal) -> bool:
    """Whether the user publishes for this proposal: an active member or delegate of a
    municipality involved in it."""
    return bool(
        user is not None and getattr(user, "is_authenticated", False) and user.is_active
        and (user.has_role(Role.MEMBER) or user.has_role(Role.DELEGATE))
        and user.municipality_id is not None
        and user.municipality_id in involved_municipality_ids(proposal))


def publish_refusal(user: User | None, proposal: Proposal) -> str | None:
    """Why the user cannot publish on this finalist now (None when they can)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return str(_l("You need to log in for this."))
    if not is_team(user, proposal):
        return str(_l("Only the finalist's team publishes here."))
    if not is_finalist(proposal):
        return str(_l("This proposal is not a finalist."))
    rnd = db.session.get(Round, proposal.round_id)
    if rnd.current_phase is not Phase.DEVELOPMENT:
        return str(_l("Finalists publish during the development phase (now: %(phase)s).",
                      phase=phase_label(rnd.current_phase)))
    return None


def _require_publish(actor: User, proposal: Proposal) -> Round:
    reason = publish_refusal(actor, proposal)
    if reason:
        raise PermissionDenied(reason)
    rnd = db.session.get(Round, proposal.round_id)
    hold_phase(rnd, Phase.DEVELOPMENT, reason or str(_l("The development phase has ended.")))
    return rnd


# --- progress updates --------------------------------------------------------------------------


def _check_update(title: str, body: str) -> tuple[str, str]:
    title, body = clean_text(title).strip(), clean_text(body).strip()
    if not 3 <= len(title) <= TITLE_MAX:
        raise ValidationError(_l("The title has 3 to %(max)d characters.", max=TITLE_MAX),
                              field="title")
    if not 10 <= len(body) <= BODY_MAX:
        raise ValidationError(_l("Write 10 to %(max)d characters.", max=BODY_MAX), field="body")
    return title, body


def post_update(actor: User, proposal: Proposal, title: str, body: str, *,
                now: datetime) -> ProgressUpdate:
    """Publish a progress update (Markdown) on a finalist."""
    rnd = _require_publish(actor, proposal)
    title, body = _check_update(title, body)
    update = ProgressUpdate(round_id=rnd.id, proposal_id=proposal.id, author_id=actor.id,
                            title=title, body=body, created_at=now, updated_at=now)
    db.session.add(update)
    db.session.flush()
    audit.record("development.update_posted", actor=actor, now=now, object_type="proposal",
                 object_id=proposal.id, round_id=rnd.id,
                 data={"update": update.id, "title": title})
    return update


def edit_update(actor: User, update: ProgressUpdate, title: str, body: str, *,
                now: datetime) -> None:
    """Correct a progress update (during the development phase, by the team)."""
    proposal = db.session.get(Proposal, update.proposal_id)
    rnd = _require_publish(actor, proposal)
    update.title, update.body = _check_update(title, body)
    update.updated_at = now
    db.session.flush()
    audit.record("development.update_edited", actor=actor, now=now, object_type="proposal",
                 object_id=proposal.id, round_id=rnd.id, data={"update": update.id})


def updates(proposal: Proposal) -> list[ProgressUpdate]:
    """The finalist's progress updates, newest first."""
    return list(db.session.scalars(select(ProgressUpdate).where(
        ProgressUpdate.proposal_id == proposal.id).order_by(ProgressUpdate.created_at.desc(),
                                                              ProgressUpdate.id.desc())))


def get_update(update_id: int) -> ProgressUpdate:
    """A progress update by id, or NotFound."""
    update = db.session.get(ProgressUpdate, update_id) if is_db_id(update_id) else None
    if update is None:
        raise NotFound(_l("No such update."))
    return update


# --- deliverables and the statement ------------------------------------------------------------


def check_url(value: str, field: str) -> str:
    """A public web address (https, no spaces), or "" for none; ValidationError otherwise.

    The one rule for every link the platform publishes: a finalist's deliverables become the
    standard's links when it wins, and the standard must stay editable with them.
    """
    value = clean_text(value).strip()
    if not value:
        return ""
    parts = urlsplit(value)
    if (parts.scheme != "https" or not parts.hostname or len(value) > URL_MAX
            or any(c.isspace() for c in value)):
        raise ValidationError(
            _l("Give a full web address starting with https:// (at most %(max)d characters).",
               max=URL_MAX), field=field)
    return value


def check_licence(licence: str) -> str:
    """An offered licence (an open one, "other", or "" for none yet); ValidationError
    otherwise."""
    licence = clean_text(licence).strip()
    if licence not in (*OPEN_LICENCES, LICENCE_OTHER, ""):
        raise ValidationError(_l("Choose a licence from the list."), field="licence")
    return licence


def work(proposal: Proposal) -> FinalistWork | None:
    """The finalist's links and statement, if published."""
    return db.session.scalar(select(FinalistWork).where(FinalistWork.proposal_id == proposal.id))


def save_work(actor: User, proposal: Proposal, *, demo_url: str, documentation_url: str,
              source_url: str, licence: str, licence_notes: str, cost_estimate: int | None,
              yearly_cost: int | None, cost_notes: str, now: datetime) -> FinalistWork:
    """Publish or update the finalist's deliverable links and its cost and licence statement."""
    rnd = _require_publish(actor, proposal)
    links = {"demo_url": check_url(demo_url, "demo_url"),
             "documentation_url": check_url(documentation_url, "documentation_url"),
             "source_url": check_url(source_url, "source_url")}
    licence = check_licence(licence)
    licence_notes, cost_notes = clean_text(licence_notes).strip(), clean_text(cost_notes).strip()
    if licence == LICENCE_OTHER and len(licence_notes) < LICENCE_NOTES_MIN:
        raise ValidationError(_l("Explain which licence and why it is not an open one."),
                              field="licence_notes")
    for name, value in (("cost_estimate", cost_estimate), ("yearly_cost", yearly_cost)):
        if value is not None and not 0 <= value <= 10**11:
            raise ValidationError(_l("Give an amount in euros, 0 or more."), field=name)
    for name, value in (("licence_notes", licence_notes), ("cost_notes", cost_notes)):
        if len(value) > NOTES_MAX:
            raise ValidationError(_l("At most %(max)d characters.", max=NOTES_MAX), field=name)
    current = work(proposal)
    if current is None:
        current = FinalistWork(proposal_id=proposal.id, updated_at=now, updated_by_id=actor.id)
        db.session.add(current)
    for name, value in {**links, "licence": licence, "licence_notes": licence_notes,
                        "cost_estimate": cost_estimate, "yearly_cost": yearly_cost,
                        "cost_notes": cost_notes}.items():
        setattr(current, name, value)
    current.updated_at, current.updated_by_id = now, actor.id
    db.session.flush()
    audit.record("development.work_saved", actor=actor, now=now, object_type="proposal",
                 object_id=proposal.id, round_id=rnd.id,
                 data={**links, "licence": licence, "cost_estimate": cost_estimate,
                       "yearly_cost": yearly_cost})
    return current


def add_deliverable_file(actor: User, proposal: Proposal, upload: attachments.Upload, *,
                         upload_folder: str, now: datetime) -> Attachment:
    """Publish a file as a deliverable (same types and limits as proposal attachments)."""
    _require_publish(actor, proposal)
    return attachments.store_upload(actor, proposal, upload, upload_folder=upload_folder,
                                    now=now, is_deliverable=True)


def remove_deliverable_file(actor: User, attachment: Attachment, *, now: datetime) -> None:
    """Take a deliverable file off the finalist page (the file and its record are kept)."""
    proposal = db.session.get(Proposal, attachment.proposal_id)
    rnd = _require_publish(actor, proposal)
    if not attachment.is_deliverable:
        raise NotFound(_l("No such deliverable."))
    if attachment.removed_at is None:
        attachment.removed_at, attachment.removed_by_id = now, actor.id
        db.session.flush()
        audit.record("deliverable.removed", actor=actor, now=now, object_type="proposal",
                     object_id=proposal.id, round_id=rnd.id,
                     data={"attachment": attachment.id, "name": attachment.original_name})


def cluster_finalists(cluster: Cluster) -> list[Proposal]:
    """The cluster's finalists by preselection rank."""
    return list(db.session.scalars(
        select(Proposal).join(FinalistDecision, FinalistDecision.proposal_id == Proposal.id)
        .where(FinalistDecision.cluster_id == cluster.id, FinalistDecision.is_finalist)
        .order_by(FinalistDecision.rank)))
