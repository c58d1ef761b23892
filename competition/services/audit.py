"""Recording state-changing actions in the append-only audit log."""

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from competition.extensions import db
from competition.models import AuditEvent, User


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
    """Append one audit event (flushed, committed with the action that caused it)."""
    event = AuditEvent(
        created_at=now,
        actor_id=actor.id if actor is not None else None,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        round_id=round_id,
        data=data or {},
    )
    db.session.add(event)
    db.session.flush()
    return event


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
