"""The final vote's results: the round and cluster result pages, the ballot export and its
recount with `flask competition tally`, the second winner at the diversity threshold, and the
standards' public pages and who may change them.

The world is the demo round standing in its final vote; every demo delegate then casts a known
ballot in one vraagstuk with two finalists (replacing whatever the demo had cast there), and
the organiser closes the vote.

Messages are compared as the page renders them (`shown`): through the app's own catalogue in
the page's language, so the tests hold whether or not a string is translated yet.
"""

import csv
import io
import json
import re
import shutil
from datetime import timedelta
from types import SimpleNamespace

import pytest
from flask_babel import force_locale, gettext
from markupsafe import escape
from sqlalchemy import MetaData, create_engine, make_url, select, text, update

from competition import create_app, demo
from competition.engine import tally
from competition.extensions import db
from competition.models import AuditEvent, Cluster, FinalBallot, Phase, Round, Standard, VoteResult
from competition.services import accounts, rounds, standards, voting
from competition.services.errors import PermissionDenied
from tests.conftest import BASE_CONFIG, IS_POSTGRES, NOW, _empty_postgres

CLOSED_AT = NOW + timedelta(hours=1)
LATER = NOW + timedelta(hours=2)  # the app's frozen clock after the close
SHORT = dict(demo.DEMO_MUNICIPALITIES)  # CBS code -> short name in the demo addresses
PASSWORD = demo.DEMO_PASSWORD
ORGANISER = "organisator@demo.example"
# Four delegates rank the first finalist first, two the second: 4 against 2, so the runner-up
# is ranked above the winner on exactly a third of the ballot weight.
FOR_A, FOR_B = 4, 2


def shown(app, msgid: str, locale: str = "nl", **values) -> str:
    """A message as a page in `locale` shows it (HTML-escaped like Jinja does)."""
    with app.test_request_context(), force_locale(locale):
        return str(escape(gettext(msgid, **values)))


def text_of(response) -> str:
    return response.get_data(as_text=True)


def login(client, email: str):
    return client.post("/inloggen", data={"email": email, "password": PASSWORD})


def _vote_cluster(rnd: Round):
    """A vraagstuk with two finalists, both owned by demo municipalities (so the owner has a
    demo team)."""
    for cluster in voting.vote_clusters(rnd):
        finalists = [o.proposal for o in voting.options(cluster, None)]
        if len(finalists) == 2 and all(p.municipality.code in SHORT for p in finalists):
            return cluster, finalists
    raise AssertionError("the demo has no vraagstuk with two finalists of demo municipalities")


class SeededDemo:
    """The demo seeded into its final vote once per session (seeding takes many seconds); each
    test gets a copy. SQLite: a database file to copy. PostgreSQL: every table's rows, put back
    into the emptied test database."""

    def __init__(self, database_template: str, folder) -> None:
        self.url = database_template
        if not IS_POSTGRES:
            self.path = folder / "demo.sqlite3"
            shutil.copyfile(database_template, self.path)
            self.url = f"sqlite:///{self.path}"
        else:
            _empty_postgres(self.url)
        app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": self.url,
                          "UPLOAD_FOLDER": str(folder / "uploads"),
                          "MAIL_FOLDER": str(folder / "mail")})
        with app.app_context():
            demo.seed(Phase.FINAL_VOTE, now=NOW)
            db.session.commit()
            db.session.remove()
            db.engine.dispose()
        if IS_POSTGRES:
            engine = create_engine(self.url)
            metadata = MetaData()
            with engine.connect() as conn:
                metadata.reflect(conn)
                self.rows = [(table, [dict(row._mapping) for row in conn.execute(table.select())])
                             for table in metadata.sorted_tables
                             if table.name != "alembic_version"]
            engine.dispose()

    def restore(self, app) -> None:
        """Make the test's database (not opened yet) the seeded demo."""
        target = app.config["SQLALCHEMY_DATABASE_URI"]
        if not IS_POSTGRES:
            shutil.copyfile(self.path, make_url(target).database)
            return
        engine = create_engine(target)
        with engine.begin() as conn:
            names = ", ".join(table.name for table, _rows in self.rows)
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
            for table, rows in self.rows:
                if rows:
                    conn.execute(table.insert(), rows)
                if rows and "id" in table.c:
                    # Table names come from our own schema (reflection), not from input.
                    conn.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608
                        f"(SELECT max(id) FROM {table.name}))"))
        engine.dispose()


