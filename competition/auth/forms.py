"""Forms for logging in, invitations and passwords."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from competition.admin.forms import MultiCheckboxField
from competition.services import notifications


class LoginForm(FlaskForm):
    email = EmailField(_l("Email address"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


class SetPasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password"),
        description=_l("At least 12 characters. A sentence of several words works well."),
        validators=[DataRequired(), Length(max=1024)],
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class AcceptInvitationForm(SetPasswordForm):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=120)])


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("Email address"), validators=[DataRequired(), Length(max=254)])


class ChangePasswordForm(SetPasswordForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(), Length(max=1024)]
    )


class MailSettingsForm(FlaskForm):
    """Which kinds of mail the user receives (unchecked: switched off)."""

    categories = MultiCheckboxField(
        _l("Send me mail about"),
        description=_l("Mail about your account (invitations, password resets) is always sent."),
        choices=[(c, notifications.category_label(c)) for c in notifications.OPTIONAL],
        validate_choice=False,  # the service refuses unknown categories with a clear message
    )
