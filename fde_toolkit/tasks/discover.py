"""S3 task discovery: from curated calls to named, ranked tasks (`fde discover`).

    tasks = discover(eng)                                         # the engagement step
    assignments, tasks = discover_tasks(calls, TasksConfig())    # pure: frame in, frame + dict out
    print(render_tasks(tasks))

Two levels (DESIGN.md, "What a task is"): calls are first grouped into workflow steps by prompt
template, tool set and output shape (steps.py); a step whose outputs are open-ended is then split by
the kind of request (cluster.py). Identical request signatures are embedded once and weighted by
their number of calls. Only a weighted sample of each step's distinct requests is embedded (all of
them in most engagements); the others are placed by a projection (project.py), so the cost grows
with distinct requests, and very large logs stay within minutes on a laptop.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from fde_toolkit import FdeError
from fde_toolkit.tasks.cluster import Split, member_centres, nearest_centre, split_requests, weighted_order
from fde_toolkit.tasks.config import TasksConfig
from fde_toolkit.tasks.describe import describe_tasks
from fde_toolkit.tasks.embed import Embedder, EmbeddingCache, SentenceEmbedder
from fde_toolkit.tasks.project import RequestVectors
from fde_toolkit.tasks.ranking import RANKING_VERSION, priority_basis
from fde_toolkit.tasks.signature import call_signatures, digest
from fde_toolkit.tasks.steps import assign_steps, describe_steps
from fde_toolkit.step import StepOutputs, StepResult, run_step

if TYPE_CHECKING:
    from fde_toolkit.engagement import Engagement

CALL_COLUMNS = ["call_id", "model", "messages", "tools", "response_text", "tool_calls", "input_tokens",
                "output_tokens", "latency_ms", "cost_usd", "status", "workload_id"]
CLOSED_SAMPLE = 500  # requests embedded per one-task step (distances of the others are projected)
FIRST_STAGE = 4000  # requests embedded first in a step that splits (the criterion curve's sample)
ROWS_PER_TASK = 100  # then up to this many per kind of request found, within tasks.sample_size
CHUNK = 50_000


# ----------------------------------------------------------------------------- distinct requests

def _step_key(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns((pl.col("family") + pl.lit("\x1f") + pl.col("tools") + pl.lit("\x1f") + pl.col("tag"))
                           .alias("step_key"))


def _distinct_requests(sig: pl.DataFrame, requests: pl.DataFrame) -> pl.DataFrame:
    """One row per (step, distinct request): calls, the first call's id and curated text; `_row` numbers them."""
    reqs = (sig.group_by("family", "tools", "tag", "req_id").agg(pl.len().alias("calls"), pl.col("call_id").min())
            .sort("family", "tools", "tag", "req_id"))
    reqs = reqs.join(requests.select("req_id", "request", "request_text"), on="req_id", how="left",
                     maintain_order="left")
    return _step_key(reqs).with_row_index("_row")


