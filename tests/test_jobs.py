"""The durable job queue: enqueue in the caller's transaction, claim with compare-and-set and a
lease, retries with back-off, lapsed leases, one worker per job, progress from another
session."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from competition.extensions import db
from competition.models import Job, Municipality, utcnow
from competition.services import jobs
from tests.conftest import IS_POSTGRES

KIND = "test.jobs.echo"
FAILING = "test.jobs.failing"
SLOW = "test.jobs.slow"
PROGRESS = "test.jobs.progress"
WRITER = "test.jobs.writer"

# What the handlers saw, and how they should behave; reset by the autouse fixture.
calls: list[tuple[int, int]] = []  # (job id, attempt)
calls_lock = threading.Lock()
behaviour: dict = {}


@jobs.handler(KIND)
def _echo(job, progress):
    with calls_lock:
        calls.append((job.id, job.attempts))
    return {"echo": job.payload.get("value")}


@jobs.handler(FAILING)
def _failing(job, progress):
    calls.append((job.id, job.attempts))
    # Work done before failing must not survive the failure.
    db.session.add(Municipality(code=f"GM9{job.attempts:03d}", name="Half werk",
                                province="Utrecht", population=1))
    db.session.flush()
    if job.attempts <= behaviour.get("fail_times", 99):
        raise RuntimeError(f"boom {job.attempts}")
    return {"ok": True}


@jobs.handler(PROGRESS)
def _progress(job, progress):
    progress(40, "halfway")
    behaviour["seen"] = behaviour["peek"](job.id)
    progress(150, "x" * 500)  # clamped and cut
    behaviour["seen_high"] = behaviour["peek"](job.id)
    progress(-5, "")
    behaviour["seen_low"] = behaviour["peek"](job.id)
    return None


@jobs.handler(WRITER)
def _writer(job, progress):
    """Writes, then (first attempt only) lets `behaviour['meanwhile']` run before returning."""
    calls.append((job.id, job.attempts))
    if job.attempts == 1 and "meanwhile" in behaviour:
        behaviour["meanwhile"](job.id)
    db.session.add(Municipality(code=f"GM8{job.attempts:03d}", name=f"Poging {job.attempts}",
                                province="Utrecht", population=1))
    db.session.flush()
    return {"by": job.attempts}


@pytest.fixture(autouse=True)
def _reset():
    calls.clear()
    behaviour.clear()
    yield
    calls.clear()
    behaviour.clear()


def queue(kind=KIND, payload=None, *, now=None, max_attempts=3) -> int:
    job = jobs.enqueue(kind, payload or {"value": 1}, now=now or utcnow(),
                       max_attempts=max_attempts)
    db.session.commit()
    return job.id


def fresh(job_id: int) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def municipality_codes() -> set[str]:
    return set(db.session.scalars(select(Municipality.code)))


# --- enqueue, claim, run -----------------------------------------------------------------------


def test_enqueue_then_run_to_done(ctx):
    job_id = queue(payload={"value": "hallo"})
    job = fresh(job_id)
    assert (job.status, job.attempts, job.progress, job.result) == ("queued", 0, 0, None)
    assert job.locked_until is None and job.started_at is None

    ran = jobs.run_one()
    assert ran is not None and ran.id == job_id
    job = fresh(job_id)
    assert job.status == "done"
    assert job.result == {"echo": "hallo"}
    assert job.progress == 100
    assert job.attempts == 1
    assert job.error is None and job.locked_until is None
    assert job.started_at is not None and job.finished_at is not None
    assert job.is_finished
    assert calls == [(job_id, 1)]
    # Nothing left to do; a finished job never runs again.
    assert jobs.run_one() is None
    assert jobs.run_pending() == 0
    assert calls == [(job_id, 1)]


def test_enqueue_belongs_to_the_callers_transaction(ctx):
    jobs.enqueue(KIND, {"value": 1}, now=utcnow())
    db.session.rollback()
    assert db.session.scalars(select(Job)).all() == []
    assert jobs.run_one() is None


def test_unknown_kind_is_refused_at_enqueue(ctx):
    with pytest.raises(ValueError, match="no handler"):
        jobs.enqueue("test.jobs.nobody-handles-this", {}, now=utcnow())
    with pytest.raises(ValueError):
        jobs.enqueue(KIND, {}, now=utcnow(), max_attempts=0)
    db.session.commit()
    assert db.session.scalars(select(Job)).all() == []


def test_job_for_a_vanished_handler_fails_instead_of_looping(ctx, monkeypatch):
    job_id = queue(max_attempts=1)
    monkeypatch.delitem(jobs._handlers, KIND)
    jobs.run_one()
    job = fresh(job_id)
    assert job.status == "failed"
    assert "no handler" in job.error


def test_jobs_run_oldest_first_and_run_pending_runs_all(ctx):
    ids = [queue(payload={"value": i}) for i in range(3)]
    assert jobs.run_pending() == 3
    assert [job_id for job_id, _ in calls] == ids
    assert all(fresh(i).status == "done" for i in ids)


def test_a_job_queued_by_a_clock_ahead_of_the_worker_runs_at_once(ctx):
    # The web clock (frozen under test, or another host) may be ahead of the worker's.
    job_id = queue(now=utcnow() + timedelta(days=100))
    assert jobs.run_one().id == job_id
    assert fresh(job_id).status == "done"


def test_a_job_not_yet_due_waits(ctx):
    job_id = queue()
    db.session.get(Job, job_id).run_after = utcnow() + timedelta(hours=1)
    db.session.commit()
    assert jobs.run_one() is None
    assert jobs.run_one(now=utcnow() + timedelta(hours=2)).id == job_id


def test_an_idle_worker_holds_no_transaction_open(ctx):
    assert jobs.run_one() is None
    assert not db.session().in_transaction()


# --- failures and retries ----------------------------------------------------------------------


def test_failure_is_retried_with_back_off_then_fails_keeping_the_error(ctx):
    job_id = queue(FAILING, max_attempts=3)

    before = utcnow()
    jobs.run_one()
    after = utcnow()
    job = fresh(job_id)
    assert job.status == "queued"
    assert job.attempts == 1
    assert "boom 1" in job.error
    assert job.locked_until is None
    assert before + timedelta(seconds=30) <= job.run_after <= after + timedelta(seconds=30)
    assert municipality_codes() == set()  # the failed attempt's writes were rolled back
    # Not due again until the back-off has passed.
    assert jobs.run_one() is None

    before = utcnow()
    assert jobs.run_one(now=job.run_after).id == job_id
    after = utcnow()
    job = fresh(job_id)
    assert (job.status, job.attempts) == ("queued", 2)
    assert "boom 2" in job.error
    # The back-off doubles.
    assert before + timedelta(seconds=60) <= job.run_after <= after + timedelta(seconds=60)

    jobs.run_one(now=job.run_after)
    job = fresh(job_id)
    assert job.status == "failed"
    assert job.attempts == 3
    assert "RuntimeError" in job.error and "boom 3" in job.error
    assert job.finished_at is not None and job.is_finished
    assert municipality_codes() == set()
    # A failed job is never picked up again.
    assert jobs.run_one(now=utcnow() + timedelta(days=1)) is None
    assert [attempt for _, attempt in calls] == [1, 2, 3]


def test_success_after_a_retry_clears_the_error(ctx):
    behaviour["fail_times"] = 1
    job_id = queue(FAILING)
    jobs.run_one()
    assert fresh(job_id).status == "queued"
    jobs.run_one(now=utcnow() + timedelta(minutes=5))
    job = fresh(job_id)
    assert (job.status, job.attempts, job.error, job.result) == ("done", 2, None, {"ok": True})
    assert municipality_codes() == {"GM9002"}


def test_a_single_attempt_job_fails_at_once(ctx):
    job_id = queue(FAILING, max_attempts=1)
    jobs.run_one()
    job = fresh(job_id)
    assert (job.status, job.attempts) == ("failed", 1)


def test_an_unstorable_result_counts_as_a_failure(ctx, monkeypatch):
    monkeypatch.setitem(jobs._handlers, KIND, lambda job, progress: {"when": object()})
    job_id = queue(max_attempts=1)
    jobs.run_one()
    job = fresh(job_id)
    assert job.status == "failed"
    assert job.error


# --- leases ------------------------------------------------------------------------------------


def test_a_job_whose_worker_died_is_picked_up_after_the_lease(ctx):
    job_id = queue()
    # A worker claims the job and dies before finishing (nothing else happens).
    assert jobs._claim(utcnow()) == job_id
    job = fresh(job_id)
    assert job.status == "running" and job.attempts == 1
    assert job.locked_until > utcnow()

    # While the lease holds, nobody else takes it.
    assert jobs.run_one() is None
    assert jobs.run_one(now=utcnow() + jobs.LEASE - timedelta(minutes=1)) is None
    assert calls == []

    # Once it lapses, another worker does.
    ran = jobs.run_one(now=utcnow() + jobs.LEASE + timedelta(minutes=1))
    assert ran is not None and ran.id == job_id
    job = fresh(job_id)
    assert (job.status, job.attempts) == ("done", 2)
    assert calls == [(job_id, 2)]


def test_a_worker_that_lost_its_lease_records_nothing(app, ctx):
    """Worker A is slow; its lease lapses and worker B runs the job to the end. When A finally
    returns, its result and its writes are discarded."""

    def worker_b(job_id):
        with app.app_context():  # another worker: its own session
            ran = jobs.run_one(now=utcnow() + jobs.LEASE + timedelta(minutes=1))
            assert ran.id == job_id and ran.status == "done"

    behaviour["meanwhile"] = worker_b
    job_id = queue(WRITER)
    ran = jobs.run_one()
    assert ran.id == job_id
    job = fresh(job_id)
    assert job.status == "done"
    assert job.attempts == 2
    assert job.result == {"by": 2}
    assert [attempt for _, attempt in calls] == [1, 2]
    assert municipality_codes() == {"GM8002"}  # only B's work


def test_a_worker_that_lost_its_lease_does_not_record_its_failure(app, ctx, monkeypatch):
    def worker_b(job_id):
        with app.app_context():
            jobs.run_one(now=utcnow() + jobs.LEASE + timedelta(minutes=1))

    def writer_then_fail(job, progress):
        result = _writer(job, progress)
        if job.attempts == 1:
            raise RuntimeError("A fails late")
        return result

    monkeypatch.setitem(jobs._handlers, WRITER, writer_then_fail)
    behaviour["meanwhile"] = worker_b
    job_id = queue(WRITER)
    jobs.run_one()
    job = fresh(job_id)
    assert (job.status, job.attempts, job.error) == ("done", 2, None)


# --- one worker per job ------------------------------------------------------------------------


def test_a_job_is_claimed_by_one_of_two_sessions(app, ctx, monkeypatch):
    """Session B reads the job as runnable; before B's compare-and-set, session A claims it.
    B's update then matches nothing and B goes without."""
    job_id = queue()
    real_update = jobs.update
    claimed_by_a = []

    def update_after_a_claims(*args, **kwargs):
        if not claimed_by_a:
            claimed_by_a.append(None)
            with app.app_context():  # session A
                claimed_by_a[0] = jobs._claim(utcnow())
        return real_update(*args, **kwargs)

    monkeypatch.setattr(jobs, "update", update_after_a_claims)
    assert jobs._claim(utcnow()) is None  # session B
    monkeypatch.setattr(jobs, "update", real_update)
    assert claimed_by_a == [job_id]
    job = fresh(job_id)
    assert (job.status, job.attempts) == ("running", 1)


