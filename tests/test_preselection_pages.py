"""The preselection over HTTP: the organiser's criteria and jury, the juror's scorecards and
conflicts, the delegates' approval ballots, reminders, and the published result with its
reasoning, overrides and both languages.

Messages are compared as the page renders them (`shown`): through the app's own catalogue in
the page's language, so the tests hold whether or not a string is translated yet.
"""

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from flask_babel import force_locale, gettext, ngettext
from markupsafe import escape
from sqlalchemy import delete, func, select

from competition.extensions import db
from competition.models import (
    ApprovalBallot,
    Cluster,
    ClusterMember,
    Criterion,
    FinalistDecision,
    JuryConflict,
    JuryMember,
    Municipality,
    OutboxMail,
    Phase,
    Proposal,
    Role,
    Round,
    Scorecard,
)
from competition.services import accounts, preselection, proposals, rounds
from competition.services.errors import DomainError
from competition.services.preselection import CriterionData, ScoreInput
from tests.conftest import NOW, make_user
from tests.proposal_helpers import ensure_seed_domains, valid_data

LATER = NOW + timedelta(hours=1)  # the app's frozen clock
ROUND_TITLE = "Ronde gezamenlijke voorselectie"
NAMES = {
    "jan": "Jan Jury",
    "ria": "Ria Rechter",
    "kees": "Kees Keurder",
}
# Cluster A ("Paspoort") has four proposals, cluster B ("Afvalinzameling") one.
TITLES = {
    "pU": "Digitaal paspoort aanvragen",
    "pA": "Paspoort thuisbezorgd",
    "pG": "Paspoort-app met DigiD",
    "pG2": "Paspoort aan huis voor ouderen",
    "pB": "Slimme afvalcontainers",
}
OWNERS = {"pU": "member", "pA": "other_member", "pG": "groningen_member",
          "pG2": "groningen_member", "pB": "other_member"}


# --- helpers -----------------------------------------------------------------------------------


def shown(app, msgid: str, locale: str = "nl", **values) -> str:
    """A message as a page in `locale` shows it (translated when the catalogue has it,
    HTML-escaped like Jinja does)."""
    with app.test_request_context(), force_locale(locale):
        return str(escape(gettext(msgid, **values)))


def shown_plural(app, singular: str, plural: str, num: int, locale: str = "nl") -> str:
    with app.test_request_context(), force_locale(locale):
        return str(escape(ngettext(singular, plural, num)))


def refusal(app, fn, locale: str = "nl") -> str:
    """The message a service refuses `fn` with, as a page in `locale` shows it. (Asked of the
    service itself, so the tests follow its wording; nothing it did is kept.)"""
    with app.test_request_context(), force_locale(locale):
        try:
            fn()
        except DomainError as exc:
            return str(escape(str(exc.message)))
        finally:
            db.session.rollback()
    raise AssertionError("the service did not refuse")


def in_app(app, fn):
    with app.app_context():
        return fn()


def count(app, model, *where) -> int:
    return in_app(app, lambda: db.session.scalar(
        select(func.count()).select_from(model).where(*where)))


def text_of(response) -> str:
    return response.get_data(as_text=True)


def follow(client, response):
    """The page a redirect leads to (flash messages included)."""
    assert response.status_code == 302, response.status_code
    return client.get(response.headers["Location"])


def criteria_of(app, round_id: int) -> list[tuple]:
    return in_app(app, lambda: [
        (c.id, c.name_nl, c.name_en, c.scale_min, c.scale_max, c.weight)
        for c in preselection.criteria(db.session.get(Round, round_id))])


def card_of(app, juror_id: int, proposal_id: int):
    """(is_submitted, {criterion_id: value}) of a juror's scorecard, or None."""
    def read():
        card = db.session.scalar(select(Scorecard).where(
            Scorecard.juror_id == juror_id, Scorecard.proposal_id == proposal_id))
        if card is None:
            return None
        return card.is_submitted, {s.criterion_id: s.value for s in card.scores}
    return in_app(app, read)


def ballot_of(app, municipality_code: str, cluster_id: int) -> set[int] | None:
    def read():
        mid = db.session.scalar(select(Municipality.id).where(
            Municipality.code == municipality_code))
        b = preselection.ballot(mid, db.session.get(Cluster, cluster_id))
        return None if b is None else set(b.proposal_ids)
    return in_app(app, read)


def decision(app, proposal_id: int) -> FinalistDecision:
    def read():
        row = db.session.scalar(select(FinalistDecision).where(
            FinalistDecision.proposal_id == proposal_id))
        db.session.expunge_all()
        return row
    return in_app(app, read)


def user_id(app, email: str) -> int:
    return in_app(app, lambda: accounts.find_user_by_email(email).id)


def round_phase(app, round_id: int) -> Phase:
    return in_app(app, lambda: db.session.get(Round, round_id).current_phase)


# --- the world ---------------------------------------------------------------------------------


def _round(people, **rules) -> Round:
    ensure_seed_domains()
    organiser = accounts.find_user_by_email(people["organiser"])
    return rounds.create_round(
        organiser,
        rounds.RoundData(title=ROUND_TITLE, theme="Digitale dienstverlening", **rules),
        rounds.default_schedule(NOW + timedelta(days=1)), now=NOW)


@pytest.fixture
def draft(app, people):
    """A round that is still a draft (its scorecard can change)."""
    app.config["FROZEN_NOW"] = LATER
    with app.app_context():
        rnd = _round(people)
        db.session.commit()
        return SimpleNamespace(round_id=rnd.id, slug=rnd.slug)


