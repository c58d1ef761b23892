"""Open data: the read-only queries behind the JSON API and the Atom feeds.

Everything here returns public data only: rounds past their draft, published proposals,
confirmed clusters, results once they are out. Nothing is written. The rules of what is public
are the ones the HTML pages follow; they live in the existing services and are reused here.
"""

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, select

from competition.extensions import db
from competition.models import (
    AuditEvent,
    Cluster,
    ClusterMember,
    CoSubmission,
    CoSubmissionStatus,
    Domain,
    FinalistDecision,
    Interest,
    Municipality,
    Phase,
    PreselectionResult,
    Proposal,
    ProposalStatus,
    Round,
    Standard,
    VoteResult,
)
from competition.services import clustering, preselection, proposals, rounds, voting
from competition.services.errors import InvalidState, NotFound
from competition.services.proposals import ProposalFilters


def _public_round_ids() -> Select:
    return select(Round.id).where(Round.phase != Phase.DRAFT.value)


# --- rounds ------------------------------------------------------------------------------------


def rounds_query(phase: Phase | None = None) -> Select:
    """Rounds past their draft (optionally in one phase), newest first."""
    stmt = select(Round).where(Round.phase != Phase.DRAFT.value)
    if phase is not None:
        stmt = stmt.where(Round.phase == phase.value)
    return stmt.order_by(Round.created_at.desc(), Round.id.desc())


def public_round(slug: str) -> Round:
    """A round the public may see, by slug; NotFound for unknown and draft rounds alike."""
    rnd = rounds.get_round(slug)
    if rnd.current_phase is Phase.DRAFT:
        raise NotFound(_l("No such round."))
    return rnd


def round_by_id(round_id: int) -> Round:
    return db.session.get(Round, round_id)


# --- clusters ----------------------------------------------------------------------------------


def clusters_query(rnd: Round) -> Select:
    """The round's confirmed clusters ("vraagstukken"), by label."""
    return (select(Cluster)
            .where(Cluster.round_id == rnd.id, Cluster.is_confirmed.is_(True))
            .order_by(Cluster.label, Cluster.id))


def public_cluster(cluster_id: int) -> tuple[Cluster, Round]:
    """A confirmed cluster of a public round, with its round; NotFound otherwise."""
    cluster = clustering.get_cluster(cluster_id)
    rnd = db.session.get(Round, cluster.round_id)
    if not cluster.is_confirmed or rnd.current_phase is Phase.DRAFT:
        raise NotFound(_l("No such cluster."))
    return cluster, rnd


def cluster_sizes(cluster_ids: list[int]) -> dict[int, int]:
    """Number of published proposals per cluster id."""
    rows = db.session.execute(
        select(ClusterMember.cluster_id, func.count(ClusterMember.id))
        .join(Proposal, Proposal.id == ClusterMember.proposal_id)
        .where(ClusterMember.cluster_id.in_(cluster_ids),
               Proposal.status != ProposalStatus.DRAFT.value)
        .group_by(ClusterMember.cluster_id))
    return dict(rows.all())


def cluster_proposals(cluster: Cluster) -> list[tuple[Proposal, float]]:
    """The cluster's published proposals with their similarity to its centre, closest first."""
    return [(m.proposal, m.similarity) for m in cluster.members if m.proposal.is_published]


def public_clusters_of(proposal_ids: list[int]) -> dict[int, int]:
    """The confirmed cluster id of each proposal that has one."""
    rows = db.session.execute(
        select(ClusterMember.proposal_id, ClusterMember.cluster_id)
        .join(Cluster, Cluster.id == ClusterMember.cluster_id)
        .where(ClusterMember.proposal_id.in_(proposal_ids), Cluster.is_confirmed.is_(True)))
    return dict(rows.all())


# --- proposals ---------------------------------------------------------------------------------


def proposals_query(filters: ProposalFilters, rnd: Round | None = None) -> Select:
    """Published proposals of a public round (or of every public round), filtered and sorted
    by the proposal search of the HTML list."""
    stmt = proposals.search_query(rnd, filters)
    return stmt.where(Proposal.round_id.in_(_public_round_ids()))


