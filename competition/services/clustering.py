"""Clustering a round's proposals: the engine suggests, the organiser corrects and confirms.

Running the engine is a background job (large rounds take a while). A new run never throws away
an organiser's work unless asked to: confirmed clusters, clusters edited by hand and proposals
placed by hand keep their place; only the rest is re-suggested. Proposals themselves are never
changed by any of this, and every action is in the audit log.
"""

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import func, select
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import selectinload

from competition.extensions import db
from competition.models import (
    Cluster,
    ClusterMember,
    Job,
    Municipality,
    Phase,
    Proposal,
    ProposalStatus,
    Role,
    Round,
    User,
    utcnow,
)
from competition.services import audit, jobs
from competition.services.accounts import require_role
from competition.services.errors import ConflictError, InvalidState, NotFound, ValidationError
from competition.services.locks import lock_row
from competition.services.proposals import is_db_id
from competition.services.rounds import phase_label, precondition

JOB_KIND = "clustering.run"
LABEL_MAX = 120
THRESHOLD_MIN, THRESHOLD_MAX = 0.05, 0.95


# --- the engine --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    label: str
    members: list[tuple[int, float]]  # (proposal id, similarity to the cluster)


def suggest(proposals: list[Proposal], threshold: float | None = None) -> list[Suggestion]:
    """Ask the engine for clusters of these proposals."""
    from competition.engine import clustering as engine

    items = [
        engine.Proposal(
            id=str(p.id), title=p.title, summary=p.summary, description=p.description,
            domain=p.domain.slug if p.domain else None,
        )
        for p in proposals
    ]
    result = engine.cluster_proposals(items, threshold=threshold)
    return [Suggestion(label=c.label, members=[(int(m.id), m.similarity) for m in c.members])
            for c in result]


# --- reading -----------------------------------------------------------------------------------


def clusters(rnd: Round, *, with_members: bool = False) -> list[Cluster]:
    """All clusters of the round, largest first; `with_members` loads every cluster's members
    (and their proposals) in the same go, for pages that show them."""
    stmt = select(Cluster).where(Cluster.round_id == rnd.id)
    if with_members:
        stmt = stmt.options(selectinload(Cluster.members))
    rows = db.session.scalars(stmt).all()
    # Counted in the database unless the members are loaded anyway: a page listing hundreds of
    # clusters must not load each one's members just to sort them.
    sizes = {c.id: len(c.members) for c in rows} if with_members else cluster_sizes(rnd)
    return sorted(rows, key=lambda c: (-sizes.get(c.id, 0), c.label.lower(), c.id))


def confirmed_clusters(rnd: Round) -> list[Cluster]:
    """The round's confirmed clusters (the public "vraagstukken"), largest first."""
    return [c for c in clusters(rnd) if c.is_confirmed]


def confirmed_cluster_choices(rnd: Round) -> list[tuple[int, str]]:
    """(id, label) of the round's confirmed clusters in the order of `confirmed_clusters`, read
    in one light query (for select fields, which list every vraagstuk)."""
    rows = db.session.execute(
        select(Cluster.id, Cluster.label, func.count(ClusterMember.id))
        .outerjoin(ClusterMember, ClusterMember.cluster_id == Cluster.id)
        .where(Cluster.round_id == rnd.id, Cluster.is_confirmed.is_(True))
        .group_by(Cluster.id, Cluster.label)).all()
    return [(cid, label) for cid, label, _size
            in sorted(rows, key=lambda r: (-r[2], r[1].lower(), r[0]))]


def cluster_sizes(rnd: Round) -> dict[int, int]:
    """Number of proposals per cluster id of the round (one query; empty clusters are left
    out)."""
    return dict(db.session.execute(
        select(ClusterMember.cluster_id, func.count(ClusterMember.id))
        .join(Cluster, Cluster.id == ClusterMember.cluster_id)
        .where(Cluster.round_id == rnd.id)
        .group_by(ClusterMember.cluster_id)).all())


def clusterable_proposals(rnd: Round) -> list[Proposal]:
    """Proposals that take part: submitted and not withdrawn."""
    return list(db.session.scalars(
        select(Proposal).where(Proposal.round_id == rnd.id,
                               Proposal.status == ProposalStatus.SUBMITTED.value)
        .order_by(Proposal.id)
    ))


