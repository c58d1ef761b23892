"""Proposals: submitting, editing with history, withdrawing, co-submitting, interest, following,
finding similar proposals, search and export."""

from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm.exc import StaleDataError

from competition.engine.similarity import SimilarityIndex
from competition.engine.text import query_terms, search_document
from competition.extensions import db
from competition.models import (
    CoSubmission,
    CoSubmissionStatus,
    Domain,
    Follow,
    Interest,
    Municipality,
    Phase,
    Proposal,
    ProposalStatus,
    ProposalVersion,
    Role,
    Round,
    User,
    WithdrawalKind,
)
from competition.models.types import ID_MAX
from competition.services import audit
from competition.services.accounts import normalise_email
from competition.services.errors import (
    ConflictError,
    InvalidState,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from competition.services.rounds import phase_label

TITLE_MIN, TITLE_MAX = 10, 120
SUMMARY_MAX = 500
DESCRIPTION_MAX = 20_000
PROBLEM_MAX = 5_000
COST_MAX = 1_000_000_000
# Title and summary together are at most ~620 characters; longer input is cut, not analysed.
SIMILAR_TEXT_MAX = 2_000


@dataclass(frozen=True)
class ProposalData:
    title: str
    summary: str = ""
    description: str = ""
    problem: str = ""
    domain_id: int | None = None
    planned_start: date | None = None
    estimated_cost: int | None = None
    contact_name: str = ""
    contact_email: str = ""


# --- who may do what ---------------------------------------------------------------------------


def involved_municipality_ids(proposal: Proposal) -> set[int]:
    """The owner and every accepted co-submitter: they never vote or score on this proposal."""
    ids = {proposal.municipality_id}
    ids.update(
        db.session.scalars(
            select(CoSubmission.municipality_id).where(
                CoSubmission.proposal_id == proposal.id,
                CoSubmission.status == CoSubmissionStatus.ACCEPTED.value,
            )
        )
    )
    return ids


def _is_team_member(user: User | None, proposal: Proposal) -> bool:
    if user is None or not user.is_authenticated or user.municipality_id is None:
        return False
    if not user.has_role(Role.MEMBER) and not user.has_role(Role.DELEGATE):
        return False
    return user.municipality_id in involved_municipality_ids(proposal)


def is_owner_member(user: User | None, proposal: Proposal) -> bool:
    """A member (or delegate) of the owning municipality."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.municipality_id == proposal.municipality_id
        and (user.has_role(Role.MEMBER) or user.has_role(Role.DELEGATE))
    )


def can_view(user: User | None, proposal: Proposal) -> bool:
    """Published proposals are public; drafts only for their team and organisers."""
    if proposal.is_published:
        return True
    if user is None or not user.is_authenticated:
        return False
    return user.has_role(Role.ORGANISER) or _is_team_member(user, proposal)


def edit_refusal(user: User | None, proposal: Proposal, rnd: Round) -> str | None:
    """Why `user` may not edit this proposal now (None when they may)."""
    if user is None or not user.is_authenticated:
        return str(_l("You need to log in for this."))
    if not _is_team_member(user, proposal):
        return str(_l("Only members of the municipalities that submit this proposal can edit it."))
    if proposal.is_withdrawn:
        return str(_l("This proposal has been withdrawn."))
    if rnd.current_phase is not Phase.SUBMISSION:
        return str(_l("Proposals can only be changed during the submission phase (now: %(phase)s).",
                      phase=phase_label(rnd.current_phase)))
    return None


def _require_edit(user: User, proposal: Proposal) -> Round:
    rnd = db.session.get(Round, proposal.round_id)
    reason = edit_refusal(user, proposal, rnd)
    if reason:
        raise PermissionDenied(reason)
    return rnd


def _acts_for_municipality(user: User | None) -> bool:
    return bool(
        user is not None and user.is_authenticated and user.is_active
        and user.municipality_id is not None
        and (user.has_role(Role.MEMBER) or user.has_role(Role.DELEGATE))
    )


def _require_member(actor: User) -> Municipality:
    if actor is None or not actor.is_authenticated or not actor.is_active:
        raise PermissionDenied(_l("You need to log in for this."))
    if not _acts_for_municipality(actor):
        raise PermissionDenied(_l("Only members of a municipality can do this."))
    return actor.municipality


def start_refusal(user: User | None, rnd: Round) -> str | None:
    """Why `user` may not start a proposal in this round now (None when they may)."""
    if rnd.current_phase is not Phase.SUBMISSION:
        return str(_l("Proposals can only be submitted during the submission phase."))
    if not _acts_for_municipality(user):
        return str(_l("Only members of a municipality can submit proposals."))
    return None


def can_mark_interest(user: User | None, proposal: Proposal) -> bool:
    """Whether the user's municipality may mark (or withdraw) interest in this proposal."""
    return (_acts_for_municipality(user) and proposal.status == ProposalStatus.SUBMITTED.value
            and user.municipality_id not in involved_municipality_ids(proposal))


# --- validation --------------------------------------------------------------------------------


def clean_text(value: str | None) -> str:
    """User text without NUL characters (PostgreSQL refuses them in text), stripped."""
    return (value or "").replace("\x00", "").strip()


def _clean(data: ProposalData) -> ProposalData:
    email = clean_text(data.contact_email)
    if email:
        try:
            email = normalise_email(email)
        except ValidationError as exc:
            raise ValidationError(exc.message, field="contact_email") from None
    return ProposalData(
        title=" ".join(clean_text(data.title).split()),
        summary=clean_text(data.summary),
        description=clean_text(data.description),
        problem=clean_text(data.problem),
        domain_id=data.domain_id,
        planned_start=data.planned_start,
        estimated_cost=data.estimated_cost,
        contact_name=" ".join(clean_text(data.contact_name).split()),
        contact_email=email,
    )


def _validate(data: ProposalData, *, complete: bool, current_domain_id: int | None = None
              ) -> None:
    """Check field limits always; with `complete`, also that everything needed is there.

    `current_domain_id` is the domain the proposal already has: it stays valid after the
    organisers deactivate it (only new choices must come from the active list).
    """
    if not TITLE_MIN <= len(data.title) <= TITLE_MAX:
        raise ValidationError(
            _l("The title needs %(min)d to %(max)d characters.", min=TITLE_MIN, max=TITLE_MAX),
            field="title",
        )
    if len(data.summary) > SUMMARY_MAX:
        raise ValidationError(
            _l("The summary may have at most %(max)d characters.", max=SUMMARY_MAX),
            field="summary",
        )
    if len(data.description) > DESCRIPTION_MAX:
        raise ValidationError(
            _l("The description may have at most %(max)d characters.", max=DESCRIPTION_MAX),
            field="description",
        )
    if len(data.problem) > PROBLEM_MAX:
        raise ValidationError(
            _l("The problem description may have at most %(max)d characters.", max=PROBLEM_MAX),
            field="problem",
        )
    if data.estimated_cost is not None and not 0 <= data.estimated_cost <= COST_MAX:
        raise ValidationError(
            _l("Enter the estimated cost in whole euros (0 or more)."), field="estimated_cost"
        )
    if len(data.contact_name) > 120:
        raise ValidationError(_l("The name is too long."), field="contact_name")
    if len(data.contact_email) > 254:
        raise ValidationError(_l("Enter a valid email address."), field="contact_email")
    if data.domain_id is not None:
        domain = db.session.get(Domain, data.domain_id) if is_db_id(data.domain_id) else None
        if domain is None or not (domain.is_active or domain.id == current_domain_id):
            raise ValidationError(_l("Choose a domain from the list."), field="domain_id")
    if data.planned_start is not None and not date(2000, 1, 1) <= data.planned_start <= date(
        2100, 1, 1
    ):
        raise ValidationError(_l("Enter a realistic start date."), field="planned_start")
    if not complete:
        return
    required = [
        ("summary", _l("Write a short summary.")),
        ("description", _l("Describe the intended development.")),
        ("problem", _l("Describe the problem it solves.")),
        ("domain_id", _l("Choose a domain.")),
        ("planned_start", _l("Enter the planned start.")),
        ("contact_name", _l("Enter a contact person.")),
        ("contact_email", _l("Enter the contact person's email address.")),
    ]
    for name, message in required:
        if not getattr(data, name):
            raise ValidationError(message, field=name)


def _apply(proposal: Proposal, data: ProposalData) -> None:
    for name in ProposalData.__dataclass_fields__:
        setattr(proposal, name, getattr(data, name))
    proposal.search_text = search_document(proposal.title, proposal.summary, proposal.description)


def _flush_proposal() -> None:
    """Flush a change to a proposal; a row changed by someone else since it was read
    (optimistic locking on `Proposal.version`) is a conflict, never silently overwritten."""
    try:
        db.session.flush()
    except StaleDataError:
        raise ConflictError(
            _l("Someone else saved this proposal while you were editing. Reload it and apply "
               "your changes again.")
        ) from None


def _add_version(proposal: Proposal, actor: User, now: datetime) -> ProposalVersion:
    number = (
        db.session.scalar(
            select(func.max(ProposalVersion.number)).where(
                ProposalVersion.proposal_id == proposal.id
            )
        )
        or 0
    ) + 1
    version = ProposalVersion(proposal_id=proposal.id, number=number, data=proposal.snapshot(),
                              edited_by_id=actor.id, created_at=now)
    db.session.add(version)
    return version


# --- lifecycle ---------------------------------------------------------------------------------


def create_proposal(actor: User, rnd: Round, data: ProposalData, *, submit: bool,
                    now: datetime) -> Proposal:
    """A member starts a proposal for its municipality (as draft, or submitted at once)."""
    municipality = _require_member(actor)
    if rnd.current_phase is not Phase.SUBMISSION:
        raise InvalidState(
            _l("Proposals can only be submitted during the submission phase (now: %(phase)s).",
               phase=phase_label(rnd.current_phase))
        )
    data = _clean(data)
    _validate(data, complete=submit)
    proposal = Proposal(round_id=rnd.id, municipality_id=municipality.id, author_id=actor.id,
                        created_at=now, updated_at=now)
    _apply(proposal, data)
    if submit:
        proposal.status = ProposalStatus.SUBMITTED.value
        proposal.submitted_at = now
    db.session.add(proposal)
    db.session.flush()
    _add_version(proposal, actor, now)
    _follow(actor, proposal, now)
    audit.record("proposal.submitted" if submit else "proposal.drafted", actor=actor, now=now,
                 object_type="proposal", object_id=proposal.id, round_id=rnd.id,
                 data={"title": proposal.title})
    return proposal


def update_proposal(actor: User, proposal: Proposal, data: ProposalData, *,
                    expected_version: int, now: datetime) -> Proposal:
    """Save an edit, keeping the previous text as a version.

    `expected_version` is the version the editor started from: if someone saved in between,
    the edit is refused instead of silently overwriting theirs.
    """
    _require_edit(actor, proposal)
    if expected_version != proposal.version:
        raise ConflictError(
            _l("Someone else saved this proposal while you were editing. Reload it and apply "
               "your changes again.")
        )
    data = _clean(data)
    _validate(data, complete=proposal.is_published, current_domain_id=proposal.domain_id)
    before = proposal.snapshot()
    _apply(proposal, data)
    if proposal.snapshot() == before:
        return proposal
    proposal.updated_at = now
    _flush_proposal()
    _add_version(proposal, actor, now)
    changed = sorted(k for k, v in proposal.snapshot().items() if before[k] != v)
    audit.record("proposal.edited", actor=actor, now=now, object_type="proposal",
                 object_id=proposal.id, round_id=proposal.round_id, data={"fields": changed})
    return proposal


def submit_proposal(actor: User, proposal: Proposal, *, now: datetime) -> None:
    """Publish a draft: from now on everyone can read it."""
    _require_edit(actor, proposal)
    if proposal.status != ProposalStatus.DRAFT.value:
        raise InvalidState(_l("This proposal has already been submitted."))
    _validate(_clean(ProposalData(**{k: getattr(proposal, k)
                                     for k in ProposalData.__dataclass_fields__})),
              complete=True, current_domain_id=proposal.domain_id)
    proposal.status = ProposalStatus.SUBMITTED.value
    proposal.submitted_at = now
    proposal.updated_at = now
    _flush_proposal()
    audit.record("proposal.submitted", actor=actor, now=now, object_type="proposal",
                 object_id=proposal.id, round_id=proposal.round_id)


def withdraw_proposal(actor: User, proposal: Proposal, *, kind: WithdrawalKind, reason: str,
                      duplicate_of_id: int | None, now: datetime) -> None:
    """Withdraw with a reason; the proposal stays readable, marked as withdrawn."""
    if not is_owner_member(actor, proposal):
        raise PermissionDenied(_l("Only the submitting municipality can withdraw its proposal."))
    if proposal.is_withdrawn:
        raise InvalidState(_l("This proposal has already been withdrawn."))
    if not proposal.is_published:
        # A withdrawn proposal is public: withdrawing a draft would publish it.
        raise InvalidState(_l("A draft cannot be withdrawn; only submitted proposals can."))
    rnd = db.session.get(Round, proposal.round_id)
    if rnd.current_phase is not Phase.SUBMISSION:
        raise InvalidState(_l("Proposals can only be withdrawn during the submission phase."))
    reason = clean_text(reason)
    if not 5 <= len(reason) <= 2000:
        raise ValidationError(_l("Explain in a sentence why (5 to 2000 characters)."),
                              field="reason")
    if kind is WithdrawalKind.DUPLICATE:
        original = db.session.get(Proposal, duplicate_of_id) if is_db_id(duplicate_of_id) else None
        if (original is None or original.id == proposal.id or original.round_id != proposal.round_id
                or not original.is_published):
            raise ValidationError(_l("Choose the proposal this one duplicates."),
                                  field="duplicate_of_id")
    else:
        duplicate_of_id = None
    proposal.status = ProposalStatus.WITHDRAWN.value
    proposal.withdrawal_kind = kind.value
    proposal.withdrawal_reason = reason
    proposal.duplicate_of_id = duplicate_of_id
    proposal.withdrawn_at = now
    proposal.updated_at = now
    _flush_proposal()
    audit.record("proposal.withdrawn", actor=actor, now=now, object_type="proposal",
                 object_id=proposal.id, round_id=proposal.round_id,
                 data={"kind": kind.value, "reason": reason, "duplicate_of": duplicate_of_id})


def is_db_id(value: object) -> bool:
    """Whether `value` can be a row id (what an integer id column holds; PostgreSQL refuses
    more)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= ID_MAX


def get_proposal(proposal_id: int) -> Proposal:
    """A proposal by id, or NotFound."""
    proposal = db.session.get(Proposal, proposal_id) if is_db_id(proposal_id) else None
    if proposal is None:
        raise NotFound(_l("No such proposal."))
    return proposal


def get_proposals(proposal_ids) -> dict[int, Proposal]:
    """Proposals by id, in one query; NotFound when one of them does not exist."""
    wanted = set(proposal_ids)
    if not all(is_db_id(pid) for pid in wanted):
        raise NotFound(_l("No such proposal."))
    found = {p.id: p for p in db.session.scalars(
        select(Proposal).where(Proposal.id.in_(wanted)))} if wanted else {}
    if len(found) != len(wanted):
        raise NotFound(_l("No such proposal."))
    return found


def version_count(proposal: Proposal) -> int:
    """How many versions of the proposal were saved (counted, not loaded)."""
    return db.session.scalar(select(func.count(ProposalVersion.id)).where(
        ProposalVersion.proposal_id == proposal.id)) or 0


def versions(proposal: Proposal) -> list[ProposalVersion]:
    """The proposal's saved versions, newest first."""
    return list(db.session.scalars(
        select(ProposalVersion).where(ProposalVersion.proposal_id == proposal.id)
        .order_by(ProposalVersion.number.desc())
    ))


# --- co-submission, interest, following --------------------------------------------------------


def _published_in_open_round(proposal: Proposal) -> Round:
    if not proposal.is_published or proposal.is_withdrawn:
        raise InvalidState(_l("This proposal is not open for this."))
    return db.session.get(Round, proposal.round_id)


def request_cosubmission(actor: User, proposal: Proposal, message: str, *,
                         now: datetime) -> CoSubmission:
    """Another municipality asks to join as co-submitter; the owner decides."""
    municipality = _require_member(actor)
    rnd = _published_in_open_round(proposal)
    if rnd.current_phase is not Phase.SUBMISSION:
        raise InvalidState(_l("Co-submitters can join during the submission phase only."))
    if municipality.id == proposal.municipality_id:
        raise InvalidState(_l("Your municipality already submits this proposal."))
    existing = db.session.scalar(select(CoSubmission).where(
        CoSubmission.proposal_id == proposal.id, CoSubmission.municipality_id == municipality.id))
    if existing is not None and existing.status in (CoSubmissionStatus.REQUESTED.value,
                                                    CoSubmissionStatus.ACCEPTED.value):
        raise InvalidState(_l("Your municipality has already asked to join."))
    if existing is None:
        existing = CoSubmission(proposal_id=proposal.id, municipality_id=municipality.id)
        db.session.add(existing)
    existing.status = CoSubmissionStatus.REQUESTED.value
    existing.message = clean_text(message)[:1000]
    existing.requested_by_id = actor.id
    existing.requested_at = now
    existing.decided_by_id = None
    existing.decided_at = None
    db.session.flush()
    audit.record("cosubmission.requested", actor=actor, now=now, object_type="proposal",
                 object_id=proposal.id, round_id=proposal.round_id,
                 data={"municipality": municipality.code})
    return existing


def decide_cosubmission(actor: User, cosubmission: CoSubmission, accept: bool, *,
                        now: datetime) -> None:
    """The owning municipality accepts or declines a co-submitter."""
    proposal = get_proposal(cosubmission.proposal_id)
    if not is_owner_member(actor, proposal):
        raise PermissionDenied(_l("Only the submitting municipality decides on co-submitters."))
    if cosubmission.status != CoSubmissionStatus.REQUESTED.value:
        raise InvalidState(_l("This request has already been handled."))
    if accept and _published_in_open_round(proposal).current_phase is not Phase.SUBMISSION:
        # Who is involved decides who may vote on the proposal later: it is fixed once the
        # submission phase ends.
        raise InvalidState(_l("Co-submitters can join during the submission phase only."))
    cosubmission.status = (CoSubmissionStatus.ACCEPTED if accept
                           else CoSubmissionStatus.DECLINED).value
    cosubmission.decided_by_id = actor.id
    cosubmission.decided_at = now
    if accept:
        # A municipality that takes part is no longer merely "interested" in it.
        interest = db.session.scalar(select(Interest).where(
            Interest.proposal_id == proposal.id,
            Interest.municipality_id == cosubmission.municipality_id,
            Interest.withdrawn_at.is_(None)))
        if interest is not None:
            interest.withdrawn_at = now
    db.session.flush()
    audit.record("cosubmission.accepted" if accept else "cosubmission.declined", actor=actor,
                 now=now, object_type="proposal", object_id=proposal.id,
                 round_id=proposal.round_id,
                 data={"municipality": cosubmission.municipality.code})


def cosubmissions(proposal: Proposal, *, status: CoSubmissionStatus | None = None
                  ) -> list[CoSubmission]:
    """Co-submission requests of a proposal, oldest first."""
    stmt = select(CoSubmission).where(CoSubmission.proposal_id == proposal.id)
    if status is not None:
        stmt = stmt.where(CoSubmission.status == status.value)
    return list(db.session.scalars(stmt.order_by(CoSubmission.requested_at)))


def set_interest(actor: User, proposal: Proposal, interested: bool, *, now: datetime) -> None:
    """Mark or unmark that the actor's municipality wants to use this too."""
    municipality = _require_member(actor)
    _published_in_open_round(proposal)
    if municipality.id in involved_municipality_ids(proposal):
        raise InvalidState(_l("Your municipality already takes part in this proposal."))
    interest = db.session.scalar(select(Interest).where(
        Interest.proposal_id == proposal.id, Interest.municipality_id == municipality.id))
    active = interest is not None and interest.withdrawn_at is None
    if interested == active:
        return
    if interest is None:
        interest = Interest(proposal_id=proposal.id, municipality_id=municipality.id,
                            user_id=actor.id, created_at=now)
        db.session.add(interest)
    elif interested:
        interest.withdrawn_at = None
        interest.user_id = actor.id
        interest.created_at = now
    else:
        interest.withdrawn_at = now
    db.session.flush()
    audit.record("interest.marked" if interested else "interest.withdrawn", actor=actor, now=now,
                 object_type="proposal", object_id=proposal.id, round_id=proposal.round_id,
                 data={"municipality": municipality.code})


def interested_municipalities(proposal: Proposal) -> list[Municipality]:
    """Municipalities that marked interest, by name."""
    return list(db.session.scalars(
        select(Municipality).join(Interest, Interest.municipality_id == Municipality.id)
        .where(Interest.proposal_id == proposal.id, Interest.withdrawn_at.is_(None))
        .order_by(Municipality.name)
    ))


def _follow(user: User, proposal: Proposal, now: datetime) -> None:
    follow = db.session.scalar(select(Follow).where(Follow.user_id == user.id,
                                                    Follow.proposal_id == proposal.id))
    if follow is None:
        db.session.add(Follow(user_id=user.id, proposal_id=proposal.id, created_at=now))
    elif follow.ended_at is not None:
        follow.ended_at = None
        follow.created_at = now


def set_follow(actor: User, proposal: Proposal, following: bool, *, now: datetime) -> None:
    """Follow or stop following a proposal."""
    if actor is None or not actor.is_authenticated:
        raise PermissionDenied(_l("You need to log in for this."))
    if not can_view(actor, proposal):
        raise PermissionDenied(_l("You cannot see this proposal."))
    if following:
        _follow(actor, proposal, now)
    else:
        follow = db.session.scalar(select(Follow).where(Follow.user_id == actor.id,
                                                        Follow.proposal_id == proposal.id))
        if follow is not None and follow.ended_at is None:
            follow.ended_at = now
    db.session.flush()


def is_following(user: User | None, proposal: Proposal) -> bool:
    """Whether the user follows the proposal."""
    if user is None or not user.is_authenticated:
        return False
    return db.session.scalar(select(exists().where(
        Follow.user_id == user.id, Follow.proposal_id == proposal.id,
        Follow.ended_at.is_(None)))) or False


# --- finding -----------------------------------------------------------------------------------


@dataclass
class ProposalFilters:
    q: str = ""
    domain_id: int | None = None
    municipality_code: str = ""
    province: str = ""
    status: str = ""  # "", "submitted" or "withdrawn"
    cluster_id: int | None = None
    sort: str = "newest"  # "newest", "interest" or "title"
    extra: dict = field(default_factory=dict)


def interest_count_subquery():
    return (
        select(func.count(Interest.id))
        .where(Interest.proposal_id == Proposal.id, Interest.withdrawn_at.is_(None))
        .correlate(Proposal)
        .scalar_subquery()
    )


def interest_counts(proposal_ids: list[int]) -> dict[int, int]:
    """Number of municipalities interested, per proposal id (one query for a page)."""
    rows = db.session.execute(
        select(Interest.proposal_id, func.count(Interest.id))
        .where(Interest.proposal_id.in_(proposal_ids), Interest.withdrawn_at.is_(None))
        .group_by(Interest.proposal_id)
    )
    return dict(rows.all())


def search_query(rnd: Round | None, filters: ProposalFilters) -> Select:
    """Published proposals of a round (None: of every round) matching the filters, sorted;
    paginate the result."""
    interest = interest_count_subquery()
    stmt = (
        select(Proposal)
        .join(Municipality, Municipality.id == Proposal.municipality_id)
        .where(Proposal.status != ProposalStatus.DRAFT.value)
    )
    if rnd is not None:
        stmt = stmt.where(Proposal.round_id == rnd.id)
    for term in query_terms(filters.q[:200])[:12]:
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        # Long stems match inside compounds ("paspoort" finds "paspoortaanvrag"); short ones
        # only as whole stems, so "wet" does not match every word containing it by accident.
        pattern = f"%{escaped}%" if len(term) >= 4 else f"% {escaped} %"
        stmt = stmt.where(Proposal.search_text.like(pattern, escape="\\"))
    if filters.domain_id and is_db_id(filters.domain_id):
        stmt = stmt.where(Proposal.domain_id == filters.domain_id)
    municipality_code = clean_text(filters.municipality_code)
    province = clean_text(filters.province)
    if municipality_code:
        involved = select(CoSubmission.proposal_id).join(
            Municipality, Municipality.id == CoSubmission.municipality_id
        ).where(Municipality.code == municipality_code,
                CoSubmission.status == CoSubmissionStatus.ACCEPTED.value)
        stmt = stmt.where(or_(Municipality.code == municipality_code,
                              Proposal.id.in_(involved)))
    if province:
        stmt = stmt.where(Municipality.province == province)
    if filters.status in (ProposalStatus.SUBMITTED.value, ProposalStatus.WITHDRAWN.value):
        stmt = stmt.where(Proposal.status == filters.status)
    if filters.cluster_id:
        from competition.models import ClusterMember

        stmt = stmt.where(Proposal.id.in_(select(ClusterMember.proposal_id).where(
            ClusterMember.cluster_id == filters.cluster_id)))
    if filters.sort == "interest":
        stmt = stmt.order_by(interest.desc(), Proposal.submitted_at.desc(), Proposal.id.desc())
    elif filters.sort == "title":
        stmt = stmt.order_by(func.lower(Proposal.title), Proposal.id)
    else:
        stmt = stmt.order_by(Proposal.submitted_at.desc(), Proposal.id.desc())
    return stmt


def published_count(rnd: Round) -> int:
    """Number of submitted (not withdrawn) proposals in the round."""
    return db.session.scalar(select(func.count(Proposal.id)).where(
        Proposal.round_id == rnd.id, Proposal.status == ProposalStatus.SUBMITTED.value)) or 0


def own_proposals(user: User, rnd: Round) -> list[Proposal]:
    """Proposals of the user's municipality in this round (drafts included), newest first."""
    if user is None or not user.is_authenticated or user.municipality_id is None:
        return []
    accepted = select(CoSubmission.proposal_id).where(
        CoSubmission.municipality_id == user.municipality_id,
        CoSubmission.status == CoSubmissionStatus.ACCEPTED.value)
    return list(db.session.scalars(
        select(Proposal).where(
            Proposal.round_id == rnd.id,
            or_(Proposal.municipality_id == user.municipality_id, Proposal.id.in_(accepted)),
        ).order_by(Proposal.updated_at.desc())
    ))


def similar_proposals(rnd: Round, text: str, *, exclude_id: int | None = None, k: int = 5
                      ) -> list[tuple[Proposal, float]]:
    """The k published proposals of the round most similar to `text` (title + summary)."""
    text = text[:SIMILAR_TEXT_MAX]
    rows = db.session.execute(
        select(Proposal.id, Proposal.title, Proposal.summary).where(
            Proposal.round_id == rnd.id, Proposal.status == ProposalStatus.SUBMITTED.value)
    ).all()
    index = SimilarityIndex([(pid, f"{title}. {summary}") for pid, title, summary in rows])
    # Unrelated texts score up to ~0.2 (95th percentile on the eval set); related ones above.
    matches = index.most_similar(text, k=k, exclude=exclude_id, min_score=0.2)
    by_id = {p.id: p for p in db.session.scalars(
        select(Proposal).where(Proposal.id.in_([m.key for m in matches])))}
    return [(by_id[m.key], m.score) for m in matches]


def domains(*, include_inactive: bool = False) -> list[Domain]:
    """The domain list in its display order."""
    stmt = select(Domain).order_by(Domain.position, Domain.name_nl)
    if not include_inactive:
        stmt = stmt.where(Domain.is_active)
    return list(db.session.scalars(stmt))


# --- export ------------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "id", "url", "round", "status", "title", "summary", "problem", "description", "domain",
    "municipality_code", "municipality", "province", "co_submitters", "interested",
    "planned_start", "estimated_cost_eur", "contact_name", "submitted_at", "updated_at",
    "withdrawn_at", "withdrawal_reason", "duplicate_of",
)


