"""Outgoing mail through a transactional outbox, delivered by the background job mechanism.

`queue_mail` writes the message in the same transaction as the action that causes it, so an
action is never committed without its mail nor a mail sent for an action that rolled back. In
that same transaction it makes sure a delivery job ("mail.deliver") is queued; a worker
(`flask competition worker`, or the thread worker of `make run`) then sends what is queued
(SMTP, or files under instance/mail/ when no mail server is configured). A request never waits
for the mail server. When mails fail the job fails too and is retried with the job mechanism's
back-off; the mails stay in the outbox (attempts, last_error) until they go out.

With MAIL_DELIVERY = "inline" (tests) the web layer instead sends right after the request's
commit, as before; `flask competition send-mail` retries by hand in either mode.

Recipients who switched a category off (see services/notifications.py), and inactive users,
get no mail of that category; account mail (invitations, password resets) always goes out.
"""

import logging
import smtplib
from datetime import datetime, timedelta

from flask import current_app, render_template
from flask_babel import force_locale
from flask_mailman import EmailMessage
from sqlalchemy import func, or_, select, update

from competition.extensions import db
from competition.models import Job, JobStatus, OutboxMail, User, utcnow
from competition.services import jobs

log = logging.getLogger(__name__)

# Each try (by the job, a request in inline mode or `send-mail`) counts; with the job's
# back-off (30 s, 1 min, 2 min, … doubling) twelve tries span about 17 hours of mail server
# trouble before a mail is given up (it then stays in the outbox with its last error).
MAX_ATTEMPTS = 12
# A sender claims a mail before sending; a claim older than this (a crashed sender) lapses.
CLAIM_TIMEOUT = timedelta(minutes=10)
# Set on the SQLAlchemy session so the web layer knows to deliver after its commit (inline).
PENDING_FLAG = "outbox_pending"
DELIVERY_JOB = "mail.deliver"
DELIVERY_MODES = ("worker", "inline")
BATCH = 100


class MailDeliveryError(RuntimeError):
    """Some mails could not be sent; they wait in the outbox for the job's retry."""


def queue_mail(
    *, to: str, template: str, category: str, now: datetime, locale: str = "nl", **context
) -> OutboxMail | None:
    """Render `templates/mail/<template>.txt` in the recipient's language and queue it; None
    when the recipient does not get mail of this category (switched off, or inactive)."""
    # Imported here: notifications builds on the services that import this module.
    from competition.services import notifications

    notifications.check_category(category)
    if category != notifications.ACCOUNT:
        if not notifications.wants(_recipient(to, context.get("user")), category):
            return None
        context.setdefault("category_label", notifications.category_label(category))
        context.setdefault("settings_link", notifications.settings_link())
    with force_locale(locale):
        rendered = render_template(f"mail/{template}.txt", **context)
    subject, _, body = rendered.partition("\n")
    message = OutboxMail(
        to=to,
        subject=subject.removeprefix("Subject:").strip(),
        body=body.lstrip("\n"),
        category=category,
        created_at=now,
    )
    db.session.add(message)
    db.session.flush()
    schedule_delivery(now)
    return message


def _recipient(to: str, user: object) -> User | None:
    """The account the mail goes to: the template's `user` when it is the addressee, else the
    account with that address (None for an address without one, e.g. an invitation)."""
    if isinstance(user, User) and user.email == to:
        return user
    return db.session.scalar(select(User).where(User.email == to.strip().lower()))


def delivery_mode() -> str:
    """"worker" (a background job sends) or "inline" (the request sends after its commit)."""
    return current_app.config.get("MAIL_DELIVERY", "worker")


def schedule_delivery(now: datetime) -> None:
    """Make sure what is in the outbox gets sent (in the caller's transaction)."""
    if delivery_mode() == "inline":
        db.session.info[PENDING_FLAG] = True
    else:
        ensure_delivery_job(now)


