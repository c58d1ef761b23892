"""One full competition round, end to end, through the pages of the app in headless Chromium.

The starting state is what an installation has on day one: the 342 municipalities imported and
one organiser account. Everything after that happens in the browser, through the real forms
with CSRF protection on, each person in a browser of their own:

1. The organiser logs in, creates a round with its schedule and invites a member and a
   delegate of Utrecht, Zwolle and Groningen and two jurors; each opens the link from the
   invitation mail and chooses a password.
2. The organiser opens submission ("close phase now" in the round's control room); the three
   members submit similar proposals (digital parking permits).
3. The organiser closes submission, has the clusters suggested (the job worker runs them, as
   `flask competition worker` would), renames the one cluster and confirms it.
4. The organiser opens the preselection and assigns both jurors; the jurors fill in their
   scorecards, the delegates approve proposals of other municipalities, the organiser closes
   the phase and the finalists are published.
5. The team of a finalist posts a progress update and its cost and licence statement.
6. The organiser opens the final vote; the delegates rank the finalists; the organiser closes it.
7. Anyone sees the result, the vraagstuk's full count and the new standard; a delegate finds
   its ballot counted with its receipt code.
8. The organiser opens the adoption phase and a municipality records that it adopted the
   standard.

Every page visited is checked with axe (WCAG 2.1 A/AA plus the structure rules, as in
tests/test_accessibility.py) at desktop width; the problems are reported together at the end.
Each page gets a numbered full-page screenshot in tests/artifacts/journey/, and when
JOURNEY_SCREENSHOTS names a directory, a 1280x800 viewport screenshot there as well (for the
README's images).
"""

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask_babel import force_locale
from sqlalchemy import func, select

from competition.admin.forms import SCHEDULED_PHASES
from competition.extensions import db
from competition.models import (
    Adoption,
    Cluster,
    FinalistDecision,
    Invitation,
    Municipality,
    Phase,
    Proposal,
    Role,
    Round,
    Standard,
)
from competition.models.types import utcnow
from competition.services import adoption, jobs, municipalities
from competition.services.rounds import phase_label
from tests.browser import ARTIFACTS, Auditor, Server, log_in, serve
from tests.conftest import PASSWORD, Outbox, make_user

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1280, "height": 800}
SHOTS = ARTIFACTS / "journey"
LOCAL_TZ = ZoneInfo("Europe/Amsterdam")
LOCALE = "nl"
NEW_PASSWORD = "een zin van vier woorden"
ROUND_TITLE = "Slimme dienstverlening 2027"
CLUSTER_NAME = "Digitale parkeervergunning"


@dataclass(frozen=True)
class Person:
    key: str
    name: str
    email: str
    municipality: str = ""  # as the invitation form lists it: "name (province)"
    role: Role | None = None


ORGANISER = Person("organiser", "Olga Organisator", "olga@organisatie.example")
PEOPLE = [
    Person("utrecht-member", "Mila de Vries", "mila@utrecht.example", "Utrecht (Utrecht)",
           Role.MEMBER),
    Person("utrecht-delegate", "Daan Jansen", "daan@utrecht.example", "Utrecht (Utrecht)",
           Role.DELEGATE),
    Person("zwolle-member", "Sanne Bakker", "sanne@zwolle.example", "Zwolle (Overijssel)",
           Role.MEMBER),
    Person("zwolle-delegate", "Pieter Visser", "pieter@zwolle.example", "Zwolle (Overijssel)",
           Role.DELEGATE),
    Person("groningen-member", "Fleur Smit", "fleur@groningen.example", "Groningen (Groningen)",
           Role.MEMBER),
    Person("groningen-delegate", "Joost Mulder", "joost@groningen.example",
           "Groningen (Groningen)", Role.DELEGATE),
    Person("juror-anna", "Anna Dekker", "anna@jury.example", role=Role.JURY),
    Person("juror-karim", "Karim El Amrani", "karim@jury.example", role=Role.JURY),
]
BY_KEY = {p.key: p for p in [ORGANISER, *PEOPLE]}
DELEGATES = [p.key for p in PEOPLE if p.role is Role.DELEGATE]
JURORS = [p.key for p in PEOPLE if p.role is Role.JURY]

