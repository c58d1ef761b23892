"""Proposals: the public list and page, writing and editing, attachments, co-submission,
interest, following, questions and comments, and moderation."""

import json

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select

from competition import clock
from competition.csv_export import csv_response
from competition.extensions import db, limiter
from competition.forms import attach_error
from competition.models import (
    CommentKind,
    CoSubmission,
    CoSubmissionStatus,
    Municipality,
    Phase,
    Proposal,
    ProposalStatus,
    Role,
    Round,
    WithdrawalKind,
)
from competition.proposals.forms import (
    AnswerForm,
    AttachmentForm,
    CommentForm,
    CoSubmissionForm,
    DomainForm,
    HideForm,
    ProposalForm,
    ReportForm,
    SearchForm,
    WithdrawForm,
)
from competition.rounds.views import (
    can_see_drafts,
    load_round,
    load_round_by_id,
    require_organiser,
)
from competition.services import (
    attachments,
    comments,
    domains,
    municipalities,
    proposals,
)
from competition.services.errors import (
    ConflictError,
    DomainError,
    InvalidState,
    ValidationError,
)
from competition.web import safe_next

bp = Blueprint("proposals", __name__)


def _load_proposal(proposal_id: int) -> Proposal:
    return _load_proposal_and_round(proposal_id)[0]


def _load_proposal_and_round(proposal_id: int) -> tuple[Proposal, Round]:
    # The view keeps the round: the session holds loaded rows only while they are referenced,
    # so loading it again later in the request would be another query.
    proposal = proposals.get_proposal(proposal_id)
    rnd = load_round_by_id(proposal.round_id)
    if not proposals.can_view(current_user, proposal):
        abort(404)
    return proposal, rnd


def _public_round(slug: str):
    rnd = load_round(slug)
    if rnd.current_phase is Phase.DRAFT and not can_see_drafts():
        abort(404)
    return rnd


def _domain_choices(form: ProposalForm, proposal: Proposal | None = None) -> None:
    """The active domains, plus the one the proposal already has (it keeps a deactivated one)."""
    locale = str(get_locale())
    offered = proposals.domains()
    if proposal is not None and proposal.domain is not None and proposal.domain not in offered:
        offered.append(proposal.domain)
    form.domain_id.choices = [(0, _("— choose —"))] + [(d.id, d.name(locale)) for d in offered]


def _data(form: ProposalForm) -> proposals.ProposalData:
    return proposals.ProposalData(
        title=form.title.data or "",
        summary=form.summary.data or "",
        description=form.description.data or "",
        problem=form.problem.data or "",
        domain_id=form.domain_id.data or None,
        planned_start=form.planned_start.data,
        estimated_cost=form.estimated_cost.data,
        contact_name=form.contact_name.data or "",
        contact_email=form.contact_email.data or "",
    )


def _similar(rnd, form: ProposalForm, exclude_id: int | None = None):
    text = f"{form.title.data or ''}. {form.summary.data or ''}"
    return proposals.similar_proposals(rnd, text, exclude_id=exclude_id)


# --- public list, export -----------------------------------------------------------------------


@bp.get("/rondes/<slug>/voorstellen")
def index(slug: str):
    """Published proposals of a round: search, filter, sort, paginate."""
    rnd = _public_round(slug)
    form = SearchForm(request.args)
    locale = str(get_locale())
    form.domain.choices = [("", _("All domains"))] + [
        (str(d.id), d.name(locale)) for d in proposals.domains(include_inactive=True)
    ]
    published = (Proposal.round_id == rnd.id, Proposal.status != ProposalStatus.DRAFT.value)
    co_submitting = select(CoSubmission.municipality_id).join(
        Proposal, Proposal.id == CoSubmission.proposal_id).where(
        *published, CoSubmission.status == CoSubmissionStatus.ACCEPTED.value)
    owning = select(Proposal.municipality_id).where(*published)
    involved = db.session.execute(
        select(Municipality.code, Municipality.name)
        .where(or_(Municipality.id.in_(owning), Municipality.id.in_(co_submitting)))
        .order_by(Municipality.name)
    ).all()
    form.municipality.choices = [("", _("All municipalities"))] + [
        (code, name) for code, name in involved
    ]
    form.province.choices = [("", _("All provinces"))] + [
        (p, p) for p in municipalities.PROVINCES
    ]
    form.status.choices = [("", _("Submitted and withdrawn")), ("submitted", _("Submitted")),
                           ("withdrawn", _("Withdrawn"))]
    from competition.services import clustering

    form.cluster.choices = [("", _("All vraagstukken"))] + [
        (str(cid), label) for cid, label in clustering.confirmed_cluster_choices(rnd)
    ]
    form.sort.choices = [("newest", _("Newest first")), ("interest", _("Most interest")),
                         ("title", _("Title (A–Z)"))]
    form.validate()
    filters = _filters(form)
    page = db.paginate(proposals.search_query(rnd, filters), page=_page_number(), per_page=20)
    # Only the form's own fields go into the page links (never "slug", "_external", ...).
    filter_args = {k: v for k, v in request.args.items() if k in SEARCH_ARGS and v}
    return render_template(
        "proposals/index.html", round=rnd, form=form, page=page, filter_args=filter_args,
        interest=proposals.interest_counts([p.id for p in page.items]),
        own=proposals.own_proposals(current_user, rnd),
        can_submit=proposals.start_refusal(current_user, rnd) is None,
    )


