"""Backup and restore of the whole platform: `flask competition export-all` and `import-all`.

An archive is a ZIP file, or a gzipped tar file when its name ends in .tar.gz or .tgz:

    tables/<table>.jsonl     one file per table of the models, and tables/alembic_version.jsonl
    uploads/<stored name>    the uploaded files the attachments table refers to
    manifest.json            written last: what the archive holds, with checksums

A table file is JSON Lines. Its first line is a header, {"table": name, "columns": [[column,
kind], ...]}; every further line is one row as a JSON array in the header's column order, rows
in primary key order. null is SQL NULL whatever the kind; other values are encoded by kind:

    int, bool, str   as JSON
    float            a JSON number; "NaN", "Infinity", "-Infinity" as strings
    decimal          a string, exactly as stored ("12.500")
    date, time       ISO 8601
    datetime         ISO 8601; timezone-aware values in UTC with their offset ("+00:00")
    bytes            base64
    json             the stored JSON text as a string, so SQL NULL (null) and a JSON null
                     ("null") stay apart and the text is restored as it was

The manifest: {"format": "open-competitie-backup", "format_version": 1, "schema_revision",
"created_at", "database" (the dialect it came from), "tables": {name: {"file", "rows",
"sha256"}}, "uploads": {"policy": "referenced", "files": {name: {"bytes", "sha256"}},
"missing": [names]}, "audit_head": {"seq", "hash"}}.

Uploads: only the files that attachment rows refer to (removed attachments included: their
rows and files are kept as history). Anything else in the upload folder (an upload abandoned
half-way, the file of a rolled-back upload) belongs to no record and is left out.

Export reads every table in one transaction (REPEATABLE READ and read-only on PostgreSQL, one
read transaction on SQLite), table by table in batches, so the archive is a consistent
snapshot and memory use does not grow with the database. It is written under a temporary name
and renamed when complete.

Import unpacks the archive into a temporary folder and checks every checksum and row count
before it writes anything; it restores only into a database migrated to the archive's
revision (which must be the code's too) holding nothing but the rows the migrations seed
(the domain list, the audit chain's head row), which it replaces. All rows go in, in foreign
key order, in one transaction; PostgreSQL sequences are moved past the restored ids; the audit
chain is verified before the commit. Upload files are copied last and removed again if
anything fails, so a refused or failed import leaves the database and the folder as they were.
"""

import base64
import contextlib
import hashlib
import io
import json
import math
import os
import re
import secrets
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from flask import current_app
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    MetaData,
    String,
    Table,
    Text,
    cast,
    delete,
    func,
    inspect,
    literal,
    null,
    select,
    text,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import TypeDecorator

from competition.extensions import db

FORMAT = "open-competitie-backup"
FORMAT_VERSION = 1
BATCH = 1000
CHUNK = 1024 * 1024
MANIFEST = "manifest.json"

# Tables the migrations fill themselves: a freshly migrated database already has these rows,
# and the restore replaces them with the archive's.
SEED_TABLES = ("domains", "audit_head")

# The table Alembic keeps its revision in (not part of the models' metadata).
ALEMBIC_VERSION = Table("alembic_version", MetaData(),
                        Column("version_num", String(32), primary_key=True))

_TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# Stored upload names are random (token_urlsafe) with an extension: nothing else is accepted,
# so an archive can never write outside the upload folder.
_UPLOAD_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}")

_KINDS = {bool: "bool", int: "int", float: "float", Decimal: "decimal", str: "str",
          datetime: "datetime", date: "date", time: "time", bytes: "bytes"}


class BackupError(Exception):
    """An archive cannot be written or restored; the message says why and what to do."""


