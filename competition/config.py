"""Configuration: defaults in code, then `instance/config.py`, then environment variables."""

import os
import secrets
from pathlib import Path

from flask import Flask

# Environment variables read on top of instance/config.py (strings, converted below).
ENV_KEYS = (
    "SECRET_KEY",
    "MAIL_SERVER",
    "MAIL_PORT",
    "MAIL_USERNAME",
    "MAIL_PASSWORD",
    "MAIL_USE_TLS",
    "MAIL_USE_SSL",
    "MAIL_DEFAULT_SENDER",
    "RATELIMIT_STORAGE_URI",
    "SESSION_COOKIE_SECURE",
    "PREFERRED_URL_SCHEME",
    "SERVER_NAME",
    "JOBS_THREAD_WORKER",
    "MAIL_DELIVERY",
    "CACHE_TYPE",
    "CACHE_REDIS_URL",
    "PAGE_CACHE_SECONDS",
)
BOOL_KEYS = {"MAIL_USE_TLS", "MAIL_USE_SSL", "SESSION_COOKIE_SECURE", "JOBS_THREAD_WORKER"}
INT_KEYS = {"MAIL_PORT", "PAGE_CACHE_SECONDS"}


class DefaultConfig:
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    SQLALCHEMY_RECORD_QUERIES = False

    # Cookies: secure by default; `make run` (plain http on localhost) switches Secure off.
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = 60 * 60 * 8

    WTF_CSRF_TIME_LIMIT = 60 * 60 * 8
    MAX_CONTENT_LENGTH = 12 * 1024 * 1024

    BABEL_DEFAULT_LOCALE = "nl"
    BABEL_DEFAULT_TIMEZONE = "Europe/Amsterdam"
    LANGUAGES = ("nl", "en")

    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = "10 per minute;50 per hour"

    # Whole-page cache for anonymous visitors (competition/pagecache.py): off unless a store is
    # configured; with several worker processes use RedisCache + CACHE_REDIS_URL.
    CACHE_TYPE = "NullCache"
    CACHE_KEY_PREFIX = "open-competitie:"
    PAGE_CACHE_SECONDS = 60

    MAIL_DEFAULT_SENDER = "Open Competitie <noreply@open-competitie.nl>"
    # "worker": a background job sends the outbox (a request never waits for the mail server);
    # "inline": the request sends right after its commit (tests that read mail at once).
    MAIL_DELIVERY = "worker"
    INVITATION_DAYS = 7
    PASSWORD_RESET_HOURS = 2
    PASSWORD_MIN_LENGTH = 12
    # Argon2id parameters (argon2-cffi defaults = RFC 9106 low-memory profile).
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536
    ARGON2_PARALLELISM = 4


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for plain postgres URLs (as Heroku-style hosts hand them out)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _convert(key: str, value: str) -> object:
    if key in BOOL_KEYS:
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if key in INT_KEYS:
        return int(value)
    return value


def load_config(app: Flask, test_config: dict | None) -> None:
    """Fill app.config in order: defaults, instance/config.py, environment, test_config."""
    app.config.from_object(DefaultConfig)
    instance = Path(app.instance_path)
    app.config.from_pyfile(str(instance / "config.py"), silent=True)
    for key in ENV_KEYS:
        if key in os.environ:
            app.config[key] = _convert(key, os.environ[key])
    if "DATABASE_URL" in os.environ:
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    if test_config:
        app.config.update(test_config)

    app.config.setdefault(
        "SQLALCHEMY_DATABASE_URI", f"sqlite:///{instance / 'competition.sqlite3'}"
    )
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(
        app.config["SQLALCHEMY_DATABASE_URI"]
    )
    app.config.setdefault("UPLOAD_FOLDER", str(instance / "uploads"))
    app.config.setdefault("MAIL_FOLDER", str(instance / "mail"))
    if not app.config.get("MAIL_BACKEND"):
        # Offline by default: without an SMTP server mail is written to instance/mail/.
        app.config["MAIL_BACKEND"] = "smtp" if app.config.get("MAIL_SERVER") else "file"
    app.config.setdefault("MAIL_FILE_PATH", app.config["MAIL_FOLDER"])
    if app.config["MAIL_DELIVERY"] not in ("worker", "inline"):
        raise ValueError(f"MAIL_DELIVERY must be 'worker' or 'inline', not "
                         f"{app.config['MAIL_DELIVERY']!r}")
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret_key(instance)


def _instance_secret_key(instance: Path) -> str:
    """Read the secret key from instance/secret_key, generating it on first run."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker process won the race
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key
