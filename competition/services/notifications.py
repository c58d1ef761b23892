"""Notifications: which mail goes to whom, at which moment, and what each user switched off.

Categories (every mail has one; a user can switch off all but "account"):

- account: invitations and password resets (always sent);
- phase: a phase of a round I take part in opens, or is about to close;
- preselection: my proposal is shortlisted, or not;
- vote: the final vote opens, and reminders to delegates that have not voted;
- results: the final vote's results are out;
- standards: a standard my municipality adopted (or is adopting) has a new version;
- jury: jury tasks (scoring opens, reminders of missing scorecards).

Who takes part in a round ("the team"): the active members and delegates of the municipalities
that submitted a proposal in it, as owner or accepted co-submitter, and the round's jurors. The
final vote and its results also concern every active delegate of an active municipality (they
vote). Nobody else gets round mail, so 342 municipalities are not mailed for every phase.

The moments:

- a phase opens: hooks at the end of every phase (`rounds.on_phase_end`), in the transaction
  that closes it, so the mail exists exactly when the new phase does. Submission opening
  concerns nobody yet; development opening is told by the preselection result
  (`preselection.publish`); the final vote opening goes to every delegate (category vote) and
  to the rest of the teams; the end of the final vote brings the results (category results);
- a phase is about to close: `send_due`, run by the clock (`flask competition tick`), 48 hours
  before the planned end, once per round, phase and planned end (a NotificationMark row;
  its unique key makes concurrent clocks send once, and a moved end date gives a new
  reminder). Submission: the teams of every proposal, drafts included; preselection: jurors
  with missing scorecards; development: the finalists' teams; final vote: delegates of
  municipalities that have not voted in every vraagstuk. Other phases need nobody's action;
- a standard gets a new version: `standard_version_changed`, called by
  `standards.update_standard`.

Every mail is in the recipient's language, links to the page concerned and says how to switch
its category off (the account page).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

from competition.extensions import db
from competition.models import (
    PHASES,
    Adoption,
    AdoptionStatus,
    CoSubmission,
    CoSubmissionStatus,
    FinalistDecision,
    JuryMember,
    Municipality,
    NotificationMark,
    OutboxMail,
    Phase,
    PhaseWindow,
    Proposal,
    ProposalStatus,
    Round,
    Standard,
    User,
)
from competition.services import audit, mail, preselection, voting
from competition.services.errors import PermissionDenied, ValidationError
from competition.services.rounds import on_phase_end
from competition.urls import external_url

ACCOUNT = "account"
PHASE = "phase"
PRESELECTION = "preselection"
VOTE = "vote"
RESULTS = "results"
STANDARDS = "standards"
JURY = "jury"

CATEGORIES = (ACCOUNT, PHASE, PRESELECTION, VOTE, RESULTS, STANDARDS, JURY)
# What a user can switch off: everything but the mail that lets them into their account.
OPTIONAL = tuple(c for c in CATEGORIES if c != ACCOUNT)

_LABELS = {
    ACCOUNT: _l("Your account: invitations and password resets"),
    PHASE: _l("Phases: a phase of a round you take part in opens or is about to close"),
    PRESELECTION: _l("Preselection: whether your proposal is shortlisted"),
    VOTE: _l("Final vote: the vote opens, and reminders when your municipality has not voted"),
    RESULTS: _l("Results: the results of the final vote are out"),
    STANDARDS: _l("Standards: a standard your municipality adopted has a new version"),
    JURY: _l("Jury: scoring opens, and reminders of missing scorecards"),
}

# "About to close" mails go out this long before a phase's planned end.
REMINDER_LEAD = timedelta(hours=48)
# Adoption statuses whose municipalities hear about a standard's new version.
FOLLOWING_STATUSES = (AdoptionStatus.ADOPTED.value, AdoptionStatus.ADOPTING.value)

_PHASE_EXPLANATIONS = {
    Phase.SUBMISSION: _l("Municipalities can now submit proposals."),
    Phase.CLUSTERING: _l("Submission has closed. The organisers now group the proposals into "
                         "vraagstukken."),
    Phase.PRESELECTION: _l("The jury scores the proposals and the delegates approve the ones "
                           "they support; together this decides the finalists."),
    Phase.DEVELOPMENT: _l("The finalists work out their ideas and publish their progress."),
    Phase.FINAL_VOTE: _l("Every municipality's delegates now rank the finalists of each "
                         "vraagstuk; the winner becomes the shared standard."),
    Phase.DECIDED: _l("The final vote has been counted."),
    Phase.ADOPTION: _l("Municipalities now record whether they adopt the new standards."),
}


# --- categories and preferences ----------------------------------------------------------------


def check_category(category: str) -> None:
    """Refuse a mail category that does not exist (a programming error, not user input)."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown mail category {category!r}")


