"""Adoption over HTTP: the adoption section of a standard's page and recording a status with
its form, the CSV export, the "built once, used by N" dashboard, the jatprijs board, a
municipality's public page (final-vote ballots only when public), and the round form's cost
estimate.

The world is tests/test_adoption.py's `build_world`. Messages are compared as the page renders
them (`shown`): through the app's own catalogue in the page's language, so the tests hold
whether or not a string is translated yet.
"""

import csv
import io
import re
import secrets
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from flask_babel import force_locale, gettext
from markupsafe import escape
from sqlalchemy import func, select

from competition.extensions import db
from competition.models import (
    Adoption,
    AdoptionEvent,
    AdoptionStatus,
    Cluster,
    CoSubmission,
    CoSubmissionStatus,
    FinalBallot,
    Municipality,
    Phase,
    Proposal,
    ProposalStatus,
    Round,
    Standard,
    VoteResult,
)
from competition.services import accounts, adoption
from tests.conftest import NOW
from tests.test_adoption import COST, REASON, build_world

S = AdoptionStatus


def shown(app, msgid: str, locale: str = "nl", **values) -> str:
    """A message as a page in `locale` shows it (HTML-escaped like Jinja does)."""
    with app.test_request_context(), force_locale(locale):
        return str(escape(gettext(msgid, **values)))


def text_of(response) -> str:
    return response.get_data(as_text=True)


def in_app(app, fn):
    with app.app_context():
        return fn()


@pytest.fixture
def world(app) -> SimpleNamespace:
    app.config["FROZEN_NOW"] = NOW
    return in_app(app, build_world)


def login(auth, world, who: str) -> None:
    response = auth.login(world.emails[who])
    assert response.status_code == 302, f"login failed for {who}"


def record(app, world, who: str, status: AdoptionStatus, key: str = "a", **details) -> None:
    """Record a status through the service (set-up for the page tests)."""
    def act():
        actor = accounts.find_user_by_email(world.emails[who])
        adoption.record(actor, db.session.get(Standard, getattr(world, key)), status,
                        now=NOW, **details)
        db.session.commit()
    in_app(app, act)


def status_of(app, world, code: str, key: str = "a") -> Adoption | None:
    def read():
        row = adoption.status_of(db.session.get(Standard, getattr(world, key)),
                                 world.municipalities[code])
        if row is not None:
            db.session.expunge(row)
        return row
    return in_app(app, read)


def event_count(app) -> int:
    return in_app(app, lambda: db.session.scalar(select(func.count(AdoptionEvent.id))))


def section(html: str, start: str, end: str | None = None) -> str:
    """The part of a page from the element with id `start` up to the one with id `end`."""
    begin = html.index(f'id="{start}"')
    return html[begin:html.index(f'id="{end}"', begin)] if end else html[begin:]


def spread(app, world) -> None:
    """Standard A: Utrecht and Amsterdam adopted, Groningen intends, Fryslân declined."""
    record(app, world, "member", S.ADOPTED, adopted_on=date(2027, 1, 20))
    record(app, world, "other_member", S.ADOPTED, adopted_on=date(2027, 2, 15))
    record(app, world, "groningen", S.INTENDS, planned_on=date(2027, 6, 1))
    record(app, world, "fryslan", S.DECLINED, reason=REASON)


# --- the standard's page -----------------------------------------------------------------------


