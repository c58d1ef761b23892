"""`flask competition …`: operator commands."""

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from competition.extensions import db
from competition.models import PHASES, Municipality, Phase, Role, User, utcnow
from competition.services import accounts, mail, municipalities, rounds
from competition.services.errors import DomainError

group = AppGroup("competition", help="Open Competitie operator commands.")


@group.command("import-municipalities")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--deactivate-missing", is_flag=True,
              help="Mark municipalities absent from the file inactive (after mergers).")
def import_municipalities_command(csv_file: Path, deactivate_missing: bool) -> None:
    """Upsert municipalities from a CSV with columns code,name,province,population."""
    try:
        text = csv_file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{csv_file}: not UTF-8 text ({exc})") from exc
    except OSError as exc:
        raise click.ClickException(f"{csv_file}: cannot be read ({exc.strerror})") from exc
    try:
        rows = municipalities.parse_csv(text)
    except municipalities.MunicipalityImportError as exc:
        for line, message in exc.errors:
            click.echo(f"{csv_file}:{line}: {message}", err=True)
        raise click.ClickException(str(exc.message)) from exc
    report = municipalities.import_rows(rows, actor=None, now=utcnow(),
                                        deactivate_missing=deactivate_missing)
    db.session.commit()
    click.echo(
        f"{len(report.created)} created, {len(report.updated)} updated, "
        f"{report.unchanged} unchanged, {len(report.deactivated)} deactivated."
    )


@group.command("seed-demo")
@click.option("--phase", "phase_name", type=click.Choice([p.value for p in PHASES]),
              default=Phase.SUBMISSION.value, show_default=True,
              help="The phase the demo round stands in.")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database has users.")
def seed_demo_command(phase_name: str, if_empty: bool) -> None:
    """Fill the database with a realistic Dutch demo round and demo accounts."""
    from competition import demo

    if if_empty and accounts.count_users() > 0:
        click.echo("The database already has data; demo not loaded.")
        demo.print_accounts(click.echo, only_existing=True)
        return
    try:
        demo.seed(Phase(phase_name), now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc.message)) from exc
    db.session.commit()
    mail.deliver_pending()
    click.echo(f"Demo loaded; the demo round stands in phase '{phase_name}'.")
    demo.print_accounts(click.echo)


@group.command("create-organiser")
@click.argument("email")
@click.argument("name")
@click.password_option()
def create_organiser_command(email: str, name: str, password: str) -> None:
    """Create the first organiser account (for a fresh production database)."""
    now = utcnow()
    name = name.strip()
    if not name or len(name) > 120:
        raise click.ClickException("Give a name of 1 to 120 characters.")
    try:
        address = accounts.normalise_email(email)
        accounts.check_password_rules(password, email=address, name=name)
    except DomainError as exc:
        raise click.ClickException(str(exc.message)) from exc
    if accounts.find_user_by_email(address):
        raise click.ClickException(f"{address} already has an account.")
    user = User(email=address, name=name, created_at=now, password_changed_at=now,
                password_hash="", is_organiser=True)
    user.password_hash = accounts.hash_password(password)
    db.session.add(user)
    db.session.flush()
    from competition.services import audit

    audit.record("user.created", actor=None, now=now, object_type="user", object_id=user.id,
                 data={"via": "cli", "roles": [Role.ORGANISER.value]})
    db.session.commit()
    click.echo(f"Organiser {address} created.")


@group.command("tick")
def tick_command() -> None:
    """Apply the clock: move rounds past phases whose end has passed; mail due reminders."""
    from competition import clock

    now = clock.now()  # the frozen moment under test, else the real one
    changed = failed = 0
    # One transaction per round: a round whose end-of-phase work fails holds up no other.
    for rnd in rounds.due_rounds(now=now):
        slug = rnd.slug
        try:
            entered = rounds.sync_round(rnd, now=now)
            db.session.commit()
        except Exception as exc:
            db.session.rollback()
            failed += 1
            click.echo(f"{slug}: could not advance: {exc}", err=True)
            continue
        if entered:
            changed += 1
            click.echo(f"{slug}: now in {', '.join(p.value for p in entered)}")
        else:
            click.echo(f"{slug}: overdue, the next phase cannot open yet")
    failed += _send_due_notifications(now)
    if not changed and not failed:
        click.echo("No phase changes due.")
    if failed:
        sys.exit(1)