@dataclass
class ExportReport:
    path: Path
    schema_revision: str
    rows: dict[str, int]
    files: int
    file_bytes: int
    missing: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The summary the command prints."""
        lines = [
            f"Wrote {self.path}: {sum(self.rows.values())} rows in {len(self.rows)} tables, "
            f"{self.files} uploaded files ({self.file_bytes} bytes), schema revision "
            f"{self.schema_revision}."]
        if self.missing:
            lines.append(f"WARNING: {len(self.missing)} uploaded files were missing and are not "
                         f"in the archive: {', '.join(self.missing)}")
        return lines


@dataclass
class ImportReport:
    path: Path
    schema_revision: str
    rows: dict[str, int]
    files_written: int
    files_present: int
    audit_events: int
    audit_head: str
    audit_problems: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The summary the command prints."""
        lines = [
            f"Restored {self.path}: {sum(self.rows.values())} rows in {len(self.rows)} tables, "
            f"{self.files_written} uploaded files written ({self.files_present} were already "
            f"there), schema revision {self.schema_revision}.",
            f"Audit chain: {self.audit_events} chained events, head {self.audit_head}"
            + (" (verified)." if not self.audit_problems else
               f": BROKEN, {len(self.audit_problems)} problem(s), as in the archive."),
        ]
        lines += [f"PROBLEM: {problem}" for problem in self.audit_problems]
        if self.missing:
            lines.append(f"WARNING: the archive lacks {len(self.missing)} uploaded files that "
                         f"were already missing when it was made: {', '.join(self.missing)}")
        return lines


# --- schema -----------------------------------------------------------------------------------


def data_tables() -> list[Table]:
    """Every table of the models, parents before children."""
    return list(db.metadata.sorted_tables)


def code_revision() -> str:
    """The migration head this code expects the database to be at."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", current_app.extensions["migrate"].directory)
    heads = ScriptDirectory.from_config(config).get_heads()
    if len(heads) != 1:
        raise BackupError(f"The migrations have {len(heads)} heads ({', '.join(heads)}); "
                          "merge them first.")
    return heads[0]


def database_revision(conn: Connection) -> str:
    """The revision the database is migrated to."""
    if not inspect(conn).has_table(ALEMBIC_VERSION.name):
        raise BackupError("The database has no alembic_version table: it is not migrated. "
                          "Run `flask db upgrade` first.")
    versions = list(conn.scalars(select(ALEMBIC_VERSION.c.version_num)))
    if len(versions) != 1:
        raise BackupError(f"The database has {len(versions)} schema revisions "
                          f"({', '.join(versions) or 'none'}); expected exactly one.")
    return versions[0]


def _check_revision(conn: Connection) -> str:
    revision, expected = database_revision(conn), code_revision()
    if revision != expected:
        raise BackupError(f"The database is at schema revision {revision}, but this version "
                          f"of the code expects {expected}. Run `flask db upgrade` (or use the "
                          "code the database belongs to) first.")
    return revision


def _check_schema(conn: Connection) -> None:
    """The database's tables and columns are the models' (nothing would be lost or unknown)."""
    inspector = inspect(conn)
    in_database = set(inspector.get_table_names()) - {ALEMBIC_VERSION.name}
    in_models = {table.name for table in data_tables()}
    if in_database != in_models:
        extra, absent = sorted(in_database - in_models), sorted(in_models - in_database)
        raise BackupError("The database's tables differ from the models' (only in the "
                          f"database: {', '.join(extra) or '-'}; only in the models: "
                          f"{', '.join(absent) or '-'}). Is it migrated to this code?")
    for table in data_tables():
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        if columns != set(table.columns.keys()):
            raise BackupError(f"Table {table.name}: the database's columns "
                              f"({', '.join(sorted(columns))}) differ from the models' "
                              f"({', '.join(sorted(table.columns.keys()))}).")


def column_kind(column: Column) -> str:
    """How a column's values are encoded in the archive."""
    column_type = column.type
    while isinstance(column_type, TypeDecorator):  # e.g. UTCDateTime: stored as its impl
        column_type = column_type.impl_instance
    if isinstance(column_type, JSON):
        return "json"
    try:
        python_type = column_type.python_type
    except NotImplementedError:
        python_type = None
    kind = _KINDS.get(python_type)
    if kind is None:
        raise BackupError(f"Column {column.table.name}.{column.name} has type {column.type!r}, "
                          "which the backup format cannot encode yet.")
    return kind


