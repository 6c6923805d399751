"""What tasks.json says of each task: figures, examples, names, readiness, ranking by value, and the 2-D map.

    tasks = describe_tasks(calls, sig, reqs, steps, splits, vectors, config)

`calls` is the canonical frame (only read for the answers of a few example calls), `sig` the per-call
signatures with step_id and task_id, `reqs` the distinct requests with task_id, similarity and exact.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from fde_toolkit.tasks.cluster import Split, weighted_sample
from fde_toolkit.tasks.config import TasksConfig
from fde_toolkit.tasks.naming import task_name, top_terms
from fde_toolkit.tasks.project import RequestVectors
from fde_toolkit.tasks.ranking import ranking_note, value_rank
from fde_toolkit.tasks.readiness import TaskFacts, readiness
from fde_toolkit.tasks.steps import TOP_TOOLS, output_kind

MAP_POINTS = 2000
TERMS_SAMPLE = 3000
SHOW_CHARS = 400
MIN_REPEATS = 10  # repeated-request calls needed to measure determinism


def _stats(sig: pl.DataFrame) -> dict[str, dict]:
    n_all = sig.height
    cost_all = sig["cost_usd"].sum() or 0.0
    df = sig.group_by("task_id").agg(
        pl.len().alias("calls"),
        (pl.len() / n_all).alias("volume_share"),
        pl.col("cost_usd").sum().alias("cost_usd"),
        (pl.col("cost_usd").sum() / cost_all if cost_all else pl.lit(None, dtype=pl.Float64)).alias("cost_share"),
        pl.col("cost_usd").is_null().sum().alias("unpriced_calls"),
        pl.col("input_tokens").mean().alias("input_tokens_mean"),
        pl.col("input_tokens").median().alias("input_tokens_p50"),
        pl.col("input_tokens").sum().alias("input_tokens_total"),
        pl.col("output_tokens").mean().alias("output_tokens_mean"),
        pl.col("output_tokens").filter(pl.col("status") == "ok").median().alias("output_tokens_p50"),
        pl.col("output_tokens").sum().alias("output_tokens_total"),
        pl.col("latency_ms").quantile(0.5, "linear").alias("latency_p50_ms"),
        pl.col("latency_ms").quantile(0.95, "linear").alias("latency_p95_ms"),
        (pl.col("status") != "ok").mean().alias("error_rate"),
        pl.col("req_id").n_unique().alias("distinct_requests"),
        pl.col("tool_set").filter(pl.col("tool_set") != "").n_unique().alias("tool_sets"),
    )
    return {r["task_id"]: r for r in df.iter_rows(named=True)}


def _determinism(sig: pl.DataFrame) -> dict[str, dict]:
    """Per task: share of calls with a repeated request that got that request's most common output."""
    ok = sig.filter((pl.col("status") == "ok") & pl.col("out_h").is_not_null())
    per = (ok.group_by("task_id", "req_id", "out_h").agg(pl.len().alias("n"))
           .group_by("task_id", "req_id").agg(pl.col("n").sum().alias("total"), pl.col("n").max().alias("top"))
           .filter(pl.col("total") >= 2))
    df = per.group_by("task_id").agg((pl.col("top").sum() / pl.col("total").sum()).alias("determinism"),
                                     pl.col("total").sum().alias("repeated_calls"))
    return {r["task_id"]: r for r in df.iter_rows(named=True)}


def _shapes(sig: pl.DataFrame) -> dict[str, dict]:
    ok = sig.filter((pl.col("status") == "ok") & (pl.col("shape") != "none"))
    out: dict[str, dict] = {}
    for r in ok.group_by("task_id", "shape").agg(pl.len().alias("n")).iter_rows(named=True):
        out.setdefault(r["task_id"], {"shapes": {}})["shapes"][r["shape"]] = r["n"]
    extra = ok.group_by("task_id").agg(pl.col("out_h").n_unique().alias("distinct_outputs"),
                                       pl.col("label").drop_nulls().n_unique().alias("distinct_short"))
    for r in extra.iter_rows(named=True):
        out[r["task_id"]].update(distinct_outputs=r["distinct_outputs"], distinct_short=r["distinct_short"])
    return out


def _models(sig: pl.DataFrame) -> dict[str, list[dict]]:
    m = (sig.group_by("task_id", "model").agg(pl.len().alias("calls"))
         .sort(["task_id", "calls", "model"], descending=[False, True, False], nulls_last=True))
    out: dict[str, list[dict]] = {}
    for r in m.iter_rows(named=True):
        out.setdefault(r["task_id"], []).append({"model": r["model"], "calls": r["calls"]})
    return out