def _send_due_notifications(now) -> int:
    """The clock's mail: "about to close" reminders, and a delivery job for mail still waiting
    (a job that gave up, say); inline delivery sends here. Returns 1 on failure, else 0."""
    from competition.services import notifications

    try:
        queued = notifications.send_due(now)
        mail.sweep(now)
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        click.echo(f"notifications: could not queue the due mail: {exc}", err=True)
        return 1
    if queued:
        click.echo(f"{queued} reminder mail(s) queued.")
    if mail.delivery_mode() == "inline":
        mail.deliver_pending()
    return 0


@group.command("close-phase")
@click.argument("slug")
@click.option("--as", "email", required=True, help="Email of the organiser doing this.")
@click.option("--reason", default="", help="Recorded in the audit log.")
def close_phase_command(slug: str, email: str, reason: str) -> None:
    """Close a round's current phase now and open the next one."""
    actor = accounts.find_user_by_email(email)
    if actor is None:
        raise click.ClickException(f"No user {email}.")
    try:
        rnd = rounds.get_round(slug)
        entered = rounds.close_phase(rnd, rnd.current_phase, actor=actor, now=utcnow(),
                                     reason=reason)
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc.message)) from exc
    db.session.commit()
    mail.deliver_pending()
    click.echo(f"{slug} is now in phase {entered.value}.")


@group.command("send-mail")
def send_mail_command() -> None:
    """Send mail waiting in the outbox (retries earlier failures)."""
    sent, failed = mail.deliver_pending(limit=10_000)
    click.echo(f"{sent} sent, {failed} failed.")
    if failed:
        sys.exit(1)


@group.command("worker")
@click.option("--once", is_flag=True, help="Run the jobs that are due, then stop.")
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds between polls.")
def worker_command(once: bool, interval: float) -> None:
    """Process background jobs (clustering runs, later mail) until stopped."""
    import logging
    import time

    from competition.services import jobs

    if once:
        click.echo(f"{jobs.run_pending()} job(s) run.")
        return
    click.echo("Worker started; Ctrl+C stops it.")
    while True:
        try:
            while (job := jobs.run_one()) is not None:
                click.echo(f"job {job.id} ({job.kind}): {job.status}")
        except Exception:  # e.g. the database restarting: keep polling; jobs record failures
            db.session.rollback()
            logging.getLogger(__name__).exception("job worker")
        time.sleep(interval)


def _utf8_lines(stream, name: str):
    """Lines of a binary stream decoded as UTF-8 (a BOM on the first line is allowed)."""
    for number, raw in enumerate(stream, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise click.ClickException(f"{name}: line {number}: not UTF-8 text ({exc.reason})"
                                       ) from None


@group.command("cluster-file")
@click.argument("input_file", type=click.File("rb"))
@click.option("--threshold", type=float, default=None,
              help="Similarity threshold (0–1); default: the engine's measured default.")
def cluster_file_command(input_file, threshold: float | None) -> None:
    """Cluster a JSON Lines file ({"id", "title", "body"} per line); print {"id", "cluster"}."""
    from competition.engine import clustering as engine

    name = getattr(input_file, "name", "input")
    try:
        engine.cluster_jsonl(_utf8_lines(input_file, name), sys.stdout, threshold=threshold)
    except ValueError as exc:
        raise click.ClickException(f"{name}: {exc}") from exc


@group.command("cluster")
@click.argument("slug")
@click.option("--replace-manual", is_flag=True,
              help="Also replace clusters confirmed or edited by hand.")
@click.option("--threshold", type=float, default=None)
def cluster_command(slug: str, replace_manual: bool, threshold: float | None) -> None:
    """Suggest clusters for a round now (as the background job would)."""
    from competition.services import clustering

    try:
        rnd = rounds.get_round(slug)
        stats = clustering.run_clustering(rnd, replace_manual=replace_manual,
                                          threshold=threshold, now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc.message)) from exc
    except (ValueError, RuntimeError) as exc:  # the engine refused its input or its output
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"{stats['clusters']} clusters for {stats['proposals']} proposals "
               f"({stats['singletons']} single, {stats['kept_proposals']} kept as placed).")


