"""Voting by municipalities' delegates: the approval ballots of the preselection and the
ranked ballots of the final vote, the public receipt check, and the organisers' turnout and
weights pages."""

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from flask_login import current_user, login_required

from competition import clock
from competition.forms import perform
from competition.models import Phase
from competition.rounds.views import load_round, load_round_by_id, require_organiser
from competition.services import clustering, preselection, voting
from competition.services.errors import PermissionDenied
from competition.voting.forms import (
    EMPTY_BRACKET_ROWS,
    ApprovalForm,
    ReceiptCheckForm,
    WeightsForm,
    ballot_form,
)

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


# --- the final vote: delegates -----------------------------------------------------------------


def _final_vote_round(slug: str):
    """The round, once its final vote has opened (404 before)."""
    rnd = load_round(slug)
    if rnd.current_phase.index < Phase.FINAL_VOTE.index:
        abort(404)
    return rnd


def _vote_cluster(cluster_id: int):
    """A cluster with finalists in a round whose final vote has opened (404 otherwise)."""
    cluster = voting.get_ballot_cluster(cluster_id)
    rnd = load_round_by_id(cluster.round_id)
    if rnd.current_phase.index < Phase.FINAL_VOTE.index or not voting.is_vote_cluster(cluster):
        abort(404)
    return cluster, rnd


@bp.app_template_global("weight_brackets")
def weight_brackets(rnd) -> list[voting.BracketRow]:
    """The round's population brackets, for templates (the public round page shows them)."""
    return voting.bracket_table(rnd)


@bp.app_template_global("receipt_blocks")
def receipt_blocks(receipt: str) -> str:
    """A receipt code in blocks of eight, for people to read and compare."""
    return " ".join(voting.group_receipt(receipt))


@bp.get("/rondes/<slug>/stemmen")
@login_required
def final_overview(slug: str):
    """The delegate's ranked ballots in the final vote, one per vraagstuk, and the rules."""
    _require_voter()
    rnd = _final_vote_round(slug)
    municipality = current_user.municipality
    return render_template("voting/final_overview.html", round=rnd,
                           rows=voting.overview(municipality.id, rnd),
                           is_open=rnd.current_phase is Phase.FINAL_VOTE,
                           weight=voting.weight_for(rnd, municipality),
                           municipality=municipality,
                           closes_at=rnd.window(Phase.FINAL_VOTE).ends_at)


@bp.route("/vraagstukken/<int:cluster_id>/stemmen", methods=["GET", "POST"])
@login_required
def final_ballot(cluster_id: int):
    """Rank the finalists of a vraagstuk for the delegate's municipality."""
    _require_voter()
    cluster, rnd = _vote_cluster(cluster_id)
    municipality_id = current_user.municipality_id
    options = voting.options(cluster, municipality_id)
    current = voting.current_ballot(municipality_id, cluster)
    # Own finalists stay fields of the form when the rules forbid ranking them, so a post that
    # ranks one anyway gets the service's reason; the page disables their select.
    form = ballot_form(options, current,
                       formdata=request.form if request.method == "POST" else None)
    is_open = rnd.current_phase is Phase.FINAL_VOTE
    if form.validate_on_submit() and perform(
            lambda: voting.cast_ballot(current_user, cluster, form.ranked(), now=clock.now()),
            _("Your municipality’s ballot has been saved. Save the receipt code below."),
            form=form):
        # The id from the URL: after the commit, `cluster.id` would reload the row.
        return redirect(url_for("voting.receipt", cluster_id=cluster_id))
    return render_template("voting/final_ballot.html", round=rnd, cluster=cluster, form=form,
                           options=options, ballot=current, is_open=is_open,
                           own_forbidden=not rnd.is_own_finalist_vote_allowed,
                           closes_at=rnd.window(Phase.FINAL_VOTE).ends_at)