@pytest.fixture(scope="session")
def seeded_demo(database_template, tmp_path_factory) -> SeededDemo:
    return SeededDemo(database_template, tmp_path_factory.mktemp("final-vote-demo"))


def _demo_round(app, seeded: SeededDemo) -> Round:
    seeded.restore(app)
    return rounds.get_round(db.session.scalar(
        select(Round.slug).where(Round.title == demo.ROUND_TITLE)))


def build(app, seeded: SeededDemo, *, close: bool = True, anonymous: bool = False,
          max_winners: int = 1, threshold: float | None = None) -> SimpleNamespace:
    """The demo round in its final vote with known ballots in one vraagstuk; closed (and
    counted) unless `close` is false."""
    app.config["FROZEN_NOW"] = NOW
    with app.app_context():
        rnd = _demo_round(app, seeded)
        assert rnd.current_phase is Phase.FINAL_VOTE
        # The round's rules, as the organiser would have set them while it was a draft.
        rnd.are_ballots_anonymous = anonymous
        rnd.max_winners = max_winners
        if threshold is not None:
            rnd.diversity_threshold = threshold
        cluster, (a, b) = _vote_cluster(rnd)
        delegates = [accounts.find_user_by_email(f"afgevaardigde@{short}.example")
                     for _code, short in demo.DEMO_MUNICIPALITIES]
        assert len(delegates) == FOR_A + FOR_B
        for n, delegate in enumerate(delegates):
            ranking = [a.id, b.id] if n < FOR_A else [b.id, a.id]
            voting.cast_ballot(delegate, cluster, ranking, now=NOW - timedelta(minutes=n))
        db.session.commit()
        world = SimpleNamespace(slug=rnd.slug, round_id=rnd.id, cluster_id=cluster.id,
                                a=a.id, b=b.id, a_title=a.title, b_title=b.title,
                                owner=a.municipality.code, runner_up_owner=b.municipality.code)
        if close:
            organiser = accounts.find_user_by_email(ORGANISER)
            rounds.close_phase(rnd, Phase.FINAL_VOTE, actor=organiser, now=CLOSED_AT)
            db.session.commit()
            app.config["FROZEN_NOW"] = LATER
        return world


@pytest.fixture
def closed(app, seeded_demo):
    return build(app, seeded_demo)


def stored(app, cluster_id: int) -> VoteResult:
    with app.app_context():
        result = db.session.scalar(select(VoteResult).where(VoteResult.cluster_id == cluster_id))
        db.session.expunge(result)
        return result


def standards_of(app, cluster_id: int) -> list[tuple[int, int, int]]:
    """(id, proposal id, place) of the vraagstuk's standards."""
    with app.app_context():
        return [(s.id, s.proposal_id, s.place) for s in db.session.scalars(
            select(Standard).where(Standard.cluster_id == cluster_id).order_by(Standard.place))]


# --- the result pages --------------------------------------------------------------------------


