"""The final vote: one ranked ballot per municipality per cluster, counted with Schulze when
the phase closes; the winner (or two) becomes the shared standard.

- A delegate ranks any subset of the cluster's finalists, without ties; a municipality may rank
  its own finalist unless the round's rules forbid it.
- Every cast is a new version: the previous one stops being current (kept, with the moment it
  was replaced). The database allows one current ballot per municipality per cluster; casting
  locks the municipality's row first, so simultaneous casts queue and the last one wins.
- The delegate gets a receipt code: SHA-256 of the canonical ballot and a random salt. After
  the close the ballot list is published (with municipalities, or only receipts when the rules
  make ballots anonymous) and anyone can find their receipt in it.
- Weights: 1 per municipality, or by population brackets fixed while the round is a draft.
- Counting is the pure engine's (`competition.engine.tally`); the export is exactly the file
  `flask competition tally` reads, so anyone can recount.
"""

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from competition.csv_export import csv_text
from competition.engine import tally as engine
from competition.extensions import db
from competition.models import (
    Cluster,
    CoSubmission,
    CoSubmissionStatus,
    FinalBallot,
    FinalistWork,
    Municipality,
    Phase,
    Proposal,
    Role,
    Round,
    Standard,
    User,
    VoteResult,
    WeightBracket,
)
from competition.services import audit
from competition.services.accounts import require_role
from competition.services.development import cluster_finalists
from competition.services.errors import InvalidState, NotFound, PermissionDenied, ValidationError
from competition.services.locks import lock_row
from competition.services.mail import queue_mail
from competition.services.preselection import vote_refusal, voting_municipality_ids
from competition.services.proposals import is_db_id
from competition.services.rounds import hold_phase, on_phase_end, phase_label
from competition.urls import external_url

# Proposed to organisers who weight by population (they change it while the round is a draft).
DEFAULT_BRACKETS: tuple[tuple[int, Decimal], ...] = (
    (0, Decimal(1)), (20_000, Decimal(2)), (50_000, Decimal(3)), (100_000, Decimal(4)),
    (250_000, Decimal(5)),
)
MAX_BRACKETS = 20
MAX_WEIGHT = Decimal(1000)
MAX_POPULATION = 100_000_000  # far above any municipality; keeps the number in an INTEGER
RECEIPT_LENGTH = 64


def _refusal(action: str, rnd: Round) -> str:
    return str(_l("%(action)s is only possible during the final vote (now: %(phase)s).",
                  action=action, phase=phase_label(rnd.current_phase)))


# --- weights -----------------------------------------------------------------------------------


def brackets(rnd: Round) -> list[tuple[int, Decimal]]:
    """The round's population brackets (lowest first): stored ones, else the defaults."""
    rows = db.session.scalars(select(WeightBracket).where(WeightBracket.round_id == rnd.id)
                              .order_by(WeightBracket.min_population)).all()
    return [(r.min_population, Decimal(r.weight)) for r in rows] or list(DEFAULT_BRACKETS)


def set_brackets(actor: User, rnd: Round, rows: list[tuple[int, Decimal]], *,
                 now: datetime) -> None:
    """Replace the population brackets (organisers, while the round is a draft)."""
    require_role(actor, Role.ORGANISER)
    # Held until commit: the round cannot leave draft while its rules are being changed.
    hold_phase(rnd, Phase.DRAFT, str(_l("The weights are part of the round's rules: they can "
                                        "only change while the round is a draft.")))
    rows = sorted(rows, key=lambda row: row[0])
    if not 1 <= len(rows) <= MAX_BRACKETS:
        raise ValidationError(_l("Give 1 to %(max)d brackets.", max=MAX_BRACKETS))
    if rows[0][0] != 0:
        raise ValidationError(_l("The first bracket starts at 0 inhabitants."))
    if len({m for m, _ in rows}) != len(rows):
        raise ValidationError(_l("Two brackets start at the same number of inhabitants."))
    for minimum, weight in rows:
        if not 0 <= minimum <= MAX_POPULATION:
            raise ValidationError(_l(
                "A bracket starts at a number of inhabitants from 0 to %(max)d.",
                max=MAX_POPULATION))
        if not weight.is_finite() or not (0 < weight <= MAX_WEIGHT):
            raise ValidationError(_l("A weight lies above 0 and at most %(max)d.",
                                     max=int(MAX_WEIGHT)))
        if weight != weight.quantize(Decimal("0.001")):
            raise ValidationError(_l("A weight has at most three decimals."))
    db.session.execute(WeightBracket.__table__.delete().where(WeightBracket.round_id == rnd.id))
    for minimum, weight in rows:
        db.session.add(WeightBracket(round_id=rnd.id, min_population=minimum, weight=weight))
    db.session.flush()
    audit.record("round.weights_set", actor=actor, now=now, object_type="round",
                 object_id=rnd.id, round_id=rnd.id,
                 data={"brackets": [[m, str(w)] for m, w in rows]})