def build_world(app, people, *, max_finalists: int = 2) -> SimpleNamespace:
    """A round in its preselection phase.

    Municipalities with a delegate (the voters): Utrecht, Amsterdam, Groningen. Jurors: Jan
    (no municipality, the whole round), Ria (Utrecht, cluster A) and Kees (no municipality,
    cluster B), assigned in that order (so they are "juror 1, 2, 3").
    """
    app.config["FROZEN_NOW"] = LATER
    with app.app_context():
        ms = {m.code: m for m in db.session.scalars(select(Municipality))}
        make_user("rechter@utrecht.example", Role.JURY, municipality=ms["GM0344"],
                  name=NAMES["ria"])
        make_user("keurder@example.org", Role.JURY, name=NAMES["kees"])
        make_user("delegate@amsterdam.example", Role.DELEGATE, municipality=ms["GM0363"],
                  name="Anna Afgevaardigde")
        make_user("delegate@groningen.example", Role.DELEGATE, municipality=ms["GM0014"],
                  name="Gert Gedelegeerde")
        make_user("member@groningen.example", Role.MEMBER, municipality=ms["GM0014"],
                  name="Greet Groningen")
        emails = {**people, "ria": "rechter@utrecht.example", "kees": "keurder@example.org",
                  "jan": people["jury"], "amsterdam_delegate": "delegate@amsterdam.example",
                  "groningen_delegate": "delegate@groningen.example",
                  "groningen_member": "member@groningen.example"}
        organiser = accounts.find_user_by_email(people["organiser"])
        rnd = _round(people, max_finalists=max_finalists)
        rounds.close_phase(rnd, Phase.DRAFT, actor=organiser, now=NOW + timedelta(minutes=1))
        ids = {}
        for key, title in TITLES.items():
            owner = accounts.find_user_by_email(emails[OWNERS[key]])
            ids[key] = proposals.create_proposal(
                owner, rnd, valid_data(title=title), submit=True,
                now=NOW + timedelta(minutes=2)).id
        rounds.close_phase(rnd, Phase.SUBMISSION, actor=organiser,
                           now=NOW + timedelta(minutes=10))
        clusters = {}
        for key, label, members in (("A", "Paspoort", ("pU", "pA", "pG", "pG2")),
                                    ("B", "Afvalinzameling", ("pB",))):
            cluster = Cluster(round_id=rnd.id, label=label, created_at=NOW, updated_at=NOW,
                              is_confirmed=True)
            for m in members:
                cluster.members.append(ClusterMember(proposal_id=ids[m], similarity=1.0,
                                                     added_at=NOW))
            db.session.add(cluster)
            db.session.flush()
            clusters[key] = cluster.id
        for who, cluster_keys in (("jan", ()), ("ria", ("A",)), ("kees", ("B",))):
            preselection.assign_juror(
                organiser, rnd, accounts.find_user_by_email(emails[who]),
                [clusters[k] for k in cluster_keys], now=NOW + timedelta(minutes=15))
        rounds.close_phase(rnd, Phase.CLUSTERING, actor=organiser,
                           now=NOW + timedelta(minutes=20))
        db.session.commit()
        # The set-up's phase-opening mail (tests/test_notifications.py checks it) is not what
        # these tests read.
        db.session.execute(delete(OutboxMail))
        db.session.commit()
        assert rnd.current_phase is Phase.PRESELECTION
        return SimpleNamespace(
            round_id=rnd.id, slug=rnd.slug, ids=ids, clusters=clusters, emails=emails,
            criteria=[c.id for c in preselection.criteria(rnd)])


@pytest.fixture
def world(app, people):
    return build_world(app, people)


def login(auth, world, who: str):
    response = auth.login(world.emails[who])
    assert response.status_code == 302, f"login failed for {who}"


def score(app, world, who: str, key: str, value: int, *, submit: bool = True,
          comment: tuple[int, str] | None = None) -> None:
    """A juror scores a proposal with `value` on every criterion (service level)."""
    def act():
        user = accounts.find_user_by_email(world.emails[who])
        proposal = db.session.get(Proposal, world.ids[key])
        inputs = [ScoreInput(cid, value,
                             comment[1] if comment and comment[0] == i else "")
                  for i, cid in enumerate(world.criteria)]
        preselection.save_scorecard(user, proposal, inputs, submit=submit, now=LATER)
        db.session.commit()
    in_app(app, act)


def approve(app, world, who: str, cluster: str, keys: list[str]) -> None:
    def act():
        user = accounts.find_user_by_email(world.emails[who])
        preselection.cast_approvals(user, db.session.get(Cluster, world.clusters[cluster]),
                                    [world.ids[k] for k in keys], now=LATER)
        db.session.commit()
    in_app(app, act)


def declare(app, world, who: str, key: str, reason: str) -> None:
    def act():
        user = accounts.find_user_by_email(world.emails[who])
        preselection.declare_conflict(user, db.session.get(Proposal, world.ids[key]), reason,
                                      now=LATER)
        db.session.commit()
    in_app(app, act)


def close_preselection_by_hand(client, auth, world) -> None:
    """The organiser closes the preselection through the admin page (so mail is delivered)."""
    login(auth, world, "organiser")
    response = client.post(f"/beheer/rondes/{world.slug}/fase/preselection/sluiten",
                           data={"reason": ""})
    assert response.status_code == 302
    auth.logout()


def full_card(world, value: int, **extra) -> dict:
    return {**{f"c{cid}": str(value) for cid in world.criteria}, **extra}


# --- criteria ----------------------------------------------------------------------------------


CRITERION = {
    "new-name_nl": "Toegankelijkheid",
    "new-name_en": "Accessibility",
    "new-description_nl": "Kan iedereen het gebruiken?",
    "new-description_en": "Can everyone use it?",
    "new-scale_min": "0",
    "new-scale_max": "10",
    "new-weight": "1,5",
}


def test_organiser_adds_changes_and_removes_a_criterion(app, client, auth, people, draft):
    auth.login(people["organiser"])
    url = f"/beheer/rondes/{draft.slug}/jury"
    assert client.get(url).status_code == 200
    before = criteria_of(app, draft.round_id)

    response = client.post(url, data=CRITERION)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("#criteria")
    after = criteria_of(app, draft.round_id)
    assert len(after) == len(before) + 1
    cid, name_nl, name_en, low, high, weight = after[-1]
    assert (name_nl, name_en, low, high, weight) == ("Toegankelijkheid", "Accessibility",
                                                     0, 10, 1.5)
    assert shown(app, "The criterion has been added.") in text_of(follow(client, response))

    # Published on the round page, in the order of the scorecard.
    page = text_of(client.get(f"/rondes/{draft.slug}"))
    assert "Toegankelijkheid" in page and "Kan iedereen het gebruiken?" in page
    assert "0–10" in page and "1,5" in page
    assert page.index(before[0][1]) < page.index("Toegankelijkheid")

    # Change it.
    edit = f"/beheer/criteria/{cid}"
    form = text_of(client.get(edit))
    assert 'value="Toegankelijkheid"' in form
    response = client.post(edit, data={
        "name_nl": "Toegankelijkheid voor iedereen", "name_en": "Accessibility",
        "description_nl": "", "description_en": "", "scale_min": "1", "scale_max": "7",
        "weight": "2"})
    assert response.status_code == 302
    assert criteria_of(app, draft.round_id)[-1][1:] == (
        "Toegankelijkheid voor iedereen", "Accessibility", 1, 7, 2.0)
    assert "Toegankelijkheid voor iedereen" in text_of(client.get(f"/rondes/{draft.slug}"))

    # Remove it.
    response = client.post(f"/beheer/criteria/{cid}/verwijderen")
    assert response.status_code == 302
    assert criteria_of(app, draft.round_id) == before
    assert "Toegankelijkheid" not in text_of(client.get(f"/rondes/{draft.slug}"))
    assert client.get(edit).status_code == 404


