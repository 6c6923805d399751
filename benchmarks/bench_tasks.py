"""Task discovery benchmarks: quality on Banking77, and scale on the demo customer.

    python benchmarks/bench_tasks.py                 # Banking77: NMI/ARI/k/time vs plain k-means at k=77
    python benchmarks/bench_tasks.py --seeds 7,8,9   # the same over several seeds
    python benchmarks/bench_tasks.py --scale         # 1,000,000 demo calls: time and peak memory,
                                                     # and the naive approach on a 100,000-call subset

Banking77 (../shared/data/banking77, CC BY 4.0) is fed as logged calls: one user message each, no
system prompt, no response. Discovery is not told k. NMI and ARI are measured on the test split
(train and test are discovered together, as one log). The baseline is plain k-means (scikit-learn
defaults, k-means++) told the true k=77, on the same embeddings.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fde_toolkit.logs.schema import conform  # noqa: E402
from fde_toolkit.tasks import TasksConfig, discover_tasks  # noqa: E402

BANKING77 = ROOT.parent / "shared" / "data" / "banking77"
WORK = ROOT / "benchmarks" / "_work" / "tasks"
T0 = "2026-01-05T09:00:00"


# ----------------------------------------------------------------------------- inputs

def banking77_calls(folder: Path = BANKING77) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """(canonical calls, intent per call, is-test mask): one user message per call, no response."""
    parts = []
    for split in ("train", "test"):
        df = pl.read_csv(folder / f"{split}.csv")
        parts.append(df.with_columns(pl.lit(split).alias("split"),
                                     pl.format(f"b77-{split}-{{}}", pl.int_range(pl.len())).alias("call_id")))
    df = pl.concat(parts)
    calls = conform(df.select(
        "call_id",
        pl.lit(T0).str.to_datetime(time_zone="UTC").alias("timestamp"),
        pl.lit("logged-llm").alias("model"),
        pl.concat_list(pl.struct(pl.lit("user").alias("role"), pl.col("text").alias("content"))).alias("messages"),
        (pl.col("text").str.len_chars() // 4 + 8).alias("input_tokens"),
        pl.lit("ok").alias("status"),
    ))
    return calls, df["category"].to_numpy(), (df["split"] == "test").to_numpy()


def _demo_rows(records) -> dict[str, list]:
    cols: dict[str, list] = {k: [] for k in ("call_id", "timestamp", "model", "messages", "tools", "response_text",
                                             "tool_calls", "input_tokens", "output_tokens", "latency_ms", "status",
                                             "workload_id", "task_type")}
    for i, rec in enumerate(records):
        if "_raw" in rec:
            continue
        req, resp = rec["request"], rec.get("response")
        msg = resp["choices"][0]["message"] if resp else None
        usage = resp.get("usage", {}) if resp else {}
        cols["call_id"].append(resp["id"] if resp else f"err-{rec['_task']['record']}")
        cols["timestamp"].append(rec["timestamp"])
        cols["model"].append(req["model"])
        cols["messages"].append([{"role": m["role"], "content": m.get("content")} for m in req["messages"]])
        cols["tools"].append(json.dumps(req["tools"]) if req.get("tools") else None)
        cols["response_text"].append(msg.get("content") if msg else None)
        cols["tool_calls"].append([{"name": t["function"]["name"], "arguments": t["function"]["arguments"]}
                                   for t in (msg.get("tool_calls") or [])] if msg else [])
        cols["input_tokens"].append(usage.get("prompt_tokens"))
        cols["output_tokens"].append(usage.get("completion_tokens"))
        cols["latency_ms"].append(rec["latency_ms"])
        cols["status"].append("ok" if resp else "error")
        cols["workload_id"].append((req.get("metadata") or {}).get("workload_id"))
        cols["task_type"].append(rec["_task"]["task_type"])
    return cols


def demo_parquet(n: int, seed: int = 7, days: int = 30) -> Path:
    """The demo customer's calls as canonical parquet parts (generated once, kept under benchmarks/_work)."""
    from fde_toolkit.synth import generate_demo_calls

    out = WORK / f"demo_{n}_seed{seed}"
    if (out / "_done").is_file():
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    it = generate_demo_calls(n, days, seed, bad_records=False)
    part, t0 = 0, time.perf_counter()
    while True:
        chunk = [r for _, r in zip(range(100_000), it)]
        if not chunk:
            break
        cols = _demo_rows(chunk)
        truth = cols.pop("task_type")
        df = pl.DataFrame(cols).with_columns(pl.col("timestamp").str.to_datetime(time_zone="UTC"))
        df = conform(df).with_columns(pl.Series("task_type", truth))
        df.write_parquet(out / f"part-{part:03d}.parquet")
        part += 1
        print(f"  generated {part * 100_000:,} demo calls ({time.perf_counter() - t0:.0f} s)", flush=True)
    (out / "_done").write_text("ok")
    return out


