"""Municipality import (service and `flask competition import-municipalities`) and admin."""

from pathlib import Path

import pytest
from sqlalchemy import func, select

from competition.extensions import db
from competition.models import AuditEvent, Municipality, Role
from competition.services import municipalities
from competition.services.errors import NotFound, PermissionDenied
from competition.services.municipalities import MunicipalityImportError, import_rows, parse_csv
from tests.conftest import NOW, add_municipalities, make_user

HEADER = "code,name,province,population\n"
GOOD = HEADER + (
    "GM0344,Utrecht,Utrecht,374238\n"
    "GM0363,Amsterdam,Noord-Holland,931298\n"
    "GM1900,Súdwest-Fryslân,Fryslân,92035\n"
)
BUNDLED_ROWS = 342
BUNDLED_POPULATION = 18_130_231


def all_municipalities() -> dict[str, Municipality]:
    return {m.code: m for m in db.session.scalars(select(Municipality))}


def audit_rows() -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "municipality.imported").order_by(AuditEvent.id)))


def error_lines(text: str) -> list[int]:
    with pytest.raises(MunicipalityImportError) as exc:
        parse_csv(text)
    return [line for line, _ in exc.value.errors]


# --- parsing -----------------------------------------------------------------------------------


def test_parse_good_file():
    rows = parse_csv(GOOD)
    assert [(r.line, r.code, r.name, r.province, r.population) for r in rows] == [
        (2, "GM0344", "Utrecht", "Utrecht", 374238),
        (3, "GM0363", "Amsterdam", "Noord-Holland", 931298),
        (4, "GM1900", "Súdwest-Fryslân", "Fryslân", 92035),
    ]


def test_parse_tolerates_bom_crlf_blank_lines_case_and_column_order():
    text = ("\ufeffName , CODE,Population,province\r\n"
            "\r\n"
            '"Utrecht",gm0344 , 374_238 ,Utrecht\r\n'
            ",,,\r\n"
            "Amsterdam,GM0363,931298,Noord-Holland\r\n")
    rows = parse_csv(text)
    assert [(r.line, r.code, r.population) for r in rows] == [(3, "GM0344", 374238),
                                                              (5, "GM0363", 931298)]


def test_parse_allows_extra_columns():
    rows = parse_csv("code,name,province,population,note\nGM0344,Utrecht,Utrecht,1,hi\n")
    assert rows[0].code == "GM0344"


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        # bad codes
        (HEADER + "XX0344,Utrecht,Utrecht,1\n", [2]),
        (HEADER + "GM344,Utrecht,Utrecht,1\n", [2]),
        (HEADER + "GM03444,Utrecht,Utrecht,1\n", [2]),
        (HEADER + "GMabcd,Utrecht,Utrecht,1\n", [2]),
        (HEADER + "GM٠٣٤٤,Utrecht,Utrecht,1\n", [2]),  # Arabic-Indic digits
        (HEADER + ",Utrecht,Utrecht,1\n", [2]),
        # duplicate code (also when the first occurrence has another problem)
        (HEADER + "GM0344,Utrecht,Utrecht,1\nGM0363,A,Utrecht,1\nGM0344,U2,Utrecht,2\n", [4]),
        (HEADER + "GM0344,Utrecht,Atlantis,1\nGM0344,Utrecht,Utrecht,1\n", [2, 3]),
        # unknown province
        (HEADER + "GM0344,Utrecht,utrecht,1\n", [2]),
        (HEADER + "GM0344,Utrecht,Friesland,1\n", [2]),
        # population
        (HEADER + "GM0344,Utrecht,Utrecht,many\n", [2]),
        (HEADER + "GM0344,Utrecht,Utrecht,-5\n", [2]),
        (HEADER + "GM0344,Utrecht,Utrecht,1.5\n", [2]),
        (HEADER + "GM0344,Utrecht,Utrecht,374.238\n", [2]),
        (HEADER + "GM0344,Utrecht,Utrecht,\n", [2]),
        (HEADER + "GM0344,Utrecht,Utrecht,²\n", [2]),
        (HEADER + "GM0344,Utrecht,Utrecht,٣\n", [2]),
        (HEADER + "GM0344,Utrecht,Utrecht,99999999999999999999\n", [2]),
        # name
        (HEADER + "GM0344,,Utrecht,1\n", [2]),
        (HEADER + "GM0344," + "x" * 121 + ",Utrecht,1\n", [2]),
        (HEADER + "GM0344,Ut\x00recht,Utrecht,1\n", [2]),
        # wrong number of cells
        (HEADER + "GM0344,Utrecht,Utrecht\n", [2]),
        (HEADER + "GM0344,Utrecht, Stad,Utrecht,1\n", [2]),
        # missing column / empty file / no rows
        ("code,name,population\nGM0344,Utrecht,1\n", [1]),
        ("gemeente;naam;provincie;inwoners\n", [1]),
        ("", [1]),
        ("\ufeff", [1]),
        ("\n\n", [1]),
        (HEADER, [2]),
        (HEADER + "\n,,,\n", [2]),
        # a cell too large for the csv module
        (HEADER + "GM0344," + "x" * 200_000 + ",Utrecht,1\n", [2]),
    ],
)
def test_parse_reports_bad_rows_with_line_numbers(text, lines):
    assert error_lines(text) == lines