@pytest.mark.parametrize(("low", "high"), [("5", "3"), ("4", "4")])
def test_a_criterion_with_a_bad_scale_is_explained(app, client, auth, people, draft, low, high):
    auth.login(people["organiser"])
    before = criteria_of(app, draft.round_id)
    message = refusal(app, lambda: preselection.add_criterion(
        accounts.find_user_by_email(people["organiser"]), db.session.get(Round, draft.round_id),
        CriterionData(name_nl="Toegankelijkheid", scale_min=int(low), scale_max=int(high)),
        now=LATER))
    response = client.post(f"/beheer/rondes/{draft.slug}/jury",
                           data={**CRITERION, "new-scale_min": low, "new-scale_max": high})
    assert response.status_code == 200
    page = text_of(response)
    assert 'lang="nl"' in page
    assert message in page
    assert criteria_of(app, draft.round_id) == before

    # The same rule when changing an existing criterion.
    cid = before[0][0]
    response = client.post(f"/beheer/criteria/{cid}", data={
        "name_nl": "Waarde", "scale_min": low, "scale_max": high, "weight": "1"})
    assert response.status_code == 200
    assert message in text_of(response)
    assert criteria_of(app, draft.round_id) == before


@pytest.mark.parametrize("changes", [
    {"new-scale_max": "500"},
    {"new-scale_min": "-1"},
    {"new-scale_min": "een"},
    {"new-weight": "0"},
    {"new-weight": "veel"},
    {"new-name_nl": ""},
    {"new-name_nl": "x" * 121},
])
def test_malformed_criterion_forms_are_refused(app, client, auth, people, draft, changes):
    auth.login(people["organiser"])
    before = criteria_of(app, draft.round_id)
    response = client.post(f"/beheer/rondes/{draft.slug}/jury", data={**CRITERION, **changes})
    assert response.status_code == 200
    assert "oc-error-summary" in text_of(response)
    assert criteria_of(app, draft.round_id) == before


def test_criteria_are_frozen_once_the_round_left_draft(app, client, auth, people, draft):
    auth.login(people["organiser"])
    before = criteria_of(app, draft.round_id)
    cid = before[0][0]

    def open_submission():
        rnd = db.session.get(Round, draft.round_id)
        rounds.close_phase(rnd, Phase.DRAFT,
                           actor=accounts.find_user_by_email(people["organiser"]), now=LATER)
        db.session.commit()
    in_app(app, open_submission)
    frozen = refusal(app, lambda: preselection.remove_criterion(
        accounts.find_user_by_email(people["organiser"]), db.session.get(Criterion, cid),
        now=LATER))

    # The manage page no longer offers the forms.
    page = text_of(client.get(f"/beheer/rondes/{draft.slug}/jury"))
    assert f"/beheer/criteria/{cid}/verwijderen" not in page
    assert 'name="new-name_nl"' not in page

    # A form opened earlier and posted now: refused with the reason, nothing written.
    response = client.post(f"/beheer/rondes/{draft.slug}/jury", data=CRITERION)
    assert response.status_code == 200
    assert frozen in text_of(response)

    response = client.get(f"/beheer/criteria/{cid}")
    assert response.status_code == 200 and frozen in text_of(response)
    response = client.post(f"/beheer/criteria/{cid}", data={
        "name_nl": "Anders", "scale_min": "1", "scale_max": "5", "weight": "1"})
    assert response.status_code == 200
    assert frozen in text_of(response)

    response = client.post(f"/beheer/criteria/{cid}/verwijderen")
    assert frozen in text_of(follow(client, response))
    assert criteria_of(app, draft.round_id) == before


def test_only_organisers_change_criteria(app, client, auth, people, draft):
    before = criteria_of(app, draft.round_id)
    cid = before[0][0]
    auth.login(people["jury"])
    assert client.post(f"/beheer/rondes/{draft.slug}/jury", data=CRITERION).status_code == 403
    assert client.post(f"/beheer/criteria/{cid}", data={
        "name_nl": "Anders", "scale_min": "1", "scale_max": "5", "weight": "1"}).status_code == 403
    assert client.post(f"/beheer/criteria/{cid}/verwijderen").status_code == 403
    assert criteria_of(app, draft.round_id) == before
    auth.logout()
    auth.login(people["organiser"])
    assert client.get("/beheer/criteria/999999").status_code == 404
    assert client.post("/beheer/criteria/999999/verwijderen").status_code == 404


# --- the jury ----------------------------------------------------------------------------------


def members_of(app, world) -> dict[str, set[int]]:
    """{juror name: cluster ids} of the round's jury."""
    def read():
        return {m.user.name: {c.id for c in m.clusters}
                for m in preselection.jury_members(db.session.get(Round, world.round_id))}
    return in_app(app, read)


def member_id(app, world, who: str) -> int:
    return in_app(app, lambda: db.session.scalar(select(JuryMember.id).where(
        JuryMember.round_id == world.round_id,
        JuryMember.user_id == accounts.find_user_by_email(world.emails[who]).id)))


