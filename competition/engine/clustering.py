"""Clustering of proposals with the same intent, offline, for Dutch text.

Pipeline (every step chosen by measurement: bench/cluster_quality.py, bench/cluster_speed.py):

1. Representation: TF-IDF (sublinear tf, smooth idf, L2) over character 4-grams of the words
   (each word padded with spaces, as sklearn's ``char_wb``), after folding accents and dropping
   Dutch stop words; the title counts twice. Character n-grams match inflections, compounds
   (parkeervergunning / vergunning) and typos without a stemmer. The n-gram vector of a
   proposal is computed as (word counts) x (word → n-gram counts), so the n-grams of each
   distinct word are built once.
2. Neighbours: all pairs with cosine ≥ threshold. Up to ``EXACT_LIMIT`` proposals they come
   from exact sparse products in row blocks; above it, each proposal keeps only its heaviest
   rare n-grams, pairs sharing those are ranked by that partial score, and the top
   ``NEIGHBOURS`` of every proposal are rescored with the exact cosine (a truncated SVD for the
   candidates was measured too: slower, because of the dense top-k over n x n blocks). No
   n x n matrix is ever built.
3. Clusters: average linkage with a distance threshold (1 - threshold), run separately on each
   connected component of the graph "cosine ≥ threshold". Two clusters are only merged by
   average linkage if at least one pair between them reaches the threshold, so this equals
   average linkage on the whole set while each component needs only its own small matrix.
   Average linkage does not chain the way connected components do. A component larger than
   ``MAX_COMPONENT`` is split first by raising its edge threshold step by step.
4. Output: clusters sorted by size (largest first) then smallest id, numbered from 1; members
   sorted by id with their cosine to the cluster centroid; a label made of the cluster's most
   characteristic word stems (shared by many members, rare elsewhere) shown as the most frequent
   surface form of each stem.

The engine sorts its input by id first, so the partition does not depend on input order.
Pure module: no Flask, no database.
"""

from __future__ import annotations

import json
import math
import re
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import IO

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse import coo_matrix, csr_matrix, diags
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import squareform
from sklearn.preprocessing import normalize

from competition.engine.text import STOP_WORDS, fold, stem

# Average cosine at which two groups of proposals merge. Chosen on the labelled evaluation set
# (bench/cluster_quality.py prints the sweep and a 50/50 split check).
DEFAULT_THRESHOLD = 0.17
NGRAM = 4
TITLE_WEIGHT = 2
EXACT_LIMIT = 2500  # up to this many proposals, neighbours come from exact sparse products
NEIGHBOURS = 20  # candidates rescored per proposal above EXACT_LIMIT
PRUNED_FEATURES = 30  # heaviest n-grams per proposal used to find candidates
PRUNE_DF_FRACTION = 0.01  # ... among n-grams in at most this share of proposals
MIN_PRUNE_DF = 50
MAX_COMPONENT = 2000  # largest connected component clustered in one dense matrix
LABEL_TERMS = 3
_EPS = 1e-6  # float32 rounding: identical texts score 0.99999994

_WORD_RE = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)
_SPLIT_RE = re.compile(r"[-'’]")


@dataclass(frozen=True)
class Proposal:
    """One proposal as the engine sees it. `domain` is carried along but is deliberately not a
    feature: proposals with different intents often share a domain."""

    id: str
    title: str
    summary: str = ""
    description: str = ""
    domain: str | None = None


@dataclass(frozen=True)
class Member:
    id: str
    similarity: float  # cosine to the cluster centroid, in [0, 1]; 1.0 for a singleton


@dataclass(frozen=True)
class Cluster:
    id: int
    label: str
    terms: tuple[str, ...]
    members: tuple[Member, ...] = field(default_factory=tuple)

    @property
    def ids(self) -> list[str]:
        return [m.id for m in self.members]

    def __len__(self) -> int:
        return len(self.members)