def test_every_bad_row_is_reported():
    text = HEADER + (
        "GM0344,Utrecht,Utrecht,374238\n"          # 2 good
        "GMX,Bad code,Utrecht,1\n"                 # 3 bad code
        "GM0363,Amsterdam,Noord-Holland,931298\n"  # 4 good
        "GM0344,Again,Utrecht,5\n"                 # 5 duplicate of line 2
        "GM0014,Groningen,Groninge,1\n"            # 6 unknown province
        "GM0193,Zwolle,Overijssel,veel\n"          # 7 non-numeric population
        "GM0772,Eindhoven,Noord-Brabant,1,extra\n"  # 8 too many cells
    )
    with pytest.raises(MunicipalityImportError) as exc:
        parse_csv(text)
    errors = dict(exc.value.errors)
    assert sorted(errors) == [3, 5, 6, 7, 8]
    assert "line 2" in errors[5]
    assert exc.value.field is None


def test_line_numbers_follow_quoted_multi_line_cells():
    text = HEADER + '"GM0344","Utrecht\nStad","Utrecht",1\nGM0363,Amsterdam,Atlantis,1\n'
    assert error_lines(text) == [2, 4]


# --- importing ---------------------------------------------------------------------------------


def test_import_is_idempotent(ctx):
    report = import_rows(parse_csv(GOOD), actor=None, now=NOW)
    assert sorted(report.created) == ["GM0344", "GM0363", "GM1900"]
    assert report.updated == [] and report.unchanged == 0
    ms = all_municipalities()
    assert ms["GM1900"].name == "Súdwest-Fryslân" and ms["GM1900"].province == "Fryslân"
    assert all(m.is_active for m in ms.values())
    (event,) = audit_rows()
    assert event.actor_id is None and sorted(event.data["created"]) == sorted(report.created)

    again = import_rows(parse_csv(GOOD), actor=None, now=NOW)
    assert again.created == [] and again.updated == [] and again.deactivated == []
    assert again.unchanged == 3
    assert len(audit_rows()) == 1  # nothing changed, nothing recorded


def test_import_updates_changed_rows(ctx):
    import_rows(parse_csv(GOOD), actor=None, now=NOW)
    changed = GOOD.replace("374238", "380000").replace("Amsterdam,", "Amsterdam (NH),")
    report = import_rows(parse_csv(changed), actor=None, now=NOW)
    assert sorted(report.updated) == ["GM0344", "GM0363"] and report.unchanged == 1
    ms = all_municipalities()
    assert ms["GM0344"].population == 380000
    assert ms["GM0363"].name == "Amsterdam (NH)"
    assert audit_rows()[-1].data["updated"] == report.updated


def test_deactivate_missing(ctx):
    import_rows(parse_csv(GOOD), actor=None, now=NOW)
    without_amsterdam = "\n".join(line for line in GOOD.splitlines() if "GM0363" not in line)
    report = import_rows(parse_csv(without_amsterdam), actor=None, now=NOW)
    assert report.deactivated == []  # only with the option
    assert all_municipalities()["GM0363"].is_active

    report = import_rows(parse_csv(without_amsterdam), actor=None, now=NOW,
                         deactivate_missing=True)
    assert report.deactivated == ["GM0363"] and report.unchanged == 2
    assert not all_municipalities()["GM0363"].is_active
    assert audit_rows()[-1].data["deactivated"] == ["GM0363"]

    # Listed again (e.g. a correction): active again.
    report = import_rows(parse_csv(GOOD), actor=None, now=NOW)
    assert report.updated == ["GM0363"]
    assert all_municipalities()["GM0363"].is_active


def test_import_by_a_person_needs_the_organiser_role(ctx):
    add_municipalities()
    organiser = make_user("org@example.org", Role.ORGANISER)
    jury = make_user("jury@example.org", Role.JURY)
    with pytest.raises(PermissionDenied):
        import_rows(parse_csv(GOOD), actor=jury, now=NOW)
    import_rows(parse_csv(GOOD.replace("374238", "1")), actor=organiser, now=NOW)
    assert audit_rows()[-1].actor_id == organiser.id


def test_bundled_list(ctx):
    report = municipalities.import_bundled(now=NOW)
    assert len(report.created) == BUNDLED_ROWS
    assert db.session.scalar(select(func.count(Municipality.id))) == BUNDLED_ROWS
    assert db.session.scalar(select(func.sum(Municipality.population))) == BUNDLED_POPULATION
    provinces = set(db.session.scalars(select(Municipality.province).distinct()))
    assert provinces == set(municipalities.PROVINCES)
    assert municipalities.import_bundled(now=NOW).unchanged == BUNDLED_ROWS


