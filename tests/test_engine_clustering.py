"""The clustering engine (competition.engine.clustering) and the similarity measure: pure
functions, no app, no database."""

import ast
import io
import json
import random
from pathlib import Path

import pytest
from sklearn.metrics import adjusted_rand_score

from competition.engine import clustering
from competition.engine.clustering import (
    DEFAULT_THRESHOLD,
    InputError,
    Proposal,
    assignments,
    cluster_jsonl,
    cluster_proposals,
)
from competition.engine.similarity import SimilarityIndex, pair_similarity

EVAL = Path(__file__).resolve().parent / "data" / "proposals_eval.jsonl"

PASPOORT = ("Paspoort online aanvragen",
            "Inwoners vragen hun paspoort en identiteitskaart online aan en komen alleen nog "
            "langs voor de vingerafdrukken.")
AFVAL = ("Afvalkalender als app",
         "Een app met de ophaaldagen van gft, papier en restafval per adres, met meldingen.")
BOMEN = ("Bomenregister voor groenbeheer",
         "Alle bomen in de openbare ruimte in een register met soort, leeftijd en inspecties.")


def prop(pid: str, title: str, description: str = "", summary: str = "") -> Proposal:
    return Proposal(id=pid, title=title, summary=summary, description=description)


def partition(clusters) -> set[frozenset[str]]:
    return {frozenset(c.ids) for c in clusters}