# ----------------------------------------------------------------------------- Banking77

def _scores(y: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
    return float(normalized_mutual_info_score(y, pred)), float(adjusted_rand_score(y, pred))


def bench_banking77(seeds: list[int]) -> dict:
    from sklearn.cluster import KMeans

    from fde_toolkit.tasks.embed import EmbeddingCache, SentenceEmbedder
    from fde_toolkit.tasks.signature import normalise

    calls, y, test = banking77_calls()
    embedder = SentenceEmbedder()
    cache_dir = Path(tempfile.mkdtemp(prefix="bench_tasks_emb_"))
    try:
        texts = sorted(set(normalise(calls["messages"].list.first().struct.field("content").to_list())))
        t = time.perf_counter()
        EmbeddingCache(cache_dir).embed(texts, embedder)
        embed_s = time.perf_counter() - t
        per_call = normalise(calls["messages"].list.first().struct.field("content").to_list())
        vectors = EmbeddingCache(cache_dir).embed(per_call, embedder)
        rows = []
        for seed in seeds:
            t = time.perf_counter()
            assignments, tasks = discover_tasks(calls, TasksConfig(seed=seed), embedder, cache_dir=cache_dir)
            ours_s = time.perf_counter() - t
            pred = calls.select("call_id").join(assignments, on="call_id", how="left")["task_id"].to_numpy()
            nmi, ari = _scores(y[test], pred[test])
            t = time.perf_counter()
            base = KMeans(77, random_state=seed).fit_predict(vectors)
            base_s = time.perf_counter() - t
            bnmi, bari = _scores(y[test], base[test])
            same_k = KMeans(tasks["k"], random_state=seed).fit_predict(vectors)  # does a larger k alone explain it?
            snmi, sari = _scores(y[test], same_k[test])
            step = tasks["steps"][0]
            rows.append({"seed": seed, "ours": {"nmi": nmi, "ari": ari, "k": tasks["k"], "seconds": ours_s,
                                                "why": step["why"]},
                         "baseline": {"nmi": bnmi, "ari": bari, "k": 77, "seconds": base_s},
                         "same_k": {"nmi": snmi, "ari": sari, "k": tasks["k"]}})
            print(f"seed {seed}: ours NMI {nmi:.4f} ARI {ari:.4f} k={tasks['k']} ({ours_s:.1f} s) | "
                  f"k-means k=77 NMI {bnmi:.4f} ARI {bari:.4f} ({base_s:.1f} s) | "
                  f"k-means k={tasks['k']} NMI {snmi:.4f} ARI {sari:.4f}", flush=True)
        return {"calls": calls.height, "distinct_texts": len(texts), "embed_seconds": embed_s, "runs": rows}
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)


