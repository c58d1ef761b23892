"""Backup and restore: `flask competition export-all` writes the whole platform to an archive and
`import-all` puts it back into a new database, identical row for row, type for type and byte
for byte, with the audit chain intact and the pages rendering as before.

The world is the demo round seeded up to its decision (once for the module: seeding is slow) plus
an uploaded attachment, a self-reference that points forward (a proposal marked a duplicate of
a later one), a JSON null next to SQL NULLs, and stray files in the upload folder that belong
to no record. The source is a database of its own (on PostgreSQL one made and dropped by this
module); each test restores into its own fresh database from conftest.
"""

import hashlib
import io
import json
import re
import shutil
import tarfile
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import JSON, create_engine, insert, make_url, null, select, text, update

from competition import backup, create_app, demo
from competition.extensions import db
from competition.models import Attachment, Job, Municipality, Phase, Proposal, Round, User
from competition.services import attachments, audit
from tests.conftest import BASE_CONFIG, IS_POSTGRES, NOW, _migrate

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
STRAY = (".upload-0123456789abcdef", "stray-from-a-rolled-back-upload.pdf")


@contextmanager
def source_database(template: str, folder: Path) -> Iterator[str]:
    """A database of its own for the seeded source (the test's database from conftest is the
    restore target): a copy of the SQLite template, or a new PostgreSQL database with a unique
    name, migrated here and dropped at the end."""
    if not IS_POSTGRES:
        path = folder / "source.sqlite3"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    name = f"{make_url(template).database}_backup_{uuid.uuid4().hex[:8]}"
    admin = create_engine(template, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(template).set(database=name).render_as_string(hide_password=False)
        _migrate(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def opened(url: str, uploads: Path) -> Iterator[Flask]:
    """The app on database `url` with its uploads in `uploads`, inside an app context."""
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": url,
                      "UPLOAD_FOLDER": str(uploads), "MAIL_FOLDER": str(uploads.parent / "mail"),
                      "FROZEN_NOW": NOW})
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def cli(app: Flask, *args: str):
    return app.test_cli_runner().invoke(args=["competition", *args])


def typed(value):
    """A value with its type (and a datetime's offset), so equal-but-different types differ."""
    offset = value.utcoffset() if isinstance(value, datetime) else None
    return type(value).__name__, value, offset


def snapshot() -> dict[str, tuple[list, list]]:
    """Every table: its rows as the models read them (typed) and as the archive encodes them
    (JSON columns as stored text, so SQL NULL and JSON null differ)."""
    result = {}
    with db.engine.connect() as conn:
        for table in [backup.ALEMBIC_VERSION, *backup.data_tables()]:
            rows = conn.execute(select(table).order_by(*table.primary_key.columns))
            result[table.name] = ([tuple(typed(v) for v in row) for row in rows],
                                  list(backup.table_rows(conn, table)))
    return result


def normalised(html: str) -> str:
    """A page without its per-session CSRF tokens."""
    return re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token"', html)


def pages(app: Flask, world) -> dict[str, str | bytes]:
    client = app.test_client()
    urls = [f"/rondes/{world.slug}", f"/rondes/{world.slug}/uitslag",
            f"/voorstellen/{world.proposal_id}", world.download]
    result = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.get_data()
        result[url] = body if url == world.download else normalised(body.decode())
    return result


