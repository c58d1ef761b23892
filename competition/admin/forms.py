"""Organiser forms: rounds, schedule, phase controls, invitations, users, audit filter."""

from datetime import datetime
from zoneinfo import ZoneInfo

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    EmailField,
    FloatField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from competition.development.forms import EuroField
from competition.models import PHASES, Phase, Role
from competition.models.types import LOCAL_TZ
from competition.services.rounds import COST_MAX

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def to_utc(local: datetime | None) -> datetime | None:
    """A datetime-local value (Dutch time) as an aware UTC datetime."""
    if local is None:
        return None
    return local.replace(tzinfo=LOCAL_TZ).astimezone(ZoneInfo("UTC"))


def to_local(moment: datetime | None) -> datetime | None:
    """An aware datetime as naive Dutch time for a datetime-local field."""
    if moment is None:
        return None
    return moment.astimezone(LOCAL_TZ).replace(tzinfo=None, second=0, microsecond=0)


# Dates outside these years are typing mistakes, and the extremes cannot even be converted
# between time zones (year 1 local time is year 0 in UTC).
FIRST_YEAR, LAST_YEAR = 2000, 2199


def plausible_moment(form, field) -> None:
    """A date-time field validator: refuse years that cannot be meant."""
    if field.data is not None and not FIRST_YEAR <= field.data.year <= LAST_YEAR:
        raise ValidationError(
            _l("Enter a date between %(first)d and %(last)d.", first=FIRST_YEAR, last=LAST_YEAR)
        )


class PercentField(FloatField):
    """A percentage; accepts a decimal comma ("33,3") and a trailing % sign."""

    # A text box, like EuroField: browsers empty a number input whose value has a decimal
    # comma, which is how the Dutch pages show 33,33.
    widget = widgets.TextInput()

    def process_formdata(self, valuelist):
        if valuelist:
            valuelist = [valuelist[0].strip().rstrip("%").strip().replace(",", ".")]
        super().process_formdata(valuelist)

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        text = f"{round(self.data, 2):g}"
        return text.replace(".", ",") if str(get_locale()) == "nl" else text


def percent_to_fraction(value: float) -> float:
    """50 → 0.5; 33.33 → 1/3 exactly when meant as a third (the usual diversity threshold)."""
    fraction = value / 100
    return 1 / 3 if abs(fraction - 1 / 3) < 0.0001 else fraction


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


ROLE_CHOICES = [
    (Role.MEMBER.value, _l("Member: submits proposals for the municipality")),
    (Role.DELEGATE.value, _l("Delegate: casts the municipality's votes")),
    (Role.JURY.value, _l("Jury member: scores proposals")),
    (Role.ORGANISER.value, _l("Organiser: runs rounds and invites people")),
]


class RoundForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(min=5, max=160)])
    theme = StringField(
        _l("Theme"),
        description=_l("For example: digital services to residents."),
        validators=[DataRequired(), Length(min=3, max=160)],
    )
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=20000)])
    max_finalists = IntegerField(
        _l("Maximum finalists per cluster"),
        default=3,
        validators=[InputRequired(), NumberRange(min=1, max=10)],
    )
    max_winners = SelectField(
        _l("Winners per cluster"),
        choices=[("1", _l("One winner")), ("2", _l("Up to two winners (limited diversity)"))],
        default="1",
    )
    jury_weight = PercentField(
        _l("Weight of the jury in the preselection (%)"),
        description=_l("100 = jury only, 0 = peer vote of municipalities only, 50 = equal."),
        default=50,
        validators=[InputRequired(), NumberRange(min=0, max=100)],
    )
    vote_weighting = SelectField(
        _l("Weighting of the final vote"),
        choices=[
            ("equal", _l("One municipality, one vote")),
            ("population", _l("Weighted by population (in brackets)")),
        ],
        default="equal",
    )
    diversity_threshold = PercentField(
        _l("Diversity threshold for a second winner (%)"),
        description=_l(
            "Share of the weighted ballots that must rank the runner-up above the winner; "
            "for example 33.3."
        ),
        default=100 / 3,
        validators=[InputRequired(), NumberRange(min=1, max=100)],
    )
    is_own_finalist_vote_allowed = BooleanField(
        _l("Municipalities may rank their own finalist in the final vote"), default=True
    )
    are_juror_names_public = BooleanField(_l("Publish jurors' names with their scores"))
    are_ballots_anonymous = BooleanField(
        _l("Publish final-vote ballots by receipt code only (anonymous)")
    )
    # Not a rule: it only feeds the adoption dashboard's saving estimate, so it stays editable.
    estimated_cost = EuroField(
        _l("Estimated development cost per municipality (euros)"),
        description=_l(
            "Optional. What it would cost one municipality to build such a solution on its "
            "own, in whole euros (e.g. 250000). The adoption dashboard estimates the saving "
            "as this cost × (adopting municipalities − 1); without it, it shows no estimate."
        ),
        validators=[Optional(), NumberRange(min=0, max=COST_MAX,
                                            message=_l("Give an amount in euros, 0 or more."))],
    )


