"""Accessibility in a real browser: axe-core (WCAG 2.1 A/AA) on every page, plus keyboard use.

The app runs on a local port with the demo content (round in its submission phase). Headless
Chromium visits every public page and, logged in as organiser through the login form, every
management page, in Dutch and in English, including forms that came back with errors.
Each page gets a full-page screenshot at 1280px and at 390px wide in tests/artifacts/screens/
(git-ignored), for looking at the layout by eye.

Needs Debian's Chromium (`apt-get install chromium`); without it these tests are skipped,
unless REQUIRE_BROWSER=1, when they fail.
"""

import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import WSGIRequestHandler, make_server

from competition import demo
from competition.extensions import db
from competition.models import Invitation, Phase, User
from competition.models.types import utcnow
from competition.services import accounts

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent
AXE = ROOT / "vendor" / "axe-core" / "axe.min.js"
SCREENS = ROOT / "artifacts" / "screens"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
MOBILE = {"width": 390, "height": 844}
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Best-practice rules worth enforcing too: landmarks, headings, unique names.
STRUCTURE_RULES = [
    "landmark-one-main",
    "landmark-no-duplicate-banner",
    "landmark-no-duplicate-contentinfo",
    "landmark-no-duplicate-main",
    "landmark-banner-is-top-level",
    "landmark-contentinfo-is-top-level",
    "landmark-main-is-top-level",
    "landmark-unique",
    "region",
    "page-has-heading-one",
    "heading-order",
    "empty-heading",
    "skip-link",
    "tabindex",
]


# --- browser availability ----------------------------------------------------------------------


def _browser_problem() -> str | None:
    """Why the browser tests cannot run, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright not installed: pip install -e '.[dev]'"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)) and not shutil.which(
        CHROMIUM
    ):
        return f"chromium not installed at {CHROMIUM}: apt-get install chromium"
    if not AXE.is_file():
        return f"axe-core missing at {AXE}"
    return None


@pytest.fixture(scope="module")
def browser():
    problem = _browser_problem()
    if problem:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {problem}", pytrace=False)
        pytest.skip(f"BROWSER TESTS SKIPPED: {problem}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


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


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # keep failure reports readable
        pass


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
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(f"http://127.0.0.1:{server.server_port}", *info)
    finally:
        server.shutdown()
        thread.join(timeout=10)


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


# --- axe ---------------------------------------------------------------------------------------


def _axe(page, options: dict) -> dict[str, list[dict]]:
    """axe's violations and its "needs review" (incomplete) results."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async (options) => {
            const result = await axe.run(document, options);
            const simple = list => list.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary})),
            }));
            return {violations: simple(result.violations), incomplete: simple(result.incomplete)};
        }""",
        options,
    )


def _format(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"    [{v['impact']}] {v['id']}: {v['help']}")
        for node in v["nodes"][:15]:
            summary = " ".join((node["summary"] or "").split())
            lines.append(f"        {node['target']}  — {summary[:300]}")
        if len(v["nodes"]) > 15:
            lines.append(f"        … and {len(v['nodes']) - 15} more")
    return "\n".join(lines)


class Auditor:
    """Runs axe on pages, takes screenshots, and collects every problem."""

    def __init__(self, page, locale: str, report_name: str | None = None) -> None:
        self.page = page
        self.locale = locale
        self.report_name = report_name or locale
        self.problems: dict[str, str] = {}
        self.review: dict[str, str] = {}
        self.seen: list[str] = []

    def check(self, name: str, *, expect_status: int | None = None, status: int | None = None):
        """Audit the current page at desktop and at mobile width, with a screenshot of each."""
        page = self.page
        label = f"{self.locale}/{name} ({page.url})"
        self.seen.append(label)
        issues = []
        if expect_status is not None and status != expect_status:
            issues.append(f"    HTTP status {status}, expected {expect_status}")
        lang = page.evaluate("() => document.documentElement.lang")
        if lang != self.locale:
            issues.append(f"    <html lang={lang!r}>, expected {self.locale!r}")
        # The page's language must match its text (WCAG 3.1.1): an uncompiled catalogue
        # shows English under lang="nl".
        skip_text = page.locator(".oc-skip-link").inner_text().strip()
        if self.locale != "en" and skip_text == "Skip to main content":
            issues.append(
                f"    lang={self.locale!r} but the text is English ({skip_text!r}): "
                "run `make translations`"
            )
        # A Python None rendered into an attribute (disabled="None" disables a control).
        leaked = page.evaluate(
            """() => Array.from(document.querySelectorAll('*')).flatMap(el =>
                Array.from(el.attributes).filter(a => a.value === 'None')
                    .map(a => `<${el.localName} id="${el.id}"> ${a.name}="None"`))"""
        )
        issues += [f"    attribute rendered from Python None: {item}" for item in leaked]
        review = []
        for viewport, suffix in ((DESKTOP, ""), (MOBILE, "-mobile")):
            page.set_viewport_size(viewport)
            width = f"{viewport['width']}px"
            wcag = _axe(page, {"runOnly": {"type": "tag", "values": WCAG_TAGS}})
            if wcag["violations"]:
                issues.append(f"    (WCAG 2.1 A/AA, {width} wide)\n" + _format(wcag["violations"]))
            if wcag["incomplete"]:
                review.append(f"    ({width} wide)\n" + _format(wcag["incomplete"]))
            if viewport is DESKTOP:
                structure = _axe(page, {"runOnly": {"type": "rule", "values": STRUCTURE_RULES}})
                if structure["violations"]:
                    issues.append("    (best practice)\n" + _format(structure["violations"]))
            self._screenshot(name + suffix)
        page.set_viewport_size(DESKTOP)
        if issues:
            self.problems[label] = "\n".join(issues)
        if review:
            self.review[label] = "\n".join(review)

    def _screenshot(self, name: str) -> None:
        SCREENS.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9-]+", "-", f"{self.locale}-{name}".lower()).strip("-")
        self.page.screenshot(path=str(SCREENS / f"{slug}.png"), full_page=True)

    def visit(self, site: Site, name: str, path: str, expect_status: int = 200) -> None:
        response = self.page.goto(site.url(path))
        self.check(name, expect_status=expect_status, status=response.status if response else None)

    def report(self) -> str:
        return "\n".join(f"{label}\n{text}" for label, text in self.problems.items())

    def write_report(self) -> None:
        """tests/artifacts/axe-<locale>.txt: violations and what axe could not decide."""
        SCREENS.parent.mkdir(parents=True, exist_ok=True)
        parts = [
            f"Pages checked: {len(self.seen)}",
            *self.seen,
            "",
            "VIOLATIONS",
            self.report(),
            "",
            "NEEDS REVIEW (axe incomplete)",
        ]
        parts += [f"{label}\n{text}" for label, text in self.review.items()]
        (SCREENS.parent / f"axe-{self.report_name}.txt").write_text("\n".join(parts) + "\n")


def _choose_language(page, locale: str) -> None:
    """Switch the interface language with the header's language button (no-op if current)."""
    if page.evaluate("() => document.documentElement.lang") == locale:
        return
    page.locator(f".oc-lang button[value='{locale}']").click()
    page.wait_for_load_state()


