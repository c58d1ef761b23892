"""Public pages: home with current and past rounds, and a round's page with its rules."""

from flask import Blueprint, abort, current_app, render_template
from flask_login import current_user

from competition import clock
from competition.extensions import db
from competition.models import Phase, Role
from competition.services import rounds

bp = Blueprint("rounds", __name__)


def load_round(slug: str):
    """A round by slug, with the clock applied (commits if a phase changed)."""
    rnd = rounds.get_round(slug)
    apply_clock(rnd)
    return rnd


def load_round_by_id(round_id: int):
    """The round with this id, with the clock applied (see load_round)."""
    from competition.models import Round

    # From the session when this request already loaded it (no query), not again by slug.
    rnd = db.get_or_404(Round, round_id)
    apply_clock(rnd)
    return rnd


def require_organiser() -> None:
    """Refuse (403) unless the current user is an organiser; views use it next to
    @login_required, which already sends anonymous visitors to the login page."""
    from competition.services import accounts

    accounts.require_role(current_user, Role.ORGANISER)


def apply_clock(rnd) -> None:
    """Move the round past its due phases and commit; a failure is logged, not shown.

    Reading a page must not break because end-of-phase work failed: that transition is rolled
    back as a whole (the phase stays open) and retried on the next request.
    """
    try:
        entered = rounds.sync_round(rnd, now=clock.now())
    except Exception:
        current_app.logger.exception("the clock could not advance round %s", rnd.slug)
        db.session.rollback()
        return
    if entered:
        db.session.commit()


def advance_due_rounds() -> None:
    """Apply the clock to every round whose phase has passed its end, one transaction per
    round (one failing round holds up no other); pages, API and feeds call it first."""
    for rnd in rounds.due_rounds(now=clock.now()):
        apply_clock(rnd)


def can_see_drafts() -> bool:
    return current_user.is_authenticated and current_user.has_role(Role.ORGANISER)


@bp.get("/")
def home():
    """Home: what the platform is, current rounds and past rounds."""
    advance_due_rounds()
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
    from flask_babel import get_locale

    from competition.services import preselection, proposals

    return render_template("rounds/round.html", round=rnd,
                           overdue=rounds.overdue_reasons(rnd, clock.now()),
                           proposal_count=proposals.published_count(rnd),
                           can_submit=proposals.start_refusal(current_user, rnd) is None,
                           criteria=preselection.criteria(rnd), locale=str(get_locale() or "nl"),
                           can_vote=preselection.vote_refusal(current_user) is None,
                           is_juror=preselection.membership(current_user, rnd) is not None)


@bp.get("/over")
def about():
    """About the platform and how a round works."""
    return render_template("rounds/about.html")
