"""Finding proposals: Dutch full-text search, filters, sorting, pagination, similar proposals."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from competition.engine.text import query_terms, search_document, stems
from competition.extensions import db
from competition.models import Municipality, Proposal, Role, WithdrawalKind
from competition.services import proposals
from tests.conftest import NOW, make_user
from tests.proposal_helpers import make_world

HOUR = timedelta(hours=1)


def test_dutch_stemming():
    assert stems("paspoorten") == stems("paspoort")
    assert stems("aanvragen") == stems("aanvraag")
    assert stems("vergunningen") == stems("vergunning")
    assert stems("gemeenten") == stems("gemeente")
    assert stems("Financiële") == stems("financiele")
    assert query_terms("de paspoorten en het paspoort") == ["paspoort"]
    assert search_document("Paspoort", "aanvragen") == " paspoort aanvrag "
    assert search_document("", "") == ""


def build(world):
    """Proposals of three municipalities in one round (returned by short name)."""
    ms = {m.code: m for m in db.session.scalars(select(Municipality))}
    groningen = make_user("lid@groningen.example", Role.MEMBER, municipality=ms["GM0014"])
    world.user_ids["groningen"] = groningen.id
    made = {}
    made["paspoort"] = world.propose(
        title="Paspoort online aanvragen", summary="Inwoners regelen het thuis.",
        description="Koppeling met DigiD.", domain_id=1, now=NOW)
    made["parkeren"] = world.propose(
        "other_member", title="Aanvraag parkeervergunning digitaal",
        summary="Bewoners vragen een vergunning aan.",
        description="Net zo makkelijk als paspoorten bestellen.", domain_id=2, now=NOW + HOUR)
    made["afval"] = world.propose(
        "groningen", title="Zwerfafval melden met foto's", summary="Een melding in één klik.",
        description="Meldingen komen direct bij de buitendienst.", domain_id=6,
        now=NOW + 2 * HOUR)
    made["wet"] = world.propose(
        title="Omgevingswet loket vernieuwen", summary="Een beter loket voor de wet.",
        description="Vergunningcheck.", domain_id=3, now=NOW + 3 * HOUR)
    made["draft"] = world.propose(submit=False, title="Geheim paspoort concept voorstel",
                                  summary="Paspoort aanvragen, nog niet af.")
    made["withdrawn"] = world.propose(
        "other_member", title="Paspoortbalie sluiten in de avond", domain_id=1,
        description="Minder openingsuren.", now=NOW + 4 * HOUR)
    proposals.withdraw_proposal(world.user("other_member"), made["withdrawn"],
                                kind=WithdrawalKind.CANCELLED, reason="Gaat niet door.",
                                duplicate_of_id=None, now=NOW + 5 * HOUR)
    # Groningen co-submits the passport proposal; interest makes "parkeren" the most wanted.
    request = proposals.request_cosubmission(world.user("groningen"), made["paspoort"], "",
                                             now=NOW)
    proposals.decide_cosubmission(world.user("member"), request, True, now=NOW)
    proposals.set_interest(world.user("member"), made["parkeren"], True, now=NOW)
    proposals.set_interest(world.user("groningen"), made["parkeren"], True, now=NOW)
    proposals.set_interest(world.user("other_member"), made["wet"], True, now=NOW)
    db.session.commit()
    return {k: v.id for k, v in made.items()}


@pytest.fixture
def service_world(ctx, people):
    world = make_world(people)
    ids = build(world)
    return world, ids


def found(world, **filters) -> list[int]:
    stmt = proposals.search_query(world.round, proposals.ProposalFilters(**filters))
    return [p.id for p in db.session.scalars(stmt)]


def test_full_text_search_with_stemming(service_world):
    world, ids = service_world
    assert set(found(world, q="paspoorten")) == {ids["paspoort"], ids["parkeren"],
                                                 ids["withdrawn"]}
    assert set(found(world, q="paspoort")) == set(found(world, q="paspoorten"))
    assert set(found(world, q="aanvragen")) == {ids["paspoort"], ids["parkeren"]}
    assert set(found(world, q="aanvraag")) == {ids["paspoort"], ids["parkeren"]}
    assert found(world, q="DIGID") == [ids["paspoort"]]  # description, any case
    assert found(world, q="meldingen") == [ids["afval"]]
    assert found(world, q="melding buitendienst") == [ids["afval"]]  # every word must match
    assert found(world, q="paspoort buitendienst") == []
    assert found(world, q="klikken") == [ids["afval"]]
    assert found(world, q="een") != []  # a stop word alone filters nothing
    assert found(world, q="%") == found(world)  # no LIKE wildcards from users
    assert found(world, q="_a_") == found(world)  # nothing searchable in it
    assert ids["draft"] not in found(world) and ids["draft"] not in found(world, q="geheim")


def test_short_terms_match_whole_stems_only(service_world):
    world, ids = service_world
    assert found(world, q="wet") == [ids["wet"]]  # not "omgevingswet" elsewhere by accident


def test_filters(service_world):
    world, ids = service_world
    assert set(found(world, domain_id=1)) == {ids["paspoort"], ids["withdrawn"]}
    assert set(found(world, municipality_code="GM0344")) == {ids["paspoort"], ids["wet"]}
    # A co-submitter's proposals are its own too.
    assert set(found(world, municipality_code="GM0014")) == {ids["afval"], ids["paspoort"]}
    assert set(found(world, province="Noord-Holland")) == {ids["parkeren"], ids["withdrawn"]}
    assert found(world, status="withdrawn") == [ids["withdrawn"]]
    assert ids["withdrawn"] not in found(world, status="submitted")
    assert found(world, q="paspoort", status="submitted", domain_id=1) == [ids["paspoort"]]
    assert found(world, municipality_code="GM9999") == []
    assert found(world, municipality_code="GM\x00") == []
    assert set(found(world, domain_id=10**30)) == set(found(world))


def test_sorting(service_world):
    world, ids = service_world
    published = ["withdrawn", "wet", "afval", "parkeren", "paspoort"]  # newest first
    assert found(world) == [ids[k] for k in published]
    assert found(world, sort="interest")[:2] == [ids["parkeren"], ids["wet"]]
    titles = [db.session.get(Proposal, i).title.lower() for i in found(world, sort="title")]
    assert titles == sorted(titles)
    assert found(world, sort="nonsense") == found(world)


# --- HTTP --------------------------------------------------------------------------------------


@pytest.fixture
def site(app, people):
    app.config["FROZEN_NOW"] = NOW + timedelta(days=1)
    with app.app_context():
        world = make_world(people)
        ids = build(world)
        titles = {k: db.session.get(Proposal, v).title for k, v in ids.items()}
        return {"slug": world.round.slug, "ids": ids, "titles": titles, "world": world}


def listed(client, round_slug, **params) -> list[int]:
    response = client.get(f"/rondes/{round_slug}/voorstellen", query_string=params)
    assert response.status_code == 200, params
    return [int(i) for i in re.findall(r'<h2 class="utrecht-heading-3"><a class="utrecht-link" '
                                       r'href="/voorstellen/(\d+)"', response.get_data(True))]


def test_public_list_over_http(client, auth, people, site):
    ids, slug = site["ids"], site["slug"]
    assert listed(client, slug) == [ids[k] for k in
                                    ("withdrawn", "wet", "afval", "parkeren", "paspoort")]
    assert set(listed(client, slug, q="paspoorten")) == {ids["paspoort"], ids["parkeren"],
                                                         ids["withdrawn"]}
    assert set(listed(client, slug, q="aanvragen")) == {ids["paspoort"], ids["parkeren"]}
    assert set(listed(client, slug, municipality="GM0014")) == {ids["afval"], ids["paspoort"]}
    assert set(listed(client, slug, domain="1")) == {ids["paspoort"], ids["withdrawn"]}
    assert set(listed(client, slug, province="Groningen")) == {ids["afval"]}
    assert listed(client, slug, status="withdrawn") == [ids["withdrawn"]]
    assert listed(client, slug, sort="interest")[0] == ids["parkeren"]
    page = client.get(f"/rondes/{slug}/voorstellen").get_data(as_text=True)
    assert site["titles"]["draft"] not in page
    # Logged in as its team, the draft is under "own proposals" but not in the public list.
    auth.login(people["member"])
    page = client.get(f"/rondes/{slug}/voorstellen").get_data(as_text=True)
    assert site["titles"]["draft"] in page
    assert ids["draft"] not in listed(client, slug)


def test_bad_filter_values_never_break_the_list(client, site):
    ids, slug = site["ids"], site["slug"]
    everything = listed(client, slug)
    for params in ({"domain": "abc"}, {"domain": "99999"}, {"domain": str(10**30)},
                   {"municipality": "GM9999"}, {"province": "Atlantis"}, {"status": "draft"},
                   {"sort": "random"}, {"q": "x" * 5000}, {"q": "<>!?"},
                   {"municipality": "<b>"}, {"page": "abc"}, {"per_page": "-5"},
                   {"slug": "iets-anders"}, {"_external": "1", "_scheme": "javascript"},
                   {"_anchor": "x", "_method": "POST"}):
        assert set(listed(client, slug, **params)) == set(everything), params
    # One bad value does not throw the other filters away.
    assert listed(client, slug, q="meldingen", domain="abc") == [ids["afval"]]
    for page in ("0", "-1", "99", str(10**20)):
        assert client.get(f"/rondes/{slug}/voorstellen?page={page}").status_code == 404
    assert client.get("/rondes/bestaat-niet/voorstellen").status_code == 404
    # NUL characters are refused for the whole site (400), never a server error.
    assert client.get(f"/rondes/{slug}/voorstellen?q=%00").status_code == 400


def test_pagination(app, client, site):
    world = site["world"]
    with app.app_context():
        for i in range(20):
            world.propose(title=f"Extra voorstel nummer {i:02d} voor de lijst",
                          now=NOW + timedelta(hours=10 + i))
        db.session.commit()
    first = listed(client, site["slug"])
    second = listed(client, site["slug"], page="2")
    assert len(first) == 20 and len(second) == 5
    assert not set(first) & set(second)
    page = client.get(f"/rondes/{site['slug']}/voorstellen?sort=title&slug=x&_external=1"
                      "&_scheme=javascript").get_data(as_text=True)
    links = re.findall(r'href="([^"]*page=2[^"]*)"', page)
    assert links and all(link.startswith(f"/rondes/{site['slug']}/voorstellen?")
                         and "sort=title" in link for link in links)
    assert "javascript" not in " ".join(links)
    assert listed(client, site["slug"], sort="title", page="2") == sorted(
        second + first, key=lambda i: _title(app, i).lower())[20:]
    assert client.get(f"/rondes/{site['slug']}/voorstellen?page=3").status_code == 404


def _title(app, proposal_id: int) -> str:
    with app.app_context():
        return db.session.get(Proposal, proposal_id).title


def test_similar_fragment(client, site):
    ids, slug = site["ids"], site["slug"]
    response = client.get(f"/rondes/{slug}/voorstellen/vergelijkbaar",
                          query_string={"title": "Paspoort aanvragen via internet",
                                        "summary": "Inwoners vragen hun paspoort online aan."})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    shown = [int(i) for i in re.findall(r'href="/voorstellen/(\d+)"', body)]
    assert 1 <= len(shown) <= 5
    assert shown[0] == ids["paspoort"]
    assert ids["draft"] not in shown and ids["withdrawn"] not in shown
    assert "<html" not in body  # a fragment, not a page
    nothing = client.get(f"/rondes/{slug}/voorstellen/vergelijkbaar?title=&summary=")
    assert nothing.status_code == 200
    assert not re.findall(r'href="/voorstellen/(\d+)"', nothing.get_data(as_text=True))
    for query in ("title=" + "x" * 100_000, "exclude=abc&title=paspoort",
                  f"exclude={ids['paspoort']}&title=Paspoort online aanvragen",
                  "title=%3Cscript%3Epaspoort"):
        response = client.get(f"/rondes/{slug}/voorstellen/vergelijkbaar?{query}")
        assert response.status_code == 200, query
    excluded = client.get(f"/rondes/{slug}/voorstellen/vergelijkbaar",
                          query_string={"title": "Paspoort online aanvragen",
                                        "exclude": ids["paspoort"]}).get_data(as_text=True)
    assert f'href="/voorstellen/{ids["paspoort"]}"' not in excluded


def test_similar_fragment_is_ordered_best_first_and_capped(app, client, site):
    world, slug = site["world"], site["slug"]
    with app.app_context():
        for i, extra in enumerate(["balie", "afspraak", "bezorging", "spoed", "kinderen",
                                   "verlengen", "verloren"]):
            world.propose(title=f"Paspoort {extra} online regelen",
                          summary=f"Paspoort aanvragen: {extra}.", now=NOW + timedelta(hours=i))
        db.session.commit()
        expected = [p.id for p, _ in proposals.similar_proposals(
            world.round, "Paspoort aanvragen. Paspoort online regelen.")]
    body = client.get(f"/rondes/{slug}/voorstellen/vergelijkbaar",
                      query_string={"title": "Paspoort aanvragen",
                                    "summary": "Paspoort online regelen."}).get_data(True)
    shown = [int(i) for i in re.findall(r'href="/voorstellen/(\d+)"', body)]
    assert len(shown) == 5 and shown == expected


def test_new_form_without_javascript_shows_similar(app, client, auth, people, site):
    auth.login(people["delegate"])
    data = {"title": "Paspoort aanvragen via internet", "summary": "Paspoort online aanvragen.",
            "action": "similar"}
    response = client.post(f"/rondes/{site['slug']}/voorstellen/nieuw", data=data)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert f'href="/voorstellen/{site["ids"]["paspoort"]}"' in body
    assert site["titles"]["paspoort"] in body
    # Only looked: nothing was saved; the typed text is still in the form.
    with app.app_context():
        assert db.session.scalar(select(Proposal.id).where(
            Proposal.title == data["title"])) is None
    assert 'value="Paspoort aanvragen via internet"' in body
    # Also when the rest of the form is incomplete or invalid.
    response = client.post(f"/rondes/{site['slug']}/voorstellen/nieuw",
                           data={**data, "estimated_cost": "veel", "planned_start": "morgen"})
    assert response.status_code == 200
    assert f'href="/voorstellen/{site["ids"]["paspoort"]}"' in response.get_data(as_text=True)


def test_filter_by_vraagstuk(app, client, people):
    """Only proposals in the chosen confirmed cluster are listed; junk values are ignored."""
    from datetime import date, timedelta

    from competition.extensions import db
    from competition.models import Cluster, ClusterMember
    from competition.services import accounts, proposals, rounds
    from tests.conftest import NOW

    with app.app_context():
        organiser = accounts.find_user_by_email(people["organiser"])
        rnd = rounds.create_round(organiser, rounds.RoundData(title="Ronde met clusters",
                                                              theme="Thema"),
                                  rounds.default_schedule(NOW + timedelta(days=1)), now=NOW)
        rounds.close_phase(rnd, rnd.current_phase, actor=organiser, now=NOW)
        member = accounts.find_user_by_email(people["member"])
        titles = ["Paspoort digitaal aanvragen", "Chatbot voor inwonersvragen"]
        made = [proposals.create_proposal(member, rnd, proposals.ProposalData(
            title=t, summary="s", description="d", problem="p", domain_id=1,
            planned_start=date(2027, 9, 1), contact_name="Sanne",
            contact_email="sanne@utrecht.example"), submit=True, now=NOW) for t in titles]
        cluster = Cluster(round_id=rnd.id, label="Reisdocumenten", created_at=NOW,
                          updated_at=NOW, is_confirmed=True)
        cluster.members.append(ClusterMember(proposal_id=made[0].id, added_at=NOW))
        db.session.add(cluster)
        db.session.commit()
        slug, cluster_id = rnd.slug, cluster.id
    html = client.get(f"/rondes/{slug}/voorstellen?cluster={cluster_id}").get_data(as_text=True)
    assert titles[0] in html and titles[1] not in html
    for junk in ("abc", "99999999999999999999999"):
        html = client.get(f"/rondes/{slug}/voorstellen?cluster={junk}").get_data(as_text=True)
        assert titles[0] in html and titles[1] in html