def export_rows(rnd: Round, url_for_proposal) -> list[dict]:
    """One dict per published proposal of the round, with EXPORT_COLUMNS as keys."""
    proposals = db.session.scalars(
        select(Proposal).where(Proposal.round_id == rnd.id,
                               Proposal.status != ProposalStatus.DRAFT.value)
        .order_by(Proposal.id)
    ).all()
    ids = [p.id for p in proposals]
    co: dict[int, list[str]] = {}
    for pid, code in db.session.execute(
        select(CoSubmission.proposal_id, Municipality.code)
        .join(Municipality, Municipality.id == CoSubmission.municipality_id)
        .where(CoSubmission.proposal_id.in_(ids),
               CoSubmission.status == CoSubmissionStatus.ACCEPTED.value)
        .order_by(Municipality.code)
    ):
        co.setdefault(pid, []).append(code)
    interested: dict[int, list[str]] = {}
    for pid, code in db.session.execute(
        select(Interest.proposal_id, Municipality.code)
        .join(Municipality, Municipality.id == Interest.municipality_id)
        .where(Interest.proposal_id.in_(ids), Interest.withdrawn_at.is_(None))
        .order_by(Municipality.code)
    ):
        interested.setdefault(pid, []).append(code)
    rows = []
    for p in proposals:
        rows.append({
            "id": p.id,
            "url": url_for_proposal(p),
            "round": rnd.slug,
            "status": p.status,
            "title": p.title,
            "summary": p.summary,
            "problem": p.problem,
            "description": p.description,
            "domain": p.domain.slug if p.domain else None,
            "municipality_code": p.municipality.code,
            "municipality": p.municipality.name,
            "province": p.municipality.province,
            "co_submitters": co.get(p.id, []),
            "interested": interested.get(p.id, []),
            "planned_start": p.planned_start.isoformat() if p.planned_start else None,
            "estimated_cost_eur": p.estimated_cost,
            "contact_name": p.contact_name,
            "submitted_at": p.submitted_at.isoformat() if p.submitted_at else None,
            "updated_at": p.updated_at.isoformat(),
            "withdrawn_at": p.withdrawn_at.isoformat() if p.withdrawn_at else None,
            "withdrawal_reason": p.withdrawal_reason,
            "duplicate_of": p.duplicate_of_id,
        })
    return rows

