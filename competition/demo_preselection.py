"""Demo content: the preselection of the demo round, by jurors and delegates.

Everything goes through the real services (`competition.services.preselection`), at moments
inside the phase, so the jury lists, the progress overview, the peer vote, the published result
and the audit log look exactly as after a real preselection.

- While the round is a draft (content step at `Phase.DRAFT`): the organiser gives the scorecard
  its weights and appoints the jurors who score the whole round.
- When the preselection opens (content step at `Phase.PRESELECTION`): the organiser adds a
  juror for some clusters only; in the first 45% of the phase the jurors score part of their
  list (one keeps a half-filled draft, one declares a conflict of interest) and most delegates
  cast their approval ballots. The demo that stands *in* preselection stands in the middle of
  the phase, so this is what a visitor finds: jurors with proposals left, and the Utrecht
  delegate, who has not voted yet.
- When the demo moves past the preselection (`finish_preselection`, called by the seeder just
  before the phase closes): in the rest of the phase the organiser reminds the jurors, the jurors
  finish their lists except for a couple of drafts, and the remaining delegates vote. Closing the
  phase then computes and publishes the finalists (`preselection.publish`).

Scores and choices are pseudo-random but deterministic: hashes of the names and titles
involved, around a hidden "quality" per proposal so jurors and delegates roughly agree.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import select

from competition import demo
from competition.extensions import db
from competition.models import Cluster, Criterion, JuryMember, Phase, Proposal, Role, Round, User
from competition.services import accounts
from competition.services import preselection as ps


@dataclass(frozen=True)
class JurorPlan:
    email: str
    whole_round: bool  # else: every other cluster, assigned when the preselection opens
    early_share: float  # part of the list submitted in the first half of the phase
    keeps_draft: bool = False  # saves a half-filled scorecard early and never finishes it
    ends_with_draft: bool = False  # leaves the last proposal of the list as a draft
    conflict: str = ""  # declares a conflict of interest on one proposal, with this reason


JURORS = (
    JurorPlan("jury.dekker@demo.example", whole_round=True, early_share=0.4, keeps_draft=True),
    JurorPlan("jury.visser@demo.example", whole_round=False, early_share=0.6,
              ends_with_draft=True,
              conflict="Ik heb als adviseur meegeschreven aan de aanvraag voor dit voorstel."),
    # A juror from a municipality: automatically recused from Zwolle's proposals.
    JurorPlan("jury@zwolle.example", whole_round=True, early_share=0.5),
)

# Municipalities whose delegate votes in the first half of the phase, in every cluster (1) or
# every other cluster (2). The others, Utrecht among them, vote only in the second half.
EARLY_VOTERS = {"GM0363": 1, "GM0014": 1, "GM0772": 1, "GM1900": 2, "GM0193": 2}
# The delegate who changes a ballot after a regional meeting.
CHANGES_BALLOT = "GM0014"

# The round is about reuse, so the organiser counts reusability double.
WEIGHTS = {"Herbruikbaarheid door andere gemeenten": 2.0}

EARLY = (0.05, 0.45)  # first half: in the past when the demo stands in the middle of the phase
LATE = (0.55, 0.95)
REMINDER = 0.7

# A remark per criterion (by position) for a high and a low score.
_REMARKS = (
    ("Lost een probleem op dat inwoners en ondernemers dagelijks merken.",
     "De winst voor inwoners is nog niet goed onderbouwd."),
    ("Gebouwd op open standaarden: andere gemeenten kunnen dit zo overnemen.",
     "Sterk afhankelijk van de eigen systemen van de indiener."),
    ("Realistische planning, en het team heeft dit eerder gedaan.",
     "De planning is krap voor wat er gebouwd moet worden."),
    ("Lage kosten in verhouding tot het aantal inwoners dat ermee geholpen is.",
     "De begroting zegt niets over de beheerkosten na oplevering."),
)


def add_demo_preselection(rnd: Round, phase: Phase, moment: datetime) -> None:
    """Content step: the jury while the round is a draft; the first half of the preselection
    when that phase opens."""
    if phase is Phase.DRAFT:
        _prepare(rnd, moment)
    elif phase is Phase.PRESELECTION:
        _open(rnd, moment)


def finish_preselection(rnd: Round, organiser: User, end: datetime) -> None:
    """Before the preselection closes: the second half of the phase."""
    start = rnd.window(Phase.PRESELECTION).entered_at
    at = _clock(start, end)
    actions = _Actions()
    actions.add(at(REMINDER), ps.send_reminders, organiser, rnd)
    for plan, member in _members(rnd):
        todo = [t for t in ps.tasks(member) if t.status == "todo"]
        last_draft = todo.pop() if plan.ends_with_draft and todo else None
        times = _spread(at(LATE[0]), at(LATE[1]), len(todo) + (last_draft is not None),
                        plan.email)
        for t, when in zip(todo, times, strict=False):
            actions.add(when, _score, member.user, t.proposal, True)
        if last_draft is not None:
            actions.add(times[-1], _score, member.user, last_draft.proposal, False)
    for code, delegate in _delegates():
        pending = [c for c in _clusters(rnd) if ps.ballot(delegate.municipality_id, c) is None]
        for cluster, when in zip(pending, _spread(at(LATE[0]), at(LATE[1]), len(pending), code),
                                 strict=True):
            actions.add(when, _vote, delegate, cluster)
        if code == CHANGES_BALLOT:
            actions.add(at(0.6), _change_ballot, delegate, rnd)
    actions.run()


# --- draft: the scorecard and the jury ---------------------------------------------------------


def _prepare(rnd: Round, moment: datetime) -> None:
    organiser = _organiser(rnd)
    when = moment + timedelta(hours=3)
    for criterion in ps.criteria(rnd):
        weight = WEIGHTS.get(criterion.name_nl)
        if weight is not None and weight != criterion.weight:
            data = ps.CriterionData(
                name_nl=criterion.name_nl, name_en=criterion.name_en,
                description_nl=criterion.description_nl,
                description_en=criterion.description_en,
                scale_min=criterion.scale_min, scale_max=criterion.scale_max)
            ps.update_criterion(organiser, criterion, replace(data, weight=weight), now=when)
    for n, plan in enumerate(p for p in JURORS if p.whole_round):
        juror = _juror(plan)
        if juror is not None:
            ps.assign_juror(organiser, rnd, juror, [], now=when + timedelta(hours=1 + n))


# --- the first half of the preselection --------------------------------------------------------


def _open(rnd: Round, moment: datetime) -> None:
    organiser = _organiser(rnd)
    clusters = _clusters(rnd)
    for plan in JURORS:
        juror = _juror(plan)
        if juror is None or (plan.whole_round and ps.membership(juror, rnd) is not None):
            continue
        ps.assign_juror(organiser, rnd, juror, [] if plan.whole_round else
                        [c.id for c in clusters[::2]], now=moment + timedelta(hours=2))

    at = _clock(moment, rnd.window(Phase.PRESELECTION).ends_at)
    actions = _Actions()
    for plan, member in _members(rnd):
        todo = [t for t in ps.tasks(member) if not t.recusal]
        conflict = todo.pop(1) if plan.conflict and len(todo) > 1 else None
        done = round(len(todo) * plan.early_share)
        draft = todo[done] if plan.keeps_draft and done < len(todo) else None
        times = _spread(at(EARLY[0]), at(EARLY[1]),
                        done + (conflict is not None) + (draft is not None), plan.email)
        if conflict is not None:
            actions.add(times.pop(0), ps.declare_conflict, member.user, conflict.proposal,
                        plan.conflict)
        for t, when in zip(todo[:done], times, strict=False):
            actions.add(when, _score, member.user, t.proposal, True)
        if draft is not None:
            actions.add(times[-1], _score, member.user, draft.proposal, False)
    for code, delegate in _delegates():
        step = EARLY_VOTERS.get(code)
        if step is None:
            continue
        chosen = clusters[::step]
        for cluster, when in zip(chosen, _spread(at(EARLY[0]), at(EARLY[1]), len(chosen), code),
                                 strict=True):
            actions.add(when, _vote, delegate, cluster)
    actions.run()


# --- what jurors and delegates do --------------------------------------------------------------


def _score(juror: User, proposal: Proposal, submit: bool, *, now: datetime) -> None:
    """A complete scorecard, or (a draft) scores on the first half of the criteria only."""
    crits = ps.criteria(_round(proposal))
    if not submit:
        crits = crits[: max(1, len(crits) // 2)]
    values = {c.id: _score_value(juror, proposal, c.position, c.scale_min, c.scale_max)
              for c in crits}
    # One remark, on the criterion the juror feels most strongly about.
    remark_on = max(crits, key=lambda c: (abs(_normal(values[c.id], c) - 0.5), -c.position))
    inputs = []
    for c in crits:
        remark = ""
        if c is remark_on and c.position < len(_REMARKS):
            remark = _REMARKS[c.position][0 if _normal(values[c.id], c) >= 0.5 else 1]
        inputs.append(ps.ScoreInput(c.id, values[c.id], remark))
    ps.save_scorecard(juror, proposal, inputs, submit=submit, now=now)


def _vote(delegate: User, cluster: Cluster, *, now: datetime) -> None:
    """Approve the proposals the municipality likes best, at most max_finalists, none of its
    own; no ballot where the municipality can approve nothing."""
    options = [c.proposal for c in ps.choices(cluster, delegate.municipality_id) if not c.is_own]
    if not options:
        return
    limit = _round(cluster).max_finalists
    ranked = sorted(options, key=lambda p: -_preference(delegate, p))
    liked = [p for p in ranked if _preference(delegate, p) >= 0.45][:limit] or ranked[:1]
    ps.cast_approvals(delegate, cluster, [p.id for p in liked], now=now)


def _change_ballot(delegate: User, rnd: Round, *, now: datetime) -> None:
    """After a regional meeting, the delegate approves one more proposal in the first cluster
    where that is possible (swapping out the least liked one when the ballot is full)."""
    for cluster in _clusters(rnd):
        current = ps.ballot(delegate.municipality_id, cluster)
        if current is None:
            continue
        options = [c.proposal for c in ps.choices(cluster, delegate.municipality_id)
                   if not c.is_own]
        approved = sorted((p for p in options if p.id in current.proposal_ids),
                          key=lambda p: -_preference(delegate, p))
        others = [p for p in options if p.id not in current.proposal_ids]
        if not others:
            continue
        if len(approved) >= rnd.max_finalists:
            approved.pop()
        approved.append(max(others, key=lambda p: _preference(delegate, p)))
        ps.cast_approvals(delegate, cluster, [p.id for p in approved], now=now)
        return


# --- deterministic "taste" ---------------------------------------------------------------------


def _unit(*parts: object) -> float:
    """A number in [0, 1) determined by the parts."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _quality(proposal: Proposal) -> float:
    return _unit("quality", proposal.title)