# --- encoding ---------------------------------------------------------------------------------


def encode_value(kind: str, value: Any) -> Any:
    """A column value as it is written to the archive (see the module docstring)."""
    if value is None:
        return None
    match kind:
        case "int":
            return int(value)
        case "bool":
            return bool(value)
        case "float":
            value = float(value)
            if math.isnan(value):
                return "NaN"
            return value if math.isfinite(value) else ("Infinity" if value > 0 else "-Infinity")
        case "decimal":
            return str(value)
        case "datetime":
            if value.tzinfo is not None:
                value = value.astimezone(UTC)
            return value.isoformat()
        case "date" | "time":
            return value.isoformat()
        case "bytes":
            return base64.b64encode(bytes(value)).decode("ascii")
        case "str" | "json":  # json columns are selected as their stored text
            return str(value)
    raise BackupError(f"unknown column kind {kind}")


def decode_value(kind: str, value: Any) -> Any:
    """A value from the archive as it is inserted (the inverse of `encode_value`)."""
    if value is None:
        return null() if kind == "json" else None
    match kind:
        case "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"not an integer: {value!r}")
            return value
        case "bool":
            if not isinstance(value, bool):
                raise ValueError(f"not a boolean: {value!r}")
            return value
        case "float":
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ValueError(f"not a number: {value!r}")
            return float(value)
        case "decimal":
            return Decimal(_text(value))
        case "datetime":
            return datetime.fromisoformat(_text(value))
        case "date":
            return date.fromisoformat(_text(value))
        case "time":
            return time.fromisoformat(_text(value))
        case "bytes":
            return base64.b64decode(_text(value), validate=True)
        case "str":
            return _text(value)
        case "json":
            parsed = json.loads(_text(value))
            return JSON.NULL if parsed is None else parsed
    raise ValueError(f"unknown column kind {kind}")


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not a string: {value!r}")
    return value


def table_rows(conn: Connection, table: Table) -> Iterator[list[Any]]:
    """The table's rows, encoded, in primary key order, fetched in batches."""
    kinds = [column_kind(c) for c in table.columns]
    # JSON is read as its stored text: the parsed value cannot tell SQL NULL from JSON null.
    columns = [cast(c, Text).label(c.name) if kind == "json" else c
               for c, kind in zip(table.columns, kinds, strict=True)]
    stmt = select(*columns).order_by(*table.primary_key.columns)
    for row in conn.execute(stmt.execution_options(yield_per=BATCH)):
        yield [encode_value(kind, value) for kind, value in zip(kinds, row, strict=True)]


def _json_line(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            + "\n").encode("utf-8")


# --- archive files ----------------------------------------------------------------------------


def archive_format(path: Path) -> str:
    """"zip" or "tar.gz", from the archive's name."""
    name = path.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith((".tar.gz", ".tgz")):
        return "tar.gz"
    raise BackupError(f"{path}: name the archive *.zip or *.tar.gz.")


