"""The jury: jurors score their proposals; organisers set criteria, assign jurors and follow
progress."""

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user, login_required

from competition import clock
from competition.extensions import db
from competition.forms import flash_form_errors, perform
from competition.jury.forms import AssignForm, ConflictForm, CriterionForm, scorecard_form
from competition.models import Phase, Role, User
from competition.rounds.views import load_round, load_round_by_id, require_organiser
from competition.services import accounts, clustering, preselection, proposals
from competition.services.preselection import CriterionData, ScoreInput

bp = Blueprint("jury", __name__)


def _locale() -> str:
    return str(get_locale() or "nl")


def _require_juror() -> None:
    accounts.require_role(current_user, Role.JURY)


# --- the juror's side --------------------------------------------------------------------------


@bp.get("/jury")
@login_required
def index():
    """The juror's rounds."""
    _require_juror()
    rounds = preselection.juror_rounds(current_user)
    if len(rounds) == 1:
        return redirect(url_for("jury.round_tasks", slug=rounds[0].slug))
    return render_template("jury/index.html", rounds=rounds)


@bp.get("/jury/rondes/<slug>")
@login_required
def round_tasks(slug: str):
    """The juror's list for a round: proposals per vraagstuk and where each scorecard stands."""
    _require_juror()
    rnd = load_round(slug)
    member = preselection.membership(current_user, rnd)
    if member is None:
        abort(403)
    tasks = preselection.tasks(member)
    return render_template("jury/round.html", round=rnd, member=member, tasks=tasks,
                           criteria=preselection.criteria(rnd), locale=_locale(),
                           is_open=rnd.current_phase is Phase.PRESELECTION)


def _task_or_403(proposal_id: int):
    _require_juror()
    proposal = proposals.get_proposal(proposal_id)
    rnd = load_round_by_id(proposal.round_id)
    return rnd, proposal, preselection.task(current_user, proposal)


@bp.route("/jury/voorstellen/<int:proposal_id>", methods=["GET", "POST"])
@login_required
def scorecard(proposal_id: int):
    """Score one proposal on every criterion; save as a draft or submit."""
    rnd, proposal, task = _task_or_403(proposal_id)
    criteria = preselection.criteria(rnd)
    locale = _locale()
    if request.method == "POST":
        form = scorecard_form(criteria, locale, formdata=request.form)
        submit = request.form.get("action") == "submit"
        if form.validate():
            inputs = [ScoreInput(c.id, form[f"c{c.id}"].data,
                                 form[f"c{c.id}_comment"].data or "") for c in criteria]
            done = perform(
                lambda: preselection.save_scorecard(current_user, proposal, inputs,
                                                    submit=submit, now=clock.now()),
                _("Your scorecard has been submitted. You can change it until the "
                  "preselection ends.") if submit else
                _("Your scores have been saved as a draft. They count once you submit."),
                form=form)
            if done:
                return redirect(url_for("jury.round_tasks", slug=rnd.slug)
                                + f"#proposal-{proposal.id}")
    else:
        form = scorecard_form(criteria, locale, card=task.scorecard)
    return render_template("jury/scorecard.html", round=rnd, proposal=proposal, task=task,
                           criteria=criteria, form=form, conflict_form=ConflictForm(),
                           locale=locale, is_open=rnd.current_phase is Phase.PRESELECTION)


@bp.post("/jury/voorstellen/<int:proposal_id>/conflict")
@login_required
def declare_conflict(proposal_id: int):
    """Declare a conflict of interest: the juror no longer scores this proposal."""
    _rnd, proposal, _task = _task_or_403(proposal_id)
    form = ConflictForm()
    if form.validate_on_submit():
        perform(lambda: preselection.declare_conflict(current_user, proposal, form.reason.data,
                                                      now=clock.now()),
                _("Your conflict of interest has been recorded: you are recused from this "
                  "proposal."))
    else:
        flash_form_errors(form)
    return redirect(url_for("jury.scorecard", proposal_id=proposal.id))


@bp.post("/jury/voorstellen/<int:proposal_id>/conflict/intrekken")
@login_required
def withdraw_conflict(proposal_id: int):
    """Withdraw a declared conflict (a mistake): the juror may score the proposal again."""
    _rnd, proposal, _task = _task_or_403(proposal_id)
    perform(lambda: preselection.withdraw_conflict(current_user, proposal, now=clock.now()),
            _("Your declaration has been withdrawn."))
    return redirect(url_for("jury.scorecard", proposal_id=proposal.id))


# --- the organiser's side ----------------------------------------------------------------------


def _organiser_round(slug: str):
    require_organiser()
    return load_round(slug)


def _manage_url(rnd, anchor: str = "") -> str:
    return url_for("jury.manage", slug=rnd.slug) + (f"#{anchor}" if anchor else "")


