"""Forms for voting: the approval ballot of the preselection."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField

from competition.admin.forms import MultiCheckboxField


class ApprovalForm(FlaskForm):
    proposals = MultiCheckboxField(_l("Proposals you approve"), coerce=int)
    version = HiddenField()
