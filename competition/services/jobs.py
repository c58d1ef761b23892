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
    job = Job(kind=kind, payload=payload, run_after=now, created_at=now,
              created_by_id=actor.id if actor else None, max_attempts=max_attempts)
    db.session.add(job)
    db.session.flush()
    return job


def _claim(now: datetime) -> int | None:
    """Take the oldest runnable job; returns its id (committed) or None."""
    candidates = db.session.scalars(
        select(Job.id).where(
            or_(
                (Job.status == JobStatus.QUEUED.value) & (Job.run_after <= now),
                (Job.status == JobStatus.RUNNING.value) & (Job.locked_until < now),
            )
        ).order_by(Job.run_after, Job.id).limit(5)
    ).all()
    for job_id in candidates:
        claimed = db.session.execute(
            update(Job)
            .where(Job.id == job_id,
                   or_((Job.status == JobStatus.QUEUED.value),
                       (Job.status == JobStatus.RUNNING.value) & (Job.locked_until < now)))
            .values(status=JobStatus.RUNNING.value, locked_until=now + LEASE, started_at=now,
                    attempts=Job.attempts + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
        if claimed == 1:
            return job_id
    return None


def _progress_reporter(job_id: int) -> Callable[[int, str], None]:
    def report(percent: int, message: str = "") -> None:
        # Its own connection and transaction: visible to readers while the job still runs.
        with db.engine.begin() as connection:
            connection.execute(
                update(Job).where(Job.id == job_id)
                .values(progress=max(0, min(100, int(percent))), progress_message=message[:200],
                        locked_until=utcnow() + LEASE)
            )

    return report


def run_one(now: datetime | None = None) -> Job | None:
    """Claim and run one job; returns it (finished or rescheduled), or None if none was due."""
    job_id = _claim(now or utcnow())
    if job_id is None:
        return None
    job = db.session.get(Job, job_id)
    fn = _handlers.get(job.kind)
    try:
        if fn is None:
            raise LookupError(f"no handler for job kind {job.kind!r}")
        result = fn(job, _progress_reporter(job.id))
    except Exception as exc:
        db.session.rollback()
        job = db.session.get(Job, job_id)
        log.exception("job %s (%s) failed", job.id, job.kind)
        job.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:4000]
        job.locked_until = None
        if job.attempts >= job.max_attempts:
            job.status = JobStatus.FAILED.value
            job.finished_at = utcnow()
        else:
            job.status = JobStatus.QUEUED.value
            job.run_after = utcnow() + timedelta(seconds=30 * 2 ** (job.attempts - 1))
        db.session.commit()
        return job
    job.status = JobStatus.DONE.value
    job.result = result or {}
    job.progress = 100
    job.error = None
    job.locked_until = None
    job.finished_at = utcnow()
    db.session.commit()
    return job


def run_pending(limit: int = 100) -> int:
    """Run due jobs until none is left (or `limit`); returns how many ran."""
    count = 0
    while count < limit and run_one() is not None:
        count += 1
    return count


def get_job(job_id: int) -> Job | None:
    """A job by id."""
    return db.session.get(Job, job_id)


def latest_job(kind: str, key: str, value: Any) -> Job | None:
    """The newest job of `kind` whose payload[key] == value."""
    jobs = db.session.scalars(
        select(Job).where(Job.kind == kind).order_by(Job.id.desc()).limit(50)
    ).all()
    return next((j for j in jobs if j.payload.get(key) == value), None)


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
