"""The development phase: finalists' pages with progress updates, deliverables and their cost
and licence statement."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from competition import clock
from competition.development.forms import DeliverableForm, UpdateForm, WorkForm
from competition.extensions import db
from competition.forms import flash_form_errors, perform
from competition.models import CommentKind, CoSubmissionStatus, Proposal, Round
from competition.rounds.views import load_round_by_id
from competition.services import (
    attachments,
    clustering,
    comments,
    development,
    preselection,
    proposals,
)
from competition.services.errors import DomainError

bp = Blueprint("development", __name__)


@bp.app_template_global("is_finalist")
def is_finalist(proposal: Proposal) -> bool:
    """Whether a proposal is a finalist (for the proposal page's finalist notice)."""
    return development.is_finalist(proposal)


def _load_finalist(proposal_id: int) -> Proposal:
    """The finalist proposal, or 404 (also for a proposal that is not a finalist)."""
    proposal = proposals.get_proposal(proposal_id)
    load_round_by_id(proposal.round_id)
    if not proposals.can_view(current_user, proposal) or not development.is_finalist(proposal):
        abort(404)
    return proposal


def _require_team(proposal: Proposal) -> None:
    """403 unless the user is on the finalist's team. A team member outside the development
    phase passes: the service refuses with the reason, shown on the page."""
    if not development.is_team(current_user, proposal):
        abort(403, development.publish_refusal(current_user, proposal))


def _finalist_url(proposal_id: int, anchor: str = "") -> str:
    return url_for("development.finalist", proposal_id=proposal_id) + (
        f"#{anchor}" if anchor else "")


def _refused(proposal: Proposal, form, anchor: str, **forms):
    """After a refused post: errors that belong to a field re-render the page with them next
    to the field (and the text kept); any other refusal (say, the phase has ended) is flashed
    on the page it came from."""
    if any(f.errors for f in form):
        return _render_finalist(proposal, **forms)
    for message in form.form_errors:
        flash(message, "error")
    return redirect(_finalist_url(proposal.id, anchor))


def _work_form(proposal: Proposal) -> WorkForm:
    current = development.work(proposal)
    return WorkForm(formdata=None, obj=current) if current else WorkForm(formdata=None)


def _render_finalist(proposal: Proposal, *, work_form: WorkForm | None = None,
                     update_form: UpdateForm | None = None):
    rnd = db.session.get(Round, proposal.round_id)  # _load_finalist applied the clock
    refusal = development.publish_refusal(current_user, proposal)
    thread = comments.thread(proposal)
    questions = [(c, answers) for c, answers in thread
                 if c.kind == CommentKind.QUESTION.value]
    cluster = clustering.cluster_of(proposal)
    can_publish = refusal is None
    return render_template(
        "development/finalist.html", proposal=proposal, round=rnd,
        cluster=cluster if cluster is not None and cluster.is_confirmed else None,
        updates=development.updates(proposal), work=development.work(proposal),
        files=attachments.deliverable_files(proposal),
        municipalities=_municipalities(proposal),
        questions=questions, message_count=sum(1 + len(a) for _c, a in thread),
        involved_ids=proposals.involved_municipality_ids(proposal),
        is_team=development.is_team(current_user, proposal),
        can_publish=can_publish, refusal=refusal,
        # Forms only for those who may publish: a form starts a CSRF session, which would keep
        # the public page out of the page cache.
        update_form=update_form or (UpdateForm(formdata=None) if can_publish else None),
        work_form=work_form or (_work_form(proposal) if can_publish else None),
        file_form=DeliverableForm(formdata=None) if can_publish else None,
    )


def _municipalities(proposal: Proposal):
    """The owner first, then the accepted co-submitters by name."""
    # One query (each request comes with its municipality), not one per co-submitter.
    others = sorted((c.municipality for c in proposals.cosubmissions(
        proposal, status=CoSubmissionStatus.ACCEPTED)
        if c.municipality_id != proposal.municipality_id), key=lambda m: m.name)
    return [proposal.municipality, *others]


@bp.get("/voorstellen/<int:proposal_id>/ontwikkeling")
def finalist(proposal_id: int):
    """A finalist's public page: progress, deliverables, cost and licence, questions."""
    return _render_finalist(_load_finalist(proposal_id))


@bp.post("/voorstellen/<int:proposal_id>/ontwikkeling/updates")
@login_required
def post_update(proposal_id: int):
    """The team publishes a progress update (Markdown)."""
    proposal = _load_finalist(proposal_id)
    _require_team(proposal)
    form = UpdateForm()
    if form.validate_on_submit() and perform(
            lambda: development.post_update(current_user, proposal, form.title.data,
                                            form.body.data, now=clock.now()),
            _("Your update has been published."), form=form):
        return redirect(_finalist_url(proposal_id, "updates"))
    return _refused(proposal, form, "updates", update_form=form)


@bp.route("/ontwikkeling/updates/<int:update_id>/bewerken", methods=["GET", "POST"])
@login_required
def edit_update(update_id: int):
    """The team corrects a progress update."""
    update = development.get_update(update_id)
    proposal = _load_finalist(update.proposal_id)
    _require_team(proposal)
    refusal = development.publish_refusal(current_user, proposal)
    if refusal:
        flash(refusal, "error")
        return redirect(_finalist_url(proposal.id, f"update-{update.id}"))
    form = UpdateForm(obj=update)
    if form.validate_on_submit():
        if perform(lambda: development.edit_update(current_user, update, form.title.data,
                                                   form.body.data, now=clock.now()),
                   _("The update has been saved."), form=form):
            return redirect(_finalist_url(proposal.id, f"update-{update.id}"))
        update = development.get_update(update_id)
    return render_template("development/edit_update.html", form=form, update=update,
                           proposal=proposal)


@bp.post("/voorstellen/<int:proposal_id>/ontwikkeling/verantwoording")
@login_required
def save_work(proposal_id: int):
    """The team publishes its deliverable links and its cost and licence statement."""
    proposal = _load_finalist(proposal_id)
    _require_team(proposal)
    form = WorkForm()
    if form.validate_on_submit() and perform(
            lambda: development.save_work(
                current_user, proposal, demo_url=form.demo_url.data or "",
                documentation_url=form.documentation_url.data or "",
                source_url=form.source_url.data or "", licence=form.licence.data or "",
                licence_notes=form.licence_notes.data or "",
                cost_estimate=form.cost_estimate.data, yearly_cost=form.yearly_cost.data,
                cost_notes=form.cost_notes.data or "", now=clock.now()),
            _("The statement has been saved."), form=form):
        return redirect(_finalist_url(proposal_id, "verantwoording"))
    return _refused(proposal, form, "verantwoording", work_form=form)


@bp.post("/voorstellen/<int:proposal_id>/ontwikkeling/bestanden")
@login_required
def add_deliverable_file(proposal_id: int):
    """The team publishes a file as a deliverable (type checked by content; at most 10 MB)."""
    proposal = _load_finalist(proposal_id)
    _require_team(proposal)
    back = _finalist_url(proposal_id, "opleveringen")
    form = DeliverableForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(back)
    folder = current_app.config["UPLOAD_FOLDER"]
    storage = form.file.data
    try:
        attachment = development.add_deliverable_file(
            current_user, proposal,
            attachments.Upload(filename=storage.filename or "", stream=storage.stream),
            upload_folder=folder, now=clock.now())
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(back)
    try:
        db.session.commit()
    except Exception:
        # The row is gone: do not leave its file behind.
        db.session.rollback()
        attachments.discard_file(attachment, folder)
        raise
    flash(_("The file has been published."), "success")
    return redirect(back)


@bp.post("/ontwikkeling/bestanden/<int:attachment_id>/verwijderen")
@login_required
def remove_deliverable_file(attachment_id: int):
    """The team takes a deliverable file off the finalist page."""
    attachment = attachments.get_attachment(attachment_id)
    proposal = _load_finalist(attachment.proposal_id)
    _require_team(proposal)
    if not attachment.is_deliverable:
        abort(404)
    perform(lambda: development.remove_deliverable_file(current_user, attachment,
                                                        now=clock.now()),
            _("The file has been taken off the page."))
    return redirect(_finalist_url(proposal.id, "opleveringen"))


@bp.get("/vraagstukken/<int:cluster_id>/finalisten")
def cluster_finalists(cluster_id: int):
    """A vraagstuk's finalists with their latest progress and licence."""
    cluster = clustering.get_cluster(cluster_id)
    rnd = load_round_by_id(cluster.round_id)
    if not cluster.is_confirmed:
        abort(404)
    if not preselection.is_published(rnd):
        return redirect(url_for("results.preselection", slug=rnd.slug))
    rows = []
    for proposal in development.cluster_finalists(cluster):
        latest = development.updates(proposal)
        rows.append((proposal, _municipalities(proposal), latest[0] if latest else None,
                     len(latest), development.work(proposal)))
    return render_template("development/cluster.html", round=rnd, cluster=cluster, rows=rows)
