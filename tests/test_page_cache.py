"""The whole-page cache for anonymous visitors (competition/pagecache.py).

What it must never do: show a visitor something stale after a write, show one visitor's page
(form, message, language) to another, outlive a phase's planned end, or take the site down
when the cache server is gone.
"""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import event

from competition import create_app, pagecache
from competition.extensions import db
from competition.services import rounds
from tests.conftest import BASE_CONFIG
from tests.proposal_helpers import make_world

SIMPLE = {"CACHE_TYPE": "SimpleCache", "PAGE_CACHE_SECONDS": 60}


@pytest.fixture
def app_config() -> dict:
    return dict(SIMPLE)


@pytest.fixture
def slug(app, people) -> str:
    """A round in its submission phase with one proposal."""
    with app.app_context():
        world = make_world(people)
        world.propose(title="Paspoort aanvragen met DigiD")
        db.session.commit()
        return world.round.slug


class Statements:
    """Counts SQL statements sent by the app's engine."""

    def __init__(self, app) -> None:
        with app.app_context():
            self.engine = db.engine
        self.count = 0
        event.listen(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, *args) -> None:
        self.count += 1

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


def test_second_anonymous_view_is_served_from_the_cache_without_queries(app, client, slug):
    url = f"/rondes/{slug}/voorstellen"
    first = client.get(url)
    assert first.status_code == 200 and first.headers["X-Cache"] == "miss"
    statements = Statements(app)
    try:
        second = client.get(url)
    finally:
        statements.close()
    assert second.headers["X-Cache"] == "hit"
    assert second.data == first.data
    assert statements.count == 0
    # The security headers are added to cached answers too.
    assert "script-src 'self'" in second.headers["Content-Security-Policy"]
    assert second.headers["X-Frame-Options"] == "DENY"
    assert second.content_type == first.content_type


def test_a_write_makes_every_cached_page_stale(app, client, people, slug):
    url = f"/rondes/{slug}/voorstellen"
    client.get(url)
    assert client.get(url).headers["X-Cache"] == "hit"
    assert client.get("/").headers["X-Cache"] == "miss"
    assert client.get("/").headers["X-Cache"] == "hit"
    with app.app_context():
        from tests.proposal_helpers import World

        world = World(rounds.get_round(slug).id,
                      {"member": _user_id(people["other_member"])})
        world.propose("member", title="Chatbot voor de publieksbalie")
        db.session.commit()
    fresh = client.get(url)
    assert fresh.headers["X-Cache"] == "miss"
    assert "Chatbot voor de publieksbalie" in fresh.get_data(as_text=True)
    assert client.get("/").headers["X-Cache"] == "miss"


def test_a_rolled_back_transaction_keeps_the_cache(app, client, slug):
    url = f"/rondes/{slug}/voorstellen"
    client.get(url)
    with app.app_context():
        rnd = rounds.get_round(slug)
        rnd.title = "Not saved"
        db.session.flush()
        db.session.rollback()
        db.session.commit()  # nothing written: must not invalidate
    assert client.get(url).headers["X-Cache"] == "hit"


def test_logged_in_users_neither_get_nor_fill_cached_pages(app, client, auth, people, slug):
    url = f"/rondes/{slug}/voorstellen"
    client.get(url)
    auth.login(people["member"])
    for _ in range(2):
        page = client.get(url)
        assert "X-Cache" not in page.headers
        assert b"/uitloggen" in page.data  # rendered for this user, not the anonymous copy
    anonymous = app.test_client()
    first = anonymous.get(url)
    assert first.headers["X-Cache"] == "miss"  # the member's views stored nothing
    assert b"/uitloggen" not in first.data
    assert anonymous.get(url).headers["X-Cache"] == "hit"


@pytest.mark.parametrize("app_config", [{**SIMPLE, "WTF_CSRF_ENABLED": True}])
def test_pages_with_a_form_are_never_stored(client, slug):
    for _ in range(2):
        page = client.get("/inloggen")
        assert page.headers["X-Cache"] == "miss"
        assert b'name="csrf_token"' in page.data or b"csrf_token" in page.data


def test_a_flash_message_is_shown_not_swallowed_by_the_cache(app, client, slug):
    url = f"/rondes/{slug}/voorstellen"
    client.get(url)
    assert client.get(url).headers["X-Cache"] == "hit"
    # A page that needs a login sends the visitor away with a message for the next page.
    assert client.get("/account").status_code == 302
    page = client.get(url)
    assert "X-Cache" not in page.headers
    assert "Log in om deze pagina te bekijken" in page.get_data(as_text=True)
    # The message was shown once; the page after it comes from the cache again.
    assert client.get(url).headers["X-Cache"] == "hit"