def _log_in(page, site: Site, email: str = "organisator@demo.example") -> None:
    page.goto(site.url("/inloggen"))
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(demo.DEMO_PASSWORD)
    page.locator("form:has(input[name=password]) button[type=submit]").click()
    page.wait_for_load_state()
    assert "/inloggen" not in page.url, f"logging in as {email} failed"


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
        _choose_language(page, locale)

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
        _choose_language(page, locale)
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

    assert not audit.problems, (
        f"accessibility problems on {len(audit.problems)} of {len(audit.seen)} pages:\n"
        + audit.report()
    )


def _log_out(page) -> None:
    page.locator("form[action='/uitloggen'] button[type=submit]").click()
    page.wait_for_load_state()


def _assert_clean(audit: "Auditor") -> None:
    assert not audit.problems, (
        f"accessibility problems on {len(audit.problems)} of {len(audit.seen)} pages:\n"
        + audit.report()
    )


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
        _choose_language(page, locale)
        audit.visit(site, "jury-list", f"/jury/rondes/{slug}")
        page.locator("main a[href^='/jury/voorstellen/']").first.click()
        page.wait_for_load_state()
        audit.check("jury-scorecard")
        page.locator("button[name=action][value=submit]").click()
        page.wait_for_load_state()
        audit.check("jury-scorecard-errors")
        assert page.locator("#error-summary").count() == 1, "an empty scorecard was accepted"
        _log_out(page)
        _log_in(page, site, "afgevaardigde@utrecht.example")
        _choose_language(page, locale)
        audit.visit(site, "peer-overview", f"/rondes/{slug}/voorselectie/stemmen")
        page.locator("main a[href$='/goedkeuren']").first.click()
        page.wait_for_load_state()
        audit.check("peer-ballot")
        audit.visit(site, "preselection-running", f"/rondes/{slug}/voorselectie")
    finally:
        context.close()
        audit.write_report()
    _assert_clean(audit)


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
        _choose_language(page, locale)
        audit.visit(site, "preselection-results", f"/rondes/{slug}/voorselectie")
        result_link = page.locator("main a[href$='/voorselectie'][href^='/vraagstukken/']").first
        result_path = result_link.get_attribute("href")
        audit.visit(site, "preselection-cluster", result_path)
        _log_in(page, site)
        _choose_language(page, locale)
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
    _assert_clean(audit)


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
        _choose_language(page, locale)
        audit.visit(site, "preselection-results-dev", f"/rondes/{slug}/voorselectie")
        # A finalist of Utrecht, whose demo member is on its team.
        finalist = page.locator("main li:has-text('Utrecht') a[href$='/ontwikkeling']").first \
            .get_attribute("href")
        page.locator("main a[href$='/finalisten']").first.click()
        page.wait_for_load_state()
        audit.check("cluster-finalists")
        audit.visit(site, "finalist", finalist)
        _log_in(page, site, "medewerker@utrecht.example")
        _choose_language(page, locale)
        audit.visit(site, "finalist-team", finalist)
        assert page.locator("main form textarea").count() >= 1, "the team sees no forms"
    finally:
        context.close()
        audit.write_report()
    _assert_clean(audit)


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
        _choose_language(page, locale)
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
        _log_out(page)
        _log_in(page, site)
        _choose_language(page, locale)
        audit.visit(site, "admin-turnout", f"/beheer/rondes/{slug}/opkomst")
        audit.visit(site, "admin-weights", f"/beheer/rondes/{slug}/weging")
    finally:
        context.close()
        audit.write_report()
    _assert_clean(audit)


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
        _choose_language(page, locale)
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
        _choose_language(page, locale)
        page.goto(standard.rstrip("/") + "/bewerken")
        page.wait_for_load_state()
        audit.check("standard-edit")
        _log_out(page)
        # A member records its municipality's adoption; an empty "adopted" date is an error.
        _log_in(page, site, "medewerker@utrecht.example")
        _choose_language(page, locale)
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
    _assert_clean(audit)


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
