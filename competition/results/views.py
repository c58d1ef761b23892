"""Results: the published preselection (finalists with their full reasoning)."""

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from competition import clock
from competition.forms import flash_form_errors, perform
from competition.models import Phase
from competition.results.forms import OverrideForm
from competition.rounds.views import can_see_drafts, load_round, load_round_by_id, require_organiser
from competition.services import clustering, preselection, proposals

bp = Blueprint("results", __name__)


def _visible(rnd) -> None:
    if rnd.current_phase is Phase.DRAFT and not can_see_drafts():
        abort(404)


@bp.get("/rondes/<slug>/voorselectie", endpoint="preselection")
def preselection_overview(slug: str):
    """The preselection of a round: how it works, and after the phase the finalists per
    vraagstuk."""
    rnd = load_round(slug)
    _visible(rnd)
    published = preselection.is_published(rnd)
    clusters = clustering.confirmed_clusters(rnd)
    decisions = preselection.decisions(rnd) if published else []
    by_cluster: dict[int, list] = {}
    for d in decisions:
        by_cluster.setdefault(d.cluster_id, []).append(d)
    voted, voters = preselection.turnout(rnd)
    return render_template(
        "results/preselection.html", round=rnd, published=published, clusters=clusters,
        by_cluster=by_cluster, criteria=preselection.criteria(rnd),
        locale=str(get_locale() or "nl"), voted=voted, voters=voters,
        can_vote=preselection.vote_refusal(current_user) is None,
        juror=preselection.membership(current_user, rnd))


@bp.get("/vraagstukken/<int:cluster_id>/voorselectie")
def preselection_cluster(cluster_id: int):
    """A vraagstuk's preselection result: scores per criterion, approvals, combined score, rank,
    recusals, tie-breaks and overrides."""
    cluster = clustering.get_cluster(cluster_id)
    rnd = load_round_by_id(cluster.round_id)
    if not cluster.is_confirmed:
        abort(404)
    view = preselection.result_view(cluster)
    if not preselection.is_published(rnd) or view.stored is None:
        return redirect(url_for("results.preselection", slug=rnd.slug))
    return render_template(
        "results/preselection_cluster.html", round=rnd, cluster=cluster, view=view,
        data=view.data, locale=str(get_locale() or "nl"),
        may_override=(current_user.is_authenticated and current_user.is_organiser
                      and rnd.current_phase is Phase.DEVELOPMENT),
        override_form=OverrideForm())


@bp.post("/beheer/voorstellen/<int:proposal_id>/finalist")
@login_required
def override(proposal_id: int):
    """Make a proposal a finalist, or not, against the computed result (with a reason)."""
    require_organiser()
    proposal = proposals.get_proposal(proposal_id)
    rnd = load_round_by_id(proposal.round_id)
    form = OverrideForm()
    cluster = clustering.cluster_of(proposal)
    if form.validate_on_submit():
        make = form.make_finalist.data == "1"
        perform(lambda: preselection.override(current_user, proposal, make, form.reason.data,
                                              now=clock.now()),
                _("The decision has been changed; the reason is published with the result."))
    else:
        flash_form_errors(form)
    target = (url_for("results.preselection_cluster", cluster_id=cluster.id) if cluster
              else url_for("results.preselection", slug=rnd.slug))
    return redirect(f"{target}#proposal-{proposal.id}")
