"""The form for changing a standard."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField, URLField
from wtforms.validators import DataRequired, Length, Optional

from competition.models import OPEN_LICENCES
from competition.services.development import LICENCE_OTHER, URL_MAX
from competition.services.standards import DESCRIPTION_MAX, VERSION_MAX


def licence_choices() -> list[tuple[str, str]]:
    """The licences a standard can have: the open ones, another one, or none stated yet."""
    return [("", _l("Not stated yet")), *((lic, lic) for lic in OPEN_LICENCES),
            (LICENCE_OTHER, _l("Another licence (explain it in the description)"))]


class StandardForm(FlaskForm):
    description = TextAreaField(
        _l("Description"),
        description=_l("What the standard does and how another municipality takes it into "
                       "use. You can use Markdown: **bold**, *italic*, lists with -, links as "
                       "[text](https://…)."),
        validators=[Optional(), Length(max=DESCRIPTION_MAX)],
    )
    demo_url = URLField(
        _l("Demo"), description=_l("A web address starting with https://."),
        validators=[Optional(), Length(max=URL_MAX)])
    documentation_url = URLField(
        _l("Documentation"), description=_l("A web address starting with https://."),
        validators=[Optional(), Length(max=URL_MAX)])
    source_url = URLField(
        _l("Source code"), description=_l("A web address starting with https://."),
        validators=[Optional(), Length(max=URL_MAX)])
    licence = SelectField(_l("Licence"), choices=licence_choices, validate_choice=False)
    version = StringField(
        _l("Version"), description=_l("For example 1.0, 2.1.3 or 1.0-beta."),
        validators=[DataRequired(), Length(max=VERSION_MAX)])
