"""Attachments: uploads checked by their content, stored under instance/uploads/ with random
names, never served with a name or type the uploader chose."""

import hashlib
import os
import secrets
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from competition.extensions import db
from competition.models import Attachment, Proposal, User
from competition.services import audit
from competition.services.errors import NotFound, PermissionDenied, ValidationError
from competition.services.proposals import edit_refusal, is_db_id

MAX_BYTES = 10 * 1024 * 1024
MAX_PER_PROPOSAL = 20
CHUNK = 64 * 1024

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
ODT = "application/vnd.oasis.opendocument.text"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
EXTENSIONS = {PDF: "pdf", PNG: "png", JPEG: "jpg", ODT: "odt", DOCX: "docx"}
ALLOWED_LABEL = "PDF, ODT, DOCX, PNG, JPG"


def detect_type(path: Path) -> str | None:
    """The file's real type from its bytes (None if it is none of the allowed types).

    PDF, PNG and JPEG are recognised by their exact signatures at the start of the file (a
    generic magic-number database also "recognises" text such as a literal `\\x89PNG`, so it
    is not used); ODT and DOCX are both ZIP archives, told apart by their manifest (ODT's
    `mimetype` entry, DOCX's `[Content_Types].xml` and `word/document.xml`).
    """
    with path.open("rb") as fh:
        head = fh.read(32)
    if head.startswith(b"PK\x03\x04"):
        return _office_type(path)
    if head.startswith(b"%PDF-"):
        return PDF
    # PNG: the 8-byte signature, then the IHDR chunk that every PNG starts with.
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        return PNG
    # JPEG: start-of-image, then a marker (APPn, DQT, SOFn, COM ...).
    if head.startswith(b"\xff\xd8\xff") and len(head) > 3 and 0xC0 <= head[3] <= 0xFE:
        return JPEG
    return None


def _office_type(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                # Read a bounded prefix: the entry could be a decompression bomb.
                with archive.open("mimetype") as entry:
                    declared = entry.read(100).decode("ascii", "replace").strip()
                return ODT if declared == ODT else None
            if "[Content_Types].xml" in names and "word/document.xml" in names:
                return DOCX
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, RuntimeError,
            NotImplementedError, EOFError, ValueError, zlib.error):
        return None
    return None


@dataclass(frozen=True)
class Upload:
    filename: str
    stream: BinaryIO


def _safe_display_name(filename: str) -> str:
    name = os.path.basename(filename.replace("\\", "/")).strip()
    name = "".join(c for c in name if c.isprintable() and c not in '<>:"|?*').strip()
    # Only dots would make a download URL like /bijlagen/1/.. that browsers resolve away.
    return name[:200] if name.strip(".") else "bijlage"


def add_attachment(actor: User, proposal: Proposal, upload: Upload, *, upload_folder: str,
                   now: datetime) -> Attachment:
    """Store an upload for the proposal, or refuse it leaving no file behind."""
    rnd = proposal_round(proposal)
    reason = edit_refusal(actor, proposal, rnd)
    if reason:
        raise PermissionDenied(reason)
    return store_upload(actor, proposal, upload, upload_folder=upload_folder, now=now)


def store_upload(actor: User, proposal: Proposal, upload: Upload, *, upload_folder: str,
                 now: datetime, is_deliverable: bool = False) -> Attachment:
    """Check and store a file for the proposal (the caller checked who may); no file is left
    behind when it is refused."""
    count = db.session.scalar(select(func.count(Attachment.id)).where(
        Attachment.proposal_id == proposal.id, Attachment.removed_at.is_(None),
        Attachment.is_deliverable.is_(is_deliverable)))
    if count >= MAX_PER_PROPOSAL:
        raise ValidationError(_l("A proposal can have at most %(n)d attachments.",
                                 n=MAX_PER_PROPOSAL), field="file")
    folder = Path(upload_folder)
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f".upload-{secrets.token_hex(16)}"
    final: Path | None = None
    try:
        size, digest = _copy_limited(upload.stream, temp)
        if size == 0:
            raise ValidationError(_l("The file is empty."), field="file")
        media_type = detect_type(temp)
        if media_type is None:
            raise ValidationError(
                _l("This file type is not allowed. Allowed: %(types)s.", types=ALLOWED_LABEL),
                field="file",
            )
        stored = f"{secrets.token_urlsafe(24)}.{EXTENSIONS[media_type]}"
        final = folder / stored
        temp.rename(final)
        attachment = Attachment(
            proposal_id=proposal.id,
            original_name=_safe_display_name(upload.filename),
            stored_name=stored,
            media_type=media_type,
            size_bytes=size,
            sha256=digest,
            uploaded_by_id=actor.id,
            created_at=now,
            is_deliverable=is_deliverable,
        )
        db.session.add(attachment)
        db.session.flush()
        audit.record("deliverable.added" if is_deliverable else "attachment.added",
                     actor=actor, now=now, object_type="proposal",
                     object_id=proposal.id, round_id=proposal.round_id,
                     data={"attachment": attachment.id, "name": attachment.original_name,
                           "type": media_type, "bytes": size})
        return attachment
    except BaseException:
        temp.unlink(missing_ok=True)
        if final is not None:
            final.unlink(missing_ok=True)
        raise


def discard_file(attachment: Attachment, upload_folder: str) -> None:
    """Remove a stored file whose database row was rolled back (the caller's failed commit)."""
    (Path(upload_folder) / attachment.stored_name).unlink(missing_ok=True)


def _copy_limited(stream: BinaryIO, target: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with target.open("xb") as out:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > MAX_BYTES:
                raise ValidationError(
                    _l("The file is larger than %(mb)d MB.", mb=MAX_BYTES // (1024 * 1024)),
                    field="file",
                )
            digest.update(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


def remove_attachment(actor: User, attachment: Attachment, *, now: datetime) -> None:
    """Take an attachment off the proposal (the file and the record are kept)."""
    if attachment.is_deliverable:
        raise PermissionDenied(_l("Deliverables are removed on the finalist's page."))
    proposal = db.session.get(Proposal, attachment.proposal_id)
    reason = edit_refusal(actor, proposal, proposal_round(proposal))
    if reason:
        raise PermissionDenied(reason)
    if attachment.removed_at is not None:
        return
    attachment.removed_at = now
    attachment.removed_by_id = actor.id
    db.session.flush()
    audit.record("attachment.removed", actor=actor, now=now, object_type="proposal",
                 object_id=proposal.id, round_id=proposal.round_id,
                 data={"attachment": attachment.id, "name": attachment.original_name})


def proposal_round(proposal: Proposal):
    from competition.models import Round

    return db.session.get(Round, proposal.round_id)


def current_attachments(proposal: Proposal) -> list[Attachment]:
    """Attachments shown on the proposal (not its deliverables), oldest first."""
    return list(db.session.scalars(select(Attachment).where(
        Attachment.proposal_id == proposal.id, Attachment.removed_at.is_(None),
        Attachment.is_deliverable.is_(False),
    ).order_by(Attachment.id)))


def deliverable_files(proposal: Proposal) -> list[Attachment]:
    """Files a finalist published as deliverables, oldest first."""
    return list(db.session.scalars(select(Attachment).where(
        Attachment.proposal_id == proposal.id, Attachment.removed_at.is_(None),
        Attachment.is_deliverable.is_(True),
    ).order_by(Attachment.id)))


def get_attachment(attachment_id: int) -> Attachment:
    """An attachment by id, or NotFound."""
    attachment = db.session.get(Attachment, attachment_id) if is_db_id(attachment_id) else None
    if attachment is None:
        raise NotFound(_l("No such attachment."))
    return attachment
