"""Throughput and latency of the main public pages under gunicorn on PostgreSQL.

Usage: .venv/bin/python bench/http_load.py [--proposals 5000] [--clients 32] [--duration 10]

Creates a fresh database (default `bench_http` next to postgresql+psycopg://root@127.0.0.1:5432/),
runs the migrations, seeds a round carried to its decided phase (proposals, confirmed
vraagstukken, published finalists and a counted final vote, with `build_round` from
tests/test_query_counts.py), starts gunicorn (2 sync workers, as in production), and then hits
each page with N concurrent keep-alive clients (threads, http.client); the pages take turns in
short slices (--turns), so a burst of other work on a shared machine hits them all alike:

    /healthz                              the minimal Flask route: the ceiling
    /                                     the home page
    /rondes/<slug>/voorstellen?q=paspoort the proposal list with a search
    /voorstellen/<id>                     a proposal page
    /vraagstukken/<id>/uitslag            a vraagstuk's final result

Every page is measured twice in the same run, against two gunicorn servers started one after
the other on the same database: first as deployed, with the whole-page cache for anonymous
visitors in Redis (competition/pagecache.py; what an anonymous visitor gets), then with the
cache off (what rendering a page costs: logged-in users, and the first visitor after a write).

It prints requests per second, p50 and p99 latency and each page's throughput as a share of
/healthz on the same server (target: 50% or more). Traffic goes to 127.0.0.1 only; every loop
is bounded in time. Gunicorn is stopped, the database dropped and the benchmark's cache keys
removed at the end (--keep keeps the database).
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `tests` (the round builder) is not an installed package

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import create_engine, make_url, text  # noqa: E402

from competition import create_app  # noqa: E402
from competition.extensions import db  # noqa: E402

DEFAULT_SERVER = "postgresql+psycopg://root@127.0.0.1:5432/"
HOST = "127.0.0.1"
# Configuration of the app under test (seeding and gunicorn alike). Cheap Argon2 only where a
# benchmark logs in many accounts; the login limit would refuse hundreds of logins from one
# address, which is the point of it but not of a load test.
BENCH_CONFIG = {
    "SECRET_KEY": "bench-secret-key",
    "SESSION_COOKIE_SECURE": False,
    "MAIL_BACKEND": "locmem",
    "LOGIN_RATE_LIMIT": "1000000 per minute",
    "ARGON2_TIME_COST": 1,
    "ARGON2_MEMORY_COST": 1024,
    "ARGON2_PARALLELISM": 1,
}

# --- database and server -----------------------------------------------------------------------


def database_url(server: str, name: str) -> str:
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def _admin(server: str):
    return create_engine(database_url(server, "postgres"), isolation_level="AUTOCOMMIT")


def create_database(server: str, name: str) -> str:
    """A new, empty database `name` (an old one of that name is dropped); returns its URL."""
    drop_database(server, name)
    engine = _admin(server)
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return database_url(server, name)


def drop_database(server: str, name: str) -> None:
    engine = _admin(server)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def app_config(url: str, **extra) -> dict:
    folder = Path(tempfile.gettempdir()) / "oc-bench"
    return {**BENCH_CONFIG, "SQLALCHEMY_DATABASE_URI": url,
            "UPLOAD_FOLDER": str(folder / "uploads"), "MAIL_FOLDER": str(folder / "mail"),
            **extra}


def migrated_app(url: str, **extra):
    """The app on `url`, with the migrations run."""
    app = create_app(app_config(url, **extra))
    with app.app_context():
        upgrade()
    return app


def analyze(url: str) -> None:
    """Planner statistics for the freshly seeded tables, as autovacuum keeps them in a
    database that has been running for a while (without them PostgreSQL guesses 10 rows)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(config: dict, *, workers: int, worker_class: str = "sync", threads: int = 1):
    """Gunicorn serving the app with `config` on a free local port; yields the port."""
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="oc-bench-"))
    # A WSGI module of its own, so the production entry point (wsgi.py) stays untouched.
    (folder / "bench_wsgi.py").write_text(
        "import json, os\nfrom competition import create_app\n"
        "app = create_app(json.loads(os.environ['OC_BENCH_CONFIG']))\n")
    env = {**os.environ, "OC_BENCH_CONFIG": json.dumps(config)}
    gunicorn_bin = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn_bin), "--workers", str(workers), "--worker-class", worker_class,
               "--threads", str(threads), "--bind", f"{HOST}:{port}", "--backlog", "2048",
               "--log-level", "warning", "--pythonpath", f"{folder},{ROOT}", "bench_wsgi:app"]
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn stopped at start (exit code {process.returncode})")
            try:
                if request(port, "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer /healthz within 60 s")
            time.sleep(0.2)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def request(port: int, path: str) -> tuple[int, str | None]:
    """One GET: status and X-Cache header."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("X-Cache")
    finally:
        conn.close()


def clear_cache(redis_url: str, prefix: str) -> None:
    """Remove the benchmark's page cache keys."""
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


