"""Forms for running clustering and correcting its suggestion."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from competition.admin.forms import PercentField


class RunForm(FlaskForm):
    threshold = PercentField(
        _l("Similarity threshold (%)"),
        description=_l("Optional. Higher makes smaller, tighter clusters; empty uses the "
                       "measured default."),
        validators=[Optional(), NumberRange(min=5, max=95)],
    )
    replace_manual = BooleanField(
        _l("Also replace clusters I confirmed or changed by hand"),
        description=_l("Without this, your confirmed and edited clusters and the proposals you "
                       "placed stay as they are."),
    )


class RenameForm(FlaskForm):
    label = StringField(_l("Name"), validators=[DataRequired(), Length(min=3, max=120)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])


class MoveForm(FlaskForm):
    target_id = SelectField(_l("Move to"), coerce=int, validators=[DataRequired()])


class MergeForm(FlaskForm):
    target_id = SelectField(_l("Merge into"), coerce=int, validators=[DataRequired()])
