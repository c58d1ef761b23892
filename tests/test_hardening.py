"""CSRF on every form and every state-changing route, and the login limit shared through Redis.

With CSRF protection on (as in production), every route that accepts POST is tried without a
token by a logged-in organiser and by a member: each must refuse with 400 and change nothing.
Every page any role can open is fetched, and every POST form on it must carry the token.
"""

import re
import uuid

import pytest
from sqlalchemy import func, select

from competition import create_app
from competition.extensions import db
from competition.models import AuditEvent
from tests.conftest import BASE_CONFIG, PASSWORD
from tests.test_authorization import _urls, route_values

POST_FORM = re.compile(r"<form\b[^>]*\bmethod=\"post\"[^>]*>(.*?)</form>", re.S | re.I)
# Forms with a prefix (several forms on one page) name it "<prefix>-csrf_token".
TOKEN = re.compile(r'name="(?:[\w-]+-)?csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture
def app_config() -> dict:
    return {"WTF_CSRF_ENABLED": True}


@pytest.fixture
def world(app, people) -> dict:
    """The round, users and URL values of tests/test_authorization.py."""
    return route_values(app, people)


def _log_in(client, email: str) -> None:
    token = TOKEN.search(client.get("/inloggen").get_data(as_text=True)).group(1)
    response = client.post("/inloggen", data={"email": email, "password": PASSWORD,
                                              "csrf_token": token})
    assert response.status_code == 302, f"login as {email} failed"


def _audit_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(AuditEvent.id)))


@pytest.mark.parametrize("role", ["organiser", "member", "delegate"])
def test_every_state_changing_route_refuses_a_request_without_the_token(app, client, people,
                                                                       world, role):
    _log_in(client, people[role])
    failures = []
    tried = 0
    for endpoint, method, url in _urls(app, world):
        if method == "GET":
            continue
        tried += 1
        before = _audit_count(app)
        response = client.open(url, method=method, data={})
        if response.status_code != 400:
            failures.append(f"{method} {url} ({endpoint}): {response.status_code}, not 400")
        elif _audit_count(app) != before:
            failures.append(f"{method} {url} ({endpoint}): refused, but data changed")
    assert tried > 60  # every form of the platform, not a handful
    assert not failures, "\n".join(failures)
    assert client.get("/account").status_code == 200  # still logged in: nothing was done


@pytest.mark.parametrize("role", ["anonymous", "organiser", "member", "delegate", "jury"])
def test_every_form_on_every_page_carries_the_token(app, client, people, world, role):
    if role != "anonymous":
        _log_in(client, people[role])
    failures = []
    forms = 0
    for endpoint, method, url in _urls(app, world):
        if method != "GET" or endpoint in ("auth.logout", "static"):
            continue
        response = client.get(url)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        for body in POST_FORM.findall(response.get_data(as_text=True)):
            forms += 1
            if not TOKEN.search(body):
                failures.append(f"{url} ({endpoint}): a POST form without csrf_token")
    assert forms > 0
    assert not failures, "\n".join(sorted(set(failures)))


def test_the_login_limit_is_shared_between_workers_through_redis(database_url, tmp_path, people):
    """Two app instances stand for two gunicorn workers; failures count across both."""
    import redis

    url = "redis://127.0.0.1:6379/12"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {url}")
    config = {**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url,
              "MAIL_FOLDER": str(tmp_path / "mail"), "RATELIMIT_STORAGE_URI": url,
              "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
              "LOGIN_RATE_LIMIT": "3 per minute"}
    first, second = create_app(config), create_app(config)
    wrong = {"email": people["member"], "password": "not the password at all"}
    try:
        assert first.test_client().post("/inloggen", data=wrong).status_code == 200
        assert second.test_client().post("/inloggen", data=wrong).status_code == 200
        assert first.test_client().post("/inloggen", data=wrong).status_code == 200
        # The fourth attempt within the minute is refused, whichever worker receives it.
        assert second.test_client().post("/inloggen", data=wrong).status_code == 429
    finally:
        for one in (first, second):
            with one.app_context():
                db.engine.dispose()
