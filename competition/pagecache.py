"""Whole-page cache for anonymous visitors (Flask-Caching as the store, Redis in production).

Most traffic is the public reading published pages, and those are the same for every anonymous
visitor in a language. A cached copy is served before any view runs, so it costs a cache lookup
instead of queries and templates. What keeps it correct:

- Only GET requests of anonymous visitors without pending flash messages are served from or
  stored in the cache; only 200 responses that set no cookie and carry no CSRF token (forms)
  are stored.
- Every commit that wrote anything sets a new generation (a nanosecond timestamp, so it never
  repeats, even when the store evicted it); an entry made under another generation is never
  served. With several worker processes the store must be shared (Redis,
  CACHE_TYPE=RedisCache), or a write in one process would not reach the others' copies.
- An entry never outlives the next planned end of a phase, so a phase that closes by the clock
  is never hidden behind a cached page; nothing is stored while a round is overdue.

Enabled by setting CACHE_TYPE (SimpleCache for one process, RedisCache with CACHE_REDIS_URL);
off by default (NullCache). A failing cache server only makes pages slower, never unavailable.
"""

import time
from datetime import datetime

from flask import Flask, Response, current_app, g, has_app_context, request, session
from flask_babel import get_locale
from flask_caching import Cache
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.orm import Session

from competition import clock

cache = Cache()

GENERATION_KEY = "oc:page-generation"
PAGE_PREFIX = "oc:page:"
# Attachments and exports can be large; they are cheap to produce relative to their size.
MAX_BODY = 512 * 1024
KEPT_HEADERS = ("Content-Disposition",)
_WROTE = "pagecache.wrote"


def is_enabled(app: Flask) -> bool:
    """Whether a real store is configured."""
    return app.config.get("CACHE_TYPE", "NullCache") not in ("NullCache", "null")


def _page_key() -> str:
    return f"{PAGE_PREFIX}{get_locale()}:{request.full_path}"


def _may_use() -> bool:
    """Whether this request may be answered from, and stored in, the cache."""
    return (
        request.method == "GET"
        # The liveness probe must reach the app itself, not a copy.
        and request.endpoint not in (None, "static", "healthz")
        and not current_user.is_authenticated
        and "_flashes" not in session
    )


def _seconds_until_next_phase_end(now: datetime) -> float | None:
    """Seconds until the earliest planned end of a current phase; 0 when one has passed (the
    round is due or overdue); None when no phase has a planned end."""
    from competition.services.rounds import next_phase_end

    end = next_phase_end()
    if end is None:
        return None
    return max(0.0, (end - now).total_seconds())


def entry_timeout(now: datetime) -> int:
    """How long a page stored now may be served: PAGE_CACHE_SECONDS at most, and never past
    the next phase end (0: do not store)."""
    limit = int(current_app.config["PAGE_CACHE_SECONDS"])
    until = _seconds_until_next_phase_end(now)
    if until is not None:
        limit = min(limit, int(until))  # round down: expire before the phase ends, not after
    return max(limit, 0)


def bump_generation() -> None:
    """Make every stored page stale (after a write)."""
    try:
        cache.set(GENERATION_KEY, time.time_ns(), timeout=0)
    except Exception:
        # The entries will then live until their timeout; say so loudly.
        current_app.logger.exception("page cache: could not invalidate after a write")


@event.listens_for(Session, "after_flush")
def _note_write(session, flush_context) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "after_commit")
def _invalidate(session) -> None:
    if session.info.pop(_WROTE, False) and has_app_context() and is_enabled(current_app):
        bump_generation()


@event.listens_for(Session, "after_rollback")
def _forget_write(session) -> None:
    session.info.pop(_WROTE, None)


def init_app(app: Flask) -> None:
    """Bind the store and serve anonymous GETs from it (no-op unless CACHE_TYPE is set)."""
    if not is_enabled(app):
        return
    cache.init_app(app)

    @app.before_request
    def _serve_cached():
        if not _may_use():
            return None
        key = _page_key()
        try:
            generation, entry = cache.get_many(GENERATION_KEY, key)
        except Exception:
            current_app.logger.exception("page cache unavailable; rendering the page")
            return None
        if generation is None:  # first use, or evicted: start a generation no entry can carry
            cache.add(GENERATION_KEY, time.time_ns(), timeout=0)
            generation = cache.get(GENERATION_KEY)
            if generation is None:
                return None
        if entry is not None and entry[0] == generation:
            _generation, body, content_type, headers = entry
            response = Response(body, content_type=content_type, headers=headers)
            response.headers["X-Cache"] = "hit"
            return response
        g.page_cache = (key, generation)
        return None

    @app.after_request
    def _store(response: Response) -> Response:
        pending = g.pop("page_cache", None)
        if pending is None or "X-Cache" in response.headers:
            return response
        response.headers["X-Cache"] = "miss"
        if (
            response.status_code != 200
            or response.direct_passthrough
            or "Set-Cookie" in response.headers
            or session.modified
            or "csrf_token" in g  # a form for this session: never share it
            or response.calculate_content_length() is None
            or response.calculate_content_length() > MAX_BODY
        ):
            return response
        key, generation = pending
        try:
            timeout = entry_timeout(clock.now())
            if timeout > 0:
                headers = {h: response.headers[h] for h in KEPT_HEADERS if h in response.headers}
                cache.set(key, (generation, response.get_data(), response.content_type, headers),
                          timeout=timeout)
        except Exception:
            current_app.logger.exception("page cache: could not store %s", request.full_path)
        return response