SEARCH_ARGS = ("q", "domain", "municipality", "province", "status", "cluster", "sort")


def _filters(form: SearchForm) -> proposals.ProposalFilters:
    """The search filters from the form; a value that is not valid is ignored on its own
    (an unknown domain in a bookmarked URL should not throw away the search words)."""

    def valid(field) -> str:
        value = field.data or ""
        return "" if field.errors else value

    domain = valid(form.domain)
    cluster = valid(form.cluster)
    return proposals.ProposalFilters(
        cluster_id=int(cluster) if cluster.isdigit() and len(cluster) < 10 else None,
        q=proposals.clean_text(valid(form.q)),
        domain_id=int(domain) if domain.isdigit() else None,
        municipality_code=valid(form.municipality),
        province=valid(form.province),
        status=valid(form.status),
        sort=valid(form.sort) or "newest",
    )


def _page_number() -> int:
    page = request.args.get("page", 1, type=int)
    if page < 1 or page > 100_000:
        abort(404)
    return page


@bp.get("/rondes/<slug>/voorstellen.csv")
def export_csv(slug: str):
    """All published proposals of the round as CSV (open data)."""
    rnd = _public_round(slug)
    rows = proposals.export_rows(rnd, _absolute_url)
    return csv_response(rows, proposals.EXPORT_COLUMNS, f"{rnd.slug}-voorstellen.csv")


@bp.get("/rondes/<slug>/voorstellen.json")
def export_json(slug: str):
    """All published proposals of the round as JSON (open data)."""
    rnd = _public_round(slug)
    body = {"round": rnd.slug, "title": rnd.title, "columns": list(proposals.EXPORT_COLUMNS),
            "proposals": proposals.export_rows(rnd, _absolute_url)}
    return Response(json.dumps(body, ensure_ascii=False, indent=1), mimetype="application/json",
                    headers={"Content-Disposition":
                             f'inline; filename="{rnd.slug}-voorstellen.json"'})


def _absolute_url(proposal: Proposal) -> str:
    return url_for("proposals.detail", proposal_id=proposal.id, _external=True)


@bp.get("/rondes/<slug>/voorstellen/vergelijkbaar")
def similar(slug: str):
    """The five most similar proposals for a title and summary (an htmx fragment)."""
    rnd = _public_round(slug)
    form = ProposalForm(request.args, meta={"csrf": False})
    exclude = request.args.get("exclude", type=int)
    return render_template("proposals/_similar.html", similar=_similar(rnd, form, exclude),
                           searched=bool((form.title.data or "").strip()))


# --- writing -----------------------------------------------------------------------------------


@bp.route("/rondes/<slug>/voorstellen/nieuw", methods=["GET", "POST"])
@login_required
def new(slug: str):
    """Write a new proposal: save as draft, submit, or look for similar proposals first."""
    rnd = _public_round(slug)
    refusal = proposals.start_refusal(current_user, rnd)
    if refusal:
        abort(403, refusal)
    form = ProposalForm()
    _domain_choices(form)
    similar = None
    if request.method == "POST" and form.validate():
        action = request.form.get("action", "draft")
        if action == "similar":
            similar = _similar(rnd, form)
        else:
            try:
                proposal = proposals.create_proposal(current_user, rnd, _data(form),
                                                     submit=action == "submit", now=clock.now())
            except ValidationError as exc:
                db.session.rollback()
                attach_error(form, exc)
            else:
                db.session.commit()
                if proposal.is_published:
                    flash(_("Your proposal has been submitted and is now public."), "success")
                else:
                    flash(_("Your draft has been saved. Only your municipality can see it."),
                          "success")
                return redirect(url_for("proposals.detail", proposal_id=proposal.id))
    elif request.method == "POST":
        similar = _similar(rnd, form)
    return render_template("proposals/form.html", form=form, round=rnd, proposal=None,
                           similar=similar)