def unclustered_proposals(rnd: Round) -> list[Proposal]:
    """Submitted proposals that are in no cluster yet."""
    placed = select(ClusterMember.proposal_id)
    return list(db.session.scalars(
        select(Proposal).where(Proposal.round_id == rnd.id,
                               Proposal.status == ProposalStatus.SUBMITTED.value,
                               Proposal.id.not_in(placed))
        .order_by(Proposal.id)
    ))


def cluster_of(proposal: Proposal) -> Cluster | None:
    """The cluster a proposal is in, if any."""
    return db.session.scalar(select(Cluster).join(ClusterMember,
                                                  ClusterMember.cluster_id == Cluster.id)
                             .where(ClusterMember.proposal_id == proposal.id))


def get_cluster(cluster_id: int) -> Cluster:
    """A cluster by id, or NotFound."""
    cluster = db.session.get(Cluster, cluster_id) if is_db_id(cluster_id) else None
    if cluster is None:
        raise NotFound(_l("No such cluster."))
    return cluster


def municipalities_involved(cluster: Cluster) -> list[tuple[Municipality, int]]:
    """Municipalities that submitted a proposal in the cluster, with how many, by province."""
    ids = [m.proposal_id for m in cluster.members]
    rows = db.session.execute(
        select(Municipality, func.count(Proposal.id))
        .join(Proposal, Proposal.municipality_id == Municipality.id)
        .where(Proposal.id.in_(ids))
        .group_by(Municipality.id)
        .order_by(Municipality.province, Municipality.name)
    ).all()
    return [(m, n) for m, n in rows]


def has_manual_work(rnd: Round) -> bool:
    """Whether an organiser confirmed, edited or placed anything by hand in this round."""
    return bool(db.session.scalar(
        select(func.count(Cluster.id)).where(
            Cluster.round_id == rnd.id, (Cluster.is_confirmed | Cluster.is_edited))
    )) or bool(db.session.scalar(
        select(func.count(ClusterMember.id)).join(Cluster).where(
            Cluster.round_id == rnd.id, ClusterMember.is_pinned)
    ))


# --- running the engine ------------------------------------------------------------------------


def _lock_round(rnd: Round) -> None:
    """Serialise changes to the round's clusters: lock its row and reload it.

    PostgreSQL: a row lock until commit. SQLite has no row locks; a write takes the database's
    write lock until commit, so everything read after this is current and stays so.
    """
    db.session.flush()
    lock_row(Round, rnd.id)
    db.session.refresh(rnd)


def _reload(cluster: Cluster) -> None:
    """Re-read a cluster after taking the round's lock (someone may have changed it)."""
    try:
        db.session.refresh(cluster)
    except InvalidRequestError:  # merged away or replaced by a re-run meanwhile
        raise NotFound(_l("No such cluster.")) from None


def _check_threshold(threshold: float | None) -> None:
    if threshold is not None and not THRESHOLD_MIN <= threshold <= THRESHOLD_MAX:
        raise ValidationError(_l("The threshold lies between 5%% and 95%%."), field="threshold")


def _require_clustering_phase(rnd: Round) -> None:
    if rnd.current_phase is not Phase.CLUSTERING:
        raise InvalidState(
            _l("Clusters can only be changed during the clustering phase (now: %(phase)s).",
               phase=phase_label(rnd.current_phase)))


def request_run(actor: User, rnd: Round, *, replace_manual: bool, threshold: float | None,
                now: datetime) -> Job:
    """Queue a clustering run for the round (organisers, clustering phase)."""
    require_role(actor, Role.ORGANISER)
    _check_threshold(threshold)
    _lock_round(rnd)  # two organisers pressing the button at once start one run
    _require_clustering_phase(rnd)
    running = current_job(rnd)
    if running is not None and not running.is_finished:
        raise InvalidState(_l("Clustering is already running for this round."))
    job = jobs.enqueue(JOB_KIND, {"round_id": rnd.id, "replace_manual": replace_manual,
                                  "threshold": threshold}, now=now, actor=actor)
    audit.record("clustering.requested", actor=actor, now=now, object_type="round",
                 object_id=rnd.id, round_id=rnd.id,
                 data={"job": job.id, "replace_manual": replace_manual, "threshold": threshold})
    return job