def test_standard_page_shows_counts_shares_chart_provinces_and_history(app, client, world):
    spread(app, world)
    html = text_of(client.get(f"/standaarden/{world.a}"))
    counts = section(html, "adoption-counts-caption", "adoption-progress-title")
    cells = re.findall(r'<td class="utrecht-table__cell oc-num">([^<]*)</td>', counts)
    # undecided (Zeist, Oudstad), intends, adopting, adopted, declined; then the total.
    assert cells[0::2] == ["2", "1", "0", "2", "1", "6"]
    stats = section(html, "adoption-title", "adoption-counts-title")
    assert "33,3%" in stats  # 2 of 6 municipalities
    population = 374238 + 931298 + 244829 + 92035 + 65_000 + 10_000
    share = (374238 + 931298) / population
    assert f"{share * 100:.1f}%".replace(".", ",") in stats
    # The chart: an image with an accessible name, and the same figures in a table.
    chart = section(html, "adoption-progress-title", "adoption-provinces-title")
    assert re.search(r'<svg [^>]*role="img" [^>]*aria-labelledby="adoption-chart-title '
                     r'adoption-chart-desc"', chart)
    assert '<title id="adoption-chart-title">' in chart and "<polyline" in chart
    rows = re.findall(r'<th class="utrecht-table__header-cell" scope="row">([^<]*)</th>\s*'
                      r'<td class="utrecht-table__cell oc-num">(\d+)</td>', chart)
    assert rows == [("januari 2027", "1"), ("februari 2027", "2"), ("maart 2027", "2")]
    provinces = section(html, "adoption-provinces-caption", "adoption-history-title")
    for province in ("Fryslân", "Groningen", "Noord-Holland", "Utrecht"):
        assert f'scope="row">{province}</th>' in provinces
    history = section(html, "adoption-history-title", "adoption-data-title")
    assert 'href="/gemeenten/GM0344">Utrecht</a>' in history
    assert 'href="/gemeenten/GM1900">' in history and str(escape(REASON)) in history
    assert history.index("GM1900") < history.index("GM0344")  # newest first
    assert f'href="/standaarden/{world.a}/adoptie.csv"' in html


def test_anonymous_visitors_see_figures_and_a_login_link_but_no_form(app, client, world):
    html = text_of(client.get(f"/standaarden/{world.a}"))
    assert 'id="adoption-title"' in html and 'id="adoption-own-title"' not in html
    assert f'action="/standaarden/{world.a}/adoptie"' not in html
    assert "/inloggen?next=" in html


@pytest.mark.parametrize("who", ["organiser", "jury"])
def test_organiser_and_jury_see_no_form(app, client, auth, world, who):
    login(auth, world, who)
    html = text_of(client.get(f"/standaarden/{world.a}"))
    assert 'id="adoption-own-title"' not in html
    assert shown(app, "Only members and delegates of a municipality record its adoption.") \
        in html


def test_member_records_a_status_with_the_form(app, client, auth, world):
    login(auth, world, "member")
    html = text_of(client.get(f"/standaarden/{world.a}"))
    own = section(html, "adoption-own-title")
    assert shown(app, "not yet decided") in own
    assert 'type="date"' in own and 'name="planned_on"' in own and 'type="radio"' in own
    response = client.post(f"/standaarden/{world.a}/adoptie", data={
        "status": "intends", "planned_on": "2027-06-01", "adopted_on": "", "reason": ""})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/standaarden/{world.a}#adoption-own-title")
    row = status_of(app, world, "GM0344")
    assert (row.status, row.planned_on) == ("intends", date(2027, 6, 1))
    html = text_of(client.get(response.headers["Location"]))
    own = section(html, "adoption-own-title")
    assert shown(app, "intends to adopt") in own
    assert 'value="2027-06-01"' in own  # the form shows the current status
    assert re.search(r'value="intends"[^>]* checked|checked[^>]* value="intends"', own)
    history = section(html, "adoption-own-history-title")
    assert shown(app, "planned for %(day)s", day="1 juni 2027") in history
    # The delegate of the same municipality takes it further.
    client.post("/uitloggen")
    login(auth, world, "delegate")
    response = client.post(f"/standaarden/{world.a}/adoptie", data={
        "status": "adopted", "adopted_on": "2027-02-28", "reason": "Live sinds februari."})
    assert response.status_code == 302
    row = status_of(app, world, "GM0344")
    assert (row.status, row.adopted_on, row.planned_on) == ("adopted", date(2027, 2, 28), None)
    assert event_count(app) == 2


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"status": "intends", "reason": "Eerst de begroting."}, "planned_on",
     "Give the date you plan to adopt it."),
    ({"status": "adopted", "adopted_on": "2027-03-02"}, "adopted_on",
     "The adoption date cannot lie in the future; choose “adopting” until then."),
    ({"status": "adopted", "adopted_on": "28-02-2027"}, "adopted_on",
     "Enter a date as YYYY-MM-DD, for example 2027-09-01."),
    ({"status": "intends", "planned_on": "2027-02-30"}, "planned_on",
     "Enter a date as YYYY-MM-DD, for example 2027-09-01."),
    ({"status": "declined", "reason": "Te duur"}, "reason",
     "Explain in %(min)d to %(max)d characters why."),
    ({"status": "maybe"}, "status", "Choose a status."),
    ({}, "status", "Choose a status."),
], ids=["no-planned-date", "future-adoption", "not-iso", "no-such-day", "short-reason",
        "unknown-status", "no-status"])
