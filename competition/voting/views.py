"""Voting by municipalities' delegates: the approval ballots of the preselection."""

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import ngettext
from flask_login import current_user, login_required

from competition import clock
from competition.forms import perform
from competition.models import Phase
from competition.rounds.views import load_round, load_round_by_id
from competition.services import clustering, preselection
from competition.services.errors import PermissionDenied
from competition.voting.forms import ApprovalForm

bp = Blueprint("voting", __name__)


def _require_voter() -> None:
    refusal = preselection.vote_refusal(current_user)
    if refusal:
        raise PermissionDenied(refusal)


@bp.get("/rondes/<slug>/voorselectie/stemmen")
@login_required
def peer_overview(slug: str):
    """The delegate's approval ballots in a round, one per vraagstuk."""
    _require_voter()
    rnd = load_round(slug)
    if rnd.current_phase.index < Phase.PRESELECTION.index:
        abort(404)
    return render_template("voting/peer_overview.html", round=rnd,
                           rows=preselection.peer_overview(current_user, rnd),
                           is_open=rnd.current_phase is Phase.PRESELECTION)


@bp.route("/vraagstukken/<int:cluster_id>/goedkeuren", methods=["GET", "POST"])
@login_required
def approve(cluster_id: int):
    """Approve up to N proposals of other municipalities in a vraagstuk."""
    _require_voter()
    cluster = clustering.get_cluster(cluster_id)
    rnd = load_round_by_id(cluster.round_id)
    if not cluster.is_confirmed or rnd.current_phase.index < Phase.PRESELECTION.index:
        abort(404)
    choices = preselection.choices(cluster, current_user.municipality_id)
    current = preselection.ballot(current_user.municipality_id, cluster)
    # The stored ballot fills the form only when it is shown: a post is read on its own (a post
    # without a version or without any field must not fall back on the stored ballot).
    # Version "0" means "I saw no ballot": a ballot another delegate casts meanwhile is then
    # not overwritten unseen.
    form = ApprovalForm(data=None if request.method == "POST" else {
        "proposals": sorted(current.proposal_ids) if current else [],
        "version": str(current.version) if current else "0"})
    # Own proposals are valid choices for the form, so that the service (which refuses them)
    # gives the reason; the page does not offer them.
    form.proposals.choices = [(c.proposal.id, c.proposal.title) for c in choices]
    is_open = rnd.current_phase is Phase.PRESELECTION
    if form.validate_on_submit():
        raw_version = str(form.version.data or "")
        # isdigit() also accepts digits such as "²" that int() refuses: ASCII digits only.
        version = int(raw_version) if raw_version.isascii() and raw_version.isdigit() else None
        if perform(lambda: preselection.cast_approvals(
                current_user, cluster, form.proposals.data or [], now=clock.now(),
                expected_version=version),
                lambda ballot: ngettext(
                    "Your municipality’s ballot has been saved: %(num)d proposal approved.",
                    "Your municipality’s ballot has been saved: %(num)d proposals approved.",
                    len(ballot.approvals)), form=form):
            return redirect(url_for("voting.peer_overview", slug=rnd.slug))
    return render_template("voting/approve.html", round=rnd, cluster=cluster, form=form,
                           choices=choices, ballot=current, is_open=is_open,
                           own=[c for c in choices if c.is_own],
                           closes_at=rnd.window(Phase.PRESELECTION).ends_at)