def parse_weight(text: str) -> Decimal:
    """A weight as typed ("1,5" or "1.5")."""
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        value = None
    # "NaN" and "Infinity" are Decimals too, but no weight (and NaN cannot even be compared).
    if value is None or not value.is_finite():
        raise ValidationError(_l("A weight is a number such as 1 or 1,5."))
    return value


def has_own_brackets(rnd: Round) -> bool:
    """Whether the organisers saved brackets (else the defaults apply)."""
    return db.session.scalar(select(WeightBracket.id).where(WeightBracket.round_id == rnd.id)
                             .limit(1)) is not None


@dataclass
class BracketRow:
    min_population: int
    max_population: int | None  # the next bracket's start minus one; None for the last
    weight: Decimal
    municipalities: int  # active municipalities in the bracket


def bracket_table(rnd: Round) -> list[BracketRow]:
    """The brackets with their upper bounds and how many active municipalities fall in each."""
    rows = brackets(rnd)
    populations = db.session.scalars(select(Municipality.population).where(
        Municipality.is_active.is_(True))).all()
    out = []
    for i, (minimum, weight) in enumerate(rows):
        upper = rows[i + 1][0] - 1 if i + 1 < len(rows) else None
        inside = sum(1 for p in populations if p >= minimum and (upper is None or p <= upper))
        out.append(BracketRow(minimum, upper, weight, inside))
    return out


def weight_for(rnd: Round, municipality: Municipality) -> Decimal:
    """The weight of the municipality's ballots in this round."""
    if rnd.vote_weighting != "population":
        return Decimal(1)
    weight = Decimal(1)
    for minimum, w in brackets(rnd):
        if municipality.population >= minimum:
            weight = w
    return weight


# --- casting -----------------------------------------------------------------------------------


@dataclass
class Option:
    proposal: Proposal
    is_own: bool  # the voter's municipality is involved in this finalist


def options(cluster: Cluster, municipality_id: int | None) -> list[Option]:
    """The cluster's finalists, marked where the municipality is involved."""
    finalists = cluster_finalists(cluster)
    # Owner or accepted co-submitter (`involved_municipality_ids`), for all finalists at once.
    co_submitting = {pid for (pid,) in db.session.execute(
        select(CoSubmission.proposal_id).where(
            CoSubmission.proposal_id.in_([p.id for p in finalists]),
            CoSubmission.municipality_id == municipality_id,
            CoSubmission.status == CoSubmissionStatus.ACCEPTED.value))
    } if finalists and municipality_id is not None else set()
    return [Option(p, municipality_id == p.municipality_id or p.id in co_submitting)
            for p in finalists]


def current_ballot(municipality_id: int, cluster: Cluster) -> FinalBallot | None:
    """The municipality's ballot that counts in this cluster, if any."""
    return db.session.scalar(select(FinalBallot).where(
        FinalBallot.cluster_id == cluster.id, FinalBallot.municipality_id == municipality_id,
        FinalBallot.is_current.is_(True)))


def ballot_history(municipality_id: int, cluster: Cluster) -> list[FinalBallot]:
    """Every version of the municipality's ballot in this cluster, newest first."""
    return list(db.session.scalars(select(FinalBallot).where(
        FinalBallot.cluster_id == cluster.id, FinalBallot.municipality_id == municipality_id)
        .order_by(FinalBallot.cast_at.desc(), FinalBallot.id.desc())))