def test_a_job_rescheduled_between_read_and_claim_is_not_taken(app, ctx, monkeypatch):
    """A job read as runnable (lapsed lease) that meanwhile failed and got a back-off must not
    be claimed before its new run_after."""
    job_id = queue()
    start = utcnow()
    jobs._claim(start - jobs.LEASE - timedelta(minutes=5))  # a lease that has lapsed by now
    real_update = jobs.update
    done = []

    def reschedule_first(*args, **kwargs):
        if not done:
            done.append(True)
            with app.app_context():
                job = db.session.get(Job, job_id)
                job.status = "queued"
                job.locked_until = None
                job.run_after = start + timedelta(minutes=10)
                db.session.commit()
        return real_update(*args, **kwargs)

    monkeypatch.setattr(jobs, "update", reschedule_first)
    assert jobs._claim(start) is None
    monkeypatch.setattr(jobs, "update", real_update)
    assert fresh(job_id).status == "queued"


def test_concurrent_workers_claim_each_job_once(app, ctx, monkeypatch):
    """Threads racing for the same single job: exactly one wins (on PostgreSQL the row lock
    and re-checked condition decide; on SQLite the write lock)."""
    job_id = queue()
    workers = 4
    barrier = threading.Barrier(workers)
    real_update = jobs.update

    def update_together(*args, **kwargs):
        # Every worker has read the job as runnable before any of them updates it.
        barrier.wait(timeout=10)
        return real_update(*args, **kwargs)

    monkeypatch.setattr(jobs, "update", update_together)
    results, errors = [], []

    def work():
        try:
            with app.app_context():
                results.append(jobs._claim(utcnow()))
                db.session.remove()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    monkeypatch.setattr(jobs, "update", real_update)
    assert errors == []
    assert sorted(results, key=lambda r: r is None) == [job_id] + [None] * (workers - 1)
    assert fresh(job_id).attempts == 1


