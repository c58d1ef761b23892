"""Open Competitie: the application factory."""

import logging
from pathlib import Path

from flask import Flask, request, session
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.routing import IntegerConverter

from competition.config import load_config
from competition.extensions import babel, csrf, db, limiter, login_manager, mail, migrate
from competition.models.types import ID_MAX

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class IdConverter(IntegerConverter):
    """`<int:…>` URL parts: non-negative integers that fit an id column; a larger number is
    simply no such page (404), not a database error (PostgreSQL refuses it)."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", ID_MAX)
        super().__init__(map, *args, **kwargs)


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure an app; `test_config` overrides everything else."""
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    # Before any route is added: <int:…> in URLs means a database id.
    app.url_map.converters["int"] = IdConverter
    load_config(app, test_config)
    app.jinja_env.add_extension("jinja2.ext.do")
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    mail.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    from flask_babel import lazy_gettext as _l

    login_manager.login_message = _l("Log in to see this page.")

    from competition import models  # noqa: F401  (register every table)
    from competition.services.accounts import load_session_user

    login_manager.user_loader(load_session_user)

    from competition import cli, errors, pagecache, security, web
    from competition.admin.views import bp as admin_bp
    from competition.adoption.views import bp as adoption_bp
    from competition.api.views import bp as api_bp
    from competition.auth.views import bp as auth_bp
    from competition.clusters.views import bp as clusters_bp
    from competition.development.views import bp as development_bp
    from competition.feeds.views import bp as feeds_bp
    from competition.jury.views import bp as jury_bp
    from competition.proposals.views import bp as proposals_bp
    from competition.results.views import bp as results_bp
    from competition.rounds.views import bp as rounds_bp
    from competition.standards.views import bp as standards_bp
    from competition.voting.views import bp as voting_bp

    app.register_blueprint(rounds_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(proposals_bp)
    app.register_blueprint(clusters_bp)
    app.register_blueprint(jury_bp)
    app.register_blueprint(voting_bp)
    app.register_blueprint(results_bp)
    app.register_blueprint(development_bp)
    app.register_blueprint(standards_bp)
    app.register_blueprint(adoption_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(feeds_bp)
    errors.init_app(app)
    security.init_app(app)
    web.init_app(app)
    # After web: its hooks (NUL-byte refusal) run before a cached page is served.
    pagecache.init_app(app)
    cli.init_app(app)

    from competition.services import (
        clustering,  # noqa: F401  (registers job and precondition)
        notifications,  # noqa: F401  (registers the phase mails)
        preselection,  # noqa: F401  (registers end-of-phase work)
        voting,  # noqa: F401  (registers the count at the end of the final vote)
    )

    if app.config.get("JOBS_THREAD_WORKER") and not app.testing:
        # `make run`: process background jobs inside the dev server, no extra process needed.
        from competition.services.jobs import start_thread_worker

        start_thread_worker(app)

    @app.get("/healthz")
    def healthz():
        """Liveness probe: the app answers (used by load tests as the minimal route)."""
        return {"status": "ok"}

    return app


def select_locale() -> str:
    """Dutch unless the visitor chose another supported language."""
    from flask import current_app, has_request_context

    if not has_request_context():  # CLI and background work: the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = session.get("lang") or request.args.get("lang")
    if chosen in current_app.config["LANGUAGES"]:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """SQLite enforces foreign keys only when asked, per connection."""
    module = type(dbapi_connection).__module__
    if module.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        # Readers never block the writer (web requests next to the job worker).
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()