@dataclass
class OverviewRow:
    cluster: Cluster
    finalists: int
    ballot: FinalBallot | None  # the municipality's current ballot


def overview(municipality_id: int, rnd: Round) -> list[OverviewRow]:
    """Per vraagstuk to vote on: the municipality's current ballot, if cast."""
    from competition.models import FinalistDecision

    clusters = vote_clusters(rnd)
    ids = [c.id for c in clusters]
    # Two queries for the whole round, however many vraagstukken it has.
    finalists = dict(db.session.execute(
        select(FinalistDecision.cluster_id, func.count(FinalistDecision.id))
        .where(FinalistDecision.cluster_id.in_(ids), FinalistDecision.is_finalist)
        .group_by(FinalistDecision.cluster_id)).all()) if ids else {}
    ballots = {b.cluster_id: b for b in db.session.scalars(select(FinalBallot).where(
        FinalBallot.cluster_id.in_(ids), FinalBallot.municipality_id == municipality_id,
        FinalBallot.is_current.is_(True)))} if ids else {}
    return [OverviewRow(c, finalists.get(c.id, 0), ballots.get(c.id)) for c in clusters]


def _number(value: Decimal) -> int | float:
    """A weight as a JSON number: whole weights as integers."""
    return int(value) if value == value.to_integral_value() else float(value)


def canonical(ballot: FinalBallot, rnd: Round, municipality: Municipality) -> str:
    """The ballot as canonical JSON: what its receipt covers."""
    return json.dumps({
        "round": rnd.slug, "cluster": ballot.cluster_id, "municipality": municipality.code,
        "ranking": list(ballot.ranking), "weight": _number(Decimal(ballot.weight)),
        "cast_at": ballot.cast_at.astimezone(UTC).isoformat(),
    }, sort_keys=True, separators=(",", ":"))


def receipt_of(ballot: FinalBallot, rnd: Round, municipality: Municipality) -> str:
    """SHA-256 of the canonical ballot and its secret salt."""
    text = f"{canonical(ballot, rnd, municipality)}:{ballot.salt}"
    return hashlib.sha256(text.encode()).hexdigest()


def _lock_municipality(municipality_id: int) -> None:
    """Queue simultaneous casts of one municipality."""
    lock_row(Municipality, municipality_id)


def cast_ballot(actor: User, cluster: Cluster, ranking: list[int], *,
                now: datetime) -> FinalBallot:
    """Cast the municipality's ranked ballot for a cluster (best first; unranked finalists
    count below all ranked ones). Replaces the municipality's previous ballot, which is kept."""
    require_role(actor, Role.DELEGATE)
    refusal = vote_refusal(actor)
    if refusal:
        raise PermissionDenied(refusal)
    rnd = db.session.get(Round, cluster.round_id)
    hold_phase(rnd, Phase.FINAL_VOTE, _refusal(str(_l("Voting")), rnd))
    if not cluster.is_confirmed:
        raise NotFound(_l("No such cluster."))
    allowed = {o.proposal.id: o for o in options(cluster, actor.municipality_id)}
    if not allowed:
        raise InvalidState(_l("This vraagstuk has no finalists to vote on."))
    if len(set(ranking)) != len(ranking):
        raise ValidationError(_l("Give every finalist its own place: ties are not allowed."),
                              field="ranking")
    for pid in ranking:
        if pid not in allowed:
            raise ValidationError(_l("You can only rank the finalists of this vraagstuk."),
                                  field="ranking")
        if allowed[pid].is_own and not rnd.is_own_finalist_vote_allowed:
            raise PermissionDenied(
                _l("The rules of this round do not let your municipality rank its own "
                   "finalist “%(title)s”.", title=allowed[pid].proposal.title))
    municipality = actor.municipality
    _lock_municipality(municipality.id)
    previous = db.session.execute(
        update(FinalBallot)
        .where(FinalBallot.cluster_id == cluster.id,
               FinalBallot.municipality_id == municipality.id,
               FinalBallot.is_current.is_(True))
        .values(is_current=False, superseded_at=now)
        .execution_options(synchronize_session=False)).rowcount
    ballot = FinalBallot(round_id=rnd.id, cluster_id=cluster.id, municipality_id=municipality.id,
                         ranking=list(ranking), weight=weight_for(rnd, municipality),
                         salt=secrets.token_hex(16), is_current=True, cast_by_id=actor.id,
                         cast_at=now.astimezone(UTC), receipt="")
    ballot.receipt = receipt_of(ballot, rnd, municipality)
    db.session.add(ballot)
    db.session.flush()
    version = db.session.scalar(select(func.count(FinalBallot.id)).where(
        FinalBallot.cluster_id == cluster.id, FinalBallot.municipality_id == municipality.id))
    # The log says who voted and when, never how: the ranking stays out of it.
    audit.record("final_vote.ballot_cast", actor=actor, now=now, object_type="cluster",
                 object_id=cluster.id, round_id=rnd.id,
                 data={"municipality": municipality.code, "receipt": ballot.receipt,
                       "version": version, "replaced": bool(previous)})
    return ballot


