"""Public pages: home with current and past rounds, and a round's page with its rules."""

from flask import Blueprint, abort, render_template
from flask_login import current_user

from competition import clock
from competition.extensions import db
from competition.models import Phase, Role
from competition.services import rounds

bp = Blueprint("rounds", __name__)


def load_round(slug: str):
    """A round by slug, with the clock applied (commits if a phase changed)."""
    rnd = rounds.get_round(slug)
    if rounds.sync_round(rnd, now=clock.now()):
        db.session.commit()
    return rnd


def can_see_drafts() -> bool:
    return current_user.is_authenticated and current_user.has_role(Role.ORGANISER)


@bp.get("/")
def home():
    """Home: what the platform is, current rounds and past rounds."""
    now = clock.now()
    if rounds.sync_all(now=now):
        db.session.commit()
    visible = rounds.all_rounds() if can_see_drafts() else rounds.public_rounds()
    current = [r for r in visible if r.current_phase is not Phase.ADOPTION]
    past = [r for r in visible if r.current_phase is Phase.ADOPTION]
    return render_template("rounds/home.html", current=current, past=past)


@bp.get("/rondes/<slug>")
def round_page(slug: str):
    """A round: theme, description, rules and the phase timeline."""
    rnd = load_round(slug)
    if rnd.current_phase is Phase.DRAFT and not can_see_drafts():
        abort(404)
    return render_template("rounds/round.html", round=rnd,
                           overdue=rounds.overdue_reasons(rnd, clock.now()))


@bp.get("/over")
def about():
    """About the platform and how a round works."""
    return render_template("rounds/about.html")
