"""Attachments: accepted by content (PDF, ODT, DOCX, PNG, JPG), refused otherwise without leaving
a file behind, stored under random names, downloaded as attachments, removed without deleting."""

import hashlib
import io
import re
import tracemalloc
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from competition.extensions import db
from competition.models import Attachment
from competition.services import attachments
from competition.services.errors import NotFound, PermissionDenied, ValidationError
from tests.conftest import NOW
from tests.proposal_helpers import (
    audit_actions,
    count,
    docx_bytes,
    exe_bytes,
    html_bytes,
    jpeg_bytes,
    make_world,
    ods_bytes,
    odt_bytes,
    pdf_bytes,
    plain_zip_bytes,
    png_bytes,
)

GOOD = [
    ("plan.pdf", pdf_bytes, attachments.PDF, "pdf"),
    ("kaart.png", png_bytes, attachments.PNG, "png"),
    ("foto.jpg", jpeg_bytes, attachments.JPEG, "jpg"),
    ("notitie.odt", odt_bytes, attachments.ODT, "odt"),
    ("notitie.docx", docx_bytes, attachments.DOCX, "docx"),
    # The name does not decide the type; the content does.
    ("verkeerd-genoemd.txt", pdf_bytes, attachments.PDF, "pdf"),
    ("foto.png", jpeg_bytes, attachments.JPEG, "jpg"),
]