@dataclass
class ReceiptCheck:
    ballot: FinalBallot
    cluster: Cluster
    round: Round
    is_counted: bool  # the current ballot of a vote that has been counted
    is_published: bool  # the ballot list of its cluster is public


def normalise_receipt(text: str) -> str | None:
    """A receipt code as typed or pasted (any case, grouped with spaces, dashes or line breaks)
    in its stored form; None when it cannot be a receipt code."""
    receipt = "".join(c for c in text if not c.isspace() and c not in "-\u2010\u2011\u2013")
    receipt = receipt.lower()
    if len(receipt) != RECEIPT_LENGTH or any(c not in "0123456789abcdef" for c in receipt):
        return None
    return receipt


def group_receipt(receipt: str, size: int = 8) -> list[str]:
    """A receipt code in blocks, for people to read and compare."""
    return [receipt[i:i + size] for i in range(0, len(receipt), size)]


def check_receipt(receipt: str) -> ReceiptCheck | None:
    """Find a ballot by its receipt code (None when no ballot has it)."""
    receipt = normalise_receipt(receipt)
    if receipt is None:
        return None
    ballot = db.session.scalar(select(FinalBallot).where(FinalBallot.receipt == receipt))
    if ballot is None:
        return None
    cluster = db.session.get(Cluster, ballot.cluster_id)
    rnd = db.session.get(Round, ballot.round_id)
    published = is_closed(rnd)
    return ReceiptCheck(ballot, cluster, rnd, published and ballot.is_current, published)


def is_closed(rnd: Round) -> bool:
    """Whether the final vote of the round is over (and counted)."""
    return rnd.current_phase.index > Phase.FINAL_VOTE.index


# --- turnout and reminders ---------------------------------------------------------------------


@dataclass
class Turnout:
    cluster: Cluster
    voted: list[Municipality]
    eligible: int  # municipalities that can vote
    population: int  # inhabitants of the municipalities that voted
    total_population: int  # of those that can vote

    @property
    def share(self) -> float:
        return len(self.voted) / self.eligible if self.eligible else 0.0

    @property
    def population_share(self) -> float:
        return self.population / self.total_population if self.total_population else 0.0


def turnout(rnd: Round) -> list[Turnout]:
    """Per cluster with finalists: which municipalities have voted (never how)."""
    voters = voting_municipality_ids()
    population = dict(db.session.execute(
        select(Municipality.id, Municipality.population).where(Municipality.id.in_(voters))
    ).all()) if voters else {}
    clusters = vote_clusters(rnd)
    # One query for every vraagstuk of the round.
    by_cluster: dict[int, list[Municipality]] = {c.id: [] for c in clusters}
    if clusters:
        for cluster_id, municipality in db.session.execute(
                select(FinalBallot.cluster_id, Municipality).select_from(Municipality)
                .join(FinalBallot, FinalBallot.municipality_id == Municipality.id)
                .where(FinalBallot.cluster_id.in_(by_cluster), FinalBallot.is_current.is_(True))
                .order_by(Municipality.name, Municipality.id)):
            by_cluster[cluster_id].append(municipality)
    out = []
    for cluster in clusters:
        voted = by_cluster[cluster.id]
        # A municipality that voted and then stopped taking part still has a counted ballot:
        # it stays among the eligible, so a share never exceeds 100%.
        late = [m for m in voted if m.id not in population]
        out.append(Turnout(cluster, voted, len(voters) + len(late),
                           sum(m.population for m in voted),
                           sum(population.values()) + sum(m.population for m in late)))
    return out


