"""Organiser pages: rounds and their clock, invitations, users, municipalities, audit log."""

from datetime import datetime, time, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select

from competition import clock
from competition.admin.forms import (
    LOCAL_TZ,
    SCHEDULED_PHASES,
    ActionForm,
    AuditFilterForm,
    ClosePhaseForm,
    ExtendPhaseForm,
    InviteForm,
    MunicipalitySearchForm,
    NewRoundForm,
    RoundForm,
    ScheduleForm,
    UserForm,
    percent_to_fraction,
    to_local,
    to_utc,
)
from competition.extensions import db
from competition.forms import attach_error
from competition.models import AuditEvent, Invitation, Municipality, Phase, Role, User
from competition.rounds.views import load_round
from competition.services import accounts, audit, municipalities, rounds
from competition.services.errors import DomainError, ValidationError

bp = Blueprint("admin", __name__, url_prefix="/beheer")


@bp.before_request
def organisers_only():
    """Every organiser page: anonymous visitors go to login, other roles get 403."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    accounts.require_role(current_user, Role.ORGANISER)
    return None


def _round_data(form: RoundForm) -> rounds.RoundData:
    return rounds.RoundData(
        title=form.title.data or "",
        theme=form.theme.data or "",
        description=form.description.data or "",
        max_finalists=form.max_finalists.data,
        max_winners=int(form.max_winners.data),
        jury_weight=form.jury_weight.data / 100,
        vote_weighting=form.vote_weighting.data,
        diversity_threshold=percent_to_fraction(form.diversity_threshold.data),
        is_own_finalist_vote_allowed=form.is_own_finalist_vote_allowed.data,
        are_juror_names_public=form.are_juror_names_public.data,
        are_ballots_anonymous=form.are_ballots_anonymous.data,
        estimated_cost=form.estimated_cost.data,
    )


def _schedule_from(form: ScheduleForm) -> dict[Phase, datetime | None]:
    ends: dict[Phase, datetime | None] = {
        p: to_utc(getattr(form, f"end_{p.value}").data) for p in SCHEDULED_PHASES
    }
    ends[Phase.ADOPTION] = None
    return ends


def _fill_schedule(form: ScheduleForm, ends: dict[Phase, datetime | None]) -> None:
    for phase in SCHEDULED_PHASES:
        field = getattr(form, f"end_{phase.value}")
        if field.data is None:
            field.data = to_local(ends[phase])


@bp.get("/")
def dashboard():
    """Organiser overview: rounds, and quick counts."""
    counts = {
        "users": accounts.count_users(),
        "pending": db.session.scalar(
            select(func.count(Invitation.id)).where(
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > clock.now(),
            )
        ),
        "municipalities": db.session.scalar(
            select(func.count(Municipality.id)).where(Municipality.is_active)
        ),
    }
    return render_template("admin/dashboard.html", rounds=rounds.all_rounds(), counts=counts)


@bp.route("/rondes/nieuw", methods=["GET", "POST"])
def new_round():
    """Create a round: title, theme, rules and the schedule of its phases."""
    now = clock.now()
    form = NewRoundForm()
    if request.method == "GET":
        start = datetime.combine(now.astimezone(LOCAL_TZ).date(), time(9, 0), LOCAL_TZ)
        _fill_schedule(form, rounds.default_schedule(start))
    if form.validate_on_submit():
        try:
            rnd = rounds.create_round(current_user, _round_data(form), _schedule_from(form),
                                      now=now)
        except ValidationError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("Round “%(title)s” created as a draft.", title=rnd.title), "success")
            return redirect(url_for("admin.round_detail", slug=rnd.slug))
    return render_template("admin/round_form.html", form=form, round=None,
                           schedule_fields=_schedule_fields(form))


def _schedule_fields(form: ScheduleForm) -> list:
    return [getattr(form, f"end_{p.value}") for p in SCHEDULED_PHASES]


@bp.get("/rondes/<slug>")
def round_detail(slug: str):
    """A round's control room: timeline, current phase, close early or extend."""
    rnd = load_round(slug)
    now = clock.now()
    close_form = ClosePhaseForm()
    extend_form = ExtendPhaseForm()
    extend_form.phase.data = rnd.current_phase.value
    window = rnd.window(rnd.current_phase)
    if window.ends_at is not None:
        extend_form.new_end.data = to_local(max(window.ends_at, now) + timedelta(days=7))
    target = rnd.current_phase.next
    return render_template(
        "admin/round_detail.html",
        round=rnd,
        close_form=close_form,
        extend_form=extend_form,
        next_phase=target,
        blocking=rounds.blocking_reasons(rnd, target, now) if target else [],
        overdue=rounds.overdue_reasons(rnd, now),
        events=db.session.scalars(audit.query_events(round_id=rnd.id).limit(10)).all(),
    )