def test_organiser_assigns_and_removes_jurors(app, client, auth, people, world):
    login(auth, world, "organiser")
    url = f"/beheer/rondes/{world.slug}/jury/toewijzen"
    a, b = world.clusters["A"], world.clusters["B"]
    page = text_of(client.get(f"/beheer/rondes/{world.slug}/jury"))
    assert NAMES["jan"] in page and NAMES["ria"] in page and "Paspoort" in page

    # Ria: from cluster A only to both clusters; then Kees to the whole round.
    response = client.post(url, data={"user_id": user_id(app, world.emails["ria"]),
                                      "cluster_ids": [str(a), str(b)]})
    assert response.status_code == 302 and response.headers["Location"].endswith("#jurors")
    assert NAMES["ria"] in text_of(follow(client, response))
    assert members_of(app, world)[NAMES["ria"]] == {a, b}
    response = client.post(url, data={"user_id": user_id(app, world.emails["kees"])})
    assert response.status_code == 302
    assert members_of(app, world)[NAMES["kees"]] == set()  # every cluster
    page = text_of(client.get(f"/beheer/rondes/{world.slug}/jury"))
    assert "Paspoort, Afvalinzameling" in page or "Afvalinzameling, Paspoort" in page

    # Only jury-role users can be assigned; clusters must be the round's.
    before = members_of(app, world)
    for data in ({"user_id": user_id(app, world.emails["member"])},
                 {"user_id": user_id(app, world.emails["kees"]), "cluster_ids": ["999999"]},
                 {"user_id": "niet-een-getal"}):
        assert client.post(url, data=data).status_code == 302
        assert members_of(app, world) == before

    # Remove Kees.
    response = client.post(f"/beheer/jury/{member_id(app, world, 'kees')}/verwijderen")
    assert response.status_code == 302
    assert NAMES["kees"] not in members_of(app, world)
    assert client.post("/beheer/jury/999999/verwijderen").status_code == 404


def test_a_juror_sees_the_list(app, client, auth, world):
    login(auth, world, "jan")
    response = client.get("/jury")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/jury/rondes/{world.slug}")
    page = text_of(client.get(f"/jury/rondes/{world.slug}"))
    for title in TITLES.values():
        assert title in page
    assert "Paspoort" in page and "Afvalinzameling" in page

    # A juror of two rounds chooses one.
    def second_round():
        organiser = accounts.find_user_by_email(world.emails["organiser"])
        rnd = rounds.create_round(
            organiser, rounds.RoundData(title="Tweede ronde met jury", theme="Afval en klimaat"),
            rounds.default_schedule(NOW + timedelta(days=1)), now=NOW)
        preselection.assign_juror(organiser, rnd, accounts.find_user_by_email(
            world.emails["jan"]), [], now=LATER)
        db.session.commit()
        return rnd.slug
    other = in_app(app, second_round)
    response = client.get("/jury")
    assert response.status_code == 200
    page = text_of(response)
    assert ROUND_TITLE in page and "Tweede ronde met jury" in page
    assert f"/jury/rondes/{world.slug}" in page and f"/jury/rondes/{other}" in page

    # Ria scores cluster A only; Utrecht's own proposal is on her list, marked recused.
    auth.logout()
    login(auth, world, "ria")
    page = text_of(client.get(f"/jury/rondes/{world.slug}"))
    assert TITLES["pU"] in page and TITLES["pB"] not in page
    assert shown(app, "recused: your municipality is involved") in page
    assert client.get(f"/jury/voorstellen/{world.ids['pB']}").status_code == 403


def test_a_juror_of_no_round_gets_an_empty_list(app, client, auth, people):
    auth.login(people["jury"])
    response = client.get("/jury")
    assert response.status_code == 200
    assert shown(app, "You are not a juror of any round yet. The organisers assign jurors to "
                      "a round.") in text_of(response)


def test_scorecard_offers_every_criterion(app, client, auth, world):
    login(auth, world, "jan")
    page = text_of(client.get(f"/jury/voorstellen/{world.ids['pA']}"))
    assert TITLES["pA"] in page
    for cid in world.criteria:
        radios = re.findall(rf'<input[^>]*name="c{cid}"[^>]*>', page)
        assert len(radios) == 5 and all('type="radio"' in r for r in radios)
        assert {re.search(r'value="(\d+)"', r).group(1) for r in radios} == set("12345")
        assert f'name="c{cid}_comment"' in page
    buttons = re.findall(r'<button[^>]*name="action"[^>]*>', page)
    assert {re.search(r'value="(\w+)"', b).group(1) for b in buttons} == {"submit", "save"}