def test_errors_are_shown_next_to_their_fields(app, client, auth, world, data, field,
                                               message):
    login(auth, world, "member")
    response = client.post(f"/standaarden/{world.a}/adoptie", data=data)
    assert response.status_code == 200
    html = text_of(response)
    error = re.search(rf'<div class="utrecht-form-field-error-message" id="{field}-error">'
                      r'([^<]*)</div>', html)
    values = {"min": 10, "max": 2000} if "%(min)d" in message else {}
    assert error and error.group(1) == shown(app, message, **values)
    assert 'id="error-summary"' in html
    if data.get("reason"):
        assert str(escape(data["reason"])) in section(html, "adoption-own-title")  # kept
    assert status_of(app, world, "GM0344") is None and event_count(app) == 0


def test_a_refused_change_is_shown_at_the_status(app, client, auth, world):
    record(app, world, "member", S.ADOPTED, adopted_on=date(2027, 2, 1))
    login(auth, world, "member")
    response = client.post(f"/standaarden/{world.a}/adoptie", data={"status": "adopting"})
    assert response.status_code == 200
    error = section(text_of(response), "status-error")
    assert shown(app, "From “%(before)s” the status cannot go to “%(after)s”.",
                 before=shown(app, "adopted"), after=shown(app, "adopting")) in error
    assert status_of(app, world, "GM0344").status == "adopted" and event_count(app) == 1


@pytest.mark.parametrize("who", ["organiser", "jury", "inactive_municipality"])
def test_record_is_forbidden_for_people_without_an_active_municipality(app, client, auth,
                                                                       world, who):
    if who == "inactive_municipality":
        def stop():
            db.session.get(Municipality, world.municipalities["GM0999"]).is_active = False
            db.session.commit()
        in_app(app, stop)
        who = "oudstad"
    login(auth, world, who)
    response = client.post(f"/standaarden/{world.a}/adoptie", data={
        "status": "adopted", "adopted_on": "2027-02-01"})
    assert response.status_code == 403
    assert event_count(app) == 0


def test_record_needs_a_login(client, world):
    response = client.post(f"/standaarden/{world.a}/adoptie", data={"status": "adopting"})
    assert response.status_code == 302 and "/inloggen" in response.headers["Location"]
    assert client.get(f"/standaarden/{world.a}/adoptie").status_code == 405


def test_record_for_an_unknown_standard_is_404(client, auth, world):
    login(auth, world, "member")
    assert client.post("/standaarden/999999/adoptie", data={"status": "adopting"}
                       ).status_code == 404


# --- the CSV export ----------------------------------------------------------------------------


def test_csv_export_lists_every_active_municipality_safely(app, client, world):
    record(app, world, "member", S.ADOPTED, adopted_on=date(2027, 1, 20))
    record(app, world, "fryslan", S.DECLINED, reason="=HYPERLINK(\"https://x.example\")")
    record(app, world, "groningen", S.INTENDS, planned_on=date(2027, 6, 1),
           reason="@SUM(A1) eerst de raad")
    response = client.get(f"/standaarden/{world.a}/adoptie.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == \
        f'attachment; filename="standaard-{world.a}-adoptie.csv"'
    body = text_of(response)
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body[1:])))
    assert tuple(rows[0]) == adoption.EXPORT_COLUMNS == (
        "municipality_code", "municipality", "province", "population", "status", "planned_on",
        "adopted_on", "reason", "updated_at")
    by_code = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert set(by_code) == {"GM0344", "GM0363", "GM0014", "GM1900", "GM0355", "GM0999"}
    assert by_code["GM0344"]["status"] == "adopted"
    assert by_code["GM0344"]["adopted_on"] == "2027-01-20"
    assert by_code["GM0344"]["population"] == "374238"
    assert by_code["GM0344"]["updated_at"] == NOW.isoformat()
    assert by_code["GM0363"]["status"] == "undecided" and by_code["GM0363"]["updated_at"] == ""
    # Text a spreadsheet would run as a formula starts with an apostrophe.
    assert by_code["GM1900"]["reason"] == "'=HYPERLINK(\"https://x.example\")"
    assert by_code["GM0014"]["reason"] == "'@SUM(A1) eerst de raad"
    assert by_code["GM0014"]["planned_on"] == "2027-06-01"