@bp.route("/rondes/<slug>/bewerken", methods=["GET", "POST"])
def edit_round(slug: str):
    """Edit a round's texts; its rules only while it is a draft."""
    rnd = load_round(slug)
    form = RoundForm(obj=rnd)
    if request.method == "GET":
        form.max_winners.data = str(rnd.max_winners)
        form.jury_weight.data = rnd.jury_weight * 100
        form.diversity_threshold.data = rnd.diversity_threshold * 100
    if form.validate_on_submit():
        try:
            rounds.update_round(current_user, rnd, _round_data(form), now=clock.now())
        except DomainError as exc:
            db.session.rollback()
            rnd = rounds.get_round(slug)
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("The round has been saved."), "success")
            return redirect(url_for("admin.round_detail", slug=rnd.slug))
    return render_template("admin/round_form.html", form=form, round=rnd, schedule_fields=[])


@bp.route("/rondes/<slug>/planning", methods=["GET", "POST"])
def schedule(slug: str):
    """Change the planned end of the phases that have not ended yet."""
    rnd = load_round(slug)
    form = ScheduleForm()
    if request.method == "GET":
        _fill_schedule(form, {Phase(w.phase): w.ends_at for w in rnd.windows})
    past = {p.value for p in SCHEDULED_PHASES if p.index < rnd.current_phase.index}
    if request.method == "POST":
        # Ended phases are shown read-only and not submitted; keep their stored dates.
        for phase in SCHEDULED_PHASES:
            field = getattr(form, f"end_{phase.value}")
            if phase.value in past:
                field.data = to_local(rnd.window(phase).ends_at)
                field.raw_data = [field.data.strftime("%Y-%m-%dT%H:%M")]
                field.process_errors = []
    if form.validate_on_submit():
        ends = _schedule_from(form)
        for phase in SCHEDULED_PHASES:
            # The form shows whole minutes: an unchanged field keeps the stored moment exactly.
            stored = rnd.window(phase).ends_at
            if stored is not None and ends[phase] == to_utc(to_local(stored)):
                ends[phase] = stored
        try:
            rounds.reschedule(current_user, rnd, ends, now=clock.now())
        except DomainError as exc:
            db.session.rollback()
            rnd = rounds.get_round(slug)
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("The schedule has been saved."), "success")
            return redirect(url_for("admin.round_detail", slug=rnd.slug))
    return render_template("admin/schedule.html", form=form, round=rnd, past=past,
                           schedule_fields=_schedule_fields(form))


@bp.post("/rondes/<slug>/fase/<phase>/sluiten")
def close_phase(slug: str, phase: str):
    """Close the current phase now and open the next one."""
    rnd = load_round(slug)
    try:
        phase_enum = Phase(phase)
    except ValueError:
        abort(404)
    form = ClosePhaseForm()
    if not form.validate_on_submit():
        if form.reason.errors:
            flash(" ".join(str(e) for e in form.reason.errors), "error")
        else:
            flash(_("The form has expired; please try again."), "error")
        return redirect(url_for("admin.round_detail", slug=slug))
    try:
        entered = rounds.close_phase(rnd, phase_enum, actor=current_user, now=clock.now(),
                                     reason=form.reason.data or "")
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    else:
        db.session.commit()
        flash(_("Phase “%(phase)s” has opened.", phase=rounds.phase_label(entered)), "success")
    return redirect(url_for("admin.round_detail", slug=slug))


