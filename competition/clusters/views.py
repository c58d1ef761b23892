"""Clusters: the organiser's review of the suggested grouping, and the public "vraagstukken"."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from competition import clock
from competition.clusters.forms import MergeForm, MoveForm, RenameForm, RunForm
from competition.extensions import db
from competition.models import Phase, Round
from competition.rounds.views import (
    can_see_drafts,
    load_round,
    load_round_by_id,
    require_organiser,
)
from competition.services import clustering, proposals
from competition.services.errors import DomainError

bp = Blueprint("clusters", __name__)


def _organiser_round(slug: str):
    require_organiser()
    return load_round(slug)


def _review_url(rnd, anchor: str = "") -> str:
    return url_for("clusters.review", slug=rnd.slug) + (f"#{anchor}" if anchor else "")


@bp.get("/beheer/rondes/<slug>/clusters")
@login_required
def review(slug: str):
    """The organiser's review: run the engine, then rename, move, merge, split and confirm."""
    rnd = _organiser_round(slug)
    all_clusters = clustering.clusters(rnd, with_members=True)
    job = clustering.current_job(rnd)
    choices = [(c.id, f"{c.label} ({len(c.members)})") for c in all_clusters]
    move_form, merge_form = MoveForm(), MergeForm()
    move_form.target_id.choices = choices
    merge_form.target_id.choices = choices
    return render_template(
        "clusters/review.html", round=rnd, clusters=all_clusters, job=job,
        run_form=RunForm(), rename_form=RenameForm(), move_form=move_form,
        merge_form=merge_form, unclustered=clustering.unclustered_proposals(rnd),
        has_manual_work=clustering.has_manual_work(rnd),
        is_open=rnd.current_phase is Phase.CLUSTERING,
        blocking=clustering.preselection_blocker(rnd, clock.now()),
    )


@bp.get("/beheer/rondes/<slug>/clusters/voortgang")
@login_required
def progress(slug: str):
    """The clustering job's progress (an htmx fragment; reloads the page when finished)."""
    rnd = _organiser_round(slug)
    return render_template("clusters/_progress.html", round=rnd,
                           job=clustering.current_job(rnd), polling=True)


@bp.post("/beheer/rondes/<slug>/clusters/uitvoeren")
@login_required
def run(slug: str):
    """Start a clustering run in the background."""
    rnd = _organiser_round(slug)
    form = RunForm()
    if form.validate_on_submit():
        threshold = form.threshold.data / 100 if form.threshold.data is not None else None
        try:
            clustering.request_run(current_user, rnd, replace_manual=form.replace_manual.data,
                                   threshold=threshold, now=clock.now())
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            flash(_("Clustering has started. This page shows its progress."), "success")
    else:
        for field in form:
            for message in field.errors:
                flash(f"{field.label.text}: {message}", "error")
    return redirect(_review_url(rnd))


def _cluster_action(cluster_id: int):
    cluster = clustering.get_cluster(cluster_id)
    require_organiser()
    return cluster, load_round_by_id(cluster.round_id)


@bp.post("/beheer/clusters/<int:cluster_id>/naam")
@login_required
def rename(cluster_id: int):
    """Rename a cluster and describe it."""
    cluster, rnd = _cluster_action(cluster_id)
    form = RenameForm(prefix=f"c{cluster_id}")
    if form.validate_on_submit():
        try:
            clustering.rename(current_user, cluster, form.label.data,
                              form.description.data or "", now=clock.now())
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            flash(_("The cluster has been renamed."), "success")
    else:
        flash(_("The name needs 3 to 120 characters."), "error")
    return redirect(_review_url(rnd, f"cluster-{cluster_id}"))


@bp.post("/beheer/clusters/<int:cluster_id>/bevestigen")
@login_required
def confirm(cluster_id: int):
    """Confirm a cluster, or undo the confirmation."""
    cluster, rnd = _cluster_action(cluster_id)
    confirmed = request.form.get("confirmed", "1") == "1"
    try:
        clustering.set_confirmed(current_user, cluster, confirmed, now=clock.now())
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(_review_url(rnd, f"cluster-{cluster_id}"))
    db.session.commit()
    flash(_("“%(label)s” is confirmed.", label=cluster.label) if confirmed
          else _("The confirmation of “%(label)s” has been undone.", label=cluster.label),
          "success")
    return redirect(_review_url(rnd, f"cluster-{cluster_id}"))


