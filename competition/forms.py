"""Shared form helpers."""

from flask_wtf import FlaskForm

from competition.services.errors import DomainError


def attach_error(form: FlaskForm, error: DomainError) -> None:
    """Show a domain error next to its field, or at the top of the form."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, str(error.message)]
    else:
        form.form_errors.append(str(error.message))
