"""Similarity between short Dutch texts (title + summary) for "similar proposals".

Two TF-IDF views of a text, L2-normalised and concatenated, so the cosine of two texts is
``CHAR_WEIGHT`` x the cosine of the first view + (1 - ``CHAR_WEIGHT``) x that of the second:

- characters: TF-IDF over character 2–4-grams within word boundaries of the folded text
  (sklearn ``char_wb``, sublinear tf): robust to inflection, compounds and typos;
- soft words: every content word (folded, Dutch stop words removed but negations kept) is a
  unit vector of its own character 2–4-grams, weighted by the word's TF-IDF in the text. Two
  texts then score by how much their important words look alike, so "voetbalt" partly matches
  "voetballen" and "parkeervergunning" partly matches "vergunning", while a rare word counts
  for more than a common one. Words never seen when the model was fitted still get a vector
  (their n-grams) and the highest idf.

Measured on the Dutch STS benchmark (bench/similarity_quality.py): this combination beats
char n-grams alone, stemmed words alone and their concatenation. Callers only use
`SimilarityIndex(docs).most_similar(text, k)`; `pair_similarity` and `SimilarityModel` are the
same measure for pairs.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from competition.engine.text import STOP_WORDS, WORD_RE, fold

# Weight of the character view against the soft-word view (chosen on the stsb-nl dev split).
CHAR_WEIGHT = 0.4
NGRAMS = (2, 4)
# Function words that change the meaning of a sentence: kept although they are stop words.
KEPT_STOP_WORDS = frozenset({"niet", "geen", "niets", "zonder"})


def content_words(text: str) -> list[str]:
    """Folded words of the text without stop words (negations kept) and one-letter words."""
    return [w for w in WORD_RE.findall(fold(text))
            if len(w) > 1 and (w not in STOP_WORDS or w in KEPT_STOP_WORDS)]


@dataclass(frozen=True)
class Match:
    key: object
    score: float


class SimilarityModel:
    """IDF statistics fitted on a corpus; turns texts into unit vectors whose dot product is
    the similarity."""

    def __init__(self, corpus: Sequence[str]) -> None:
        folded = [fold(t) for t in corpus]
        self._char = TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAMS, sublinear_tf=True,
                                     dtype=np.float32)
        try:
            self._char.fit(folded)
        except ValueError:  # nothing to learn from (empty corpus or only blanks)
            self._char = None
        docs = [set(content_words(t)) for t in folded]
        n = len(docs)
        df: dict[str, int] = {}
        for words in docs:
            for w in words:
                df[w] = df.get(w, 0) + 1
        self._n = n
        self._idf = {w: float(np.log((1 + n) / (1 + c)) + 1) for w, c in df.items()}
        self._idf_unseen = float(np.log(1 + n) + 1)
        self._grams = TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAMS, dtype=np.float32)
        try:
            self._grams.fit(sorted(df))
        except ValueError:
            self._grams = None

    def _soft(self, texts: list[str]):
        rows = [content_words(t) for t in texts]
        vocab = sorted({w for row in rows for w in row})
        if not vocab or self._grams is None:
            return None
        index = {w: i for i, w in enumerate(vocab)}
        indptr, cols, data = [0], [], []
        for row in rows:
            counts: dict[str, int] = {}
            for w in row:
                counts[w] = counts.get(w, 0) + 1
            for w, c in sorted(counts.items()):
                cols.append(index[w])
                data.append((1 + np.log(c)) * self._idf.get(w, self._idf_unseen))
            indptr.append(len(cols))
        weights = csr_matrix((np.asarray(data, dtype=np.float32), cols, indptr),
                             shape=(len(rows), len(vocab)))
        word_vectors = normalize(self._grams.transform(vocab))
        return normalize(weights @ word_vectors)

    def vectors(self, texts: Sequence[str]):
        """Unit vectors (CSR rows; all-zero for a text without letters or digits)."""
        folded = [fold(t) for t in texts]
        parts = []
        if self._char is not None:
            parts.append(normalize(self._char.transform(folded)) * np.float32(np.sqrt(CHAR_WEIGHT)))
        soft = self._soft(folded)
        width = len(self._grams.vocabulary_) if self._grams is not None else 0
        if soft is None:
            soft = csr_matrix((len(folded), width), dtype=np.float32)
        parts.append(soft * np.float32(np.sqrt(1 - CHAR_WEIGHT)))
        return normalize(hstack(parts).tocsr()).astype(np.float32)

    def pair_scores(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """Similarity of a[i] and b[i] for every i, in [0, 1]."""
        va, vb = self.vectors(a), self.vectors(b)
        return np.clip(np.asarray(va.multiply(vb).sum(axis=1)).ravel(), 0.0, 1.0)


class SimilarityIndex:
    """An index over (key, text) pairs; fit once, query many times."""

    def __init__(self, documents: Sequence[tuple[object, str]]) -> None:
        self.keys = [key for key, _ in documents]
        texts = [text for _, text in documents]
        self._model = SimilarityModel(texts)
        self._matrix = None
        if texts and any(t.strip() for t in texts):
            self._matrix = self._model.vectors(texts)

    def most_similar(self, text: str, k: int = 5, exclude: object = None,
                     min_score: float = 0.05) -> list[Match]:
        """The k most similar documents to `text`, best first (ties by key order)."""
        if self._matrix is None or not text.strip():
            return []
        scores = (self._matrix @ self._model.vectors([text]).T).toarray().ravel()
        order = np.argsort(-scores, kind="stable")
        result = []
        for i in order:
            if scores[i] < min_score:
                break
            if exclude is not None and self.keys[i] == exclude:
                continue
            result.append(Match(self.keys[i], min(1.0, float(scores[i]))))
            if len(result) == k:
                break
        return result


def pair_similarity(a: str, b: str, corpus: Sequence[str] = ()) -> float:
    """Similarity of two texts under a model fitted on them plus `corpus`, in [0, 1]."""
    model = SimilarityModel([a, b, *corpus])
    return float(model.pair_scores([a], [b])[0])

