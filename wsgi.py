"""WSGI entry point: `gunicorn wsgi:app` (production) or `flask --app wsgi run`."""

from competition import create_app

app = create_app()
