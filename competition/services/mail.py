"""Outgoing mail through a transactional outbox.

`queue_mail` writes the message in the same transaction as the action that causes it, so an
action is never committed without its mail nor a mail sent for an action that rolled back.
`deliver_pending` sends what is queued (SMTP, or files under instance/mail/ when no mail server
is configured) and keeps failures for a later retry.
"""

import logging
from datetime import datetime, timedelta

from flask import current_app, render_template
from flask_babel import force_locale
from flask_mailman import EmailMessage
from sqlalchemy import or_, select, update

from competition.extensions import db
from competition.models import OutboxMail, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# A sender claims a mail before sending; a claim older than this (a crashed sender) lapses.
CLAIM_TIMEOUT = timedelta(minutes=10)
# Set on the SQLAlchemy session so the web layer knows to deliver after its commit.
PENDING_FLAG = "outbox_pending"


def queue_mail(
    *, to: str, template: str, category: str, now: datetime, locale: str = "nl", **context
) -> OutboxMail:
    """Render `templates/mail/<template>.txt` in the recipient's language and queue it."""
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
    db.session.info[PENDING_FLAG] = True
    return message


def _deliverable(now: datetime):
    return (
        OutboxMail.sent_at.is_(None),
        OutboxMail.attempts < MAX_ATTEMPTS,
        or_(OutboxMail.claimed_at.is_(None), OutboxMail.claimed_at < now - CLAIM_TIMEOUT),
    )


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


def deliver_pending(limit: int = 100) -> tuple[int, int]:
    """Send queued mail; commits per message. Returns (sent, failed)."""
    sent = failed = 0
    ids = db.session.scalars(
        select(OutboxMail.id)
        .where(*_deliverable(utcnow()))
        .order_by(OutboxMail.id)
        .limit(limit)
    ).all()
    for message_id in ids:
        if not _claim(message_id):
            continue  # sent or being sent by another sender meanwhile
        message = db.session.get(OutboxMail, message_id)
        if message is None:
            continue
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
            failed += 1
            log.warning("mail %s to %s failed: %s", message.id, message.to, exc)
        else:
            message.sent_at = utcnow()
            message.last_error = None
            sent += 1
            if current_app.config["MAIL_BACKEND"] == "file":
                log.info(
                    "mail to %s (%r) written to %s",
                    message.to,
                    message.subject,
                    current_app.config["MAIL_FILE_PATH"],
                )
        db.session.commit()
    return sent, failed