def _score_value(juror: User, proposal: Proposal, position: int, low: int, high: int) -> int:
    base = low + (high - low) * (0.15 + 0.7 * _quality(proposal))
    noise = 2 * _unit("score", juror.email, proposal.title, position) - 1  # -1 .. 1
    return min(high, max(low, round(base + noise)))


def _normal(value: int, criterion: Criterion) -> float:
    return (value - criterion.scale_min) / (criterion.scale_max - criterion.scale_min)


def _preference(delegate: User, proposal: Proposal) -> float:
    return _quality(proposal) + 0.4 * (_unit("taste", delegate.email, proposal.title) - 0.5)


# --- helpers -----------------------------------------------------------------------------------


@dataclass
class _Actions:
    """Actions collected with their moments, then run in time order (the audit log reads as a
    real phase: jurors and delegates at work side by side)."""

    items: list[tuple[datetime, int, Callable, tuple]] = field(default_factory=list)

    def add(self, when: datetime, fn: Callable, *args: object) -> None:
        self.items.append((when, len(self.items), fn, args))

    def run(self) -> None:
        for when, _, fn, args in sorted(self.items, key=lambda item: item[:2]):
            fn(*args, now=when)


def _clock(start: datetime, end: datetime) -> Callable[[float], datetime]:
    """The moment a fraction of the way through the phase."""
    return lambda fraction: start + (end - start) * fraction