def current_job(rnd: Round) -> Job | None:
    """The newest clustering job of the round."""
    return jobs.latest_job(JOB_KIND, "round_id", rnd.id)


def run_clustering(rnd: Round, *, replace_manual: bool, threshold: float | None,
                   now: datetime, progress=lambda percent, message="": None) -> dict:
    """Replace the suggested clusters with a fresh suggestion (the job's work).

    Kept as they are unless `replace_manual`: confirmed clusters, clusters edited by hand and
    proposals an organiser placed. Everything else is re-clustered.
    """
    _check_threshold(threshold)
    _require_clustering_phase(rnd)
    # Read and compute first, write last: progress is reported through another connection,
    # which must not wait behind this transaction's write lock (SQLite has one per database).
    progress(5, "loading proposals")
    # What the organisers' work looks like now; checked again before writing, as they may go
    # on correcting clusters while the engine runs.
    state = _state(rnd)
    all_clusters = db.session.scalars(
        select(Cluster).where(Cluster.round_id == rnd.id)
        .execution_options(populate_existing=True)).all()
    kept_ids: set[int] = set()
    to_delete: list[Cluster] = []
    to_trim: list[tuple[Cluster, list[ClusterMember]]] = []
    for cluster in all_clusters:
        if not replace_manual and (cluster.is_confirmed or cluster.is_edited):
            kept_ids.update(m.proposal_id for m in cluster.members)
            continue
        pinned = [m for m in cluster.members if m.is_pinned and not replace_manual]
        if pinned:
            # A hand-placed proposal stays, in a cluster that is now marked as edited.
            to_trim.append((cluster, pinned))
            kept_ids.update(m.proposal_id for m in pinned)
        else:
            to_delete.append(cluster)
    todo = [p for p in clusterable_proposals(rnd) if p.id not in kept_ids]
    progress(20, f"clustering {len(todo)} proposals")
    suggestions = suggest(todo, threshold) if todo else []
    _check_suggestions(suggestions, {p.id for p in todo})
    progress(80, "saving clusters")
    _lock_round(rnd)
    _require_clustering_phase(rnd)
    if _state(rnd) != state:
        raise ConflictError(_l("The clusters were changed while the suggestion was being "
                               "computed; it will be computed again."))
    for cluster, pinned in to_trim:
        cluster.members = pinned
        cluster.is_edited = True
    for cluster in to_delete:
        db.session.delete(cluster)
    db.session.flush()
    removed = len(to_delete)
    for suggestion in suggestions:
        label = (suggestion.label or "").strip()[:LABEL_MAX] or str(_l("Unnamed cluster"))
        cluster = Cluster(round_id=rnd.id, label=label, suggested_label=label, created_at=now,
                          updated_at=now)
        for proposal_id, similarity in suggestion.members:
            cluster.members.append(ClusterMember(
                proposal_id=proposal_id, similarity=max(0.0, min(1.0, float(similarity))),
                added_at=now))
        db.session.add(cluster)
    db.session.flush()
    stats = {"proposals": len(todo), "clusters": len(suggestions), "kept_proposals":
             len(kept_ids), "removed_clusters": removed,
             "singletons": sum(1 for s in suggestions if len(s.members) == 1)}
    audit.record("clustering.suggested", actor=None, now=now, object_type="round",
                 object_id=rnd.id, round_id=rnd.id, data=stats)
    return stats


def _state(rnd: Round) -> tuple[frozenset, frozenset]:
    """The round's clusters and placements as plain values (not the session's cached objects)."""
    clusters_ = db.session.execute(
        select(Cluster.id, Cluster.is_confirmed, Cluster.is_edited, Cluster.label)
        .where(Cluster.round_id == rnd.id)).all()
    members = db.session.execute(
        select(ClusterMember.cluster_id, ClusterMember.proposal_id, ClusterMember.is_pinned)
        .join(Cluster).where(Cluster.round_id == rnd.id)).all()
    return frozenset(tuple(r) for r in clusters_), frozenset(tuple(r) for r in members)


