"""Label specialists on Banking77 (real customer queries, 77 intents), side by side in one run.

    python benchmarks/bench_banking77.py                    # ../shared/data/banking77, 2 threads
    python benchmarks/bench_banking77.py --threads 1 --data /path/to/banking77

Sides, all on the same train split (10,003 queries) and test split (3,080):

  ours      fde_toolkit.slm.encoder.fit_classifier: frozen all-MiniLM-L6-v2 (the shipped encoder), mean
            pooling of its last 3 layers + TF-IDF character and word n-grams, logistic-regression head,
            temperature calibrated on a validation slice of the training split (fit time includes encoding)
  frozen    the same encoder's sentence embeddings (sentence-transformers) + logistic regression
  1-NN      the nearest training query by cosine similarity of the same embeddings

Per side: test accuracy with its 95% Wilson interval, fit seconds, single-query latency p50/p95 (one
query at a time, 200 queries), and ours vs each baseline as a paired McNemar test. Targets (issue):
ours >= 0.94 accuracy within 10 minutes of wall clock on 2 cores, p50 <= 25 ms per query.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def read_split(path: Path) -> tuple[list[str], list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["category"] for r in rows]


def latency(fn, queries: list[str]) -> tuple[float, float]:
    fn(queries[:1])  # warm-up
    times = []
    for q in queries:
        t0 = time.perf_counter()
        fn([q])
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "banking77")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--val", type=int, default=500, help="training queries held back to calibrate ours")
    ap.add_argument("--latency-queries", type=int, default=200)
    args = ap.parse_args()

    import torch
    from sklearn.linear_model import LogisticRegression

    from fde_toolkit.slm.config import ClassifierSettings
    from fde_toolkit.slm.encoder import fit_classifier
    from fde_toolkit.slm.stats import mcnemar, wilson_interval
    from fde_toolkit.tasks.embed import SentenceEmbedder, default_model_path

    torch.set_num_threads(args.threads)
    xtr, ytr = read_split(args.data / "train.csv")
    xte, yte = read_split(args.data / "test.csv")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(xtr))
    val_idx, fit_idx = order[: args.val], order[args.val:]
    lat_q = [xte[i] for i in rng.choice(len(xte), args.latency_queries, replace=False)]
    yte_a = np.array(yte)
    results, right = {}, {}

    # ours
    t0 = time.perf_counter()
    clf, fit = fit_classifier(default_model_path(), [xtr[i] for i in fit_idx], [ytr[i] for i in fit_idx],
                              [xtr[i] for i in val_idx], [ytr[i] for i in val_idx], ClassifierSettings(), seed=0)
    fit_s = time.perf_counter() - t0
    right["ours"] = np.array(clf.predict(xte)) == yte_a
    results["ours"] = {"fit_s": fit_s, "lat": latency(clf.predict_proba, lat_q),
                       "note": f"T={fit['temperature']:.2f}, val ECE {fit['val_ece_before']:.3f}->"
                               f"{fit['val_ece_after']:.3f}, {fit['features']:,} features"}

    # baselines on the shipped encoder's sentence embeddings (all training queries)
    emb = SentenceEmbedder()
    t0 = time.perf_counter()
    etr = emb(xtr)
    embed_s = time.perf_counter() - t0
    ete = emb(xte)
    t0 = time.perf_counter()
    lr = LogisticRegression(C=10.0, max_iter=2000).fit(etr, ytr)
    lr_s = time.perf_counter() - t0
    right["frozen"] = lr.predict(ete) == yte_a
    results["frozen"] = {"fit_s": embed_s + lr_s, "lat": latency(lambda q: lr.predict_proba(emb(q)), lat_q),
                         "note": "C=10"}
    unit = etr / np.linalg.norm(etr, axis=1, keepdims=True)
    ytr_a = np.array(ytr)

    def nn(q: list[str]) -> np.ndarray:
        v = emb(q)
        return ytr_a[np.argmax((v / np.linalg.norm(v, axis=1, keepdims=True)) @ unit.T, axis=1)]

    right["1-NN"] = nn(xte) == yte_a
    results["1-NN"] = {"fit_s": embed_s, "lat": latency(nn, lat_q), "note": "cosine"}

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Banking77: {len(xtr):,} train ({len(fit_idx):,} fit + {len(val_idx):,} calibration for ours), "
          f"{len(xte):,} test; torch threads {args.threads} each side, run one after another; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load {load:.2f}")
    print("| side | test accuracy [95% CI] | fit s | p50 ms / query | p95 ms | ours vs side (McNemar) | notes |")
    print("|---|---|---:|---:|---:|---|---|")
    for side, r in results.items():
        k, n = int(right[side].sum()), len(right[side])
        lo, hi = wilson_interval(k, n)
        vs = "–"
        if side != "ours":
            m = mcnemar(right["ours"], right[side])
            vs = f"{m['verdict']} (p={m['p_value']:.2g}; {m['a_only']} vs {m['b_only']} discordant)"
        print(f"| {side} | {k / n:.4f} [{lo:.4f}, {hi:.4f}] | {r['fit_s']:.1f} | {r['lat'][0]:.1f} | "
              f"{r['lat'][1]:.1f} | {vs} | {r['note']} |")
    acc = right["ours"].mean()
    for side in ("frozen", "1-NN"):
        print(f"- ratio ours/{side}: accuracy {acc / right[side].mean():.3f}x, "
              f"latency p50 {results['ours']['lat'][0] / results[side]['lat'][0]:.2f}x")
    ok_acc, ok_time, ok_lat = acc >= 0.94, results["ours"]["fit_s"] <= 600, results["ours"]["lat"][0] <= 25
    print(f"- {'PASS' if ok_acc else 'MISS'}  ours accuracy >= 0.94 ({acc:.4f})")
    print(f"- {'PASS' if ok_time else 'MISS'}  ours fit <= 10 min wall clock, encoding included "
          f"({results['ours']['fit_s']:.0f} s)")
    print(f"- {'PASS' if ok_lat else 'MISS'}  ours p50 <= 25 ms per single query ({results['ours']['lat'][0]:.1f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
