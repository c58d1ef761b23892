"""Preselection: jury scores and peer approvals combined into finalists per cluster.

Pure module: no Flask, no database. The web app feeds it rows from the database; the CLI and
the benchmarks call the same code. Identifiers (proposals, clusters, jurors, municipalities,
criteria) are ints or strings, compared for equality only, and sorted wherever an order is
needed, so the result never depends on the order of the input.

Rules
-----

Jury score of a proposal
    A juror is *recused* from a proposal automatically when the juror's municipality is involved
    in it (the owner or an accepted co-submitter), or when the juror declared a conflict on it.
    Scores of recused jurors never count, even when they are present in the input. Of the other
    jurors, only those who scored the proposal on *every* criterion (a complete scorecard) count;
    a partial scorecard is ignored as a whole and its juror is listed in
    ``incomplete_juror_ids``. Per criterion, the mean of the counted scores is normalised to
    0–1 as ``(mean − scale_min) / (scale_max − scale_min)``; the jury score is the weighted
    mean of these normalised means with the criterion weights. With no counted juror the jury
    score is ``None``.

Peer score
    Eligible municipalities are the voting municipalities minus those involved in the proposal
    (owner and accepted co-submitters: the caller passes only accepted ones). Approvals count
    only from eligible municipalities, once each; others are ignored. The peer score is
    ``approvals / eligible``, or ``None`` when no municipality is eligible.

Combined score
    ``w × jury + (1 − w) × peer`` with ``w = Rules.jury_weight`` (1 = jury only, 0 = peer only).
    When a component with a positive weight is missing, the combined score uses only the
    available component (renormalised, i.e. it equals that component) and the proposal gets a
    flag: ``"no jury scores"`` (``w > 0`` and no counted juror) or ``"no eligible voters"``
    (``w < 1`` and nobody eligible). When no component with a positive weight is available
    (e.g. ``w = 1`` and no jury scores) the combined score is ``None``, flagged
    ``"no combined score"``, and the proposal ranks below every proposal with a combined score.

Ranking, per cluster
    Proposals are ordered by, in turn:

    1. combined score, highest first (``None`` last);
    2. jury score, highest first (``None`` last);
    3. approvals (the absolute count of eligible approvals), most first;
    4. a seeded draw: ascending ``hashlib.sha256(f"{seed}:{cluster_id}:{proposal_id}"
       .encode("utf-8")).hexdigest()``, where ``seed`` is ``Rules.seed`` (published before the
       preselection starts) and the ids are formatted with ``str()``. Anyone can recompute it;
       :func:`draw_key` does exactly this.

    Scores are compared with a tolerance of ``TOLERANCE`` (1e-9) to absorb float noise: after
    sorting, neighbouring values closer than the tolerance are equal, and so, by chaining, are
    all values of such a run. Ranks are 1-based and never shared. ``decided_by`` on each proposal
    names the level that put it before the *next* proposal in its cluster: ``"combined"`` when
    the combined scores differ (no tie), ``"jury"``, ``"approvals"`` or ``"draw"`` when a tie
    was broken at that level, and ``None`` for the last proposal of its cluster.

Finalists
    The first ``Rules.max_finalists`` (N) proposals of each cluster are finalists. A cluster of
    N or fewer proposals is still scored and ranked in full; all its proposals go through.

Overrides
    Organiser overrides are not part of :func:`compute_preselection`: :func:`apply_overrides`
    takes its result plus ``Override(proposal_id, make_finalist, reason)`` items and returns
    the final finalist set with the overrides marked. A reason is mandatory. Overrides may leave
    a cluster with more or fewer than N finalists: that is the organiser's decision.

Invalid input raises ``ValueError`` with a message naming the offending item: a score outside
its criterion's scale (scores of recused jurors are validated too), a score, conflict or approval
naming an unknown proposal, juror or criterion, a criterion scored twice by the same juror on the
same proposal, duplicate ids, a criterion weight ≤ 0, a scale with ``scale_min ≥ scale_max``,
``jury_weight`` outside [0, 1], ``max_finalists`` < 1, and a jury weight above 0 without any
criterion (a peer-only round, ``jury_weight = 0``, may have no criteria).
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Id = int | str
TieBreak = Literal["combined", "jury", "approvals", "draw"]
RecusalReason = Literal["automatic", "declared"]

TOLERANCE = 1e-9
DEFAULT_SCALE = (1, 5)
FLAG_NO_JURY = "no jury scores"
FLAG_NO_VOTERS = "no eligible voters"
FLAG_NO_COMBINED = "no combined score"


def _id_key(value: Id) -> tuple[bool, Id]:
    """Sort key for identifiers: ints (numerically) before strings."""
    return (isinstance(value, str), value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _finite(value: object) -> bool:
    return _is_number(value) and math.isfinite(value)


# --- input ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    """A jury criterion. Scores lie in [scale_min, scale_max]; the weight is relative."""

    id: Id
    weight: float = 1.0
    scale_min: float = DEFAULT_SCALE[0]
    scale_max: float = DEFAULT_SCALE[1]

    def __post_init__(self) -> None:
        if not _finite(self.weight) or self.weight <= 0:
            raise ValueError(f"criterion {self.id!r}: the weight must be a number > 0, "
                             f"got {self.weight!r}")
        if not (_finite(self.scale_min) and _finite(self.scale_max)):
            raise ValueError(f"criterion {self.id!r}: the scale bounds must be numbers")
        if self.scale_min >= self.scale_max:
            raise ValueError(f"criterion {self.id!r}: scale_min ({self.scale_min}) must be "
                             f"below scale_max ({self.scale_max})")

    def normalise(self, value: float) -> float:
        return (value - self.scale_min) / (self.scale_max - self.scale_min)


@dataclass(frozen=True)
class Juror:
    """A jury member; `municipality_id` is None for a juror who represents no municipality."""

    id: Id
    municipality_id: Id | None = None


@dataclass(frozen=True)
class Proposal:
    """A proposal in a cluster. `co_submitter_ids`: the municipalities whose co-submission was
    accepted (pending or declined ones must be left out by the caller)."""

    id: Id
    cluster_id: Id
    owner_id: Id
    co_submitter_ids: frozenset[Id] = frozenset()

    @property
    def involved(self) -> frozenset[Id]:
        return frozenset(self.co_submitter_ids) | {self.owner_id}


@dataclass(frozen=True)
class Score:
    juror_id: Id
    proposal_id: Id
    criterion_id: Id
    value: float


@dataclass(frozen=True)
class Conflict:
    """A conflict of interest declared by a juror on a proposal."""

    juror_id: Id
    proposal_id: Id
    reason: str = ""


@dataclass(frozen=True)
class Approval:
    municipality_id: Id
    proposal_id: Id


@dataclass(frozen=True)
class Rules:
    """The round's preselection rules. `seed` is the published seed of the tie-break draw."""

    seed: str
    jury_weight: float = 0.5
    max_finalists: int = 3

    def __post_init__(self) -> None:
        if not isinstance(self.seed, str):
            raise ValueError(f"seed must be a string, got {self.seed!r}")
        if not _is_number(self.jury_weight) or not 0 <= self.jury_weight <= 1:
            raise ValueError(f"jury_weight must lie in [0, 1], got {self.jury_weight!r}")
        if (not isinstance(self.max_finalists, int) or isinstance(self.max_finalists, bool)
                or self.max_finalists < 1):
            raise ValueError(f"max_finalists must be an integer ≥ 1, got {self.max_finalists!r}")