def test_set_active_and_lookups(ctx):
    ms = add_municipalities()
    organiser = make_user("org@example.org", Role.ORGANISER)
    municipalities.set_active(organiser, ms["GM0344"], False, now=NOW)
    municipalities.set_active(organiser, ms["GM0344"], False, now=NOW)  # no change, no event
    assert not ms["GM0344"].is_active
    events = db.session.scalars(select(AuditEvent.action)).all()
    assert events == ["municipality.deactivated"]
    assert ms["GM0344"].id not in dict(municipalities.active_choices())
    labels = [label for _, label in municipalities.active_choices()]
    assert labels == sorted(labels, key=str.lower)
    assert municipalities.get_by_code("gm0363") is ms["GM0363"]
    with pytest.raises(NotFound):
        municipalities.get_by_code("GM9999")
    member = make_user("m@example.org", Role.MEMBER, municipality=ms["GM0363"])
    with pytest.raises(PermissionDenied):
        municipalities.set_active(member, ms["GM0363"], False, now=NOW)


# --- the CLI -----------------------------------------------------------------------------------


def write(tmp_path: Path, text: str, name: str = "gemeenten.csv", encoding="utf-8") -> str:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return str(path)


def cli_import(runner, path: str, *options: str):
    return runner.invoke(args=["competition", "import-municipalities", path, *options])


def count_municipalities(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Municipality.id)))


def test_cli_import_good_file_twice(app, runner, tmp_path):
    path = write(tmp_path, GOOD)
    result = cli_import(runner, path)
    assert result.exit_code == 0, result.output
    assert "3 created, 0 updated, 0 unchanged, 0 deactivated" in result.output
    result = cli_import(runner, path)
    assert result.exit_code == 0, result.output
    assert "0 created, 0 updated, 3 unchanged, 0 deactivated" in result.output
    assert count_municipalities(app) == 3


def test_cli_bad_file_reports_every_row_and_writes_nothing(app, runner, tmp_path):
    cli_import(runner, write(tmp_path, GOOD, "first.csv"))
    text = HEADER + (
        "GM0344,Utrecht,Utrecht,1\n"              # 2 good (a changed population)
        "GM03,Bad,Utrecht,1\n"                    # 3
        "GM0344,Dup,Utrecht,1\n"                  # 4
        "GM0014,Groningen,Nowhere,1\n"            # 5
        "GM0193,Zwolle,Overijssel,lots\n"         # 6
        "GM0999,New,Utrecht,1\n"                  # 7 good (new)
    )
    path = write(tmp_path, text)
    result = cli_import(runner, path)
    assert result.exit_code == 1
    for line in (3, 4, 5, 6):
        assert f"{path}:{line}:" in result.stderr
    assert f"{path}:2:" not in result.stderr and f"{path}:7:" not in result.stderr
    assert "Traceback" not in result.output
    with app.app_context():
        ms = all_municipalities()
        assert sorted(ms) == ["GM0344", "GM0363", "GM1900"]
        assert ms["GM0344"].population == 374238
        assert len(audit_rows()) == 1


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("", 1),
        ("code,name,province\nGM0344,Utrecht,Utrecht\n", 1),
        (HEADER, 2),
        (HEADER + "GM0344,Utrecht,Utrecht,²\n", 2),
    ],
)
def test_cli_empty_or_headerless_files(app, runner, tmp_path, text, line):
    path = write(tmp_path, text)
    result = cli_import(runner, path)
    assert result.exit_code == 1
    assert f"{path}:{line}:" in result.stderr
    assert count_municipalities(app) == 0


def test_cli_deactivate_missing(app, runner, tmp_path):
    cli_import(runner, write(tmp_path, GOOD))
    smaller = write(tmp_path, HEADER + "GM0344,Utrecht,Utrecht,374238\n", "smaller.csv")
    result = cli_import(runner, smaller, "--deactivate-missing")
    assert result.exit_code == 0, result.output
    assert "0 created, 0 updated, 1 unchanged, 2 deactivated" in result.output
    with app.app_context():
        assert {c: m.is_active for c, m in all_municipalities().items()} == {
            "GM0344": True, "GM0363": False, "GM1900": False}


def test_cli_bundled_file(app, runner):
    result = cli_import(runner, str(municipalities.BUNDLED_CSV))
    assert result.exit_code == 0, result.output
    assert f"{BUNDLED_ROWS} created" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.sum(Municipality.population))) == (
            BUNDLED_POPULATION)


def test_cli_refuses_non_utf8(app, runner, tmp_path):
    path = write(tmp_path, GOOD, encoding="latin-1")
    result = cli_import(runner, path)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert count_municipalities(app) == 0


def test_cli_missing_file(runner, tmp_path):
    result = cli_import(runner, str(tmp_path / "missing.csv"))
    assert result.exit_code == 2