def category_label(category: str) -> str:
    """The category's name and what it covers, in the current language (lazy)."""
    return _LABELS[category]


def settings_link() -> str:
    """Where a user switches categories off (the account page's mail settings)."""
    return external_url("auth.account", _anchor="mail-settings")


def wants(user: User | None, category: str) -> bool:
    """Whether mail of `category` goes to `user` (None: an address without an account)."""
    if category == ACCOUNT or user is None:
        return True
    return bool(user.is_active) and category not in (user.muted_categories or [])


def wanted_categories(user: User) -> list[str]:
    """The optional categories the user receives."""
    muted = set(user.muted_categories or [])
    return [c for c in OPTIONAL if c not in muted]


def set_wanted_categories(actor: User, wanted: list[str], *, now: datetime) -> list[str]:
    """Save which optional categories the actor receives (the rest is switched off); returns
    the categories now switched off."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise PermissionDenied(_l("You need to log in for this."))
    unknown = [c for c in wanted if c not in OPTIONAL]
    if unknown:
        raise ValidationError(_l("Choose from the listed kinds of mail."), field="categories")
    muted = [c for c in OPTIONAL if c not in set(wanted)]
    before = sorted(actor.muted_categories or [])
    if set(before) == set(muted):
        return muted
    actor.muted_categories = muted  # a new list, so the JSON column is seen to change
    db.session.flush()
    audit.record("user.mail_settings_changed", actor=actor, now=now, object_type="user",
                 object_id=actor.id, data={"muted": muted, "before": before})
    return muted


def notify(user: User, category: str, template: str, *, now: datetime,
           **context) -> OutboxMail | None:
    """Queue a mail to `user` in their language, unless they switched `category` off or are
    inactive (then None)."""
    return mail.queue_mail(to=user.email, template=template, category=category, now=now,
                           locale=user.locale, user=user, **context)


# --- who takes part ----------------------------------------------------------------------------


def _involved(proposals: Select) -> set[int]:
    """Municipalities behind the proposals `proposals` selects (owner or accepted
    co-submitter)."""
    owners = db.session.scalars(select(Proposal.municipality_id).where(
        Proposal.id.in_(proposals)))
    partners = db.session.scalars(select(CoSubmission.municipality_id).where(
        CoSubmission.proposal_id.in_(proposals),
        CoSubmission.status == CoSubmissionStatus.ACCEPTED.value))
    return {*owners, *partners}


def team_municipality_ids(rnd: Round, *, drafts: bool = False) -> set[int]:
    """Municipalities with a submitted proposal in the round (with `drafts`, also a draft), as
    owner or accepted co-submitter."""
    statuses = [ProposalStatus.SUBMITTED.value]
    if drafts:
        statuses.append(ProposalStatus.DRAFT.value)
    return _involved(select(Proposal.id).where(Proposal.round_id == rnd.id,
                                               Proposal.status.in_(statuses)))


def finalist_municipality_ids(rnd: Round) -> set[int]:
    """Municipalities behind a finalist of the round (owner or accepted co-submitter)."""
    return _involved(select(FinalistDecision.proposal_id).where(
        FinalistDecision.round_id == rnd.id, FinalistDecision.is_finalist.is_(True)))



def team(rnd: Round, *, drafts: bool = False) -> list[User]:
    """The active members and delegates of the round's participating municipalities."""
    return preselection.municipality_users(team_municipality_ids(rnd, drafts=drafts))