BAD = [
    ("programma.pdf", exe_bytes),
    ("pagina.png", html_bytes),
    ("archief.docx", plain_zip_bytes),
    ("archief.odt", plain_zip_bytes),
    ("rekenblad.odt", ods_bytes),
    ("tekst.png", lambda: b"\\x89PNG<script>alert(1)</script>"),  # literal text, not PNG
    ("tekst.jpg", lambda: b"\\377\\330\\377<html><script>alert(1)</script></html>"),
    ("tekst.pdf", lambda: b"Dit is geen %PDF-1.4 bestand"),
    ("png-zonder-ihdr.png", lambda: b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script>"),
    ("jpeg-te-kort.jpg", lambda: b"\xff\xd8"),
    ("kapot.docx", lambda: b"PK\x03\x04" + b"\x00" * 200),
    ("plaatje.gif", lambda: b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
    ("tekening.svg", lambda: b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"),
]


def files_in(folder: str) -> list[Path]:
    path = Path(folder)
    return sorted(path.iterdir()) if path.exists() else []


@pytest.fixture
def world(ctx, people):
    w = make_world(people)
    db.session.commit()
    return w


def upload(world, proposal, name, data, role="member"):
    return attachments.add_attachment(
        world.user(role), proposal, attachments.Upload(name, io.BytesIO(data)),
        upload_folder=world_folder(), now=NOW)


def world_folder() -> str:
    from flask import current_app

    return current_app.config["UPLOAD_FOLDER"]


# --- service -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "make", "media_type", "ext"), GOOD)
def test_allowed_types_are_recognised_by_content(world, name, make, media_type, ext):
    proposal = world.propose()
    data = make()
    attachment = upload(world, proposal, name, data)
    db.session.commit()
    assert attachment.media_type == media_type
    assert attachment.original_name == name
    assert attachment.size_bytes == len(data)
    assert attachment.sha256 == hashlib.sha256(data).hexdigest()
    # Stored under a random name with the extension of the detected type, not the given one.
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}\." + ext, attachment.stored_name)
    assert Path(name).stem not in attachment.stored_name
    stored = files_in(world_folder())
    assert [p.name for p in stored] == [attachment.stored_name]
    assert stored[0].read_bytes() == data
    assert "attachment.added" in audit_actions()


def test_stored_names_are_unique(world):
    proposal = world.propose()
    a = upload(world, proposal, "plan.pdf", pdf_bytes())
    b = upload(world, proposal, "plan.pdf", pdf_bytes())
    assert a.stored_name != b.stored_name
    assert len(files_in(world_folder())) == 2


@pytest.mark.parametrize(("name", "make"), BAD)
def test_wrong_types_are_refused_and_leave_no_file(world, name, make):
    proposal = world.propose()
    with pytest.raises(ValidationError) as exc:
        upload(world, proposal, name, make())
    assert exc.value.field == "file"
    db.session.rollback()
    assert files_in(world_folder()) == []
    assert count(Attachment) == 0


def test_size_limit(world):
    proposal = world.propose()
    db.session.commit()
    too_big = pdf_bytes() + b"\x00" * (attachments.MAX_BYTES + 1 - len(pdf_bytes()))
    assert len(too_big) == attachments.MAX_BYTES + 1
    with pytest.raises(ValidationError) as exc:
        upload(world, proposal, "groot.pdf", too_big)
    assert exc.value.field == "file"
    db.session.rollback()
    assert files_in(world_folder()) == []
    exactly = too_big[:-1]
    attachment = upload(world, proposal, "precies.pdf", exactly)
    assert attachment.size_bytes == attachments.MAX_BYTES


def test_empty_file_is_refused(world):
    proposal = world.propose()
    with pytest.raises(ValidationError):
        upload(world, proposal, "leeg.pdf", b"")
    assert files_in(world_folder()) == []


def test_zip_bomb_in_the_mimetype_entry_is_not_unpacked(world):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", b"\x00" * 300_000_000)  # 300 MB of zeros, ~300 kB packed
    proposal = world.propose()
    tracemalloc.start()
    try:
        with pytest.raises(ValidationError):
            upload(world, proposal, "bom.odt", buffer.getvalue())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000
    assert files_in(world_folder()) == []


def test_refused_for_others_and_outside_the_phase(world):
    proposal = world.propose()
    for role in ("other_member", "organiser", "jury"):
        with pytest.raises(PermissionDenied):
            upload(world, proposal, "plan.pdf", pdf_bytes(), role=role)
    db.session.commit()
    world.end_submission()
    with pytest.raises(PermissionDenied):
        upload(world, proposal, "plan.pdf", pdf_bytes())
    assert files_in(world_folder()) == []


def test_at_most_twenty_per_proposal(world):
    proposal = world.propose()
    for i in range(attachments.MAX_PER_PROPOSAL):
        upload(world, proposal, f"deel-{i}.png", png_bytes())
    with pytest.raises(ValidationError):
        upload(world, proposal, "een-te-veel.png", png_bytes())
    assert len(files_in(world_folder())) == attachments.MAX_PER_PROPOSAL


def test_display_names_are_cleaned(world):
    proposal = world.propose()
    cases = {
        "../../etc/passwd.pdf": "passwd.pdf",
        "C:\\Users\\sanne\\plan.pdf": "plan.pdf",
        "pl<a>n\x00\x07.pdf": "plan.pdf",
        "..": "bijlage",
        "": "bijlage",
        "x" * 300 + ".pdf": "x" * 200,
    }
    for given, expected in cases.items():
        assert upload(world, proposal, given, pdf_bytes()).original_name == expected


def test_remove_keeps_the_row_and_the_file(world):
    proposal = world.propose()
    attachment = upload(world, proposal, "plan.pdf", pdf_bytes())
    with pytest.raises(PermissionDenied):
        attachments.remove_attachment(world.user("other_member"), attachment, now=NOW)
    attachments.remove_attachment(world.user("delegate"), attachment,
                                  now=NOW + timedelta(minutes=1))
    db.session.commit()
    row = db.session.get(Attachment, attachment.id)
    assert row.removed_at == NOW + timedelta(minutes=1)
    assert row.removed_by_id == world.user_ids["delegate"]
    assert attachments.current_attachments(proposal) == []
    assert len(files_in(world_folder())) == 1
    assert "attachment.removed" in audit_actions()


def test_unknown_attachment(world):
    for bad in (0, 424242, 2**63, 10**30):
        with pytest.raises(NotFound):
            attachments.get_attachment(bad)


# --- HTTP --------------------------------------------------------------------------------------


@pytest.fixture
def site(app, people):
    app.config["FROZEN_NOW"] = NOW + timedelta(hours=1)
    with app.app_context():
        w = make_world(people)
        published = w.propose()
        draft = w.propose(submit=False, title="Concept met een bijlage erbij")
        db.session.commit()
        return {"world": w, "published": published.id, "draft": draft.id,
                "folder": app.config["UPLOAD_FOLDER"]}


def post_file(client, proposal_id, name, data):
    return client.post(f"/voorstellen/{proposal_id}/bijlagen",
                       data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def attachment_rows(app) -> list[Attachment]:
    with app.app_context():
        rows = db.session.scalars(db.select(Attachment).order_by(Attachment.id)).all()
        db.session.expunge_all()
        return rows


@pytest.mark.parametrize(("name", "make", "media_type", "ext"), GOOD[:5])
def test_upload_and_download_over_http(app, client, auth, people, site, name, make,
                                       media_type, ext):
    auth.login(people["member"])
    data = make()
    response = post_file(client, site["published"], name, data)
    assert response.status_code == 302
    assert f"/voorstellen/{site['published']}" in response.headers["Location"]
    (row,) = attachment_rows(app)
    assert row.media_type == media_type and row.stored_name.endswith("." + ext)
    page = client.get(f"/voorstellen/{site['published']}").get_data(as_text=True)
    assert name in page
    auth.logout()
    download = client.get(f"/bijlagen/{row.id}/{name}")
    assert download.status_code == 200
    assert download.data == data
    assert download.mimetype == media_type
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and name in disposition
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download.headers["Content-Security-Policy"]


@pytest.mark.parametrize(("name", "make"), BAD[:3])
def test_wrong_type_over_http_leaves_nothing(app, client, auth, people, site, name, make):
    auth.login(people["member"])
    response = post_file(client, site["published"], name, make())
    assert response.status_code == 302
    assert attachment_rows(app) == []
    assert files_in(site["folder"]) == []


def test_too_large_over_http(app, client, auth, people, site):
    auth.login(people["member"])
    big = pdf_bytes() + b"\x00" * attachments.MAX_BYTES  # above 10 MB, below the request cap
    response = post_file(client, site["published"], "groot.pdf", big)
    assert response.status_code == 302
    huge = pdf_bytes() + b"\x00" * (13 * 1024 * 1024)  # above the request cap: 413
    response = post_file(client, site["published"], "enorm.pdf", huge)
    assert response.status_code == 413
    assert attachment_rows(app) == []
    assert files_in(site["folder"]) == []


def test_upload_without_file_or_by_others(app, client, auth, people, site):
    auth.login(people["member"])
    assert client.post(f"/voorstellen/{site['published']}/bijlagen", data={}).status_code == 302
    auth.logout()
    auth.login(people["other_member"])
    assert post_file(client, site["published"], "plan.pdf", pdf_bytes()).status_code == 403
    assert post_file(client, site["draft"], "plan.pdf", pdf_bytes()).status_code == 404
    assert attachment_rows(app) == [] and files_in(site["folder"]) == []


def test_draft_attachments_are_private(app, client, auth, people, site):
    auth.login(people["member"])
    post_file(client, site["draft"], "concept.pdf", pdf_bytes())
    (row,) = attachment_rows(app)
    assert client.get(f"/bijlagen/{row.id}/concept.pdf").status_code == 200
    auth.logout()
    assert client.get(f"/bijlagen/{row.id}/concept.pdf").status_code == 404
    auth.login(people["other_member"])
    assert client.get(f"/bijlagen/{row.id}/concept.pdf").status_code == 404


def test_removed_attachment_over_http(app, client, auth, people, site):
    auth.login(people["member"])
    post_file(client, site["published"], "plan.pdf", pdf_bytes())
    (row,) = attachment_rows(app)
    auth.logout()
    auth.login(people["other_member"])
    assert client.post(f"/bijlagen/{row.id}/verwijderen").status_code == 403
    auth.logout()
    auth.login(people["delegate"])
    assert client.post(f"/bijlagen/{row.id}/verwijderen").status_code == 302
    (row,) = attachment_rows(app)
    assert row.removed_at is not None
    page = client.get(f"/voorstellen/{site['published']}").get_data(as_text=True)
    assert f"/bijlagen/{row.id}/" not in page
    # The team and the organisers can still fetch it; the public cannot.
    assert client.get(f"/bijlagen/{row.id}/plan.pdf").status_code == 200
    auth.logout()
    assert client.get(f"/bijlagen/{row.id}/plan.pdf").status_code == 404
    auth.login(people["organiser"])
    assert client.get(f"/bijlagen/{row.id}/plan.pdf").status_code == 200
    assert len(files_in(site["folder"])) == 1


def test_unknown_attachment_urls(client, site):
    assert client.get("/bijlagen/999/x.pdf").status_code == 404
    assert client.get(f"/bijlagen/{10**30}/x.pdf").status_code == 404
    assert client.get("/bijlagen/abc/x.pdf").status_code == 404
