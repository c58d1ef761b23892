"""Shared set-up for the proposal tests: a round in its submission phase and valid proposals.

Not a test module itself; the proposal test files import from here.
"""

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass, replace
from datetime import date, timedelta

from sqlalchemy import func, select, text

from competition.extensions import db
from competition.models import AuditEvent, Domain, Phase, Round, User
from competition.services import accounts, proposals, rounds
from tests.conftest import NOW

TITLE = "Digitaal paspoort aanvragen via de website"


def valid_data(**changes) -> proposals.ProposalData:
    """A complete proposal (everything submitting needs); override fields by keyword."""
    data = proposals.ProposalData(
        title=TITLE,
        summary="Inwoners vragen hun paspoort online aan en halen het alleen nog op.",
        description="## Aanpak\n\nWe koppelen **DigiD** aan het aanvraagformulier.",
        problem="Lange wachtrijen aan de balie.",
        domain_id=1,
        planned_start=date(2027, 9, 1),
        estimated_cost=250_000,
        contact_name="Sanne de Vries",
        contact_email="sanne@utrecht.example",
    )
    return replace(data, **changes)


@dataclass
class World:
    """Users (by role name) and a round in its submission phase; call inside an app context."""

    round_id: int
    user_ids: dict[str, int]

    @property
    def round(self) -> Round:
        return db.session.get(Round, self.round_id)

    def user(self, role: str) -> User:
        return db.session.get(User, self.user_ids[role])

    def propose(self, role: str = "member", *, submit: bool = True, now=NOW,
                **changes) -> proposals.Proposal:
        return proposals.create_proposal(self.user(role), self.round, valid_data(**changes),
                                         submit=submit, now=now)

    def end_submission(self) -> None:
        rnd = self.round
        rounds.close_phase(rnd, Phase.SUBMISSION, actor=self.user("organiser"),
                           now=NOW + timedelta(minutes=30))


# The domains migration 0002 seeds (ids 1..7).
SEED_DOMAINS = [
    ("dienstverlening", "Dienstverlening", "Public services"),
    ("sociaal-domein", "Sociaal domein", "Social domain"),
    ("omgevingswet", "Omgevingswet", "Environment and Planning Act"),
    ("bedrijfsvoering", "Bedrijfsvoering", "Operations"),
    ("informatievoorziening", "Informatievoorziening", "Information management"),
    ("openbare-ruimte", "Openbare ruimte", "Public space"),
    ("veiligheid", "Veiligheid", "Safety and security"),
]


def ensure_seed_domains() -> None:
    """Put the migration's seed domains back when the test database was emptied.

    On PostgreSQL, tests/conftest.py starts every test by truncating every table, the seed
    data of migration 0002 included; SQLite tests copy the migrated template and keep it.
    """
    if db.session.scalar(select(func.count(Domain.id))):
        return
    for position, (slug, name_nl, name_en) in enumerate(SEED_DOMAINS, start=1):
        db.session.add(Domain(id=position, slug=slug, name_nl=name_nl, name_en=name_en,
                              position=position, is_active=True))
    db.session.flush()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(
            "SELECT setval(pg_get_serial_sequence('domains', 'id'), (SELECT max(id) FROM domains))"
        ))


def make_world(people: dict[str, str], *, title: str = "Ronde digitale dienstverlening") -> World:
    """Create the round (submission phase open) and look up the `people` fixture's users."""
    ensure_seed_domains()
    organiser = accounts.find_user_by_email(people["organiser"])
    rnd = rounds.create_round(
        organiser,
        rounds.RoundData(title=title, theme="Digitale dienstverlening"),
        rounds.default_schedule(NOW + timedelta(days=1)),
        now=NOW,
    )
    rounds.close_phase(rnd, rnd.current_phase, actor=organiser, now=NOW)
    db.session.flush()
    user_ids = {role: accounts.find_user_by_email(email).id for role, email in people.items()}
    return World(rnd.id, user_ids)


def audit_actions(object_type: str | None = None) -> list[str]:
    stmt = select(AuditEvent.action).order_by(AuditEvent.id)
    if object_type:
        stmt = stmt.where(AuditEvent.object_type == object_type)
    return list(db.session.scalars(stmt))


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


# --- small but valid files of each allowed type ------------------------------------------------


def pdf_bytes() -> bytes:
    return (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
            b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
            b"trailer << /Root 1 0 R >>\n%%EOF\n")


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def jpeg_bytes() -> bytes:
    # SOI, then an APP0/JFIF header; enough for any type sniffer, and what cameras write first.
    return (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
            + b"\xff\xdb\x00\x43\x00" + bytes(range(64)) + b"\xff\xd9")


def _zip(entries: list[tuple[str, bytes]], *, stored_first: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for i, (name, data) in enumerate(entries):
            kind = zipfile.ZIP_STORED if (stored_first and i == 0) else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=kind)
    return buffer.getvalue()


def odt_bytes() -> bytes:
    return _zip([
        ("mimetype", b"application/vnd.oasis.opendocument.text"),
        ("content.xml", b"<?xml version='1.0'?><office:document-content/>"),
        ("META-INF/manifest.xml", b"<?xml version='1.0'?><manifest:manifest/>"),
    ], stored_first=True)


def docx_bytes() -> bytes:
    return _zip([
        ("[Content_Types].xml", b"<?xml version='1.0'?><Types/>"),
        ("_rels/.rels", b"<?xml version='1.0'?><Relationships/>"),
        ("word/document.xml", b"<?xml version='1.0'?><w:document/>"),
    ])


def plain_zip_bytes() -> bytes:
    return _zip([("readme.txt", b"just a zip"), ("data.csv", b"a,b\n1,2\n")])


def ods_bytes() -> bytes:
    """A spreadsheet: an ODF zip, but not a text document."""
    return _zip([("mimetype", b"application/vnd.oasis.opendocument.spreadsheet"),
                 ("content.xml", b"<x/>")], stored_first=True)


def exe_bytes() -> bytes:
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + (
        b"This program cannot be run in DOS mode.\r\r\n$")


def html_bytes() -> bytes:
    return b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