def test_each_language_has_its_own_copy(client, slug):
    dutch = client.get("/")
    assert b'lang="nl"' in dutch.data[:200]
    switched = client.get("/taal/en?next=/")
    assert switched.status_code == 302 and switched.location == "/"
    english = client.get("/")
    assert english.headers["X-Cache"] == "miss"
    assert b'lang="en"' in english.data[:200]
    # (Flask-Login marks a new session on its first page, which is then not stored.)
    again = [client.get("/") for _ in range(2)]
    assert again[-1].headers["X-Cache"] == "hit" and b'lang="en"' in again[-1].data[:200]
    # Another anonymous visitor still gets Dutch.
    other = client.application.test_client().get("/")
    assert other.headers["X-Cache"] == "hit" and b'lang="nl"' in other.data[:200]


def test_the_language_link_only_follows_local_addresses(client):
    response = client.get("/taal/en?next=https://evil.example/")
    assert response.status_code == 302
    assert "evil.example" not in response.location
    assert b'lang="en"' in client.get("/").data[:200]
    assert client.get("/taal/xx?next=/").status_code == 302
    assert b'lang="en"' in client.get("/").data[:200]  # an unknown language changes nothing


def test_an_entry_never_outlives_the_next_phase_end(app, slug):
    with app.app_context():
        end = rounds.next_phase_end()
        assert end is not None
        assert pagecache.entry_timeout(end - timedelta(days=1)) == 60
        assert pagecache.entry_timeout(end - timedelta(seconds=5)) == 5
        assert pagecache.entry_timeout(end - timedelta(seconds=0.5)) == 0
        assert pagecache.entry_timeout(end + timedelta(minutes=1)) == 0  # overdue: no caching


def test_nothing_is_stored_while_a_round_is_overdue(app, client, slug):
    with app.app_context():
        end = rounds.next_phase_end()
    app.config["FROZEN_NOW"] = end - timedelta(seconds=0.5)
    assert client.get("/over").headers["X-Cache"] == "miss"
    assert client.get("/over").headers["X-Cache"] == "miss"


@pytest.mark.parametrize(
    "app_config", [{"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": "redis://127.0.0.1:1/0"}]
)
def test_a_cache_server_that_is_down_only_makes_pages_slower(app, client, slug, monkeypatch):
    logged = []
    monkeypatch.setattr(app.logger, "exception", lambda message, *args: logged.append(message))
    page = client.get(f"/rondes/{slug}/voorstellen")
    assert page.status_code == 200
    assert b"Paspoort aanvragen met DigiD" in page.data
    assert "X-Cache" not in page.headers  # neither served from nor stored in the cache
    assert any("page cache unavailable" in message for message in logged)


def _redis_or_skip(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {url}")


def test_worker_processes_share_the_cache_and_its_invalidation(app, database_url, tmp_path,
                                                               people, slug):
    """Two app instances stand for two gunicorn workers; the store is Redis."""
    url = "redis://127.0.0.1:6379/15"
    _redis_or_skip(url)
    config = {**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url,
              "UPLOAD_FOLDER": str(tmp_path / "uploads"), "MAIL_FOLDER": str(tmp_path / "mail"),
              "CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": url,
              "CACHE_KEY_PREFIX": f"test-{uuid.uuid4().hex}:"}
    first, second = create_app(config), create_app(config)
    page = f"/rondes/{slug}/voorstellen"
    try:
        assert first.test_client().get(page).headers["X-Cache"] == "miss"
        assert second.test_client().get(page).headers["X-Cache"] == "hit"
        with second.app_context():
            from tests.proposal_helpers import World

            world = World(rounds.get_round(slug).id,
                          {"member": _user_id(people["other_member"])})
            world.propose("member", title="Zaaksysteem in de cloud")
            db.session.commit()
        fresh = first.test_client().get(page)
        assert fresh.headers["X-Cache"] == "miss"
        assert b"Zaaksysteem in de cloud" in fresh.data
    finally:
        for one in (first, second):
            with one.app_context():
                pagecache.cache.clear()
                db.engine.dispose()


def _user_id(email: str) -> int:
    from competition.services import accounts

    return accounts.find_user_by_email(email).id
