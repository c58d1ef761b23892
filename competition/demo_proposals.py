"""Demo content: the proposals of the demo round, submitted while its submission phase runs.

The proposals live in `competition/data/demo_proposals.json`. Everything goes through the real
services (submitting, co-submitting, interest, questions and answers, withdrawing), so the demo
shows exactly what users would have produced, audit log and version history included.

The demo seeder calls `add_demo_proposals` right after the round enters each phase; it acts only
when the submission phase opens, and spreads the activity over the first part of that phase.
"""

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from competition.extensions import db
from competition.models import (
    CommentKind,
    Domain,
    Municipality,
    Phase,
    Proposal,
    ProposalStatus,
    Role,
    Round,
    User,
    WithdrawalKind,
)
from competition.services import accounts, audit, comments, proposals
from competition.services.rounds import slugify

DATA_FILE = Path(__file__).parent / "data" / "demo_proposals.json"

# The demo's timeline is written in "demo hours": 1/1008 of the submission window, which is
# exactly an hour for the demo's six-week window. Proposals arrive every CADENCE demo hours and
# their follow-up (co-submitters, interest, questions) within two days, so with 36 proposals
# everything happens in the first 45% of the window: in the past even when the demo stands in
# the middle of the submission phase.
WINDOW_HOURS = 42 * 24
CADENCE = 11

# Names for the member accounts created for municipalities without a demo account.
_MEMBER_NAMES = (
    "Ingrid Vos", "Ruben Kuipers", "Naima Ouali", "Gert-Jan Wolters", "Marit Huisman",
    "Stefan Verbeek", "Laura Jacobs", "Hans Boersma", "Fenna Sijbesma", "Koen Aerts",
    "Priya Ramdin", "Erik Molenaar", "Judith Prins", "Tom Geerts", "Carmen Lopes",
    "Arjen Bouwman", "Sophie van Leeuwen", "Niels Dekkers", "Mirjam Schouten", "Oscar Maas",
    "Linda Evers", "Wim Koopman", "Hatice Yilmaz", "Jeroen Pauwels", "Romy Bakker",
    "Frank Veenstra", "Anna Zijlstra", "Michiel Dam", "Kim Nguyen", "Dirk Scholten",
)

_COSUBMISSION_MESSAGE = ("Wij werken hier al samen aan en dienen dit voorstel graag mee in.")


def load() -> list[dict]:
    """The demo proposals as stored in the data file."""
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


def add_demo_proposals(rnd: Round, phase: Phase, moment: datetime) -> None:
    """When the submission phase opens, submit the demo proposals and what followed on them."""
    if phase is not Phase.SUBMISSION:
        return
    entries = load()
    hour = (rnd.window(Phase.SUBMISSION).ends_at - moment) / WINDOW_HOURS
    members = _Members(moment)
    domain_ids = {d.slug: d.id for d in db.session.scalars(select(Domain))}
    # The file is grouped by theme; submit in a mixed order so lists read naturally.
    order = sorted(range(len(entries)), key=lambda i: ((i * 37) % 101, i))
    for n, i in enumerate(order):
        start = moment + hour * (3 + n * CADENCE + (n * 7) % 5)
        _add(rnd, entries[i], start, hour, members, domain_ids)


def _add(rnd: Round, entry: dict, start: datetime, hour: timedelta, members: "_Members",
         domain_ids: dict[str, int]) -> None:
    owner = members.for_code(entry["municipality"])
    status = entry.get("status", ProposalStatus.SUBMITTED.value)
    data = proposals.ProposalData(
        title=entry["title"],
        summary=entry.get("summary", ""),
        description=entry.get("description", ""),
        problem=entry.get("problem", ""),
        domain_id=domain_ids.get(entry.get("domain") or ""),
        planned_start=date.fromisoformat(entry["planned_start"])
        if entry.get("planned_start") else None,
        estimated_cost=entry.get("estimated_cost"),
        contact_name=entry.get("contact_name", ""),
        contact_email=entry.get("contact_email", ""),
    )
    proposal = proposals.create_proposal(
        owner, rnd, data, submit=status != ProposalStatus.DRAFT.value, now=start
    )
    if status == ProposalStatus.DRAFT.value:
        return

    for k, code in enumerate(entry.get("co_submitters", [])):
        asked = start + hour * (2 + 3 * k)
        request = proposals.request_cosubmission(
            members.for_code(code), proposal, _COSUBMISSION_MESSAGE, now=asked
        )
        proposals.decide_cosubmission(owner, request, True, now=asked + hour * 2)

    for k, code in enumerate(entry.get("interest", [])):
        proposals.set_interest(members.for_code(code), proposal, True,
                               now=start + hour * (9 + 5 * k))

    for k, item in enumerate(entry.get("questions", [])):
        asked = start + hour * (20 + 7 * k)
        kind = CommentKind.COMMENT if item.get("kind") == "comment" else CommentKind.QUESTION
        comment = comments.add_comment(members.for_code(item["municipality"]), proposal,
                                       item["body"], kind, now=asked)
        if item.get("answer"):
            comments.answer(owner, comment, item["answer"], now=asked + hour * 3)

    if status == ProposalStatus.WITHDRAWN.value:
        _withdraw(owner, proposal, entry, start + hour * 46)


def _withdraw(owner: User, proposal: Proposal, entry: dict, at: datetime) -> None:
    proposals.withdraw_proposal(
        owner, proposal,
        kind=WithdrawalKind.CANCELLED,
        reason=entry.get("withdrawal_reason") or "Ingetrokken door de indienende gemeente.",
        duplicate_of_id=None,
        now=at,
    )


@dataclass
class _Members:
    """The member account that acts for each municipality, created where the demo has none."""

    now: datetime
    _by_code: dict[str, User] = field(default_factory=dict)
    _password_hash: str | None = None
    _created: int = 0

    def for_code(self, code: str) -> User:
        if code not in self._by_code:
            self._by_code[code] = self._find_or_create(code)
        return self._by_code[code]

    def _find_or_create(self, code: str) -> User:
        # Imported here: competition.demo registers this module's step, so it imports us.
        from competition import demo

        municipality = db.session.scalar(select(Municipality).where(Municipality.code == code))
        if municipality is None:
            raise LookupError(f"demo proposals: unknown municipality {code}")
        short = dict(demo.DEMO_MUNICIPALITIES).get(code) or slugify(municipality.name)
        email = f"medewerker@{short}.example"
        user = accounts.find_user_by_email(email)
        if user is not None:
            return user
        if self._password_hash is None:
            self._password_hash = accounts.hash_password(demo.DEMO_PASSWORD)
        user = User(
            email=email,
            name=_MEMBER_NAMES[self._created % len(_MEMBER_NAMES)],
            municipality_id=municipality.id,
            password_hash=self._password_hash,
            created_at=self.now,
            password_changed_at=self.now,
        )
        user.roles = {Role.MEMBER}
        db.session.add(user)
        db.session.flush()
        audit.record("user.created", actor=None, now=self.now, object_type="user",
                     object_id=user.id, data={"via": "demo"})
        self._created += 1
        return user
