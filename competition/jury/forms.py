"""Forms for the jury: criteria, assignments, scorecards and conflicts."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from competition.admin.forms import MultiCheckboxField, PercentField


class CriterionForm(FlaskForm):
    name_nl = StringField(_l("Name (Dutch)"), validators=[DataRequired(), Length(max=120)])
    name_en = StringField(_l("Name (English)"), validators=[Optional(), Length(max=120)])
    description_nl = TextAreaField(_l("Description (Dutch)"),
                                   validators=[Optional(), Length(max=2000)])
    description_en = TextAreaField(_l("Description (English)"),
                                   validators=[Optional(), Length(max=2000)])
    scale_min = IntegerField(_l("Lowest score"), default=1,
                             validators=[InputRequired(), NumberRange(min=0, max=99)])
    scale_max = IntegerField(_l("Highest score"), default=5,
                             validators=[InputRequired(), NumberRange(min=1, max=100)])
    weight = PercentField(
        _l("Weight"), default=1.0,
        description=_l("Relative to the other criteria: a criterion with weight 2 counts twice "
                       "as much as one with weight 1."),
        validators=[InputRequired(), NumberRange(min=0.01, max=100)])


class AssignForm(FlaskForm):
    user_id = SelectField(_l("Juror"), coerce=int, validators=[DataRequired()])
    cluster_ids = MultiCheckboxField(
        _l("Vraagstukken"), coerce=int,
        description=_l("Leave all unticked to let this juror score every vraagstuk."))


class ConflictForm(FlaskForm):
    reason = StringField(_l("Why do you have a conflict of interest?"),
                         validators=[DataRequired(), Length(min=3, max=1000)])


def scorecard_form(criteria, locale: str, card=None, formdata=None) -> FlaskForm:
    """A form with, per criterion, a score (radio buttons over its scale) and a comment."""
    from wtforms import RadioField

    class ScorecardForm(FlaskForm):
        pass

    data = {}
    for c in criteria:
        setattr(ScorecardForm, f"c{c.id}", RadioField(
            c.name(locale), choices=[(v, str(v)) for v in c.scale], coerce=int,
            description=c.description(locale), validators=[Optional()]))
        setattr(ScorecardForm, f"c{c.id}_comment", TextAreaField(
            _l("Comment on “%(name)s”", name=c.name(locale)),
            validators=[Optional(), Length(max=2000)]))
        score = card.score_for(c.id) if card is not None else None
        if score is not None:
            data[f"c{c.id}"] = score.value
            data[f"c{c.id}_comment"] = score.comment
    if formdata is not None:
        return ScorecardForm(formdata=formdata)
    return ScorecardForm(data=data)
