"""The demo: a realistic Dutch round standing in a chosen phase, with accounts for every role.

`flask competition seed-demo --phase PHASE` builds it; `make run` loads it into an empty
database. Each later area adds its content here so every phase can be explored by hand.
All addresses use the reserved `.example` domain.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from competition.extensions import db
from competition.models import PHASES, Municipality, Phase, Role, Round, User
from competition.services import accounts, audit, municipalities, rounds

DEMO_PASSWORD = "demo-wachtwoord-2027"  # noqa: S105  (published demo credential)


@dataclass(frozen=True)
class DemoAccount:
    email: str
    name: str
    roles: frozenset[Role]
    municipality_code: str | None = None


# (CBS code, short name used in addresses)
DEMO_MUNICIPALITIES = [
    ("GM0344", "utrecht"),
    ("GM0363", "amsterdam"),
    ("GM0014", "groningen"),
    ("GM1900", "sudwestfryslan"),
    ("GM0772", "eindhoven"),
    ("GM0193", "zwolle"),
]

ACCOUNTS = [
    DemoAccount("organisator@demo.example", "Fatima el Amrani", frozenset({Role.ORGANISER})),
    DemoAccount("jury.dekker@demo.example", "Pieter Dekker", frozenset({Role.JURY})),
    DemoAccount("jury.visser@demo.example", "Anouk Visser", frozenset({Role.JURY})),
    DemoAccount("jury@zwolle.example", "Henk Jansen", frozenset({Role.JURY}), "GM0193"),
]
_STAFF = {
    "utrecht": ("Sanne de Vries", "Mark Bakker"),
    "amsterdam": ("Yusuf Demir", "Lotte van Dijk"),
    "groningen": ("Jelle Smit", "Eva Mulder"),
    "sudwestfryslan": ("Sjoukje Hoekstra", "Wytse de Boer"),
    "eindhoven": ("Bram Hendriks", "Noor Peeters"),
    "zwolle": ("Lisa Kok", "Tim Meijer"),
}
for _code, _short in DEMO_MUNICIPALITIES:
    _member, _delegate = _STAFF[_short]
    ACCOUNTS.append(DemoAccount(f"medewerker@{_short}.example", _member,
                                frozenset({Role.MEMBER}), _code))
    ACCOUNTS.append(DemoAccount(f"afgevaardigde@{_short}.example", _delegate,
                                frozenset({Role.DELEGATE, Role.MEMBER}), _code))

ROUND_TITLE = "Digitale dienstverlening 2027"
ROUND_THEME = "Eén keer bouwen, door alle gemeenten gebruikt"
ROUND_DESCRIPTION = """\
Gemeenten ontwikkelen vaak hetzelfde: een nieuw paspoortproces, een chatbot, een zaaksysteem.
In deze ronde brengen we alle voorgenomen ontwikkelingen op het gebied van digitale
dienstverlening samen. Vergelijkbare plannen worden geclusterd; per vraagstuk kiezen jury en
gemeenten samen de finalisten, en na een ontwikkelfase stemmen alle gemeenten over de oplossing
die de gedeelde standaard wordt.