def test_juror_saves_a_draft_then_submits(app, client, auth, world):
    login(auth, world, "jan")
    jan = user_id(app, world.emails["jan"])
    pid = world.ids["pA"]
    url = f"/jury/voorstellen/{pid}"
    first, second = world.criteria[:2]

    # A partial draft is stored and shown again.
    response = client.post(url, data={f"c{first}": "4", f"c{first}_comment": "Sterk plan",
                                      "action": "save"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/jury/rondes/{world.slug}#proposal-{pid}")
    submitted, values = card_of(app, jan, pid)
    assert submitted is False and values[first] == 4 and values[second] is None
    page = text_of(client.get(url))
    assert re.search(rf'<input[^>]*checked[^>]*name="c{first}"[^>]*value="4"', page) or \
        re.search(rf'<input[^>]*name="c{first}"[^>]*value="4"[^>]*checked', page)
    assert "Sterk plan" in page

    # Submitting with a criterion missing: refused with the missing names, still a draft.
    data = {**full_card(world, 3), "action": "submit"}
    del data[f"c{second}"]
    response = client.post(url, data=data)
    assert response.status_code == 200
    message = refusal(app, lambda: preselection.save_scorecard(
        accounts.find_user_by_email(world.emails["jan"]), db.session.get(Proposal, pid),
        [ScoreInput(cid, 3) for cid in world.criteria if cid != second], submit=True,
        now=LATER))
    assert in_app(app, lambda: db.session.get(Criterion, second).name_nl) in message
    assert message in text_of(response)
    assert card_of(app, jan, pid) == (False, values)

    # A complete submission counts.
    response = client.post(url, data={**full_card(world, 3), "action": "submit"})
    assert response.status_code == 302
    submitted, values = card_of(app, jan, pid)
    assert submitted is True and set(values.values()) == {3}
    page = text_of(client.get(f"/jury/rondes/{world.slug}"))
    assert shown(app, "%(done)d of %(total)d scorecards submitted", done=1, total=5) in page

    # Saving as a draft again takes it back out of the count.
    assert client.post(url, data={**full_card(world, 2), "action": "save"}).status_code == 302
    assert card_of(app, jan, pid)[0] is False


@pytest.mark.parametrize("value", ["9", "0", "-1", "drie", "3.5", str(2**64)])
def test_out_of_scale_scores_are_refused(app, client, auth, world, value):
    login(auth, world, "jan")
    cid = world.criteria[0]
    response = client.post(f"/jury/voorstellen/{world.ids['pA']}",
                           data={**full_card(world, 3), f"c{cid}": value, "action": "submit"})
    assert response.status_code == 200
    assert "oc-error-summary" in text_of(response)
    assert card_of(app, user_id(app, world.emails["jan"]), world.ids["pA"]) is None


def test_unknown_or_foreign_proposals_have_no_scorecard(app, client, auth, world):
    login(auth, world, "kees")  # cluster B only
    assert client.get(f"/jury/voorstellen/{world.ids['pA']}").status_code == 403
    response = client.post(f"/jury/voorstellen/{world.ids['pA']}",
                           data={**full_card(world, 3), "action": "submit"})
    assert response.status_code == 403
    assert client.get("/jury/voorstellen/999999").status_code == 404
    assert count(app, Scorecard) == 0


def test_a_recused_juror_cannot_score(app, client, auth, world):
    login(auth, world, "ria")  # Utrecht, like the owner of pU
    url = f"/jury/voorstellen/{world.ids['pU']}"
    page = text_of(client.get(url))
    assert shown(app, "Your municipality submitted or co-submits this proposal, so you are "
                      "recused from it. This is shown in the results.") in page
    assert f'name="c{world.criteria[0]}"' not in page  # no scorecard form
    message = refusal(app, lambda: preselection.save_scorecard(
        accounts.find_user_by_email(world.emails["ria"]), db.session.get(Proposal, world.ids["pU"]),
        [ScoreInput(cid, 5) for cid in world.criteria], submit=True, now=LATER))
    response = client.post(url, data={**full_card(world, 5), "action": "submit"})
    assert response.status_code == 200
    assert message in text_of(response)
    assert card_of(app, user_id(app, world.emails["ria"]), world.ids["pU"]) is None


def test_declaring_and_withdrawing_a_conflict(app, client, auth, world):
    login(auth, world, "jan")
    jan = user_id(app, world.emails["jan"])
    pid = world.ids["pG"]
    url = f"/jury/voorstellen/{pid}"

    def conflicts():
        return in_app(app, lambda: [(c.reason, c.withdrawn_at is None) for c in db.session.scalars(
            select(JuryConflict).where(JuryConflict.juror_id == jan))])

    # A reason is required.
    response = client.post(f"{url}/conflict", data={"reason": "x"})
    assert response.status_code == 302
    assert conflicts() == []

    response = client.post(f"{url}/conflict", data={"reason": "Mijn zus werkt bij dit project."})
    assert response.status_code == 302 and response.headers["Location"].endswith(url)
    assert conflicts() == [("Mijn zus werkt bij dit project.", True)]
    page = text_of(client.get(url))
    assert shown(app, "You declared a conflict of interest: %(reason)s",
                 reason="Mijn zus werkt bij dit project.") in page
    assert "/conflict/intrekken" in page

    # Recused now: a score is refused, with the reason.
    response = client.post(url, data={**full_card(world, 4), "action": "submit"})
    assert response.status_code == 200
    assert "oc-error-summary" in text_of(response)
    assert card_of(app, jan, pid) is None

    # Withdrawn: scoring works again.
    response = client.post(f"{url}/conflict/intrekken")
    assert response.status_code == 302
    assert conflicts() == [("Mijn zus werkt bij dit project.", False)]
    assert shown(app, "Your declaration has been withdrawn.") in text_of(follow(client, response))
    assert client.post(url, data={**full_card(world, 4), "action": "submit"}).status_code == 302
    assert card_of(app, jan, pid)[0] is True

    # Withdrawing twice: refused with a message, nothing changes.
    message = refusal(app, lambda: preselection.withdraw_conflict(
        accounts.find_user_by_email(world.emails["jan"]), db.session.get(Proposal, pid),
        now=LATER))
    response = client.post(f"{url}/conflict/intrekken")
    assert message in text_of(follow(client, response))
    assert conflicts() == [("Mijn zus werkt bij dit project.", False)]


def test_scoring_is_refused_outside_the_preselection(app, client, auth, world):
    close_preselection_by_hand(client, auth, world)
    assert round_phase(app, world.round_id) is Phase.DEVELOPMENT
    login(auth, world, "jan")
    url = f"/jury/voorstellen/{world.ids['pA']}"
    page = text_of(client.get(url))
    assert 'value="submit"' not in page  # no buttons any more
    message = refusal(app, lambda: preselection.save_scorecard(
        accounts.find_user_by_email(world.emails["jan"]), db.session.get(Proposal, world.ids["pA"]),
        [ScoreInput(cid, 4) for cid in world.criteria], submit=True, now=LATER))
    response = client.post(url, data={**full_card(world, 4), "action": "submit"})
    assert response.status_code == 200
    assert message in text_of(response)
    assert count(app, Scorecard) == 0
    response = client.post(f"{url}/conflict", data={"reason": "Te laat bedacht."})
    assert response.status_code == 302
    assert count(app, JuryConflict) == 0


# --- reminders ---------------------------------------------------------------------------------


def test_reminders_go_to_jurors_with_missing_scorecards(app, client, auth, world, outbox):
    for key in ("pU", "pA", "pG", "pG2", "pB"):
        score(app, world, "jan", key, 4)
    for key in ("pA", "pG", "pG2"):  # Ria is recused from pU
        score(app, world, "ria", key, 3)
    score(app, world, "kees", "pB", 2, submit=False)  # a draft does not count

    login(auth, world, "organiser")
    page = text_of(client.get(f"/beheer/rondes/{world.slug}/jury"))
    assert f"/beheer/rondes/{world.slug}/jury/herinneren" in page
    before = len(outbox)
    response = client.post(f"/beheer/rondes/{world.slug}/jury/herinneren")
    assert response.status_code == 302
    sent = outbox.messages[before:]
    assert [m.to for m in sent] == [[world.emails["kees"]]]
    assert ROUND_TITLE in sent[0].subject
    assert f"/jury/rondes/{world.slug}" in sent[0].body
    assert in_app(app, lambda: db.session.get(
        JuryMember, member_id(app, world, "kees")).reminded_at) is not None
    assert in_app(app, lambda: db.session.get(
        JuryMember, member_id(app, world, "jan")).reminded_at) is None

    # Outside the preselection phase there is nothing to remind.
    close_preselection_by_hand(client, auth, world)
    login(auth, world, "organiser")
    before = len(outbox)
    message = refusal(app, lambda: preselection.send_reminders(
        accounts.find_user_by_email(world.emails["organiser"]),
        db.session.get(Round, world.round_id), now=LATER))
    response = client.post(f"/beheer/rondes/{world.slug}/jury/herinneren")
    assert message in text_of(follow(client, response))
    assert len(outbox) == before


# --- the peer vote -----------------------------------------------------------------------------


def test_delegate_sees_the_overview(app, client, auth, world):
    login(auth, world, "delegate")
    response = client.get(f"/rondes/{world.slug}/voorselectie/stemmen")
    assert response.status_code == 200
    page = text_of(response)
    assert "Paspoort" in page and "Afvalinzameling" in page
    assert f"/vraagstukken/{world.clusters['A']}/goedkeuren" in page


def test_delegate_approves_proposals(app, client, auth, world):
    login(auth, world, "delegate")  # Utrecht
    a = world.clusters["A"]
    url = f"/vraagstukken/{a}/goedkeuren"
    page = text_of(client.get(url))
    offered = {int(v) for v in re.findall(r'name="proposals"[^>]*value="(\d+)"', page)}
    assert offered == {world.ids["pA"], world.ids["pG"], world.ids["pG2"]}
    assert TITLES["pU"] in page  # listed as its own proposal, not offered

    response = client.post(url, data={"proposals": [str(world.ids["pA"]),
                                                    str(world.ids["pG"])]})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/rondes/{world.slug}/voorselectie/stemmen")
    assert ballot_of(app, "GM0344", a) == {world.ids["pA"], world.ids["pG"]}

    # Changed later by the same municipality (the form carries the ballot's version).
    app.config["FROZEN_NOW"] = LATER + timedelta(minutes=5)
    page = text_of(client.get(url))
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1)
    response = client.post(url, data={"proposals": [str(world.ids["pG2"])],
                                      "version": version})
    assert response.status_code == 302
    assert ballot_of(app, "GM0344", a) == {world.ids["pG2"]}

    # A stale version (another delegate changed it meanwhile) is refused.
    app.config["FROZEN_NOW"] = LATER + timedelta(minutes=10)
    response = client.post(url, data={"proposals": [str(world.ids["pA"])], "version": version})
    assert response.status_code == 200
    assert "oc-error-summary" in text_of(response)
    assert ballot_of(app, "GM0344", a) == {world.ids["pG2"]}

    # An empty ballot is allowed.
    assert client.post(url, data={}).status_code == 302
    assert ballot_of(app, "GM0344", a) == set()


def test_more_approvals_than_finalist_places_are_refused(app, client, auth, world):
    login(auth, world, "delegate")
    a = world.clusters["A"]
    response = client.post(f"/vraagstukken/{a}/goedkeuren", data={"proposals": [
        str(world.ids[k]) for k in ("pA", "pG", "pG2")]})
    assert response.status_code == 200
    assert refusal(app, lambda: preselection.cast_approvals(
        accounts.find_user_by_email(world.emails["delegate"]), db.session.get(Cluster, a),
        [world.ids[k] for k in ("pA", "pG", "pG2")], now=LATER)) in text_of(response)
    assert ballot_of(app, "GM0344", a) is None
    assert count(app, ApprovalBallot) == 0


def test_a_delegate_cannot_approve_its_own_municipalitys_proposal(app, client, auth, world):
    login(auth, world, "delegate")  # Utrecht owns pU
    a = world.clusters["A"]
    response = client.post(f"/vraagstukken/{a}/goedkeuren",
                           data={"proposals": [str(world.ids["pU"]), str(world.ids["pA"])]})
    assert response.status_code in (200, 403)
    message = refusal(app, lambda: preselection.cast_approvals(
        accounts.find_user_by_email(world.emails["delegate"]), db.session.get(Cluster, a),
        [world.ids["pU"]], now=LATER))
    assert TITLES["pU"] in message
    assert message in text_of(response)
    assert ballot_of(app, "GM0344", a) is None
    assert count(app, ApprovalBallot) == 0


@pytest.mark.parametrize("value", ["999999", "abc", "-1"])
def test_proposals_of_other_clusters_are_refused(app, client, auth, world, value):
    login(auth, world, "delegate")
    a = world.clusters["A"]
    values = {"999999": str(world.ids["pB"])}.get(value, value)
    response = client.post(f"/vraagstukken/{a}/goedkeuren", data={"proposals": [values]})
    assert response.status_code == 200
    assert count(app, ApprovalBallot) == 0


@pytest.mark.parametrize("version", ["", "abc", "²", "-1", "1.0", str(2**64), "\u0661"])
def test_odd_ballot_versions_never_break_the_form(app, client, auth, world, version):
    login(auth, world, "delegate")
    a = world.clusters["A"]
    url = f"/vraagstukken/{a}/goedkeuren"
    assert client.post(url, data={"proposals": [str(world.ids["pA"])],
                                  "version": version}).status_code == 302
    app.config["FROZEN_NOW"] = LATER + timedelta(minutes=5)
    response = client.post(url, data={"proposals": [str(world.ids["pG"])], "version": version})
    assert response.status_code in (200, 302)
    expected = {world.ids["pG"]} if response.status_code == 302 else {world.ids["pA"]}
    assert ballot_of(app, "GM0344", a) == expected
    # A post without a version (or without anything) is read on its own: here, no approvals.
    app.config["FROZEN_NOW"] = LATER + timedelta(minutes=10)
    assert client.post(url, data={}).status_code == 302
    assert ballot_of(app, "GM0344", a) == set()


@pytest.mark.parametrize("who", ["member", "jan", "organiser"])
def test_only_delegates_vote(app, client, auth, world, who):
    login(auth, world, who)
    url = f"/vraagstukken/{world.clusters['A']}/goedkeuren"
    assert client.get(url).status_code == 403
    assert client.post(url, data={"proposals": [str(world.ids["pA"])]}).status_code == 403
    assert client.get(f"/rondes/{world.slug}/voorselectie/stemmen").status_code == 403
    assert count(app, ApprovalBallot) == 0


def test_voting_is_refused_outside_the_preselection(app, client, auth, world):
    close_preselection_by_hand(client, auth, world)
    login(auth, world, "delegate")
    url = f"/vraagstukken/{world.clusters['A']}/goedkeuren"
    page = text_of(client.get(url))
    assert shown(app, "The peer vote is closed.") in page
    message = refusal(app, lambda: preselection.cast_approvals(
        accounts.find_user_by_email(world.emails["delegate"]),
        db.session.get(Cluster, world.clusters["A"]), [world.ids["pA"]], now=LATER))
    response = client.post(url, data={"proposals": [str(world.ids["pA"])]})
    assert response.status_code == 200
    assert message in text_of(response)
    assert count(app, ApprovalBallot) == 0


# --- the published result ----------------------------------------------------------------------


COMMENT = "Sterk plan voor inwoners."
CONFLICT = "Mijn broer werkt eraan."


@pytest.fixture
def published(app, client, auth, world, outbox):
    """Scores and approvals as in the module's arithmetic, then the preselection closed.

    Cluster A (4 criteria 1–5, jury weight 50%, 3 voting municipalities, 2 finalists):
        pU (Utrecht)    jury 1.00 (Jan 5; Ria recused)   peer 2/2  combined 1.000  rank 1
        pA (Amsterdam)  jury 0.50 (Jan 4, Ria 2)         peer 2/2  combined 0.750  rank 2
        pG (Groningen)  jury 0.50 (Jan 3, Ria 3)         peer 1/2  combined 0.500  rank 3
        pG2 (Groningen) jury 0.25 (Jan 2; Ria conflict)  peer 0/2  combined 0.125  rank 4
    """
    for key, value in (("pU", 5), ("pA", 4), ("pG", 3), ("pG2", 2), ("pB", 4)):
        score(app, world, "jan", key, value, comment=(0, COMMENT) if key == "pA" else None)
    score(app, world, "ria", "pA", 2)
    score(app, world, "ria", "pG", 3)
    declare(app, world, "ria", "pG2", CONFLICT)
    approve(app, world, "delegate", "A", ["pA", "pG"])
    approve(app, world, "amsterdam_delegate", "A", ["pU"])
    approve(app, world, "groningen_delegate", "A", ["pU", "pA"])
    before = len(outbox)
    close_preselection_by_hand(client, auth, world)
    assert round_phase(app, world.round_id) is Phase.DEVELOPMENT
    world.mails = outbox.messages[before:]
    return world


def ranking_rows(page: str) -> dict[str, list[str]]:
    """The ranking table: {proposal title: [rank, jury, approvals, peer, combined, outcome]}."""
    table = page[page.index('id="ranking-caption"'):]
    table = table[:table.index("</table>")]
    rows = {}
    for row in re.findall(r"<tr class=\"utrecht-table__row[^\"]*\">(.*?)</tr>", table, re.S):
        title = re.search(r'<a class="utrecht-link" href="#proposal-\d+">([^<]*)</a>', row)
        if title is None:
            continue  # the header
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        outcome = re.sub(r"<br>.*", "", cells[-1], flags=re.S)
        rows[title.group(1)] = [re.sub(r"<[^>]+>", "", c).strip() for c in cells[:-1]] + [
            re.sub(r"<[^>]+>", "", outcome).strip()]
    return rows


def cluster_page(client, world, key: str = "A") -> str:
    response = client.get(f"/vraagstukken/{world.clusters[key]}/voorselectie")
    assert response.status_code == 200
    return text_of(response)


def test_the_overview_lists_the_finalists(app, client, published):
    world = published
    response = client.get(f"/rondes/{world.slug}/voorselectie")
    assert response.status_code == 200
    page = text_of(response)
    for key in ("pU", "pA", "pB"):
        assert TITLES[key] in page
    for key in ("pG", "pG2"):
        assert TITLES[key] not in page
    a = page.index('id="c{}-title"'.format(world.clusters["A"]))
    b = page.index('id="c{}-title"'.format(world.clusters["B"]))
    section_a = page[a:b] if a < b else page[a:]
    assert TITLES["pU"] in section_a and TITLES["pA"] in section_a
    assert TITLES["pB"] not in section_a
    assert shown(app, "rank %(rank)d", rank=1) in page
    assert {d.is_finalist for d in (decision(app, world.ids[k]) for k in ("pU", "pA", "pB"))} \
        == {True}


def test_the_cluster_page_shows_the_reasoning(app, client, published):
    world = published
    page = cluster_page(client, world)
    rows = ranking_rows(page)
    assert list(rows) == [TITLES[k] for k in ("pU", "pA", "pG", "pG2")]
    finalist, not_selected = shown(app, "Finalist"), shown(app, "Not selected")
    for key, rank, jury, approvals, peer, combined in (
            ("pU", 1, "1,000", 2, "1,000", "1,000"), ("pA", 2, "0,500", 2, "1,000", "0,750"),
            ("pG", 3, "0,500", 1, "0,500", "0,500"), ("pG2", 4, "0,250", 0, "0,000", "0,125")):
        outcome = finalist if rank <= 2 else not_selected
        assert rows[TITLES[key]] == [str(rank), jury, shown(app, "%(n)d of %(m)d", n=approvals,
                                                            m=2), peer, combined, outcome]
        d = decision(app, world.ids[key])
        assert (d.rank, d.is_finalist, d.approvals, d.eligible) == (rank, rank <= 2, approvals, 2)
        assert d.combined == pytest.approx(float(combined.replace(",", ".")))
    assert shown_plural(app, "%(num)d municipality could vote.",
                        "%(num)d municipalities could vote.", 3) in page

    # Per criterion: the jurors' scores (Jan 4, Ria 2 on pA) and their mean.
    section = page[page.index(f'id="proposal-{world.ids["pA"]}"'):]
    section = section[:section.index("</section>")]
    assert shown(app, "Juror %(num)d", num=1) in section
    assert shown(app, "Juror %(num)d", num=2) in section
    assert "3,00" in section  # the mean of 4 and 2
    assert re.search(r">\s*4\s*</td>", section) and re.search(r">\s*2\s*</td>", section)
    assert COMMENT in section

    # Recusals: automatic (Ria is from Utrecht) and declared, with the reason.
    section = page[page.index(f'id="proposal-{world.ids["pU"]}"'):]
    section = section[:section.index("</section>")]
    assert shown(app, "Juror %(num)d", num=2) + ": " + shown(
        app, "recused, because the juror’s municipality is involved in this proposal") in section
    section = page[page.index(f'id="proposal-{world.ids["pG2"]}"'):]
    section = section[:section.index("</section>")]
    assert shown(app, "recused after declaring a conflict of interest: %(reason)s",
                 reason=CONFLICT) in section

    # Names are not published (the round's rule), labels are.
    for name in NAMES.values():
        assert name not in page

    # Cluster B: one proposal, everybody through; Kees did not submit.
    page_b = cluster_page(client, world, "B")
    assert TITLES["pB"] in page_b
    assert shown(app, "Juror %(num)d", num=3) + ": " + shown(
        app, "did not submit a scorecard") in page_b


def test_juror_names_are_shown_when_the_rules_say_so(app, client, published):
    world = published

    def publish_names():
        db.session.get(Round, world.round_id).are_juror_names_public = True
        db.session.commit()
    in_app(app, publish_names)
    page = cluster_page(client, world)
    assert NAMES["jan"] in page and NAMES["ria"] in page
    assert shown(app, "Juror %(num)d", num=1) not in page


def test_teams_are_mailed_the_result(app, published):
    world = published
    recipients = sorted(m.to[0] for m in published.mails)
    # Every proposal's team (members and delegates of the owner), one mail per proposal.
    expected = []
    for key in TITLES:
        owner = OWNERS[key]
        if owner == "member":
            expected += [world.emails["member"], world.emails["delegate"]]
        elif owner == "other_member":
            expected += [world.emails["other_member"], world.emails["amsterdam_delegate"]]
        else:
            expected += [world.emails["groningen_member"], world.emails["groningen_delegate"]]
    assert recipients == sorted(expected)
    to_utrecht = [m for m in published.mails if m.to == [world.emails["member"]]]
    assert len(to_utrecht) == 1 and TITLES["pU"] in to_utrecht[0].subject
    assert f"/vraagstukken/{world.clusters['A']}/voorselectie" in to_utrecht[0].body
    assert count(app, OutboxMail, OutboxMail.sent_at.is_(None)) == 0


def test_organiser_overrides_a_decision_with_a_public_reason(app, client, auth, published,
                                                             outbox):
    world = published
    pid = world.ids["pG"]
    login(auth, world, "organiser")
    page = cluster_page(client, world)
    assert f"/beheer/voorstellen/{pid}/finalist" in page

    # Too short a reason: refused, nothing changes.
    response = client.post(f"/beheer/voorstellen/{pid}/finalist",
                           data={"make_finalist": "1", "reason": "kort"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"#proposal-{pid}")
    assert "oc-flashes" in text_of(follow(client, response))
    assert decision(app, pid).is_finalist is False
    response = client.post(f"/beheer/voorstellen/{pid}/finalist",
                           data={"make_finalist": "1", "reason": "    kort      "})
    assert decision(app, pid).is_finalist is False

    # A proper reason: the outcome flips, the reason is public, the team is told.
    reason = "De samenwerking met twee regio's weegt voor ons zwaarder dan de score."
    before = len(outbox)
    response = client.post(f"/beheer/voorstellen/{pid}/finalist",
                           data={"make_finalist": "1", "reason": reason})
    assert response.status_code == 302
    d = decision(app, pid)
    assert d.is_finalist is True and d.is_computed_finalist is False
    assert d.override_reason == reason
    assert {m.to[0] for m in outbox.messages[before:]} == {
        world.emails["groningen_member"], world.emails["groningen_delegate"]}
    auth.logout()
    page = cluster_page(client, world)
    assert str(escape(reason)) in page
    assert shown(app, "The organisers made this proposal a finalist.") in page
    overview = text_of(client.get(f"/rondes/{world.slug}/voorselectie"))
    assert TITLES["pG"] in overview

    # Flipping it again the same way is refused.
    login(auth, world, "organiser")
    response = client.post(f"/beheer/voorstellen/{pid}/finalist",
                           data={"make_finalist": "1", "reason": reason})
    assert shown(app, "The proposal already is a finalist.") in text_of(
        follow(client, response))
    # And back, with a reason.
    response = client.post(f"/beheer/voorstellen/{pid}/finalist",
                           data={"make_finalist": "0", "reason": "Toch niet: zie het verslag."})
    assert decision(app, pid).is_finalist is False


@pytest.mark.parametrize("who", ["delegate", "member", "jan", None])
def test_only_organisers_override(app, client, auth, published, who):
    world = published
    if who:
        login(auth, world, who)
    response = client.post(f"/beheer/voorstellen/{world.ids['pG']}/finalist",
                           data={"make_finalist": "1", "reason": "Omdat het zo hoort, echt."})
    if who:
        assert response.status_code == 403
    else:
        assert "/inloggen" in response.headers["Location"]
    assert decision(app, world.ids["pG"]).is_finalist is False


def test_malformed_override_is_refused(app, client, auth, published):
    world = published
    login(auth, world, "organiser")
    pid = world.ids["pG"]
    for data in ({"make_finalist": "ja", "reason": "Een goede reden hiervoor."},
                 {"reason": "Een goede reden hiervoor."},
                 {"make_finalist": "1", "reason": "x" * 2001}):
        assert client.post(f"/beheer/voorstellen/{pid}/finalist", data=data).status_code == 302
        assert decision(app, pid).is_finalist is False
    assert client.post("/beheer/voorstellen/999999/finalist",
                       data={"make_finalist": "1", "reason": "Een goede reden."}
                       ).status_code == 404


def test_results_before_the_end_are_not_shown(app, client, world):
    response = client.get(f"/vraagstukken/{world.clusters['A']}/voorselectie")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/rondes/{world.slug}/voorselectie")
    page = text_of(client.get(f"/rondes/{world.slug}/voorselectie"))
    assert TITLES["pU"] not in page
    assert count(app, FinalistDecision) == 0


def test_the_result_in_english(app, client, published):
    world = published
    response = client.post("/taal", data={"lang": "en", "next": "/"})
    assert response.status_code == 302
    page = cluster_page(client, world)
    assert 'lang="en"' in page
    for label in ("Rank", "Jury score", "Approvals", "Peer score", "Combined", "Finalist",
                  "Not selected", "Jury scores per criterion", "Juror 1", "Juror 2",
                  "recused, because the juror’s municipality is involved in this proposal",
                  "Reusability by other municipalities"):
        assert str(escape(label)) in page, label
    assert "0.750" in page and "0.125" in page
    overview = text_of(client.get(f"/rondes/{world.slug}/voorselectie"))
    assert "Finalists per vraagstuk" in overview and "rank 1" in overview