def jurors(rnd: Round) -> list[User]:
    """The round's active jurors."""
    return list(db.session.scalars(
        select(User).join(JuryMember, JuryMember.user_id == User.id)
        .where(JuryMember.round_id == rnd.id, User.is_active.is_(True)).order_by(User.id)))


def delegates() -> list[User]:
    """Every active delegate of an active municipality (the voters of the final vote)."""
    return list(db.session.scalars(
        select(User).join(Municipality, Municipality.id == User.municipality_id)
        .where(User.is_delegate.is_(True), User.is_active.is_(True),
               Municipality.is_active.is_(True)).order_by(User.id)))


def _once(users: list[User], skip: set[int] | None = None) -> list[User]:
    """Each user once, in order, leaving out `skip` (user ids)."""
    seen = set(skip or ())
    out = []
    for user in users:
        if user.id not in seen:
            seen.add(user.id)
            out.append(user)
    return out


# --- a phase opens -----------------------------------------------------------------------------


def _round_link(rnd: Round) -> str:
    return external_url("rounds.round_page", slug=rnd.slug)


def _phase_opened(rnd: Round, opened: Phase, users: list[User], category: str,
                  now: datetime) -> int:
    sent = 0
    for user in users:
        sent += notify(user, category, "phase_opened", now=now, round=rnd,
                       phase=opened, explanation=_PHASE_EXPLANATIONS[opened],
                       ends_at=rnd.window(opened).ends_at, link=_round_link(rnd)) is not None
    return sent


def announce_phase(rnd: Round, now: datetime, actor: User | None) -> None:
    """End of a phase (run once, in the transaction that closes it): mail the people the
    opening phase concerns."""
    opened = rnd.current_phase.next
    if opened is None or opened in (Phase.SUBMISSION, Phase.DEVELOPMENT):
        # Submission: nobody takes part yet. Development: each team just got its
        # preselection result (preselection.publish, in this same transaction).
        return
    if opened is Phase.FINAL_VOTE:
        voters = delegates()
        _final_vote_opened(rnd, voters, now)
        _phase_opened(rnd, opened, _once(team(rnd), skip={u.id for u in voters}), PHASE, now)
    elif opened is Phase.DECIDED:
        _results_out(rnd, now)
    elif opened is Phase.PRESELECTION:
        crew = jurors(rnd)
        _phase_opened(rnd, opened, crew, JURY, now)
        _phase_opened(rnd, opened, _once(team(rnd), skip={u.id for u in crew}), PHASE, now)
    else:
        _phase_opened(rnd, opened, team(rnd), PHASE, now)


# The hooks run after the ones registered earlier (this module imports preselection and
# voting first), so the preselection result and the count exist when the mail is written.
for _phase in PHASES:
    if _phase.next is not None:
        on_phase_end(_phase)(announce_phase)


def _final_vote_opened(rnd: Round, voters: list[User], now: datetime) -> None:
    clusters = len(voting.vote_clusters(rnd))
    for user in voters:
        notify(user, VOTE, "vote_open", now=now, round=rnd, clusters=clusters,
               ends_at=rnd.window(Phase.FINAL_VOTE).ends_at,
               link=external_url("voting.final_overview", slug=rnd.slug))


def _results_out(rnd: Round, now: datetime) -> None:
    link = external_url("results.final", slug=rnd.slug)
    standards = list(db.session.scalars(select(Standard).where(Standard.round_id == rnd.id)))
    for user in _once(team(rnd) + jurors(rnd) + delegates()):
        notify(user, RESULTS, "results_out", now=now, round=rnd, standards=len(standards),
               link=link)


# --- a phase is about to close -----------------------------------------------------------------


@dataclass(frozen=True)
class Moment:
    round: Round
    phase: Phase
    ends_at: datetime

    @property
    def key(self) -> str:
        return f"closing:{self.round.id}:{self.phase.value}:{self.ends_at.isoformat()}"


