"""Dutch text analysis: tokens, stop words and stems.

Stemming uses Snowball's `dutch_porter`: Snowball 3's `dutch` stemmer strips the "ge-" prefix
(gemeente → "meen"), which merges unrelated words.
"""

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

WORD_RE = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)

# Common Dutch function words (plus a few that every proposal uses and that say nothing).
STOP_WORDS = frozenset(
    """
    aan al alle alles als altijd andere ben bij daar dan dat de der deze die dit doch doen door
    dus een eens en er ge geen geweest haar had heb hebben heeft hem het hier hij hoe hun iemand
    iets ik in is ja je kan kon kunnen maar me meer men met mij mijn moet na naar niet niets nog
    nu of om omdat onder ons ook op over reeds te tegen toch toen tot u uit uw van veel voor
    want waren was wat we wel werd wezen wie wij wil worden wordt zal ze zei zelf zich zij zijn
    zo zonder zou the and for with this that are from our your will
    """.split()  # noqa: SIM905
)


@lru_cache(maxsize=1)
def _stemmer():
    return snowballstemmer.stemmer("dutch_porter")


def fold(text: str) -> str:
    """Lower-case and strip accents (financiële → financiele), so spelling variants match."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokens(text: str) -> list[str]:
    """Words of the text, folded, without stop words and one-letter words."""
    return [w for w in WORD_RE.findall(fold(text)) if len(w) > 1 and w not in STOP_WORDS]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return _stemmer().stemWord(word)


def stems(text: str) -> list[str]:
    """Stemmed words of the text, in order (duplicates kept)."""
    result = []
    for word in tokens(text):
        # Compounds with hyphens ("e-mail", "wmo-aanvraag") count as their parts and the whole.
        parts = word.split("-") if "-" in word else []
        result.append(stem(word.replace("-", "")))
        result.extend(stem(p) for p in parts if len(p) > 1 and p not in STOP_WORDS)
    return result


def search_document(*fields: str) -> str:
    """The index text stored for full-text search: unique stems, space-separated and padded
    with spaces so a query term matches whole stems only (' stem ')."""
    seen = dict.fromkeys(s for field in fields for s in stems(field))
    return " " + " ".join(seen) + " " if seen else ""


def query_terms(query: str) -> list[str]:
    """Stems of a search query (unique, in order)."""
    return list(dict.fromkeys(stems(query)))
