"""The Dutch catalogue: complete for the current sources, placeholders intact, and in use.

Messages are extracted in memory the way `make extract-messages` does it (babel.cfg plus the
Makefile's BABEL_KEYWORDS), so a new English string without a Dutch translation fails here.
Fix such a failure with `make extract-messages` and translating the new entries in
competition/translations/nl/LC_MESSAGES/messages.po.
"""

import re
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
NL_PO = ROOT / "competition" / "translations" / "nl" / "LC_MESSAGES" / "messages.po"
FIX = "run `make extract-messages` and translate the entries in " + str(NL_PO.relative_to(ROOT))

# A %-format directive: %(name)s, %d, %%, … (a lone % that is no directive matches with no type).
FORMAT = re.compile(
    r"%(?:\((?P<name>\w*)\))?"  # mapping key
    r"[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?"  # flags, width, precision, length
    r"(?P<type>[diouxXeEfFgGcrsa%])?"  # conversion
)


def _keywords() -> dict:
    """Babel's default keywords plus the Makefile's BABEL_KEYWORDS (one source of truth)."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    line = re.search(r"^BABEL_KEYWORDS\s*:?=(.*)$", makefile, re.MULTILINE)
    assert line, "Makefile has no BABEL_KEYWORDS line"
    extra = re.findall(r"(?:-k|--keyword)[ =]?(\S+)", line.group(1))
    assert extra, "BABEL_KEYWORDS lists no -k options"
    return {**DEFAULT_KEYWORDS, **parse_keywords(extra)}


@cache
def extracted() -> dict[tuple[str | None, str], dict]:
    """Every message in the sources: (context, msgid) -> {'id': str | tuple, 'where': [...]}."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f, "babel.cfg")
    found: dict[tuple[str | None, str], dict] = defaultdict(lambda: {"id": None, "where": []})
    for filename, lineno, message, _comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=_keywords()
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        entry = found[(context, msgid)]
        entry["id"] = message
        entry["where"].append(f"{filename}:{lineno}")
    return dict(found)


@cache
def catalog() -> Catalog:
    with NL_PO.open("rb") as f:
        return read_po(f, locale="nl")


def placeholders(text: str) -> set[tuple[str, str]]:
    """The %-directives in a string as (name, type); a stray % shows up as ('', '?')."""
    return {(m["name"] or "", m["type"] or "?") for m in FORMAT.finditer(text)}


def test_sources_have_messages():
    messages = extracted()
    assert len(messages) > 100
    # Python (gettext and lazy_gettext as _l), Jinja HTML and the plain-text mail templates.
    assert (None, "Page not found") in messages
    assert (None, "Skip to main content") in messages
    assert (None, "Hello %(name)s,") in messages
    assert isinstance(messages[(None, "%(num)d user")]["id"], tuple)


def test_every_message_has_a_dutch_translation():
    cat = catalog()
    assert cat.num_plurals == 2
    problems = []
    for (context, msgid), entry in sorted(extracted().items(), key=lambda kv: kv[0][1]):
        where = ", ".join(entry["where"][:3])
        message = cat.get(msgid, context=context)
        if message is None:
            problems.append(f"missing:    {msgid!r}  ({where})")
        elif message.fuzzy:
            problems.append(f"fuzzy:      {msgid!r}  ({where})")
        elif message.id != entry["id"]:
            problems.append(f"outdated:   {entry['id']!r} (catalogue has {message.id!r})")
        elif isinstance(message.string, tuple):
            if len(message.string) != 2 or not all(s.strip() for s in message.string):
                problems.append(f"untranslated plural: {msgid!r}  ({where})")
        elif not message.string.strip():
            problems.append(f"untranslated: {msgid!r}  ({where})")
    assert not problems, (
        f"{len(problems)} message(s) lack a Dutch translation; {FIX}:\n" + "\n".join(problems)
    )


def test_catalogue_has_no_fuzzy_entries():
    fuzzy = [m.id for m in catalog() if m.id and m.fuzzy]
    assert not fuzzy, f"fuzzy entries in {NL_PO.name} (check and clear the flag): {fuzzy}"


def test_translations_keep_the_placeholders():
    problems = []
    for message in catalog():
        if not message.id or not message.string:
            continue
        if isinstance(message.id, tuple):
            singular, plural = message.id
            pairs = [(singular if i == 0 else plural, s) for i, s in enumerate(message.string)]
        else:
            pairs = [(message.id, message.string)]
        for source, translation in pairs:
            if translation and placeholders(source) != placeholders(translation):
                problems.append(
                    f"{source!r}: {sorted(placeholders(source))} "
                    f"-> {translation!r}: {sorted(placeholders(translation))}"
                )
    assert not problems, "placeholders differ between msgid and translation:\n" + "\n".join(
        problems
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello %(name)s, %(n)d left", {("name", "s"), ("n", "d")}),
        ("jury %(jury)d%%", {("jury", "d"), ("", "%")}),
        ("a full 100%", {("", "?")}),
        ("no directives", set()),
    ],
)
def test_placeholder_parser(text, expected):
    assert placeholders(text) == expected


def test_home_page_is_dutch_by_default_and_english_on_request(client):
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="nl"' in page
    assert "Direct naar de inhoud" in page
    assert "Inloggen" in page
    assert "Skip to main content" not in page

    response = client.post("/taal", data={"lang": "en", "next": "/"})
    assert response.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="en"' in page
    assert "Skip to main content" in page
    assert ">Log in<" in page
    assert "Direct naar de inhoud" not in page

    client.post("/taal", data={"lang": "nl", "next": "/"})
    assert "Direct naar de inhoud" in client.get("/").get_data(as_text=True)


def test_unknown_language_is_ignored(client):
    client.post("/taal", data={"lang": "xx", "next": "/"})
    assert '<html lang="nl"' in client.get("/").get_data(as_text=True)
