"""Accessibility in a real browser: axe-core (WCAG 2.1 A/AA) on every page, plus keyboard use.

The app runs on a local port with the demo content (round in its submission phase). Headless
Chromium visits every public page and, logged in as organiser through the login form, every
management page, in Dutch and in English, including forms that came back with errors.
Each page gets a full-page screenshot at 1280px and at 390px wide in tests/artifacts/screens/
(git-ignored), for looking at the layout by eye.

Needs Debian's Chromium (`apt-get install chromium`); without it these tests are skipped,
unless REQUIRE_BROWSER=1, when they fail. The browser machinery is in tests/browser.py.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import select

from competition import demo
from competition.extensions import db
from competition.models import Invitation, Phase, User
from competition.models.types import utcnow
from competition.services import accounts
from tests.browser import DESKTOP, Auditor, choose_language, log_out, serve
from tests.browser import log_in as _log_in_as

pytestmark = pytest.mark.browser


# --- the app on a real port --------------------------------------------------------------------


@dataclass
class Site:
    base: str
    round_slug: str
    user_id: int
    invitation_token: str
    routes: frozenset[str]

    def url(self, path: str) -> str:
        return self.base + path


@contextmanager
def _serve(app: Flask, phase: Phase) -> Iterator[Site]:
    """The app with the demo content in `phase`, served on 127.0.0.1 in a background thread."""
    with app.app_context():
        rnd = demo.seed(phase, now=utcnow())
        db.session.commit()
        member = db.session.scalar(select(User).where(User.email == "medewerker@utrecht.example"))
        invitation = db.session.scalar(
            select(Invitation).where(Invitation.accepted_at.is_(None)).limit(1)
        )
        assert member is not None and invitation is not None
        info = (
            rnd.slug,
            member.id,
            accounts.invitation_token(invitation),
            frozenset(rule.rule for rule in app.url_map.iter_rules()),
        )
        db.session.remove()
    with serve(app) as server:
        yield Site(server.base, *info)


@pytest.fixture
def site(app: Flask) -> Iterator[Site]:
    """The demo in its submission phase."""
    with _serve(app, Phase.SUBMISSION) as served:
        yield served


@pytest.fixture
def preselection_site(app: Flask) -> Iterator[Site]:
    """The demo halfway through its preselection: jurors and delegates have work to do."""
    with _serve(app, Phase.PRESELECTION) as served:
        yield served


@pytest.fixture
def final_vote_site(app: Flask) -> Iterator[Site]:
    """The demo during its final vote: some delegates have voted, Utrecht's has not."""
    with _serve(app, Phase.FINAL_VOTE) as served:
        yield served


@pytest.fixture
def decided_site(app: Flask) -> Iterator[Site]:
    """The demo after its final vote: results, ballot lists and standards are published."""
    with _serve(app, Phase.DECIDED) as served:
        yield served


@pytest.fixture
def development_site(app: Flask) -> Iterator[Site]:
    """The demo after its preselection: finalists and their reasoning are published."""
    with _serve(app, Phase.DEVELOPMENT) as served:
        yield served


def _log_in(page, site: Site, email: str = "organisator@demo.example") -> None:
    """Log in as a demo user (the organiser unless another address is given)."""
    _log_in_as(page, site, email, demo.DEMO_PASSWORD)


OPTIONAL_PAGES = [
    ("proposals", "/rondes/<slug>/voorstellen", "/rondes/{slug}/voorstellen"),
    ("admin-domains", "/beheer/domeinen", "/beheer/domeinen"),
    ("admin-moderation", "/beheer/moderatie", "/beheer/moderatie"),
    ("admin-clusters", "/beheer/rondes/<slug>/clusters", "/beheer/rondes/{slug}/clusters"),
    ("vraagstukken", "/rondes/<slug>/vraagstukken", "/rondes/{slug}/vraagstukken"),
    ("proposal-history", "/voorstellen/<int:proposal_id>/geschiedenis",
     "/voorstellen/1/geschiedenis"),
]


