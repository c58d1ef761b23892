"""Recording state-changing actions in the append-only, hash-chained audit log.

Every event stores the hash of the event before it: hash = SHA-256 of the previous hash, a
newline and the event's canonical JSON (`canonical`). Changing, inserting or removing an event
afterwards breaks the chain, which `verify_chain` (and `flask competition verify-audit`) finds.
The head (last sequence number and hash) lives in its own row, updated by every event: that
update serialises concurrent writers, so the chain never forks.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select, update

from competition.extensions import db
from competition.models import AuditEvent, AuditHead, User
from competition.models.audit import GENESIS_HASH


def canonical(event: AuditEvent) -> str:
    """The event's fields as canonical JSON: what its hash covers."""
    return json.dumps({
        "seq": event.seq,
        "created_at": event.created_at.astimezone(UTC).isoformat(),
        "actor_id": event.actor_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "round_id": event.round_id,
        "data": event.data,
    }, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, event: AuditEvent) -> str:
    """The hash of an event given its predecessor's hash."""
    return hashlib.sha256(f"{prev_hash}\n{canonical(event)}".encode()).hexdigest()


def _advance_head() -> tuple[int, str]:
    """Claim the next sequence number; returns it with the previous event's hash."""
    row = db.session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.hash)
        .execution_options(synchronize_session=False)).one_or_none()
    if row is None:  # a database made without the migrations' head row
        db.session.add(AuditHead(id=1, seq=1, hash=GENESIS_HASH))
        db.session.flush()
        return 1, GENESIS_HASH
    return row.seq, row.hash


def record(
    action: str,
    *,
    actor: User | None,
    now: datetime,
    object_type: str,
    object_id: object | None = None,
    round_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event to the chain (flushed, committed with the action that caused
    it)."""
    seq, prev_hash = _advance_head()
    event = AuditEvent(
        created_at=now.astimezone(UTC),
        actor_id=actor.id if actor is not None else None,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        round_id=round_id,
        # Stored as the JSON round trip gives it back, so the hash can be recomputed.
        data=json.loads(json.dumps(data or {})),
        seq=seq,
        prev_hash=prev_hash,
    )
    event.hash = chain_hash(prev_hash, event)
    db.session.add(event)
    db.session.flush()
    db.session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=event.hash)
                       .execution_options(synchronize_session=False))
    return event


def head() -> tuple[int, str]:
    """The chain's current head: (number of chained events, hash of the last one)."""
    row = db.session.get(AuditHead, 1, populate_existing=True)
    return (row.seq, row.hash) if row is not None else (0, GENESIS_HASH)


@dataclass
class ChainReport:
    checked: int = 0
    unchained: int = 0  # events from before the chain existed
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(batch: int = 5000) -> ChainReport:
    """Recompute the whole chain and compare it with what is stored and with the head."""
    report = ChainReport()
    report.head_seq, report.head_hash = head()
    report.unchained = db.session.scalar(
        select(db.func.count(AuditEvent.id)).where(AuditEvent.seq.is_(None))) or 0
    expected_seq, prev = 1, GENESIS_HASH
    last_seq = 0
    while True:
        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.seq >= expected_seq)
            .order_by(AuditEvent.seq).limit(batch)).all()
        if not rows:
            break
        for event in rows:
            if event.seq != expected_seq:
                report.problems.append(
                    f"events {expected_seq}–{event.seq - 1} are missing (before event id "
                    f"{event.id})")
                prev = event.prev_hash or prev
            if event.prev_hash != prev:
                report.problems.append(
                    f"event {event.seq} (id {event.id}) does not follow its predecessor")
            if event.hash != chain_hash(event.prev_hash or "", event):
                report.problems.append(
                    f"event {event.seq} (id {event.id}, {event.action}) was changed")
            prev, expected_seq, last_seq = event.hash, event.seq + 1, event.seq
            report.checked += 1
            db.session.expunge(event)  # a long log must not pile up in the session
    # Events without a place in the chain are only legitimate from before it began: one with
    # a later id was inserted outside `record` (the chain itself would not show it).
    first_chained = db.session.scalar(
        select(db.func.min(AuditEvent.id)).where(AuditEvent.seq.is_not(None)))
    if first_chained is not None:
        for event_id in db.session.scalars(
                select(AuditEvent.id).where(AuditEvent.seq.is_(None),
                                            AuditEvent.id > first_chained)
                .order_by(AuditEvent.id).limit(100)):
            report.problems.append(
                f"event id {event_id} is not in the chain but was recorded after the chain "
                "began: it was inserted afterwards")
    if last_seq != report.head_seq or (last_seq and prev != report.head_hash):
        report.problems.append(
            f"the chain ends at event {last_seq}, but the head says {report.head_seq}: "
            "events at the end were removed or changed")
    return report


def query_events(
    *,
    action: str | None = None,
    actor_id: int | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    round_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select[tuple[AuditEvent]]:
    """A filtered query over the audit log, newest first (paginated by the caller)."""
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc())
    if action:
        stmt = stmt.where(AuditEvent.action.startswith(action))
    if actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    if object_type:
        stmt = stmt.where(AuditEvent.object_type == object_type)
    if object_id:
        stmt = stmt.where(AuditEvent.object_id == object_id)
    if round_id is not None:
        stmt = stmt.where(AuditEvent.round_id == round_id)
    if since is not None:
        stmt = stmt.where(AuditEvent.created_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.created_at < until)
    return stmt


def distinct_actions() -> list[str]:
    """Every action name that occurs in the log, for the filter form."""
    return list(
        db.session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action))
    )