# --- output --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CriterionResult:
    """Mean of the counted scores on the criterion's own scale, and normalised to 0–1."""

    criterion_id: Id
    mean: float | None
    normalised: float | None


@dataclass(frozen=True)
class Scorecard:
    """The complete scorecard of one counted juror: (criterion id, score), by criterion id.
    The caller decides whether to show the juror's name."""

    juror_id: Id
    scores: tuple[tuple[Id, float], ...]


@dataclass(frozen=True)
class Recusal:
    """`reason` "automatic": the juror's municipality is involved in the proposal (`note` then
    holds any declared text as well); "declared": the juror declared a conflict (`note` is the
    declared text, several declarations joined with "; ")."""

    juror_id: Id
    reason: RecusalReason
    note: str = ""


@dataclass(frozen=True)
class ProposalResult:
    proposal_id: Id
    cluster_id: Id
    rank: int  # 1-based within the cluster, never shared
    is_finalist: bool
    criteria: tuple[CriterionResult, ...]  # by criterion id
    scorecards: tuple[Scorecard, ...]  # counted jurors, by juror id
    incomplete_juror_ids: tuple[Id, ...]  # non-recused jurors with a partial scorecard
    recusals: tuple[Recusal, ...]  # by juror id
    jury_score: float | None
    approvals: int
    eligible: int
    peer_score: float | None
    combined: float | None
    decided_by: TieBreak | None  # what ordered it before the next proposal; None when last
    draw_key: str
    flags: tuple[str, ...]

    @property
    def jury_count(self) -> int:
        return len(self.scorecards)

    @property
    def is_tied_with_next(self) -> bool:
        return self.decided_by not in (None, "combined")