@bp.route("/voorstellen/<int:proposal_id>/bewerken", methods=["GET", "POST"])
@login_required
def edit(proposal_id: int):
    """Edit a proposal; the previous text is kept in its history."""
    proposal, rnd = _load_proposal_and_round(proposal_id)
    refusal = proposals.edit_refusal(current_user, proposal, rnd)
    if refusal:
        abort(403, refusal)
    form = ProposalForm(obj=proposal)
    _domain_choices(form, proposal)
    similar = None
    status = 200
    if request.method == "GET":
        form.version.data = str(proposal.version)
        form.domain_id.data = proposal.domain_id or 0
    elif form.validate():
        action = request.form.get("action", "save")
        if action == "similar":
            similar = _similar(rnd, form, proposal.id)
        else:
            try:
                proposals.update_proposal(
                    current_user, proposal, _data(form),
                    expected_version=_version(), now=clock.now())
                if action == "submit" and not proposal.is_published:
                    proposals.submit_proposal(current_user, proposal, now=clock.now())
            except DomainError as exc:
                db.session.rollback()
                attach_error(form, exc)
                if isinstance(exc, ConflictError):
                    status = 409
            else:
                db.session.commit()
                flash(_("Your changes have been saved."), "success")
                return redirect(url_for("proposals.detail", proposal_id=proposal.id))
        proposal = proposals.get_proposal(proposal_id)
    return render_template("proposals/form.html", form=form, round=rnd, proposal=proposal,
                           similar=similar), status


def _version() -> int:
    """The version the editor started from, as posted (not filled in from the proposal): a
    missing or mangled one can only conflict."""
    raw = request.form.get("version", "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else -1


@bp.post("/voorstellen/<int:proposal_id>/indienen")
@login_required
def submit(proposal_id: int):
    """Submit a draft: it becomes public."""
    proposal = _load_proposal(proposal_id)
    try:
        proposals.submit_proposal(current_user, proposal, now=clock.now())
    except ValidationError as exc:
        db.session.rollback()
        flash(_("Complete the proposal before submitting: %(reason)s", reason=exc.message),
              "error")
        return redirect(url_for("proposals.edit", proposal_id=proposal_id))
    db.session.commit()
    flash(_("Your proposal has been submitted and is now public."), "success")
    return redirect(url_for("proposals.detail", proposal_id=proposal_id))


@bp.route("/voorstellen/<int:proposal_id>/intrekken", methods=["GET", "POST"])
@login_required
def withdraw(proposal_id: int):
    """Withdraw a proposal with a reason (it stays readable)."""
    proposal = _load_proposal(proposal_id)
    if not proposals.is_owner_member(current_user, proposal):
        abort(403, _("Only the submitting municipality can withdraw its proposal."))
    form = WithdrawForm()
    others = db.session.scalars(
        select(Proposal).where(Proposal.round_id == proposal.round_id,
                               Proposal.id != proposal.id,
                               Proposal.status == ProposalStatus.SUBMITTED.value)
        .order_by(func.lower(Proposal.title))
    ).all()
    form.duplicate_of_id.choices = [(0, _("— choose —"))] + [
        (p.id, f"{p.title} ({p.municipality.name})") for p in others
    ]
    if form.validate_on_submit():
        try:
            proposals.withdraw_proposal(
                current_user, proposal, kind=WithdrawalKind(form.kind.data),
                reason=form.reason.data, duplicate_of_id=form.duplicate_of_id.data or None,
                now=clock.now())
        except ValidationError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("The proposal has been withdrawn."), "success")
            return redirect(url_for("proposals.detail", proposal_id=proposal_id))
    return render_template("proposals/withdraw.html", form=form, proposal=proposal)


# --- reading -----------------------------------------------------------------------------------


