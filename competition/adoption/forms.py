"""The form a municipality's member or delegate records its adoption of a standard with."""

import re
from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, TextAreaField
from wtforms.validators import Length, Optional, StopValidation

from competition.services.adoption import REASON_MAX, REASON_MIN, STATUS_ORDER, status_label

ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class DayField(DateField):
    """A calendar day as YYYY-MM-DD (what <input type="date"> sends), with a clear message for
    anything else."""

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        text = valuelist[0].strip()
        try:
            if not ISO_DAY.fullmatch(text):
                raise ValueError(text)
            self.data = date.fromisoformat(text)
        except ValueError:
            self.data = None
            raise ValueError(_l("Enter a date as YYYY-MM-DD, for example 2027-09-01.")) from None


class StatusField(RadioField):
    """The status radio buttons; a missing or unknown status gets one clear message."""

    def pre_validate(self, form):
        if self.data not in {value for value, _label in self.choices}:
            raise StopValidation(_l("Choose a status."))


class AdoptionForm(FlaskForm):
    status = StatusField(_l("Status of your municipality"), choices=[])
    planned_on = DayField(
        _l("Planned adoption date"),
        description=_l("Needed for “intends to adopt”: the day you plan to start using it "
                       "(YYYY-MM-DD)."),
        validators=[Optional()],
    )
    adopted_on = DayField(
        _l("Adoption date"),
        description=_l("Needed for “adopted”: the day your municipality started using it "
                       "(YYYY-MM-DD, not in the future)."),
        validators=[Optional()],
    )
    reason = TextAreaField(
        _l("Reason or note"),
        description=_l("Needed when your municipality declines (at least %(min)d characters); "
                       "optional otherwise. Published with the status.", min=REASON_MIN),
        validators=[Optional(), Length(max=REASON_MAX)],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Labels made per form, so they are in the request's language.
        self.status.choices = [(s.value, status_label(s)) for s in STATUS_ORDER]