# --- the tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["nl", "en"])
def test_every_page_passes_axe(browser, site: Site, locale: str) -> None:
    context = browser.new_context(bypass_csp=True, viewport=DESKTOP, locale=locale)
    page = context.new_page()
    audit = Auditor(page, locale)
    try:
        page.goto(site.url("/"))
        choose_language(page, locale)

        # Public pages.
        audit.visit(site, "home", "/")
        audit.visit(site, "about", "/over")
        audit.visit(site, "round", f"/rondes/{site.round_slug}")
        audit.visit(site, "login", "/inloggen")
        page.locator("form:has(input[name=password]) button[type=submit]").click()
        page.wait_for_load_state()
        audit.check("login-errors")
        assert page.locator("#error-summary").count() == 1, "empty login showed no errors"
        audit.visit(site, "forgot-password", "/wachtwoord-vergeten")
        audit.visit(site, "invitation", f"/uitnodiging/{site.invitation_token}")
        page.locator("form:has(input[name=password]) button[type=submit]").click()
        page.wait_for_load_state()
        audit.check("invitation-errors")
        audit.visit(site, "invitation-invalid", "/uitnodiging/not-a-token", expect_status=410)
        audit.visit(site, "not-found", "/bestaat-niet", expect_status=404)

        # Management pages, as organiser.
        _log_in(page, site)
        choose_language(page, locale)
        slug = site.round_slug
        audit.visit(site, "admin-dashboard", "/beheer/")
        audit.visit(site, "admin-new-round", "/beheer/rondes/nieuw")
        page.locator("input[name=title]").fill("")
        page.locator("form:has(input[name=title]) button[type=submit]").first.click()
        page.wait_for_load_state()
        audit.check("admin-new-round-errors")
        assert page.locator("#error-summary").count() == 1, "empty title showed no errors"
        assert page.locator("#title[aria-invalid=true]").count() == 1
        audit.visit(site, "admin-round", f"/beheer/rondes/{slug}")
        audit.visit(site, "admin-round-edit", f"/beheer/rondes/{slug}/bewerken")
        audit.visit(site, "admin-round-schedule", f"/beheer/rondes/{slug}/planning")
        audit.visit(site, "admin-invitations", "/beheer/uitnodigingen")
        page.locator("form:has(select[name=municipality_id]) button[type=submit]").click()
        page.wait_for_load_state()
        audit.check("admin-invitations-errors")
        audit.visit(site, "admin-users", "/beheer/gebruikers")
        audit.visit(site, "admin-user", f"/beheer/gebruikers/{site.user_id}")
        audit.visit(site, "admin-municipalities", "/beheer/gemeenten")
        audit.visit(site, "admin-audit", "/beheer/audit")
        audit.visit(site, "account", "/account")
        page.locator("form:has(input[name=current_password]) button[type=submit]").click()
        page.wait_for_load_state()
        audit.check("account-errors")
        audit.visit(site, "round-as-organiser", f"/rondes/{slug}")

        # Pages of areas still being built: checked as soon as their routes exist.
        for name, rule, path in OPTIONAL_PAGES:
            if rule in site.routes:
                audit.visit(site, name, path.format(slug=slug))
                if name == "proposals":
                    first = page.locator("main a[href^='/voorstellen/']").first
                    if first.count():
                        first.click()
                        page.wait_for_load_state()
                        audit.check("proposal")
    finally:
        context.close()
        audit.write_report()

    audit.assert_clean()


@pytest.mark.parametrize("locale", ["nl", "en"])
def test_preselection_work_pages_pass_axe(browser, preselection_site: Site, locale: str) -> None:
    """The juror's list and scorecard (also with errors) and the delegate's ballots."""
    site = preselection_site
    slug = site.round_slug
    context = browser.new_context(bypass_csp=True, viewport=DESKTOP, locale=locale)
    page = context.new_page()
    audit = Auditor(page, locale, report_name=f"{locale}-preselection-work")
    try:
        _log_in(page, site, "jury.dekker@demo.example")
        choose_language(page, locale)
        audit.visit(site, "jury-list", f"/jury/rondes/{slug}")
        page.locator("main a[href^='/jury/voorstellen/']").first.click()
        page.wait_for_load_state()
        audit.check("jury-scorecard")
        page.locator("button[name=action][value=submit]").click()
        page.wait_for_load_state()
        audit.check("jury-scorecard-errors")
        assert page.locator("#error-summary").count() == 1, "an empty scorecard was accepted"
        log_out(page)
        _log_in(page, site, "afgevaardigde@utrecht.example")
        choose_language(page, locale)
        audit.visit(site, "peer-overview", f"/rondes/{slug}/voorselectie/stemmen")
        page.locator("main a[href$='/goedkeuren']").first.click()
        page.wait_for_load_state()
        audit.check("peer-ballot")
        audit.visit(site, "preselection-running", f"/rondes/{slug}/voorselectie")
    finally:
        context.close()
        audit.write_report()
    audit.assert_clean()