# Three proposals with the same intent, so that clustering puts them together.
PROPOSALS = {
    "utrecht-member": {
        "title": "Digitale parkeervergunning voor bewoners",
        "summary": "Bewoners vragen hun parkeervergunning online aan en regelen "
                   "bezoekersparkeren zelf.",
        "problem": "Bewoners staan nu in de rij bij het loket voor een parkeervergunning.",
        "description": "Een webapplicatie waarmee bewoners een parkeervergunning digitaal "
                       "aanvragen, verlengen en hun bezoekers aanmelden.",
    },
    "zwolle-member": {
        "title": "Parkeervergunning online aanvragen",
        "summary": "Een online loket voor de parkeervergunning en bezoekersvergunning van "
                   "bewoners.",
        "problem": "De papieren aanvraag van een parkeervergunning kost bewoners en de "
                   "gemeente veel tijd.",
        "description": "Bewoners vragen de parkeervergunning online aan; bezoekers parkeren "
                       "met een digitale bezoekersregeling.",
    },
    "groningen-member": {
        "title": "Bezoekersparkeren en parkeervergunningen digitaal",
        "summary": "Parkeervergunningen en bezoekersparkeren voor bewoners volledig digitaal "
                   "regelen.",
        "problem": "Bezoekerskaarten op papier raken kwijt en worden misbruikt.",
        "description": "Een app voor bewoners om parkeervergunningen aan te vragen en bezoekers "
                       "te laten parkeren.",
    },
}
TITLE = {key: p["title"] for key, p in PROPOSALS.items()}
# Jury scores per proposal (the same on every criterion): Utrecht's plan scores best.
JURY_SCORES = {"utrecht-member": 5, "zwolle-member": 4, "groningen-member": 2}
# What each delegate approves in the peer vote (never its own municipality's proposal).
APPROVALS = {
    "utrecht-delegate": ["zwolle-member"],
    "zwolle-delegate": ["utrecht-member"],
    "groningen-delegate": ["utrecht-member", "zwolle-member"],
}
FINALISTS = ["utrecht-member", "zwolle-member"]  # the round allows two per cluster
# The final vote: two of the three municipalities put Utrecht's plan first.
RANKINGS = {
    "utrecht-delegate": ["utrecht-member", "zwolle-member"],
    "zwolle-delegate": ["zwolle-member", "utrecht-member"],
    "groningen-delegate": ["utrecht-member", "zwolle-member"],
}
WINNER = "utrecht-member"
UPDATE_TITLE = "Eerste versie staat in de testomgeving"


@pytest.fixture
def app_config() -> dict:
    """Real forms in a real browser: CSRF protection on, as in production."""
    return {"WTF_CSRF_ENABLED": True}


@pytest.fixture
def day_one(app: Flask) -> Iterator[Server]:
    """A new installation: every municipality imported and one organiser; served on a port."""
    with app.app_context():
        municipalities.import_bundled(now=utcnow())
        make_user(ORGANISER.email, Role.ORGANISER, name=ORGANISER.name)
        db.session.commit()
        db.session.remove()
    with serve(app) as server:
        yield server


# --- helpers -----------------------------------------------------------------------------------


class JourneyAuditor(Auditor):
    """The accessibility auditor at one desktop viewport, with numbered screenshots."""

    def __init__(self) -> None:
        super().__init__(None, LOCALE, report_name="journey", viewports=((VIEWPORT, ""),))
        self.extra = Path(os.environ["JOURNEY_SCREENSHOTS"]) if os.environ.get(
            "JOURNEY_SCREENSHOTS") else None
        SHOTS.mkdir(parents=True, exist_ok=True)
        for old in SHOTS.glob("*.png"):
            old.unlink()
        if self.extra:
            self.extra.mkdir(parents=True, exist_ok=True)

    def screenshot(self, page, name: str) -> None:
        """tests/artifacts/journey/NN-name.png (full page), and the viewport in
        $JOURNEY_SCREENSHOTS when set."""
        filename = f"{len(self.seen):03d}-{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
        page.screenshot(path=str(SHOTS / filename), full_page=True)
        if self.extra:
            page.screenshot(path=str(self.extra / filename))