@group.command("tally")
@click.argument("ballot_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True,
              help='Print {"winners": [...], "ranking": [...]} (candidate ids, best first).')
def tally_command(ballot_file: Path, as_json: bool) -> None:
    """Recount one cluster's exported ballots (Schulze), as the site counts them."""
    import json

    from competition.engine import tally

    try:
        result = tally.tally(tally.load_ballot_file(ballot_file.read_bytes()))
    except tally.BallotFileError as exc:
        raise click.ClickException(f"{ballot_file}: {exc}") from exc
    if as_json:
        click.echo(json.dumps(tally.result_json(result)))
    else:
        click.echo(tally.format_result(result))


@group.command("verify-audit")
@click.option("--hash", "expected", default=None, metavar="HASH",
              help="Also check that this hash (e.g. the one a results page shows) is an event "
                   "of the chain.")
def verify_audit_command(expected: str | None) -> None:
    """Recompute the audit log's hash chain; exit 1 when an event was changed or removed."""
    from competition.models import AuditEvent
    from competition.services import audit

    report = audit.verify_chain()
    click.echo(f"chained events: {report.checked}")
    click.echo(f"unchained events (recorded before the chain existed): {report.unchained}")
    click.echo(f"head: event {report.head_seq}, hash {report.head_hash}")
    problems = list(report.problems)
    if expected is not None:
        wanted = expected.strip().lower()
        seq = db.session.scalar(select(AuditEvent.seq).where(AuditEvent.hash == wanted,
                                                             AuditEvent.seq.is_not(None)))
        if seq is None:
            problems.append(f"hash {wanted} is not the hash of any event in the chain")
        else:
            click.echo(f"hash {wanted} is event {seq} of the chain")
    if problems:
        for problem in problems:
            click.echo(f"PROBLEM: {problem}", err=True)
        click.echo(f"BROKEN: {len(problems)} problem(s) found.", err=True)
        sys.exit(1)
    click.echo("OK")


@group.command("status")
def status_command() -> None:
    """Print a short summary of the database."""
    count = db.session.scalar(select(func.count(Municipality.id)))
    click.echo(f"municipalities: {count}")
    click.echo(f"users: {accounts.count_users()}")
    for rnd in rounds.all_rounds():
        click.echo(f"round {rnd.slug}: {rnd.phase}")


@group.command("export-all")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace ARCHIVE if it exists.")
@click.option("--allow-missing-uploads", is_flag=True,
              help="Write the archive even when uploaded files are missing (they are listed).")
def export_all_command(archive: Path, overwrite: bool, allow_missing_uploads: bool) -> None:
    """Back up every table and the uploaded files to ARCHIVE (.zip or .tar.gz)."""
    from flask import current_app

    from competition import backup

    try:
        report = backup.export_archive(archive, upload_folder=current_app.config["UPLOAD_FOLDER"],
                                       now=utcnow(), overwrite=overwrite,
                                       allow_missing_uploads=allow_missing_uploads)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in report.lines():
        click.echo(line)


@group.command("import-all")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--allow-broken-audit-chain", is_flag=True,
              help="Restore even when the archive's audit chain does not verify.")
def import_all_command(archive: Path, allow_broken_audit_chain: bool) -> None:
    """Restore an export-all ARCHIVE into an empty, migrated database."""
    from flask import current_app

    from competition import backup

    try:
        report = backup.import_archive(archive, upload_folder=current_app.config["UPLOAD_FOLDER"],
                                       allow_broken_audit_chain=allow_broken_audit_chain)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in report.lines():
        click.echo(line)


def init_app(app: Flask) -> None:
    """Register the command group."""
    app.cli.add_command(group)