def _spread(start: datetime, end: datetime, count: int, who: str) -> list[datetime]:
    """`count` moments spread over [start, end], shifted a little per person."""
    if count <= 0:
        return []
    step = (end - start) / (count + 1)
    shift = step * (_unit("shift", who) - 0.5) * 0.8
    return [start + step * (i + 1) + shift for i in range(count)]


def _organiser(rnd: Round) -> User:
    return db.session.get(User, rnd.created_by_id)


def _round(obj: Proposal | Cluster) -> Round:
    return db.session.get(Round, obj.round_id)


def _juror(plan: JurorPlan) -> User | None:
    user = accounts.find_user_by_email(plan.email)
    return user if user is not None and user.has_role(Role.JURY) and user.is_active else None


def _members(rnd: Round) -> list[tuple[JurorPlan, JuryMember]]:
    """The demo's jurors with their assignment in the round, in the order of JURORS."""
    out = []
    for plan in JURORS:
        juror = _juror(plan)
        member = ps.membership(juror, rnd) if juror is not None else None
        if member is not None:
            out.append((plan, member))
    return out


def _clusters(rnd: Round) -> list[Cluster]:
    return list(db.session.scalars(
        select(Cluster).where(Cluster.round_id == rnd.id, Cluster.is_confirmed.is_(True))
        .order_by(Cluster.id)))


def _delegates() -> list[tuple[str, User]]:
    """(municipality code, delegate) of the demo municipalities, in the demo's order."""
    out = []
    for code, short in demo.DEMO_MUNICIPALITIES:
        user = accounts.find_user_by_email(f"afgevaardigde@{short}.example")
        if user is not None and ps.vote_refusal(user) is None:
            out.append((code, user))
    return out