@bp.get("/vraagstukken/<int:cluster_id>/stemmen/stembewijs")
@login_required
def receipt(cluster_id: int):
    """The receipt code of the municipality's ballot in a vraagstuk, and its earlier versions."""
    _require_voter()
    cluster, rnd = _vote_cluster(cluster_id)
    history = voting.ballot_history(current_user.municipality_id, cluster)
    titles = {o.proposal.id: o.proposal.title
              for o in voting.options(cluster, current_user.municipality_id)}
    return render_template("voting/receipt.html", round=rnd, cluster=cluster,
                           ballot=history[0] if history and history[0].is_current else None,
                           history=history, titles=titles,
                           is_open=rnd.current_phase is Phase.FINAL_VOTE)


# --- the final vote: anyone --------------------------------------------------------------------


@bp.get("/rondes/<slug>/stembewijs")
def check_receipt(slug: str):
    """Check a receipt code: which vraagstuk, whether it counts, and after the close whether it
    was counted."""
    rnd = load_round(slug)
    form = ReceiptCheckForm(request.args)
    checked = None
    if "code" in request.args and form.validate():
        found = voting.check_receipt(form.code.data or "")
        # A code of another round's ballot is not this round's: say "not found" here.
        checked = found if found is not None and found.round.id == rnd.id else False
    return render_template(
        "voting/check_receipt.html", round=rnd, form=form, checked=checked,
        is_closed=voting.is_closed(rnd),
        has_ballot_list="results.ballots_json" in current_app.view_functions,
        closes_at=rnd.window(Phase.FINAL_VOTE).ends_at)


# --- the final vote: organisers ----------------------------------------------------------------


def _organiser_round(slug: str):
    require_organiser()
    return load_round(slug)


@bp.get("/beheer/rondes/<slug>/opkomst")
@login_required
def turnout(slug: str):
    """Which municipalities have voted in each vraagstuk (never how)."""
    rnd = _organiser_round(slug)
    return render_template("voting/turnout.html", round=rnd, rows=voting.turnout(rnd),
                           is_open=rnd.current_phase is Phase.FINAL_VOTE,
                           closes_at=rnd.window(Phase.FINAL_VOTE).ends_at)


@bp.post("/beheer/rondes/<slug>/opkomst/herinneren")
@login_required
def remind(slug: str):
    """Mail the delegates of municipalities that have not voted in every vraagstuk."""
    rnd = _organiser_round(slug)
    perform(lambda: voting.remind_non_voters(current_user, rnd, now=clock.now()),
            lambda count: ngettext("%(num)d delegate has been reminded.",
                                   "%(num)d delegates have been reminded.", count))
    return redirect(url_for("voting.turnout", slug=rnd.slug))


@bp.route("/beheer/rondes/<slug>/weging", methods=["GET", "POST"])
@login_required
def weights(slug: str):
    """The population brackets of the final vote (editable while the round is a draft)."""
    rnd = _organiser_round(slug)
    editable = rnd.current_phase is Phase.DRAFT
    if request.method == "POST":
        form = WeightsForm()
    else:
        stored = voting.brackets(rnd)
        form = WeightsForm(data={"rows": [
            {"min_population": str(minimum), "weight": _weight_text(weight)}
            for minimum, weight in stored] + [{}] * EMPTY_BRACKET_ROWS})
    # Once the round left draft the page has no form, so a refusal of a form opened earlier is
    # flashed instead of attached to it.
    if form.validate_on_submit() and perform(
            lambda: voting.set_brackets(current_user, rnd, form.brackets(), now=clock.now()),
            _("The weights have been saved."), form=form if editable else None):
        return redirect(url_for("voting.weights", slug=rnd.slug))
    if request.method == "POST" and not editable:
        return redirect(url_for("voting.weights", slug=rnd.slug))
    return render_template("voting/weights.html", round=rnd, form=form, editable=editable,
                           table=voting.bracket_table(rnd),
                           is_default=not voting.has_own_brackets(rnd))


def _weight_text(weight) -> str:
    """A stored weight as people type it: "2", "1,5" in Dutch, "1.5" in English."""
    return format_decimal(weight, format="0.###")