def _examples(calls: pl.DataFrame | pl.LazyFrame, reqs: pl.DataFrame, n: int) -> dict[str, list[dict]]:
    """The n embedded requests nearest each task's centre: curated text and one logged answer."""
    top = (reqs.sort(["task_id", "exact", "similarity", "req_id"], descending=[False, True, True, False])
           .group_by("task_id", maintain_order=True).head(n))
    answers = (calls.lazy().filter(pl.col("call_id").is_in(top["call_id"].implode()))
               .select("call_id", pl.coalesce(
                   pl.col("response_text"),
                   pl.col("tool_calls").list.eval(pl.element().struct.field("name") + pl.lit("(")
                                                  + pl.element().struct.field("arguments").fill_null("") + pl.lit(")"))
                   .list.join("; ")).alias("answer")).collect(engine="streaming"))
    top = top.join(answers, on="call_id", how="left", maintain_order="left")
    out: dict[str, list[dict]] = {}
    for r in top.iter_rows(named=True):
        out.setdefault(r["task_id"], []).append({
            "call_id": r["call_id"], "request": (r["request_text"] or "")[:SHOW_CHARS],
            "answer": (r["answer"] or "")[:SHOW_CHARS] or None, "calls": r["calls"],
            "similarity": round(float(r["similarity"]), 3)})
    return out


def _terms(reqs: pl.DataFrame, ids: list[str], seed: int) -> dict[str, list[str]]:
    """Class-based TF-IDF top terms over a weighted sample of each task's requests."""
    parts = []
    for (tid,), part in reqs.group_by("task_id", maintain_order=True):
        keep = weighted_sample(part["calls"].to_numpy().astype(np.float64), TERMS_SAMPLE, seed)
        parts.append(part[keep.tolist()].select("task_id", "request", "calls"))
    sample = pl.concat(parts)
    cls = {t: i for i, t in enumerate(ids)}
    terms = top_terms(sample["request"].to_list(), [cls[t] for t in sample["task_id"]], sample["calls"].to_list())
    return {t: terms.get(cls[t], []) for t in ids}