def test_csv_export_of_an_unknown_standard_is_404(client, world):
    assert client.get("/standaarden/999999/adoptie.csv").status_code == 404


# --- dashboard and jatprijs --------------------------------------------------------------------


def test_dashboard_shows_adopters_and_the_estimated_saving(app, client, world):
    spread(app, world)
    record(app, world, "member", S.ADOPTED, key="b", adopted_on=date(2027, 2, 10))
    html = text_of(client.get("/standaarden/overzicht"))
    assert shown(app, "Estimated saving = estimated development cost per municipality × "
                      "(adopting municipalities − 1).") in html
    table = section(html, "dashboard-caption")
    names = re.findall(r'href="/standaarden/\d+">([^<]*)</a>', table)
    assert names == ["Paspoort online", "Meldingen-app", "Afvalkalender"]  # most adopted first
    rows = table.split('<tr class="utrecht-table__row">')[2:]
    paspoort, meldingen, afval = rows[:3]
    assert "€ 100.000" in paspoort  # the round's cost, and 100.000 × (2 − 1)
    assert shown(app, "estimate: %(cost)s × (%(adopted)d − 1)", cost="€ 100.000", adopted=2) \
        in paspoort
    assert shown(app, "no estimate") in meldingen and shown(app, "not recorded") in meldingen
    assert "€ 0" in afval
    assert "33,3%" in paspoort  # 2 of 6 municipalities
    assert shown(app, "%(num)d standard has no estimate and is left out of the total.",
                 num=1) in html


def test_dashboard_without_standards(app, client):
    html = text_of(client.get("/standaarden/overzicht"))
    assert shown(app, "There are no standards yet: they are declared when the final vote of a "
                      "round closes.") in html


def test_jatprijs_ranks_adopters_and_the_fastest_standards(app, client, world):
    spread(app, world)
    record(app, world, "member", S.ADOPTED, key="c", adopted_on=date(2027, 1, 5))
    html = text_of(client.get("/jatprijs"))
    top = section(html, "top-caption", "fastest-title")
    assert re.findall(r'href="/gemeenten/(GM\d{4})"', top) == ["GM0344", "GM0363"]
    assert re.findall(r'<td class="utrecht-table__cell oc-num">(\d+)</td>', top) == [
        "1", "2", "2", "1"]  # place, count; place, count
    rule = section(html, "fastest-title", "fastest-caption")
    assert shown(app, "For every municipality that adopted a standard we count the days from the "
                      "day the standard was declared to the adoption date it recorded. A "
                      "standard’s speed is the median of those days: half of its adopters were "
                      "faster, half slower, so one very quick or very slow municipality does "
                      "not decide. Fewest days first; with equal medians, the standard with "
                      "more adopters goes first.") in rule
    fastest = section(html, "fastest-caption")
    assert re.findall(r'href="/standaarden/\d+">([^<]*)</a>', fastest) == [
        "Afvalkalender", "Paspoort online"]  # 16 days; median of 10 and 36 = 23
    assert ">16</td>" in fastest and ">23</td>" in fastest


def test_standards_list_shows_how_many_use_each(app, client, world):
    spread(app, world)
    html = text_of(client.get("/standaarden"))
    assert 'href="/standaarden/overzicht"' in html and 'href="/jatprijs"' in html
    row = html[html.index(">Paspoort online</a>"):]
    row = row[:row.index("</tr>")]
    assert row.rstrip().endswith('<td class="utrecht-table__cell oc-num">2</td>')


# --- the municipality page ---------------------------------------------------------------------