def _check_suggestions(suggestions: list[Suggestion], expected: set[int]) -> None:
    """The engine must place every proposal it was given exactly once, and nothing else."""
    seen = [pid for s in suggestions for pid, _ in s.members]
    if len(seen) != len(set(seen)) or set(seen) != expected or any(
            not s.members for s in suggestions):
        raise RuntimeError(
            f"the clustering engine placed {len(set(seen))} of {len(expected)} proposals "
            f"({len(seen) - len(set(seen))} twice, {len(set(seen) - expected)} unknown); "
            "nothing was changed")


@jobs.handler(JOB_KIND)
def _run_job(job: Job, progress) -> dict:
    rnd = db.session.get(Round, job.payload["round_id"])
    if rnd is None:
        raise LookupError(f"round {job.payload['round_id']} no longer exists")
    return run_clustering(rnd, replace_manual=bool(job.payload.get("replace_manual")),
                          threshold=job.payload.get("threshold"), now=utcnow(),
                          progress=progress)


# --- the organiser's corrections ---------------------------------------------------------------


def _editable(actor: User, cluster: Cluster, *others: Cluster) -> Round:
    require_role(actor, Role.ORGANISER)
    rnd = db.session.get(Round, cluster.round_id)
    _lock_round(rnd)
    _require_clustering_phase(rnd)
    for c in (cluster, *others):
        _reload(c)
    return rnd


def _unconfirmed(cluster: Cluster) -> None:
    if cluster.is_confirmed:
        raise InvalidState(
            _l("“%(label)s” is confirmed; undo the confirmation before changing it.",
               label=cluster.label))


def _touch(cluster: Cluster, now: datetime) -> None:
    cluster.is_edited = True
    cluster.updated_at = now


def rename(actor: User, cluster: Cluster, label: str, description: str, *,
           now: datetime) -> None:
    """Give a cluster its name and description (also allowed when confirmed)."""
    _editable(actor, cluster)
    label = " ".join(label.split())
    if not 3 <= len(label) <= LABEL_MAX:
        raise ValidationError(_l("The name needs 3 to %(max)d characters.", max=LABEL_MAX),
                              field="label")
    description = description.strip()
    if len(description) > 5000:
        raise ValidationError(_l("The description may have at most 5000 characters."),
                              field="description")
    before = (cluster.label, cluster.description)
    cluster.label, cluster.description = label, description
    if before != (label, description):
        _touch(cluster, now)
        audit.record("cluster.renamed", actor=actor, now=now, object_type="cluster",
                     object_id=cluster.id, round_id=cluster.round_id,
                     data={"label": [before[0], label]})


def move(actor: User, proposal: Proposal, target: Cluster, *, now: datetime) -> None:
    """Move a proposal into another cluster of the same round (it stays there on re-runs)."""
    rnd = _editable(actor, target)
    if proposal.round_id != rnd.id or proposal.status != ProposalStatus.SUBMITTED.value:
        raise ValidationError(_l("This proposal does not take part in this round."))
    _unconfirmed(target)
    member = db.session.scalar(select(ClusterMember).where(
        ClusterMember.proposal_id == proposal.id))
    source = member.cluster if member else None
    if source is not None and source.id == target.id:
        return
    if source is not None:
        _unconfirmed(source)
        source.members.remove(member)
        db.session.flush()
        _touch(source, now)
    target.members.append(ClusterMember(proposal_id=proposal.id, similarity=0.0,
                                        is_pinned=True, added_at=now))
    _touch(target, now)
    db.session.flush()
    _drop_if_empty(source)
    audit.record("cluster.proposal_moved", actor=actor, now=now, object_type="proposal",
                 object_id=proposal.id, round_id=rnd.id,
                 data={"from": source.id if source else None, "to": target.id})


def split_out(actor: User, proposal: Proposal, *, now: datetime) -> Cluster:
    """Take a proposal out of its cluster into a new cluster of its own."""
    require_role(actor, Role.ORGANISER)
    rnd = db.session.get(Round, proposal.round_id)
    _lock_round(rnd)
    _require_clustering_phase(rnd)
    if proposal.status != ProposalStatus.SUBMITTED.value:
        raise ValidationError(_l("This proposal does not take part in this round."))
    member = db.session.scalar(select(ClusterMember).where(
        ClusterMember.proposal_id == proposal.id))
    source = member.cluster if member else None
    if source is not None:
        _unconfirmed(source)
        source.members.remove(member)
        db.session.flush()
        _touch(source, now)
    cluster = Cluster(round_id=rnd.id, label=proposal.title[:LABEL_MAX],
                      suggested_label="", is_edited=True, created_at=now, updated_at=now)
    cluster.members.append(ClusterMember(proposal_id=proposal.id, similarity=1.0,
                                         is_pinned=True, added_at=now))
    db.session.add(cluster)
    db.session.flush()
    _drop_if_empty(source)
    audit.record("cluster.proposal_split_out", actor=actor, now=now, object_type="proposal",
                 object_id=proposal.id, round_id=rnd.id,
                 data={"from": source.id if source else None, "to": cluster.id})
    return cluster