def test_cluster_result_shows_winner_ranking_pairwise_turnout_and_audit_head(app, client,
                                                                             closed):
    w = closed
    result = stored(app, w.cluster_id)
    assert result.winner_ids == [w.a]
    assert result.data["ranking"] == [str(w.a), str(w.b)]
    page = text_of(client.get(f"/vraagstukken/{w.cluster_id}/uitslag"))
    assert str(escape(w.a_title)) in page and str(escape(w.b_title)) in page
    # The winner is listed first, and the ranking table puts it above the runner-up.
    winners = page[page.index('id="winners-title"'):page.index('id="turnout-title"')]
    assert str(escape(w.a_title)) in winners and str(escape(w.b_title)) not in winners
    ranking = page[page.index('id="ranking-caption"'):page.index('id="first-title"')]
    assert ranking.index(str(escape(w.a_title))) < ranking.index(str(escape(w.b_title)))
    # Pairwise d[a, b] = 4 (the row wins: bold), d[b, a] = 2; strongest paths 2 and 0.
    pairwise = page[page.index('id="pairwise-caption"'):page.index('id="paths-title"')]
    assert f"<strong>{FOR_A}</strong>" in pairwise and f">{FOR_B}</td>" in pairwise
    paths = page[page.index('id="paths-caption"'):page.index('id="draw-title"')]
    assert f"<strong>{FOR_A - FOR_B}</strong>" in paths and ">0</td>" in paths
    # Matrices have row and column headers.
    assert pairwise.count('scope="col"') == 2 and pairwise.count('scope="row"') == 2
    # Turnout: six ballots, six of six municipalities.
    turnout = page[page.index('id="turnout-title"'):page.index('id="ranking-title"')]
    assert shown(app, "%(voted)s of %(eligible)s", voted="6", eligible="6") in turnout
    assert result.data["turnout"]["voted"] == 6 == result.data["ballots"]
    # The chart is an accessible SVG with the same first preferences as the table.
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert 'role="img"' in svg and 'aria-labelledby="chart-title chart-desc"' in svg
    assert "style=" not in page.lower() and "<script" not in page[page.index("<main"):]
    assert f">{FOR_A}</text>" in svg and f">{FOR_B}</text>" in svg
    # The audit chain's head at the close, and the ballot exports.
    assert result.audit_head and re.fullmatch(r"[0-9a-f]{64}", result.audit_head)
    assert result.audit_head in page and "flask competition verify-audit" in page
    assert f"/vraagstukken/{w.cluster_id}/stembiljetten.json" in page
    assert f"/vraagstukken/{w.cluster_id}/stembiljetten.csv" in page
    # The winner links to its standard.
    (standard_id, proposal_id, place), = standards_of(app, w.cluster_id)
    assert (proposal_id, place) == (w.a, 1)
    assert f"/standaarden/{standard_id}" in winners


def test_round_result_lists_every_counted_cluster_with_its_standard(app, client, closed):
    w = closed
    page = text_of(client.get(f"/rondes/{w.slug}/uitslag"))
    with app.app_context():
        rnd = db.session.get(Round, w.round_id)
        counted = voting.round_results(rnd)
        labels = [str(escape(c.label)) for c, _r in counted]
        names = [str(escape(s.name)) for s in db.session.scalars(
            select(Standard).where(Standard.round_id == w.round_id))]
    assert labels and all(label in page for label in labels)
    assert all(name in page for name in names)
    assert f"/vraagstukken/{w.cluster_id}/uitslag" in page


def test_before_the_close_the_pages_say_the_vote_is_running(app, client, seeded_demo):
    w = build(app, seeded_demo, close=False)
    with app.app_context():
        closes = db.session.get(Round, w.round_id).window(Phase.FINAL_VOTE).ends_at
    with app.test_request_context(), force_locale("nl"):
        when = app.jinja_env.filters["datetime"](closes, "d MMMM y HH:mm")
        running = str(escape(gettext(
            "The final vote is running until %(date)s. The municipalities’ delegates rank the "
            "finalists of every vraagstuk; a ballot can be changed until the vote closes. The "
            "result is published here when it closes.", date=when)))
    for url in (f"/rondes/{w.slug}/uitslag", f"/vraagstukken/{w.cluster_id}/uitslag"):
        response = client.get(url)
        assert response.status_code == 200
        assert running in text_of(response)
        assert str(escape(w.a_title)) not in text_of(response)


# --- the ballot export -------------------------------------------------------------------------


