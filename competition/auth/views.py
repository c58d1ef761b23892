"""Login, logout, invitations, password reset and one's own account."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from competition import clock
from competition.auth.forms import (
    AcceptInvitationForm,
    ChangePasswordForm,
    ForgotPasswordForm,
    LoginForm,
    MailSettingsForm,
    SetPasswordForm,
)
from competition.extensions import db, limiter
from competition.forms import attach_error, perform
from competition.services import accounts, notifications
from competition.services.errors import InvalidState, ValidationError
from competition.web import safe_next

bp = Blueprint("auth", __name__)


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _login_email_key() -> str:
    # A second limit per account, so spreading attempts over many addresses does not help.
    return "login:" + (request.form.get("email") or "").strip().lower()


@bp.route("/inloggen", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_login_email_key)
def login():
    """Log in with email and password."""
    if current_user.is_authenticated:
        return redirect(url_for("rounds.home"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.email.data, form.password.data, now=clock.now())
        except ValidationError as exc:
            db.session.commit()  # keep the audit record of the failed attempt
            attach_error(form, exc)
        else:
            db.session.commit()
            login_user(user)
            if user.locale in current_app.config["LANGUAGES"]:
                from flask import session

                session["lang"] = user.locale
            flash(_("Welcome, %(name)s.", name=user.name), "success")
            return redirect(safe_next(request.args.get("next"), url_for("rounds.home")))
    return render_template("auth/login.html", form=form)


@bp.post("/uitloggen")
@login_required
def logout():
    """Log out (a form post, so other sites cannot log you out)."""
    accounts.record_logout(current_user._get_current_object(), now=clock.now())
    db.session.commit()
    logout_user()
    flash(_("You are logged out."), "info")
    return redirect(url_for("rounds.home"))


@bp.route("/uitnodiging/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    """Accept an invitation: choose a password and the account is created."""
    now = clock.now()
    try:
        invitation = accounts.invitation_for_token(token, now=now)
    except InvalidState as exc:
        return render_template("auth/invitation_invalid.html", message=str(exc.message)), 410
    form = AcceptInvitationForm(name=invitation.name)
    if form.validate_on_submit():
        try:
            user = accounts.accept_invitation(
                token, form.password.data, now=now, name=form.name.data
            )
        except ValidationError as exc:
            db.session.rollback()
            attach_error(form, exc)
        except InvalidState as exc:
            db.session.rollback()
            return render_template("auth/invitation_invalid.html", message=str(exc.message)), 410
        else:
            db.session.commit()
            logout_user()  # whoever was logged in on this browser before
            login_user(user)
            flash(_("Your account is ready. Welcome, %(name)s.", name=user.name), "success")
            return redirect(url_for("rounds.home"))
    return render_template("auth/accept_invitation.html", form=form, invitation=invitation)


def _reset_email_key() -> str:
    return "reset:" + (request.form.get("email") or "").strip().lower()


@bp.route("/wachtwoord-vergeten", methods=["GET", "POST"])
@limiter.limit("5 per minute", methods=["POST"])
# Per address too, so nobody can flood one mailbox with reset mails from many IP addresses.
@limiter.limit("3 per hour", methods=["POST"], key_func=_reset_email_key)
def forgot_password():
    """Ask for a password reset link by email."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        accounts.request_password_reset(form.email.data, now=clock.now())
        db.session.commit()
        flash(
            _("If an account exists for this address, we have sent a link to reset the password."),
            "info",
        )
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/wachtwoord-herstellen/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """Choose a new password from an emailed link."""
    now = clock.now()
    try:
        accounts.user_for_reset_token(token, now=now)
    except InvalidState as exc:
        return render_template("auth/reset_invalid.html", message=str(exc.message)), 410
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            user = accounts.reset_password(token, form.password.data, now=now)
        except ValidationError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            logout_user()
            login_user(user)
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("rounds.home"))
    return render_template("auth/reset_password.html", form=form)


def _mail_settings_form(formdata=None) -> MailSettingsForm:
    """The mail settings form, filled from the user's settings unless posted."""
    if formdata is not None:
        return MailSettingsForm(formdata=formdata)
    return MailSettingsForm(
        formdata=None,
        categories=notifications.wanted_categories(current_user._get_current_object()))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    """One's own account: details, mail settings and changing the password."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(
                current_user, form.current_password.data, form.password.data, now=clock.now()
            )
        except ValidationError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            # The session token changed: log in again on this device, all others are logged out.
            login_user(current_user._get_current_object())
            flash(_("Your password has been changed; other sessions have been logged out."),
                  "success")
            return redirect(url_for("auth.account"))
    return render_template("auth/account.html", form=form, mail_form=_mail_settings_form())


@bp.post("/account/mail")
@login_required
def mail_settings():
    """Save which kinds of mail one receives."""
    mail_form = _mail_settings_form(request.form)
    if mail_form.validate() and perform(
        lambda: notifications.set_wanted_categories(
            current_user._get_current_object(), mail_form.categories.data or [],
            now=clock.now()),
        _("Your mail settings have been saved."), form=mail_form,
    ):
        return redirect(url_for("auth.account", _anchor="mail-settings"))
    return render_template("auth/account.html", form=ChangePasswordForm(formdata=None),
                           mail_form=mail_form), 400
