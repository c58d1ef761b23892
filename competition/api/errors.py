"""Errors of the JSON API: `{"error": {"status": 404, "reason": "..."}}` for every /api/ path.

`competition.errors` renders every error of the app; for paths under /api/ it hands over to
`api_error`, so unknown URLs and wrong methods (raised before any API view runs) answer in the
same shape as the errors of the views themselves.
"""

from flask import Response, jsonify, request
from werkzeug.exceptions import MethodNotAllowed

API_PREFIX = "/api/"


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def api_error(status: int, reason: str) -> tuple[Response, int]:
    """The JSON error answer; a 405 says which methods the URL allows."""
    response = jsonify({"error": {"status": status, "reason": reason}})
    routing = request.routing_exception
    if status == 405 and isinstance(routing, MethodNotAllowed) and routing.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(routing.valid_methods))
    return response, status