class World:
    """The seeded source database, its uploads, its snapshot and one archive of it."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url = url
        self.uploads = folder / "source-uploads"
        with opened(self.url, self.uploads) as app:
            rnd = demo.seed(Phase.DECIDED, now=NOW)
            db.session.commit()
            self.slug = rnd.slug
            proposals = list(db.session.scalars(
                select(Proposal).where(Proposal.round_id == rnd.id).order_by(Proposal.id)))
            submitted = [p for p in proposals if p.status == "submitted"]
            first, last = proposals[0], submitted[-1]
            author = db.session.get(User, last.author_id)
            attachment = attachments.store_upload(
                author, last, attachments.Upload("notitie bij het voorstel.pdf", io.BytesIO(PDF)),
                upload_folder=str(self.uploads), now=NOW)
            self.proposal_id = last.id
            self.download = f"/bijlagen/{attachment.id}/{attachment.original_name}"
            # A self-reference to a later row: restored although that row is not in yet.
            db.session.execute(update(Proposal).where(Proposal.id == first.id)
                               .values(duplicate_of_id=last.id))
            # A JSON null, next to the SQL NULL of a job without result.
            for result in (JSON.NULL, null()):
                db.session.execute(insert(Job).values(
                    kind="test", payload={"n": 1}, status="done", result=result,
                    run_after=NOW, created_at=NOW))
            db.session.commit()
            for name in STRAY:
                (self.uploads / name).write_bytes(b"belongs to no record")
            # Pages first: a request delivers queued mail (the outbox changes).
            self.pages = pages(app, self)
            self.snapshot = snapshot()
            self.stored_names = list(db.session.scalars(select(Attachment.stored_name)))
        self.archive = folder / "backup.zip"
        with opened(self.url, self.uploads) as app:
            result = cli(app, "export-all", str(self.archive))
            assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def world(database_template, tmp_path_factory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("backup")
    with source_database(database_template, folder) as url:
        yield World(url, folder)


def rewrite(archive: Path, target: Path, change, *, fix_checksums: bool) -> Path:
    """A copy of a ZIP archive with `change(name, data) -> data` applied to its members; with
    `fix_checksums` the manifest is updated to match (a consistent but different archive)."""
    with zipfile.ZipFile(archive) as source:
        members = {name: source.read(name) for name in source.namelist()}
    manifest = json.loads(members.pop(backup.MANIFEST))
    for name, data in members.items():
        members[name] = change(name, data)
    manifest = json.loads(change(backup.MANIFEST, json.dumps(manifest).encode()))
    if fix_checksums:
        for entry in manifest["tables"].values():
            entry["sha256"] = hashlib.sha256(members[entry["file"]]).hexdigest()
            entry["rows"] = members[entry["file"]].count(b"\n") - 1
    with zipfile.ZipFile(target, "w") as out:
        for name, data in members.items():
            out.writestr(name, data)
        out.writestr(backup.MANIFEST, json.dumps(manifest))
    return target


def assert_untouched(url: str, uploads: Path) -> None:
    """The database still holds only the migrations' seed rows; no upload was written."""
    with opened(url, uploads):
        assert db.session.scalar(select(User.id).limit(1)) is None
        assert db.session.scalar(select(Round.id).limit(1)) is None
        assert audit.head() == (0, "0" * 64)
        assert db.session.scalar(text("SELECT count(*) FROM domains")) > 0
    assert not uploads.exists() or not any(uploads.iterdir())


# --- the round trip ----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".zip", ".tar.gz"])
def test_round_trip_restores_everything(world, database_url, tmp_path, suffix):
    archive = tmp_path / f"backup{suffix}"
    with opened(world.url, world.uploads) as app:
        result = cli(app, "export-all", str(archive))
    assert result.exit_code == 0, result.output
    assert "Wrote" in result.output and "schema revision" in result.output

    # The archive: a manifest with the revision, row counts and checksums; a file per table
    # and one per referenced upload (the stray files are not part of the platform's state).
    if suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            names = set(zf.namelist())
            manifest = json.loads(zf.read(backup.MANIFEST))
            proposals_file = zf.read("tables/proposals.jsonl").decode()
    else:
        with tarfile.open(archive, "r:gz") as tf:
            names = set(tf.getnames())
            manifest = json.load(tf.extractfile(backup.MANIFEST))
            proposals_file = tf.extractfile("tables/proposals.jsonl").read().decode()
    assert manifest["format"] == backup.FORMAT and manifest["format_version"] == 1
    assert manifest["schema_revision"] == world.snapshot["alembic_version"][1][0][0]
    assert datetime.fromisoformat(manifest["created_at"]).utcoffset().total_seconds() == 0
    assert {name: entry["rows"] for name, entry in manifest["tables"].items()} == {
        name: len(rows) for name, (rows, _raw) in world.snapshot.items()}
    assert set(manifest["uploads"]["files"]) == set(world.stored_names)
    assert manifest["uploads"]["files"] and manifest["uploads"]["missing"] == []
    assert names == ({backup.MANIFEST} | {e["file"] for e in manifest["tables"].values()}
                     | {f"uploads/{n}" for n in world.stored_names})
    header = json.loads(proposals_file.splitlines()[0])
    assert header["table"] == "proposals" and ["created_at", "datetime"] in header["columns"]
    assert re.search(r'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00"', proposals_file)

    url, uploads = database_url, tmp_path / "restored-uploads"
    with opened(url, uploads) as app:
        result = cli(app, "import-all", str(archive))
        assert result.exit_code == 0, result.output
        assert "Restored" in result.output and "(verified)" in result.output
        restored = snapshot()
        report = audit.verify_chain()
        assert report.ok, report.problems
        assert (report.head_seq, report.head_hash) == (manifest["audit_head"]["seq"],
                                                        manifest["audit_head"]["hash"])
        assert pages(app, world) == world.pages

        # Every table, row for row, value for value and type for type.
        assert restored.keys() == world.snapshot.keys()
        for name, (rows, raw) in world.snapshot.items():
            assert restored[name][0] == rows, f"table {name} differs"
            assert restored[name][1] == raw, f"table {name} differs in its stored form"
        kinds = {kind for rows, _ in restored.values() for row in rows for kind, *_ in row}
        # The awkward cases were there to restore: a JSON null beside SQL NULL, a forward
        # self-reference.
        columns = list(Job.__table__.columns.keys())
        assert {row[columns.index("result")] for row in restored["jobs"][1]
                if row[columns.index("kind")] == "test"} == {"null", None}
        columns = list(Proposal.__table__.columns.keys())
        assert any((row[columns.index("duplicate_of_id")] or 0) > row[columns.index("id")]
                   for row in restored["proposals"][1])
        assert {"datetime", "date", "Decimal", "bool", "float", "dict", "list"} <= kinds

        # New rows get new ids (PostgreSQL's sequences were moved past the restored ones) and
        # extend the chain.
        top = db.session.scalar(select(db.func.max(Municipality.id)))
        municipality = Municipality(code="GM9999", name="Nieuwegemeente", province="Utrecht",
                                    population=1000)
        db.session.add(municipality)
        db.session.flush()
        audit.record("test.after-restore", actor=None, now=NOW, object_type="municipality",
                     object_id=municipality.id)
        db.session.commit()
        assert municipality.id == top + 1
        assert audit.verify_chain().ok

    # The uploads, byte for byte; nothing else.
    assert sorted(p.name for p in uploads.iterdir()) == sorted(world.stored_names)
    for name in world.stored_names:
        assert (uploads / name).read_bytes() == (world.uploads / name).read_bytes()