@bp.post("/rondes/<slug>/fase/verlengen")
def extend_phase(slug: str):
    """Move the end of the current phase."""
    rnd = load_round(slug)
    form = ExtendPhaseForm()
    if form.validate_on_submit():
        try:
            rounds.extend_phase(current_user, rnd, to_utc(form.new_end.data), now=clock.now(),
                                phase=Phase(form.phase.data) if form.phase.data else None)
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            flash(_("The end of the phase has been moved."), "success")
    else:
        flash(_("Enter a valid date and time."), "error")
    return redirect(url_for("admin.round_detail", slug=slug))


# --- invitations -------------------------------------------------------------------------------


def _municipality_choices(optional_label: str) -> list[tuple[int, str]]:
    return [(0, optional_label), *municipalities.active_choices()]


@bp.route("/uitnodigingen", methods=["GET", "POST"])
def invitations():
    """Invite people and see the invitations sent."""
    now = clock.now()
    form = InviteForm()
    form.municipality_id.choices = _municipality_choices(_("— none (jury or organiser) —"))
    if form.validate_on_submit():
        data = accounts.InvitationData(
            email=form.email.data,
            name=form.name.data,
            municipality_id=form.municipality_id.data or None,
            roles=frozenset(Role(r) for r in form.roles.data),
        )
        try:
            invitation = accounts.invite(current_user, data, now=now)
        except ValidationError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("Invitation sent to %(email)s.", email=invitation.email), "success")
            return redirect(url_for("admin.invitations"))
    page = db.paginate(
        select(Invitation).order_by(Invitation.created_at.desc(), Invitation.id.desc()),
        per_page=25,
    )
    return render_template("admin/invitations.html", form=form, page=page,
                           action_form=ActionForm())


def _invitation(invitation_id: int) -> Invitation:
    return db.get_or_404(Invitation, invitation_id)


@bp.post("/uitnodigingen/<int:invitation_id>/opnieuw")
def resend_invitation(invitation_id: int):
    """Send an invitation again with a fresh link."""
    invitation = _invitation(invitation_id)
    if ActionForm().validate_on_submit():
        try:
            accounts.resend_invitation(current_user, invitation, now=clock.now())
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            flash(_("Invitation sent again to %(email)s.", email=invitation.email), "success")
    return redirect(url_for("admin.invitations"))


@bp.post("/uitnodigingen/<int:invitation_id>/intrekken")
def revoke_invitation(invitation_id: int):
    """Withdraw a pending invitation."""
    invitation = _invitation(invitation_id)
    if ActionForm().validate_on_submit():
        try:
            accounts.revoke_invitation(current_user, invitation, now=clock.now())
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            flash(_("The invitation to %(email)s was withdrawn.", email=invitation.email),
                  "success")
    return redirect(url_for("admin.invitations"))


# --- users -------------------------------------------------------------------------------------


@bp.get("/gebruikers")
def users():
    """All users, searchable by name or email, filterable by role."""
    q = _search_text(request.args.get("q"))
    role = request.args.get("rol") or ""
    stmt = select(User).order_by(func.lower(User.name))
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(or_(func.lower(User.name).like(like), User.email.like(like)))
    if role in {r.value for r in Role}:
        stmt = stmt.where(getattr(User, f"is_{role}").is_(True))
    page = db.paginate(stmt, per_page=50)
    return render_template("admin/users.html", page=page, q=q, role=role)


