"""Shared form helpers."""

from collections.abc import Callable
from typing import Any

from flask import flash
from flask_wtf import FlaskForm

from competition.extensions import db
from competition.services.errors import DomainError


def attach_error(form: FlaskForm, error: DomainError) -> None:
    """Show a domain error next to its field, or at the top of the form."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, str(error.message)]
    else:
        form.form_errors.append(str(error.message))


def perform(action: Callable[[], Any], success: str | Callable[[Any], str] | None = None,
            form: FlaskForm | None = None) -> bool:
    """Run one service call as the request's transaction.

    On success: commit and flash `success` (a text, or a function of the service's result).
    On a domain error: roll back, and show the message next to the form field (when a form is
    given) or as a flash message. Returns whether it worked, so the view can redirect or
    re-render.
    """
    try:
        result = action()
    except DomainError as exc:
        db.session.rollback()
        if form is not None:
            attach_error(form, exc)
        else:
            flash(str(exc.message), "error")
        return False
    db.session.commit()
    if success:
        flash(success(result) if callable(success) else success, "success")
    return True


def flash_form_errors(form: FlaskForm) -> None:
    """Flash a form's field errors (for small forms posted from a page that redirects back)."""
    for f in form:
        for message in f.errors:
            flash(f"{f.label.text}: {message}", "error")
