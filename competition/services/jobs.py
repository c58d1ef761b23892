"""The durable job queue.

`enqueue` adds a job in the caller's transaction (so it exists exactly when the action that asked
for it commits). A worker claims one job at a time with a compare-and-set update and a lease, runs
its handler, and records the result; a failure is retried later with back-off until
`max_attempts`, and a worker that dies mid-job loses its lease so another worker takes over.
Handlers report progress through a separate connection, so a page can show a progress bar while
the job's own transaction is still open.
"""

import logging
import threading
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import or_, select, update

from competition.extensions import db
from competition.models import User, utcnow
from competition.models.job import Job, JobStatus

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=15)
# (handler, runs with the job and a progress callback) by job kind.
Handler = Callable[[Job, Callable[[int, str], None]], dict[str, Any] | None]
_handlers: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of `kind`."""

    def register(fn: Handler) -> Handler:
        _handlers[kind] = fn
        return fn

    return register


def enqueue(kind: str, payload: dict[str, Any], *, now: datetime, actor: User | None = None,
            max_attempts: int = 3) -> Job:
    """Queue a job (flushed, committed with the caller's transaction)."""
    if kind not in _handlers:
        raise ValueError(f"no handler for job kind {kind!r}")
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    # Due at once, also when the caller's clock runs ahead of the worker's (another host, or a
    # frozen clock under test): workers compare run_after with their own wall clock.
    job = Job(kind=kind, payload=payload, run_after=min(now, utcnow()), created_at=now,
              created_by_id=actor.id if actor else None, max_attempts=max_attempts)
    db.session.add(job)
    db.session.flush()
    return job


def _runnable(now: datetime):
    return or_(
        (Job.status == JobStatus.QUEUED.value) & (Job.run_after <= now),
        (Job.status == JobStatus.RUNNING.value) & (Job.locked_until < now),
    )


def _claim(now: datetime) -> int | None:
    """Take the oldest runnable job; returns its id (committed) or None."""
    candidates = db.session.scalars(
        select(Job.id).where(_runnable(now)).order_by(Job.run_after, Job.id).limit(5)
    ).all()
    for job_id in candidates:
        # Compare-and-set: of workers racing for the same job exactly one updates the row.
        # The condition is the full one: the job may have been rescheduled (a retry with
        # back-off) since it was read.
        claimed = db.session.execute(
            update(Job)
            .where(Job.id == job_id, _runnable(now))
            .values(status=JobStatus.RUNNING.value, locked_until=now + LEASE, started_at=now,
                    attempts=Job.attempts + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
        if claimed == 1:
            return job_id
    # End the read transaction: an idle worker must not sit "idle in transaction".
    db.session.commit()
    return None


def _owned(job_id: int, attempt: int):
    """Rows of the job while this worker (its `attempt`) still holds it: a worker whose lease
    lapsed and was taken over must not record anything."""
    return update(Job).where(Job.id == job_id, Job.status == JobStatus.RUNNING.value,
                             Job.attempts == attempt)


def _progress_reporter(job_id: int, attempt: int) -> Callable[[int, str], None]:
    def report(percent: int, message: str = "") -> None:
        # Its own connection and transaction: visible to readers while the job still runs.
        # Progress is a courtesy: failing to show it (e.g. the database is busy) must not fail
        # the job.
        try:
            with db.engine.begin() as connection:
                connection.execute(
                    _owned(job_id, attempt)
                    .values(progress=max(0, min(100, int(percent))),
                            progress_message=str(message)[:200], locked_until=utcnow() + LEASE)
                )
        except Exception:
            log.warning("job %s: could not record progress", job_id, exc_info=True)

    return report


def run_one(now: datetime | None = None) -> Job | None:
    """Claim and run one job; returns it (finished or rescheduled), or None if none was due.

    The handler's writes and the job's "done" commit together, and only while this worker still
    holds the job: if its lease lapsed and another worker took the job over, this worker's work
    is rolled back and nothing is recorded.
    """
    job_id = _claim(now or utcnow())
    if job_id is None:
        return None
    job = db.session.get(Job, job_id)
    attempt, kind = job.attempts, job.kind
    fn = _handlers.get(kind)
    try:
        if fn is None:
            raise LookupError(f"no handler for job kind {kind!r}")
        result = fn(job, _progress_reporter(job_id, attempt))
        finished = db.session.execute(
            _owned(job_id, attempt)
            .values(status=JobStatus.DONE.value, result=result or {}, progress=100, error=None,
                    locked_until=None, finished_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        if finished != 1:
            db.session.rollback()
            log.warning("job %s (%s): lease lost to another worker; result discarded",
                        job_id, kind)
            return db.session.get(Job, job_id)
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        log.exception("job %s (%s) failed", job_id, kind)
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:4000]
        job = db.session.get(Job, job_id)
        if attempt >= job.max_attempts:
            values = {"status": JobStatus.FAILED.value, "finished_at": utcnow()}
        else:
            values = {"status": JobStatus.QUEUED.value,
                      "run_after": utcnow() + timedelta(seconds=30 * 2 ** (attempt - 1))}
        db.session.execute(
            _owned(job_id, attempt).values(error=error, locked_until=None, **values)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    return db.session.get(Job, job_id)


def run_pending(limit: int = 100, now: datetime | None = None) -> int:
    """Run due jobs until none is left (or `limit`); returns how many ran."""
    count = 0
    while count < limit and run_one(now) is not None:
        count += 1
    return count


def get_job(job_id: int) -> Job | None:
    """A job by id."""
    return db.session.get(Job, job_id)


def latest_job(kind: str, key: str, value: Any) -> Job | None:
    """The newest job of `kind` whose payload[key] == value."""
    field = Job.payload[key]
    if isinstance(value, bool):
        match = field.as_boolean() == value
    elif isinstance(value, int):
        match = field.as_integer() == value
    elif isinstance(value, str):
        match = field.as_string() == value
    else:
        raise TypeError(f"cannot look jobs up by a {type(value).__name__}")
    return db.session.scalar(
        select(Job).where(Job.kind == kind, match).order_by(Job.id.desc()).limit(1))


def start_thread_worker(app: Flask, interval: float = 1.0) -> threading.Thread:
    """Process jobs in a daemon thread of this process (for `make run`; production runs
    `flask competition worker` instead)."""

    def loop() -> None:
        while True:
            try:
                with app.app_context():
                    while run_one() is not None:
                        pass
            except Exception:  # keep the worker alive; the job records its own failure
                log.exception("job worker loop")
            time.sleep(interval)

    thread = threading.Thread(target=loop, name="job-worker", daemon=True)
    thread.start()
    return thread