@pytest.mark.skipif(not IS_POSTGRES, reason="real concurrency needs PostgreSQL")
def test_concurrent_workers_run_every_job_exactly_once(app, ctx):
    ids = [queue(payload={"value": i}) for i in range(12)]
    errors = []

    def work():
        try:
            with app.app_context():
                while jobs.run_one() is not None:
                    pass
                db.session.remove()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert jobs.run_pending() == 0
    assert sorted(job_id for job_id, _ in calls) == ids
    assert all(attempt == 1 for _, attempt in calls)
    assert all(fresh(i).status == "done" for i in ids)


# --- progress ----------------------------------------------------------------------------------


def test_progress_is_visible_from_another_session_while_running(app, ctx):
    def peek(job_id):
        with app.app_context():  # e.g. the web request polling the progress fragment
            job = db.session.get(Job, job_id)
            return job.status, job.progress, job.progress_message

    behaviour["peek"] = peek
    job_id = queue(PROGRESS)
    jobs.run_one()
    assert behaviour["seen"] == ("running", 40, "halfway")
    assert behaviour["seen_high"][1] == 100 and len(behaviour["seen_high"][2]) == 200
    assert behaviour["seen_low"][1:] == (0, "")
    job = fresh(job_id)
    assert (job.status, job.progress, job.result) == ("done", 100, {})


