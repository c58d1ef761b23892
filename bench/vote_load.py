"""Every delegate of the country casts a final ballot at the same moment, through HTTP.

Usage: .venv/bin/python bench/vote_load.py [--municipalities 342] [--login-clients 32]

On a fresh PostgreSQL database (default `bench_vote`): all 342 municipalities, each with a
delegate account, and a round standing in its final vote with one vraagstuk of 3 finalists
(seeded with `build_round` from tests/test_query_counts.py). Gunicorn serves the app (2 sync
workers). Then:

1. every delegate logs in through the real login form (CSRF token from the page), with
   --login-clients at a time;
2. every delegate opens the ballot page of the vraagstuk (for its CSRF token and the finalists'
   fields) and picks a ranking (seeded pseudo-random; some rank only their favourite);
3. all delegates post their ballot form at once (one thread each, released together) and the
   time until the last answer gives the ballots per second.

Checks (the run fails when one does not hold): no error response (every post is redirected to
its receipt), exactly one current ballot per municipality in the database, holding the posted
ranking; after closing the vote through the service (`rounds.close_phase`, which counts with the
engine), the stored result equals an offline recount of the exported ballot file (fetched over
HTTP) and of a ballot file built from the posted rankings alone.

Accounts get the app's Argon2id hashing with cheap parameters unless --production-hash is given
(then the 342 logins take about a minute on two cores). Traffic goes to 127.0.0.1 only. Gunicorn
is stopped and the database dropped at the end (--keep keeps the database).
"""

import argparse
import http.client
import json
import random
import re
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_load import (
    DEFAULT_SERVER,
    HOST,
    analyze,
    app_config,
    create_database,
    drop_database,
    gunicorn,
    migrated_app,
)
from sqlalchemy import func, select

from competition.engine import tally as engine
from competition.extensions import db

PRODUCTION_HASH = {"ARGON2_TIME_COST": 3, "ARGON2_MEMORY_COST": 65536, "ARGON2_PARALLELISM": 4}
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
RANK_FIELD = re.compile(r'<select[^>]*name="(rank_\d+)"')