def _resolve_untagged(sig: pl.DataFrame, reqs: pl.DataFrame, requests: pl.DataFrame,
                      vectors: RequestVectors) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Untagged requests of a step split by workload tag go to the tag whose requests are nearest."""
    todo_all = reqs.filter(pl.col("tag") == "?")
    if todo_all.height == 0:
        return sig, reqs
    fixes = []
    for (family, tools), todo in todo_all.group_by("family", "tools", maintain_order=True):
        tagged = reqs.filter((pl.col("family") == family) & (pl.col("tools") == tools) & (pl.col("tag") != "?"))
        names = sorted(tagged["tag"].unique().to_list())
        centres = []
        for t in names:
            part = tagged.filter(pl.col("tag") == t)
            ids = part["req_id"].to_numpy()[weighted_order(part["calls"].to_numpy(), 0)[:CLOSED_SAMPLE]]
            vectors.embed(ids)
            w = part.filter(pl.col("req_id").is_in(ids))
            centres.append(np.average(vectors.get(w["req_id"].to_numpy()), axis=0, weights=w["calls"].to_numpy()))
        ids = todo["req_id"].to_numpy()
        best = np.concatenate([np.argmax(vectors.get(ids[i:i + CHUNK]) @ np.stack(centres).T, axis=1)
                               for i in range(0, len(ids), CHUNK)])
        fixes.append(pl.DataFrame({"family": family, "tools": tools, "req_id": ids,
                                   "new_tag": [names[b] for b in best]},
                                  schema={"family": pl.String, "tools": pl.String, "req_id": reqs["req_id"].dtype,
                                          "new_tag": pl.String}))
    fix = pl.concat(fixes).with_columns(pl.lit("?").alias("tag"))
    sig = (sig.join(fix, on=["family", "tools", "tag", "req_id"], how="left", maintain_order="left")
           .with_columns(pl.coalesce("new_tag", "tag").alias("tag")).drop("new_tag"))
    return _step_key(sig), _distinct_requests(sig, requests)


# ----------------------------------------------------------------------------- splitting

def _allocate(pinned: int, n_closed: int, auto: dict[str, int]) -> dict[str, int]:
    """Share a pinned total of tasks among the open-ended steps, in proportion to their automatic k."""
    left = pinned - n_closed
    if not auto:
        if left != 0:
            raise FdeError(f"tasks.k: {pinned} tasks were pinned, but the calls form {n_closed} workflow steps and "
                           f"none has open-ended outputs to split. Set tasks.k to {n_closed} or remove it "
                           "(merge tasks with tasks.merges).")
        return {}
    if left < len(auto):
        raise FdeError(f"tasks.k: {pinned} tasks were pinned, but the calls form {n_closed + len(auto)} workflow "
                       f"steps, which are tasks at the least. Set tasks.k to {n_closed + len(auto)} or more, "
                       "or merge tasks with tasks.merges.")
    keys = sorted(auto)
    total = sum(auto[k] for k in keys)
    raw = {k: max(1.0, left * auto[k] / total) for k in keys}
    out = {k: int(raw[k]) for k in keys}
    for k in sorted(keys, key=lambda k: (-(raw[k] - int(raw[k])), k)):
        if sum(out.values()) >= left:
            break
        out[k] += 1
    while sum(out.values()) > left:  # the floors of one can overshoot
        k = max((k for k in keys if out[k] > 1), key=lambda k: (out[k], k))
        out[k] -= 1
    return out


def _split_steps(steps: pl.DataFrame, reqs: pl.DataFrame, vectors: RequestVectors,
                 config: TasksConfig) -> tuple[dict[str, Split], dict[str, np.ndarray]]:
    """Per step: the Split, fitted on the embedded rows, and those rows (in `_row` numbers)."""
    splits: dict[str, Split] = {}
    fitted: dict[str, np.ndarray] = {}
    parts = {k: p for (k,), p in reqs.group_by("step_key", maintain_order=True)}
    for r in steps.iter_rows(named=True):
        part = parts[r["step_key"]]
        w = part["calls"].to_numpy().astype(np.float64)
        order = weighted_order(w, config.seed)
        if not r["split"]:
            sel = order[:min(config.sample_size, CLOSED_SAMPLE)]
            vectors.embed(part["req_id"].to_numpy()[sel])
            sel = np.sort(sel)
            v = vectors.get(part["req_id"].to_numpy()[sel])
            splits[r["step_key"]] = Split(np.zeros(len(sel), dtype=np.int64), 1,
                                          member_centres(v, w[sel], np.zeros(len(sel), dtype=np.int64), 1), [],
                                          f"one task: a {r['kind'].replace('_', ' ')} step is one task "
                                          "whatever the requests say")
        else:
            n = min(len(order), FIRST_STAGE, config.sample_size)
            while True:
                sel = np.sort(order[:n])
                vectors.embed(part["req_id"].to_numpy()[sel])
                split = split_requests(vectors.get(part["req_id"].to_numpy()[sel]), w[sel], config.k_range,
                                       config.seed)
                want = min(config.sample_size, len(order), max(n, ROWS_PER_TASK * split.k))
                if want <= n:
                    break
                n = want
            splits[r["step_key"]] = split
        fitted[r["step_key"]] = part["_row"].to_numpy()[sel]
    if config.k is not None:
        open_auto = {r["step_key"]: splits[r["step_key"]].k for r in steps.iter_rows(named=True) if r["split"]}
        for key, k in _allocate(config.k, steps.height - len(open_auto), open_auto).items():
            rows = fitted[key]
            sub = reqs[rows.tolist()]
            curve = splits[key].curve
            splits[key] = split_requests(vectors.get(sub["req_id"].to_numpy()), sub["calls"].to_numpy(),
                                         config.k_range, config.seed, k=k)
            splits[key].curve = curve
    return splits, fitted


# ----------------------------------------------------------------------------- tasks

def _id_span(ids: set[str]) -> str:
    s = sorted(ids)
    return f"{s[0]}..{s[-1]}" if len(s) > 1 else s[0]


def _label_rows(steps: pl.DataFrame, reqs: pl.DataFrame, splits: dict[str, Split], fitted: dict[str, np.ndarray],
                vectors: RequestVectors) -> np.ndarray:
    """Kind of request (within its step) for every distinct request: fitted rows keep their label,
    the others go to the nearest centre."""
    sub = np.zeros(reqs.height, dtype=np.int64)
    req_ids = reqs["req_id"].to_numpy()
    for r in steps.iter_rows(named=True):
        split, rows = splits[r["step_key"]], fitted[r["step_key"]]
        sub[rows] = split.labels
        if split.k <= 1:
            continue
        all_rows = reqs.filter(pl.col("step_key") == r["step_key"])["_row"].to_numpy()
        rest = np.setdiff1d(all_rows, rows, assume_unique=True)
        for i in range(0, len(rest), CHUNK):
            chunk = rest[i:i + CHUNK]
            sub[chunk] = nearest_centre(vectors.get(req_ids[chunk]), split.centres)
    return sub


def _name_tasks(steps: pl.DataFrame, reqs: pl.DataFrame, config: TasksConfig) -> pl.DataFrame:
    """task_id per row: ids by volume, then a content hash of the task's heaviest request; merges applied."""
    step_id = dict(zip(steps["step_key"], steps["step_id"]))
    reqs = reqs.with_columns(pl.col("step_key").replace_strict(step_id).alias("step_id"))
    groups = (reqs.sort(["calls", "request"], descending=[True, False])
              .group_by("step_id", "sub", maintain_order=True)
              .agg(pl.col("calls").sum().alias("n"), pl.col("request").first().alias("heaviest")))
    groups = groups.with_columns(pl.struct("step_id", "heaviest").map_elements(
        lambda s: digest(s["step_id"] + "\x1f" + s["heaviest"]), return_dtype=pl.String).alias("order"))
    groups = groups.sort(["n", "order"], descending=[True, False])
    width = max(2, len(str(groups.height)))
    groups = groups.with_columns(pl.format("t{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(width))
                                 .alias("task_id"))
    reqs = reqs.join(groups.select("step_id", "sub", "task_id"), on=["step_id", "sub"], how="left",
                     maintain_order="left")
    known = set(groups["task_id"].to_list())
    merged: dict[str, str] = {}
    for group in config.merges:
        for tid in group:
            if tid not in known:
                raise FdeError(f"tasks.merges: {tid} is not a task of this run (tasks are {_id_span(known)}). "
                               "Check `fde discover` output for the ids, then fix engagement.yaml.")
        for tid in group[1:]:
            merged[tid] = group[0]
    if merged:
        reqs = reqs.with_columns(pl.col("task_id").replace(merged))
    known = set(reqs["task_id"].unique().to_list())
    for tid in config.renames:
        if tid not in known:
            raise FdeError(f"tasks.renames: {tid} is not a task of this run (tasks are {_id_span(known)}; "
                           "a merged id takes the first id of its merge). Fix engagement.yaml.")
    return reqs


def _similarities(reqs: pl.DataFrame, vectors: RequestVectors) -> pl.DataFrame:
    """Cosine similarity of every distinct request to its task's centre (the embedded members' mean)."""
    req_ids, calls = reqs["req_id"].to_numpy(), reqs["calls"].to_numpy().astype(np.float64)
    exact = vectors.is_exact(req_ids)
    task = reqs["task_id"].to_numpy()
    names, index = np.unique(task, return_inverse=True)
    centres = np.zeros((len(names), vectors.exact.shape[1]), dtype=np.float32)
    for j in range(len(names)):
        rows = np.flatnonzero((index == j) & exact)
        if len(rows) == 0:
            rows = np.flatnonzero(index == j)
        centres[j] = member_centres(vectors.get(req_ids[rows]), calls[rows], np.zeros(len(rows), dtype=np.int64), 1)[0]
    sim = np.empty(len(req_ids), dtype=np.float32)
    for i in range(0, len(req_ids), CHUNK):
        v = vectors.get(req_ids[i:i + CHUNK])
        sim[i:i + CHUNK] = np.einsum("ij,ij->i", v, centres[index[i:i + CHUNK]])
    return reqs.with_columns(pl.Series("similarity", sim), pl.Series("exact", exact))


def discover_tasks(calls: pl.DataFrame | pl.LazyFrame, config: TasksConfig | None = None,
                   embedder: Embedder | None = None,
                   cache_dir: str | os.PathLike | None = None) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Group calls into tasks. Returns (call_id -> step_id, task_id, distance; tasks.json as a dict).

    `calls` has the canonical schema (curated); a lazy frame (pl.scan_parquet) keeps memory low on
    very large logs. `embedder` is any callable list[str] -> vectors; by default the configured
    sentence-transformers model. `cache_dir` keeps vectors between runs.
    """
    config = config or TasksConfig()
    timings: dict[str, float] = {}
    t0 = last = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal last
        now = time.perf_counter()
        timings[name] = round(now - last, 2)
        last = now

    missing = [c for c in CALL_COLUMNS if c not in calls.collect_schema().names()]
    if missing:
        raise FdeError(f"The calls lack the canonical column(s) {', '.join(missing)}; "
                       "run `fde ingest` and `fde scrub` first.")
    signatures = call_signatures(calls)
    if signatures.calls.height == 0:
        raise FdeError("There are no calls to discover tasks in: the curated calls are empty.")
    sig, templates = assign_steps(signatures.calls, signatures.templates, config)
    reqs = _distinct_requests(sig, signatures.requests)
    lap("signatures")
    embedder = embedder or SentenceEmbedder(config.embedding_model)
    cache = EmbeddingCache(cache_dir)
    vectors = RequestVectors(signatures.requests["request"].to_list(), embedder, cache, config.seed)
    sig, reqs = _resolve_untagged(sig, reqs, signatures.requests, vectors)
    steps = describe_steps(sig, templates, config)
    splits, fitted = _split_steps(steps, reqs, vectors, config)
    lap("embedding and splitting")
    reqs = reqs.with_columns(pl.Series("sub", _label_rows(steps, reqs, splits, fitted, vectors)))
    reqs = _similarities(_name_tasks(steps, reqs, config), vectors)
    lap("placing the other requests")
    sig = sig.join(reqs.select("step_key", "req_id", "step_id", "task_id", "similarity"),
                   on=["step_key", "req_id"], how="left", maintain_order="left")
    assignments = sig.select("call_id", "step_id", "task_id",
                             (1.0 - pl.col("similarity").cast(pl.Float64)).clip(0.0, 2.0).round(5).alias("distance"))
    tasks = describe_tasks(calls, sig, reqs, steps, splits, vectors, config)
    lap("describing")
    tasks["embedding"] = {"model": getattr(embedder, "cache_key", type(embedder).__name__),
                          "distinct_requests": signatures.requests.height, "embedded": vectors.n_exact,
                          "embedded_now": cache.misses, "from_cache": cache.hits,
                          "approximated": signatures.requests.height - vectors.n_exact}
    tasks["timings"] = timings
    tasks["seconds"] = round(time.perf_counter() - t0, 2)
    return assignments, tasks


# ----------------------------------------------------------------------------- the engagement step

def discover(eng: "Engagement", force: bool = False,
             embedder: Embedder | None = None) -> StepResult[dict[str, Any]]:
    """`fde discover`: curated.parquet -> tasks.parquet + tasks.json, recorded in the manifest.

    Skipped when curated.parquet and the settings did not change (unless `force`); vectors are cached
    under the engagement's .cache/embeddings/. `embedder` overrides the configured model.
    """
    config = eng.config.tasks
    curated = eng.artifacts.require("curated")
    embedder = embedder or SentenceEmbedder(config.embedding_model)
    params = {**config.model_dump(mode="json"), "ranking_version": RANKING_VERSION,
              "embedding_model_key": getattr(embedder, "cache_key", type(embedder).__name__)}

    def make(out: StepOutputs) -> dict[str, Any]:
        calls = pl.scan_parquet(curated).select(CALL_COLUMNS)
        assignments, tasks = discover_tasks(calls, config, embedder, cache_dir=eng.cache_dir / "embeddings")
        out.write("task_assignments", assignments)
        out.summary = {"tasks": tasks["k"], "steps": len(tasks["steps"]), "candidates": tasks["candidates"],
                       "calls": tasks["calls"]}
        return out.write_data("tasks", tasks)

    return run_step(eng, "discover", inputs=[curated], params=params, make=make, previous=eng.artifacts.tasks,
                    render=render_tasks, force=force)


# ----------------------------------------------------------------------------- terminal view

def render_tasks(tasks: dict[str, Any], width: int = 46, max_rows: int = 30) -> str:
    """The discovered tasks as a terminal table: candidates ranked first (by the LLM spend they could avoid),
    then the rest by volume. `bill%` is each task's share of the known cost, `value` (candidates) that share x
    readiness."""
    lines = [tasks["explanation"], ""]
    head = (f"{'rank':>4}  {'id':<4} {'name':<{width}} {'calls':>8} {'calls%':>6} {'bill%':>6} {'output':<11} "
            f"{'ready':>5} {'value':>6}")
    lines += [head, "-" * len(head)]
    order = sorted(tasks["tasks"], key=lambda t: (t.get("rank") is None, t.get("rank") or 0, -t["calls"], t["id"]))
    shown = order[:max(max_rows, len(tasks["candidates"]))]
    stand_in = False
    for t in shown:
        name = t["name"] if len(t["name"]) <= width else t["name"][:width - 1] + "…"
        cost = "n/a" if t["cost_share"] is None else f"{t['cost_share']:.1%}"
        rank = str(t["rank"]) if t.get("rank") else ""
        by_volume = t.get("priority_basis", priority_basis(t)) == "volume_share"
        stand_in |= by_volume and bool(rank)
        value = f"{t['priority']:.3f}" + ("*" if by_volume else "") if rank and t.get("priority") is not None else ""
        lines.append(f"{rank:>4}  {t['id']:<4} {name:<{width}} {t['calls']:>8,} {t['volume_share']:>6.1%} {cost:>6} "
                     f"{t['output_kind']:<11} {t['readiness']['score']:>5.2f} {value:>6}")
    rest = order[len(shown):]
    if rest:
        vol = sum(t["volume_share"] for t in rest)
        cost = sum(t["cost_share"] or 0 for t in rest)
        lines.append(f"{'':>4}  … {len(rest)} more task(s), {vol:.1%} of calls, {cost:.1%} of the bill, none an SLM "
                     "candidate (all in tasks.json)")
    lines += ["", f"{len(tasks['candidates'])} SLM candidate(s) (readiness >= {tasks['settings']['candidate_score']}, "
                  "not open-ended), ranked by value: the LLM spend each could avoid, its share of the bill (bill%, "
                  "of the known cost) x readiness."]
    if stand_in:
        lines.append("* no cost is known for this task: its share of calls stands in for its share of the bill.")
    lines.append("Rename, merge or pin the number of tasks under `tasks:` in engagement.yaml.")
    return "\n".join(lines)