def test_values_keep_their_types_through_the_encoding():
    values = [("datetime", datetime.fromisoformat("2027-03-01T09:00:00.123456+00:00")),
              ("date", date(2027, 3, 1)), ("decimal", backup.Decimal("12.500")),
              ("bytes", b"\x00\xff"), ("float", 0.1), ("float", float("inf")),
              ("int", 2**40), ("bool", False), ("str", "Súdwest-Fryslân")]
    for kind, value in values:
        back = backup.decode_value(kind, json.loads(json.dumps(backup.encode_value(kind,
                                                                                   value))))
        assert typed(back) == typed(value)
    assert backup.decode_value("json", "null") is JSON.NULL
    assert backup.decode_value("json", '{"a": [1, 2.5, null]}') == {"a": [1, 2.5, None]}
    assert str(backup.decode_value("json", None)) == "NULL"


# --- refusals ---------------------------------------------------------------------------------


def test_import_into_a_database_with_data_is_refused(world, database_url, tmp_path):
    with opened(world.url, world.uploads) as app:
        result = cli(app, "import-all", str(world.archive))
        assert result.exit_code != 0
        assert "not empty" in result.output
        assert snapshot() == world.snapshot

    # One user is enough to count as data.
    url, uploads = database_url, tmp_path / "uploads"
    with opened(url, uploads) as app:
        db.session.add(User(email="a@example.org", name="A", password_hash="x",
                            created_at=NOW, password_changed_at=NOW))
        db.session.commit()
        result = cli(app, "import-all", str(world.archive))
        assert result.exit_code != 0
        assert "not empty (rows in users)" in result.output
        assert db.session.scalar(select(db.func.count(User.id))) == 1
    assert not uploads.exists()