class Journey:
    """The people of the round, each with a browser of their own, and the audit of every page
    any of them sees."""

    def __init__(self, browser, app: Flask, server: Server, outbox: Outbox) -> None:
        self.browser, self.app, self.server, self.outbox = browser, app, server, outbox
        self.audit = JourneyAuditor()
        self.contexts: dict[str, object] = {}
        self.pages: dict[str, object] = {}
        self.slug = ""

    def page(self, who: str):
        """The browser tab of `who` (opened on first use)."""
        if who not in self.pages:
            context = self.browser.new_context(bypass_csp=True, viewport=VIEWPORT, locale=LOCALE)
            self.contexts[who] = context
            self.pages[who] = context.new_page()
        return self.pages[who]

    def close(self) -> None:
        """Close every browser."""
        for context in self.contexts.values():
            context.close()

    def check(self, who: str, name: str) -> None:
        """Audit what `who` sees now."""
        self.audit.check(f"{who}-{name}", page=self.page(who))

    def visit(self, who: str, name: str, path: str):
        """`who` opens `path`; the page is audited and returned."""
        page = self.page(who)
        response = page.goto(self.server.url(path))
        self.audit.check(f"{who}-{name}", expect_status=200,
                         status=response.status if response else None, page=page)
        return page

    def follow(self, who: str, name: str, locator):
        """`who` clicks a link or button that loads a new page; it is audited and returned."""
        page = self.page(who)
        with page.expect_navigation():
            locator.click()
        page.wait_for_load_state()
        self.check(who, name)
        errors = page.locator("#error-summary")
        assert not errors.count(), f"{who}-{name}: {errors.inner_text()}"
        return page

    def db(self, fn):
        """Run `fn` in an app context (direct database reads for assertions)."""
        with self.app.app_context():
            try:
                return fn()
            finally:
                db.session.remove()

    def label(self, fn, *args) -> str:
        """A label as the Dutch pages show it (e.g. a phase name)."""
        with self.app.test_request_context(), force_locale(LOCALE):
            return str(fn(*args))

    def phase(self) -> Phase:
        """The round's phase, as stored."""
        return self.db(lambda: db.session.scalar(
            select(Round).where(Round.slug == self.slug)).current_phase)

    def close_phase(self, reason: str) -> None:
        """The organiser presses "close phase now" in the round's control room."""
        before = self.phase()
        self.visit("organiser", f"control-room-{before.value}", f"/beheer/rondes/{self.slug}")
        page = self.page("organiser")
        form = page.locator(f"form[action='/beheer/rondes/{self.slug}/fase/{before.value}"
                            "/sluiten']")
        form.locator("input[name=reason]").fill(reason)
        self.follow("organiser", f"opened-{before.next.value}",
                    form.locator("button[type=submit]"))
        assert self.phase() is before.next, page.locator("main").inner_text()
        now_row = page.locator("tr[aria-current=step] th").inner_text()
        assert self.label(phase_label, before.next) in now_row

    def invitation_path(self, email: str) -> str:
        """The link in the invitation mail sent to `email` (the newest one)."""
        for message in reversed(self.outbox.messages):
            if email in message.to:
                match = re.search(r"https?://[^\s/]+(/uitnodiging/\S+)", message.body)
                assert match, message.body
                return match.group(1)
        raise AssertionError(f"no invitation mail to {email}")



