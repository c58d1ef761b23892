"""Outgoing mail through a transactional outbox.

`queue_mail` writes the message in the same transaction as the action that causes it, so an
action is never committed without its mail nor a mail sent for an action that rolled back.
`deliver_pending` sends what is queued (SMTP, or files under instance/mail/ when no mail server
is configured) and keeps failures for a later retry.
"""

import logging
from datetime import datetime

from flask import current_app, render_template
from flask_babel import force_locale
from flask_mailman import EmailMessage
from sqlalchemy import select

from competition.extensions import db
from competition.models import OutboxMail, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
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


def deliver_pending(limit: int = 100) -> tuple[int, int]:
    """Send queued mail; commits per message. Returns (sent, failed)."""
    sent = failed = 0
    ids = db.session.scalars(
        select(OutboxMail.id)
        .where(OutboxMail.sent_at.is_(None), OutboxMail.attempts < MAX_ATTEMPTS)
        .order_by(OutboxMail.id)
        .limit(limit)
    ).all()
    for message_id in ids:
        message = db.session.get(OutboxMail, message_id)
        if message is None or message.sent_at is not None:
            continue
        message.attempts += 1
        try:
            EmailMessage(
                subject=message.subject,
                body=message.body,
                from_email=current_app.config["MAIL_DEFAULT_SENDER"],
                to=[message.to],
            ).send()
        except Exception as exc:  # any transport failure: keep the mail for a retry
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
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
