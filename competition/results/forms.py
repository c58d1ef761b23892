"""Forms on the results pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length


class OverrideForm(FlaskForm):
    make_finalist = HiddenField(validators=[AnyOf(["1", "0"])])
    reason = TextAreaField(
        _l("Reason (published with the result)"),
        validators=[DataRequired(), Length(min=10, max=2000)])