# --- seeding -----------------------------------------------------------------------------------


def seed(app, proposals: int, cluster_size: int) -> dict[str, str]:
    """A decided round of `proposals` proposals; returns the paths to measure."""
    from competition.models import Proposal
    from tests.test_query_counts import base_users, build_round

    now = datetime.now(UTC)
    with app.app_context():
        organiser, member, voters = base_users(now, delegates=5)
        world = build_round(proposals, organiser=organiser, author=member, voters=voters,
                            now=now, title="Belastingdag", cluster_size=cluster_size)
        # A proposal from the middle of the list, with an ordinary amount of activity.
        middle = db.session.get(Proposal, world.proposal_ids[len(world.proposal_ids) // 2])
        db.session.commit()
        return {
            "/healthz": "/healthz",
            "home": "/",
            "proposal list, search": f"/rondes/{world.slug}/voorstellen?q=paspoort",
            "proposal": f"/voorstellen/{middle.id}",
            "vraagstuk result": f"/vraagstukken/{world.voted_cluster_ids[0]}/uitslag",
        }


# --- load --------------------------------------------------------------------------------------


class Client:
    """One keep-alive connection; reconnects when the server closes it (sync workers do)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str) -> tuple[int, bool]:
        """Status, and whether the answer came from the page cache."""
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
            try:
                self.conn.request("GET", path)
                response = self.conn.getresponse()
                response.read()
            except (http.client.HTTPException, OSError):
                self.close()
                if attempt:
                    raise
                continue  # a kept-alive connection the server had closed: once more
            if response.will_close:
                self.close()
            return response.status, response.getheader("X-Cache") == "hit"
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def load(port: int, path: str, *, clients: int, duration: float, warmup: float) -> dict:
    """`clients` threads GET `path` in a loop; the figures cover `duration` after `warmup`."""
    start = time.perf_counter()
    measure_from = start + warmup
    stop = measure_from + duration
    samples: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    hits = [0] * clients

    def worker(k: int) -> None:
        client = Client(port)
        try:
            while True:
                began = time.perf_counter()
                if began >= stop:
                    return
                try:
                    status, hit = client.get(path)
                except (http.client.HTTPException, OSError):
                    status, hit = 0, False
                ended = time.perf_counter()
                if began >= measure_from:
                    samples[k].append(ended - began)
                    hits[k] += hit
                    if status != 200:
                        errors[k] += 1
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=duration + warmup + 120)
    return {"latencies": [x for s in samples for x in s],
            "elapsed": max(time.perf_counter(), stop) - measure_from,
            "errors": sum(errors), "hits": sum(hits)}


def summary(slices: list[dict]) -> dict:
    """Figures over all measured slices of one page."""
    latencies = sorted(x for part in slices for x in part["latencies"])
    elapsed = sum(part["elapsed"] for part in slices)
    result = {"requests": len(latencies), "rps": len(latencies) / elapsed,
              "errors": sum(part["errors"] for part in slices),
              "hits": sum(part["hits"] for part in slices)}
    if not latencies:
        return {**result, "p50": float("nan"), "p99": float("nan")}
    return {**result, "p50": statistics.median(latencies) * 1000,
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000}


def print_table(title: str, results: dict[str, dict]) -> None:
    ceiling = results["/healthz"]["rps"] or float("nan")
    print()
    print(title)
    print(f"{'page':<24} {'requests':>9} {'rps':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'% healthz':>10} {'errors':>7} {'cached':>7}")
    for name, r in results.items():
        print(f"{name:<24} {r['requests']:>9} {r['rps']:>8.1f} {r['p50']:>8.1f} {r['p99']:>8.1f} "
              f"{r['rps'] / ceiling * 100:>9.0f}% {r['errors']:>7} "
              f"{r['hits'] / max(r['requests'], 1) * 100:>6.0f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default=DEFAULT_SERVER,
                        help="PostgreSQL server URL (default %(default)s)")
    parser.add_argument("--database", default="bench_http",
                        help="database to create, use and drop (default %(default)s)")
    parser.add_argument("--proposals", type=int, default=5000)
    parser.add_argument("--cluster-size", type=int, default=5,
                        help="proposals per vraagstuk (default %(default)s)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="seconds measured per page (default %(default)s)")
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="seconds of load before each measured slice (default %(default)s)")
    parser.add_argument("--turns", type=int, default=5,
                        help="slices the duration is split into, pages taking turns "
                             "(default %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14",
                        help="Redis for the page cache (default %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    url = create_database(args.server, args.database)
    try:
        started = time.perf_counter()
        app = migrated_app(url)
        paths = seed(app, args.proposals, args.cluster_size)
        with app.app_context():
            db.engine.dispose()
        analyze(url)
        print(f"seeded {args.proposals} proposals in {time.perf_counter() - started:.0f} s "
              f"(database {args.database})")
        prefix = f"oc-bench-{os.getpid()}:"
        modes = {
            "page cache for anonymous visitors (Redis)": {
                "CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": args.redis,
                "CACHE_KEY_PREFIX": prefix},
            "no page cache (every request renders)": {},
        }
        tables = {}
        for mode, extra in modes.items():
            print(f"\n{mode}", flush=True)
            with gunicorn(app_config(url, **extra), workers=args.workers,
                          worker_class=args.worker_class, threads=args.threads) as port:
                for path in paths.values():
                    status, _cache = request(port, path)
                    if status != 200:
                        raise SystemExit(f"{path} answered {status}")
                    if extra and path != "/healthz":
                        _status, cache = request(port, path)
                        if cache != "hit":  # the figures would not be what they claim
                            raise SystemExit(f"{path}: second request not from the cache "
                                             f"(X-Cache: {cache})")
                # Pages take turns in short slices, so a burst of other work on this (shared)
                # machine hits every page alike instead of whichever ran at that moment.
                slices: dict[str, list[dict]] = {name: [] for name in paths}
                for turn in range(args.turns):
                    for name, path in paths.items():
                        slices[name].append(load(port, path, clients=args.clients,
                                                 duration=args.duration / args.turns,
                                                 warmup=args.warmup))
                    print(f"  turn {turn + 1} of {args.turns}", flush=True)
                tables[mode] = {name: summary(parts) for name, parts in slices.items()}
        print(f"\n{args.clients} clients, {args.duration:g} s per page, gunicorn "
              f"{args.workers} x {args.worker_class}"
              + (f" ({args.threads} threads)" if args.threads > 1 else ""))
        for mode, results in tables.items():
            print_table(mode, results)
        print()
        for name, path in paths.items():
            print(f"  {name:<24} {path}")
        clear_cache(args.redis, prefix)
    finally:
        if not args.keep:
            drop_database(args.server, args.database)


if __name__ == "__main__":
    main()