Doe mee als uw gemeente de komende twee jaar iets wil bouwen of laten bouwen voor inwoners of
ondernemers: van afspraken maken bij de balie tot meldingen openbare ruimte.
"""

UPCOMING_TITLE = "Sociaal domein 2028"
UPCOMING_THEME = "Samen sterker in de wijk"
UPCOMING_DESCRIPTION = """\
De volgende ronde gaat over het sociaal domein: aanvragen voor Wmo-voorzieningen,
schuldhulpverlening en het samenwerken met wijkteams. De regels staan nog open voor
commentaar; de inzendfase opent na de zomer.
"""

# Most demo clusters hold three proposals: with two finalists each, the preselection decides.
DEMO_MAX_FINALISTS = 2

# How long each phase lasted in the demo's past, so the round stands mid-phase today.
DEMO_DURATIONS = {
    Phase.DRAFT: timedelta(days=14),
    Phase.SUBMISSION: timedelta(days=42),
    Phase.CLUSTERING: timedelta(days=14),
    Phase.PRESELECTION: timedelta(days=28),
    Phase.DEVELOPMENT: timedelta(days=84),
    Phase.FINAL_VOTE: timedelta(days=14),
    Phase.DECIDED: timedelta(days=7),
}

# What building one of the round's solutions would cost a municipality on its own (the
# dashboard's saving estimate).
DEMO_ESTIMATED_COST = 120_000

# Content steps added by later areas: each is called with (round, phase just entered, moment).
PhaseContent = Callable[[Round, Phase, datetime], None]
content_steps: list[PhaseContent] = []


def _register_content() -> None:
    from competition.demo_final import add_demo_final
    from competition.demo_preselection import add_demo_preselection
    from competition.demo_proposals import add_demo_proposals

    for step in (add_demo_proposals, add_demo_preselection, add_demo_final):
        if step not in content_steps:
            content_steps.append(step)


def seed(target: Phase, *, now: datetime) -> Round:
    """Build the whole demo; the main round ends up in `target` as of `now`."""
    _register_content()
    if db.session.scalar(select(Municipality.id).limit(1)) is None:
        municipalities.import_bundled(now=now)
    users = _create_accounts(now)
    organiser = users["organisator@demo.example"]

    # Lay the schedule out so that `now` falls in the middle of the target phase.
    elapsed = sum((DEMO_DURATIONS[p] for p in PHASES[: target.index]), timedelta())
    in_target = DEMO_DURATIONS.get(target, timedelta(days=30)) / 2
    created = now - elapsed - in_target - timedelta(days=1)
    schedule: dict[Phase, datetime | None] = {}
    moment = created + timedelta(days=1)
    for phase in PHASES:
        if phase is Phase.ADOPTION:
            schedule[phase] = None
            continue
        moment = moment + DEMO_DURATIONS[phase]
        schedule[phase] = moment
    rnd = rounds.create_round(
        organiser,
        rounds.RoundData(title=ROUND_TITLE, theme=ROUND_THEME, description=ROUND_DESCRIPTION,
                         max_finalists=DEMO_MAX_FINALISTS,
                         estimated_cost=DEMO_ESTIMATED_COST),
        schedule,
        now=created,
    )
    _run_content(rnd, Phase.DRAFT, created)
    # Let the clock carry the round to the target phase, one phase end at a time, so history
    # and audit log read as if the round had really run.
    while rnd.current_phase is not target:
        end = rnd.window(rnd.current_phase).ends_at
        _before_close(rnd, rnd.current_phase, organiser, end)
        entered = rounds.close_phase(rnd, rnd.current_phase, actor=None, now=end)
        _run_content(rnd, entered, end)

    upcoming_start = now + timedelta(days=120)
    rounds.create_round(
        organiser,
        rounds.RoundData(title=UPCOMING_TITLE, theme=UPCOMING_THEME,
                         description=UPCOMING_DESCRIPTION, jury_weight=0.6),
        rounds.default_schedule(upcoming_start),
        now=now,
    )
    _pending_invitation(organiser, now)
    return rnd


def _run_content(rnd: Round, phase: Phase, moment: datetime) -> None:
    for step in content_steps:
        step(rnd, phase, moment)
    if phase is Phase.CLUSTERING:
        # The engine's suggestion, as an organiser finds it when the phase opens.
        from competition.services import clustering

        clustering.run_clustering(rnd, replace_manual=False, threshold=None,
                                  now=moment + timedelta(hours=2))


def _before_close(rnd: Round, phase: Phase, organiser: User, end: datetime) -> None:
    """What the organiser does before a phase ends, when the demo moves past it."""
    if phase is Phase.CLUSTERING:
        from competition.services import clustering

        clustering.confirm_all(organiser, rnd, now=end - timedelta(hours=1))
    elif phase is Phase.PRESELECTION:
        # The rest of the scoring and voting; closing the phase then publishes the finalists.
        from competition.demo_preselection import finish_preselection

        finish_preselection(rnd, organiser, end)
    elif phase is Phase.DEVELOPMENT:
        # The late teams catch up and every finalist reports before the vote.
        from competition.demo_final import finish_development

        finish_development(rnd, organiser, end)
    elif phase is Phase.FINAL_VOTE:
        # Every demo delegate votes; closing the phase then counts and declares the standards.
        from competition.demo_final import finish_final_vote

        finish_final_vote(rnd, organiser, end)


def _create_accounts(now: datetime) -> dict[str, User]:
    codes = {code for code, _ in DEMO_MUNICIPALITIES}
    by_code = {
        m.code: m
        for m in db.session.scalars(select(Municipality).where(Municipality.code.in_(codes)))
    }
    password_hash = accounts.hash_password(DEMO_PASSWORD)
    users: dict[str, User] = {}
    for account in ACCOUNTS:
        existing = accounts.find_user_by_email(account.email)
        if existing is not None:
            users[account.email] = existing
            continue
        municipality = by_code.get(account.municipality_code) if account.municipality_code \
            else None
        user = User(
            email=account.email,
            name=account.name,
            municipality_id=municipality.id if municipality else None,
            password_hash=password_hash,
            created_at=now,
            password_changed_at=now,
        )
        user.roles = set(account.roles)
        db.session.add(user)
        db.session.flush()
        audit.record("user.created", actor=None, now=now, object_type="user",
                     object_id=user.id, data={"via": "demo"})
        users[account.email] = user
    return users


def _pending_invitation(organiser: User, now: datetime) -> None:
    tilburg = db.session.scalar(select(Municipality).where(Municipality.code == "GM0855"))
    if tilburg is None or accounts.find_user_by_email("medewerker@tilburg.example"):
        return
    accounts.invite(
        organiser,
        accounts.InvitationData(email="medewerker@tilburg.example", name="Daan Willems",
                                municipality_id=tilburg.id, roles=frozenset({Role.MEMBER})),
        now=now,
    )


def print_accounts(echo: Callable[[str], None], only_existing: bool = False) -> None:
    """Print the demo accounts and their password."""
    rows = []
    for account in ACCOUNTS:
        if only_existing and accounts.find_user_by_email(account.email) is None:
            continue
        roles = ", ".join(sorted(r.value for r in account.roles))
        where = f" ({account.municipality_code})" if account.municipality_code else ""
        rows.append(f"  {account.email:<36} {roles}{where}")
    if not rows:
        return
    echo("Demo accounts (password for all: " + DEMO_PASSWORD + "):")
    for row in rows:
        echo(row)
