"""The web layer's clock: services get `now` as an argument and views take it from here.

Tests freeze it with the `FROZEN_NOW` config key (only honoured when TESTING is on).
"""

from datetime import datetime

from flask import current_app

from competition.models.types import utcnow


def now() -> datetime:
    """The current moment, or the frozen one under test."""
    frozen = current_app.config.get("FROZEN_NOW") if current_app.testing else None
    return frozen if frozen is not None else utcnow()