def public_proposal(proposal_id: int) -> Proposal:
    """A published proposal of a public round; NotFound for drafts and unknown ids alike."""
    proposal = proposals.get_proposal(proposal_id)
    if not proposal.is_published:
        raise NotFound(_l("No such proposal."))
    if db.session.get(Round, proposal.round_id).current_phase is Phase.DRAFT:
        raise NotFound(_l("No such proposal."))
    return proposal


def co_submitters(proposal_ids: list[int]) -> dict[int, list[Municipality]]:
    """Accepted co-submitting municipalities per proposal id, by code."""
    out: dict[int, list[Municipality]] = {}
    for pid, municipality in db.session.execute(
        select(CoSubmission.proposal_id, Municipality)
        .join(Municipality, Municipality.id == CoSubmission.municipality_id)
        .where(CoSubmission.proposal_id.in_(proposal_ids),
               CoSubmission.status == CoSubmissionStatus.ACCEPTED.value)
        .order_by(Municipality.code)
    ):
        out.setdefault(pid, []).append(municipality)
    return out


def interested(proposal: Proposal) -> list[Municipality]:
    """Municipalities that marked interest in the proposal, by code."""
    return list(db.session.scalars(
        select(Municipality).join(Interest, Interest.municipality_id == Municipality.id)
        .where(Interest.proposal_id == proposal.id, Interest.withdrawn_at.is_(None))
        .order_by(Municipality.code)))


def proposals_by_id(ids: list[int]) -> dict[int, Proposal]:
    """Proposals by id (for results that name them by id)."""
    if not ids:
        return {}
    return {p.id: p for p in db.session.scalars(select(Proposal).where(Proposal.id.in_(ids)))}


def finalist_decision(proposal: Proposal) -> FinalistDecision | None:
    """The proposal's preselection decision, once the preselection is published."""
    rnd = db.session.get(Round, proposal.round_id)
    if not preselection.is_published(rnd):
        return None
    return db.session.scalar(select(FinalistDecision).where(
        FinalistDecision.proposal_id == proposal.id))


def standard_of(proposal: Proposal) -> Standard | None:
    """The standard the proposal became, if it won."""
    return db.session.scalar(select(Standard).where(Standard.proposal_id == proposal.id))


def domain_by_slug(slug: str) -> Domain | None:
    return db.session.scalar(select(Domain).where(Domain.slug == slug))


def all_domains() -> list[Domain]:
    """Every domain (also inactive ones: old proposals keep them), in display order."""
    return proposals.domains(include_inactive=True)


# --- results -----------------------------------------------------------------------------------


def preselection_result(cluster: Cluster, rnd: Round
                        ) -> tuple[PreselectionResult, list[FinalistDecision]]:
    """The published preselection of a cluster: InvalidState before the preselection phase has
    ended, NotFound when the cluster had nothing to select."""
    if not preselection.is_published(rnd):
        raise InvalidState(_l("The preselection result is published when the preselection "
                              "phase has ended."))
    stored, decisions = preselection.cluster_result(cluster)
    if stored is None:
        raise NotFound(_l("This vraagstuk has no preselection result."))
    return stored, decisions


def final_result(cluster: Cluster, rnd: Round) -> VoteResult:
    """The counted final vote of a cluster: InvalidState before the vote has closed, NotFound
    when the cluster had no vote."""
    if not voting.is_closed(rnd):
        raise InvalidState(_l("The result is published when the final vote has closed."))
    result = voting.vote_result(cluster)
    if result is None:
        raise NotFound(_l("This vraagstuk had no final vote."))
    return result


def ballots(cluster: Cluster, rnd: Round) -> dict:
    """The cluster's ballot file (`voting.export`), only after the close."""
    if not voting.is_closed(rnd):
        raise InvalidState(_l("The ballots are published when the final vote has closed."))
    if voting.vote_result(cluster) is None:
        raise NotFound(_l("This vraagstuk had no final vote."))
    return voting.export(cluster)


# --- standards and municipalities --------------------------------------------------------------


def standards_query(rnd: Round | None = None) -> Select:
    """Standards, newest first (of one round, when given)."""
    stmt = select(Standard)
    if rnd is not None:
        stmt = stmt.where(Standard.round_id == rnd.id)
    return stmt.order_by(Standard.declared_at.desc(), Standard.id.desc())