class _HashingReader:
    """Reads a file while counting and hashing what was read."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self.size = 0
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self._fh.read(n)
        self.size += len(data)
        self.digest.update(data)
        return data


class _ArchiveWriter:
    """Adds files to a ZIP or gzipped tar archive, returning each one's size and SHA-256."""

    def __init__(self, path: Path, fmt: str, moment: datetime) -> None:
        self._fmt = fmt
        self._moment = moment
        if fmt == "zip":
            self._zip = zipfile.ZipFile(path, "x", allowZip64=True)
        else:
            self._tar = tarfile.open(path, "x:gz", format=tarfile.PAX_FORMAT)  # noqa: SIM115

    def add_file(self, name: str, source: Path, *, compress: bool) -> tuple[int, str]:
        with source.open("rb") as fh:
            reader = _HashingReader(fh)
            if self._fmt == "zip":
                info = zipfile.ZipInfo(name, date_time=self._moment.timetuple()[:6])
                # Uploads (PDF, PNG, JPEG, ODT, DOCX) are compressed already.
                info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
                with self._zip.open(info, "w", force_zip64=True) as out:
                    while chunk := reader.read(CHUNK):
                        out.write(chunk)
            else:
                info = tarfile.TarInfo(name)
                info.size = os.fstat(fh.fileno()).st_size
                info.mtime = int(self._moment.timestamp())
                info.mode = 0o644
                self._tar.addfile(info, reader)
                if reader.size != info.size:
                    raise BackupError(f"{source} changed while it was being archived.")
        return reader.size, reader.digest.hexdigest()

    def add_bytes(self, name: str, data: bytes) -> None:
        if self._fmt == "zip":
            info = zipfile.ZipInfo(name, date_time=self._moment.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            self._zip.writestr(info, data)
        else:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(self._moment.timestamp())
            info.mode = 0o644
            self._tar.addfile(info, io.BytesIO(data))

    def close(self) -> None:
        if self._fmt == "zip":
            self._zip.close()
        else:
            self._tar.close()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- export -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _snapshot(conn: Connection) -> Iterator[None]:
    """One read transaction over the whole export, so every table shows the same moment."""
    if conn.dialect.name == "postgresql":
        conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            yield
        return
    with conn.begin():
        if conn.dialect.name == "sqlite" and not conn.connection.dbapi_connection.in_transaction:
            # pysqlite opens transactions only for writes; a read snapshot needs an explicit one.
            conn.exec_driver_sql("BEGIN")
        yield


def export_archive(path: Path, *, upload_folder: str, now: datetime, overwrite: bool = False,
                   allow_missing_uploads: bool = False) -> ExportReport:
    """Write every table and every referenced upload to an archive at `path`."""
    fmt = archive_format(path)
    if path.exists() and not overwrite:
        raise BackupError(f"{path} exists; choose another name or pass --overwrite.")
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent} is not a folder.")
    partial = path.with_name(f".{path.name}.{secrets.token_hex(6)}.partial")
    try:
        with tempfile.TemporaryDirectory(prefix="oc-export-") as scratch, \
                db.engine.connect() as conn, _snapshot(conn):
            manifest = _write_archive(conn, partial, fmt, Path(scratch), Path(upload_folder),
                                      now=now, allow_missing_uploads=allow_missing_uploads)
        os.replace(partial, path)
    except BaseException as exc:
        partial.unlink(missing_ok=True)  # never leave a half-written archive behind
        if isinstance(exc, SQLAlchemyError):
            raise BackupError(f"Reading the database failed: {exc}") from exc
        if isinstance(exc, OSError):
            raise BackupError(f"Writing the archive failed: {exc}") from exc
        raise
    files = manifest["uploads"]["files"]
    return ExportReport(path=path, schema_revision=manifest["schema_revision"],
                        rows={name: t["rows"] for name, t in manifest["tables"].items()
                              if name != ALEMBIC_VERSION.name},
                        files=len(files), file_bytes=sum(f["bytes"] for f in files.values()),
                        missing=manifest["uploads"]["missing"])


