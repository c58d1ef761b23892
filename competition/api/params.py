"""Query parameters of the JSON API: strict, so a typo or a bad value is a 400 with a reason
instead of a silently ignored filter."""

from flask import abort, current_app, request
from flask_babel import gettext as _

# Read by the language selector on every request (the language of error reasons).
GLOBAL_PARAMS = frozenset({"lang"})
PAGE_MAX = 100_000
PER_PAGE_DEFAULT = 20
PER_PAGE_MAX = 100
PAGINATION_PARAMS = frozenset({"page", "per_page"})


def bad_request(reason: str):
    """Stop with a 400 and this reason."""
    abort(400, reason)


class Params:
    """The request's query parameters, checked against the names an endpoint accepts."""

    def __init__(self, *accepted: str, paginated: bool = False) -> None:
        self.accepted = frozenset(accepted) | GLOBAL_PARAMS
        if paginated:
            self.accepted |= PAGINATION_PARAMS
        unknown = sorted(set(request.args) - self.accepted)
        if unknown:
            bad_request(_("Unknown query parameter “%(name)s”. This endpoint accepts: "
                          "%(names)s.", name=unknown[0],
                          names=", ".join(sorted(self.accepted)) or "-"))
        self.choice("lang", current_app.config["LANGUAGES"])

    def text(self, name: str, *, max_length: int = 200) -> str | None:
        """The parameter's value (None when absent); given twice or too long is refused."""
        values = request.args.getlist(name)
        if not values:
            return None
        if len(values) > 1:
            bad_request(_("The query parameter “%(name)s” is given more than once.", name=name))
        value = values[0]
        if len(value) > max_length:
            bad_request(_("The query parameter “%(name)s” may have at most %(max)d characters.",
                          name=name, max=max_length))
        return value

    def integer(self, name: str, *, default: int | None = None, minimum: int = 1,
                maximum: int = 2**63 - 1) -> int | None:
        """A whole number within [minimum, maximum]."""
        value = self.text(name, max_length=20)
        if value is None:
            return default
        if not value.isascii() or not value.isdigit() or not minimum <= int(value) <= maximum:
            bad_request(_("The query parameter “%(name)s” must be a whole number from %(min)d to "
                          "%(max)d.", name=name, min=minimum, max=maximum))
        return int(value)

    def choice(self, name: str, choices: tuple[str, ...] | list[str],
               *, default: str | None = None) -> str | None:
        """One of `choices`."""
        value = self.text(name)
        if value is None:
            return default
        if value not in choices:
            bad_request(_("The query parameter “%(name)s” must be one of: %(choices)s.",
                          name=name, choices=", ".join(choices)))
        return value

    def boolean(self, name: str) -> bool | None:
        """"true" or "false"."""
        value = self.choice(name, ("true", "false"))
        return None if value is None else value == "true"

    def page(self) -> tuple[int, int]:
        """(page, per_page) of a paginated list."""
        return (self.integer("page", default=1, maximum=PAGE_MAX),
                self.integer("per_page", default=PER_PAGE_DEFAULT, maximum=PER_PAGE_MAX))