@dataclass(frozen=True)
class ClusterResult:
    cluster_id: Id
    proposals: tuple[ProposalResult, ...]  # by rank
    max_finalists: int

    @property
    def finalist_ids(self) -> tuple[Id, ...]:
        return tuple(p.proposal_id for p in self.proposals if p.is_finalist)

    @property
    def all_through(self) -> bool:
        """True when the cluster has no more proposals than finalist places."""
        return len(self.proposals) <= self.max_finalists

    @property
    def cutoff_decided_by(self) -> TieBreak | None:
        """What separated the last finalist from the first non-finalist (None if all go
        through)."""
        if self.all_through:
            return None
        return self.proposals[self.max_finalists - 1].decided_by


@dataclass(frozen=True)
class PreselectionResult:
    rules: Rules
    clusters: tuple[ClusterResult, ...]  # by cluster id

    def cluster(self, cluster_id: Id) -> ClusterResult:
        for c in self.clusters:
            if c.cluster_id == cluster_id:
                return c
        raise KeyError(cluster_id)

    def proposal(self, proposal_id: Id) -> ProposalResult:
        for c in self.clusters:
            for p in c.proposals:
                if p.proposal_id == proposal_id:
                    return p
        raise KeyError(proposal_id)

    @property
    def finalist_ids(self) -> frozenset[Id]:
        return frozenset(pid for c in self.clusters for pid in c.finalist_ids)


# --- computation ---------------------------------------------------------------------------


def draw_key(seed: str, cluster_id: Id, proposal_id: Id) -> str:
    """The published draw rule: tied proposals are ordered by this value, ascending."""
    return hashlib.sha256(f"{seed}:{cluster_id}:{proposal_id}".encode()).hexdigest()


def _unique(items: Iterable, kind: str) -> dict:
    out: dict = {}
    for item in items:
        if item.id in out:
            raise ValueError(f"duplicate {kind} id {item.id!r}")
        out[item.id] = item
    return out


@dataclass
class _Row:
    """A proposal's scores while ranking."""

    proposal: Proposal
    jury: float | None
    approvals: int
    combined: float | None
    draw_key: str
    result: dict