def test_damaged_archive_is_refused_before_anything_is_written(world, database_url, tmp_path):
    def flip(name, data):
        return data.replace(b"Utrecht", b"Utrecgt", 1) if name.endswith("/municipalities.jsonl") \
            else data

    damaged = rewrite(world.archive, tmp_path / "damaged.zip", flip, fix_checksums=False)
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(world.archive.read_bytes()[: world.archive.stat().st_size // 2])
    as_tar = io.BytesIO()
    with zipfile.ZipFile(world.archive) as zf, tarfile.open(fileobj=as_tar, mode="w:gz") as tf:
        for name in zf.namelist():
            info = tarfile.TarInfo(name)
            info.size = zf.getinfo(name).file_size
            tf.addfile(info, io.BytesIO(zf.read(name)))
    truncated_tar = tmp_path / "truncated.tar.gz"
    truncated_tar.write_bytes(as_tar.getvalue()[: len(as_tar.getvalue()) * 3 // 4])
    url, uploads = database_url, tmp_path / "uploads"
    for archive, message in [(damaged, "tables/municipalities.jsonl: checksum mismatch"),
                             (truncated, "damaged or truncated"),
                             (truncated_tar, "cannot be read"),
                             (tmp_path / "absent.zip", "does not exist")]:
        with opened(url, uploads) as app:
            result = cli(app, "import-all", str(archive))
        assert result.exit_code != 0
        assert message in result.output, result.output
        assert_untouched(url, uploads)


def test_a_failing_row_rolls_the_whole_restore_back(world, database_url, tmp_path):
    # A consistent archive (checksums match) whose last table refers to a missing row: the
    # restore fails late, after most tables went in, and leaves nothing behind.
    def dangle(name, data):
        if name != "tables/scores.jsonl":
            return data
        lines = data.decode().splitlines()
        header = json.loads(lines[0])
        column = [c for c, _kind in header["columns"]].index("scorecard_id")
        row = json.loads(lines[1])
        row[column] = 999_999
        return "\n".join([lines[0], json.dumps(row), *lines[2:]]).encode() + b"\n"

    archive = rewrite(world.archive, tmp_path / "dangling.zip", dangle, fix_checksums=True)
    url, uploads = database_url, tmp_path / "uploads"
    with opened(url, uploads) as app:
        result = cli(app, "import-all", str(archive))
    assert result.exit_code != 0
    assert "rolled back" in result.output
    assert_untouched(url, uploads)


def test_other_schema_revision_is_refused(world, database_url, tmp_path):
    url, uploads = database_url, tmp_path / "uploads"
    revision = world.snapshot["alembic_version"][1][0][0]

    def future(name, data):
        if name in (backup.MANIFEST, "tables/alembic_version.jsonl"):
            return data.replace(revision.encode(), b"0099_future")
        return data

    archive = rewrite(world.archive, tmp_path / "future.zip", future, fix_checksums=True)
    with opened(url, uploads) as app:
        result = cli(app, "import-all", str(archive))
    assert result.exit_code != 0
    assert f"schema revision 0099_future, the database is at {revision}" in result.output
    assert_untouched(url, uploads)

    # A database at another revision than the archive's.
    with opened(url, uploads) as app:
        db.session.execute(text("UPDATE alembic_version SET version_num = '0001_foundation'"))
        db.session.commit()
        try:
            result = cli(app, "import-all", str(world.archive))
        finally:  # on PostgreSQL the next test gets this database emptied, not re-migrated
            db.session.execute(text("UPDATE alembic_version SET version_num = :v"),
                               {"v": revision})
            db.session.commit()
    assert result.exit_code != 0
    assert f"schema revision {revision}, the database is at 0001_foundation" in result.output


def test_existing_upload_with_other_content_is_not_overwritten(world, database_url, tmp_path):
    url, uploads = database_url, tmp_path / "uploads"
    uploads.mkdir()
    (uploads / world.stored_names[0]).write_bytes(b"someone else's file")
    with opened(url, uploads) as app:
        result = cli(app, "import-all", str(world.archive))
        assert result.exit_code != 0
        assert "exists with other content" in result.output
        assert db.session.scalar(select(User.id).limit(1)) is None
    assert [p.name for p in uploads.iterdir()] == [world.stored_names[0]]
    assert (uploads / world.stored_names[0]).read_bytes() == b"someone else's file"


def test_export_with_missing_uploads_is_refused_and_writes_no_archive(world, tmp_path):
    archive = tmp_path / "backup.zip"
    with opened(world.url, tmp_path / "empty-uploads") as app:
        result = cli(app, "export-all", str(archive))
        assert result.exit_code != 0
        assert "uploaded files are missing" in result.output
        # Neither the archive nor a partial one.
        assert [p.name for p in tmp_path.iterdir() if "backup" in p.name] == []

        result = cli(app, "export-all", str(archive), "--allow-missing-uploads")
        assert result.exit_code == 0, result.output
        assert "WARNING" in result.output
        result = cli(app, "export-all", str(archive))
        assert result.exit_code != 0 and "exists" in result.output
    with zipfile.ZipFile(archive) as zf:
        manifest = json.loads(zf.read(backup.MANIFEST))
    assert manifest["uploads"]["files"] == {}
    assert sorted(manifest["uploads"]["missing"]) == sorted(world.stored_names)