def _write_archive(conn: Connection, target: Path, fmt: str, scratch: Path, folder: Path, *,
                   now: datetime, allow_missing_uploads: bool) -> dict[str, Any]:
    """Write the archive from the snapshot `conn` reads; returns its manifest."""
    revision = _check_revision(conn)
    _check_schema(conn)
    stored_names = _referenced_uploads(conn)
    missing = [name for name in stored_names if not (folder / name).is_file()]
    if missing and not allow_missing_uploads:
        raise BackupError(
            f"{len(missing)} uploaded files are missing from {folder}: "
            f"{', '.join(missing[:20])}{' …' if len(missing) > 20 else ''}. Restore them, or "
            "pass --allow-missing-uploads to write the archive without them.")
    writer = _ArchiveWriter(target, fmt, now)
    try:
        tables = {table.name: _export_table(conn, table, writer, scratch)
                  for table in [ALEMBIC_VERSION, *data_tables()]}
        head = conn.execute(text("SELECT seq, hash FROM audit_head WHERE id = 1")).one_or_none()
        files = {}
        absent = set(missing)
        # Upload files are written before their rows are committed and never change (random
        # names), so reading them after the tables is still the snapshot's state.
        for name in stored_names:
            if name not in absent:
                size, digest = writer.add_file(f"uploads/{name}", folder / name, compress=False)
                files[name] = {"bytes": size, "sha256": digest}
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "schema_revision": revision,
            "created_at": now.astimezone(UTC).isoformat(),
            "database": conn.dialect.name,
            "tables": tables,
            "uploads": {"policy": "referenced", "files": files, "missing": missing},
            "audit_head": {"seq": head.seq, "hash": head.hash} if head is not None else None,
        }
        writer.add_bytes(MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False).encode())
    finally:
        writer.close()
    return manifest


def _referenced_uploads(conn: Connection) -> list[str]:
    from competition.models import Attachment

    names = list(conn.scalars(select(Attachment.stored_name).order_by(Attachment.id)))
    for name in names:
        if not _UPLOAD_NAME.fullmatch(name):
            raise BackupError(f"Attachment file name {name!r} is not a stored upload name.")
    return names


def _export_table(conn: Connection, table: Table, writer: _ArchiveWriter,
                  scratch: Path) -> dict[str, Any]:
    """Write one table to the archive (through a scratch file: tar needs sizes up front)."""
    member = f"tables/{table.name}.jsonl"
    scratch_file = scratch / f"{table.name}.jsonl"
    rows = 0
    with scratch_file.open("wb") as out:
        out.write(_json_line({"table": table.name,
                              "columns": [[c.name, column_kind(c)] for c in table.columns]}))
        for row in table_rows(conn, table):
            out.write(_json_line(row))
            rows += 1
    _size, digest = writer.add_file(member, scratch_file, compress=True)
    scratch_file.unlink()
    return {"file": member, "rows": rows, "sha256": digest}


# --- import -----------------------------------------------------------------------------------


@dataclass
class _Unpacked:
    folder: Path
    manifest: dict[str, Any]


def _members(path: Path) -> Iterator[tuple[str, BinaryIO]]:
    """(name, readable) of every regular file in a ZIP or tar archive; other entries refused."""
    try:
        fmt = archive_format(path)
    except BackupError:
        fmt = "zip" if zipfile.is_zipfile(path) else "tar.gz"
    if fmt == "zip":
        if not zipfile.is_zipfile(path):
            raise BackupError(f"{path} is not a readable ZIP archive: damaged or truncated?")
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                mode = info.external_attr >> 16
                if mode and (mode & 0o170000) not in (0, 0o100000):
                    raise BackupError(f"{path}: {info.filename} is not a regular file.")
                with archive.open(info) as fh:
                    yield info.filename, fh
        return
    with tarfile.open(path, "r:*") as archive:
        for info in archive:
            if info.isdir():
                continue
            if not info.isfile():
                raise BackupError(f"{path}: {info.name} is not a regular file.")
            yield info.name, archive.extractfile(info)


def _member_target(name: str) -> str:
    """The member's checked relative path; anything outside the format is refused."""
    if name == MANIFEST:
        return name
    kind, _, rest = name.partition("/")
    if kind == "tables" and rest.endswith(".jsonl") and _TABLE_NAME.fullmatch(rest[:-6]):
        return name
    if kind == "uploads" and _UPLOAD_NAME.fullmatch(rest) and rest.strip("."):
        return name
    raise BackupError(f"The archive holds {name!r}, which is not part of a backup.")


