"""The audit log's hash chain: every event links to its predecessor, `verify_chain` (and
`flask competition verify-audit`) finds changed, removed and inserted events, and concurrent
writers never fork the chain.

Tampering needs the append-only triggers out of the way first (as an attacker with database
access would): SQLite drops them, PostgreSQL disables them for the test (conftest re-enables
them before every test anyway).
"""

import itertools
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from competition.extensions import db
from competition.models import AuditEvent
from competition.models.audit import GENESIS_HASH
from competition.services import audit
from tests.conftest import IS_POSTGRES, NOW

EVENTS = 5


def record_events(count: int = EVENTS, start: int = 0) -> None:
    for n in range(start, start + count):
        audit.record(f"test.event{n}", actor=None, now=NOW + timedelta(minutes=n),
                     object_type="test", object_id=n,
                     data={"n": n, "tekst": "één €", "lijst": [1, 2.5, None]})
    db.session.commit()


def chained() -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.seq.is_not(None))
                                   .order_by(AuditEvent.seq)))


def unlock() -> None:
    """Switch off the append-only triggers (what tampering would take)."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(text("DROP TRIGGER IF EXISTS audit_events_no_update"))
        db.session.execute(text("DROP TRIGGER IF EXISTS audit_events_no_delete"))
    else:
        db.session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))


def tamper(statement: str, **params) -> None:
    unlock()
    db.session.execute(text(statement), params)
    if db.session.get_bind().dialect.name != "sqlite":
        db.session.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
    db.session.commit()
    db.session.expire_all()


def problems() -> list[str]:
    report = audit.verify_chain()
    assert report.ok is not bool(report.problems)
    return report.problems


# --- an intact chain ---------------------------------------------------------------------------


def test_a_fresh_database_verifies(ctx):
    report = audit.verify_chain()
    assert report.ok and report.checked == 0 and report.unchained == 0
    assert (report.head_seq, report.head_hash) == (0, GENESIS_HASH)


def test_events_form_a_chain(ctx):
    record_events()
    events = chained()
    assert [e.seq for e in events] == list(range(1, EVENTS + 1))
    assert events[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
    for event in events:
        assert event.hash == audit.chain_hash(event.prev_hash, event)
    assert audit.head() == (EVENTS, events[-1].hash)
    report = audit.verify_chain(batch=2)  # batches must not matter
    assert report.ok, report.problems
    assert (report.checked, report.unchained) == (EVENTS, 0)


def test_verify_audit_command_reports_an_intact_chain(app, runner):
    with app.app_context():
        record_events()
        last = chained()[-1].hash
    result = runner.invoke(args=["competition", "verify-audit"])
    assert result.exit_code == 0, result.output
    assert f"chained events: {EVENTS}" in result.output
    assert "unchained events (recorded before the chain existed): 0" in result.output
    assert last in result.output and result.output.rstrip().endswith("OK")
    # A hash a results page showed: still part of the chain.
    result = runner.invoke(args=["competition", "verify-audit", "--hash", last.upper()])
    assert result.exit_code == 0 and f"is event {EVENTS} of the chain" in result.output


# --- tampering ---------------------------------------------------------------------------------


def test_changed_data_is_detected(ctx):
    record_events()
    cast = "CAST(:data AS JSON)" if IS_POSTGRES else ":data"
    tamper(f"UPDATE audit_events SET data = {cast} WHERE seq = 3",  # noqa: S608
           data='{"n": 99}')
    found = problems()
    assert len(found) == 1 and "event 3" in found[0] and "was changed" in found[0]


def test_a_changed_action_is_detected(ctx):
    record_events()
    tamper("UPDATE audit_events SET action = 'test.harmless' WHERE seq = 2")
    assert any("event 2" in p and "was changed" in p for p in problems())


def test_a_removed_middle_event_is_detected(ctx):
    record_events()
    tamper("DELETE FROM audit_events WHERE seq = 3")
    found = problems()
    assert any("missing" in p and "3" in p for p in found), found


def test_a_removed_last_event_is_detected(ctx):
    record_events()
    tamper("DELETE FROM audit_events WHERE seq = :seq", seq=EVENTS)
    found = problems()
    assert any(f"ends at event {EVENTS - 1}" in p and f"head says {EVENTS}" in p
               for p in found), found


def test_a_forged_event_at_the_end_is_detected(ctx):
    """Appended with a correct link and hash, but the head does not know it."""
    record_events()
    seq, prev = audit.head()
    forged = AuditEvent(created_at=NOW, actor_id=None, action="final_vote.counted",
                        object_type="cluster", object_id="1", round_id=None,
                        data={"winners": [1]}, seq=seq + 1, prev_hash=prev)
    forged.hash = audit.chain_hash(prev, forged)
    db.session.add(forged)
    db.session.commit()
    found = problems()
    assert any(f"ends at event {seq + 1}" in p and f"head says {seq}" in p for p in found), found


def test_a_forged_event_outside_the_chain_is_detected(ctx):
    """Inserted without a place in the chain, as if from before it began."""
    record_events()
    db.session.add(AuditEvent(created_at=NOW, actor_id=None, action="user.created",
                              object_type="user", object_id="1", data={}))
    db.session.commit()
    report = audit.verify_chain()
    assert report.unchained == 1
    assert any("inserted afterwards" in p for p in report.problems), report.problems


def test_a_forged_event_in_the_middle_is_detected(ctx):
    """An event replaced by another with the same place in the chain."""
    record_events()
    victim = chained()[2]
    forged = {"seq": victim.seq, "prev_hash": victim.prev_hash, "hash": victim.hash}
    tamper("DELETE FROM audit_events WHERE seq = 3")
    db.session.add(AuditEvent(created_at=NOW, actor_id=None, action="test.forged",
                              object_type="test", object_id="3", data={"n": 3}, **forged))
    db.session.commit()
    assert any("event 3" in p and "was changed" in p for p in problems())


def test_verify_audit_command_fails_on_a_broken_chain(app, runner):
    with app.app_context():
        record_events()
        tamper("DELETE FROM audit_events WHERE seq = 2")
    result = runner.invoke(args=["competition", "verify-audit"])
    assert result.exit_code == 1
    assert "PROBLEM:" in result.output and "missing" in result.output
    assert "BROKEN" in result.output and "Traceback" not in result.output
    result = runner.invoke(args=["competition", "verify-audit", "--hash", "0" * 63 + "1"])
    assert result.exit_code == 1 and "not the hash of any event" in result.output


# --- concurrency -------------------------------------------------------------------------------


@pytest.mark.skipif(not IS_POSTGRES, reason="SQLite serialises all writers anyway")
def test_concurrent_writers_never_fork_the_chain(app):
    threads, per_thread = 8, 10
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                for n in range(per_thread):
                    audit.record("test.concurrent", actor=None, now=NOW, object_type="test",
                                 object_id=f"{k}-{n}", data={"writer": k, "n": n})
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(k,)) for k in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=120)
    assert not errors, errors
    with app.app_context():
        report = audit.verify_chain()
        assert report.ok, report.problems
        assert report.checked == threads * per_thread == report.head_seq
        assert [e.seq for e in chained()] == list(range(1, threads * per_thread + 1))
