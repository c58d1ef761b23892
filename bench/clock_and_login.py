"""Cost of a login (Argon2id, production parameters) and of the lazy clock per page view.

Usage: .venv/bin/python bench/clock_and_login.py [--rounds 1000] [--database-url URL]

The clock runs `sync_all` on the home page and `sync_round` on every round page, so its cost
when nothing is due is paid on every request; it must stay a small fraction of a page view.
"""

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import text

from competition import create_app
from competition.extensions import db
from competition.models import PHASES, Phase, PhaseWindow, Round, User
from competition.services import accounts, rounds


def timed(fn, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:8.2f} ms  (min {min(samples) * 1000:.2f})"


def make_rounds(n: int, start: datetime, organiser: User) -> None:
    schedule = rounds.default_schedule(start)
    for i in range(n):
        rnd = Round(slug=f"bench-{i}", title=f"Bench round {i}", theme="bench", phase="draft",
                    created_at=start - timedelta(days=1), updated_at=start,
                    created_by_id=organiser.id)
        for phase in PHASES:
            rnd.windows.append(PhaseWindow(phase=phase.value, ends_at=schedule[phase]))
        db.session.add(rnd)
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp())
    url = args.database_url or f"sqlite:///{tmp / 'bench.sqlite3'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                      "MAIL_BACKEND": "locmem"})
    with app.app_context():
        if args.database_url:
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        now = datetime.now(UTC)
        print(f"database: {db.engine.url.get_backend_name()}, rounds: {args.rounds}")

        password = "correct horse battery staple"  # noqa: S105  (benchmark input)
        digest = accounts.hash_password(password)
        hasher = accounts._hasher()
        print("argon2id hash   ", ms(timed(lambda: accounts.hash_password(password), 10)))
        print("argon2id verify ", ms(timed(lambda: hasher.verify(digest, password), 10)))

        organiser = User(email="bench@example.org", name="Bench", password_hash=digest,
                         created_at=now, password_changed_at=now, is_organiser=True)
        db.session.add(organiser)
        db.session.commit()
        make_rounds(args.rounds, now + timedelta(days=1), organiser)

        def sync_nothing_due():
            rounds.sync_all(now=now)
            db.session.rollback()

        one = db.session.scalar(db.select(Round).limit(1))
        slug = one.slug

        def sync_one_round():
            rounds.sync_round(rounds.get_round(slug), now=now)
            db.session.rollback()

        print(f"sync_all, none due ({args.rounds} rounds)", ms(timed(sync_nothing_due, 20)))
        print("sync_round, not due            ", ms(timed(sync_one_round, 200)))

        later = now + timedelta(days=8, minutes=1)  # every draft is due to open
        start = time.perf_counter()
        changed = rounds.sync_all(now=later)
        db.session.commit()
        elapsed = time.perf_counter() - start
        print(f"sync_all, {len(changed)} rounds due: {elapsed:.2f} s "
              f"({elapsed / max(len(changed), 1) * 1000:.2f} ms per transition)")
        assert all(r.phase == Phase.SUBMISSION.value for r in rounds.all_rounds())

        client = app.test_client()
        client.get("/")
        page = timed(lambda: client.get(f"/rondes/{slug}"), 50)
        print("GET /rondes/<slug> (whole request)", ms(page))


if __name__ == "__main__":
    main()