def print_banking77(res: dict) -> None:
    runs = res["runs"]
    print(f"\nBanking77: {res['calls']:,} calls ({res['distinct_texts']:,} distinct normalised requests), "
          f"embedding {res['embed_seconds']:.1f} s (shared by both sides)")
    print("| seed | side | k | NMI (test) | ARI (test) | seconds (after embedding) |\n|---|---|---:|---:|---:|---:|")
    for r in runs:
        o, b = r["ours"], r["baseline"]
        print(f"| {r['seed']} | ours (k chosen) | {o['k']} | {o['nmi']:.4f} | {o['ari']:.4f} | {o['seconds']:.1f} |")
        print(f"| {r['seed']} | k-means, true k=77 | 77 | {b['nmi']:.4f} | {b['ari']:.4f} | {b['seconds']:.1f} |")
        m = r["same_k"]
        print(f"| {r['seed']} | k-means, ours' k | {m['k']} | {m['nmi']:.4f} | {m['ari']:.4f} | - |")
    mean = lambda side, key: float(np.mean([r[side][key] for r in runs]))  # noqa: E731
    print(f"\nmean over {len(runs)} seed(s): ours NMI {mean('ours', 'nmi'):.4f} ARI {mean('ours', 'ari'):.4f} "
          f"k {mean('ours', 'k'):.0f} | baseline NMI {mean('baseline', 'nmi'):.4f} ARI {mean('baseline', 'ari'):.4f}")
    print(f"ratio ours/baseline: NMI {mean('ours', 'nmi') / mean('baseline', 'nmi'):.3f}x, "
          f"ARI {mean('ours', 'ari') / mean('baseline', 'ari'):.3f}x")
    ok = min(r["ours"]["nmi"] for r in runs) >= 0.80
    print(f"{'PASS' if ok else 'FAIL'}  NMI >= 0.80 without being told k (min over seeds "
          f"{min(r['ours']['nmi'] for r in runs):.4f})")
    print(f"chosen k: {runs[0]['ours']['why']}")


# ----------------------------------------------------------------------------- scale

def _peak_rss(pid: int, stop: threading.Event, out: list[int]) -> None:
    import psutil
    try:
        proc = psutil.Process(pid)
        while not stop.is_set():
            try:
                rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
                out[0] = max(out[0], rss)
            except psutil.Error:
                pass
            stop.wait(0.2)
    except psutil.Error:
        pass


def _run_side(target, *args) -> dict:
    """Run target(*args, queue) in a fresh process; wall time, peak RSS and what it returned."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    t = time.perf_counter()
    p.start()
    peak, stop = [0], threading.Event()
    th = threading.Thread(target=_peak_rss, args=(p.pid, stop, peak), daemon=True)
    th.start()
    result = q.get()
    p.join()
    stop.set()
    th.join()
    result.update(wall_s=time.perf_counter() - t, peak_mb=peak[0] / 2**20)
    return result


def _ours(parts: str, n: int | None, seed: int, q) -> None:
    import resource
    lf = pl.scan_parquet(f"{parts}/*.parquet")
    truth = lf.select("call_id", "task_type")
    if n is not None:
        lf, truth = lf.head(n), truth.head(n)
    cache = tempfile.mkdtemp(prefix="bench_tasks_scale_")
    t = time.perf_counter()
    assignments, tasks = discover_tasks(lf.drop("task_type"), TasksConfig(seed=seed), cache_dir=cache)
    secs = time.perf_counter() - t
    shutil.rmtree(cache, ignore_errors=True)
    j = assignments.join(truth.collect(), on="call_id")
    pur = j.group_by("task_id", "task_type").len().group_by("task_id").agg(
        (pl.col("len").max() / pl.col("len").sum()).alias("purity"), pl.col("len").sum().alias("n"))
    q.put({"seconds": secs, "calls": assignments.height, "tasks": tasks["k"], "embedding": tasks["embedding"],
           "timings": tasks["timings"],
           "steps": [{k: s[k] for k in ("id", "calls", "output_kind", "k", "why")} for s in tasks["steps"]],
           "min_purity": float(pur["purity"].min()),
           "weighted_purity": float((pur["purity"] * pur["n"]).sum() / pur["n"].sum()),
           "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def _naive(parts: str, n: int, k: int, seed: int, limit_s: float | None, q) -> None:
    """Embed every call's request (no signatures, no dedupe, no sampling), k-means over all calls."""
    from sklearn.cluster import KMeans

    from fde_toolkit.tasks.embed import SentenceEmbedder
    lf = pl.scan_parquet(f"{parts}/*.parquet").head(n)
    texts = (lf.select(pl.col("messages").list.eval(pl.element().filter(pl.element().struct.field("role") == "user")
                                                   .struct.field("content")).list.last().fill_null(""))
             .collect().to_series().to_list())
    embedder = SentenceEmbedder(chunk=1000)
    t = time.perf_counter()
    done, vecs = 0, []
    for i in range(0, len(texts), 1000):
        vecs.append(embedder(texts[i:i + 1000]))
        done = i + len(vecs[-1])
        if limit_s is not None and time.perf_counter() - t > limit_s:
            break
    embed_s = time.perf_counter() - t
    x = np.concatenate(vecs)
    measured = done
    if done < len(texts):  # extrapolate the embedding time; cluster a full-size matrix of real vectors
        embed_s = embed_s * len(texts) / done
        noise = np.random.default_rng(seed).normal(0, 1e-3, (len(texts), x.shape[1])).astype(np.float32)
        x = np.resize(x, (len(texts), x.shape[1])) + noise
    t = time.perf_counter()
    KMeans(k, n_init=1, random_state=seed).fit(x)
    km_s = time.perf_counter() - t
    q.put({"seconds": embed_s + km_s, "embed_s": embed_s, "kmeans_s": km_s, "calls": len(texts),
           "embedded_measured": measured, "extrapolated": measured < len(texts)})


