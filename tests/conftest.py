"""Test fixtures: a fresh, migrated database for every test, on SQLite or PostgreSQL.

SQLite: the migrations run once into a template file, which each test copies.
PostgreSQL (TEST_DATABASE_URL=postgresql+psycopg://…): the migrations run once, and every test
starts from emptied tables. Either way the schema is the one Alembic builds, triggers included.
"""

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import MetaData, Table, create_engine, make_url, text

from competition import create_app
from competition.extensions import db
from competition.models import Municipality, Role, User
from competition.services import accounts
from tests.browser import browser  # noqa: F401  (fixture: headless Chromium for browser tests)

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
IS_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")
PASSWORD = "correct horse battery staple"

BASE_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key",
    "WTF_CSRF_ENABLED": False,
    "MAIL_BACKEND": "locmem",
    # Send right after each request, so tests read mail at once (tests/test_notifications.py
    # covers the default: delivery by the job worker).
    "MAIL_DELIVERY": "inline",
    "SESSION_COOKIE_SECURE": False,
    "ARGON2_TIME_COST": 1,
    "ARGON2_MEMORY_COST": 1024,
    "ARGON2_PARALLELISM": 1,
    "SERVER_NAME": None,
}


TRANSLATIONS = Path(__file__).resolve().parent.parent / "competition" / "translations"


@pytest.fixture(scope="session", autouse=True)
def compiled_translations() -> None:
    """Compile each catalogue whose .mo is missing or older than its .po, so `pytest` alone works.

    The .mo files are build output (`make translations`); fuzzy entries are left out, as there.
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in TRANSLATIONS.glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as f:
            catalog = read_po(f, locale=po.parent.parent.name)
        tmp = mo.with_name(f"{mo.name}.{os.getpid()}.tmp")  # atomic: xdist workers may race
        with tmp.open("wb") as f:
            write_mo(f, catalog)
        os.replace(tmp, mo)


def _migrate(url: str) -> None:
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        db.engine.dispose()


def _worker_database(worker_id: str) -> str:
    """TEST_DATABASE_URL for a single process; with pytest-xdist each worker gets its own
    database next to it (`<name>_gw0`, …), created when missing."""
    if worker_id == "master":
        return TEST_DATABASE_URL
    url = make_url(TEST_DATABASE_URL)
    name = f"{url.database}_{worker_id}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_template(tmp_path_factory) -> str:
    """Migrate once per session; returns a SQLite template path or the PostgreSQL URL."""
    # What pytest-xdist's `worker_id` fixture gives, also when xdist is off (-p no:xdist).
    worker_id = os.environ.get("PYTEST_XDIST_WORKER", "master")
    if IS_POSTGRES:
        url = _worker_database(worker_id)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        _migrate(url)
        _snapshot_seed_rows(url)
        return url
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    _migrate(f"sqlite:///{path}")
    return str(path)


# Rows the migrations themselves insert (e.g. the initial domain list), per database URL:
# restored after every reset so PostgreSQL tests start exactly like a fresh migrated database.
_seed_rows: dict[str, list[tuple[Table, list[dict]]]] = {}


def _snapshot_seed_rows(url: str) -> None:
    engine = create_engine(url)
    metadata = MetaData()
    with engine.connect() as conn:
        metadata.reflect(conn)
        _seed_rows[url] = [
            (table, [dict(row._mapping) for row in conn.execute(table.select())])
            for table in metadata.sorted_tables
            if table.name != "alembic_version"
        ]
    engine.dispose()


def _empty_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        seeds = _seed_rows[url]
        tables = [table.name for table, _ in seeds]
        # The audit log refuses TRUNCATE by trigger; tests may reset it, the app may not.
        conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
        for table, rows in seeds:
            if rows:
                conn.execute(table.insert(), rows)
                # Table names come from our own schema (reflection), not from input.
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608
                    f"(SELECT max(id) FROM {table.name}))"))
    engine.dispose()


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> Iterator[str]:
    """A fresh database for one test."""
    if IS_POSTGRES:
        _empty_postgres(database_template)
        yield database_template
        return
    path = tmp_path / "test.sqlite3"
    shutil.copyfile(database_template, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def app_config() -> dict:
    """Config on top of BASE_CONFIG for the `app` fixture; a test module overrides this fixture
    to change it (e.g. CSRF on for real browser forms)."""
    return {}


@pytest.fixture
def app(database_url: str, tmp_path: Path, app_config: dict) -> Iterator[Flask]:
    """The app on a fresh database; no app context is held (tests push their own)."""
    app = create_app(
        {
            **BASE_CONFIG,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
            "MAIL_FOLDER": str(tmp_path / "mail"),
            **app_config,
        }
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    """An application context for service-level tests."""
    with app.app_context():
        yield app
        db.session.rollback()


@pytest.fixture
def client(app: Flask):
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture
def outbox(app: Flask) -> "Outbox":
    """Mail sent during the test (Flask-Mailman's in-memory backend)."""
    return Outbox(app)


class Outbox:
    """A live view of the messages the in-memory mail backend received."""

    def __init__(self, app: Flask) -> None:
        self._app = app

    @property
    def messages(self) -> list:
        return getattr(self._app.extensions["mailman"], "outbox", [])

    def __len__(self) -> int:
        return len(self.messages)

    def __getitem__(self, i):
        return self.messages[i]


# --- data helpers (need an app context) --------------------------------------------------------

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)

