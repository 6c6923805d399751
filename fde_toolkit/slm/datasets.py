"""A task's dataset: its curated calls as chat examples whose target is the LLM's logged answer.

    ex = task_examples(calls, kind="label")                 # one row per distinct (input, answer)
    ex = split_examples(ex, val_fraction=.1, test_fraction=.15, seed=7)   # no input in two splits
    build_dataset(eng, "t03")   # `fde dataset`: artifacts/datasets/t03/{train,val,test}.jsonl + OpenAI export

The same normalised input (case, whitespace) never lands in two splits; splits are stratified by
label (label tasks) or tool name (tool-call tasks) and capped proportionally within each stratum.
Tool names are matched by `tools.tool_key` and spelled the way the logged answers spell them (an
offered `requests.get` is the `requests_get` the provider logged): in the targets, in the tool
schemas of the records (what the LLM was offered once the provider renamed them) and in dataset.json.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson
import polars as pl

from fde_toolkit import FdeError
from fde_toolkit.slm.config import DatasetSettings
from fde_toolkit.slm.tools import answer_spelling, offered_tool_names, respell, respell_tools, tool_key
from fde_toolkit.step import StepOutputs, StepResult, run_step

KINDS = ("label", "json", "tool_call", "text")
SPLITS = ("train", "val", "test")


def kind_of(output_kind: str | None) -> str:
    """Task discovery's output kind (label, json, tool_call, short_text, ...) as one of KINDS."""
    return output_kind if output_kind in ("label", "json", "tool_call") else "text"


def normalise_input(text: str) -> str:
    """Casefolded, whitespace collapsed: two inputs equal under this are the same input."""
    return " ".join(text.casefold().split())


def _digest(text: str, seed: int | str = "") -> str:
    return hashlib.blake2b(f"{seed}\x1f{text}".encode(), digest_size=8).hexdigest()


def render_tool_calls(calls: list[dict[str, Any]] | None, spelling: dict[str, str] | None = None) -> str:
    """Logged tool calls as the answer an SLM emits: {"name": ..., "arguments": {...}} (a list if several).

    With `spelling` (tools.answer_spelling) every name is spelled the one way the answers spell its tool."""
    out = []
    for c in calls or []:
        try:
            args = orjson.loads(c.get("arguments") or "{}")
        except orjson.JSONDecodeError:
            args = c.get("arguments")
        name = c.get("name")
        out.append({"name": respell(name, spelling) if spelling is not None and name else name, "arguments": args})
    if not out:
        return ""
    return json.dumps(out[0] if len(out) == 1 else out, ensure_ascii=False)


def infer_kind(calls: pl.DataFrame) -> str:
    """An output kind for a plain frame of calls (task discovery gives it otherwise)."""
    n = max(calls.height, 1)
    n_tools = calls.filter(pl.col("tool_calls").list.len() > 0).height if "tool_calls" in calls.columns else 0
    if n_tools >= 0.5 * n:
        return "tool_call"
    texts = [t for t in calls["response_text"].drop_nulls().to_list() if t.strip()]
    if not texts:
        return "text"
    is_json = sum(1 for t in texts if _is_json_object(t))
    if is_json >= 0.8 * len(texts):
        return "json"
    short = [t.strip() for t in texts if len(t.split()) <= 4]
    if len(short) >= 0.9 * len(texts) and len(set(short)) <= max(50, 0.05 * len(texts)):
        return "label"
    return "text"


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(orjson.loads(text.strip().removeprefix("```json").removesuffix("```").strip()), dict)
    except orjson.JSONDecodeError:
        return False


def tool_spelling(calls: pl.DataFrame) -> dict[str, str]:
    """tool_key -> the name the answers use, over the tools these calls offered and called."""
    offered = [n for t in calls["tools"].drop_nulls().unique().to_list() for n in offered_tool_names(t)]
    called = calls["tool_calls"].list.eval(pl.element().struct.field("name")).explode().drop_nulls().to_list()
    return answer_spelling(offered, called)


