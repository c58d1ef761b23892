"""Error pages and the mapping of domain errors to HTTP answers."""

from flask import Flask, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from competition.api.errors import api_error, is_api_request
from competition.services.errors import DomainError

TITLES = {
    400: _l("The request could not be handled"),
    403: _l("You may not do this"),
    404: _l("Page not found"),
    405: _l("Method not allowed"),
    409: _l("This is not possible right now"),
    413: _l("The upload is too large"),
    429: _l("Too many attempts"),
    500: _l("Something went wrong on our side"),
}


def wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json"
    )


def render_error(status: int, message: str | None = None):
    """An HTML error page (or JSON with a reason for API clients)."""
    title = str(TITLES.get(status, TITLES[400]))
    if is_api_request():  # the API's own error shape (see competition/api/errors.py)
        return api_error(status, message or title)
    if wants_json():
        return jsonify({"error": title, "reason": message or title, "status": status}), status
    return render_template("errors/error.html", status=status, title=title,
                           message=message), status


def init_app(app: Flask) -> None:
    """Register the error handlers."""

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        from competition.extensions import db

        db.session.rollback()
        return render_error(exc.status_code, str(exc.message))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        message = None
        if exc.code == 429:
            message = str(_l("Too many attempts. Wait a minute and try again."))
        elif exc.code == 413:
            message = str(_l("The upload is larger than allowed."))
        elif exc.description and exc.code in (400, 403, 404, 409) and not _is_default(exc):
            message = exc.description
        return render_error(exc.code or 500, message)

    @app.errorhandler(500)
    def server_error(exc):
        from competition.extensions import db

        db.session.rollback()
        return render_error(500)


def _is_default(exc: HTTPException) -> bool:
    return exc.description == type(exc).description
