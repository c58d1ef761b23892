"""Domain errors raised by services; the web layer maps them to status codes and messages.

Messages are lazily translated strings so the same error reads in Dutch or English depending on
the request that shows it.
"""

from typing import Any


class DomainError(Exception):
    """A rule of the domain refused the action; `message` is for the person who tried it."""

    status_code = 400

    def __init__(self, message: Any, *, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field


class ValidationError(DomainError):
    """Input that breaks a rule (shown next to the field when `field` is given)."""

    status_code = 400


class PermissionDenied(DomainError):
    """The actor may not do this."""

    status_code = 403


class NotFound(DomainError):
    status_code = 404


class InvalidState(DomainError):
    """The action is not possible in the object's current state (e.g. the wrong phase)."""

    status_code = 409


class ConflictError(DomainError):
    """Someone else changed the object first."""

    status_code = 409