class Browser:
    """One delegate's HTTP client: its own cookies and connection (no redirects followed)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def send(self, method: str, path: str, form: dict | None = None
             ) -> tuple[int, dict[str, str], str]:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=120)
        try:
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
            body = None
            if form is not None:
                body = urlencode(form)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    self.cookies[key.strip()] = rest.split(";", 1)[0]
            return response.status, dict(response.getheaders()), text
        finally:
            conn.close()

    def csrf_of(self, path: str) -> tuple[str, str]:
        status, _headers, page = self.send("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")
        match = CSRF.search(page)
        if match is None:
            raise RuntimeError(f"GET {path}: no CSRF token on the page")
        return match.group(1), page


def seed(app, municipalities: int) -> dict:
    """The municipalities, a delegate for each, a round in its final vote."""
    from competition.models import Phase
    from tests.test_query_counts import PASSWORD, base_users, build_round

    now = datetime.now(UTC)
    with app.app_context():
        organiser, member, delegates = base_users(now, delegates=municipalities)
        world = build_round(3, organiser=organiser, author=member, voters=[], now=now,
                            title="Landelijke eindstemming", cluster_size=3,
                            until=Phase.FINAL_VOTE, max_finalists=3)
        db.session.commit()
        return {"slug": world.slug, "round_id": world.round_id,
                "cluster_id": world.cluster_ids[0], "organiser_id": organiser.id,
                "delegates": [(d.email, d.municipality.code) for d in delegates],
                "password": PASSWORD}


def log_in(port: int, email: str, password: str) -> Browser:
    browser = Browser(port)
    token, _page = browser.csrf_of("/inloggen")
    status, _headers, _ = browser.send("POST", "/inloggen", {
        "csrf_token": token, "email": email, "password": password})
    if status != 302:
        raise RuntimeError(f"login of {email}: {status}")
    return browser


def choose(rng: random.Random, fields: list[str]) -> dict[str, str]:
    """A ranking as the form takes it: a place per field, "" for not ranked."""
    order = fields[:]
    rng.shuffle(order)
    ranked = order[:1] if rng.random() < 0.15 else order  # some rank only their favourite
    return {name: str(ranked.index(name) + 1) if name in ranked else "" for name in fields}


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default=DEFAULT_SERVER,
                        help="PostgreSQL server URL (default %(default)s)")
    parser.add_argument("--database", default="bench_vote",
                        help="database to create, use and drop (default %(default)s)")
    parser.add_argument("--municipalities", type=int, default=342,
                        help="delegates that vote, one per municipality (at most 342)")
    parser.add_argument("--login-clients", type=int, default=32,
                        help="logins and ballot pages fetched at a time")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--production-hash", action="store_true",
                        help="Argon2id with the production parameters (slow logins)")
    parser.add_argument("--seed", type=int, default=2027, help="seed of the rankings")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    extra = PRODUCTION_HASH if args.production_hash else {}
    url = create_database(args.server, args.database)
    try:
        app = migrated_app(url, **extra)
        world = seed(app, args.municipalities)
        with app.app_context():
            db.engine.dispose()
        analyze(url)
        delegates = world["delegates"]
        cluster_id = world["cluster_id"]
        ballot_path = f"/vraagstukken/{cluster_id}/stemmen"
        print(f"seeded {len(delegates)} delegates, round {world['slug']}, vraagstuk {cluster_id}")

        with gunicorn(app_config(url, **extra), workers=args.workers) as port:
            # 1. Log everyone in.
            started = time.perf_counter()
            with ThreadPoolExecutor(args.login_clients) as pool:
                browsers = list(pool.map(lambda d: log_in(port, d[0], world["password"]),
                                         delegates))
            login_seconds = time.perf_counter() - started
            print(f"{len(browsers)} logins in {login_seconds:.1f} s "
                  f"({len(browsers) / login_seconds:.1f}/s)")

            # 2. Everyone opens the ballot page and fills in the form.
            rng = random.Random(args.seed)

            def open_ballot(browser: Browser) -> dict[str, str]:
                token, page = browser.csrf_of(ballot_path)
                fields = RANK_FIELD.findall(page)
                if len(fields) != 3:
                    raise RuntimeError(f"the ballot page shows {len(fields)} finalists, not 3")
                return {"csrf_token": token, **dict.fromkeys(fields, "")}

            with ThreadPoolExecutor(args.login_clients) as pool:
                forms = list(pool.map(open_ballot, browsers))
            posted: dict[str, list[str]] = {}
            for (_email, code), form in zip(delegates, forms, strict=True):
                fields = [k for k in form if k.startswith("rank_")]
                form.update(choose(rng, fields))
                places = {k.removeprefix("rank_"): int(v) for k, v in form.items()
                          if k.startswith("rank_") and v}
                posted[code] = sorted(places, key=places.get)

            # 3. All post at once.
            go = threading.Barrier(len(browsers) + 1)
            outcomes: list[tuple[int, str, float, float] | None] = [None] * len(browsers)

            def cast(k: int) -> None:
                go.wait()
                began = time.perf_counter()
                try:
                    status, headers, _ = browsers[k].send("POST", ballot_path, forms[k])
                    location = headers.get("Location", "")
                except (OSError, http.client.HTTPException) as exc:
                    status, location = 0, repr(exc)
                outcomes[k] = (status, location, began, time.perf_counter())

            threads = [threading.Thread(target=cast, args=(k,), daemon=True)
                       for k in range(len(browsers))]
            for t in threads:
                t.start()
            go.wait()
            released = time.perf_counter()
            for t in threads:
                t.join(timeout=300)
            done = [o for o in outcomes if o is not None]
            elapsed = max(o[3] for o in done) - released
            latencies = [(o[3] - o[2]) * 1000 for o in done]
            errors = [(delegates[k][0], o) for k, o in enumerate(outcomes)
                      if o is None or o[0] != 302 or not o[1].endswith("/stemmen/stembewijs")]

            # 4. Close the vote through the service (it counts) and recount the export offline.
            from competition.models import FinalBallot, Phase, Round, User, VoteResult
            from competition.services import rounds

            with app.app_context():
                current = db.session.scalar(select(func.count(FinalBallot.id)).where(
                    FinalBallot.cluster_id == cluster_id, FinalBallot.is_current.is_(True)))
                total = db.session.scalar(select(func.count(FinalBallot.id)).where(
                    FinalBallot.cluster_id == cluster_id))
                rnd = db.session.get(Round, world["round_id"])
                rounds.close_phase(rnd, Phase.FINAL_VOTE,
                                   actor=db.session.get(User, world["organiser_id"]),
                                   now=datetime.now(UTC))
                db.session.commit()
                stored = db.session.scalar(select(VoteResult).where(
                    VoteResult.cluster_id == cluster_id))
                stored_data = {k: v for k, v in stored.data.items() if k != "turnout"}
                stored_winners = [str(w) for w in stored.winner_ids]
                db.engine.dispose()
            status, exported = 0, ""
            conn = http.client.HTTPConnection(HOST, port, timeout=60)
            try:
                conn.request("GET", f"/vraagstukken/{cluster_id}/stembiljetten.json")
                response = conn.getresponse()
                status, exported = response.status, response.read().decode()
            finally:
                conn.close()

        if status != 200:
            raise SystemExit(f"the ballot export answered {status}")
        recount = engine.tally(engine.load_ballot_file(exported))
        file = json.loads(exported)
        by_code = {b["municipality"]: b["ranking"] for b in file["ballots"]}
        own_file = {**file, "ballots": [{"municipality": code, "weight": 1, "ranking": ranking}
                                        for code, ranking in posted.items()]}
        own_recount = engine.tally(engine.load_ballot_file(json.dumps(own_file)))

        checks = {
            "no error responses": not errors,
            f"{len(delegates)} current ballots": current == len(delegates),
            "one ballot per municipality (no duplicates)": total == len(delegates),
            "exported rankings are the posted ones": by_code == posted,
            "stored result = recount of the export": (
                engine.result_details(recount) == stored_data
                and list(recount.winners) == stored_winners),
            "stored result = recount of the posted ballots": (
                engine.result_details(own_recount) == stored_data),
        }
        print(f"\n{len(done)} ballots posted at once, gunicorn {args.workers} x sync")
        print(f"  all answered in {elapsed:.2f} s: {len(done) / elapsed:.1f} ballots/s")
        print(f"  latency p50 {statistics.median(latencies):.0f} ms, "
              f"p99 {percentile(latencies, 0.99):.0f} ms, max {max(latencies):.0f} ms")
        print(f"  winner(s): {', '.join(recount.winners) or 'none'}; ranking "
              f"{' > '.join(stored_data['ranking'])}")
        for name, ok in checks.items():
            print(f"  {'ok  ' if ok else 'FAIL'} {name}")
        for email, outcome in errors[:10]:
            print(f"  error: {email}: {outcome}")
        if not all(checks.values()):
            raise SystemExit(1)
    finally:
        if not args.keep:
            drop_database(args.server, args.database)


if __name__ == "__main__":
    main()
