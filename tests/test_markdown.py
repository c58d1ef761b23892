"""User Markdown is rendered and sanitised: formatting works, every XSS payload comes out inert."""

import html
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest

from competition.extensions import db
from competition.markdown import ALLOWED_TAGS, render
from competition.models import CommentKind
from competition.services import comments
from tests.conftest import NOW
from tests.proposal_helpers import make_world

PAYLOADS = [
    # script tags, plain and obfuscated
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<sCrIpT>alert(1)</ScRiPt>",
    "<<script>script>alert(1)<</script>/script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<!--<script>alert(1)</script>-->",
    "<template><script>alert(1)</script></template>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    # event handlers
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<img src=`javascript:alert(1)`>",
    "<div onmouseover=\"alert(1)\">hover</div>",
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    "<a href=\"https://example.org\" onclick=\"alert(1)\">x</a>",
    # SVG, MathML, style, frames, objects, forms, meta/base
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text>x</text></a></svg>",
    "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    "<p style=\"background:url(javascript:alert(1))\">x</p>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
    "<object data=javascript:alert(1)></object>",
    "<embed src=javascript:alert(1)>",
    "<form action=javascript:alert(1)><button>x</button></form>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<base href=\"javascript:alert(1)//\">",
    # javascript:, vbscript:, data: URLs in Markdown links and images
    "[klik](javascript:alert(1))",
    "[klik](JaVaScRiPt:alert(1))",
    "[klik](  javascript:alert(1)  )",
    "[klik](java\tscript:alert(1))",
    "[klik](vbscript:msgbox(1))",
    "[klik](VBScript:msgbox(1))",
    "[klik](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[klik](data:text/html,<script>alert(1)</script>)",
    "![x](javascript:alert(1))",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    "![x\" onerror=\"alert(1)](https://example.org/x.png)",
    "[ref]\n\n[ref]: javascript:alert(1)",
    "[ref][]\n\n[ref]: data:text/html;base64,PHNjcmlwdD4= \"t\"",
    # HTML entity tricks
    "[klik](&#106;avascript:alert(1))",
    "[klik](javascript&colon;alert(1))",
    "[x](&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;:alert(1))",
    "[x](jav&#x09;ascript:alert(1))",
    "[x](jav&#10;ascript:alert(1))",
    "<a href=\"&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;:alert(1)\">x</a>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    # link / autolink tricks
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "<vbscript:msgbox(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    "[x](https://example.org/\"onmouseover=\"alert(1))",
    "<https://example.org/\"onmouseover=alert(1)>",
    "[x](https://example.org \"title\\\" onclick=\\\"alert(1)\")",
    "[x](<javascript:alert(1)>)",
    "[x](\\javascript:alert(1))",
    "[x](%6A%61%76%61%73%63%72%69%70%74:alert(1))",
    # nested in Markdown structures
    "> <img src=x onerror=alert(1)>\n> [x](javascript:alert(1))",
    "- [x](javascript:alert(1))\n  - <svg/onload=alert(1)>",
    "| a | b |\n|---|---|\n| <script>alert(1)</script> | [x](javascript:alert(1)) |",
    "**[bold](javascript:alert(1))** _<img src=x onerror=alert(1)>_",
    "# <script>alert(1)</script>\n\n## [x](javascript:alert(1))",
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
    "[![img](https://example.org/i.png)](javascript:alert(1))",
    "[[x](javascript:alert(1))](https://example.org)",
]

DANGEROUS_TAGS = {"script", "iframe", "svg", "style", "img", "object", "embed", "form", "math",
                  "meta", "base", "link", "input", "button", "template", "noscript", "body",
                  "details", "frame", "frameset", "video", "audio", "source"}
BAD_SCHEMES = ("javascript:", "vbscript:", "data:")


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    handle_startendtag = handle_starttag


def assert_inert(rendered: str) -> None:
    """No script, no handler, no script-running URL, nothing outside the allow-list."""
    lowered = rendered.lower()
    assert "<script" not in lowered
    for tag in ("<iframe", "<svg", "<style", "<img", "<object", "<embed", "<math"):
        assert tag not in lowered, tag
    collector = _Collector()
    collector.feed(rendered)
    collector.close()
    for tag, attrs in collector.tags:
        assert tag in ALLOWED_TAGS, tag
        assert tag not in DANGEROUS_TAGS, tag
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            assert name in ("href", "title", "rel", "align", "start"), (tag, name)
            if name == "href":
                # What a browser would see: entities decoded, control characters and spaces
                # ignored, case-insensitive. "jav%09ascript:" has no scheme: a relative path.
                url = re.sub(r"[\x00-\x20]", "", html.unescape(value or "")).lower()
                assert not url.startswith(BAD_SCHEMES), value
                scheme = re.match(r"^([a-z][a-z0-9+.-]*):", url)
                assert scheme is None or scheme.group(1) in ("http", "https", "mailto"), value
    # The same, as text: inside any real tag (escaped text starts with "&lt;", not "<"), with
    # the (double-quoted, &quot;-escaped) attribute values blanked out.
    tags_only = re.sub(r'"[^"]*"', '""', lowered)
    assert not re.search(r"<[a-z][^<>]*\son\w+\s*=", tags_only)
    assert not re.search(r"<[a-z][^<>]*\s(href|src)\s*=\s*(javascript|vbscript|data):",
                         tags_only)
    assert not re.search(r"<[a-z][^<>]*\s(href|src)\s*=\s*\"\s*(javascript|vbscript|data):",
                         lowered)


def test_there_are_enough_payloads():
    assert len(PAYLOADS) >= 25


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_is_inert(payload):
    assert_inert(str(render(payload)))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_is_inert_inside_other_text(payload):
    assert_inert(str(render(f"Intro **tekst**.\n\n{payload}\n\nSlot met [link](https://a.nl).")))


def test_all_payloads_together():
    assert_inert(str(render("\n\n".join(PAYLOADS))))


def test_formatting_survives():
    out = str(render("**vet**, *schuin*, `code` en ~~weg~~\n\n- een\n- twee\n\n3. drie\n\n"
                     "> citaat\n\n| a | b |\n|---|---|\n| 1 | 2 |"))
    for fragment in ("<strong>vet</strong>", "<em>schuin</em>", "<code>code</code>",
                     "<s>weg</s>", "<li>een</li>", '<ol start="3">', "<blockquote>",
                     "<table>", "<td>1</td>"):
        assert fragment in out, fragment


def test_links_keep_safe_urls_and_get_rel():
    out = str(render("[site](https://example.org/pad?a=1&b=2) en [mail](mailto:a@b.nl) en "
                     "<https://voorbeeld.nl>"))
    assert 'href="https://example.org/pad?a=1&amp;b=2"' in out
    assert 'href="mailto:a@b.nl"' in out
    assert 'href="https://voorbeeld.nl"' in out
    assert out.count('rel="nofollow noopener noreferrer ugc"') == 3


def test_headings_are_shifted_below_the_page_headings():
    out = str(render("# een\n\n## twee\n\n### drie\n\n#### vier\n\n###### zes"))
    assert "<h1" not in out and "<h2" not in out
    assert "<h3>een</h3>" in out and "<h4>twee</h4>" in out and "<h5>drie</h5>" in out
    assert "<h6>vier</h6>" in out and "<h6>zes</h6>" in out


def test_images_become_links_with_their_alt_text():
    out = str(render("![Plattegrond *centrum*](https://example.org/kaart.png)"))
    assert "<img" not in out
    assert 'href="https://example.org/kaart.png"' in out and "Plattegrond centrum" in out


def test_empty_input():
    assert str(render(None)) == "" and str(render("")) == ""


def test_pages_render_descriptions_and_comments_sanitised(app, client, people):
    app.config["FROZEN_NOW"] = NOW + timedelta(hours=1)
    payload = "\n\n".join(PAYLOADS)
    with app.app_context():
        world = make_world(people)
        proposal = world.propose(description=payload)
        comment = comments.add_comment(world.user("other_member"), proposal, payload[:5000],
                                       CommentKind.COMMENT, now=NOW)
        db.session.commit()
        pid, cid = proposal.id, comment.id
        expected_description = str(render(payload))
        expected_comment = str(render(payload[:5000]))
    page = client.get(f"/voorstellen/{pid}").get_data(as_text=True)
    assert expected_description in page and expected_comment in page
    report_page = client.get(f"/reacties/{cid}/melden").get_data(as_text=True)
    assert expected_comment in report_page
    # Nothing of the payload escaped the sanitised blocks as markup.
    for block in (expected_description, expected_comment):
        assert_inert(block)
    assert "<script>alert(1)</script>" not in page
    assert "onerror=alert(1)>" not in page.replace("&lt;img src=x onerror=alert(1)&gt;", "")