def test_export_recounts_to_the_stored_result(app, client, runner, closed, tmp_path):
    w = closed
    response = client.get(f"/vraagstukken/{w.cluster_id}/stembiljetten.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    data = response.get_json()
    assert data["candidates"] == [str(w.a), str(w.b)] or set(data["candidates"]) == {
        str(w.a), str(w.b)}
    assert len(data["ballots"]) == FOR_A + FOR_B
    codes = {b["municipality"] for b in data["ballots"]}
    assert codes == {code for code, _short in demo.DEMO_MUNICIPALITIES}
    assert all(isinstance(pid, str) for b in data["ballots"] for pid in b["ranking"])
    assert all(b["weight"] == 1 and len(b["receipt"]) == 64 for b in data["ballots"])
    path = tmp_path / "stembiljetten.json"
    path.write_bytes(response.data)
    recount = runner.invoke(args=["competition", "tally", str(path), "--json"])
    assert recount.exit_code == 0, recount.output
    result = stored(app, w.cluster_id)
    assert json.loads(recount.output) == {"winners": [str(pid) for pid in result.winner_ids],
                                          "ranking": result.data["ranking"]}
    # The plain-text recount names the same winner.
    text = runner.invoke(args=["competition", "tally", str(path)])
    assert text.exit_code == 0 and f"Winner: {w.a}" in text.output


def test_csv_export(app, client, closed):
    w = closed
    response = client.get(f"/vraagstukken/{w.cluster_id}/stembiljetten.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and ".csv" in disposition
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert list(rows[0]) == ["receipt", "municipality", "weight", "ranking"]
    assert len(rows) == FOR_A + FOR_B
    assert sorted(r["ranking"] for r in rows) == sorted(
        [f"{w.a} > {w.b}"] * FOR_A + [f"{w.b} > {w.a}"] * FOR_B)
    json_receipts = {b["receipt"] for b in client.get(
        f"/vraagstukken/{w.cluster_id}/stembiljetten.json").get_json()["ballots"]}
    assert {r["receipt"] for r in rows} == json_receipts


def test_exports_are_refused_before_the_close(app, client, seeded_demo):
    w = build(app, seeded_demo, close=False)
    for suffix in ("json", "csv"):
        response = client.get(f"/vraagstukken/{w.cluster_id}/stembiljetten.{suffix}")
        assert response.status_code == 409
        assert shown(app, "The ballots are published when the final vote has closed.") in \
            text_of(response)
    assert client.get("/vraagstukken/999999/stembiljetten.json").status_code == 404
    assert client.get("/vraagstukken/999999/uitslag").status_code == 404


def test_anonymous_rounds_export_no_municipality(app, client, seeded_demo):
    w = build(app, seeded_demo, anonymous=True)
    data = client.get(f"/vraagstukken/{w.cluster_id}/stembiljetten.json").get_json()
    assert len(data["ballots"]) == FOR_A + FOR_B
    assert all(b["municipality"] is None for b in data["ballots"])
    rows = list(csv.DictReader(io.StringIO(client.get(
        f"/vraagstukken/{w.cluster_id}/stembiljetten.csv").get_data(as_text=True))))
    assert all(r["municipality"] == "" for r in rows)
    page = text_of(client.get(f"/vraagstukken/{w.cluster_id}/uitslag"))
    assert all(f">{code}<" not in page for code in SHORT)


# --- two winners at the diversity threshold ----------------------------------------------------


@pytest.mark.parametrize(("threshold", "winners"), [(1 / 3, 2), (0.334, 1)])
def test_second_winner_at_and_just_below_the_threshold(app, client, seeded_demo, threshold,
                                                       winners):
    """The runner-up is ranked above the winner on 2 of 6 ballots: exactly a third. At a
    threshold of a third that makes it a second winner (and a second standard); at 0.334 the
    share is just below the threshold and there is one winner."""
    w = build(app, seeded_demo, max_winners=2, threshold=threshold)
    result = stored(app, w.cluster_id)
    second = result.data["second_winner"]
    assert second["runner_up"] == str(w.b) and second["share"] == pytest.approx(1 / 3)
    assert second["elected"] is (winners == 2)
    assert result.winner_ids == [w.a, w.b][:winners]
    assert [(pid, place) for _id, pid, place in standards_of(app, w.cluster_id)] == \
        [(w.a, 1), (w.b, 2)][:winners]
    page = text_of(client.get(f"/vraagstukken/{w.cluster_id}/uitslag"))
    winners_part = page[page.index('id="winners-title"'):page.index('id="turnout-title"')]
    listed = winners_part[:winners_part.index("</ul>")]
    assert (str(escape(w.b_title)) in listed) is (winners == 2)
    verdict = "So it is a second winner." if winners == 2 else "So there is no second winner."
    assert shown(app, verdict) in winners_part


# --- standards ---------------------------------------------------------------------------------


def the_standard(app, w) -> int:
    (standard_id, _pid, _place), = standards_of(app, w.cluster_id)
    return standard_id


def test_standards_index_and_detail(app, client, closed):
    w = closed
    standard_id = the_standard(app, w)
    index = text_of(client.get("/standaarden"))
    with app.app_context():
        listed = standards.all_standards()
        s = db.session.get(Standard, standard_id)
        owner, licence, version = s.owner.name, s.licence, s.version
    assert [row.standard.declared_at for row in listed] == sorted(
        (row.standard.declared_at for row in listed), reverse=True)
    assert str(escape(w.a_title)) in index and f"/standaarden/{standard_id}" in index
    page = text_of(client.get(f"/standaarden/{standard_id}"))
    assert str(escape(w.a_title)) in page and str(escape(owner)) in page
    assert version in page and (licence in page if licence else True)
    assert f"/vraagstukken/{w.cluster_id}/uitslag" in page
    assert f"/voorstellen/{w.a}" in page
    assert client.get("/standaarden/999999").status_code == 404


def edit_form(**changes) -> dict:
    form = {"description": "Een **gedeelde** oplossing voor alle gemeenten.",
            "demo_url": "https://demo.example/standaard",
            "documentation_url": "https://docs.example/standaard",
            "source_url": "https://code.example/standaard", "licence": "EUPL-1.2",
            "version": "1.1"}
    form.update(changes)
    return form


def test_organiser_and_owner_team_edit_others_may_not(app, client, closed):
    w = closed
    standard_id = the_standard(app, w)
    url = f"/standaarden/{standard_id}/bewerken"
    # Anonymous visitors are sent to log in.
    response = client.get(url)
    assert response.status_code == 302 and "/inloggen" in response.headers["Location"]
    # The owning municipality's team: member and delegate.
    for email, version in ((f"medewerker@{SHORT[w.owner]}.example", "1.1"),
                           (f"afgevaardigde@{SHORT[w.owner]}.example", "1.2"),
                           (ORGANISER, "2.0")):
        login(client, email)
        assert client.get(url).status_code == 200
        response = client.post(url, data=edit_form(version=version))
        assert response.status_code == 302, text_of(response)
        assert response.headers["Location"].endswith(f"/standaarden/{standard_id}")
        with app.app_context():
            assert db.session.get(Standard, standard_id).version == version
        client.post("/uitloggen")
    page = text_of(client.get(f"/standaarden/{standard_id}"))
    assert "<strong>gedeelde</strong>" in page and "https://code.example/standaard" in page
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "standard.updated",
            AuditEvent.object_id == str(standard_id)).order_by(AuditEvent.id)).all()
        assert [e.data["version"] for e in events] == ["1.1", "1.2", "2.0"]
        assert "description" in events[0].data["changed"]
    # Other municipalities (the runner-up's owner first) and a juror: 403.
    codes = [w.runner_up_owner, *(code for code, _short in demo.DEMO_MUNICIPALITIES)]
    others = [f"{role}@{SHORT[code]}.example" for code in dict.fromkeys(codes)
              if code != w.owner for role in ("medewerker", "afgevaardigde")][:3]
    others.append("jury.dekker@demo.example")
    for email in others:
        login(client, email)
        assert client.get(url).status_code == 403
        assert client.post(url, data=edit_form(version="9.9")).status_code == 403
        assert f"/standaarden/{standard_id}/bewerken" not in text_of(
            client.get(f"/standaarden/{standard_id}"))
        client.post("/uitloggen")
    with app.app_context():
        assert db.session.get(Standard, standard_id).version == "2.0"