MUNICIPALITIES = [
    ("GM0344", "Utrecht", "Utrecht", 374238),
    ("GM0363", "Amsterdam", "Noord-Holland", 931298),
    ("GM0014", "Groningen", "Groningen", 244829),
    ("GM1900", "Súdwest-Fryslân", "Fryslân", 92035),
]


def add_municipalities() -> dict[str, Municipality]:
    """A few municipalities, by code."""
    result = {}
    for code, name, province, population in MUNICIPALITIES:
        m = Municipality(code=code, name=name, province=province, population=population)
        db.session.add(m)
        result[code] = m
    db.session.flush()
    return result


def make_user(
    email: str,
    *roles: Role,
    municipality: Municipality | None = None,
    name: str | None = None,
    password: str = PASSWORD,
    is_active: bool = True,
) -> User:
    """A user with the given roles (flushed, not committed)."""
    user = User(
        email=email.lower(),
        name=name or email.split("@")[0].title(),
        municipality_id=municipality.id if municipality else None,
        password_hash=accounts.hash_password(password),
        created_at=NOW,
        password_changed_at=NOW,
        is_active=is_active,
    )
    user.roles = set(roles)
    db.session.add(user)
    db.session.flush()
    return user


@pytest.fixture
def people(app: Flask) -> dict[str, str]:
    """Committed users for every role; returns emails by role name (+ 'other_member')."""
    with app.app_context():
        ms = add_municipalities()
        make_user("org@example.org", Role.ORGANISER, name="Olga Organiser")
        make_user("jury@example.org", Role.JURY, name="Jan Jury")
        make_user("member@utrecht.example", Role.MEMBER, municipality=ms["GM0344"])
        make_user("delegate@utrecht.example", Role.DELEGATE, municipality=ms["GM0344"])
        make_user("member@amsterdam.example", Role.MEMBER, municipality=ms["GM0363"])
        db.session.commit()
    return {
        "organiser": "org@example.org",
        "jury": "jury@example.org",
        "member": "member@utrecht.example",
        "delegate": "delegate@utrecht.example",
        "other_member": "member@amsterdam.example",
    }


class AuthActions:
    """Log in and out through the real login form."""

    def __init__(self, client) -> None:
        self._client = client

    def login(self, email: str, password: str = PASSWORD):
        return self._client.post("/inloggen", data={"email": email, "password": password})

    def logout(self):
        return self._client.post("/uitloggen")


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)