def is_vote_cluster(cluster: Cluster) -> bool:
    """Whether the cluster is one of its round's `vote_clusters` (without listing them all)."""
    from competition.models import FinalistDecision

    return cluster.is_confirmed and db.session.scalar(
        select(FinalistDecision.id).where(FinalistDecision.cluster_id == cluster.id,
                                          FinalistDecision.is_finalist.is_(True))
        .limit(1)) is not None


def vote_clusters(rnd: Round) -> list[Cluster]:
    """The round's confirmed clusters that have finalists, by name."""
    from competition.models import FinalistDecision

    return list(db.session.scalars(
        select(Cluster).where(Cluster.round_id == rnd.id, Cluster.is_confirmed.is_(True),
                              Cluster.id.in_(select(FinalistDecision.cluster_id).where(
                                  FinalistDecision.is_finalist.is_(True))))
        .order_by(Cluster.label, Cluster.id)))


def non_voting_delegates(rnd: Round) -> list[tuple[User, int]]:
    """Active delegates of voting municipalities that have not voted in every vraagstuk, with
    how many vraagstukken their municipality still misses."""
    voters = voting_municipality_ids()
    missing: dict[int, int] = {}
    for row in turnout(rnd):
        voted = {m.id for m in row.voted}
        for municipality_id in voters - voted:
            missing[municipality_id] = missing.get(municipality_id, 0) + 1
    if not missing:
        return []
    users = db.session.scalars(select(User).where(
        User.municipality_id.in_(missing), User.is_delegate.is_(True),
        User.is_active.is_(True)).order_by(User.id))
    return [(user, missing[user.municipality_id]) for user in users]


def remind_non_voters(actor: User, rnd: Round, *, now: datetime) -> int:
    """Mail the delegates of municipalities that have not voted in every vraagstuk; returns
    how many delegates were mailed."""
    require_role(actor, Role.ORGANISER)
    if rnd.current_phase is not Phase.FINAL_VOTE:
        raise InvalidState(_l("Reminders can only be sent during the final vote."))
    pending = non_voting_delegates(rnd)
    for user, missing in pending:
        queue_mail(to=user.email, template="vote_reminder", category="vote", now=now,
                   locale=user.locale, user=user, round=rnd, missing=missing,
                   ends_at=rnd.window(Phase.FINAL_VOTE).ends_at,
                   link=external_url("voting.final_overview", slug=rnd.slug))
    audit.record("final_vote.reminded", actor=actor, now=now, object_type="round",
                 object_id=rnd.id, round_id=rnd.id,
                 data={"delegates": len(pending),
                       "municipalities": len({user.municipality_id for user, _ in pending})})
    return len(pending)


# --- counting ----------------------------------------------------------------------------------


def export(cluster: Cluster) -> dict[str, Any]:
    """The cluster's vote as the documented ballot file (what `flask competition tally`
    reads): candidates and rankings are proposal ids as strings; the municipality is left out
    (null) when the round's ballots are anonymous."""
    rnd = db.session.get(Round, cluster.round_id)
    ballots = db.session.scalars(select(FinalBallot).where(
        FinalBallot.cluster_id == cluster.id, FinalBallot.is_current.is_(True))
        .order_by(FinalBallot.receipt)).all()
    return {
        "cluster": str(cluster.id),
        "label": cluster.label,
        "round": rnd.slug,
        "candidates": [str(p.id) for p in cluster_finalists(cluster)],
        "max_winners": rnd.max_winners,
        "diversity_threshold": rnd.diversity_threshold,
        "seed": rnd.draw_seed,
        "weighting": rnd.vote_weighting,
        "ballots": [{
            "municipality": None if rnd.are_ballots_anonymous else b.municipality.code,
            "receipt": b.receipt,
            "weight": _number(Decimal(b.weight)),
            "ranking": [str(pid) for pid in b.ranking],
        } for b in ballots],
    }