def merge(actor: User, source: Cluster, target: Cluster, *, now: datetime) -> None:
    """Merge `source` into `target`: its proposals move over and `source` disappears."""
    rnd = _editable(actor, target, source)
    if source.round_id != rnd.id:
        raise ValidationError(_l("Both clusters must belong to the same round."))
    if source.id == target.id:
        raise ValidationError(_l("Choose another cluster to merge with."), field="target_id")
    _unconfirmed(source)
    _unconfirmed(target)
    moved = [m.proposal_id for m in source.members]
    for member in list(source.members):
        source.members.remove(member)
    db.session.flush()
    for proposal_id in moved:
        target.members.append(ClusterMember(proposal_id=proposal_id, similarity=0.0,
                                            is_pinned=True, added_at=now))
    _touch(target, now)
    label = source.label
    db.session.delete(source)
    db.session.flush()
    audit.record("cluster.merged", actor=actor, now=now, object_type="cluster",
                 object_id=target.id, round_id=rnd.id,
                 data={"merged": source.id, "merged_label": label, "proposals": moved})


def _drop_if_empty(cluster: Cluster | None) -> None:
    if cluster is not None and not cluster.members:
        db.session.delete(cluster)
        db.session.flush()


def set_confirmed(actor: User, cluster: Cluster, confirmed: bool, *, now: datetime) -> None:
    """Confirm a cluster (it becomes a public "vraagstuk") or undo that."""
    _editable(actor, cluster)
    _set_confirmed(actor, cluster, confirmed, now)


def _set_confirmed(actor: User, cluster: Cluster, confirmed: bool, now: datetime) -> bool:
    if confirmed and not cluster.members:
        raise InvalidState(_l("An empty cluster cannot be confirmed."))
    if cluster.is_confirmed == confirmed:
        return False
    cluster.is_confirmed = confirmed
    cluster.confirmed_at = now if confirmed else None
    cluster.confirmed_by_id = actor.id if confirmed else None
    cluster.updated_at = now
    audit.record("cluster.confirmed" if confirmed else "cluster.unconfirmed", actor=actor,
                 now=now, object_type="cluster", object_id=cluster.id,
                 round_id=cluster.round_id, data={"label": cluster.label})
    return True


def confirm_all(actor: User, rnd: Round, *, now: datetime) -> int:
    """Confirm every cluster of the round; returns how many were newly confirmed."""
    require_role(actor, Role.ORGANISER)
    _lock_round(rnd)
    _require_clustering_phase(rnd)
    count = 0
    current = db.session.scalars(
        select(Cluster).where(Cluster.round_id == rnd.id).order_by(Cluster.id)
        .execution_options(populate_existing=True)).all()
    for cluster in current:
        db.session.expire(cluster, ["members"])
        if not cluster.is_confirmed and cluster.members:
            count += _set_confirmed(actor, cluster, True, now)
    return count


@precondition(Phase.PRESELECTION)
def preselection_blocker(rnd: Round, now: datetime) -> str | None:
    """Why preselection cannot open yet as far as clusters go (None when it can)."""
    unplaced = len(unclustered_proposals(rnd))
    unconfirmed = db.session.scalar(select(func.count(Cluster.id)).where(
        Cluster.round_id == rnd.id, Cluster.is_confirmed.is_(False)))
    if unplaced:
        return str(lazy_ngettext("%(num)d proposal is not in a cluster yet.",
                                 "%(num)d proposals are not in a cluster yet.", unplaced))
    if unconfirmed:
        return str(lazy_ngettext("%(num)d cluster is not confirmed yet.",
                                 "%(num)d clusters are not confirmed yet.", unconfirmed))
    return None