@pytest.mark.parametrize(("changes", "field"), [
    ({"source_url": "http://code.example/standaard"}, "source_url"),
    ({"demo_url": "javascript:alert(1)"}, "demo_url"),
    ({"documentation_url": "https://"}, "documentation_url"),
    ({"version": "een versie met spaties"}, "version"),
    ({"version": ""}, "version"),
    ({"licence": "Proprietary"}, "licence"),
])
def test_bad_input_is_explained_and_nothing_changes(app, client, closed, changes, field):
    w = closed
    standard_id = the_standard(app, w)
    login(client, ORGANISER)
    response = client.post(f"/standaarden/{standard_id}/bewerken", data=edit_form(**changes))
    assert response.status_code == 200
    page = text_of(response)
    assert 'id="error-summary"' in page and f'href="#{field}"' in page
    with app.app_context():
        s = db.session.get(Standard, standard_id)
        assert s.version == "1.0" and "gedeelde" not in s.description
        assert db.session.scalar(select(AuditEvent.id).where(
            AuditEvent.action == "standard.updated")) is None


def test_the_service_holds_the_rules(app, closed):
    w = closed
    standard_id = the_standard(app, w)
    with app.app_context():
        s = db.session.get(Standard, standard_id)
        other = next(short for code, short in demo.DEMO_MUNICIPALITIES if code != w.owner)
        outsider = accounts.find_user_by_email(f"medewerker@{other}.example")
        data = standards.StandardData(description="", demo_url="", documentation_url="",
                                      source_url="", licence="", version="3.0")
        with pytest.raises(PermissionDenied):
            standards.update_standard(outsider, s, data, now=LATER)
        db.session.rollback()
        owner = accounts.find_user_by_email(f"medewerker@{SHORT[w.owner]}.example")
        assert standards.update_standard(owner, s, data, now=LATER)
        assert standards.update_standard(owner, s, data, now=LATER) == []  # nothing changed
        assert s.version == "3.0" and s.updated_at == LATER