def compute_preselection(
    proposals: Iterable[Proposal],
    criteria: Iterable[Criterion],
    jurors: Iterable[Juror],
    scores: Iterable[Score],
    approvals: Iterable[Approval],
    voting_municipality_ids: Iterable[Id],
    rules: Rules,
    conflicts: Iterable[Conflict] = (),
) -> PreselectionResult:
    """Score, rank and select finalists for every cluster (see the module docstring)."""
    if not isinstance(rules, Rules):
        raise ValueError("rules must be a Rules instance")
    props: dict[Id, Proposal] = _unique(proposals, "proposal")
    crits: dict[Id, Criterion] = _unique(criteria, "criterion")
    jurs: dict[Id, Juror] = _unique(jurors, "juror")
    voters = frozenset(voting_municipality_ids)
    crit_ids = sorted(crits, key=_id_key)
    if rules.jury_weight > 0 and not crits:
        raise ValueError("a jury weight above 0 needs at least one criterion")

    # (proposal, juror) -> {criterion: value}
    cards: dict[Id, dict[Id, dict[Id, float]]] = defaultdict(lambda: defaultdict(dict))
    for s in scores:
        where = (f"score of juror {s.juror_id!r} on proposal {s.proposal_id!r}, "
                 f"criterion {s.criterion_id!r}")
        if s.proposal_id not in props:
            raise ValueError(f"{where}: unknown proposal {s.proposal_id!r}")
        if s.juror_id not in jurs:
            raise ValueError(f"{where}: unknown juror {s.juror_id!r}")
        crit = crits.get(s.criterion_id)
        if crit is None:
            raise ValueError(f"{where}: unknown criterion {s.criterion_id!r}")
        if not _finite(s.value) or not crit.scale_min <= s.value <= crit.scale_max:
            raise ValueError(f"{where}: {s.value!r} lies outside the scale "
                             f"{crit.scale_min}–{crit.scale_max}")
        card = cards[s.proposal_id][s.juror_id]
        if s.criterion_id in card:
            raise ValueError(f"{where}: scored twice")
        card[s.criterion_id] = s.value

    declared: dict[Id, dict[Id, set[str]]] = defaultdict(lambda: defaultdict(set))
    for c in conflicts:
        if c.proposal_id not in props:
            raise ValueError(f"conflict of juror {c.juror_id!r}: unknown proposal "
                             f"{c.proposal_id!r}")
        if c.juror_id not in jurs:
            raise ValueError(f"conflict on proposal {c.proposal_id!r}: unknown juror "
                             f"{c.juror_id!r}")
        text = (c.reason or "").strip()
        notes = declared[c.proposal_id][c.juror_id]
        if text:
            notes.add(text)

    approvers: dict[Id, set[Id]] = defaultdict(set)
    for a in approvals:
        if a.proposal_id not in props:
            raise ValueError(f"approval by municipality {a.municipality_id!r}: unknown proposal "
                             f"{a.proposal_id!r}")
        approvers[a.proposal_id].add(a.municipality_id)

    by_cluster: dict[Id, list[_Row]] = defaultdict(list)
    for pid in sorted(props, key=_id_key):
        p = props[pid]
        involved = p.involved
        recusals = []
        for jid in sorted(jurs, key=_id_key):
            juror = jurs[jid]
            notes = declared[pid].get(jid)
            note = "; ".join(sorted(notes)) if notes else ""
            if juror.municipality_id is not None and juror.municipality_id in involved:
                recusals.append(Recusal(jid, "automatic", note))
            elif notes is not None:
                recusals.append(Recusal(jid, "declared", note))
        recused = {r.juror_id for r in recusals}

        counted, incomplete = [], []
        for jid in sorted(cards[pid], key=_id_key):
            if jid in recused:
                continue
            card = cards[pid][jid]
            if len(card) == len(crits):
                counted.append(Scorecard(jid, tuple((c, card[c]) for c in crit_ids)))
            else:
                incomplete.append(jid)

        crit_results = []
        jury: float | None = None
        if counted:
            weighted = []
            for i, cid in enumerate(crit_ids):
                crit = crits[cid]
                mean = math.fsum(sc.scores[i][1] for sc in counted) / len(counted)
                norm = crit.normalise(mean)
                crit_results.append(CriterionResult(cid, mean, norm))
                weighted.append(crit.weight * norm)
            if crit_ids:
                jury = math.fsum(weighted) / math.fsum(crits[c].weight for c in crit_ids)
        else:
            crit_results = [CriterionResult(cid, None, None) for cid in crit_ids]

        eligible_set = voters - involved
        n_approvals = len(approvers[pid] & eligible_set)
        peer = n_approvals / len(eligible_set) if eligible_set else None

        w = rules.jury_weight
        flags = []
        if w > 0 and jury is None:
            flags.append(FLAG_NO_JURY)
        if w < 1 and peer is None:
            flags.append(FLAG_NO_VOTERS)
        combined: float | None
        if jury is not None and peer is not None:
            combined = w * jury + (1 - w) * peer
        elif jury is not None and w > 0:
            combined = jury
        elif peer is not None and w < 1:
            combined = peer
        else:
            combined = None
            flags.append(FLAG_NO_COMBINED)

        key = draw_key(rules.seed, p.cluster_id, pid)
        by_cluster[p.cluster_id].append(_Row(
            proposal=p, jury=jury, approvals=n_approvals, combined=combined, draw_key=key,
            result={
                "proposal_id": pid,
                "cluster_id": p.cluster_id,
                "criteria": tuple(crit_results),
                "scorecards": tuple(counted),
                "incomplete_juror_ids": tuple(incomplete),
                "recusals": tuple(recusals),
                "jury_score": jury,
                "approvals": n_approvals,
                "eligible": len(eligible_set),
                "peer_score": peer,
                "combined": combined,
                "draw_key": key,
                "flags": tuple(flags),
            },
        ))

    clusters = []
    n = rules.max_finalists
    for cid in sorted(by_cluster, key=_id_key):
        order, between = _order(by_cluster[cid], 0)
        between.append(None)
        results = tuple(
            ProposalResult(rank=i + 1, is_finalist=i < n, decided_by=between[i], **row.result)
            for i, row in enumerate(order)
        )
        clusters.append(ClusterResult(cid, results, n))
    return PreselectionResult(rules, tuple(clusters))