@pytest.mark.parametrize("locale", ["nl", "en"])
def test_preselection_results_pass_axe(browser, development_site: Site, locale: str) -> None:
    """The published finalists with their reasoning, publicly and with the organiser's forms."""
    site = development_site
    slug = site.round_slug
    context = browser.new_context(bypass_csp=True, viewport=DESKTOP, locale=locale)
    page = context.new_page()
    audit = Auditor(page, locale, report_name=f"{locale}-preselection-results")
    try:
        page.goto(site.url("/"))
        choose_language(page, locale)
        audit.visit(site, "preselection-results", f"/rondes/{slug}/voorselectie")
        result_link = page.locator("main a[href$='/voorselectie'][href^='/vraagstukken/']").first
        result_path = result_link.get_attribute("href")
        audit.visit(site, "preselection-cluster", result_path)
        _log_in(page, site)
        choose_language(page, locale)
        audit.visit(site, "preselection-cluster-organiser", result_path)
        page.locator("details.oc-details-box summary").first.click()
        audit.check("preselection-override-open")
        audit.visit(site, "admin-jury", f"/beheer/rondes/{slug}/jury")
        # Past the draft phase the list offers no edit links; the page shows the criterion
        # read-only (the demo's first criterion has id 1 in a fresh database).
        audit.visit(site, "admin-criterion", "/beheer/criteria/1")
    finally:
        context.close()
        audit.write_report()
    audit.assert_clean()


@pytest.mark.parametrize("locale", ["nl", "en"])
def test_development_and_final_vote_pages_pass_axe(browser, development_site: Site,
                                                    locale: str) -> None:
    """Finalist pages (public and with the team's forms) in the development phase."""
    site = development_site
    slug = site.round_slug
    context = browser.new_context(bypass_csp=True, viewport=DESKTOP, locale=locale)
    page = context.new_page()
    audit = Auditor(page, locale, report_name=f"{locale}-development")
    try:
        page.goto(site.url("/"))
        choose_language(page, locale)
        audit.visit(site, "preselection-results-dev", f"/rondes/{slug}/voorselectie")
        # A finalist of Utrecht, whose demo member is on its team.
        finalist = page.locator("main li:has-text('Utrecht') a[href$='/ontwikkeling']").first \
            .get_attribute("href")
        page.locator("main a[href$='/finalisten']").first.click()
        page.wait_for_load_state()
        audit.check("cluster-finalists")
        audit.visit(site, "finalist", finalist)
        _log_in(page, site, "medewerker@utrecht.example")
        choose_language(page, locale)
        audit.visit(site, "finalist-team", finalist)
        assert page.locator("main form textarea").count() >= 1, "the team sees no forms"
    finally:
        context.close()
        audit.write_report()
    audit.assert_clean()


@pytest.mark.parametrize("locale", ["nl", "en"])
def test_final_vote_pages_pass_axe(browser, final_vote_site: Site, locale: str) -> None:
    """The delegate's ballots (also with an error), the receipt and its check, turnout."""
    site = final_vote_site
    slug = site.round_slug
    context = browser.new_context(bypass_csp=True, viewport=DESKTOP, locale=locale)
    page = context.new_page()
    audit = Auditor(page, locale, report_name=f"{locale}-final-vote")
    try:
        _log_in(page, site, "afgevaardigde@utrecht.example")
        choose_language(page, locale)
        audit.visit(site, "final-overview", f"/rondes/{slug}/stemmen")
        page.locator("main a[href$='/stemmen'][href^='/vraagstukken/']").first.click()
        page.wait_for_load_state()
        audit.check("final-ballot")
        selects = page.locator("main select")
        if selects.count() >= 2:
            # Two finalists on the same place: the form must explain, accessibly.
            selects.nth(0).select_option("1")
            selects.nth(1).select_option("1")
            page.locator("main form button[type=submit]").first.click()
            page.wait_for_load_state()
            audit.check("final-ballot-errors")
            assert page.locator("#error-summary").count() == 1, "a tie was accepted"
            selects = page.locator("main select")
            selects.nth(1).select_option("2")
        else:
            selects.nth(0).select_option("1")
        page.locator("main form button[type=submit]").first.click()
        page.wait_for_load_state()
        audit.check("final-receipt")
        audit.visit(site, "receipt-check", f"/rondes/{slug}/stembewijs")
        log_out(page)
        _log_in(page, site)
        choose_language(page, locale)
        audit.visit(site, "admin-turnout", f"/beheer/rondes/{slug}/opkomst")
        audit.visit(site, "admin-weights", f"/beheer/rondes/{slug}/weging")
    finally:
        context.close()
        audit.write_report()
    audit.assert_clean()


