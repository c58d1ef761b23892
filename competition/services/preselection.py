"""Preselection: jurors score, delegates approve, and at the end of the phase the finalists of
every cluster are computed and published with their full reasoning.

The arithmetic is the pure engine's (`competition.engine.preselection`); this module feeds it
from the database, enforces who may do what and when, freezes the result when the phase ends
and lets organisers override a decision with a public reason.

Rules enforced here:
- The scorecard (criteria) is part of the round's rules: it changes only while the round is a
  draft. Jurors are assigned (to the whole round or to some clusters) until preselection ends.
- Scoring, declaring conflicts and approving happen only during the preselection phase; each of
  these holds the phase (`rounds.hold_phase`) so nothing lands after the result was computed.
- A juror from a municipality involved in a proposal (owner or accepted co-submitter) is recused
  from it automatically; a declared conflict recuses too. Recused jurors cannot score.
- A municipality approves at most `max_finalists` proposals per cluster, never one it is
  involved in; one ballot per municipality per cluster (also a database constraint).
- Only submitted scorecards count. Voting municipalities are the active municipalities with an
  active delegate: they are the ones that could approve.
"""

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from competition.engine import preselection as engine
from competition.extensions import db
from competition.models import (
    Approval,
    ApprovalBallot,
    Cluster,
    ClusterMember,
    CoSubmission,
    CoSubmissionStatus,
    Criterion,
    FinalistDecision,
    JuryConflict,
    JuryMember,
    Municipality,
    Phase,
    PreselectionResult,
    Proposal,
    ProposalStatus,
    Role,
    Round,
    Score,
    Scorecard,
    User,
)
from competition.services import audit
from competition.services.accounts import require_role
from competition.services.errors import (
    ConflictError,
    InvalidState,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from competition.services.mail import queue_mail
from competition.services.proposals import involved_municipality_ids, is_db_id
from competition.services.rounds import hold_phase, on_phase_end, phase_label
from competition.urls import external_url

NAME_MAX = 120
TEXT_MAX = 2000
COMMENT_MAX = 2000
REASON_MIN, REASON_MAX = 10, 2000
SCALE_LIMIT = 100
WEIGHT_MAX = 100.0


def _phase_refusal(action: str, rnd: Round) -> str:
    return str(_l("%(action)s is only possible during the preselection phase (now: %(phase)s).",
                  action=action, phase=phase_label(rnd.current_phase)))


def _locale() -> str:
    """The language messages are shown in (for names stored in two languages)."""
    return str(get_locale() or "nl")


def _round_of(obj: Any) -> Round:
    return db.session.get(Round, obj.round_id)


# --- criteria ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CriterionData:
    name_nl: str
    name_en: str = ""
    description_nl: str = ""
    description_en: str = ""
    scale_min: int = 1
    scale_max: int = 5
    weight: float = 1.0


def criteria(rnd: Round) -> list[Criterion]:
    """The round's criteria in their published order."""
    return list(db.session.scalars(
        select(Criterion).where(Criterion.round_id == rnd.id)
        .order_by(Criterion.position, Criterion.id)))


def _editable_criteria(actor: User, rnd: Round) -> None:
    require_role(actor, Role.ORGANISER)
    if rnd.current_phase is not Phase.DRAFT:
        raise InvalidState(_l("The criteria are part of the round's rules: they can only change "
                              "while the round is a draft."))


def _validate_criterion(data: CriterionData) -> None:
    if not data.name_nl.strip():
        raise ValidationError(_l("Give the criterion a Dutch name."), field="name_nl")
    for name in ("name_nl", "name_en"):
        if len(getattr(data, name).strip()) > NAME_MAX:
            raise ValidationError(_l("A name has at most %(num)d characters.", num=NAME_MAX),
                                  field=name)
    for name in ("description_nl", "description_en"):
        if len(getattr(data, name)) > TEXT_MAX:
            raise ValidationError(
                _l("A description has at most %(num)d characters.", num=TEXT_MAX), field=name)
    if not (0 <= data.scale_min < data.scale_max <= SCALE_LIMIT):
        raise ValidationError(
            _l("The highest score must be above the lowest score; both lie between 0 and "
               "%(max)d.", max=SCALE_LIMIT), field="scale_max")
    if not (0 < data.weight <= WEIGHT_MAX):
        raise ValidationError(_l("The weight is a number above 0 and at most %(max)d.",
                                 max=int(WEIGHT_MAX)), field="weight")


def _criterion_audit(c: Criterion) -> dict:
    return {"name_nl": c.name_nl, "name_en": c.name_en, "scale": [c.scale_min, c.scale_max],
            "weight": c.weight}


def add_criterion(actor: User, rnd: Round, data: CriterionData, *, now: datetime) -> Criterion:
    """Add a criterion at the end of the round's scorecard (draft rounds only)."""
    _editable_criteria(actor, rnd)
    _validate_criterion(data)
    position = db.session.scalar(
        select(func.coalesce(func.max(Criterion.position), -1))
        .where(Criterion.round_id == rnd.id)) + 1
    criterion = Criterion(round_id=rnd.id, position=position, **_clean(data))
    db.session.add(criterion)
    db.session.flush()
    audit.record("criterion.added", actor=actor, now=now, object_type="criterion",
                 object_id=criterion.id, round_id=rnd.id, data=_criterion_audit(criterion))
    return criterion


def _clean(data: CriterionData) -> dict:
    values = asdict(data)
    for name in ("name_nl", "name_en", "description_nl", "description_en"):
        values[name] = values[name].strip()
    return values


def update_criterion(actor: User, criterion: Criterion, data: CriterionData, *,
                     now: datetime) -> None:
    """Change a criterion's names, description, scale or weight (draft rounds only)."""
    rnd = _round_of(criterion)
    _editable_criteria(actor, rnd)
    _validate_criterion(data)
    for name, value in _clean(data).items():
        setattr(criterion, name, value)
    db.session.flush()
    audit.record("criterion.changed", actor=actor, now=now, object_type="criterion",
                 object_id=criterion.id, round_id=rnd.id, data=_criterion_audit(criterion))


def remove_criterion(actor: User, criterion: Criterion, *, now: datetime) -> None:
    """Remove a criterion from the scorecard (draft rounds only; one must remain when the jury
    counts)."""
    rnd = _round_of(criterion)
    _editable_criteria(actor, rnd)
    if rnd.jury_weight > 0 and len(criteria(rnd)) <= 1:
        raise InvalidState(_l("The jury needs at least one criterion (or give the jury a weight "
                              "of 0%% in the rules)."))
    data = _criterion_audit(criterion)
    db.session.delete(criterion)
    db.session.flush()
    audit.record("criterion.removed", actor=actor, now=now, object_type="criterion",
                 object_id=criterion.id, round_id=rnd.id, data=data)


def get_criterion(criterion_id: int) -> Criterion:
    """A criterion by id, or NotFound."""
    criterion = db.session.get(Criterion, criterion_id) if is_db_id(criterion_id) else None
    if criterion is None:
        raise NotFound(_l("No such criterion."))
    return criterion


# --- the jury ----------------------------------------------------------------------------------


def jury_members(rnd: Round) -> list[JuryMember]:
    """The round's jurors, by name."""
    rows = db.session.scalars(select(JuryMember).where(JuryMember.round_id == rnd.id)).all()
    return sorted(rows, key=lambda m: (m.user.name.lower(), m.id))


def jury_candidates(rnd: Round) -> list[User]:
    """Active users with the jury role."""
    return list(db.session.scalars(
        select(User).where(User.is_jury.is_(True), User.is_active.is_(True))
        .order_by(User.name)))


def _assignable(actor: User, rnd: Round) -> None:
    require_role(actor, Role.ORGANISER)
    if rnd.current_phase.index > Phase.PRESELECTION.index:
        raise InvalidState(_l("The preselection of this round is over: its jury is final."))


def _round_clusters(rnd: Round, cluster_ids: list[int]) -> list[Cluster]:
    found = []
    for cluster_id in sorted(set(cluster_ids)):
        cluster = db.session.get(Cluster, cluster_id) if is_db_id(cluster_id) else None
        if cluster is None or cluster.round_id != rnd.id:
            raise ValidationError(_l("Choose vraagstukken of this round."), field="cluster_ids")
        found.append(cluster)
    return found


def assign_juror(actor: User, rnd: Round, user: User, cluster_ids: list[int], *,
                 now: datetime) -> JuryMember:
    """Make `user` a juror of the round, for the given clusters (none: every cluster); assigning
    again replaces the clusters."""
    _assignable(actor, rnd)
    if not user.is_active or not user.has_role(Role.JURY):
        raise ValidationError(_l("Only active users with the jury role can be jurors."),
                              field="user_id")
    clusters = _round_clusters(rnd, cluster_ids)
    member = db.session.scalar(select(JuryMember).where(
        JuryMember.round_id == rnd.id, JuryMember.user_id == user.id))
    action = "jury.changed"
    if member is None:
        member = JuryMember(round_id=rnd.id, user_id=user.id, created_at=now,
                            created_by_id=actor.id)
        db.session.add(member)
        action = "jury.assigned"
    member.clusters = clusters
    member.is_whole_round = not clusters
    db.session.flush()
    audit.record(action, actor=actor, now=now, object_type="user", object_id=user.id,
                 round_id=rnd.id, data={"name": user.name, "clusters": [c.id for c in clusters]})
    return member


def remove_juror(actor: User, member: JuryMember, *, now: datetime) -> None:
    """Take a juror off the round; scorecards already made are kept but no longer count."""
    rnd = _round_of(member)
    _assignable(actor, rnd)
    user = member.user
    db.session.delete(member)
    db.session.flush()
    audit.record("jury.removed", actor=actor, now=now, object_type="user", object_id=user.id,
                 round_id=rnd.id, data={"name": user.name})


def get_jury_member(member_id: int) -> JuryMember:
    """A jury assignment by id, or NotFound."""
    member = db.session.get(JuryMember, member_id) if is_db_id(member_id) else None
    if member is None:
        raise NotFound(_l("No such juror."))
    return member


def juror_rounds(user: User) -> list[Round]:
    """Rounds in which `user` is a juror, newest first."""
    return list(db.session.scalars(
        select(Round).join(JuryMember, JuryMember.round_id == Round.id)
        .where(JuryMember.user_id == user.id).order_by(Round.created_at.desc())))


def membership(user: User | None, rnd: Round) -> JuryMember | None:
    """The user's jury assignment in this round, if any."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(select(JuryMember).where(
        JuryMember.round_id == rnd.id, JuryMember.user_id == user.id))


def _cluster_proposals(cluster_ids: list[int]) -> dict[int, list[Proposal]]:
    rows = db.session.execute(
        select(ClusterMember.cluster_id, Proposal)
        .join(Proposal, Proposal.id == ClusterMember.proposal_id)
        .where(ClusterMember.cluster_id.in_(cluster_ids),
               Proposal.status == ProposalStatus.SUBMITTED.value)
        .order_by(Proposal.title, Proposal.id)).all()
    out: dict[int, list[Proposal]] = defaultdict(list)
    for cluster_id, proposal in rows:
        out[cluster_id].append(proposal)
    return out


def member_clusters(member: JuryMember) -> list[Cluster]:
    """The confirmed clusters this juror scores."""
    if not member.is_whole_round:
        return [c for c in member.clusters if c.is_confirmed]
    return list(db.session.scalars(
        select(Cluster).where(Cluster.round_id == member.round_id,
                              Cluster.is_confirmed.is_(True))
        .order_by(Cluster.label, Cluster.id)))


def _involved_map(proposal_ids: list[int]) -> dict[int, set[int]]:
    """Involved municipalities (owner + accepted co-submitters) of many proposals at once."""
    out: dict[int, set[int]] = defaultdict(set)
    if not proposal_ids:
        return out
    for pid, mid in db.session.execute(
            select(Proposal.id, Proposal.municipality_id).where(Proposal.id.in_(proposal_ids))):
        out[pid].add(mid)
    for pid, mid in db.session.execute(
            select(CoSubmission.proposal_id, CoSubmission.municipality_id).where(
                CoSubmission.proposal_id.in_(proposal_ids),
                CoSubmission.status == CoSubmissionStatus.ACCEPTED.value)):
        out[pid].add(mid)
    return out


def _declared(juror_ids: list[int], proposal_ids: list[int]) -> dict[tuple[int, int], JuryConflict]:
    if not juror_ids or not proposal_ids:
        return {}
    rows = db.session.scalars(select(JuryConflict).where(
        JuryConflict.juror_id.in_(juror_ids), JuryConflict.proposal_id.in_(proposal_ids),
        JuryConflict.withdrawn_at.is_(None)))
    return {(c.juror_id, c.proposal_id): c for c in rows}


@dataclass
class Task:
    """One proposal on a juror's list and where the juror stands with it."""

    proposal: Proposal
    cluster: Cluster
    scorecard: Scorecard | None = None
    recusal: str | None = None  # "automatic" or "declared"
    conflict: JuryConflict | None = None

    @property
    def status(self) -> str:
        if self.recusal:
            return "recused"
        if self.scorecard is None:
            return "todo"
        return "submitted" if self.scorecard.is_submitted else "draft"


def tasks(member: JuryMember) -> list[Task]:
    """The juror's proposals, cluster by cluster, with scorecards and recusals."""
    juror = member.user
    clusters = member_clusters(member)
    by_cluster = _cluster_proposals([c.id for c in clusters])
    ids = [p.id for ps in by_cluster.values() for p in ps]
    involved = _involved_map(ids)
    declared = _declared([juror.id], ids)
    cards = {c.proposal_id: c for c in db.session.scalars(select(Scorecard).where(
        Scorecard.juror_id == juror.id, Scorecard.proposal_id.in_(ids or [0])))}
    out = []
    for cluster in clusters:
        for proposal in by_cluster.get(cluster.id, []):
            conflict = declared.get((juror.id, proposal.id))
            recusal = ("automatic" if juror.municipality_id in involved[proposal.id]
                       else "declared" if conflict else None)
            out.append(Task(proposal, cluster, cards.get(proposal.id), recusal, conflict))
    return out


def task(user: User, proposal: Proposal) -> Task:
    """The juror's task for one proposal; refused when the proposal is not on their list."""
    require_role(user, Role.JURY)
    rnd = _round_of(proposal)
    member = membership(user, rnd)
    if member is not None:
        for t in tasks(member):
            if t.proposal.id == proposal.id:
                return t
    raise PermissionDenied(_l("This proposal is not on your jury list."))


@dataclass(frozen=True)
class ScoreInput:
    criterion_id: int
    value: int | None
    comment: str = ""


def save_scorecard(actor: User, proposal: Proposal, inputs: list[ScoreInput], *, submit: bool,
                   now: datetime) -> Scorecard:
    """Save a juror's scores on a proposal: as a draft (may be partial; it does not count), or
    submitted (every criterion scored; it counts and stays editable until the phase ends)."""
    require_role(actor, Role.JURY)
    rnd = _round_of(proposal)
    hold_phase(rnd, Phase.PRESELECTION, _phase_refusal(str(_l("Scoring")), rnd))
    t = task(actor, proposal)
    if t.recusal:
        raise PermissionDenied(_l("You are recused from this proposal, so you cannot score it."))
    crits = {c.id: c for c in criteria(rnd)}
    given: dict[int, ScoreInput] = {}
    for item in inputs:
        criterion = crits.get(item.criterion_id)
        if criterion is None:
            raise ValidationError(_l("Unknown criterion."))
        if item.value is not None and item.value not in criterion.scale:
            raise ValidationError(
                _l("Score “%(name)s” from %(min)d to %(max)d.", name=criterion.name(_locale()),
                   min=criterion.scale_min, max=criterion.scale_max),
                field=f"c{criterion.id}")
        if len(item.comment) > COMMENT_MAX:
            raise ValidationError(_l("A comment has at most %(num)d characters.",
                                     num=COMMENT_MAX), field=f"c{criterion.id}_comment")
        given[criterion.id] = item
    if submit:
        missing = [c for c in crits.values()
                   if given.get(c.id) is None or given[c.id].value is None]
        if missing:
            raise ValidationError(
                _l("Score every criterion before you submit; missing: %(names)s.",
                   names=", ".join(c.name(_locale()) for c in missing)),
                field=f"c{missing[0].id}")
    card = t.scorecard
    if card is None:
        card = Scorecard(round_id=rnd.id, juror_id=actor.id, proposal_id=proposal.id,
                         created_at=now, updated_at=now)
        db.session.add(card)
    was_submitted = card.is_submitted
    for criterion_id, item in given.items():
        score = card.score_for(criterion_id)
        if score is None:
            card.scores.append(Score(criterion_id=criterion_id, value=item.value,
                                     comment=item.comment.strip()))
        else:
            score.value, score.comment = item.value, item.comment.strip()
    card.is_submitted = submit
    card.submitted_at = now if submit else None
    card.updated_at = now
    db.session.flush()
    audit.record(
        "scorecard.submitted" if submit else
        ("scorecard.retracted" if was_submitted else "scorecard.saved"),
        actor=actor, now=now, object_type="proposal", object_id=proposal.id, round_id=rnd.id,
        data={"scores": {str(k): v.value for k, v in sorted(given.items())}})
    return card


def declare_conflict(actor: User, proposal: Proposal, reason: str, *, now: datetime) -> None:
    """A juror declares a conflict of interest: recused from the proposal (scores no longer
    count; a draft or submitted scorecard is kept but ignored)."""
    require_role(actor, Role.JURY)
    rnd = _round_of(proposal)
    hold_phase(rnd, Phase.PRESELECTION, _phase_refusal(str(_l("Declaring a conflict")), rnd))
    task(actor, proposal)
    reason = reason.strip()
    if not 3 <= len(reason) <= 1000:
        raise ValidationError(_l("Say in 3 to 1000 characters why you have a conflict."),
                              field="reason")
    conflict = db.session.scalar(select(JuryConflict).where(
        JuryConflict.juror_id == actor.id, JuryConflict.proposal_id == proposal.id))
    if conflict is None:
        conflict = JuryConflict(round_id=rnd.id, juror_id=actor.id, proposal_id=proposal.id,
                                reason=reason, declared_at=now)
        db.session.add(conflict)
    else:
        conflict.reason, conflict.declared_at, conflict.withdrawn_at = reason, now, None
    db.session.flush()
    audit.record("jury.conflict_declared", actor=actor, now=now, object_type="proposal",
                 object_id=proposal.id, round_id=rnd.id, data={"reason": reason})


def withdraw_conflict(actor: User, proposal: Proposal, *, now: datetime) -> None:
    """Undo a declared conflict (a mistake): the juror may score the proposal again."""
    require_role(actor, Role.JURY)
    rnd = _round_of(proposal)
    hold_phase(rnd, Phase.PRESELECTION, _phase_refusal(str(_l("Withdrawing a conflict")), rnd))
    conflict = db.session.scalar(select(JuryConflict).where(
        JuryConflict.juror_id == actor.id, JuryConflict.proposal_id == proposal.id,
        JuryConflict.withdrawn_at.is_(None)))
    if conflict is None:
        raise InvalidState(_l("You have not declared a conflict on this proposal."))
    conflict.withdrawn_at = now
    db.session.flush()
    audit.record("jury.conflict_withdrawn", actor=actor, now=now, object_type="proposal",
                 object_id=proposal.id, round_id=rnd.id)


# --- progress and reminders --------------------------------------------------------------------


@dataclass
class JurorProgress:
    member: JuryMember
    tasks: list[Task]

    def count(self, status: str) -> int:
        return sum(1 for t in self.tasks if t.status == status)

    @property
    def missing(self) -> list[Task]:
        return [t for t in self.tasks if t.status in ("todo", "draft")]


def progress(rnd: Round) -> list[JurorProgress]:
    """Per juror: which scorecards are submitted, drafts, missing, and recusals."""
    return [JurorProgress(m, tasks(m)) for m in jury_members(rnd)]


def send_reminders(actor: User, rnd: Round, *, now: datetime) -> int:
    """Mail every juror with missing scorecards; returns how many were reminded."""
    require_role(actor, Role.ORGANISER)
    if rnd.current_phase is not Phase.PRESELECTION:
        raise InvalidState(_l("Reminders can only be sent during the preselection phase."))
    reminded = 0
    for row in progress(rnd):
        if not row.missing or not row.member.user.is_active:
            continue
        user = row.member.user
        queue_mail(to=user.email, template="jury_reminder", category="jury", now=now,
                   locale=user.locale, user=user, round=rnd, missing=len(row.missing),
                   ends_at=rnd.window(Phase.PRESELECTION).ends_at,
                   link=external_url("jury.round_tasks", slug=rnd.slug))
        row.member.reminded_at = now
        reminded += 1
    db.session.flush()
    audit.record("jury.reminded", actor=actor, now=now, object_type="round", object_id=rnd.id,
                 round_id=rnd.id, data={"jurors": reminded})
    return reminded


# --- the peer vote -----------------------------------------------------------------------------


def voting_municipality_ids() -> set[int]:
    """Municipalities that can approve: active, with at least one active delegate."""
    return set(db.session.scalars(
        select(Municipality.id).join(User, User.municipality_id == Municipality.id)
        .where(Municipality.is_active.is_(True), User.is_active.is_(True),
               User.is_delegate.is_(True)).distinct()))


def vote_refusal(user: User | None) -> str | None:
    """Why this user cannot cast approval ballots (None when they can)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return str(_l("You need to log in for this."))
    if not user.has_role(Role.DELEGATE) or user.municipality is None:
        return str(_l("Only a municipality's delegates can vote."))
    if not user.municipality.is_active:
        return str(_l("Your municipality does not take part at the moment."))
    return None


def ballot(municipality_id: int, cluster: Cluster) -> ApprovalBallot | None:
    """The municipality's approval ballot in this cluster, if cast."""
    return db.session.scalar(select(ApprovalBallot).where(
        ApprovalBallot.cluster_id == cluster.id,
        ApprovalBallot.municipality_id == municipality_id))


@dataclass
class Choice:
    proposal: Proposal
    is_own: bool  # the voter's municipality is involved: it cannot approve this one


def choices(cluster: Cluster, municipality_id: int | None) -> list[Choice]:
    """The cluster's proposals, marked where the municipality is involved."""
    proposals = _cluster_proposals([cluster.id]).get(cluster.id, [])
    involved = _involved_map([p.id for p in proposals])
    return [Choice(p, municipality_id in involved[p.id]) for p in proposals]


def cast_approvals(actor: User, cluster: Cluster, proposal_ids: list[int], *, now: datetime,
                   expected_version: int | None = None) -> ApprovalBallot:
    """Cast or change the municipality's approval ballot for a cluster: up to N proposals of
    other municipalities (none is allowed: an empty ballot). `expected_version` is the version
    of the ballot the delegate saw (0: none yet); when another delegate of the municipality
    cast or changed it meanwhile, this is refused (409) instead of overwriting it unseen."""
    require_role(actor, Role.DELEGATE)
    refusal = vote_refusal(actor)
    if refusal:
        raise PermissionDenied(refusal)
    rnd = _round_of(cluster)
    hold_phase(rnd, Phase.PRESELECTION, _phase_refusal(str(_l("Voting")), rnd))
    if not cluster.is_confirmed:
        raise NotFound(_l("No such cluster."))
    wanted = set(proposal_ids)
    if len(wanted) > rnd.max_finalists:
        raise ValidationError(
            _l("Approve at most %(num)d proposals.", num=rnd.max_finalists), field="proposals")
    options = {c.proposal.id: c for c in choices(cluster, actor.municipality_id)}
    for pid in sorted(wanted):
        if pid not in options:
            raise ValidationError(_l("You can only approve proposals of this vraagstuk."),
                                  field="proposals")
        if options[pid].is_own:
            raise PermissionDenied(
                _l("Your municipality submitted “%(title)s”: you cannot approve it.",
                   title=options[pid].proposal.title))
    current = ballot(actor.municipality_id, cluster)
    action = "preselection.ballot_changed"
    if current is None:
        current = _new_ballot(actor, rnd, cluster, now)
        if current is not None:
            action = "preselection.ballot_cast"
        else:  # another delegate of the municipality created it a moment ago
            current = ballot(actor.municipality_id, cluster)
            if expected_version is None:
                expected_version = -1  # this delegate has not seen that ballot
    if action == "preselection.ballot_changed":
        if expected_version is not None and current.version != expected_version:
            raise ConflictError(_l("Another delegate of your municipality changed this ballot "
                                   "meanwhile. Look at it again before you change it."))
        current.updated_by_id, current.updated_at = actor.id, now
        # Always write the ballot row, so its version moves even when only approvals change
        # (that is what lets a concurrent change by another delegate be detected).
        flag_modified(current, "updated_at")
    before = sorted(current.proposal_ids)
    for approval in [a for a in current.approvals if a.proposal_id not in wanted]:
        current.approvals.remove(approval)
    for pid in sorted(wanted - current.proposal_ids):
        current.approvals.append(Approval(proposal_id=pid))
    try:
        db.session.flush()
    except StaleDataError:
        # Two delegates of one municipality changed the ballot at the same moment.
        raise ConflictError(_l("Another delegate of your municipality changed this ballot "
                               "meanwhile. Look at it again before you change it.")) from None
    audit.record(action, actor=actor, now=now, object_type="cluster", object_id=cluster.id,
                 round_id=rnd.id, data={"municipality": actor.municipality.code,
                                        "before": before, "after": sorted(wanted)})
    return current


def _new_ballot(actor: User, rnd: Round, cluster: Cluster,
                now: datetime) -> ApprovalBallot | None:
    """Create the municipality's ballot; None when another delegate of the municipality created
    it a moment ago (the unique constraint refused ours)."""
    new = ApprovalBallot(round_id=rnd.id, cluster_id=cluster.id,
                         municipality_id=actor.municipality_id, cast_by_id=actor.id,
                         cast_at=now, updated_by_id=actor.id, updated_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(new)
            db.session.flush()
    except IntegrityError:
        if ballot(actor.municipality_id, cluster) is None:
            raise
        return None
    return new


def peer_overview(user: User, rnd: Round) -> list[tuple[Cluster, ApprovalBallot | None, int]]:
    """Per confirmed cluster: the user's municipality's ballot (or None) and how many
    proposals it could approve."""
    clusters = list(db.session.scalars(
        select(Cluster).where(Cluster.round_id == rnd.id, Cluster.is_confirmed.is_(True))
        .order_by(Cluster.label, Cluster.id)))
    ballots = {b.cluster_id: b for b in db.session.scalars(select(ApprovalBallot).where(
        ApprovalBallot.round_id == rnd.id,
        ApprovalBallot.municipality_id == user.municipality_id))}
    by_cluster = _cluster_proposals([c.id for c in clusters])
    involved = _involved_map([p.id for ps in by_cluster.values() for p in ps])
    return [(c, ballots.get(c.id),
             sum(1 for p in by_cluster.get(c.id, []) if user.municipality_id not in involved[p.id]))
            for c in clusters]


def turnout(rnd: Round) -> tuple[int, int]:
    """(municipalities that cast at least one approval ballot, municipalities that could)."""
    voted = db.session.scalar(select(func.count(func.distinct(ApprovalBallot.municipality_id)))
                              .where(ApprovalBallot.round_id == rnd.id))
    return voted or 0, len(voting_municipality_ids())


# --- computing the finalists -------------------------------------------------------------------


def compute(rnd: Round) -> tuple[engine.PreselectionResult, dict[str, Any]]:
    """Run the engine on the round's current scores and approvals.

    Returns the engine's result and the context needed to publish it (criteria, juror labels,
    comments, jurors who did not score). Each cluster is computed with its own jurors.
    """
    crits = criteria(rnd)
    rules = engine.Rules(seed=rnd.draw_seed, jury_weight=rnd.jury_weight,
                         max_finalists=rnd.max_finalists)
    clusters = list(db.session.scalars(
        select(Cluster).where(Cluster.round_id == rnd.id, Cluster.is_confirmed.is_(True))
        .order_by(Cluster.id)))
    by_cluster = _cluster_proposals([c.id for c in clusters])
    all_ids = [p.id for ps in by_cluster.values() for p in ps]
    involved = _involved_map(all_ids)
    members = jury_members(rnd)
    # Jurors are numbered in a fixed order so "Juror 2" means the same person on every page
    # (by user id, the order in which the engine lists scorecards).
    labels = {uid: i + 1 for i, uid in enumerate(sorted(m.user_id for m in members))}
    juror_ids = [m.user_id for m in members]
    declared = _declared(juror_ids, all_ids)
    cards = list(db.session.scalars(select(Scorecard).where(
        Scorecard.round_id == rnd.id, Scorecard.juror_id.in_(juror_ids or [0]),
        Scorecard.proposal_id.in_(all_ids or [0]))))
    submitted = [c for c in cards if c.is_submitted]
    approvals = db.session.execute(
        select(ApprovalBallot.municipality_id, Approval.proposal_id)
        .join(Approval, Approval.ballot_id == ApprovalBallot.id)
        .where(ApprovalBallot.round_id == rnd.id)).all()
    voters = voting_municipality_ids()
    criterion_ids = {c.id for c in crits}

    results = []
    comments: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
    missing: dict[str, list[int]] = {}
    for cluster in clusters:
        proposals = by_cluster.get(cluster.id, [])
        if not proposals:
            continue
        ids = {p.id for p in proposals}
        cluster_members = [m for m in members
                           if m.is_whole_round or cluster.id in {c.id for c in m.clusters}]
        cluster_jurors = {m.user_id for m in cluster_members}
        scores = [engine.Score(card.juror_id, card.proposal_id, s.criterion_id, s.value)
                  for card in submitted
                  if card.proposal_id in ids and card.juror_id in cluster_jurors
                  for s in card.scores if s.value is not None and s.criterion_id in criterion_ids]
        result = engine.compute_preselection(
            proposals=[engine.Proposal(p.id, cluster.id, p.municipality_id,
                                       frozenset(involved[p.id] - {p.municipality_id}))
                       for p in proposals],
            criteria=[engine.Criterion(c.id, c.weight, c.scale_min, c.scale_max) for c in crits],
            jurors=[engine.Juror(m.user_id, m.user.municipality_id) for m in cluster_members],
            scores=scores,
            approvals=[engine.Approval(mid, pid) for mid, pid in approvals if pid in ids],
            voting_municipality_ids=voters,
            rules=rules,
            conflicts=[engine.Conflict(j, p, c.reason) for (j, p), c in declared.items()
                       if p in ids and j in cluster_jurors],
        )
        results.extend(result.clusters)
        for card in submitted:
            if card.proposal_id in ids and card.juror_id in cluster_jurors:
                notes = {str(s.criterion_id): s.comment for s in card.scores if s.comment}
                if notes:
                    comments[str(card.proposal_id)][str(card.juror_id)] = notes
        for p in (result.clusters[0].proposals if result.clusters else ()):
            counted = {s.juror_id for s in p.scorecards}
            recused = {r.juror_id for r in p.recusals}
            missing[str(p.proposal_id)] = sorted(cluster_jurors - counted - recused)
    context = {
        "criteria": [{"id": c.id, "name_nl": c.name_nl, "name_en": c.name_en,
                      "scale": [c.scale_min, c.scale_max], "weight": c.weight} for c in crits],
        "jurors": {str(m.user_id): {"number": labels[m.user_id], "name": m.user.name}
                   for m in members},
        "comments": comments,
        "missing": missing,
        "voters": len(voters),
        "rules": {"jury_weight": rnd.jury_weight, "max_finalists": rnd.max_finalists,
                  "seed": rnd.draw_seed},
    }
    return engine.PreselectionResult(rules, tuple(results)), context


def _cluster_data(result: engine.ClusterResult, context: dict[str, Any]) -> dict[str, Any]:
    """One cluster's result as stored JSON (ids as in the database)."""
    proposals = []
    for p in result.proposals:
        data = asdict(p)
        data["comments"] = context["comments"].get(str(p.proposal_id), {})
        data["missing"] = context["missing"].get(str(p.proposal_id), [])
        proposals.append(data)
    return {
        "cluster_id": result.cluster_id, "max_finalists": result.max_finalists,
        "all_through": result.all_through, "cutoff_decided_by": result.cutoff_decided_by,
        "proposals": proposals,
        **{k: context[k] for k in ("criteria", "jurors", "voters", "rules")},
    }


@on_phase_end(Phase.PRESELECTION)
def publish(rnd: Round, now: datetime, actor: User | None) -> None:
    """End of preselection: compute, freeze and publish the finalists; mail every team."""
    result, context = compute(rnd)
    db.session.execute(delete(FinalistDecision).where(FinalistDecision.round_id == rnd.id))
    db.session.execute(delete(PreselectionResult).where(PreselectionResult.round_id == rnd.id))
    finalists = 0
    for cluster_result in result.clusters:
        db.session.add(PreselectionResult(round_id=rnd.id, cluster_id=cluster_result.cluster_id,
                                          computed_at=now,
                                          data=_cluster_data(cluster_result, context)))
        for p in cluster_result.proposals:
            db.session.add(FinalistDecision(
                round_id=rnd.id, cluster_id=cluster_result.cluster_id, proposal_id=p.proposal_id,
                rank=p.rank, jury_score=p.jury_score, peer_score=p.peer_score,
                approvals=p.approvals, eligible=p.eligible, combined=p.combined,
                decided_by=p.decided_by, is_computed_finalist=p.is_finalist,
                is_finalist=p.is_finalist))
            finalists += p.is_finalist
    db.session.flush()
    # Every team and link at once: a round of thousands of proposals closes in one request.
    all_decisions = decisions(rnd)
    teams = _teams([d.proposal_id for d in all_decisions])
    links: dict[int, str] = {}
    for decision in all_decisions:
        if decision.cluster_id not in links:
            links[decision.cluster_id] = external_url("results.preselection_cluster",
                                                      cluster_id=decision.cluster_id)
        _mail_team(decision, rnd, now, overridden=False, members=teams[decision.proposal_id],
                   link=links[decision.cluster_id])
    audit.record("preselection.published", actor=actor, now=now, object_type="round",
                 object_id=rnd.id, round_id=rnd.id,
                 data={"clusters": len(result.clusters), "finalists": finalists,
                       "voting_municipalities": context["voters"]})


def municipality_users(municipality_ids: set[int]) -> list[User]:
    """Active members and delegates of these municipalities."""
    if not municipality_ids:
        return []
    return list(db.session.scalars(
        select(User).where(User.municipality_id.in_(municipality_ids), User.is_active.is_(True),
                           User.is_member.is_(True) | User.is_delegate.is_(True))
        .order_by(User.id)))


def team(proposal: Proposal) -> list[User]:
    """Active members and delegates of the municipalities involved in the proposal."""
    return municipality_users(involved_municipality_ids(proposal))


def _teams(proposal_ids: list[int]) -> dict[int, list[User]]:
    """`team` of many proposals in three queries."""
    involved = _involved_map(proposal_ids)
    users = municipality_users(set().union(*involved.values()) if involved else set())
    return {pid: [u for u in users if u.municipality_id in involved[pid]]
            for pid in proposal_ids}


def _mail_team(decision: FinalistDecision, rnd: Round, now: datetime, *, overridden: bool,
               members: list[User] | None = None, link: str | None = None) -> None:
    link = link or external_url("results.preselection_cluster", cluster_id=decision.cluster_id)
    for user in team(decision.proposal) if members is None else members:
        queue_mail(to=user.email, template="preselection_result", category="preselection",
                   now=now, locale=user.locale, user=user, round=rnd, decision=decision,
                   overridden=overridden, link=link)


# --- reading the result and overriding it ------------------------------------------------------


def decisions(rnd: Round) -> list[FinalistDecision]:
    """Every proposal's decision in the round, by cluster and rank."""
    return list(db.session.scalars(
        select(FinalistDecision).where(FinalistDecision.round_id == rnd.id)
        .order_by(FinalistDecision.cluster_id, FinalistDecision.rank)))


def cluster_result(cluster: Cluster) -> tuple[PreselectionResult | None, list[FinalistDecision]]:
    """The frozen result of a cluster and its decisions by rank (None, [] before the end)."""
    stored = db.session.scalar(select(PreselectionResult).where(
        PreselectionResult.cluster_id == cluster.id))
    rows = list(db.session.scalars(
        select(FinalistDecision).where(FinalistDecision.cluster_id == cluster.id)
        .order_by(FinalistDecision.rank)))
    return stored, rows


def finalists(cluster: Cluster) -> list[Proposal]:
    """The cluster's finalists (after overrides), by rank."""
    from competition.services.development import cluster_finalists

    return cluster_finalists(cluster)


def is_published(rnd: Round) -> bool:
    """Whether the preselection result of the round is out."""
    return rnd.current_phase.index > Phase.PRESELECTION.index


def may_override(user: User | None, rnd: Round) -> bool:
    """Whether `user` may change the finalists of `rnd` now (what `override` allows)."""
    return (user is not None and user.is_authenticated and user.has_role(Role.ORGANISER)
            and rnd.current_phase is Phase.DEVELOPMENT)


def override(actor: User, proposal: Proposal, make_finalist: bool, reason: str, *,
             now: datetime) -> FinalistDecision:
    """An organiser makes a proposal a finalist, or not, against the computed result. Needs a
    written reason, which is published next to the result. Only during development, before the
    final vote opens."""
    require_role(actor, Role.ORGANISER)
    rnd = _round_of(proposal)
    hold_phase(rnd, Phase.DEVELOPMENT, str(_l(
        "Finalists can only be changed during the development phase (now: %(phase)s).",
        phase=phase_label(rnd.current_phase))))
    decision = db.session.scalar(select(FinalistDecision).where(
        FinalistDecision.proposal_id == proposal.id))
    if decision is None:
        raise NotFound(_l("This proposal has no preselection result."))
    reason = reason.strip()
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise ValidationError(
            _l("Explain the decision in %(min)d to %(max)d characters; it is published.",
               min=REASON_MIN, max=REASON_MAX), field="reason")
    if decision.is_finalist == make_finalist:
        raise InvalidState(_l("The proposal already is a finalist.") if make_finalist
                           else _l("The proposal already is not a finalist."))
    before = decision.is_finalist
    decision.is_finalist = make_finalist
    decision.override_reason = reason
    decision.overridden_at, decision.overridden_by_id = now, actor.id
    db.session.flush()
    audit.record("preselection.overridden", actor=actor, now=now, object_type="proposal",
                 object_id=proposal.id, round_id=rnd.id,
                 data={"from": before, "to": make_finalist, "reason": reason,
                       "computed": decision.is_computed_finalist})
    _mail_team(decision, rnd, now, overridden=True)
    return decision


@dataclass
class ResultView:
    """A cluster's published result prepared for display."""

    cluster: Cluster
    stored: PreselectionResult | None
    decisions: list[FinalistDecision] = field(default_factory=list)

    @property
    def data(self) -> dict[str, Any]:
        return self.stored.data if self.stored else {}

    def details(self, proposal_id: int) -> dict[str, Any]:
        for p in self.data.get("proposals", []):
            if p["proposal_id"] == proposal_id:
                return p
        return {}


def result_view(cluster: Cluster) -> ResultView:
    """The published result of a cluster, ready for its page."""
    stored, rows = cluster_result(cluster)
    return ResultView(cluster, stored, rows)