EXPORT_CSV_COLUMNS = ("receipt", "municipality", "weight", "ranking")


def export_csv(cluster: Cluster) -> str:
    """The ballot list as CSV: one row per ballot, the ranking as ids joined by " > "."""
    return csv_text(([b["receipt"], b["municipality"] or "", b["weight"],
                      " > ".join(b["ranking"])] for b in export(cluster)["ballots"]),
                    EXPORT_CSV_COLUMNS)


def count_cluster(cluster: Cluster) -> engine.Result:
    """Count the cluster's current ballots with the engine (what the export recounts to)."""
    return engine.tally(engine.load_ballot_file(json.dumps(export(cluster))))


@on_phase_end(Phase.FINAL_VOTE)
def count(rnd: Round, now: datetime, actor: User | None) -> None:
    """End of the final vote: count every cluster, declare the standards, freeze the result
    with the audit chain's head."""
    db.session.execute(Standard.__table__.delete().where(Standard.round_id == rnd.id))
    db.session.execute(VoteResult.__table__.delete().where(VoteResult.round_id == rnd.id))
    results = []
    turnouts = {t.cluster.id: t for t in turnout(rnd)}
    for cluster in vote_clusters(rnd):
        result = count_cluster(cluster)
        t = turnouts[cluster.id]
        details = engine.result_details(result)
        details["turnout"] = {"voted": len(t.voted), "eligible": t.eligible,
                              "population": t.population,
                              "total_population": t.total_population}
        winner_ids = [int(w) for w in result.winners]
        row = VoteResult(round_id=rnd.id, cluster_id=cluster.id, computed_at=now,
                         winner_ids=winner_ids, data=details)
        db.session.add(row)
        results.append(row)
        for place, pid in enumerate(winner_ids, start=1):
            _declare_standard(rnd, cluster, db.session.get(Proposal, pid), place, now)
        audit.record("final_vote.counted", actor=actor, now=now, object_type="cluster",
                     object_id=cluster.id, round_id=rnd.id,
                     data={"winners": winner_ids, "ranking": details["ranking"],
                           "ballots": details["ballots"],
                           "total_weight": details["total_weight"]})
    db.session.flush()
    head_hash = audit.head()[1]
    for row in results:
        row.audit_head = head_hash
    db.session.flush()


def _declare_standard(rnd: Round, cluster: Cluster, proposal: Proposal, place: int,
                      now: datetime) -> Standard:
    w = db.session.scalar(select(FinalistWork).where(FinalistWork.proposal_id == proposal.id))
    standard = Standard(
        round_id=rnd.id, cluster_id=cluster.id, proposal_id=proposal.id,
        owner_municipality_id=proposal.municipality_id, name=proposal.title[:160],
        description=proposal.summary or "", demo_url=w.demo_url if w else "",
        documentation_url=w.documentation_url if w else "", source_url=w.source_url if w else "",
        licence=w.licence if w else "", version="1.0", place=place, declared_at=now,
        updated_at=now)
    db.session.add(standard)
    db.session.flush()
    return standard


def vote_result(cluster: Cluster) -> VoteResult | None:
    """The frozen count of a cluster (None before the close)."""
    return db.session.scalar(select(VoteResult).where(VoteResult.cluster_id == cluster.id))


def round_results(rnd: Round) -> list[tuple[Cluster, VoteResult]]:
    """Every counted cluster of the round with its result, by name."""
    rows = db.session.execute(
        select(Cluster, VoteResult).join(VoteResult, VoteResult.cluster_id == Cluster.id)
        .where(VoteResult.round_id == rnd.id).order_by(Cluster.label, Cluster.id)).all()
    return [(c, r) for c, r in rows]


def get_ballot_cluster(cluster_id: int) -> Cluster:
    """A confirmed cluster by id, or NotFound."""
    cluster = db.session.get(Cluster, cluster_id) if is_db_id(cluster_id) else None
    if cluster is None or not cluster.is_confirmed:
        raise NotFound(_l("No such cluster."))
    return cluster