_LEVELS: tuple[TieBreak, ...] = ("combined", "jury", "approvals", "draw")


def _level_value(row: _Row, level: int) -> float | None:
    if level == 0:
        return row.combined
    if level == 1:
        return row.jury
    return row.approvals


def _groups(rows: list[_Row], level: int) -> list[list[_Row]]:
    """Rows sorted by the level's value, highest first and None last, split into runs of equal
    values (neighbours closer than TOLERANCE are equal)."""
    rows = sorted(rows, key=lambda r: (_level_value(r, level) is None,
                                       -(_level_value(r, level) or 0)))
    groups: list[list[_Row]] = []
    previous: float | None = None
    for i, row in enumerate(rows):
        value = _level_value(row, level)
        same = i > 0 and (
            (value is None and previous is None)
            or (value is not None and previous is not None
                and abs(value - previous) < TOLERANCE)
        )
        if same:
            groups[-1].append(row)
        else:
            groups.append([row])
        previous = value
    return groups


def _order(rows: list[_Row], level: int) -> tuple[list[_Row], list[TieBreak | None]]:
    """The rows in rank order, and for each adjacent pair the level that decided it."""
    if len(rows) == 1:
        return list(rows), []
    if _LEVELS[level] == "draw":
        ordered = sorted(rows, key=lambda r: r.draw_key)
        return ordered, ["draw"] * (len(ordered) - 1)
    ordered: list[_Row] = []
    between: list[TieBreak | None] = []
    for i, group in enumerate(_groups(rows, level)):
        if i:
            between.append(_LEVELS[level])
        sub_order, sub_between = _order(group, level + 1)
        ordered.extend(sub_order)
        between.extend(sub_between)
    return ordered, between


# --- organiser overrides -------------------------------------------------------------------


@dataclass(frozen=True)
class Override:
    """An organiser's decision to make a proposal a finalist (or not), with a mandatory reason."""

    proposal_id: Id
    make_finalist: bool
    reason: str

    def __post_init__(self) -> None:
        _check_override(self)


def _check_override(o: Override) -> None:
    if not isinstance(o.reason, str) or not o.reason.strip():
        raise ValueError(f"override of proposal {o.proposal_id!r}: a reason is required")
    if not isinstance(o.make_finalist, bool):
        raise ValueError(f"override of proposal {o.proposal_id!r}: make_finalist must be a bool")


@dataclass(frozen=True)
class Decision:
    proposal_id: Id
    cluster_id: Id
    rank: int
    computed_finalist: bool
    is_finalist: bool
    override: Override | None = None

    @property
    def is_changed(self) -> bool:
        """True when an override changed the computed outcome."""
        return self.is_finalist != self.computed_finalist


@dataclass(frozen=True)
class FinalSelection:
    decisions: tuple[Decision, ...]  # by cluster id, then rank

    @property
    def finalist_ids(self) -> frozenset[Id]:
        return frozenset(d.proposal_id for d in self.decisions if d.is_finalist)

    def finalists_in(self, cluster_id: Id) -> tuple[Id, ...]:
        return tuple(d.proposal_id for d in self.decisions
                     if d.cluster_id == cluster_id and d.is_finalist)

    @property
    def overridden(self) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if d.override is not None)


def apply_overrides(result: PreselectionResult,
                    overrides: Sequence[Override] | Iterable[Override]) -> FinalSelection:
    """The final finalist set: the computed finalists with the organiser's overrides applied and
    marked. One override per proposal; an override that confirms the computed outcome is kept
    and marked too (``Decision.is_changed`` is then False)."""
    known = {p.proposal_id for c in result.clusters for p in c.proposals}
    by_proposal: dict[Id, Override] = {}
    for o in overrides:
        _check_override(o)
        if o.proposal_id not in known:
            raise ValueError(f"override of unknown proposal {o.proposal_id!r}")
        if o.proposal_id in by_proposal:
            raise ValueError(f"more than one override of proposal {o.proposal_id!r}")
        by_proposal[o.proposal_id] = o
    decisions = []
    for c in result.clusters:
        for p in c.proposals:
            o = by_proposal.get(p.proposal_id)
            decisions.append(Decision(
                proposal_id=p.proposal_id, cluster_id=c.cluster_id, rank=p.rank,
                computed_finalist=p.is_finalist,
                is_finalist=o.make_finalist if o is not None else p.is_finalist,
                override=o,
            ))
    return FinalSelection(tuple(decisions))
