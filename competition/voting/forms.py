"""Forms for voting: the approval ballot of the preselection, the ranked ballot of the final
vote, the public receipt check and the population brackets."""

from collections.abc import Sequence
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FieldList, Form, FormField, HiddenField, SelectField, StringField
from wtforms.validators import Length
from wtforms.validators import ValidationError as FieldError

from competition.admin.forms import MultiCheckboxField
from competition.services import voting
from competition.services.errors import ValidationError


class ApprovalForm(FlaskForm):
    proposals = MultiCheckboxField(_l("Proposals you approve"), coerce=int)
    version = HiddenField()


# --- the ranked ballot -------------------------------------------------------------------------


class BallotForm(FlaskForm):
    """One select per finalist ("not ranked", 1 … n); the fields are added per cluster by
    `ballot_form`."""

    proposal_ids: list[int] = []

    def place_field(self, proposal_id: int) -> SelectField:
        return self[f"rank_{proposal_id}"]

    def places(self) -> dict[int, int]:
        """Place per ranked finalist (proposal id -> place as chosen)."""
        out = {}
        for pid in self.proposal_ids:
            value = self.place_field(pid).data or ""
            if value.isascii() and value.isdigit():
                out[pid] = int(value)
        return out

    def ranked(self) -> list[int]:
        """The ranked finalists, best first. Only the order counts: places 1 and 3 become 1 and
        2, so a skipped number never refuses a ballot."""
        places = self.places()
        return sorted(places, key=lambda pid: places[pid])

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        places = self.places()
        by_place: dict[int, list[int]] = {}
        for pid, place in places.items():
            by_place.setdefault(place, []).append(pid)
        tied = {place: pids for place, pids in by_place.items() if len(pids) > 1}
        for place, pids in sorted(tied.items()):
            for pid in pids:
                field = self.place_field(pid)
                others = ", ".join(f"“{self.place_field(o).label.text}”" for o in pids
                                   if o != pid)
                field.errors = [*field.errors, str(_l(
                    "Place %(place)d is also given to %(others)s: give every finalist its own "
                    "place (ties are not allowed).", place=place, others=others))]
        return not tied


def ballot_form(options: Sequence[voting.Option], ballot=None, *, formdata=None) -> BallotForm:
    """The ballot form for these finalists, filled from the stored ballot when it is shown
    (a post is read on its own)."""
    n = len(options)
    choices = [("", _l("not ranked"))] + [(str(i), str(i)) for i in range(1, n + 1)]

    class _BallotForm(BallotForm):
        pass

    for option in options:
        setattr(_BallotForm, f"rank_{option.proposal.id}",
                SelectField(option.proposal.title, choices=choices, default=""))
    _BallotForm.proposal_ids = [o.proposal.id for o in options]
    data = None
    if ballot is not None and formdata is None:
        data = {f"rank_{pid}": str(place) for place, pid in enumerate(ballot.ranking, start=1)}
    kwargs = {"formdata": formdata} if formdata is not None else {}
    return _BallotForm(data=data, **kwargs)


# --- the public receipt check ------------------------------------------------------------------


class ReceiptCheckForm(FlaskForm):
    # A GET form that changes nothing: no CSRF token, so the result page can be linked to.
    class Meta:
        csrf = False

    code = StringField(
        _l("Receipt code"),
        description=_l("64 characters 0–9 and a–f; spaces and dashes between the blocks are "
                       "fine."),
        validators=[Length(max=300)])

    def validate_code(self, field) -> None:
        if voting.normalise_receipt(field.data or "") is None:
            raise FieldError(_l("This is not a receipt code: a receipt code has 64 characters, "
                                "the digits 0–9 and the letters a–f."))


# --- population brackets -----------------------------------------------------------------------

EMPTY_BRACKET_ROWS = 3  # extra empty rows to add brackets without JavaScript


class BracketRowForm(Form):
    # Checked when the rows are read (`WeightsForm.brackets`), so every message names its row.
    min_population = StringField(_l("From (inhabitants)"))
    weight = StringField(_l("Weight"))


class WeightsForm(FlaskForm):
    rows = FieldList(FormField(BracketRowForm), min_entries=1,
                     max_entries=voting.MAX_BRACKETS + EMPTY_BRACKET_ROWS)

    def brackets(self) -> list[tuple[int, Decimal]]:
        """The filled rows as (minimum, weight); an empty row is skipped (that is how a row is
        removed). Raises ValidationError for a half-filled or unreadable row."""
        out = []
        for number, row in enumerate(self.rows, start=1):
            minimum = (row.min_population.data or "").strip()
            weight = (row.weight.data or "").strip()
            if not minimum and not weight:
                continue
            if not minimum or not weight:
                raise ValidationError(_l("Row %(row)d: give both the number of inhabitants and "
                                         "the weight, or neither to remove the row.",
                                         row=number))
            out.append((_population(minimum, number), _weight(weight, number)))
        return out


def _population(text: str, row: int) -> int:
    # Thousands separators as people type them ("20.000", "20 000") are left out: a number of
    # inhabitants is whole.
    digits = "".join(c for c in text if c not in " .\u00a0\u202f_")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 9:
        raise ValidationError(_l("Row %(row)d: the number of inhabitants is a whole number such "
                                 "as 20000.", row=row))
    return int(digits)


def _weight(text: str, row: int) -> Decimal:
    if len(text) > 20:
        raise ValidationError(_l("Row %(row)d: a weight is a number such as 1 or 1,5.",
                                 row=row))
    try:
        return voting.parse_weight(text)
    except ValidationError:
        raise ValidationError(_l("Row %(row)d: a weight is a number such as 1 or 1,5.",
                                 row=row)) from None