def _assign_form(rnd, formdata=None) -> AssignForm:
    form = AssignForm(formdata=formdata) if formdata is not None else AssignForm()
    form.user_id.choices = [(u.id, f"{u.name} ({u.email})")
                            for u in preselection.jury_candidates(rnd)]
    form.cluster_ids.choices = [(c.id, c.label) for c in clustering.confirmed_clusters(rnd)]
    return form


def _criterion_data(form: CriterionForm) -> CriterionData:
    return CriterionData(
        name_nl=form.name_nl.data or "", name_en=form.name_en.data or "",
        description_nl=form.description_nl.data or "",
        description_en=form.description_en.data or "",
        scale_min=form.scale_min.data, scale_max=form.scale_max.data,
        weight=float(form.weight.data))


@bp.route("/beheer/rondes/<slug>/jury", methods=["GET", "POST"])
@login_required
def manage(slug: str):
    """Criteria, jurors and scoring progress of a round."""
    rnd = _organiser_round(slug)
    criteria_open = rnd.current_phase is Phase.DRAFT
    criterion_form = CriterionForm(prefix="new")
    # Once the round left draft the page no longer shows the form, so a refusal (a form opened
    # earlier and posted now) is flashed instead of attached to the hidden form.
    if criterion_form.validate_on_submit() and perform(
            lambda: preselection.add_criterion(current_user, rnd, _criterion_data(criterion_form),
                                               now=clock.now()),
            _("The criterion has been added."),
            form=criterion_form if criteria_open else None):
        return redirect(_manage_url(rnd, "criteria"))
    return render_template(
        "jury/manage.html", round=rnd, criteria=preselection.criteria(rnd),
        criterion_form=criterion_form, assign_form=_assign_form(rnd),
        progress=preselection.progress(rnd), locale=_locale(),
        criteria_open=criteria_open,
        jury_open=rnd.current_phase.index <= Phase.PRESELECTION.index,
        scoring_open=rnd.current_phase is Phase.PRESELECTION)


@bp.route("/beheer/criteria/<int:criterion_id>", methods=["GET", "POST"])
@login_required
def edit_criterion(criterion_id: int):
    """Change a criterion (while the round is a draft)."""
    require_organiser()
    criterion = preselection.get_criterion(criterion_id)
    rnd = load_round_by_id(criterion.round_id)
    form = CriterionForm(obj=criterion)
    if form.validate_on_submit() and perform(
            lambda: preselection.update_criterion(current_user, criterion, _criterion_data(form),
                                                  now=clock.now()),
            _("The criterion has been changed."), form=form):
        return redirect(_manage_url(rnd, "criteria"))
    return render_template("jury/criterion.html", round=rnd, criterion=criterion, form=form,
                           is_open=rnd.current_phase is Phase.DRAFT)


@bp.post("/beheer/criteria/<int:criterion_id>/verwijderen")
@login_required
def remove_criterion(criterion_id: int):
    """Remove a criterion (while the round is a draft)."""
    require_organiser()
    criterion = preselection.get_criterion(criterion_id)
    rnd = load_round_by_id(criterion.round_id)
    perform(lambda: preselection.remove_criterion(current_user, criterion, now=clock.now()),
            _("The criterion has been removed."))
    return redirect(_manage_url(rnd, "criteria"))


@bp.post("/beheer/rondes/<slug>/jury/toewijzen")
@login_required
def assign(slug: str):
    """Make a user a juror of the round (for all or some vraagstukken)."""
    rnd = _organiser_round(slug)
    form = _assign_form(rnd, formdata=request.form)
    if form.validate_on_submit():
        user = db.session.get(User, form.user_id.data)
        if user is None:
            abort(404)
        perform(lambda: preselection.assign_juror(current_user, rnd, user,
                                                  form.cluster_ids.data or [], now=clock.now()),
                _("%(name)s is a juror of this round.", name=user.name))
    else:
        flash_form_errors(form)
    return redirect(_manage_url(rnd, "jurors"))


@bp.post("/beheer/jury/<int:member_id>/verwijderen")
@login_required
def remove(member_id: int):
    """Take a juror off the round."""
    require_organiser()
    member = preselection.get_jury_member(member_id)
    rnd = load_round_by_id(member.round_id)
    name = member.user.name
    perform(lambda: preselection.remove_juror(current_user, member, now=clock.now()),
            _("%(name)s is no longer a juror of this round.", name=name))
    return redirect(_manage_url(rnd, "jurors"))


@bp.post("/beheer/rondes/<slug>/jury/herinneren")
@login_required
def remind(slug: str):
    """Mail every juror who still has scorecards to submit."""
    rnd = _organiser_round(slug)
    perform(lambda: preselection.send_reminders(current_user, rnd, now=clock.now()),
            lambda count: ngettext("%(num)d juror has been reminded.",
                                   "%(num)d jurors have been reminded.", count))
    return redirect(_manage_url(rnd, "progress"))