@bp.get("/voorstellen/<int:proposal_id>")
def detail(proposal_id: int):
    """A proposal: text, municipalities involved, attachments, questions and comments."""
    proposal, rnd = _load_proposal_and_round(proposal_id)
    user = current_user if current_user.is_authenticated else None
    requests = proposals.cosubmissions(proposal)
    own_request = None
    if user is not None and user.municipality_id is not None:
        own_request = next((c for c in requests if c.municipality_id == user.municipality_id),
                           None)
    interested = proposals.interested_municipalities(proposal)
    return render_template(
        "proposals/detail.html",
        proposal=proposal,
        round=rnd,
        co_submitters=[c for c in requests if c.status == CoSubmissionStatus.ACCEPTED.value],
        pending_requests=[c for c in requests if c.status == CoSubmissionStatus.REQUESTED.value],
        own_request=own_request,
        interested=interested,
        is_interested=bool(user and user.municipality_id in {m.id for m in interested}),
        attachments=attachments.current_attachments(proposal),
        thread=comments.thread(proposal),
        is_following=proposals.is_following(user, proposal),
        can_edit=proposals.edit_refusal(user, proposal, rnd) is None,
        is_owner=proposals.is_owner_member(user, proposal),
        can_mark_interest=proposals.can_mark_interest(user, proposal),
        can_answer=comments.can_answer(user, proposal),
        involved_ids=proposals.involved_municipality_ids(proposal),
        # Forms only for people who can use them: building one starts a CSRF session, which
        # would keep the public page out of the page cache.
        comment_form=CommentForm() if user else None,
        answer_form=AnswerForm() if user else None,
        attachment_form=AttachmentForm() if user else None,
        cosubmission_form=CoSubmissionForm() if user else None,
        version_count=proposals.version_count(proposal),
        cluster=_public_cluster(proposal),
    )


def _public_cluster(proposal: Proposal):
    from competition.services import clustering

    cluster = clustering.cluster_of(proposal)
    return cluster if cluster is not None and cluster.is_confirmed else None


@bp.get("/voorstellen/<int:proposal_id>/geschiedenis")
def history(proposal_id: int):
    """Every saved version of the proposal, newest first, with what changed."""
    proposal = _load_proposal(proposal_id)
    versions = proposals.versions(proposal)
    # The proposal page shows the contact's email address to logged-in users only.
    hidden = set() if current_user.is_authenticated else {"contact_email"}
    changes = []
    for i, version in enumerate(versions):
        previous = versions[i + 1].data if i + 1 < len(versions) else {}
        changed = [k for k, v in version.data.items()
                   if previous.get(k) != v and k not in hidden]
        changes.append((version, changed, previous))
    locale = str(get_locale())
    domain_names = {d.id: d.name(locale) for d in proposals.domains(include_inactive=True)}
    return render_template("proposals/history.html", proposal=proposal, changes=changes,
                           domain_names=domain_names)


# --- attachments -------------------------------------------------------------------------------


@bp.post("/voorstellen/<int:proposal_id>/bijlagen")
@login_required
def upload(proposal_id: int):
    """Upload an attachment (type checked by content; at most 10 MB)."""
    proposal, rnd = _load_proposal_and_round(proposal_id)
    refusal = proposals.edit_refusal(current_user, proposal, rnd)
    if refusal:
        abort(403, refusal)
    form = AttachmentForm()
    if not form.validate_on_submit():
        for message in form.file.errors or [_("Choose a file.")]:
            flash(str(message), "error")
        return redirect(url_for("proposals.detail", proposal_id=proposal_id) + "#bijlagen")
    folder = current_app.config["UPLOAD_FOLDER"]
    storage = form.file.data
    try:
        attachment = attachments.add_attachment(
            current_user, proposal,
            attachments.Upload(filename=storage.filename or "", stream=storage.stream),
            upload_folder=folder, now=clock.now())
    except ValidationError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("proposals.detail", proposal_id=proposal_id) + "#bijlagen")
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        attachments.discard_file(attachment, folder)
        raise
    flash(_("The attachment has been added."), "success")
    return redirect(url_for("proposals.detail", proposal_id=proposal_id) + "#bijlagen")