@bp.post("/beheer/rondes/<slug>/clusters/alles-bevestigen")
@login_required
def confirm_all(slug: str):
    """Confirm every cluster of the round."""
    rnd = _organiser_round(slug)
    try:
        count = clustering.confirm_all(current_user, rnd, now=clock.now())
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(_review_url(rnd))
    db.session.commit()
    flash(ngettext("%(num)d cluster confirmed.", "%(num)d clusters confirmed.", count), "success")
    return redirect(_review_url(rnd))


@bp.post("/beheer/clusters/<int:cluster_id>/samenvoegen")
@login_required
def merge(cluster_id: int):
    """Merge this cluster into another."""
    cluster, rnd = _cluster_action(cluster_id)
    form = MergeForm(prefix=f"m{cluster_id}")
    form.target_id.choices = [(c.id, c.label) for c in clustering.clusters(rnd)]
    if form.validate_on_submit():
        target = clustering.get_cluster(form.target_id.data)
        try:
            clustering.merge(current_user, cluster, target, now=clock.now())
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            flash(_("The clusters have been merged."), "success")
            return redirect(_review_url(rnd, f"cluster-{target.id}"))
    else:
        flash(_("Choose the cluster to merge with."), "error")
    return redirect(_review_url(rnd, f"cluster-{cluster_id}"))


@bp.post("/beheer/voorstellen/<int:proposal_id>/cluster")
@login_required
def move(proposal_id: int):
    """Move a proposal to another cluster."""
    proposal = proposals.get_proposal(proposal_id)
    require_organiser()
    rnd = load_round_by_id(proposal.round_id)
    form = MoveForm(prefix=f"p{proposal_id}")
    form.target_id.choices = [(c.id, c.label) for c in clustering.clusters(rnd)]
    if form.validate_on_submit():
        target = clustering.get_cluster(form.target_id.data)
        try:
            clustering.move(current_user, proposal, target, now=clock.now())
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            flash(_("“%(title)s” has been moved.", title=proposal.title), "success")
            return redirect(_review_url(rnd, f"cluster-{target.id}"))
    else:
        flash(_("Choose the cluster to move to."), "error")
    return redirect(_review_url(rnd))


@bp.post("/beheer/voorstellen/<int:proposal_id>/apart")
@login_required
def split(proposal_id: int):
    """Take a proposal out into a new cluster of its own."""
    proposal = proposals.get_proposal(proposal_id)
    require_organiser()
    try:
        cluster = clustering.split_out(current_user, proposal, now=clock.now())
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(_review_url(db.session.get(Round, proposal.round_id)))
    db.session.commit()
    flash(_("“%(title)s” now forms a cluster of its own.", title=proposal.title), "success")
    return redirect(_review_url(db.session.get(Round, proposal.round_id),
                                f"cluster-{cluster.id}"))


# --- public ------------------------------------------------------------------------------------


@bp.get("/rondes/<slug>/vraagstukken")
def index(slug: str):
    """The confirmed clusters ("vraagstukken") of a round."""
    rnd = load_round(slug)
    if rnd.current_phase is Phase.DRAFT and not can_see_drafts():
        abort(404)
    return render_template("clusters/index.html", round=rnd,
                           clusters=clustering.confirmed_clusters(rnd),
                           sizes=clustering.cluster_sizes(rnd))


@bp.get("/vraagstukken/<int:cluster_id>")
def detail(cluster_id: int):
    """A "vraagstuk": its proposals and the municipalities involved."""
    cluster = clustering.get_cluster(cluster_id)
    if not cluster.is_confirmed and not can_see_drafts():
        abort(404)
    rnd = load_round_by_id(cluster.round_id)
    involved = clustering.municipalities_involved(cluster)
    provinces: dict[str, list] = {}
    for municipality, count in involved:
        provinces.setdefault(municipality.province, []).append((municipality, count))
    return render_template("clusters/detail.html", cluster=cluster, round=rnd,
                           involved=involved, provinces=provinces,
                           population=sum(m.population for m, _ in involved))