@pytest.mark.parametrize("locale", ["nl", "en"])
def test_results_and_standards_pass_axe(browser, decided_site: Site, locale: str) -> None:
    """The results of the final vote and the standards, publicly and in the edit form."""
    site = decided_site
    slug = site.round_slug
    context = browser.new_context(bypass_csp=True, viewport=DESKTOP, locale=locale)
    page = context.new_page()
    audit = Auditor(page, locale, report_name=f"{locale}-results")
    try:
        page.goto(site.url("/"))
        choose_language(page, locale)
        audit.visit(site, "final-results", f"/rondes/{slug}/uitslag")
        page.locator("main a[href$='/uitslag'][href^='/vraagstukken/']").first.click()
        page.wait_for_load_state()
        audit.check("final-cluster-result")
        audit.visit(site, "standards", "/standaarden")
        page.locator("main a[href^='/standaarden/']").first.click()
        page.wait_for_load_state()
        audit.check("standard")
        standard = page.url
        audit.visit(site, "adoption-dashboard", "/standaarden/overzicht")
        audit.visit(site, "jatprijs", "/jatprijs")
        audit.visit(site, "municipality", "/gemeenten/GM0344")
        _log_in(page, site)
        choose_language(page, locale)
        page.goto(standard.rstrip("/") + "/bewerken")
        page.wait_for_load_state()
        audit.check("standard-edit")
        log_out(page)
        # A member records its municipality's adoption; an empty "adopted" date is an error.
        _log_in(page, site, "medewerker@utrecht.example")
        choose_language(page, locale)
        page.goto(standard)
        page.wait_for_load_state()
        audit.check("standard-as-member")
        adopted = page.locator("main input[type=radio][value=adopted]")
        if adopted.count():
            adopted.check()
            page.locator("main form:has(input[type=radio][value=adopted]) "
                         "button[type=submit]").click()
            page.wait_for_load_state()
            audit.check("adoption-errors")
    finally:
        context.close()
        audit.write_report()
    audit.assert_clean()


@pytest.mark.parametrize("path", ["/", "/inloggen", "/rondes/{slug}"])
def test_skip_link_is_first_and_moves_focus_to_main(browser, site: Site, path: str) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        page.goto(site.url(path.format(slug=site.round_slug)))
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => {
                const el = document.activeElement;
                const box = el.getBoundingClientRect();
                const style = getComputedStyle(el);
                return {cls: el.className, href: el.getAttribute('href'), top: box.top,
                        height: box.height, outline: style.outlineStyle};
            }"""
        )
        assert "oc-skip-link" in focused["cls"], f"first Tab focused {focused}"
        assert focused["href"] == "#main"
        assert focused["top"] >= 0 and focused["height"] > 0, "focused skip link is off-screen"
        assert focused["outline"] != "none", "focused skip link has no visible focus outline"
        page.keyboard.press("Enter")
        active = page.evaluate("() => [document.activeElement.tagName, document.activeElement.id]")
        assert active == ["MAIN", "main"], f"after the skip link, focus is on {active}"
        if page.locator("main a[href], main button, main input, main select").count():
            page.keyboard.press("Tab")
            inside = page.evaluate("() => !!document.activeElement.closest('main')")
            assert inside, "the next Tab after the skip link does not continue inside <main>"
    finally:
        context.close()


FOCUS_JS = """() => {
    const el = document.activeElement;
    if (!el || el === document.body || el.dataset.focusSeen) return null;
    el.dataset.focusSeen = '1';
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0
        && !['transparent', 'rgba(0, 0, 0, 0)'].includes(style.outlineColor);
    const ring = style.boxShadow !== 'none';
    const box = el.getBoundingClientRect();
    const text = (el.innerText || el.value || el.getAttribute('aria-label') || '').trim();
    return {
        what: `<${el.localName} class="${el.className}"> ${text.slice(0, 40)}`,
        visible: outline || ring,
        onscreen: box.width > 0 && box.height > 0,
    };
}"""


@pytest.mark.parametrize(
    ("path", "as_organiser"),
    [
        ("/", False),
        ("/inloggen", False),
        ("/beheer/uitnodigingen", True),
        ("/beheer/gemeenten", True),
    ],
)
def test_every_focus_stop_shows_focus(browser, site: Site, path: str, as_organiser: bool) -> None:
    """Tab through the page: every element that takes focus shows it (WCAG 2.4.7)."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        if as_organiser:
            _log_in(page, site)
        page.goto(site.url(path))
        problems, stops = [], 0
        for _ in range(80):
            page.keyboard.press("Tab")
            info = page.evaluate(FOCUS_JS)
            if info is None:  # back at an element seen before (or at the page itself)
                break
            stops += 1
            if not (info["visible"] and info["onscreen"]):
                problems.append(info["what"])
        assert stops > 5, f"only {stops} focus stops on {path}"
        assert not problems, f"no visible focus indicator on {path}: {problems}"
    finally:
        context.close()