def unpack(path: Path, folder: Path) -> _Unpacked:
    """Extract an archive and check it against its manifest: every checksum, every row count,
    nothing missing and nothing extra. Writes only into `folder`."""
    found: dict[str, tuple[int, str, int]] = {}  # name -> size, sha256, newlines
    try:
        for name, fh in _members(path):
            target = _member_target(name)
            if target in found:
                raise BackupError(f"The archive holds {name} twice.")
            destination = folder / target
            destination.parent.mkdir(parents=True, exist_ok=True)
            digest, size, lines = hashlib.sha256(), 0, 0
            with destination.open("xb") as out:
                while chunk := fh.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    lines += chunk.count(b"\n")
                    out.write(chunk)
            found[target] = (size, digest.hexdigest(), lines)
    except FileNotFoundError as exc:
        raise BackupError(f"{path} does not exist.") from exc
    except (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError, EOFError, zlib.error,
            NotImplementedError, OSError) as exc:
        raise BackupError(f"{path} cannot be read: {exc}") from exc
    if MANIFEST not in found:
        raise BackupError(f"{path} has no {MANIFEST}: it is not a backup of this platform.")
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"{MANIFEST} is not valid JSON: {exc}") from exc
    _check_manifest(manifest, found)
    return _Unpacked(folder=folder, manifest=manifest)