class InputError(ValueError):
    """A malformed line in a JSON Lines input; `line` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


# --- text analysis -------------------------------------------------------------------------


@lru_cache(maxsize=262144)
def _analyse_word(word: str) -> tuple[tuple[str, str], ...]:
    """(folded form, surface form) of the content parts of one lower-cased word: nothing for
    stop words and one-letter words; a hyphenated compound ("wmo-aanvraag") counts as its
    parts."""
    pieces = _SPLIT_RE.split(word) if _SPLIT_RE.search(word) else [word]
    result = []
    for piece in pieces:
        folded = fold(piece)
        if len(folded) > 1 and folded not in STOP_WORDS:
            result.append((folded, piece))
    return tuple(result)


@lru_cache(maxsize=262144)
def _word_ngrams(word: str) -> tuple[str, ...]:
    padded = f" {word} "
    return tuple(padded[i : i + NGRAM] for i in range(len(padded) - NGRAM + 1))


def _analyse(text: str, surfaces: Counter) -> list[str]:
    """Folded content words of the text; counts the accented surface forms in `surfaces`."""
    features: list[str] = []
    for word in _WORD_RE.findall(text.lower()):
        for folded, surface in _analyse_word(word):
            features.append(folded)
            if surface != folded:
                surfaces[(folded, surface)] += 1
    return features


# --- representation ------------------------------------------------------------------------


def _count_matrix(rows: list[list[str]]) -> tuple[csr_matrix, list[str]]:
    """Term counts (float32 CSR) with a sorted vocabulary."""
    vocab = sorted({t for row in rows for t in row})
    index = {t: i for i, t in enumerate(vocab)}
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    cols = array("q")  # machine integers: a list of Python ints would cost 36 bytes each
    for r, row in enumerate(rows):
        cols.extend(index[t] for t in row)
        indptr[r + 1] = len(cols)
    data = np.ones(len(cols), dtype=np.float32)
    matrix = csr_matrix((data, np.frombuffer(cols, dtype=np.int64), indptr),
                        shape=(len(rows), len(vocab)))
    matrix.sum_duplicates()
    return matrix, vocab


def _tfidf(counts: csr_matrix) -> csr_matrix:
    """Sublinear tf x smooth idf, rows L2-normalised (all-zero rows stay zero)."""
    x = counts.tocsr().astype(np.float32)
    x.data = 1.0 + np.log(x.data)
    n = x.shape[0]
    df = np.bincount(x.indices, minlength=x.shape[1])
    idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
    return normalize(x @ diags(idf), copy=False).astype(np.float32)


def vectorize(word_rows: list[list[str]]) -> tuple[csr_matrix, csr_matrix, list[str]]:
    """TF-IDF over character n-grams of the given word lists (one list per document), with the
    word counts and their vocabulary."""
    counts, vocab = _count_matrix(word_rows)
    if counts.shape[1] == 0:
        return csr_matrix((len(word_rows), 0), dtype=np.float32), counts, vocab
    word_grams, _ = _count_matrix([list(_word_ngrams(w)) for w in vocab])
    return _tfidf(counts @ word_grams), counts, vocab


# --- neighbour graph -----------------------------------------------------------------------


def _exact_edges(x: csr_matrix, threshold: float, block: int = 512):
    n = x.shape[0]
    rows, cols, vals = [], [], []
    xt = x.T.tocsc()
    for start in range(0, n, block):
        sims = (x[start : start + block] @ xt).toarray()
        r, c = np.nonzero(sims >= threshold - _EPS)
        r_abs = r + start
        keep = c > r_abs
        rows.append(r_abs[keep])
        cols.append(c[keep])
        vals.append(sims[r[keep], c[keep]])
    return _concat(rows, cols, vals)


def _candidate_edges(x: csr_matrix, threshold: float, block: int = 512):
    """Candidate pairs from the heaviest rare features, rescored with the exact cosine.

    Each proposal keeps its ``PRUNED_FEATURES`` heaviest n-grams among those in at most
    ``max_df`` proposals; pairs sharing such n-grams are ranked by that partial dot product
    and the top ``NEIGHBOURS`` of every proposal are rescored exactly. Similar proposals share
    distinctive words, so they meet here, while the sparse product stays cheap."""
    n = x.shape[0]
    max_df = max(MIN_PRUNE_DF, int(PRUNE_DF_FRACTION * n))
    df = np.bincount(x.indices, minlength=x.shape[1])
    pruned = x.copy()
    pruned.data[df[pruned.indices] > max_df] = 0
    pruned.eliminate_zeros()
    # keep the heaviest PRUNED_FEATURES per row
    row_of = np.repeat(np.arange(n), np.diff(pruned.indptr))
    order = np.lexsort((-pruned.data, row_of))
    rank = np.arange(len(order)) - pruned.indptr[row_of[order]]
    keep = np.zeros(len(order), dtype=bool)
    keep[order[rank < PRUNED_FEATURES]] = True
    pruned.data[~keep] = 0
    pruned.eliminate_zeros()
    pruned_t = pruned.T.tocsr()
    rows, cols = [], []
    for start in range(0, n, block):
        partial = (pruned[start : start + block] @ pruned_t).tocoo()
        r = partial.row.astype(np.int64) + start
        c = partial.col.astype(np.int64)
        v = partial.data
        other = r != c
        r, c, v = r[other], c[other], v[other]
        order = np.lexsort((c, -v, r))
        r, c = r[order], c[order]
        first = np.searchsorted(r, r, side="left")
        top = (np.arange(len(r)) - first) < NEIGHBOURS
        r, c = r[top], c[top]
        # rescoring: pairs (i < j) once
        lo, hi = np.minimum(r, c), np.maximum(r, c)
        rows.append(lo)
        cols.append(hi)
    if not rows:
        return _concat([], [], [])
    lo = np.concatenate(rows)
    hi = np.concatenate(cols)
    pairs = np.unique(lo * n + hi)
    lo, hi = pairs // n, pairs % n
    out_r, out_c, out_v = [], [], []
    chunk = 20000
    for s0 in range(0, len(lo), chunk):
        a_idx, b_idx = lo[s0 : s0 + chunk], hi[s0 : s0 + chunk]
        exact = np.asarray(x[a_idx].multiply(x[b_idx]).sum(axis=1)).ravel()
        ok = exact >= threshold - _EPS
        out_r.append(a_idx[ok])
        out_c.append(b_idx[ok])
        out_v.append(exact[ok])
    return _concat(out_r, out_c, out_v)


def _concat(rows, cols, vals):
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float32)
    return (np.concatenate(rows).astype(np.int64), np.concatenate(cols).astype(np.int64),
            np.concatenate(vals).astype(np.float32))


def _components(n: int, rows, cols) -> list[np.ndarray]:
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    count, labels = connected_components(graph, directed=False)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(count + 1))
    return [order[bounds[i] : bounds[i + 1]] for i in range(count)]


def _cluster_component(x: csr_matrix, members: np.ndarray, threshold: float) -> list[np.ndarray]:
    if len(members) == 1:
        return [members]
    sub = x[members]
    sims = (sub @ sub.T).toarray().astype(np.float64)
    distances = np.clip(1.0 - sims, 0.0, 2.0)
    np.fill_diagonal(distances, 0.0)
    tree = linkage(squareform(distances, checks=False), method="average")
    labels = fcluster(tree, t=1.0 - threshold + _EPS, criterion="distance")
    return [members[labels == lab] for lab in np.unique(labels)]


def _split_large(x, members, rows, cols, vals, threshold):
    """Components too large for a dense matrix: raise the edge threshold until they fall apart."""
    position = np.full(x.shape[0], -1, dtype=np.int64)
    position[members] = np.arange(len(members))
    inside = (position[rows] >= 0) & (position[cols] >= 0)
    r, c, v = position[rows[inside]], position[cols[inside]], vals[inside]
    edge = threshold
    while True:
        edge = min(1.0, edge + 0.02)
        keep = v >= edge
        parts = _components(len(members), r[keep], c[keep])
        if edge >= 1.0 or all(len(p) <= MAX_COMPONENT for p in parts):
            break
    result = []
    for part in parts:
        if len(part) > MAX_COMPONENT:  # near-identical texts: one cluster
            result.append(members[part])
        else:
            result.extend(_cluster_component(x, members[part], threshold))
    return result


def _partition(x: csr_matrix, threshold: float) -> list[np.ndarray]:
    n = x.shape[0]
    if n == 0:
        return []
    if x.shape[1] == 0 or n == 1:
        return [np.array([i]) for i in range(n)]
    if n <= EXACT_LIMIT:
        rows, cols, vals = _exact_edges(x, threshold)
    else:
        rows, cols, vals = _candidate_edges(x, threshold)
    groups: list[np.ndarray] = []
    for comp in _components(n, rows, cols):
        if len(comp) > MAX_COMPONENT:
            groups.extend(_split_large(x, comp, rows, cols, vals, threshold))
        else:
            groups.extend(_cluster_component(x, comp, threshold))
    return groups


# --- labels and member similarity ----------------------------------------------------------


def _labels(groups: list[np.ndarray], counts: csr_matrix, vocab: list[str],
            surfaces: Counter) -> list[list[str]]:
    """Most characteristic terms of each cluster, as readable words.

    A cluster's candidate words are those used by at least two members; they are grouped by
    their Dutch stem (dutch_porter), and a stem scores (share of members using it)² x idf, so
    terms most members share and few other proposals use come first. A singleton shows its own
    highest tf-idf words. Each stem is shown as the word of that stem most used in the cluster,
    in its most frequent spelling (accents restored)."""
    n = counts.shape[0]
    present = counts.copy()
    present.data[:] = 1
    df = np.bincount(present.indices, minlength=present.shape[1])
    idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
    spelling: dict[str, str] = {}
    for (folded, surface), _count in sorted(surfaces.items(), key=lambda kv: (-kv[1], kv[0])):
        spelling.setdefault(folded, surface)
    usable = np.array([len(w) > 2 and not w.isdigit() for w in vocab], dtype=bool)
    stem_ids: dict[str, int] = {}
    stem_of_col: dict[int, int] = {}
    result = []
    for members in groups:
        starts, stops = counts.indptr[members], counts.indptr[members + 1]
        if len(members) == 1:
            cols = counts.indices[starts[0] : stops[0]]
            tf = counts.data[starts[0] : stops[0]]
            scores = {int(col): (1 + math.log(t)) * idf[col]
                      for col, t in zip(cols, tf, strict=True) if usable[col]}
            ranked_cols = sorted(scores, key=lambda c: (-scores[c], vocab[c]))
            candidates = [vocab[col] for col in ranked_cols]
        else:
            size = len(members)
            doc = np.repeat(np.arange(size), stops - starts)
            cols = np.concatenate([counts.indices[a:b] for a, b in zip(starts, stops, strict=True)])
            used_cols, used = np.unique(cols, return_counts=True)
            cand = used_cols[(used >= 2) & usable[used_cols]]
            uses = dict(zip(used_cols.tolist(), used.tolist(), strict=True))
            for col in cand.tolist():
                if col not in stem_of_col:
                    stem_of_col[col] = stem_ids.setdefault(stem(vocab[col]), len(stem_ids))
            inside = np.isin(cols, cand)
            sid = np.array([stem_of_col[c] for c in cols[inside].tolist()], dtype=np.int64)
            pairs = np.unique(doc[inside] * (len(stem_ids) + 1) + sid)
            share = Counter((pairs % (len(stem_ids) + 1)).tolist())
            words_of: dict[int, list[int]] = {}
            for col in cand.tolist():
                words_of.setdefault(stem_of_col[col], []).append(col)
            scores = {}
            chosen = {}
            for key, word_cols in words_of.items():
                stem_df = min(n, int(df[word_cols].sum()))
                scores[key] = (share[key] / size) ** 2 * math.log((1.0 + n) / stem_df)
                best = max(word_cols, key=lambda c: (uses[c], -len(vocab[c]), -c))
                chosen[key] = vocab[best]
            ranked = sorted(scores, key=lambda k: (-scores[k], chosen[k]))
            candidates = [chosen[k] for k in ranked]
        terms: list[str] = []
        for word in candidates:
            # Skip a variant of a term already shown (subsidie / subsidies).
            if not any(word.startswith(t) or t.startswith(word) for t in terms):
                terms.append(word)
            if len(terms) == LABEL_TERMS:
                break
        result.append([spelling.get(t, t) for t in terms])
    return result


def _centroid_similarities(x: csr_matrix, groups: list[np.ndarray]) -> np.ndarray:
    n = x.shape[0]
    sims = np.ones(n, dtype=np.float64)
    for members in groups:
        if len(members) < 2:
            continue
        sub = x[members]
        centroid = np.asarray(sub.sum(axis=0)).ravel()
        norm = np.linalg.norm(centroid)
        if norm == 0:
            sims[members] = 0.0
            continue
        sims[members] = np.clip(sub @ (centroid / norm), 0.0, 1.0)
    return sims


# --- public API ----------------------------------------------------------------------------


def _text_fields(p: Proposal) -> str:
    return "\n".join([p.title] * TITLE_WEIGHT + [p.summary or "", p.description or ""])


def cluster_proposals(proposals: Iterable[Proposal],
                      threshold: float | None = None) -> list[Cluster]:
    """Cluster proposals with the same intent. Singletons are clusters of one.

    `threshold` (0 < t ≤ 1, default DEFAULT_THRESHOLD): the average cosine similarity at which
    groups merge; higher gives smaller, tighter clusters.
    """
    threshold = DEFAULT_THRESHOLD if threshold is None else float(threshold)
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    items = sorted(proposals, key=lambda p: p.id)
    ids = [p.id for p in items]
    if len(set(ids)) != len(ids):
        dup = next(i for i, c in Counter(ids).items() if c > 1)
        raise ValueError(f"duplicate proposal id {dup!r}")
    if not items:
        return []
    surfaces: Counter = Counter()
    x, counts, vocab = vectorize([_analyse(_text_fields(p), surfaces) for p in items])
    groups = _partition(x, threshold)
    # Stable order: largest first, then by smallest id (indices follow the id order).
    groups = [np.sort(g) for g in groups]
    groups.sort(key=lambda g: (-len(g), int(g[0])))
    label_terms = _labels(groups, counts, vocab, surfaces)
    sims = _centroid_similarities(x, groups)
    clusters = []
    for number, (members, terms) in enumerate(zip(groups, label_terms, strict=True), start=1):
        clusters.append(Cluster(
            id=number,
            label=", ".join(terms),
            terms=tuple(terms),
            members=tuple(Member(ids[i], round(float(sims[i]), 4)) for i in members),
        ))
    return clusters


def assignments(clusters: Sequence[Cluster]) -> dict[str, int]:
    """Proposal id → cluster id."""
    return {m.id: c.id for c in clusters for m in c.members}


# --- JSON Lines ----------------------------------------------------------------------------


def _read_jsonl(in_stream: IO[str]) -> tuple[list[object], list[Proposal]]:
    originals: list[object] = []
    proposals: list[Proposal] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(in_stream, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(number, f"not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise InputError(number, "expected a JSON object")
        raw_id = obj.get("id")
        if isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or raw_id == "":
            raise InputError(number, "missing or invalid 'id' (a non-empty string or integer)")
        for key in ("title", "body"):
            if key not in obj:
                raise InputError(number, f"missing '{key}'")
            if not isinstance(obj[key], str):
                raise InputError(number, f"'{key}' must be a string")
        domain = obj.get("domain")
        if domain is not None and not isinstance(domain, str):
            raise InputError(number, "'domain' must be a string or null")
        key = str(raw_id)
        if key in seen:
            raise InputError(number, f"duplicate id {raw_id!r} (first on line {seen[key]})")
        seen[key] = number
        originals.append(raw_id)
        proposals.append(Proposal(id=key, title=obj["title"], summary="",
                                  description=obj["body"], domain=domain))
    return originals, proposals


def cluster_jsonl(in_stream: IO[str], out_stream: IO[str],
                  threshold: float | None = None) -> None:
    """Read proposals as JSON Lines ({"id", "title", "body", "domain"?}) and write
    {"id": ..., "cluster": n} per proposal, in input order. Cluster numbers are small integers
    from 1 (largest cluster first). Raises InputError (a ValueError) naming the line of the
    first malformed line, before writing anything; empty input writes nothing."""
    originals, proposals = _read_jsonl(in_stream)
    if not proposals:
        return
    mapping = assignments(cluster_proposals(proposals, threshold))
    for raw_id, proposal in zip(originals, proposals, strict=True):
        out_stream.write(json.dumps({"id": raw_id, "cluster": mapping[proposal.id]},
                                    ensure_ascii=False) + "\n")


def word_features(texts: Sequence[str]) -> list[list[str]]:
    """Feature words of texts as the clustering sees them (for benchmarks and tests)."""
    return [_analyse(t, Counter()) for t in texts]


__all__ = [
    "DEFAULT_THRESHOLD",
    "Cluster",
    "InputError",
    "Member",
    "Proposal",
    "assignments",
    "cluster_jsonl",
    "cluster_proposals",
]