def bench_scale(n: int, subset: int, seed: int, naive_limit_s: float | None) -> dict:
    parts = str(demo_parquet(n, seed))
    print(f"ours on {n:,} calls ...", flush=True)
    big = _run_side(_ours, parts, None, seed)
    print(json.dumps(big, indent=1), flush=True)
    print(f"ours on the first {subset:,} calls ...", flush=True)
    small = _run_side(_ours, parts, subset, seed)
    print(json.dumps(small, indent=1), flush=True)
    print(f"naive on the first {subset:,} calls ...", flush=True)
    naive = _run_side(_naive, parts, subset, small["tasks"], seed, naive_limit_s)
    print(json.dumps(naive, indent=1), flush=True)
    return {"n": n, "subset": subset, "ours_full": big, "ours_subset": small, "naive_subset": naive}


def print_scale(res: dict) -> None:
    b, s, nv = res["ours_full"], res["ours_subset"], res["naive_subset"]
    print("\nScale: demo customer, seed 7, 30 days")
    print("| side | calls | distinct requests | embedded | approximated | tasks | seconds | peak RSS MB |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in (("ours", b), ("ours (subset)", s)):
        e = r["embedding"]
        print(f"| {name} | {r['calls']:,} | {e['distinct_requests']:,} | {e['embedded']:,} | {e['approximated']:,} | "
              f"{r['tasks']} | {r['seconds']:.0f} | {r['peak_mb']:,.0f} |")
    est = " (extrapolated)" if nv["extrapolated"] else ""
    print(f"| naive: embed every call + k-means (subset) | {nv['calls']:,} | - | {nv['calls']:,}{est} | 0 | "
          f"{s['tasks']} | {nv['seconds']:.0f}{est} | {nv['peak_mb']:,.0f} |")
    print(f"\nratio on the {res['subset']:,}-call subset: naive/ours time {nv['seconds'] / s['seconds']:.1f}x"
          f"{est}; purity of ours vs seeded task types: min {b['min_purity']:.3f}, weighted {b['weighted_purity']:.3f}")
    print(f"{'PASS' if b['seconds'] < 600 else 'FAIL'}  {res['n']:,} calls in under 10 minutes ({b['seconds']:.0f} s)")
    print(f"{'PASS' if b['peak_mb'] < 4096 else 'FAIL'}  peak memory under 4 GB ({b['peak_mb']:,.0f} MB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="7", help="comma-separated seeds for Banking77")
    ap.add_argument("--scale", action="store_true", help="run the scale benchmark instead of Banking77")
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--subset", type=int, default=100_000)
    ap.add_argument("--naive-limit-s", type=float, default=None,
                    help="stop the naive side's embedding after this many seconds and extrapolate")
    args = ap.parse_args()
    print(f"bench_tasks — {date.today()} — {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    if args.scale:
        print_scale(bench_scale(args.calls, args.subset, int(args.seeds.split(",")[0]), args.naive_limit_s))
    else:
        print_banking77(bench_banking77([int(s) for s in args.seeds.split(",")]))


if __name__ == "__main__":
    main()