def task_examples(calls: pl.DataFrame, kind: str, spelling: dict[str, str] | None = None) -> pl.DataFrame:
    """One row per distinct (normalised input, answer) of successful calls with an answer.

    Columns: id, messages, tools, tool_calls, target, stratum, group, calls, cost_usd, latency_ms,
    input_tokens, output_tokens. `group` identifies the normalised input; `calls` counts duplicates.
    Tool-call targets spell tool names by `spelling` (default: tool_spelling of the successful calls);
    their stratum is the first called tool's key."""
    if kind not in KINDS:
        raise FdeError(f"Unknown output kind {kind!r}; expected one of {', '.join(KINDS)}.")
    ok = calls.filter(pl.col("status").is_null() | (pl.col("status") == "ok"))
    if kind == "tool_call":
        spelling = tool_spelling(ok) if spelling is None else spelling
        target = pl.Series("target", [render_tool_calls(c, spelling) for c in ok["tool_calls"].to_list()],
                           dtype=pl.String)
        ok = ok.with_columns(target)
        target = pl.col("target")
    else:
        target = pl.col("response_text").str.strip_chars()
    text = (pl.col("messages").list.eval(pl.element().struct.field("role") + pl.lit(": ")
                                         + pl.element().struct.field("content").fill_null(""))
            .list.join("\n") + pl.lit("\n") + pl.col("tools").fill_null(""))
    ex = (ok.sort("timestamp", "call_id")
          .with_columns(target.alias("target"),
                        text.map_elements(lambda t: _digest(normalise_input(t)), return_dtype=pl.String).alias("group"))
          .filter(pl.col("target").is_not_null() & (pl.col("target") != "")))
    if kind == "label":
        stratum = pl.col("target")
    elif kind == "tool_call":
        stratum = pl.col("tool_calls").list.first().struct.field("name").map_elements(tool_key, return_dtype=pl.String)
    else:
        stratum = pl.lit(None, dtype=pl.String)
    ex = ex.with_columns(stratum.alias("stratum"))
    return (ex.group_by("group", "target", maintain_order=True)
            .agg(pl.col("call_id").first().alias("id"), pl.col("messages").first(), pl.col("tools").first(),
                 pl.col("tool_calls").first(), pl.col("stratum").first(), pl.len().alias("calls"),
                 pl.col("cost_usd").mean(), pl.col("latency_ms").mean(),
                 pl.col("input_tokens").mean(), pl.col("output_tokens").mean())
            .select("id", "messages", "tools", "tool_calls", "target", "stratum", "group", "calls", "cost_usd",
                    "latency_ms", "input_tokens", "output_tokens"))


def proportional_order(df: pl.DataFrame, key: str, seed: int) -> pl.DataFrame:
    """Rows ordered so that any head of the frame keeps each stratum's share (deterministic with `seed`)."""
    return (df.with_columns(pl.col(key).map_elements(lambda g: _digest(g, seed), return_dtype=pl.String).alias("_h"))
            .with_columns(((pl.col("_h").rank("ordinal").over("stratum") - 0.5)
                           / pl.len().over("stratum")).alias("_q"))
            .sort("_q", "_h").drop("_h", "_q"))