@bp.route("/gebruikers/<int:user_id>", methods=["GET", "POST"])
def edit_user(user_id: int):
    """Change a user's roles, municipality or active flag."""
    user = db.get_or_404(User, user_id)
    form = UserForm(obj=user)
    form.municipality_id.choices = _municipality_choices(_("— none —"))
    current = user.municipality
    if current is not None and not current.is_active:
        # After a merger the user's old municipality stays selectable until moved.
        form.municipality_id.choices.append(
            (current.id, f"{current.name} ({current.province}, {_('inactive')})")
        )
    if request.method == "GET":
        form.municipality_id.data = user.municipality_id or 0
        form.roles.data = [r.value for r in user.roles]
    if form.validate_on_submit():
        changes = accounts.UserChanges(
            name=form.name.data,
            municipality_id=form.municipality_id.data or None,
            roles=frozenset(Role(r) for r in form.roles.data),
            is_active=form.is_active.data,
        )
        try:
            accounts.update_user(current_user, user, changes, now=clock.now())
        except ValidationError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("%(name)s has been saved.", name=user.name), "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=user)


def _search_text(value: str | None) -> str:
    """Free text for a search filter (NUL removed: PostgreSQL refuses it in text)."""
    return (value or "").replace("\x00", "").strip()


# --- municipalities ----------------------------------------------------------------------------


@bp.get("/gemeenten")
def municipality_list():
    """The municipalities, searchable, with their active flag."""
    form = MunicipalitySearchForm(request.args)
    form.province.choices = [("", _("All provinces"))] + [
        (p, p) for p in municipalities.PROVINCES
    ]
    stmt = select(Municipality).order_by(func.lower(Municipality.name))
    if form.validate():
        if _search_text(form.q.data):
            like = f"%{_search_text(form.q.data).lower()}%"
            stmt = stmt.where(
                or_(func.lower(Municipality.name).like(like),
                    func.lower(Municipality.code).like(like))
            )
        if form.province.data:
            stmt = stmt.where(Municipality.province == form.province.data)
    page = db.paginate(stmt, per_page=50)
    return render_template("admin/municipalities.html", form=form, page=page,
                           action_form=ActionForm())


@bp.post("/gemeenten/<code>/actief")
def toggle_municipality(code: str):
    """Activate or deactivate a municipality (e.g. after a merger)."""
    municipality = municipalities.get_by_code(code)
    if ActionForm().validate_on_submit():
        municipalities.set_active(current_user, municipality, not municipality.is_active,
                                  now=clock.now())
        db.session.commit()
        flash(_("%(name)s saved.", name=municipality.name), "success")
    return redirect(request.referrer if request.referrer and request.referrer.startswith(
        request.host_url) else url_for("admin.municipality_list"))


# --- audit log ---------------------------------------------------------------------------------


@bp.get("/audit")
def audit_log():
    """The audit log, filterable by action, person, round, object and date."""
    form = AuditFilterForm(request.args)
    form.action.choices = [("", _("All actions"))] + [(a, a) for a in audit.distinct_actions()]
    form.round.choices = [("", _("All rounds"))] + [
        (str(r.id), r.title) for r in rounds.all_rounds()
    ]
    types = db.session.scalars(
        select(AuditEvent.object_type).distinct().order_by(AuditEvent.object_type)
    ).all()
    form.object_type.choices = [("", _("All types"))] + [(t, t) for t in types]
    filters: dict = {}
    if form.validate():
        if form.actor.data:
            actor = accounts.find_user_by_email(form.actor.data)
            filters["actor_id"] = actor.id if actor else -1
        filters.update(
            action=form.action.data or None,
            object_type=form.object_type.data or None,
            object_id=_search_text(form.object_id.data) or None,
            round_id=int(form.round.data) if form.round.data else None,
            since=_local_midnight(form.since.data),
            until=_local_midnight(form.until.data, next_day=True),
        )
    page = db.paginate(audit.query_events(**filters), per_page=50)
    filter_args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("admin/audit.html", form=form, page=page, filter_args=filter_args)


def _local_midnight(day, next_day: bool = False) -> datetime | None:
    if day is None:
        return None
    if next_day:
        day = day + timedelta(days=1)
    return datetime.combine(day, time(0, 0), LOCAL_TZ)