def due_moments(now: datetime) -> list[Moment]:
    """Open phases ending within REMINDER_LEAD whose reminder has not been sent."""
    rows = db.session.execute(
        select(Round, PhaseWindow)
        .join(PhaseWindow, (PhaseWindow.round_id == Round.id) & (PhaseWindow.phase == Round.phase))
        .where(PhaseWindow.ends_at.is_not(None), PhaseWindow.left_at.is_(None),
               PhaseWindow.ends_at > now, PhaseWindow.ends_at <= now + REMINDER_LEAD)
        .order_by(Round.id)).all()
    moments = [Moment(rnd, Phase(window.phase), window.ends_at) for rnd, window in rows]
    if not moments:
        return []
    sent = set(db.session.scalars(select(NotificationMark.key).where(
        NotificationMark.key.in_([m.key for m in moments]))))
    return [m for m in moments if m.key not in sent]


def _claim(key: str, now: datetime) -> bool:
    """Record that the mails for `key` are being queued; False when someone else did (the
    unique key: of concurrent clocks exactly one gets to insert it)."""
    try:
        with db.session.begin_nested():
            db.session.add(NotificationMark(key=key, created_at=now))
    except IntegrityError:
        return False
    return True


def send_due(now: datetime) -> int:
    """Queue the "about to close" mails that are due (the clock runs this); returns how many
    mails were queued. Flushes; the caller commits."""
    queued = 0
    for moment in due_moments(now):
        if _claim(moment.key, now):
            queued += _closing(moment, now)
    return queued


def _closing(moment: Moment, now: datetime) -> int:
    rnd, phase, ends_at = moment.round, moment.phase, moment.ends_at
    if phase is Phase.PRESELECTION:
        return _jury_reminders(rnd, ends_at, now)
    if phase is Phase.FINAL_VOTE:
        return _vote_reminders(rnd, ends_at, now)
    if phase is Phase.SUBMISSION:
        users = team(rnd, drafts=True)
    elif phase is Phase.DEVELOPMENT:
        users = preselection.municipality_users(finalist_municipality_ids(rnd))
    else:
        return 0  # draft, clustering: the organisers' own work; decided: nothing to do
    sent = 0
    for user in users:
        sent += notify(user, PHASE, "phase_closing", now=now, round=rnd,
                       phase=phase, ends_at=ends_at,
                       link=_round_link(rnd)) is not None
    return sent


def _jury_reminders(rnd: Round, ends_at: datetime, now: datetime) -> int:
    """Jurors with missing scorecards (what organisers send by hand, automatically)."""
    sent = 0
    for row in preselection.progress(rnd):
        user = row.member.user
        if not row.missing or not user.is_active:
            continue
        if notify(user, JURY, "jury_reminder", now=now, round=rnd, missing=len(row.missing),
                  ends_at=ends_at,
                  link=external_url("jury.round_tasks", slug=rnd.slug)) is not None:
            row.member.reminded_at = now
            sent += 1
    db.session.flush()
    return sent


def _vote_reminders(rnd: Round, ends_at: datetime, now: datetime) -> int:
    sent = 0
    link = external_url("voting.final_overview", slug=rnd.slug)
    for user, missing in voting.non_voting_delegates(rnd):
        sent += notify(user, VOTE, "vote_reminder", now=now, round=rnd, missing=missing,
                       ends_at=ends_at, link=link) is not None
    return sent


# --- standards ---------------------------------------------------------------------------------


def standard_followers(standard: Standard) -> list[User]:
    """Active members and delegates of municipalities that adopted or are adopting it."""
    ids = set(db.session.scalars(select(Adoption.municipality_id).where(
        Adoption.standard_id == standard.id, Adoption.status.in_(FOLLOWING_STATUSES))))
    return preselection.municipality_users(ids)


def standard_version_changed(standard: Standard, previous: str, *, actor: User | None,
                             now: datetime) -> int:
    """Mail the municipalities that adopted (or are adopting) a standard about its new
    version; not the person who changed it. Returns how many mails were queued."""
    link = external_url("standards.detail", standard_id=standard.id)
    sent = 0
    for user in standard_followers(standard):
        if actor is not None and user.id == actor.id:
            continue
        sent += notify(user, STANDARDS, "standard_version", now=now, standard=standard,
                       previous=previous, link=link) is not None
    return sent