@bp.get("/bijlagen/<int:attachment_id>/<path:name>")
def download(attachment_id: int, name: str):
    """Download an attachment (served as a download with its checked type)."""
    attachment = attachments.get_attachment(attachment_id)
    proposal = _load_proposal(attachment.proposal_id)
    if attachment.removed_at is not None and not _sees_removed(proposal):
        abort(404)  # taken off the proposal: only its team and the organisers still get it
    response = send_from_directory(
        current_app.config["UPLOAD_FOLDER"], attachment.stored_name,
        mimetype=attachment.media_type, as_attachment=True,
        download_name=attachment.original_name,
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _sees_removed(proposal: Proposal) -> bool:
    user = current_user
    if not user.is_authenticated:
        return False
    return user.has_role(Role.ORGANISER) or (
        user.municipality_id is not None
        and user.municipality_id in proposals.involved_municipality_ids(proposal))


@bp.post("/bijlagen/<int:attachment_id>/verwijderen")
@login_required
def remove_attachment(attachment_id: int):
    """Take an attachment off the proposal."""
    attachment = attachments.get_attachment(attachment_id)
    attachments.remove_attachment(current_user, attachment, now=clock.now())
    db.session.commit()
    flash(_("The attachment has been removed from the proposal."), "success")
    return redirect(url_for("proposals.detail", proposal_id=attachment.proposal_id)
                    + "#bijlagen")


# --- co-submission, interest, following --------------------------------------------------------


@bp.post("/voorstellen/<int:proposal_id>/meedoen")
@login_required
def request_cosubmission(proposal_id: int):
    """Ask to join as co-submitter ("wij ontwikkelen dit ook")."""
    proposal = _load_proposal(proposal_id)
    form = CoSubmissionForm()
    if form.validate_on_submit():
        proposals.request_cosubmission(current_user, proposal, form.message.data or "",
                                       now=clock.now())
        db.session.commit()
        flash(_("Your request has been sent to %(name)s.", name=proposal.municipality.name),
              "success")
    else:
        for message in form.message.errors:
            flash(f"{form.message.label.text}: {message}", "error")
    return redirect(url_for("proposals.detail", proposal_id=proposal_id))


@bp.post("/meedoen/<int:cosubmission_id>/<any(accept, decline):decision>")
@login_required
def decide_cosubmission(cosubmission_id: int, decision: str):
    """Accept or decline a co-submitter."""
    cosubmission = (db.session.get(CoSubmission, cosubmission_id)
                    if proposals.is_db_id(cosubmission_id) else None)
    if cosubmission is None:
        abort(404)
    proposals.decide_cosubmission(current_user, cosubmission, decision == "accept",
                                  now=clock.now())
    db.session.commit()
    flash(_("%(name)s is now a co-submitter.", name=cosubmission.municipality.name)
          if decision == "accept" else _("The request has been declined."), "success")
    return redirect(url_for("proposals.detail", proposal_id=cosubmission.proposal_id))


@bp.post("/voorstellen/<int:proposal_id>/interesse")
@login_required
def interest(proposal_id: int):
    """Mark or unmark "we want to use this too" for one's municipality."""
    proposal = _load_proposal(proposal_id)
    wanted = request.form.get("interested") == "1"
    proposals.set_interest(current_user, proposal, wanted, now=clock.now())
    db.session.commit()
    flash(_("Your municipality's interest has been recorded.") if wanted
          else _("Your municipality's interest has been withdrawn."), "success")
    return redirect(url_for("proposals.detail", proposal_id=proposal_id))


@bp.post("/voorstellen/<int:proposal_id>/volgen")
@login_required
def follow(proposal_id: int):
    """Follow or stop following a proposal."""
    proposal = _load_proposal(proposal_id)
    wanted = request.form.get("follow") == "1"
    proposals.set_follow(current_user, proposal, wanted, now=clock.now())
    db.session.commit()
    flash(_("You follow this proposal.") if wanted
          else _("You no longer follow this proposal."), "success")
    return redirect(url_for("proposals.detail", proposal_id=proposal_id))


# --- questions and comments --------------------------------------------------------------------


@bp.post("/voorstellen/<int:proposal_id>/reacties")
@login_required
@limiter.limit("20 per minute")
def add_comment(proposal_id: int):
    """Ask a question or comment on a proposal."""
    proposal = _load_proposal(proposal_id)
    form = CommentForm()
    if form.validate_on_submit():
        comment = comments.add_comment(current_user, proposal, form.body.data,
                                       CommentKind(form.kind.data), now=clock.now())
        db.session.commit()
        flash(_("Your message has been placed."), "success")
        return redirect(url_for("proposals.detail", proposal_id=proposal_id)
                        + f"#reactie-{comment.id}")
    for field in form:
        for message in field.errors:
            flash(f"{field.label.text}: {message}", "error")
    return redirect(url_for("proposals.detail", proposal_id=proposal_id) + "#reacties")


@bp.post("/reacties/<int:comment_id>/antwoord")
@login_required
def answer(comment_id: int):
    """The submitting municipality answers a question."""
    question = comments.get_comment(comment_id)
    proposal = _load_proposal(question.proposal_id)
    if not comments.can_answer(current_user, proposal):
        abort(403, _("Only the submitting municipalities answer on this proposal."))
    form = AnswerForm()
    if form.validate_on_submit():
        reply = comments.answer(current_user, question, form.body.data, now=clock.now())
        db.session.commit()
        flash(_("Your answer has been placed."), "success")
        return redirect(url_for("proposals.detail", proposal_id=question.proposal_id)
                        + f"#reactie-{reply.id}")
    flash(_("Write an answer of 2 to 5000 characters."), "error")
    return redirect(url_for("proposals.detail", proposal_id=question.proposal_id)
                    + f"#reactie-{question.id}")


@bp.route("/reacties/<int:comment_id>/melden", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def report(comment_id: int):
    """Report a message as abusive (no account needed)."""
    comment = comments.get_comment(comment_id)
    proposal = _load_proposal(comment.proposal_id)
    if comment.is_hidden:
        # The page quotes the message: a hidden one must not be readable here.
        raise InvalidState(_("This message has already been hidden."))
    form = ReportForm()
    if form.validate_on_submit():
        try:
            comments.report(current_user if current_user.is_authenticated else None, comment,
                            form.reason.data, now=clock.now())
        except ValidationError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("Thank you. The organisers will look at this message."), "success")
            return redirect(url_for("proposals.detail", proposal_id=proposal.id)
                            + f"#reactie-{comment.id}")
    return render_template("proposals/report.html", form=form, comment=comment,
                           proposal=proposal)


# --- moderation (organisers) -------------------------------------------------------------------


@bp.get("/beheer/moderatie")
@login_required
def moderation():
    """Reported messages waiting for an organiser."""
    require_organiser()
    return render_template("proposals/moderation.html", reports=comments.open_reports(),
                           hide_form=HideForm())


@bp.post("/beheer/reacties/<int:comment_id>/verbergen")
@login_required
def hide_comment(comment_id: int):
    """Hide a message with a reason shown in its place."""
    require_organiser()
    comment = comments.get_comment(comment_id)
    form = HideForm()
    if form.validate_on_submit():
        comments.hide(current_user, comment, form.reason.data, now=clock.now())
        db.session.commit()
        flash(_("The message has been hidden."), "success")
    else:
        flash(_("Give the reason that will be shown (3 to 500 characters)."), "error")
    return redirect(safe_next(request.form.get("next"), url_for("proposals.moderation")))


@bp.post("/beheer/reacties/<int:comment_id>/afwijzen")
@login_required
def dismiss_reports(comment_id: int):
    """Close the reports on a message without hiding it."""
    require_organiser()
    comment = comments.get_comment(comment_id)
    comments.dismiss_reports(current_user, comment, now=clock.now())
    db.session.commit()
    flash(_("The reports have been closed; the message stays visible."), "success")
    return redirect(url_for("proposals.moderation"))



@bp.route("/beheer/domeinen", methods=["GET", "POST"])
@login_required
def domain_list():
    """The domain list: add, rename, reorder and (de)activate domains."""
    require_organiser()
    form = DomainForm(prefix="new")
    if form.validate_on_submit():
        try:
            domains.create_domain(current_user, domains.DomainData(
                form.name_nl.data, form.name_en.data, form.position.data or 0), now=clock.now())
        except ValidationError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("The domain has been added."), "success")
            return redirect(url_for("proposals.domain_list"))
    # formdata=None: after a failed "add", the rows must show the stored values (a POST
    # without a row's fields would otherwise untick its "in use" box).
    edit_forms = [(d, DomainForm(formdata=None, obj=d, prefix=f"d{d.id}"))
                  for d in proposals.domains(include_inactive=True)]
    return render_template("proposals/domains.html", form=form, edit_forms=edit_forms)


@bp.post("/beheer/domeinen/<int:domain_id>")
@login_required
def domain_update(domain_id: int):
    """Save changes to one domain."""
    require_organiser()
    domain = domains.get_domain(domain_id)
    form = DomainForm(prefix=f"d{domain.id}")
    if form.validate_on_submit():
        try:
            domains.update_domain(current_user, domain, domains.DomainData(
                form.name_nl.data, form.name_en.data, form.position.data or 0,
                form.is_active.data), now=clock.now())
        except ValidationError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            flash(_("The domain has been saved."), "success")
    else:
        flash(_("Check the names: 2 to 80 characters each."), "error")
    return redirect(url_for("proposals.domain_list"))