def _check_manifest(manifest: Any, found: dict[str, tuple[int, str, int]]) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("The archive is not a backup of this platform (unknown format).")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"The archive has format version {manifest.get('format_version')}; "
                          f"this code reads version {FORMAT_VERSION}.")
    try:
        tables = manifest["tables"]
        files = manifest["uploads"]["files"]
        expected: dict[str, tuple[int | None, str, int | None]] = {}
        for name, entry in tables.items():
            expected[entry["file"]] = (None, entry["sha256"], entry["rows"] + 1)
            if entry["file"] != f"tables/{name}.jsonl":
                raise BackupError(f"{MANIFEST}: table {name} points at {entry['file']}.")
        for name, entry in files.items():
            expected[f"uploads/{name}"] = (entry["bytes"], entry["sha256"], None)
        str(manifest["schema_revision"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise BackupError(f"{MANIFEST} is incomplete ({exc!r}).") from exc
    listed, present = set(expected), set(found) - {MANIFEST}
    if present - listed:
        raise BackupError(f"The archive holds files its manifest does not list: "
                          f"{', '.join(sorted(present - listed)[:10])}.")
    if listed - present:
        raise BackupError(f"The archive lacks files its manifest lists: "
                          f"{', '.join(sorted(listed - present)[:10])}.")
    for name, (size, digest, lines) in expected.items():
        got_size, got_digest, got_lines = found[name]
        if got_digest != digest or (size is not None and got_size != size):
            raise BackupError(f"{name}: checksum mismatch; the archive is damaged. "
                              "Nothing was restored.")
        if lines is not None and got_lines != lines:
            raise BackupError(f"{name}: {got_lines - 1} rows where the manifest says "
                              f"{lines - 1}; the archive is damaged. Nothing was restored.")


def _check_empty(conn: Connection) -> None:
    """Refuse a database holding more than the rows its migrations seed."""
    busy = [table.name for table in data_tables() if table.name not in SEED_TABLES
            and conn.scalar(select(literal(1)).select_from(table).limit(1)) is not None]
    head = db.metadata.tables["audit_head"]
    if conn.scalar(select(literal(1)).select_from(head).where(
            (head.c.id != 1) | (head.c.seq != 0)).limit(1)) is not None:
        busy.append("audit_head (the audit chain has events)")
    if busy:
        raise BackupError(
            f"The database is not empty (rows in {', '.join(busy)}). Restore only into a new "
            "database migrated with `flask db upgrade`; nothing was changed.")


def _begin_restore(conn: Connection) -> None:
    if conn.dialect.name == "sqlite" and not conn.connection.dbapi_connection.in_transaction:
        # Take SQLite's write lock before looking: nobody can write between check and restore.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _load_table(conn: Connection, table: Table, source: Path) -> int:
    """Insert one table's rows in batches; returns how many."""
    with source.open("rb") as fh:
        try:
            header = json.loads(fh.readline())
            columns = [(name, kind) for name, kind in header["columns"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise BackupError(f"{source.name}: bad header ({exc}).") from exc
        names = [name for name, _kind in columns]
        if header.get("table") != table.name or set(names) != set(table.columns.keys()):
            raise BackupError(f"{source.name}: its columns ({', '.join(names)}) are not those "
                              f"of table {table.name} ({', '.join(table.columns.keys())}).")
        for name, kind in columns:
            if kind != column_kind(table.columns[name]):
                raise BackupError(f"{source.name}: column {name} is {kind}, the database's is "
                                  f"{column_kind(table.columns[name])}.")
        # Self-references (a reply's parent, a duplicate's original) that point forward are
        # inserted empty and set once the whole table is in.
        self_refs = [(fk.parent.name, fk.column.name) for fk in table.foreign_keys
                     if fk.column.table is table]
        seen: dict[str, set] = {target: set() for _col, target in self_refs}
        later: list[tuple[dict, str, Any]] = []
        pk = [c.name for c in table.primary_key.columns]
        batch: list[dict] = []
        count = 0
        for number, line in enumerate(fh, start=2):
            try:
                values = json.loads(line)
                if not isinstance(values, list) or len(values) != len(columns):
                    raise ValueError("not a row of the header's columns")
                row = {name: decode_value(kind, value)
                       for (name, kind), value in zip(columns, values, strict=True)}
            except (ValueError, TypeError) as exc:
                raise BackupError(f"{source.name}, line {number}: {exc}") from exc
            for column, target in self_refs:
                value = row[column]
                if value is not None and value not in seen[target]:
                    later.append(({k: row[k] for k in pk}, column, value))
                    row[column] = None
            for target in seen:
                seen[target].add(row[target])
            batch.append(row)
            count += 1
            if len(batch) >= BATCH:
                conn.execute(table.insert(), batch)
                batch = []
        if batch:
            conn.execute(table.insert(), batch)
        for key, column, value in later:
            conn.execute(update(table).where(*(table.c[k] == v for k, v in key.items()))
                         .values({column: value}))
    return count


def _reset_sequences(conn: Connection) -> None:
    """Move every PostgreSQL id sequence past the restored ids."""
    if conn.dialect.name != "postgresql":
        return  # SQLite takes the next id from the largest one present
    quote = conn.dialect.identifier_preparer.quote
    for table in data_tables():
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or column_kind(pk[0]) != "int":
            continue
        sequence = conn.scalar(text("SELECT pg_get_serial_sequence(:t, :c)"),
                               {"t": quote(table.name), "c": pk[0].name})
        if sequence is None:
            continue
        top = conn.scalar(select(func.max(pk[0])))
        conn.execute(text("SELECT setval(CAST(:s AS regclass), :v, :called)"),
                     {"s": sequence, "v": top if top is not None else 1,
                      "called": top is not None})


def _check_upload_conflicts(folder: Path, files: dict[str, dict]) -> list[str]:
    """Names still to write; refuses when the folder has a different file of the same name."""
    to_write = []
    for name, entry in files.items():
        existing = folder / name
        if existing.exists():
            if not existing.is_file() or _file_sha256(existing) != entry["sha256"]:
                raise BackupError(f"{existing} exists with other content; it is not "
                                  "overwritten. Move it away or restore into an empty upload "
                                  "folder. Nothing was restored.")
            continue
        to_write.append(name)
    return to_write


def _write_uploads(staging: Path, folder: Path, names: list[str], written: list[Path]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        final = folder / name
        temp = folder / f".restore-{secrets.token_hex(8)}"
        shutil.copyfile(staging / "uploads" / name, temp)
        if final.exists():  # appeared since the check
            temp.unlink()
            raise BackupError(f"{final} appeared during the restore; nothing was restored.")
        os.replace(temp, final)
        written.append(final)


def import_archive(path: Path, *, upload_folder: str,
                   allow_broken_audit_chain: bool = False) -> ImportReport:
    """Restore an archive into an empty database migrated to the archive's revision."""
    from competition.services import audit

    folder = Path(upload_folder)
    if not path.is_file():
        raise BackupError(f"{path} does not exist.")
    with tempfile.TemporaryDirectory(prefix="oc-restore-") as scratch:
        unpacked = unpack(path, Path(scratch))
        manifest = unpacked.manifest
        revision = str(manifest["schema_revision"])
        archived_revisions = [row[0] for row in _read_rows(unpacked.folder, "alembic_version")]
        if archived_revisions != [revision]:
            raise BackupError(f"The archive's alembic_version ({archived_revisions}) does not "
                              f"match its manifest ({revision}).")
        files = manifest["uploads"]["files"]
        to_write = _check_upload_conflicts(folder, files)
        written: list[Path] = []
        session = db.session
        try:
            conn = session.connection()
            _begin_restore(conn)
            current = database_revision(conn)
            if current != revision:
                raise BackupError(
                    f"The archive is of schema revision {revision}, the database is at "
                    f"{current}. Restore into a database migrated to {revision}, with the "
                    "code of that version; upgrade afterwards.")
            _check_revision(conn)
            _check_schema(conn)
            table_names = {table.name for table in data_tables()}
            if set(manifest["tables"]) != table_names | {ALEMBIC_VERSION.name}:
                raise BackupError("The archive's tables are not this schema's tables.")
            _check_empty(conn)
            for name in SEED_TABLES:
                conn.execute(delete(db.metadata.tables[name]))
            rows = {}
            for table in data_tables():
                rows[table.name] = _load_table(
                    conn, table, unpacked.folder / "tables" / f"{table.name}.jsonl")
            _reset_sequences(conn)
            report = audit.verify_chain()
            expected_head = manifest.get("audit_head") or {"seq": 0, "hash": None}
            if report.head_seq != expected_head["seq"] or (
                    expected_head["hash"] is not None
                    and report.head_hash != expected_head["hash"]):
                raise BackupError("The restored audit chain head differs from the archive's.")
            if not report.ok and not allow_broken_audit_chain:
                raise BackupError(
                    f"The archive's audit chain does not verify ({len(report.problems)} "
                    f"problems, first: {report.problems[0]}). Nothing was restored; pass "
                    "--allow-broken-audit-chain to restore it as it is.")
            session.expunge_all()
            _write_uploads(unpacked.folder, folder, to_write, written)
            session.commit()
        except BaseException as exc:
            session.rollback()
            for written_file in written:
                written_file.unlink(missing_ok=True)
            if isinstance(exc, SQLAlchemyError):
                raise BackupError(f"The restore failed and was rolled back: {exc}") from exc
            if isinstance(exc, OSError):
                raise BackupError(f"Writing the uploads failed, the restore was rolled "
                                  f"back: {exc}") from exc
            raise
    return ImportReport(
        path=path, schema_revision=revision, rows=rows, files_written=len(written),
        files_present=len(files) - len(to_write), audit_events=report.checked,
        audit_head=report.head_hash, audit_problems=list(report.problems),
        missing=list(manifest["uploads"].get("missing") or []))


def _read_rows(folder: Path, table: str) -> Iterator[list[Any]]:
    path = folder / "tables" / f"{table}.jsonl"
    if not path.exists():
        raise BackupError(f"The archive has no table {table}.")
    with path.open("rb") as fh:
        fh.readline()
        for number, line in enumerate(fh, start=2):
            try:
                yield json.loads(line)
            except ValueError as exc:
                raise BackupError(f"{path.name}, line {number}: {exc}") from exc