def test_progress_extends_the_lease(app, ctx):
    def peek(job_id):
        with app.app_context():
            return db.session.get(Job, job_id).locked_until

    behaviour["peek"] = peek
    before = utcnow()
    job_id = queue(PROGRESS, now=before - timedelta(hours=2))
    jobs.run_one(now=before - timedelta(hours=1))  # claimed with a lease that has lapsed
    assert behaviour["seen"] >= before + jobs.LEASE - timedelta(seconds=1)
    assert fresh(job_id).status == "done"


def test_progress_that_cannot_be_recorded_does_not_fail_the_job(ctx, monkeypatch):
    def broken_begin(*args, **kwargs):
        raise RuntimeError("database busy")

    monkeypatch.setattr(db.engine, "begin", broken_begin)
    behaviour["peek"] = lambda job_id: None
    job_id = queue(PROGRESS)
    jobs.run_one()
    monkeypatch.undo()
    assert fresh(job_id).status == "done"


# --- the command -------------------------------------------------------------------------------


def test_worker_once_runs_due_jobs(app, runner):
    with app.app_context():
        ids = [queue(payload={"value": i}) for i in range(2)]
    result = runner.invoke(args=["competition", "worker", "--once"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert [db.session.get(Job, i).status for i in ids] == ["done", "done"]
    result = runner.invoke(args=["competition", "worker", "--once"])
    assert result.exit_code == 0


def test_worker_refuses_a_silly_interval(runner):
    result = runner.invoke(args=["competition", "worker", "--interval", "-1"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