def municipalities_query(province: str | None = None, active: bool | None = None) -> Select:
    """Municipalities by name (of one province, active or not, when given)."""
    stmt = select(Municipality)
    if province:
        stmt = stmt.where(Municipality.province == province)
    if active is not None:
        stmt = stmt.where(Municipality.is_active.is_(active))
    return stmt.order_by(Municipality.name, Municipality.code)


def municipality_by_code(code: str) -> Municipality | None:
    return db.session.scalar(select(Municipality).where(Municipality.code == code))


# --- feeds -------------------------------------------------------------------------------------

FEED_SIZE = 50


def recent_proposals(rnd: Round | None = None, limit: int = FEED_SIZE) -> list[Proposal]:
    """The most recently submitted published proposals (of one round, when given)."""
    stmt = (select(Proposal)
            .where(Proposal.status != ProposalStatus.DRAFT.value,
                   Proposal.submitted_at.is_not(None),
                   Proposal.round_id.in_(_public_round_ids()))
            .order_by(Proposal.submitted_at.desc(), Proposal.id.desc()).limit(limit))
    if rnd is not None:
        stmt = stmt.where(Proposal.round_id == rnd.id)
    return list(db.session.scalars(stmt))


@dataclass
class PhaseChange:
    round: Round
    from_phase: Phase
    to_phase: Phase
    at: datetime
    event_id: int


def phase_changes(limit: int = FEED_SIZE) -> list[PhaseChange]:
    """Phase changes of public rounds from the audit log, newest first. Only which phase
    ended and which opened: who closed it and why stay in the log."""
    rows = db.session.execute(
        select(AuditEvent, Round).join(Round, Round.id == AuditEvent.round_id)
        .where(AuditEvent.action == "round.phase_closed", Round.phase != Phase.DRAFT.value)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(limit)).all()
    out = []
    for event, rnd in rows:
        data = event.data or {}
        try:
            change = PhaseChange(rnd, Phase(data["from"]), Phase(data["to"]), event.created_at,
                                 event.id)
        except (KeyError, ValueError):
            continue  # an event of another shape says nothing the feed can show
        out.append(change)
    return out


@dataclass
class PublishedPreselection:
    round: Round
    at: datetime
    clusters: list[tuple[Cluster, list[Proposal]]]  # each vraagstuk with its finalists


def published_preselections(limit: int = FEED_SIZE) -> list[PublishedPreselection]:
    """Rounds whose preselection result is out, newest publication first."""
    rows = db.session.execute(
        select(Round, func.max(PreselectionResult.computed_at))
        .join(PreselectionResult, PreselectionResult.round_id == Round.id)
        .where(Round.phase != Phase.DRAFT.value)
        .group_by(Round.id)
        .order_by(func.max(PreselectionResult.computed_at).desc(), Round.id.desc())
        .limit(limit)).all()
    out = []
    for rnd, at in rows:
        if not preselection.is_published(rnd):
            continue
        clusters = list(db.session.scalars(
            select(Cluster).join(PreselectionResult, PreselectionResult.cluster_id == Cluster.id)
            .where(PreselectionResult.round_id == rnd.id, Cluster.is_confirmed.is_(True))
            .order_by(Cluster.label, Cluster.id)))
        out.append(PublishedPreselection(
            rnd, at, [(c, preselection.finalists(c)) for c in clusters]))
    return out


@dataclass
class PublishedResult:
    round: Round
    cluster: Cluster
    result: VoteResult
    standards: list[Standard]


def published_results(limit: int = FEED_SIZE) -> list[PublishedResult]:
    """Counted final votes of public rounds with the standards they declared, newest first."""
    rows = db.session.execute(
        select(VoteResult, Cluster, Round)
        .join(Cluster, Cluster.id == VoteResult.cluster_id)
        .join(Round, Round.id == VoteResult.round_id)
        .where(Round.phase != Phase.DRAFT.value)
        .order_by(VoteResult.computed_at.desc(), VoteResult.id.desc()).limit(limit)).all()
    out = []
    for result, cluster, rnd in rows:
        if not voting.is_closed(rnd):
            continue
        stds = list(db.session.scalars(select(Standard).where(Standard.cluster_id == cluster.id)
                                       .order_by(Standard.place)))
        out.append(PublishedResult(rnd, cluster, result, stds))
    return out