@pytest.fixture(scope="module")
def eval_rows() -> list[dict]:
    return [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def eval_clusters(eval_rows):
    return cluster_proposals(Proposal(r["id"], r["title"], r["summary"], r["body"])
                             for r in eval_rows)


def test_identical_texts_cluster_together_and_unrelated_do_not():
    items = [prop("a", *PASPOORT), prop("b", *PASPOORT), prop("c", *AFVAL), prop("d", *BOMEN)]
    clusters = cluster_proposals(items)
    assert partition(clusters) == {frozenset("ab"), frozenset("c"), frozenset("d")}
    pair = next(c for c in clusters if len(c) == 2)
    assert pair.id == 1  # largest first
    assert all(m.similarity == pytest.approx(1.0) for m in pair.members)


def test_identical_texts_cluster_even_at_threshold_one():
    items = [prop("a", *PASPOORT), prop("b", *PASPOORT), prop("c", *AFVAL)]
    assert partition(cluster_proposals(items, threshold=1.0)) == {frozenset("ab"),
                                                                   frozenset("c")}


def test_near_duplicates_with_different_wording_cluster():
    items = [
        prop("1", "Paspoort en ID-kaart online aanvragen",
             "Burgers bereiden de aanvraag van hun reisdocument thuis voor, met digitale "
             "pasfoto en betaling; aan de balie alleen nog vingerafdrukken."),
        prop("2", "Reisdocumenten digitaal aanvragen",
             "Inwoners vragen paspoort of identiteitskaart online aan, uploaden een pasfoto en "
             "betalen vooraf; de balie neemt alleen vingerafdrukken af."),
        prop("3", *AFVAL),
    ]
    assert partition(cluster_proposals(items)) == {frozenset("12"), frozenset("3")}


def test_deterministic_and_independent_of_input_order(eval_rows):
    items = [Proposal(r["id"], r["title"], r["summary"], r["body"]) for r in eval_rows[:120]]
    first = cluster_proposals(items)
    assert cluster_proposals(items) == first
    shuffled = items[:]
    random.Random(7).shuffle(shuffled)
    again = cluster_proposals(shuffled)
    assert partition(again) == partition(first)
    assert again == first  # same ids, labels and similarities too


def test_empty_and_single_input():
    assert cluster_proposals([]) == []
    [only] = cluster_proposals([prop("x1", *PASPOORT)])
    assert only.id == 1 and only.ids == ["x1"]
    assert only.members[0].similarity == 1.0
    assert only.label  # a singleton gets its own terms


@pytest.mark.parametrize("texts", [
    ["x", "", "🙂🙂", "   "],
    ["The quick brown fox", "Open data portal for the city", "x"],
    ["🚲🚲🚲", "🚲🚲🚲"],
    ["de het een", "de het een"],  # only stop words
    ["", ""],
])
def test_odd_texts_do_not_crash(texts):
    items = [prop(f"p{i}", t) for i, t in enumerate(texts)]
    clusters = cluster_proposals(items)
    assert sorted(i for c in clusters for i in c.ids) == sorted(p.id for p in items)
    for c in clusters:
        assert isinstance(c.label, str)
        assert all(0.0 <= m.similarity <= 1.0 for m in c.members)


def test_english_and_dutch_mixed():
    items = [prop("en1", "Open data portal", "Publish open data sets about the city."),
             prop("en2", "Open data portal", "Publish open data sets about the city."),
             prop("nl", *BOMEN)]
    assert partition(cluster_proposals(items)) == {frozenset(["en1", "en2"]),
                                                   frozenset(["nl"])}


def test_duplicate_ids_and_bad_threshold_are_rejected():
    with pytest.raises(ValueError, match="duplicate"):
        cluster_proposals([prop("a", "x"), prop("a", "y")])
    for bad in (0, -0.1, 1.5):
        with pytest.raises(ValueError, match="threshold"):
            cluster_proposals([prop("a", "x")], threshold=bad)


def test_threshold_controls_granularity(eval_rows):
    items = [Proposal(r["id"], r["title"], r["summary"], r["body"]) for r in eval_rows]
    loose = cluster_proposals(items, threshold=0.10)
    tight = cluster_proposals(items, threshold=0.30)
    assert len(loose) < len(cluster_proposals(items)) < len(tight)
    assert len(cluster_proposals(items, threshold=1.0)) >= len(tight)


def test_labels_are_readable_words_from_the_members(eval_rows, eval_clusters):
    text = {r["id"]: f"{r['title']} {r['summary']} {r['body']}".lower() for r in eval_rows}
    for c in eval_clusters:
        assert 1 <= len(c.terms) <= clustering.LABEL_TERMS
        assert c.label == ", ".join(c.terms)
        for term in c.terms:
            # a surface form that occurs in a member's text, not a stem
            assert any(term in text[i] for i in c.ids), (term, c.ids)
    by_members = {frozenset(c.ids): c for c in eval_clusters}
    paspoort = max(by_members.values(),
                   key=lambda c: sum("paspoort" in text[i] for i in c.ids))
    assert {"paspoort", "reisdocument"} & set(paspoort.terms)


def test_labels_restore_accents():
    items = [prop("a", "Financiële ondersteuning aanvragen", "financiële hulp voor gezinnen"),
             prop("b", "Financiële ondersteuning online", "financiële hulp voor gezinnen")]
    [c] = cluster_proposals(items)
    assert "financiële" in c.terms


def test_member_similarities_are_in_unit_interval(eval_clusters):
    for c in eval_clusters:
        assert c.ids == sorted(c.ids)
        for m in c.members:
            assert 0.0 <= m.similarity <= 1.0
        if len(c) == 1:
            assert c.members[0].similarity == 1.0
    assert [c.id for c in eval_clusters] == list(range(1, len(eval_clusters) + 1))
    sizes = [len(c) for c in eval_clusters]
    assert sizes == sorted(sizes, reverse=True)


def test_quality_on_the_eval_set(eval_rows, eval_clusters):
    """Regression guard, not a timing test: the default threshold keeps ARI ≥ 0.8."""
    mapping = assignments(eval_clusters)
    ari = adjusted_rand_score([r["group"] for r in eval_rows],
                              [mapping[r["id"]] for r in eval_rows])
    assert ari >= 0.8, ari


def test_candidate_path_agrees_with_exact_path(eval_rows, monkeypatch):
    """Above EXACT_LIMIT neighbours come from pruned candidates; on the eval set the partition
    must stay (nearly) the same."""
    items = [Proposal(r["id"], r["title"], r["summary"], r["body"]) for r in eval_rows]
    exact = assignments(cluster_proposals(items))
    monkeypatch.setattr(clustering, "EXACT_LIMIT", 0)
    monkeypatch.setattr(clustering, "MIN_PRUNE_DF", 10)
    approx = assignments(cluster_proposals(items))
    ids = sorted(exact)
    assert adjusted_rand_score([exact[i] for i in ids], [approx[i] for i in ids]) >= 0.95


def test_large_components_are_split(eval_rows, monkeypatch):
    items = [Proposal(r["id"], r["title"], r["summary"], r["body"]) for r in eval_rows]
    monkeypatch.setattr(clustering, "MAX_COMPONENT", 20)
    clusters = cluster_proposals(items, threshold=0.12)
    assert sorted(i for c in clusters for i in c.ids) == sorted(p.id for p in items)
    identical = [prop(f"d{i:02d}", *PASPOORT) for i in range(30)]
    assert [len(c) for c in cluster_proposals(identical)] == [30]


def test_engine_modules_import_no_flask():
    """The engine package stays pure (the package `competition` itself imports Flask, so the
    check reads the engine's own imports)."""
    engine_dir = Path(clustering.__file__).parent
    for path in sorted(engine_dir.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert not name.startswith(("flask", "competition.extensions",
                                            "competition.models")), (path.name, name)


# --- JSON Lines ----------------------------------------------------------------------------


def run_jsonl(text: str, threshold=None) -> list[dict]:
    out = io.StringIO()
    cluster_jsonl(io.StringIO(text), out, threshold=threshold)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_cluster_jsonl_round_trip():
    lines = [
        {"id": "b", "title": PASPOORT[0], "body": PASPOORT[1]},
        {"id": 7, "title": AFVAL[0], "body": AFVAL[1], "domain": "afval"},
        {"id": "a", "title": PASPOORT[0], "body": PASPOORT[1], "domain": None},
    ]
    text = "\n".join(json.dumps(x) for x in lines) + "\n\n"
    out = run_jsonl(text)
    assert [o["id"] for o in out] == ["b", 7, "a"]  # input order, ids as given
    assert out[0]["cluster"] == out[2]["cluster"] == 1
    assert out[1]["cluster"] == 2
    assert all(isinstance(o["cluster"], int) for o in out)
    assert run_jsonl(text) == out
    assert run_jsonl(text, threshold=1.0)[1]["cluster"] != out[0]["cluster"]


def test_cluster_jsonl_matches_engine(eval_rows):
    text = "".join(json.dumps({"id": r["id"], "title": r["title"],
                               "body": r["summary"] + " " + r["body"]}) + "\n"
                   for r in eval_rows)
    out = run_jsonl(text)
    assert [o["id"] for o in out] == [r["id"] for r in eval_rows]
    ari = adjusted_rand_score([r["group"] for r in eval_rows], [o["cluster"] for o in out])
    assert ari >= 0.8


def test_cluster_jsonl_empty_input():
    assert run_jsonl("") == []
    assert run_jsonl("\n  \n") == []


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ('{"id": 1, "title": "a", "body": "b"}\n{not json}\n', 2, "not valid JSON"),
    ('[1, 2]\n', 1, "JSON object"),
    ('{"title": "a", "body": "b"}\n', 1, "'id'"),
    ('{"id": "", "title": "a", "body": "b"}\n', 1, "'id'"),
    ('{"id": true, "title": "a", "body": "b"}\n', 1, "'id'"),
    ('{"id": 1, "body": "b"}\n', 1, "missing 'title'"),
    ('{"id": 1, "title": "a"}\n', 1, "missing 'body'"),
    ('{"id": 1, "title": 5, "body": "b"}\n', 1, "'title' must be a string"),
    ('{"id": 1, "title": "a", "body": "b", "domain": 3}\n', 1, "'domain'"),
    ('{"id": 1, "title": "a", "body": "b"}\n\n{"id": 1, "title": "c", "body": "d"}\n', 3,
     "duplicate id 1 (first on line 1)"),
])
def test_cluster_jsonl_errors_name_the_line(text, line, fragment):
    out = io.StringIO()
    with pytest.raises(InputError) as info:
        cluster_jsonl(io.StringIO(text), out)
    assert isinstance(info.value, ValueError)
    assert info.value.line == line
    assert str(info.value).startswith(f"line {line}: ")
    assert fragment in str(info.value)
    assert out.getvalue() == ""  # nothing written before the whole input is valid