def _add_history(app, world) -> SimpleNamespace:
    """Utrecht: a draft and a withdrawn proposal; co-submissions (one accepted, one only
    requested); a final-vote ballot in round 1's vraagstuk."""
    def make():
        utrecht, amsterdam = (world.municipalities["GM0344"], world.municipalities["GM0363"])
        member = accounts.find_user_by_email(world.emails["member"])
        delegate = accounts.find_user_by_email(world.emails["delegate"])
        r1 = db.session.get(Round, world.round_ids[0])

        def proposal(title, municipality_id, status=ProposalStatus.SUBMITTED, **extra):
            p = Proposal(round_id=r1.id, municipality_id=municipality_id, author_id=member.id,
                         status=status.value, title=title, created_at=NOW, updated_at=NOW,
                         submitted_at=None if status is ProposalStatus.DRAFT else NOW, **extra)
            db.session.add(p)
            db.session.flush()
            return p

        proposal("Geheim concept", utrecht, ProposalStatus.DRAFT)
        proposal("Teruggetrokken plan", utrecht, ProposalStatus.WITHDRAWN, withdrawn_at=NOW,
                 withdrawal_kind="cancelled")
        shared = proposal("Samen bouwen", amsterdam)
        asked = proposal("Alleen gevraagd", world.municipalities["GM0014"])
        for p, status in ((shared, CoSubmissionStatus.ACCEPTED),
                          (asked, CoSubmissionStatus.REQUESTED)):
            db.session.add(CoSubmission(proposal_id=p.id, municipality_id=utrecht,
                                        status=status.value, requested_by_id=member.id,
                                        requested_at=NOW))
        cluster = Cluster(round_id=r1.id, label="Samenwerken", is_confirmed=True,
                          created_at=NOW, updated_at=NOW)
        db.session.add(cluster)
        db.session.flush()
        first, second = proposal("Finalist een", amsterdam), proposal("Finalist twee", amsterdam)
        db.session.add(FinalBallot(round_id=r1.id, cluster_id=cluster.id, municipality_id=utrecht,
                                   ranking=[second.id, first.id], weight=Decimal(1),
                                   receipt=secrets.token_hex(32), salt=secrets.token_hex(16),
                                   is_current=True, cast_by_id=delegate.id,
                                   cast_at=NOW - timedelta(days=30)))
        db.session.add(VoteResult(round_id=r1.id, cluster_id=cluster.id,
                                  computed_at=NOW - timedelta(days=20), winner_ids=[first.id],
                                  data={}))
        db.session.commit()
        return SimpleNamespace(cluster_id=cluster.id, first=first.id, second=second.id)
    return in_app(app, make)


def set_round(app, world, phase: Phase, anonymous: bool) -> None:
    def act():
        rnd = db.session.get(Round, world.round_ids[0])
        rnd.phase, rnd.are_ballots_anonymous = phase.value, anonymous
        db.session.commit()
    in_app(app, act)


def test_municipality_page_lists_proposals_cosubmissions_and_adoption(app, client, world):
    _add_history(app, world)
    record(app, world, "member", S.ADOPTED, adopted_on=date(2027, 1, 20))
    record(app, world, "member", S.INTENDS, key="b", planned_on=date(2027, 9, 1))
    response = client.get("/gemeenten/GM0344")
    assert response.status_code == 200
    html = text_of(response)
    assert "<h1 class=\"utrecht-heading-1\">Utrecht</h1>" in html
    proposals = section(html, "proposals-title", "cosubmissions-title")
    assert "Paspoort online" in proposals and "Teruggetrokken plan" in proposals
    assert shown(app, "withdrawn") in proposals
    assert "Geheim concept" not in html  # drafts are not published
    cosubmissions = section(html, "cosubmissions-title", "ballots-title")
    assert "Samen bouwen" in cosubmissions and 'href="/gemeenten/GM0363"' in cosubmissions
    assert "Alleen gevraagd" not in html  # only accepted co-submissions
    statuses = section(html, "statuses-title")
    for name, status in (("Paspoort online", "adopted"), ("Meldingen-app", "intends to adopt"),
                         ("Afvalkalender", "not yet decided")):
        row = statuses[statuses.index(f">{name}</a>"):]
        assert shown(app, status) in row[:row.index("</tr>")]
    assert shown(app, "planned for %(day)s", day="1 september 2027") in statuses


