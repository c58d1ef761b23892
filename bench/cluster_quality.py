"""Quality of the clustering engine on the labelled evaluation set.

Usage: .venv/bin/python bench/cluster_quality.py [--data tests/data/proposals_eval.jsonl]
       [--compare]

Prints, for competition.engine.clustering at its DEFAULT threshold: the adjusted Rand index
against the `group` labels and the pairwise precision / recall / F1 of "same cluster"; then a
threshold sweep; then a 50/50 check against overfitting the threshold: the groups are split in
two halves at random (whole groups, five seeds), the threshold with the best ARI on one half is
reported on the other half. The engine never sees the labels.

With --compare it also prints the alternatives measured on the same TF-IDF vectors (best
threshold and the 50/50 figure for each): single linkage (= connected components of the
threshold graph), complete linkage and average linkage (the engine's choice).
"""

import argparse
import json
import random
import time
from itertools import combinations
from pathlib import Path

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.metrics import adjusted_rand_score

from competition.engine import clustering
from competition.engine.clustering import Proposal, assignments, cluster_proposals

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / "tests" / "data" / "proposals_eval.jsonl"
SWEEP = [round(t, 2) for t in np.arange(0.10, 0.305, 0.01)]


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def pairwise(gold: list[str], pred: list[object]) -> tuple[float, float, float]:
    tp = fp = fn = 0
    for i, j in combinations(range(len(gold)), 2):
        same_gold, same_pred = gold[i] == gold[j], pred[i] == pred[j]
        tp += same_gold and same_pred
        fp += same_pred and not same_gold
        fn += same_gold and not same_pred
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def engine_labels(rows: list[dict], threshold: float) -> list[int]:
    props = [Proposal(r["id"], r["title"], r["summary"], r["body"]) for r in rows]
    mapping = assignments(cluster_proposals(props, threshold))
    return [mapping[r["id"]] for r in rows]


def split_halves(rows: list[dict], seed: int) -> tuple[list[dict], list[dict]]:
    groups = sorted({r["group"] for r in rows})
    random.Random(seed).shuffle(groups)
    half = set(groups[: len(groups) // 2])
    return [r for r in rows if r["group"] in half], [r for r in rows if r["group"] not in half]


def split_check(rows: list[dict], labeller) -> list[tuple[int, float, float, float]]:
    """(seed, threshold tuned on A, ARI on B, ARI on A at B's best) for five seeds."""
    out = []
    for seed in range(5):
        a, b = split_halves(rows, seed)
        ga, gb = [r["group"] for r in a], [r["group"] for r in b]
        ari_a = {t: adjusted_rand_score(ga, labeller(a, t)) for t in SWEEP}
        ari_b = {t: adjusted_rand_score(gb, labeller(b, t)) for t in SWEEP}
        ta = max(SWEEP, key=lambda t: (ari_a[t], -abs(t - 0.2)))
        tb = max(SWEEP, key=lambda t: (ari_b[t], -abs(t - 0.2)))
        out.append((seed, ta, ari_b[ta], tb, ari_a[tb]))
    return out


def linkage_labeller(method: str):
    def labeller(rows: list[dict], threshold: float) -> list[int]:
        props = sorted((Proposal(r["id"], r["title"], r["summary"], r["body"]) for r in rows),
                       key=lambda p: p.id)
        x, _, _ = clustering.vectorize(clustering.word_features(
            [clustering._text_fields(p) for p in props]))
        sims = (x @ x.T).toarray().astype(np.float64)
        dist = np.clip(1 - sims, 0, 2)
        np.fill_diagonal(dist, 0)
        tree = linkage(squareform(dist, checks=False), method=method)
        lab = fcluster(tree, t=1 - threshold + 1e-9, criterion="distance")
        by_id = {p.id: int(lab[i]) for i, p in enumerate(props)}
        return [by_id[r["id"]] for r in rows]
    return labeller


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args()
    rows = load(args.data)
    gold = [r["group"] for r in rows]
    t = clustering.DEFAULT_THRESHOLD

    start = time.perf_counter()
    pred = engine_labels(rows, t)
    seconds = time.perf_counter() - start
    p, r, f = pairwise(gold, pred)
    print(f"{len(rows)} proposals, {len(set(gold))} gold groups (incl. singletons)")
    print(f"DEFAULT threshold {t}: ARI {adjusted_rand_score(gold, pred):.3f}  pairwise precision "
          f"{p:.3f} recall {r:.3f} F1 {f:.3f}  clusters {len(set(pred))}  ({seconds:.2f} s)")

    print("\nthreshold sweep")
    print(f"{'t':>5} {'ARI':>6} {'P':>6} {'R':>6} {'F1':>6} {'clusters':>8}")
    for th in SWEEP:
        lab = engine_labels(rows, th)
        p, r, f = pairwise(gold, lab)
        mark = "  <- default" if abs(th - t) < 1e-9 else ""
        print(f"{th:5.2f} {adjusted_rand_score(gold, lab):6.3f} {p:6.3f} {r:6.3f} {f:6.3f} "
              f"{len(set(lab)):8d}{mark}")

    print("\n50/50 split by group: threshold tuned on one half, ARI reported on the other")
    print(f"{'seed':>4} {'t(A)':>5} {'ARI B':>6} {'t(B)':>5} {'ARI A':>6}")
    held_out = []
    for seed, ta, ari_b, tb, ari_a in split_check(rows, engine_labels):
        print(f"{seed:4d} {ta:5.2f} {ari_b:6.3f} {tb:5.2f} {ari_a:6.3f}")
        held_out += [ari_b, ari_a]
    print(f"held-out ARI: mean {np.mean(held_out):.3f}, min {min(held_out):.3f}")
    default_halves = []
    for seed in range(5):
        for half in split_halves(rows, seed):
            default_halves.append(adjusted_rand_score([x["group"] for x in half],
                                                      engine_labels(half, t)))
    print(f"DEFAULT threshold on the 10 halves: mean ARI {np.mean(default_halves):.3f}, "
          f"min {min(default_halves):.3f}")

    if args.compare:
        print("\nalternatives on the same vectors (best threshold; held-out ARI as above)")
        for name, method in (("single linkage = connected components", "single"),
                             ("complete linkage", "complete"),
                             ("average linkage (engine)", "average")):
            lab_fn = linkage_labeller(method)
            aris = {th: adjusted_rand_score(gold, lab_fn(rows, th)) for th in SWEEP}
            best = max(SWEEP, key=lambda th: aris[th])
            held = [x for _, _, b, _, a in split_check(rows, lab_fn) for x in (b, a)]
            print(f"{name:40s} best ARI {aris[best]:.3f} at {best:.2f}; "
                  f"held-out mean {np.mean(held):.3f}")


if __name__ == "__main__":
    main()
