"""Forms on a finalist's page: progress updates, the deliverable links with the cost and
licence statement, and deliverable files."""

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import IntegerField, SelectField, StringField, TextAreaField, URLField
from wtforms.validators import (
    DataRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)
from wtforms.widgets import TextInput

from competition.models import OPEN_LICENCES
from competition.services import errors
from competition.services.development import (
    BODY_MAX,
    LICENCE_NOTES_MIN,
    LICENCE_OTHER,
    NOTES_MAX,
    TITLE_MAX,
    URL_MAX,
    check_licence,
    check_url,
)
from competition.services.proposals import clean_text

MAX_EUROS = 10**11
# "250000", "250.000" or "€ 250.000": dots only as thousands separators.
AMOUNT = _l("Give an amount in euros, 0 or more.")
_EUROS = re.compile(r"\d{1,3}(?:\.\d{3})+|\d+")


class EuroField(IntegerField):
    """A whole number of euros; accepts "€ 250.000" as well as "250000" (a text box: a number
    input would refuse the euro sign and the thousands separators people type)."""

    widget = TextInput()

    def pre_validate(self, form):
        if self.process_errors:
            raise StopValidation()  # one message for input that is no amount at all

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        raw = valuelist[0].replace("€", "").replace(" ", "").replace("\u00a0", "").strip()
        if not raw:
            self.data = None
            return
        if raw.endswith((",-", ",00")):
            raw = raw[: -3 if raw.endswith(",00") else -2]
        if not raw.isascii() or not _EUROS.fullmatch(raw) or len(raw) > 20:
            self.data = None
            raise ValueError(_l("Give a whole number of euros, e.g. 250000."))
        self.data = int(raw.replace(".", ""))


class UpdateForm(FlaskForm):
    title = StringField(
        _l("Title"),
        validators=[DataRequired(), Length(min=3, max=TITLE_MAX)],
    )
    body = TextAreaField(
        _l("Update"),
        description=_l("What has been done, what comes next. You can use Markdown: **bold**, "
                       "*italic*, lists with -, links as [text](https://…)."),
        validators=[DataRequired(), Length(min=10, max=BODY_MAX)],
    )


def web_address(form, field) -> None:
    """The service's rule for a deliverable link, checked with the rest of the form so that
    every mistake shows at once (the service checks again when saving)."""
    try:
        check_url(field.data or "", field.name)
    except errors.ValidationError as exc:
        raise ValidationError(str(exc.message)) from None


def licence_choices() -> list[tuple[str, str]]:
    return ([("", _l("— not chosen yet —"))] + [(code, code) for code in OPEN_LICENCES]
            + [(LICENCE_OTHER, _l("Another licence (explain below)"))])


class WorkForm(FlaskForm):
    demo_url = URLField(
        _l("Demo"), description=_l("A web address starting with https://."),
        validators=[Optional(), Length(max=URL_MAX), web_address])
    documentation_url = URLField(
        _l("Documentation"), description=_l("A web address starting with https://."),
        validators=[Optional(), Length(max=URL_MAX), web_address])
    source_url = URLField(
        _l("Source code repository"), description=_l("A web address starting with https://."),
        validators=[Optional(), Length(max=URL_MAX), web_address])
    licence = SelectField(
        _l("Licence"),
        description=_l("The licence under which other municipalities may use the result."),
        choices=licence_choices, validators=[Optional()], validate_choice=False)
    licence_notes = TextAreaField(
        _l("Explanation of the licence"),
        description=_l("Needed for another licence: which licence, and why not an open one."),
        # No Optional(): it would stop validate_licence_notes on an empty explanation.
        validators=[Length(max=NOTES_MAX)])
    cost_estimate = EuroField(
        _l("Development cost in euros"),
        description=_l("What building it cost. Whole euros, e.g. 250000."),
        validators=[Optional(), NumberRange(min=0, max=MAX_EUROS, message=AMOUNT)],
        render_kw={"inputmode": "numeric"})
    yearly_cost = EuroField(
        _l("Yearly cost per municipality in euros"),
        description=_l("What running it costs another municipality per year. Whole euros."),
        validators=[Optional(), NumberRange(min=0, max=MAX_EUROS, message=AMOUNT)],
        render_kw={"inputmode": "numeric"})
    cost_notes = TextAreaField(
        _l("Explanation of the costs"),
        validators=[Optional(), Length(max=NOTES_MAX)])

    # The service's rules for the licence, checked with the rest of the form (see web_address).
    def validate_licence(self, field) -> None:
        try:
            check_licence(field.data or "")
        except errors.ValidationError as exc:
            raise ValidationError(str(exc.message)) from None

    def validate_licence_notes(self, field) -> None:
        if (self.licence.data == LICENCE_OTHER
                and len(clean_text(field.data or "").strip()) < LICENCE_NOTES_MIN):
            raise ValidationError(_l("Explain which licence and why it is not an open one."))


class DeliverableForm(FlaskForm):
    file = FileField(
        _l("Add a file"),
        description=_l("PDF, ODT, DOCX, PNG or JPG, at most 10 MB."),
        validators=[FileRequired(message=_l("Choose a file."))],
    )