def _schedule_label(phase: Phase) -> str:
    if phase is Phase.DRAFT:
        return _l("Submission opens")
    return {
        Phase.SUBMISSION: _l("Submission closes"),
        Phase.CLUSTERING: _l("Clustering ends"),
        Phase.PRESELECTION: _l("Preselection ends"),
        Phase.DEVELOPMENT: _l("Development ends"),
        Phase.FINAL_VOTE: _l("Final vote closes"),
        Phase.DECIDED: _l("Adoption phase starts"),
    }[phase]


SCHEDULED_PHASES = [p for p in PHASES if p is not Phase.ADOPTION]


class ScheduleForm(FlaskForm):
    """One date-time field per phase end, named end_<phase>."""


for _phase in SCHEDULED_PHASES:
    setattr(
        ScheduleForm,
        f"end_{_phase.value}",
        DateTimeLocalField(
            _schedule_label(_phase),
            format=DATETIME_FORMAT,
            validators=[InputRequired(message=_l("Enter a date and time.")), plausible_moment],
        ),
    )


class NewRoundForm(RoundForm, ScheduleForm):
    pass


class ClosePhaseForm(FlaskForm):
    reason = StringField(
        _l("Reason (recorded in the audit log)"), validators=[Optional(), Length(max=500)]
    )


class ExtendPhaseForm(FlaskForm):
    # The phase shown when the form was filled in: its end is the one to move.
    phase = HiddenField(validators=[Optional(), AnyOf([p.value for p in PHASES])])
    new_end = DateTimeLocalField(
        _l("New end"),
        format=DATETIME_FORMAT,
        validators=[InputRequired(message=_l("Enter a date and time.")), plausible_moment],
    )


class InviteForm(FlaskForm):
    email = EmailField(_l("Email address"), validators=[DataRequired(), Length(max=254)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    municipality_id = SelectField(
        _l("Municipality"),
        description=_l("Required for members and delegates; optional for jury and organisers."),
        coerce=int,
    )
    roles = MultiCheckboxField(_l("Roles"), choices=ROLE_CHOICES)


class UserForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    municipality_id = SelectField(_l("Municipality"), coerce=int)
    roles = MultiCheckboxField(_l("Roles"), choices=ROLE_CHOICES)
    is_active = BooleanField(_l("Active (may log in)"))


class ActionForm(FlaskForm):
    """A bare form for buttons that post an action (CSRF only)."""


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    action = SelectField(_l("Action"), validators=[Optional()])
    actor = StringField(_l("By (email)"), validators=[Optional(), Length(max=254)])
    round = SelectField(_l("Round"), validators=[Optional()])
    object_type = SelectField(_l("Object type"), validators=[Optional()])
    object_id = StringField(_l("Object id"), validators=[Optional(), Length(max=40)])
    since = DateField(_l("From (date)"), validators=[Optional()])
    until = DateField(_l("Up to and including (date)"), validators=[Optional()])


class MunicipalitySearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search by name or code"), validators=[Optional(), Length(max=120)])
    province = SelectField(_l("Province"), validators=[Optional()])