def test_the_audit_head_at_closing_is_part_of_the_verified_chain(app, runner, closed):
    head = stored(app, closed.cluster_id).audit_head
    result = runner.invoke(args=["competition", "verify-audit", "--hash", head])
    assert result.exit_code == 0, result.output
    assert "of the chain" in result.output and result.output.rstrip().endswith("OK")


def test_a_vraagstuk_without_ballots_gets_no_standard(app, client, seeded_demo):
    """Nobody voted: no winner by lottery, no standard; the page says so, and the recount of the
    (empty) export agrees."""
    world = build(app, seeded_demo, close=False)
    with app.app_context():
        # As if no municipality had voted in this vraagstuk (every version kept, none current).
        db.session.execute(update(FinalBallot).where(FinalBallot.cluster_id == world.cluster_id)
                           .values(is_current=False))
        db.session.commit()
        rnd = db.session.get(Round, world.round_id)
        organiser = accounts.find_user_by_email(ORGANISER)
        rounds.close_phase(rnd, Phase.FINAL_VOTE, actor=organiser, now=CLOSED_AT)
        db.session.commit()
    app.config["FROZEN_NOW"] = LATER
    result = stored(app, world.cluster_id)
    assert result.winner_ids == [] and result.data["ballots"] == 0
    assert standards_of(app, world.cluster_id) == []
    page = client.get(f"/vraagstukken/{world.cluster_id}/uitslag")
    assert page.status_code == 200
    exported = client.get(f"/vraagstukken/{world.cluster_id}/stembiljetten.json").get_json()
    assert exported["ballots"] == []
    recount = tally.tally(tally.load_ballot_file(json.dumps(exported)))
    assert tally.result_json(recount)["winners"] == []


def test_a_tie_is_decided_by_the_published_draw_and_shown(app, client, seeded_demo):
    """Three municipalities for each finalist: the seeded draw decides, and the page names the
    tied finalists and the one the draw chose."""
    world = build(app, seeded_demo, close=False)
    with app.app_context():
        rnd = db.session.get(Round, world.round_id)
        cluster = db.session.get(Cluster, world.cluster_id)
        # One of the four "a first" municipalities changes its mind: 3 against 3.
        delegate = accounts.find_user_by_email(
            f"afgevaardigde@{demo.DEMO_MUNICIPALITIES[0][1]}.example")
        voting.cast_ballot(delegate, cluster, [world.b, world.a], now=NOW + timedelta(minutes=1))
        organiser = accounts.find_user_by_email(ORGANISER)
        rounds.close_phase(rnd, Phase.FINAL_VOTE, actor=organiser, now=CLOSED_AT)
        db.session.commit()
        seed = rnd.draw_seed
    app.config["FROZEN_NOW"] = LATER
    result = stored(app, world.cluster_id)
    expected = min((str(world.a), str(world.b)), key=lambda c: tally.draw_key(seed, c))
    assert result.data["draws"][0]["tied"] == sorted(
        [str(world.a), str(world.b)], key=lambda c: tally.draw_key(seed, c))
    assert result.winner_ids == [int(expected)]
    page = client.get(f"/vraagstukken/{world.cluster_id}/uitslag").get_data(as_text=True)
    assert world.a_title in page and world.b_title in page and seed in page
