"""Speed and peak memory of the clustering engine on synthetic rounds.

Usage: .venv/bin/python bench/cluster_speed.py [--sizes 1000 10000 50000] [--threshold T]

Each size runs in a fresh subprocess, so the peak resident memory (ru_maxrss of that process,
which counts numpy/scipy buffers that tracemalloc misses) belongs to that size alone. The
printed seconds cover the engine call only (vectorising, neighbours, clustering, labels);
generating the texts and starting Python are not counted, but their memory is (the baseline
column shows the process before the engine ran).

Synthetic proposals are built from the vocabulary and sentences of
tests/data/proposals_eval.jsonl: every synthetic group takes the sentences of one labelled
group, gets three invented compound "topic" words (as Dutch plans have: e.g.
"meldingenkaart") and a "dialect" (half of its words consistently swapped for other words of
the set, so groups drawn from the same labelled group differ); each member mixes 3-7 of those
sentences with 10% of the words replaced by random words, 8% dropped and topic words sprinkled
in; group sizes follow a
long-tailed distribution with many singletons. The same generator with the same seed gives the
same texts. Targets: 10,000 under 10 s, 50,000 under 60 s, peak memory under 2 GB.
"""

import argparse
import json
import random
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT / "tests" / "data" / "proposals_eval.jsonl"
SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")
GROUP_SIZES = [1, 1, 1, 1, 2, 2, 3, 3, 4, 5, 6, 8, 10, 15]


def generate(n: int, seed: int = 0) -> list[dict]:
    """n synthetic proposals {id, group, title, summary, description}."""
    rng = random.Random(seed)
    rows = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines()]
    by_group: dict[str, list[dict]] = {}
    for row in rows:
        by_group.setdefault(row["group"], []).append(row)
    groups = sorted(by_group)
    vocab = sorted({w.lower() for r in rows for w in re.findall(r"[^\W\d_]{4,}", r["body"])})
    out: list[dict] = []
    number = 0
    while len(out) < n:
        size = min(n - len(out), rng.choice(GROUP_SIZES))
        base = by_group[rng.choice(groups)]
        topic = [rng.choice(vocab) + rng.choice(vocab) for _ in range(3)]
        sentences = [s for r in base for s in SENTENCE_RE.split(r["summary"] + " " + r["body"])]
        titles = [r["title"] for r in base]

        # A group "dialect": half of the base words consistently replaced by other words,
        # so that groups drawn from the same labelled group still differ from each other.
        base_words = sorted({w for s in sentences for w in s.split()})
        dialect = {w: rng.choice(vocab) for w in base_words if rng.random() < 0.5}

        def noisy(text: str, topic=topic, dialect=dialect) -> str:
            words = []
            for word in text.split():
                x = rng.random()
                if x < 0.08:
                    continue
                words.append(rng.choice(vocab) if x < 0.18 else dialect.get(word, word))
                if rng.random() < 0.08:
                    words.append(rng.choice(topic))
            return " ".join(words)

        for _ in range(size):
            body = noisy(" ".join(rng.sample(sentences, min(rng.randint(3, 7), len(sentences)))))
            summary = noisy(" ".join(rng.sample(sentences, min(2, len(sentences)))))
            title = noisy(rng.choice(titles)) + " " + rng.choice(topic)
            out.append({"id": f"s{len(out):06d}", "group": f"g{number}", "title": title,
                        "summary": summary, "description": body})
        number += 1
    return out


def run_one(size: int, threshold: float | None) -> dict:
    """Runs in the child process."""
    from sklearn.metrics import adjusted_rand_score

    from competition.engine.clustering import Proposal, assignments, cluster_proposals

    data = generate(size)
    proposals = [Proposal(d["id"], d["title"], d["summary"], d["description"]) for d in data]
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    clusters = cluster_proposals(proposals, threshold)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mapping = assignments(clusters)
    ari = adjusted_rand_score([d["group"] for d in data], [mapping[d["id"]] for d in data])
    return {"size": size, "seconds": seconds, "peak_mb": peak, "baseline_mb": baseline,
            "clusters": len(clusters), "largest": max(len(c) for c in clusters), "ari": ari}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child, args.threshold)))
        return
    limits = {10000: 10.0, 50000: 60.0}
    print(f"{'proposals':>9} {'seconds':>8} {'peak MB':>8} {'base MB':>8} {'clusters':>8} "
          f"{'largest':>7} {'ARI':>6}  target")
    for size in args.sizes:
        cmd = [sys.executable, __file__, "--child", str(size)]
        if args.threshold is not None:
            cmd += ["--threshold", str(args.threshold)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        limit = limits.get(size)
        ok = "" if limit is None else (
            f"< {limit:.0f} s and < 2048 MB: "
            + ("ok" if r["seconds"] < limit and r["peak_mb"] < 2048 else "MISSED"))
        print(f"{r['size']:>9} {r['seconds']:>8.2f} {r['peak_mb']:>8.0f} {r['baseline_mb']:>8.0f} "
              f"{r['clusters']:>8} {r['largest']:>7} {r['ari']:>6.3f}  {ok}", flush=True)


if __name__ == "__main__":
    main()
