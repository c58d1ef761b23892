"""Absolute URLs for mail, inside and outside a request (CLI, background jobs)."""

from flask import current_app, has_request_context, url_for


def external_url(endpoint: str, **values) -> str:
    """An absolute URL; outside a request it is built on the configured BASE_URL."""
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    base = current_app.config.get("BASE_URL", "http://127.0.0.1:5000")
    with current_app.test_request_context("/", base_url=base):
        return url_for(endpoint, _external=True, **values)