def cap_examples(df: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    """At most `n` rows, each stratum keeping its share."""
    if df.height <= n:
        return df
    return proportional_order(df.with_columns(pl.col("stratum").fill_null("")), "group", seed).head(n) \
        .with_columns(pl.when(pl.col("stratum") == "").then(None).otherwise(pl.col("stratum")).alias("stratum"))


def split_examples(ex: pl.DataFrame, val_fraction: float, test_fraction: float, seed: int) -> pl.DataFrame:
    """Add `split` (train/val/test) by input group, stratified: every row of a group gets the same split.

    Per stratum, round(n * fraction) groups go to test and to val; a stratum of one group goes to train."""
    groups = (ex.group_by("group", maintain_order=True).agg(pl.col("stratum").first().fill_null(""))
              .with_columns(pl.col("group").map_elements(lambda g: _digest(g, seed), return_dtype=pl.String)
                            .alias("_h")))
    groups = groups.with_columns(
        (pl.col("_h").rank("ordinal").over("stratum") - 1).alias("_r"), pl.len().over("stratum").alias("_n"))
    n = pl.col("_n").cast(pl.Float64)
    n_test = (n * test_fraction).round(0)
    n_val = (n * val_fraction).round(0)
    n_test = pl.when(pl.col("_n") <= 1).then(0.0).otherwise(n_test)
    n_val = pl.when(pl.col("_n") - n_test <= 1).then(0.0).otherwise(n_val)
    groups = groups.with_columns(
        pl.when(pl.col("_r") < n_test).then(pl.lit("test"))
        .when(pl.col("_r") < n_test + n_val).then(pl.lit("val"))
        .otherwise(pl.lit("train")).alias("split"))
    return ex.join(groups.select("group", "split"), on="group", how="left", maintain_order="left")


# ----------------------------------------------------------------------------- files

def _tools_list(tools: str | None) -> list[dict] | None:
    if not tools:
        return None
    try:
        v = orjson.loads(tools)
    except orjson.JSONDecodeError:
        return None
    return v if isinstance(v, list) else None


def to_records(df: pl.DataFrame, spelling: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Example rows as the dicts written to the split files; with `spelling`, the offered tools are
    named the way the answers name them."""
    out = []
    for r in df.iter_rows(named=True):
        tools = _tools_list(r["tools"])
        out.append({
            "id": r["id"], "messages": [{"role": m["role"], "content": m["content"] or ""} for m in r["messages"]],
            "tools": respell_tools(tools, spelling) if spelling is not None else tools,
            "tool_calls": [dict(c) for c in (r["tool_calls"] or [])] or None,
            "target": r["target"], "stratum": r["stratum"], "calls": r["calls"],
            "cost_usd": r["cost_usd"], "latency_ms": r["latency_ms"],
            "input_tokens": r["input_tokens"], "output_tokens": r["output_tokens"],
        })
    return out


def openai_record(rec: dict[str, Any]) -> dict[str, Any]:
    """One example in OpenAI's chat fine-tuning format (tools and tool calls kept)."""
    msgs: list[dict[str, Any]] = [dict(m) for m in rec["messages"]]
    if rec.get("tool_calls"):
        msgs.append({"role": "assistant", "content": None, "tool_calls": [
            {"id": f"call_{i}", "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for i, c in enumerate(rec["tool_calls"])]})
    else:
        msgs.append({"role": "assistant", "content": rec["target"]})
    out: dict[str, Any] = {"messages": msgs}
    if rec.get("tools"):
        out["tools"] = rec["tools"]
    return out


def make_dataset(calls: pl.DataFrame, kind: str | None, settings: DatasetSettings,
                 seed: int) -> tuple[dict[str, list[dict]], dict[str, Any]]:
    """Pure core of `fde dataset`: calls of one task -> ({split: records}, summary).

    `kind` is the task's output kind (label, json, tool_call, text); None infers it from the calls."""
    kind = kind or infer_kind(calls)
    spelling = (tool_spelling(calls.filter(pl.col("status").is_null() | (pl.col("status") == "ok")))
                if kind == "tool_call" else None)
    ex = task_examples(calls, kind, spelling)
    distinct = ex.height
    ex = cap_examples(ex, settings.max_examples, seed)
    ex = split_examples(ex, settings.val_fraction, settings.test_fraction, seed)
    caps = {"val": settings.max_val, "test": settings.max_test}
    splits: dict[str, pl.DataFrame] = {}
    for s in SPLITS:
        part = ex.filter(pl.col("split") == s)
        splits[s] = cap_examples(part, caps[s], seed) if s in caps else part
        splits[s] = proportional_order(splits[s].with_columns(pl.col("stratum").fill_null("")), "group", seed) \
            .with_columns(pl.when(pl.col("stratum") == "").then(None).otherwise(pl.col("stratum")).alias("stratum"))
    conflicting = ex.group_by("group").agg(pl.col("target").n_unique().alias("n")).filter(pl.col("n") > 1).height
    n_ok = calls.filter(pl.col("status").is_null() | (pl.col("status") == "ok")).height
    labels = sorted(ex["target"].unique().to_list()) if kind == "label" else []
    # tools by the names the answers use; names called but never offered in a logged schema still count
    offered = sorted({n for t in ex["tools"].drop_nulls().unique().to_list() for n in offered_tool_names(t)})
    spelled = spelling if spelling is not None else answer_spelling(offered, [])
    tools = set(spelled.values()) if kind == "tool_call" else {respell(n, spelled) for n in offered}
    renamed = {n: respell(n, spelled) for n in offered if respell(n, spelled) != n}
    summary = {
        "output_kind": kind, "calls": calls.height, "ok_calls": n_ok, "distinct_examples": distinct,
        "kept_examples": ex.height, "conflicting_inputs": conflicting,
        "splits": {s: splits[s].height for s in SPLITS},
        "strata": ({s: dict(sorted(_stratum_counts(splits[s]["stratum"]).items())) for s in SPLITS}
                   if kind in ("label", "tool_call") else {}),
        "labels": labels, "tools": sorted(tools), "renamed_tools": renamed,
        "unoffered_tool_calls": _unoffered(ex) if kind == "tool_call" else 0,
        "seed": seed, "settings": settings.model_dump(mode="json"),
        "leakage_check": "no normalised input in two splits",
    }
    return {s: to_records(splits[s], spelling) for s in SPLITS}, summary


def _unoffered(ex: pl.DataFrame) -> int:
    """Examples whose target calls a tool its request did not offer (requests that offered tools only)."""
    n = 0
    for tools, calls in zip(ex["tools"].to_list(), ex["tool_calls"].to_list()):
        offered = {tool_key(t) for t in offered_tool_names(tools)}
        if offered and any(tool_key(c["name"]) not in offered for c in calls or []):
            n += 1
    return n


def _stratum_counts(col: pl.Series) -> dict[str, int]:
    vc = col.fill_null("(none)").value_counts()
    return {str(k): int(v) for k, v in zip(vc[vc.columns[0]], vc["count"])}


# ----------------------------------------------------------------------------- the engagement step

def find_task(tasks: dict[str, Any], task_id: str) -> dict[str, Any]:
    for t in tasks.get("tasks", []):
        if t.get("id") == task_id:
            return t
    known = ", ".join(t.get("id", "?") for t in tasks.get("tasks", [])[:30])
    raise FdeError(f"Task {task_id!r} is not in tasks.json (tasks: {known}). Run `fde discover` or pick a listed id.")


def task_calls(eng, task_id: str) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The curated calls of one task, and its tasks.json entry."""
    task = find_task(eng.artifacts.tasks(), task_id)
    curated = eng.artifacts.require("curated")
    assigned = pl.read_parquet(eng.artifacts.require("task_assignments"), columns=["call_id", "task_id"])
    ids = assigned.filter(pl.col("task_id") == task_id).select("call_id")
    calls = pl.read_parquet(curated).join(ids, on="call_id", how="semi")
    if calls.height == 0:
        raise FdeError(f"Task {task_id}: no curated calls are assigned to it in tasks.parquet. Re-run `fde discover`.")
    return calls, task


def load_dataset(eng, task_id: str) -> tuple[dict[str, list[dict]], dict[str, Any]]:
    """({split: records}, dataset.json) of a built dataset."""
    info = eng.artifacts.read("dataset_info", task_id)
    return {s: eng.artifacts.read("split", task_id, s) for s in SPLITS}, info


def build_dataset(eng, task_id: str, force: bool = False) -> StepResult[dict[str, Any]]:
    """`fde dataset`: the task's train/val/test JSONL, an OpenAI fine-tuning export, and dataset.json."""
    from fde_toolkit.slm.summary import render_dataset

    settings = eng.config.finetune.dataset
    arts = eng.artifacts
    inputs = [arts.require("curated"), arts.require("task_assignments"), arts.require("tasks")]
    params = {"task": task_id, "seed": eng.config.seed, **settings.model_dump(mode="json")}

    def make(out: StepOutputs) -> dict[str, Any]:
        calls, task = task_calls(eng, task_id)
        kind = kind_of(task["output_kind"]) if task.get("output_kind") else None
        splits, summary = make_dataset(calls, kind, settings, eng.config.seed)
        if not splits["train"] or not splits["test"]:
            raise FdeError(f"Task {task_id}: too few distinct examples ({summary['kept_examples']}) for a train and a "
                           "test split. Collect more calls, or lower finetune.dataset.test_fraction.")
        for s in SPLITS:
            out.write("split", splits[s], task_id, s)
        for s in ("train", "val"):
            out.write("openai_export", [openai_record(r) for r in splits[s]], task_id, s)
        summary = {"task": task_id, "name": task.get("name"), **summary}
        out.summary = {"splits": summary["splits"], "kind": summary["output_kind"]}
        return out.write_data("dataset_info", summary, task_id)

    return run_step(eng, f"dataset:{task_id}", inputs=inputs, params=params, make=make,
                    previous=lambda: arts.read("dataset_info", task_id), render=lambda d: render_dataset(eng, d),
                    force=force)
