"""Quality of the "similar proposals" measure on the Dutch STS benchmark (stsb-nl).

Usage: .venv/bin/python bench/similarity_quality.py [--data /work/shared/data/stsb-nl]
       [--baselines]

Prints the Spearman correlation between the gold score (0–5) and
competition.engine.similarity (the pair similarity behind SimilarityIndex) on the TEST split;
target ≥ 0.70. With --baselines it also prints the dev and test figures of the simpler models
that were measured against it.

Fitting (unsupervised, no scores used): the IDF statistics are fitted once on all sentences of
the dev split and the test split together (both sides of every pair), as the index in the app is
fitted on all proposals of a round. The weights and n-gram ranges were chosen on the dev split;
the test split is only reported.
"""

import argparse
import csv
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from competition.engine import similarity
from competition.engine.text import fold, stems

DEFAULT_DATA = Path("/work/shared/data/stsb-nl")


def load(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.reader(f) if r]
    return [r[0] for r in rows], [r[1] for r in rows], np.array([float(r[2]) for r in rows])


def tfidf_scores(vectorizer, corpus, a, b):
    vectorizer.fit(corpus)
    va, vb = normalize(vectorizer.transform(a)), normalize(vectorizer.transform(b))
    return np.asarray(va.multiply(vb).sum(axis=1)).ravel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--baselines", action="store_true")
    args = parser.parse_args()
    dev = load(args.data / "stsb-nl-dev.csv")
    test = load(args.data / "stsb-nl-test.csv")
    corpus = dev[0] + dev[1] + test[0] + test[1]
    print(f"stsb-nl: dev {len(dev[2])} pairs, test {len(test[2])} pairs; "
          f"IDF fitted on {len(corpus)} sentences (dev + test, no scores)")

    start = time.perf_counter()
    model = similarity.SimilarityModel(corpus)
    results = {}
    for name, (a, b, gold) in (("dev", dev), ("test", test)):
        results[name] = spearmanr(model.pair_scores(a, b), gold).statistic
    seconds = time.perf_counter() - start
    print(f"engine (char_wb 2-4 x {similarity.CHAR_WEIGHT} + soft words): "
          f"dev {results['dev']:.4f}  TEST {results['test']:.4f}  "
          f"(target >= 0.70; {seconds:.1f} s)")

    if args.baselines:
        folded = [fold(t) for t in corpus]
        models = {
            "stemmed words (previous word model)":
                TfidfVectorizer(analyzer=stems, sublinear_tf=True),
            "char_wb 3-5 (previous char model)":
                TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True),
            "char_wb 2-4": TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4),
                                           sublinear_tf=True),
        }
        print(f"{'baseline':42s} {'dev':>7s} {'test':>7s}")
        scores = {}
        for name, vec in models.items():
            row = []
            for a, b, gold in (dev, test):
                s = tfidf_scores(vec, folded, [fold(t) for t in a], [fold(t) for t in b])
                scores.setdefault(name, []).append(s)
                row.append(spearmanr(s, gold).statistic)
            print(f"{name:42s} {row[0]:7.4f} {row[1]:7.4f}")
        old = [0.6 * c + 0.4 * w for c, w in zip(scores["char_wb 3-5 (previous char model)"],
                                                  scores["stemmed words (previous word model)"],
                                                  strict=True)]
        print(f"{'previous engine (0.6 char 3-5 + 0.4 stems)':42s} "
              f"{spearmanr(old[0], dev[2]).statistic:7.4f} "
              f"{spearmanr(old[1], test[2]).statistic:7.4f}")


if __name__ == "__main__":
    main()