def test_default_threshold_is_used_by_jsonl():
    assert 0 < DEFAULT_THRESHOLD < 1


# --- similarity ("similar proposals") ------------------------------------------------------


def test_similarity_index_finds_the_closest():
    docs = [(1, ". ".join(PASPOORT)), (2, ". ".join(AFVAL)), (3, ". ".join(BOMEN))]
    index = SimilarityIndex(docs)
    matches = index.most_similar("Online een nieuw paspoort aanvragen", k=2)
    assert matches[0].key == 1
    assert all(0 <= m.score <= 1 for m in matches)
    assert next(m.key for m in index.most_similar(docs[1][1], k=3, exclude=2)) != 2
    assert index.most_similar("", k=3) == []
    assert SimilarityIndex([]).most_similar("paspoort") == []
    assert SimilarityIndex([(1, "  ")]).most_similar("paspoort") == []


def test_pair_similarity():
    assert pair_similarity("Een man speelt gitaar.", "Een man speelt gitaar.") == pytest.approx(1)
    close = pair_similarity("Een man speelt gitaar.", "Een man bespeelt een gitaar.")
    far = pair_similarity("Een man speelt gitaar.", "De kat slaapt op de bank.")
    assert 0 <= far < close <= 1
    assert pair_similarity("", "🙂") == 0.0
    unseen = pair_similarity("parkeervergunning", "parkeervergunningen", corpus=["fiets"])
    assert unseen > 0.5