def map_points(reqs: pl.DataFrame, vectors: RequestVectors, seed: int) -> list[dict]:
    """2-D coordinates of a weighted sample of embedded requests, for the task map (t-SNE)."""
    exact = reqs.filter(pl.col("exact"))
    if exact.height < 3:
        return []
    rows = weighted_sample(exact["calls"].to_numpy().astype(np.float64), MAP_POINTS, seed)
    part = exact[rows.tolist()]
    x = vectors.get(part["req_id"].to_numpy())
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    if len(rows) >= 30:
        xy = TSNE(n_components=2, init="pca", perplexity=min(30, len(rows) // 4), random_state=seed,
                  metric="cosine", max_iter=500).fit_transform(x)
    else:
        xy = PCA(n_components=2, random_state=seed).fit_transform(x)
    return [{"x": round(float(a), 3), "y": round(float(b), 3), "task_id": t, "calls": int(c),
             "request": (txt or "")[:160]}
            for (a, b), t, c, txt in zip(xy.tolist(), part["task_id"], part["calls"], part["request_text"])]


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(float(x), nd)


def describe_tasks(calls: pl.DataFrame | pl.LazyFrame, sig: pl.DataFrame, reqs: pl.DataFrame, steps: pl.DataFrame,
                   splits: dict[str, Split], vectors: RequestVectors, config: TasksConfig) -> dict[str, Any]:
    """tasks.json as a dict (the caller adds the embedding counts and timings)."""
    stats, det, shapes, models = _stats(sig), _determinism(sig), _shapes(sig), _models(sig)
    examples = _examples(calls, reqs, config.representatives)
    step_rows = {r["step_id"]: r for r in steps.iter_rows(named=True)}
    per_task = reqs.group_by("task_id").agg(pl.col("step_id").unique().sort(),
                                            pl.col("similarity").dot(pl.col("calls")).alias("_simw"),
                                            pl.col("calls").sum().alias("_w"))
    per_task = {r["task_id"]: r for r in per_task.iter_rows(named=True)}
    ids = sorted(stats)
    terms = _terms(reqs, ids, config.seed)
    split_steps = {r["step_id"] for r in steps.iter_rows(named=True) if r["split"]}

    out_tasks = []
    for tid in ids:
        s, pt = stats[tid], per_task[tid]
        sids = pt["step_id"]
        srow = step_rows[sids[0]]
        sh = shapes.get(tid, {"shapes": {}})
        kind = output_kind(sh["shapes"], sh.get("distinct_short", 0), sh.get("distinct_outputs", 0),
                           s["output_tokens_p50"], s["calls"], config.open_ended_tokens)
        if kind in ("short_text", "unknown") and srow["kind"] == "long_text":
            kind = "long_text"  # a kind of request inside an open-ended step stays open-ended
        similarity = float(pt["_simw"] / pt["_w"]) if pt["_w"] else None
        d = det.get(tid)
        determinism = float(d["determinism"]) if d and d["repeated_calls"] >= MIN_REPEATS else None
        ready = readiness(TaskFacts(calls=s["calls"], volume_share=s["volume_share"], kind=kind, similarity=similarity,
                                    median_output_tokens=s["output_tokens_p50"], determinism=determinism,
                                    error_rate=s["error_rate"], n_labels=srow["n_labels"]))
        tools_called: list[str] = []
        for sid in sids:
            tools_called += [t for t in step_rows[sid]["tools_called"] if t not in tools_called]
        per_request = any(step_rows[sid]["per_request_tools"] for sid in sids)
        name = task_name(kind, terms[tid], labels=srow["labels"], n_labels=srow["n_labels"],
                         json_keys=srow["json_keys"], tools=tools_called,
                         tool_sets=s["tool_sets"] if per_request else None)
        out_tasks.append({
            "id": tid, "name": config.renames.get(tid, name), "auto_name": name,
            "level": "kind of request" if any(sid in split_steps for sid in sids) else "step",
            "steps": sids, "calls": s["calls"], "volume_share": round(s["volume_share"], 5),
            "cost_usd": round(s["cost_usd"], 6) if s["cost_usd"] is not None else None,
            "cost_share": round(s["cost_share"], 5) if s["cost_share"] is not None else None,
            "unpriced_calls": s["unpriced_calls"],
            "tokens": {"input_mean": _r(s["input_tokens_mean"]), "input_p50": _r(s["input_tokens_p50"]),
                       "input_total": s["input_tokens_total"], "output_mean": _r(s["output_tokens_mean"]),
                       "output_p50": _r(s["output_tokens_p50"]), "output_total": s["output_tokens_total"]},
            "latency_ms": {"p50": _r(s["latency_p50_ms"]), "p95": _r(s["latency_p95_ms"])},
            "error_rate": round(s["error_rate"], 5),
            "models": models.get(tid, []),
            "output_kind": kind,
            "labels": srow["labels"][:20] if kind == "label" else [],
            "json_keys": srow["json_keys"] if kind == "json" else [],
            "tools": tools_called[:TOP_TOOLS],
            "n_tools": len(tools_called),
            "tool_sets": s["tool_sets"],
            "per_request_tools": per_request,
            "distinct_requests": s["distinct_requests"],
            "similarity_to_centre": round(similarity, 4) if similarity is not None else None,
            "determinism": round(determinism, 4) if determinism is not None else None,
            "top_terms": terms[tid],
            "readiness": ready,
            "representatives": examples.get(tid, []),
        })
    # candidates: ready enough and not open-ended, ranked by the LLM spend they could avoid (ranking.py)
    for t in out_tasks:
        t["candidate"] = (t["readiness"]["score"] >= config.candidate_score and t["output_kind"] != "long_text"
                          and t["distinct_requests"] >= config.candidate_min_requests)
    candidates = value_rank(out_tasks)

    step_list = []
    task_of_step = reqs.group_by("step_id").agg(pl.col("task_id").unique().sort())
    task_of_step = dict(zip(task_of_step["step_id"], task_of_step["task_id"]))
    for r in steps.iter_rows(named=True):
        sp = splits[r["step_key"]]
        step_list.append({
            "id": r["step_id"], "calls": r["calls"], "output_kind": r["kind"], "split_by_request": r["split"],
            "template": r["template_excerpt"], "template_family": r["family"],
            "tools_offered": r["tools_offered"], "tool_sets": r["tool_sets"],
            "per_request_tools": r["per_request_tools"], "workload_tag": r["tag"] or None,
            "k": sp.k, "k_pinned": sp.pinned, "curve": sp.curve, "why": sp.reason,
            "tasks": list(task_of_step.get(r["step_id"], [])),
        })
    n_split = sum(s["split_by_request"] for s in step_list)
    n_loose = sum(s["per_request_tools"] for s in step_list)
    explanation = (
        f"{sig.height:,} calls form {len(step_list)} workflow step(s) by prompt template, tool set and output shape. "
        + (f"In {n_loose} step(s) the requests bring their own tools (many tool sets, few calls each): the tool set "
           "does not split them. " if n_loose else "")
        + (f"{n_split} step(s) with open-ended outputs were split by kind of request "
           "(k-means on neighbour-smoothed request embeddings; k chosen by the silhouette curve). " if n_split else "")
        + f"{len(out_tasks)} task(s) in all"
        + (f" (tasks.k pinned to {config.k})" if config.k is not None else "")
        + (f", {len(config.merges)} merge(s) applied" if config.merges else "") + ". " + ranking_note(out_tasks))
    return {
        "k": len(out_tasks),
        "k_pinned": config.k,
        "explanation": explanation,
        "method": {"signature": "system-prompt template family + tool set + output shape; request text with numbers, "
                                "IDs, dates and placeholders normalised",
                   "split": "neighbour-smoothed embeddings, k-means, k by silhouette (cosine) on a sample",
                   "k_range": list(config.k_range), "seed": config.seed},
        "calls": sig.height,
        "steps": step_list,
        "tasks": out_tasks,
        "candidates": candidates,
        "map": map_points(reqs, vectors, config.seed),
        "settings": config.model_dump(mode="json"),
    }