@pytest.mark.parametrize(("phase", "anonymous", "public"), [
    (Phase.FINAL_VOTE, False, False),  # not before the close
    (Phase.DECIDED, True, False),  # never in an anonymous round
    (Phase.ADOPTION, True, False),
    (Phase.DECIDED, False, True),
    (Phase.ADOPTION, False, True),
])
def test_ballots_show_only_after_the_close_and_when_not_anonymous(app, client, world, phase,
                                                                  anonymous, public):
    ids = _add_history(app, world)
    set_round(app, world, phase, anonymous)
    html = text_of(client.get("/gemeenten/GM0344"))
    ballots = section(html, "ballots-title", "statuses-title")
    if public:
        assert f'href="/vraagstukken/{ids.cluster_id}/uitslag">Samenwerken</a>' in ballots
        assert ballots.index("Finalist twee") < ballots.index("Finalist een")  # the ranking
    else:
        assert "Samenwerken" not in ballots and "Finalist" not in ballots
        assert shown(app, "No ballots of %(municipality)s are public.",
                     municipality="Utrecht") in ballots
    # Other municipalities' pages never show Utrecht's ballot.
    assert "Finalist twee" not in section(text_of(client.get("/gemeenten/GM0363")),
                                          "ballots-title", "statuses-title")


def test_unknown_municipality_is_404_and_a_lower_case_code_redirects(client, world):
    assert client.get("/gemeenten/GM9998").status_code == 404
    assert client.get("/gemeenten/utrecht").status_code == 404
    response = client.get("/gemeenten/gm0344")
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/gemeenten/GM0344")


# --- the round's cost estimate -----------------------------------------------------------------


def _round_form(app, world, **changes) -> dict:
    def read():
        rnd = db.session.get(Round, world.round_ids[1])
        return {"title": rnd.title, "theme": rnd.theme, "description": rnd.description,
                "max_finalists": rnd.max_finalists, "max_winners": rnd.max_winners,
                "jury_weight": "50", "diversity_threshold": "33,33",
                "vote_weighting": rnd.vote_weighting, "is_own_finalist_vote_allowed": "y",
                "slug": rnd.slug, **changes}
    return in_app(app, read)


def test_organiser_sets_the_cost_estimate_at_any_time(app, client, auth, world):
    login(auth, world, "organiser")
    data = _round_form(app, world, estimated_cost="€ 250.000")
    slug = data.pop("slug")
    page = text_of(client.get(f"/beheer/rondes/{slug}/bewerken"))
    assert 'name="estimated_cost"' in page
    response = client.post(f"/beheer/rondes/{slug}/bewerken", data=data)
    assert response.status_code == 302
    assert in_app(app, lambda: db.session.get(Round, world.round_ids[1]).estimated_cost) \
        == 250_000
    html = text_of(client.get("/standaarden/overzicht"))
    assert "€ 250.000" in html
    response = client.post(f"/beheer/rondes/{slug}/bewerken", data={**data, "estimated_cost": ""})
    assert response.status_code == 302
    assert in_app(app, lambda: db.session.get(Round, world.round_ids[1]).estimated_cost) is None


@pytest.mark.parametrize("value", ["-5", "duizend", "2000000000"])
def test_a_bad_cost_estimate_is_refused_next_to_the_field(app, client, auth, world, value):
    login(auth, world, "organiser")
    data = _round_form(app, world, estimated_cost=value)
    slug = data.pop("slug")
    response = client.post(f"/beheer/rondes/{slug}/bewerken", data=data)
    assert response.status_code == 200
    assert 'id="estimated_cost-error"' in text_of(response)
    assert in_app(app, lambda: db.session.get(Round, world.round_ids[1]).estimated_cost) is None


def test_the_service_refuses_a_negative_cost(app, world):
    from competition.services import rounds
    from competition.services.errors import ValidationError

    def act():
        organiser = accounts.find_user_by_email(world.emails["organiser"])
        rnd = db.session.get(Round, world.round_ids[1])
        with pytest.raises(ValidationError) as exc:
            rounds.update_round(organiser, rnd, rounds.RoundData(
                title=rnd.title, theme=rnd.theme, estimated_cost=-1), now=NOW)
        assert exc.value.field == "estimated_cost"
        db.session.rollback()
        rnd = db.session.get(Round, world.round_ids[1])
        rounds.update_round(organiser, rnd, rounds.RoundData(
            title=rnd.title, theme=rnd.theme, description=rnd.description,
            estimated_cost=COST), now=NOW)
        assert rnd.estimated_cost == COST
    in_app(app, act)