@contextmanager
def job_worker(app: Flask) -> Iterator[None]:
    """The background job worker, in a thread (production runs `flask competition worker`)."""
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            with app.app_context():
                while jobs.run_one() is not None:
                    pass
            stop.wait(0.2)

    thread = threading.Thread(target=work, name="journey-job-worker", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def _schedule(now: datetime) -> dict[str, str]:
    """Planned phase ends, Dutch time, as the form's datetime-local fields take them: the
    draft ends tomorrow at 9:00, every later phase two weeks after the one before."""
    moment = datetime.combine(now.astimezone(LOCAL_TZ).date() + timedelta(days=1), time(9, 0))
    ends = {}
    for phase in SCHEDULED_PHASES:
        ends[f"end_{phase.value}"] = moment.strftime("%Y-%m-%dT%H:%M")
        moment += timedelta(weeks=2)
    return ends


# --- the journey -------------------------------------------------------------------------------


def test_a_whole_round_through_the_browser(browser, app: Flask, day_one: Server,
                                           outbox: Outbox) -> None:
    """From an empty installation to a standard that a municipality adopted."""
    journey = Journey(browser, app, day_one, outbox)
    try:
        _set_up_round_and_people(journey)
        _submission(journey)
        _clustering(journey)
        _preselection(journey)
        _development(journey)
        receipts = _final_vote(journey)
        standard_path = _results(journey, receipts)
        _adoption(journey, standard_path)
    finally:
        journey.close()
        journey.audit.write_report()
    journey.audit.assert_clean()


def _set_up_round_and_people(j: Journey) -> None:
    """Step 1: the organiser creates the round and invites everyone; they set a password."""
    j.visit("organiser", "login", "/inloggen")
    log_in(j.page("organiser"), j.server, ORGANISER.email, PASSWORD)
    j.check("organiser", "home")
    page = j.visit("organiser", "dashboard", "/beheer/")
    assert page.locator(".oc-stats__number").nth(2).inner_text() == "342"  # municipalities
    page = j.follow("organiser", "new-round", page.locator("main a[href='/beheer/rondes/nieuw']"))
    form = page.locator("main form:has(input[name=title])")
    form.locator("input[name=title]").fill(ROUND_TITLE)
    form.locator("input[name=theme]").fill("Digitale dienstverlening aan inwoners")
    form.locator("textarea[name=description]").fill(
        "Gemeenten bouwen samen één keer wat ze allemaal nodig hebben.")
    form.locator("input[name=max_finalists]").fill("2")
    for name, value in _schedule(utcnow()).items():
        form.locator(f"input[name={name}]").fill(value)
    j.check("organiser", "new-round-filled")
    page = j.follow("organiser", "round-created", form.locator("button[type=submit]"))
    match = re.fullmatch(r".*/beheer/rondes/([a-z0-9-]+)", page.url)
    assert match, page.url
    j.slug = match.group(1)
    assert page.locator("main h1").inner_text() == ROUND_TITLE
    assert j.phase() is Phase.DRAFT

    page = j.follow("organiser", "invitations",
                    page.locator("nav a[href='/beheer/uitnodigingen']").first)
    for person in PEOPLE:
        form = page.locator("main form:has(select[name=municipality_id])")
        form.locator("input[name=email]").fill(person.email)
        form.locator("input[name=name]").fill(person.name)
        if person.municipality:
            form.locator("select[name=municipality_id]").select_option(label=person.municipality)
        form.locator(f"input[name=roles][value={person.role.value}]").check()
        j.follow("organiser", f"invited-{person.key}", form.locator("button[type=submit]"))
        assert page.locator("main table").get_by_text(person.email, exact=True).count() == 1

    for person in PEOPLE:
        page = j.visit(person.key, "invitation", j.invitation_path(person.email))
        assert page.locator("input[name=name]").input_value() == person.name
        page.locator("input[name=password]").fill(NEW_PASSWORD)
        page.locator("input[name=confirm]").fill(NEW_PASSWORD)
        page = j.follow(person.key, "welcome", page.locator("main form button[type=submit]"))
        account = page.locator("header a[href='/account']").inner_text()
        assert person.name in account, account
        if person.municipality:
            assert person.municipality.split(" (")[0] in account
    accepted = j.db(lambda: db.session.scalar(
        select(func.count(Invitation.id)).where(Invitation.accepted_at.is_not(None))))
    assert accepted == len(PEOPLE)
    page = j.visit("organiser", "users", "/beheer/gebruikers")
    for person in PEOPLE:
        assert page.locator("main").get_by_text(person.name).count() >= 1, person.name


def _submission(j: Journey) -> None:
    """Step 2: submission opens; three members submit similar proposals."""
    j.close_phase("De inschrijving gaat open.")
    for key, proposal in PROPOSALS.items():
        page = j.visit(key, "home", "/")
        page = j.follow(key, "round", page.locator(f"main a[href='/rondes/{j.slug}']").first)
        page = j.follow(key, "new-proposal",
                        page.locator(f"main a[href='/rondes/{j.slug}/voorstellen/nieuw']"))
        form = page.locator("main form.oc-form-main")
        for name in ("title", "summary", "problem", "description"):
            kind = "input" if name == "title" else "textarea"
            form.locator(f"{kind}[name={name}]").fill(proposal[name])
        form.locator("select[name=domain_id]").select_option(index=1)
        start = utcnow().astimezone(LOCAL_TZ).date() + timedelta(days=180)
        form.locator("input[name=planned_start]").fill(start.isoformat())
        form.locator("input[name=estimated_cost]").fill("120000")
        form.locator("input[name=contact_name]").fill(BY_KEY[key].name)
        form.locator("input[name=contact_email]").fill(BY_KEY[key].email)
        page = j.follow(key, "proposal-submitted",
                        form.locator("button[name=action][value=submit]"))
        assert re.search(r"/voorstellen/\d+$", page.url), page.url
        assert page.locator("main h1").inner_text() == proposal["title"]
    page = j.visit("organiser", "proposals", f"/rondes/{j.slug}/voorstellen")
    for title in TITLE.values():
        assert page.locator("main").get_by_role("link", name=title, exact=True).count() == 1


def _clustering(j: Journey) -> None:
    """Step 3: the organiser has the proposals clustered, names the cluster and confirms it."""
    j.close_phase("De inschrijving is gesloten.")
    page = j.follow("organiser", "clusters", j.page("organiser").locator(
        f"main a[href='/beheer/rondes/{j.slug}/clusters']"))
    run = page.locator(f"form[action='/beheer/rondes/{j.slug}/clusters/uitvoeren']")
    page = j.follow("organiser", "clustering-queued", run.locator("button[type=submit]"))
    assert page.locator("#clustering-progress progress").count() == 1, "no progress shown"
    with job_worker(j.app):
        # The progress box polls (htmx) and offers the new clusters once the run is done.
        page.locator("#clustering-progress progress").wait_for(state="detached", timeout=60_000)
    j.check("organiser", "clustering-done")
    j.follow("organiser", "clusters-suggested", page.locator(
        f"#clustering-progress a[href='/beheer/rondes/{j.slug}/clusters']"))
    clusters = page.locator("ol.oc-cluster-list > li")
    assert clusters.count() == 1, page.locator("main").inner_text()
    for title in TITLE.values():
        assert clusters.first.get_by_text(title).count() >= 1, title

    clusters.first.locator("details summary").click()
    rename = clusters.first.locator("form[action$='/naam']")
    rename.locator("input[name$='-label']").fill(CLUSTER_NAME)
    rename.locator("textarea[name$='-description']").fill(
        "Inwoners regelen hun parkeervergunning en bezoekersparkeren online.")
    page = j.follow("organiser", "cluster-renamed", rename.locator("button[type=submit]"))
    assert page.locator("ol.oc-cluster-list h2").first.inner_text().startswith(CLUSTER_NAME)
    confirm = page.locator("ol.oc-cluster-list form[action$='/bevestigen']")
    page = j.follow("organiser", "cluster-confirmed", confirm.locator("button[type=submit]"))
    assert j.db(lambda: db.session.scalar(select(Cluster.is_confirmed)))
    page = j.visit("visitor", "vraagstukken", f"/rondes/{j.slug}/vraagstukken")
    assert page.locator("main").get_by_role("link", name=CLUSTER_NAME).count() >= 1


def _preselection(j: Journey) -> None:
    """Step 4: jurors are assigned and score, delegates approve, the finalists are published."""
    j.close_phase("Alle vraagstukken zijn bevestigd.")
    page = j.follow("organiser", "jury", j.page("organiser").locator(
        f"main a[href='/beheer/rondes/{j.slug}/jury']"))
    for key in JURORS:
        form = page.locator(f"form[action='/beheer/rondes/{j.slug}/jury/toewijzen']")
        form.locator("select[name=user_id]").select_option(
            label=f"{BY_KEY[key].name} ({BY_KEY[key].email})")
        page = j.follow("organiser", f"juror-assigned-{key}", form.locator("button[type=submit]"))
        assert page.locator("#progress th[scope=row]", has_text=BY_KEY[key].name).count() == 1

    for key in JURORS:
        page = j.visit(key, "home", "/")
        page = j.follow(key, "jury-list", page.locator("header a[href='/jury']"))
        for proposal_key, score in JURY_SCORES.items():
            page = j.follow(key, f"scorecard-{proposal_key}", page.locator(
                "main a[href^='/jury/voorstellen/']", has_text=TITLE[proposal_key]))
            fieldsets = page.locator("fieldset.oc-score")
            assert fieldsets.count() == 4  # the default criteria
            for i in range(fieldsets.count()):
                fieldsets.nth(i).locator(f"input[type=radio][value='{score}']").check()
            fieldsets.first.locator("textarea").fill("Sterk punt: bewoners regelen het zelf.")
            page = j.follow(key, f"scored-{proposal_key}",
                            page.locator("button[name=action][value=submit]"))
            assert re.search(r"/jury/rondes/[^/#]+(#proposal-\d+)?$", page.url), page.url
        assert page.locator("main progress").get_attribute("value") == str(len(JURY_SCORES))

    for key in DELEGATES:
        page = j.visit(key, "round", f"/rondes/{j.slug}")
        page = j.follow(key, "peer-vote", page.locator(
            f"main a[href='/rondes/{j.slug}/voorselectie/stemmen']"))
        page = j.follow(key, "approve", page.locator("main a[href$='/goedkeuren']"))
        for proposal_key in APPROVALS[key]:
            page.get_by_label(TITLE[proposal_key], exact=True).check()
        page = j.follow(key, "approved", page.locator("main form button[type=submit]"))
        assert page.url.endswith(f"/rondes/{j.slug}/voorselectie/stemmen"), page.url

    page = j.visit("organiser", "jury-progress", f"/beheer/rondes/{j.slug}/jury")
    j.close_phase("De jury en de gemeenten zijn klaar.")
    finalists = j.db(lambda: set(db.session.scalars(
        select(Proposal.title).join(FinalistDecision,
                                    FinalistDecision.proposal_id == Proposal.id)
        .where(FinalistDecision.is_finalist.is_(True)))))
    assert finalists == {TITLE[k] for k in FINALISTS}
    page = j.visit("visitor", "round-finalists", f"/rondes/{j.slug}")
    page = j.follow("visitor", "preselection-result", page.locator(
        f"main a[href='/rondes/{j.slug}/voorselectie']"))
    published = page.locator("main a[href$='/ontwikkeling']")
    assert sorted(published.all_inner_texts()) == sorted(TITLE[k] for k in FINALISTS)
    j.follow("visitor", "preselection-reasoning", page.locator(
        "main a[href^='/vraagstukken/'][href$='/voorselectie']").first)


def _development(j: Journey) -> None:
    """Step 5: the winner-to-be's team reports progress and its cost and licence."""
    key = WINNER
    page = j.visit(key, "preselection-result", f"/rondes/{j.slug}/voorselectie")
    page = j.follow(key, "finalist", page.locator("main a[href$='/ontwikkeling']",
                                                  has_text=TITLE[key]))
    form = page.locator("form[action$='/ontwikkeling/updates']")
    form.locator("input[name=title]").fill(UPDATE_TITLE)
    form.locator("textarea[name=body]").fill(
        "Bewoners kunnen in de testomgeving een vergunning aanvragen. **Volgende stap:** "
        "bezoekersparkeren.")
    page = j.follow(key, "update-published", form.locator("button[type=submit]"))
    assert page.locator("#updates h3").first.inner_text() == UPDATE_TITLE
    form = page.locator("form[action$='/ontwikkeling/verantwoording']")
    form.locator("input[name=demo_url]").fill("https://parkeren.utrecht.example/demo")
    form.locator("input[name=source_url]").fill("https://code.utrecht.example/parkeren")
    form.locator("select[name=licence]").select_option("EUPL-1.2")
    form.locator("input[name=cost_estimate]").fill("€ 180.000")
    page = j.follow(key, "statement-saved", form.locator("button[type=submit]"))
    assert "EUPL-1.2" in page.locator("#verantwoording dl").inner_text()


def _final_vote(j: Journey) -> dict[str, str]:
    """Step 6: the delegates rank the finalists; the organiser closes the vote. Returns each
    delegate's receipt code."""
    j.close_phase("De finalisten zijn klaar.")
    receipts = {}
    for key in DELEGATES:
        page = j.visit(key, "round-vote", f"/rondes/{j.slug}")
        page = j.follow(key, "final-overview",
                        page.locator(f"main a[href='/rondes/{j.slug}/stemmen']"))
        page = j.follow(key, "ballot", page.locator(
            "main a[href^='/vraagstukken/'][href$='/stemmen']"))
        for place, proposal_key in enumerate(RANKINGS[key], start=1):
            page.get_by_label(TITLE[proposal_key], exact=True).select_option(str(place))
        page = j.follow(key, "receipt", page.locator("main form button[type=submit]"))
        assert page.url.endswith("/stemmen/stembewijs"), page.url
        receipts[key] = page.locator("#receipt-code").inner_text()
        assert re.fullmatch(r"[0-9a-z ]{16,}", receipts[key]), receipts[key]
    page = j.visit("organiser", "turnout", f"/beheer/rondes/{j.slug}/opkomst")
    j.close_phase("De stemming is gesloten.")
    return receipts


def _results(j: Journey, receipts: dict[str, str]) -> str:
    """Step 7: the result, the full count and the new standard, and a delegate finds its
    ballot counted; returns the standard's path."""
    winner = TITLE[WINNER]
    page = j.visit("visitor", "round-decided", f"/rondes/{j.slug}")
    page = j.follow("visitor", "final-result", page.locator(
        f"main a[href='/rondes/{j.slug}/uitslag']"))
    assert page.locator("main").get_by_role("link", name=winner).count() == 1
    assert "Utrecht" in page.locator("main li.oc-member", has_text=winner).inner_text()
    page = j.follow("visitor", "final-count", page.locator(
        "main h3 a[href^='/vraagstukken/'][href$='/uitslag']"))
    assert page.locator("main").get_by_text(winner).count() >= 1
    stored = j.db(lambda: db.session.scalars(select(Standard.name)).all())
    assert stored == [winner]
    page = j.visit("visitor", "standards", "/standaarden")
    page = j.follow("visitor", "standard", page.locator(
        "main a[href^='/standaarden/']", has_text=winner))
    assert page.locator("main h1").inner_text() == winner
    assert page.locator("main").get_by_text("EUPL-1.2").count() >= 1
    assert page.locator("main .oc-stats__number").first.inner_text() == "0"
    standard_path = re.sub(r"^https?://[^/]+", "", page.url)

    key = "zwolle-delegate"
    page = j.visit(key, "round-decided", f"/rondes/{j.slug}")
    page = j.follow(key, "receipt-check", page.locator(
        f"main a[href='/rondes/{j.slug}/stembewijs']"))
    page.locator("main input[name=code]").fill(receipts[key])
    page = j.follow(key, "receipt-counted", page.locator("main form button[type=submit]"))
    assert page.locator("#result-title").count() == 1, page.locator("main").inner_text()
    assert page.locator("main a[href$='/stembiljetten.json']").count() == 1  # counted
    return standard_path


def _adoption(j: Journey, standard_path: str) -> None:
    """Step 8: the adoption phase opens and Groningen records that it adopted the standard."""
    j.close_phase("De standaarden zijn bekend.")
    key = "groningen-member"
    page = j.visit(key, "standards", "/standaarden")
    page = j.follow(key, "standard", page.locator(f"main a[href='{standard_path}']"))
    form = page.locator("form[action$='/adoptie#adoption-own-title']")
    form.locator("input[type=radio][value=adopted]").check()
    today = adoption.local_date(utcnow()).isoformat()
    form.locator("input[name=adopted_on]").fill(today)
    page = j.follow(key, "adopted", form.locator("button[type=submit]"))
    assert page.locator("main .oc-stats__number").first.inner_text() == "1"
    adopted = j.label(adoption.status_label, "adopted")
    assert page.locator("#adoption-own-title + p strong").inner_text() == adopted
    history = page.locator("table:has(#adoption-history-caption)")
    assert history.get_by_role("link", name="Groningen").count() == 1
    recorded = j.db(lambda: db.session.execute(select(Municipality.name, Adoption.status).join(
        Adoption, Adoption.municipality_id == Municipality.id)).all())
    assert [tuple(row) for row in recorded] == [("Groningen", "adopted")]
    page = j.visit("visitor", "standards-adopted", "/standaarden")
    assert page.locator("main").get_by_text(TITLE[WINNER]).count() >= 1
