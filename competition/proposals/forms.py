"""Forms for proposals, their attachments, co-submission, comments and moderation."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from markupsafe import Markup, escape
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import Select, html_params

from competition.services.proposals import (
    DESCRIPTION_MAX,
    PROBLEM_MAX,
    SUMMARY_MAX,
    TITLE_MAX,
    TITLE_MIN,
)


class ProposalForm(FlaskForm):
    title = StringField(
        _l("Title"),
        description=_l("%(min)d to %(max)d characters: what are you going to build?",
                       min=TITLE_MIN, max=TITLE_MAX),
        validators=[DataRequired(), Length(min=TITLE_MIN, max=TITLE_MAX)],
    )
    summary = TextAreaField(
        _l("Summary"),
        description=_l("At most %(max)d characters. Shown in lists and used to find similar "
                       "proposals.", max=SUMMARY_MAX),
        validators=[Optional(), Length(max=SUMMARY_MAX)],
    )
    problem = TextAreaField(
        _l("Problem it solves"),
        description=_l("For residents, businesses or the municipality itself."),
        validators=[Optional(), Length(max=PROBLEM_MAX)],
    )
    description = TextAreaField(
        _l("Description"),
        description=_l("The intended development in detail. You can use Markdown: **bold**, "
                       "*italic*, lists with -, links as [text](https://…)."),
        validators=[Optional(), Length(max=DESCRIPTION_MAX)],
    )
    domain_id = SelectField(_l("Domain"), coerce=int, validators=[Optional()])
    planned_start = DateField(_l("Planned start"), validators=[Optional()])
    estimated_cost = IntegerField(
        _l("Estimated cost in euros"),
        description=_l("Optional. Whole euros, e.g. 250000."),
        validators=[Optional(), NumberRange(min=0, max=1_000_000_000)],
    )
    contact_name = StringField(_l("Contact person"), validators=[Optional(), Length(max=120)])
    contact_email = EmailField(
        _l("Contact person's email address"), validators=[Optional(), Length(max=254)]
    )
    # The version the editor started from (optimistic locking against lost updates).
    version = HiddenField()


class WithdrawForm(FlaskForm):
    kind = RadioField(
        _l("Why do you withdraw this proposal?"),
        choices=[
            ("duplicate", _l("It duplicates another proposal")),
            ("cancelled", _l("The plan has been cancelled")),
            ("other", _l("Another reason")),
        ],
        validators=[InputRequired(message=_l("Choose a reason."))],
    )
    duplicate_of_id = SelectField(_l("Duplicate of"), coerce=int, validators=[Optional()])
    reason = TextAreaField(_l("Explanation"), validators=[DataRequired(), Length(min=5, max=2000)])


class AttachmentForm(FlaskForm):
    file = FileField(
        _l("Add an attachment"),
        description=_l("PDF, ODT, DOCX, PNG or JPG, at most 10 MB."),
        validators=[FileRequired(message=_l("Choose a file."))],
    )


class CoSubmissionForm(FlaskForm):
    message = TextAreaField(
        _l("Message to the submitting municipality"), validators=[Optional(), Length(max=1000)]
    )


class CommentForm(FlaskForm):
    kind = RadioField(
        _l("Type"),
        choices=[("question", _l("Question")), ("comment", _l("Comment"))],
        default="question",
        validators=[InputRequired()],
    )
    body = TextAreaField(_l("Your message"), validators=[DataRequired(), Length(min=2, max=5000)])


class AnswerForm(FlaskForm):
    body = TextAreaField(_l("Answer"), validators=[DataRequired(), Length(min=2, max=5000)])


class ReportForm(FlaskForm):
    reason = StringField(
        _l("What is wrong with this message?"), validators=[DataRequired(), Length(min=3, max=1000)]
    )


class HideForm(FlaskForm):
    reason = StringField(
        _l("Reason (shown in place of the message)"),
        validators=[DataRequired(), Length(min=3, max=500)],
    )


class FastSelect(Select):
    """WTForms' select widget for plain (value, label) choices, written out directly: the same
    HTML, many times faster. The search form lists every vraagstuk and municipality of a round
    on every page view."""

    def __call__(self, field, **kwargs):
        if self.multiple or not _plain_choices(field.choices):
            return super().__call__(field, **kwargs)
        kwargs.setdefault("id", field.id)
        flags = getattr(field, "flags", {})
        for k in dir(flags):
            if k in self.validation_attrs and k not in kwargs:
                kwargs[k] = getattr(flags, k)
        html = [f"<select {html_params(name=field.name, **kwargs)}>"]
        data, coerce = field.data, field.coerce
        for value, label in field.choices:
            selected = "selected " if coerce(value) == data else ""
            html.append(f'<option {selected}value="{escape(value)}">{escape(label or value)}'
                        "</option>")
        html.append("</select>")
        # Every value and label is escaped above.
        return Markup("".join(html))  # noqa: S704


def _plain_choices(choices) -> bool:
    return isinstance(choices, list) and all(
        isinstance(c, tuple) and len(c) == 2 and not isinstance(c[0], bool) for c in choices)


class FilterSelectField(SelectField):
    """A select of plain (value, label) choices that checks the chosen value with a set lookup
    (WTForms builds an object per choice for that) and renders with `FastSelect`."""

    widget = FastSelect()

    def pre_validate(self, form):
        if self.process_errors or not self.validate_choice or not _plain_choices(self.choices):
            return super().pre_validate(form)
        if self.data not in {self.coerce(value) for value, _label in self.choices}:
            raise ValidationError(
                self.invalid_choice_message or self.gettext("Not a valid choice."))
        return None


class SearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=200)])
    domain = FilterSelectField(_l("Domain"), validators=[Optional()])
    municipality = FilterSelectField(_l("Municipality"), validators=[Optional()])
    province = FilterSelectField(_l("Province"), validators=[Optional()])
    status = FilterSelectField(_l("Status"), validators=[Optional()])
    cluster = FilterSelectField(_l("Vraagstuk"), validators=[Optional()])
    sort = FilterSelectField(_l("Sort by"), validators=[Optional()])


class DomainForm(FlaskForm):
    name_nl = StringField(_l("Name (Dutch)"), validators=[DataRequired(), Length(min=2, max=80)])
    name_en = StringField(_l("Name (English)"), validators=[DataRequired(), Length(min=2, max=80)])
    position = IntegerField(_l("Position in the list"), validators=[Optional(),
                                                                    NumberRange(min=0, max=999)])
    is_active = BooleanField(_l("In use (new proposals can choose it)"), default=True)
