"""Shared pieces of the browser tests: headless Chromium, the app on a real port, and axe.

Used by tests/test_accessibility.py and tests/test_journey.py; the `browser` fixture reaches
them through tests/conftest.py.

Needs Debian's Chromium (`apt-get install chromium`); without it the browser tests are
skipped, unless REQUIRE_BROWSER=1, when they fail.
"""

import os
import re
import shutil
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

ROOT = Path(__file__).resolve().parent
AXE = ROOT / "vendor" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "artifacts"
SCREENS = ARTIFACTS / "screens"
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


def browser_problem() -> str | None:
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
    """Headless Chromium for one test module (skipped without it, unless REQUIRE_BROWSER=1)."""
    problem = browser_problem()
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


@dataclass(frozen=True)
class Server:
    """Where a served app answers."""

    base: str

    def url(self, path: str) -> str:
        return self.base + path


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # keep failure reports readable
        pass


@contextmanager
def serve(app: Flask) -> Iterator[Server]:
    """The app served on 127.0.0.1 (a free port) by a background thread, until the block ends."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)


# --- axe ---------------------------------------------------------------------------------------


def axe(page, options: dict) -> dict[str, list[dict]]:
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


def format_violations(violations: list[dict]) -> str:
    """axe results as indented text, at most 15 elements per rule."""
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
    """Runs axe on pages, takes screenshots, and collects every problem.

    `viewports` are (size, screenshot suffix) pairs: every page is audited at each, the
    best-practice structure rules at the first, which is also the size the page is left at.
    """

    def __init__(self, page, locale: str, report_name: str | None = None, *,
                 viewports: Sequence[tuple[dict, str]] = ((DESKTOP, ""), (MOBILE, "-mobile"))
                 ) -> None:
        self.page = page
        self.locale = locale
        self.report_name = report_name or locale
        self.viewports = tuple(viewports)
        self.problems: dict[str, str] = {}
        self.review: dict[str, str] = {}
        self.seen: list[str] = []

    def check(self, name: str, *, expect_status: int | None = None, status: int | None = None,
              page=None) -> None:
        """Audit the current page (of `page`, else this auditor's) at every viewport, with a
        screenshot at each."""
        page = page or self.page
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
        first = self.viewports[0][0]
        for viewport, suffix in self.viewports:
            if len(self.viewports) > 1:
                page.set_viewport_size(viewport)
            width = f"{viewport['width']}px"
            wcag = axe(page, {"runOnly": {"type": "tag", "values": WCAG_TAGS}})
            if wcag["violations"]:
                issues.append(
                    f"    (WCAG 2.1 A/AA, {width} wide)\n" + format_violations(wcag["violations"])
                )
            if wcag["incomplete"]:
                review.append(f"    ({width} wide)\n" + format_violations(wcag["incomplete"]))
            if viewport is first:
                structure = axe(page, {"runOnly": {"type": "rule", "values": STRUCTURE_RULES}})
                if structure["violations"]:
                    issues.append(
                        "    (best practice)\n" + format_violations(structure["violations"])
                    )
            self.screenshot(page, name + suffix)
        if len(self.viewports) > 1:
            page.set_viewport_size(first)
        if issues:
            self.problems[label] = "\n".join(issues)
        if review:
            self.review[label] = "\n".join(review)

    def screenshot(self, page, name: str) -> None:
        """A full-page screenshot in tests/artifacts/screens/<locale>-<name>.png."""
        SCREENS.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9-]+", "-", f"{self.locale}-{name}".lower()).strip("-")
        page.screenshot(path=str(SCREENS / f"{slug}.png"), full_page=True)

    def visit(self, site, name: str, path: str, expect_status: int = 200, *, page=None) -> None:
        """Open `path` of `site` (anything with .url(path)) and audit it."""
        page = page or self.page
        response = page.goto(site.url(path))
        self.check(name, expect_status=expect_status,
                   status=response.status if response else None, page=page)

    def report(self) -> str:
        return "\n".join(f"{label}\n{text}" for label, text in self.problems.items())

    def write_report(self) -> None:
        """tests/artifacts/axe-<report name>.txt: violations and what axe could not decide."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
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
        (ARTIFACTS / f"axe-{self.report_name}.txt").write_text("\n".join(parts) + "\n")

    def assert_clean(self) -> None:
        """Fail with every page's problems, if any page had one."""
        assert not self.problems, (
            f"accessibility problems on {len(self.problems)} of {len(self.seen)} pages:\n"
            + self.report()
        )


# --- acting as a person ------------------------------------------------------------------------


def choose_language(page, locale: str) -> None:
    """Switch the interface language with the header's language button (no-op if current)."""
    if page.evaluate("() => document.documentElement.lang") == locale:
        return
    # Anonymous visitors get a link, logged-in users a form button (saved with the account).
    page.locator(f".oc-lang a[hreflang='{locale}'], .oc-lang button[value='{locale}']").click()
    page.wait_for_load_state()


def log_in(page, site, email: str, password: str) -> None:
    """Log in through the login form of `site` (anything with .url(path))."""
    page.goto(site.url("/inloggen"))
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("form:has(input[name=password]) button[type=submit]").click()
    page.wait_for_load_state()
    assert "/inloggen" not in page.url, f"logging in as {email} failed"


def log_out(page) -> None:
    """Log out with the header's button."""
    page.locator("form[action='/uitloggen'] button[type=submit]").click()
    page.wait_for_load_state()