def ensure_delivery_job(now: datetime) -> Job:
    """The queued delivery job, queued now unless one is already waiting.

    A waiting job may be a retry that backs off after a failure: new mail then waits for that
    retry rather than hammering a mail server that just failed. A running job does not count,
    as it may have picked its mails before this transaction commits.
    """
    waiting = db.session.scalar(
        select(Job).where(Job.kind == DELIVERY_JOB, Job.status == JobStatus.QUEUED.value)
        .order_by(Job.id).limit(1))
    if waiting is not None:
        return waiting
    return jobs.enqueue(DELIVERY_JOB, {}, now=now, max_attempts=MAX_ATTEMPTS)


def sweep(now: datetime) -> bool:
    """Queue a delivery job when mail still waits without one (e.g. a job that gave up, or a
    failure in inline mode); returns whether mail is waiting. For the clock (`tick`)."""
    if not awaiting_delivery():
        return False
    if delivery_mode() == "worker":
        ensure_delivery_job(now)
    return True


def _deliverable(now: datetime):
    return (
        OutboxMail.sent_at.is_(None),
        OutboxMail.attempts < MAX_ATTEMPTS,
        or_(OutboxMail.claimed_at.is_(None), OutboxMail.claimed_at < now - CLAIM_TIMEOUT),
    )


def awaiting_delivery() -> int:
    """How many mails are waiting to be sent (retries included)."""
    return db.session.scalar(select(func.count(OutboxMail.id)).where(*_deliverable(utcnow())))


def awaiting_retry() -> int:
    """How many mails failed and wait for another try."""
    return db.session.scalar(select(func.count(OutboxMail.id)).where(
        *_deliverable(utcnow()), OutboxMail.last_error.is_not(None)))


def _claim(message_id: int) -> bool:
    """Compare-and-set: of several senders only one gets to send this mail (committed)."""
    now = utcnow()
    claimed = db.session.execute(
        update(OutboxMail)
        .where(OutboxMail.id == message_id, *_deliverable(now))
        .values(claimed_at=now, attempts=OutboxMail.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return claimed == 1


def deliver_pending(limit: int | None = None) -> tuple[int, int]:
    """Send queued mail (all of it, or at most `limit`); commits per message. Returns
    (sent, failed); each mail is tried at most once per call."""
    sent = failed = tried = 0
    last_id = 0
    while limit is None or tried < limit:
        size = BATCH if limit is None else min(BATCH, limit - tried)
        # Keyset paging: a mail that failed in this call is deliverable again, but lies behind.
        ids = db.session.scalars(
            select(OutboxMail.id)
            .where(*_deliverable(utcnow()), OutboxMail.id > last_id)
            .order_by(OutboxMail.id)
            .limit(size)
        ).all()
        if not ids:
            break
        for message_id in ids:
            last_id, tried = message_id, tried + 1
            outcome = _deliver_one(message_id)
            sent += outcome == "sent"
            failed += outcome == "failed"
    return sent, failed


def _deliver_one(message_id: int) -> str | None:
    if not _claim(message_id):
        return None  # sent or being sent by another sender meanwhile
    message = db.session.get(OutboxMail, message_id)
    if message is None:
        return None
    try:
        EmailMessage(
            subject=message.subject,
            body=message.body,
            from_email=current_app.config["MAIL_DEFAULT_SENDER"],
            to=[message.to],
        ).send()
    except Exception as exc:  # any transport failure: keep the mail for a retry
        message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        message.claimed_at = None
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            # The server refuses this address for good: trying again cannot help, and the
            # retries must not hold up everyone else's mail.
            message.attempts = MAX_ATTEMPTS
        log.warning("mail %s to %s failed: %s", message.id, message.to, exc)
        db.session.commit()
        return "failed"
    message.sent_at = utcnow()
    message.last_error = None
    if current_app.config["MAIL_BACKEND"] == "file":
        log.info(
            "mail to %s (%r) written to %s",
            message.to,
            message.subject,
            current_app.config["MAIL_FILE_PATH"],
        )
    db.session.commit()
    return "sent"


@jobs.handler(DELIVERY_JOB)
def _delivery_job(job: Job, progress) -> dict:
    """Send the outbox; fail (so the job retries with back-off) while mails are failing."""
    sent, failed = deliver_pending()
    waiting = awaiting_retry()
    if waiting:
        raise MailDeliveryError(
            f"{failed} mail(s) failed in this run; {waiting} wait in the outbox for a retry")
    return {"sent": sent, "failed": failed}
