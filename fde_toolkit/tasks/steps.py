"""The first level of discovery: workflow steps (prompt template, tool set, output shape).

A step is the set of calls that share a prompt-template family and an offered tool set (and, where
a template carries several of the customer's workload tags, the tag). A template whose requests each
bring their own tools (many tool sets, or most tool sets with few calls: an agent offering whatever
functions the user's context has) is one step whatever the tool set; a template with a few fixed
tool sets splits by them. Its output kind decides the second level: label, JSON and tool-call steps
are one task each, short free text is one task, and open-ended steps (long free text, or no usable
outputs logged) split by the kind of request.

    sig, templates = assign_steps(sig, templates, config)   # adds family, tool_set, tag, step_key
    steps = describe_steps(sig, templates, config)         # one row per step: kind, split, labels, keys, tools
"""

from __future__ import annotations

import re
from collections import Counter

import polars as pl

from fde_toolkit.tasks.config import TasksConfig
from fde_toolkit.tasks.signature import digest, template_families

CLOSED_KINDS = ("label", "json", "tool_call")
OPEN_KINDS = ("long_text", "unknown")
POOLED = "(rare prompt templates)"
POOLED_ID = "pooled"
NO_PROMPT = "(no system prompt)"
TAG_SHARE = 0.05  # a workload tag splits a step when it holds at least this share of the tagged calls
# A template family's tool sets stop splitting it when it offers more than TOOL_SETS_MANY of them, or at
# least TOOL_SETS_SOME whose median tool set has fewer than TOOL_SET_FEW calls: the requests bring their
# own tools. A few fixed tool sets with real traffic each (a claims agent, a billing agent) stay apart.
TOOL_SETS_MANY = 8
TOOL_SETS_SOME = 3
TOOL_SET_FEW = 20
PER_REQUEST_TOOLS = "(per-request tool sets)"  # the step's tool set when the requests bring their own
TOP_TOOLS = 20  # tools named per step and per task (most offered / most called first)


def per_request_tool_families(sig: pl.DataFrame) -> list[str]:
    """Template families whose calls bring their own tool sets (see TOOL_SETS_MANY), sorted.

    `sig` has columns family and tools (the comma-joined names offered; '' for none)."""
    sets = sig.filter(pl.col("tools") != "").group_by("family", "tools").agg(pl.len().alias("n"))
    per_family = sets.group_by("family").agg(pl.len().alias("sets"), pl.col("n").median().alias("median"))
    loose = per_family.filter((pl.col("sets") > TOOL_SETS_MANY)
                              | ((pl.col("sets") >= TOOL_SETS_SOME) & (pl.col("median") < TOOL_SET_FEW)))
    return sorted(loose["family"].to_list())


def assign_steps(sig: pl.DataFrame, templates: pl.DataFrame,
                 config: TasksConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(sig + `family`, `tool_set`, `tag` and `step_key`; templates + `family` and `family_text`).

    `family` is a short id of the template family (its text stays in the templates table), `tag` the
    workload tag that splits the step ('' if none, '?' for untagged calls of a step split by tag).
    `tool_set` keeps the tools each call offered; `tools` becomes the step's tool set: the same, or
    PER_REQUEST_TOOLS in a family whose requests bring their own tools (per_request_tool_families).
    """
    by_text = templates.group_by("template").agg(pl.col("calls").sum()).sort("template")
    fam = template_families(by_text)
    templates = templates.with_columns(
        pl.col("template").replace_strict(fam, return_dtype=pl.String).alias("family_text"))
    templates = templates.with_columns(
        pl.when(pl.col("family_text") == "").then(pl.lit(NO_PROMPT)).otherwise(pl.col("family_text"))
        .alias("family_text"))
    ids = {t: "f" + digest(t) for t in templates["family_text"].unique().to_list()}
    templates = templates.with_columns(pl.col("family_text").replace_strict(ids, return_dtype=pl.String)
                                       .alias("family"))
    sig = sig.join(templates.select("template_id", "family"), on="template_id", how="left", maintain_order="left")
    # a family whose requests bring their own tools is one step whatever tools a call offers
    loose = per_request_tool_families(sig)
    sig = sig.with_columns(pl.col("tools").alias("tool_set"))
    if loose:
        sig = sig.with_columns(pl.when(pl.col("family").is_in(loose) & (pl.col("tools") != ""))
                               .then(pl.lit(PER_REQUEST_TOOLS)).otherwise(pl.col("tools")).alias("tools"))
    # pool rare families (per tool set) so a long tail of one-off prompts does not become one task each
    n = sig.height
    shares = sig.group_by("family", "tools").agg(pl.len().alias("n"))
    if shares.height > 1:
        rare = shares.filter(pl.col("n") < config.min_template_share * n)
        if rare.height > 1:
            sig = sig.join(rare.select("family", "tools", pl.lit(True).alias("_rare")), on=["family", "tools"],
                           how="left", maintain_order="left")
            sig = sig.with_columns(pl.when(pl.col("_rare")).then(pl.lit(POOLED_ID)).otherwise(pl.col("family"))
                                   .alias("family")).drop("_rare")
    # the customer's workload tag splits a step only where the step carries several tags
    tags = (sig.filter(pl.col("workload_id") != "").group_by("family", "tools", "workload_id")
            .agg(pl.len().alias("n"))
            .with_columns((pl.col("n") / pl.col("n").sum().over("family", "tools")).alias("share")))
    splitting = (tags.filter(pl.col("share") >= TAG_SHARE)
                 .with_columns(pl.len().over("family", "tools").alias("n_tags"))
                 .filter(pl.col("n_tags") >= 2).select("family", "tools", pl.col("workload_id").alias("tag")))
    sig = sig.join(splitting, left_on=["family", "tools", "workload_id"], right_on=["family", "tools", "tag"],
                   how="left", coalesce=False, maintain_order="left")
    multi = splitting.select("family", "tools").unique().with_columns(pl.lit(True).alias("_multi"))
    sig = sig.join(multi, on=["family", "tools"], how="left", maintain_order="left")
    # untagged (or rare-tag) calls of a tag-split step get tag "?" and are placed later by nearest request
    sig = sig.with_columns(
        pl.when(pl.col("_multi").is_null()).then(pl.lit(""))
        .when(pl.col("tag").is_null()).then(pl.lit("?"))
        .otherwise(pl.col("tag")).alias("tag")).drop("_multi")
    sig = sig.with_columns(
        (pl.col("family") + pl.lit("\x1f") + pl.col("tools") + pl.lit("\x1f") + pl.col("tag")).alias("step_key"))
    return sig, templates


_KEY = re.compile(r'"([^"\\]{1,64})"\s*:')


def _json_keys(outputs: list[str]) -> list[str]:
    """Keys found in at least half of the JSON outputs, most common first (outputs are normalised text)."""
    keys: Counter[str] = Counter()
    for o in outputs:
        keys.update(set(_KEY.findall(o)))
    half = len(outputs) / 2
    return [k for k, n in sorted(keys.items(), key=lambda kv: (-kv[1], kv[0])) if n >= half][:12]


def output_kind(shapes: dict[str, int], distinct_short: int, distinct_outputs: int, median_tokens: float | None,
                calls: int, open_ended_tokens: int) -> str:
    """label | json | tool_call | short_text | long_text | unknown, from a step's output shapes."""
    n_out = sum(v for k, v in shapes.items() if k != "none")
    if n_out < max(3, 0.05 * calls):
        return "unknown"
    if shapes.get("tool_call", 0) >= 0.5 * n_out:
        return "tool_call"
    if shapes.get("json", 0) >= 0.8 * n_out:
        return "json"
    if distinct_outputs <= 1:  # one constant answer says nothing about the task
        return "unknown"
    if shapes.get("short", 0) >= 0.9 * n_out and distinct_short <= max(50, 0.05 * n_out):
        return "label"
    if median_tokens is not None and median_tokens > open_ended_tokens:
        return "long_text"
    return "short_text"


def describe_steps(sig: pl.DataFrame, templates: pl.DataFrame, config: TasksConfig) -> pl.DataFrame:
    """One row per step: step_key, step_id, calls, kind, split, and what names it (labels, keys, tools).

    tools_offered: the step's tool set, or in a step whose requests bring their own tools
    (per_request_tools) the TOP_TOOLS most offered; tool_sets: distinct tool sets its calls offered."""
    ok = sig.filter((pl.col("status") == "ok") & (pl.col("shape") != "none"))
    shapes = (ok.group_by("step_key", "shape").agg(pl.len().alias("n"))
              .group_by("step_key").agg(pl.struct("shape", "n").alias("shapes")))
    distinct = ok.group_by("step_key").agg(
        pl.col("out_h").n_unique().alias("distinct_outputs"),
        pl.col("label").drop_nulls().n_unique().alias("distinct_short"),
        pl.col("output_tokens").median().alias("median_output_tokens"))
    top_out = (ok.filter(pl.col("shape") == "short").group_by("step_key", "label").agg(pl.len().alias("n"))
               .sort(["step_key", "n", "label"], descending=[False, True, False])
               .group_by("step_key", maintain_order=True).agg(pl.col("label").head(20).alias("labels"),
                                                              pl.col("label").n_unique().alias("n_labels")))
    called = (ok.filter(pl.col("called_tools").is_not_null())
              .with_columns(pl.col("called_tools").str.split(",")).explode("called_tools")
              .group_by("step_key", "called_tools").agg(pl.len().alias("n"))
              .sort(["step_key", "n", "called_tools"], descending=[False, True, False])
              .group_by("step_key", maintain_order=True).agg(pl.col("called_tools").alias("tools_called")))
    offered = (sig.filter(pl.col("tools") == PER_REQUEST_TOOLS)
               .with_columns(pl.col("tool_set").str.split(",")).explode("tool_set")
               .group_by("step_key", "tool_set").agg(pl.len().alias("n"))
               .sort(["step_key", "n", "tool_set"], descending=[False, True, False])
               .group_by("step_key", maintain_order=True).agg(pl.col("tool_set").head(TOP_TOOLS).alias("top_offered")))
    json_samples = (ok.filter(pl.col("shape") == "json").sort("call_id").group_by("step_key", maintain_order=True)
                    .agg(pl.col("json_text").head(200)))
    keys = {r["step_key"]: _json_keys(r["json_text"]) for r in json_samples.iter_rows(named=True)}
    family_text = dict(zip(templates["family"], templates["family_text"]))
    family_text[POOLED_ID] = POOLED
    head = (sig.group_by("step_key").agg(
        pl.len().alias("calls"), pl.col("family").first(), pl.col("tools").first(), pl.col("tag").first(),
        pl.col("tool_set").filter(pl.col("tool_set") != "").n_unique().alias("tool_sets"),
        pl.col("template_id").mode().min().alias("template_id"))
            .join(templates.select("template_id", pl.col("system").str.slice(0, 600).alias("template_excerpt")),
                  on="template_id", how="left", maintain_order="left"))
    steps = head
    for part in (shapes, distinct, top_out, called, offered):
        steps = steps.join(part, on="step_key", how="left", maintain_order="left")
    rows = []
    for r in steps.iter_rows(named=True):
        sh = {d["shape"]: d["n"] for d in (r["shapes"] or [])}
        kind = output_kind(sh, r["distinct_short"] or 0, r["distinct_outputs"] or 0, r["median_output_tokens"],
                           r["calls"], config.open_ended_tokens)
        rows.append({
            "step_key": r["step_key"], "calls": r["calls"], "kind": kind, "split": kind in OPEN_KINDS,
            "family": family_text.get(r["family"], r["family"]), "tools": r["tools"], "tag": r["tag"],
            "per_request_tools": r["tools"] == PER_REQUEST_TOOLS, "tool_sets": r["tool_sets"],
            "tools_offered": (r["top_offered"] or []) if r["tools"] == PER_REQUEST_TOOLS
            else (r["tools"].split(",") if r["tools"] else []),
            "template_excerpt": r["template_excerpt"] or "",
            "labels": (r["labels"] or []) if kind == "label" else [],
            "n_labels": int(r["n_labels"] or 0) if kind == "label" else 0,
            "json_keys": keys.get(r["step_key"], []) if kind == "json" else [],
            "tools_called": r["tools_called"] or [],
            "median_output_tokens": r["median_output_tokens"],
            "order": digest(r["step_key"]),
        })
    out = pl.DataFrame(rows, schema={
        "step_key": pl.String, "calls": pl.Int64, "kind": pl.String, "split": pl.Boolean, "family": pl.String,
        "tools": pl.String, "tag": pl.String, "per_request_tools": pl.Boolean, "tool_sets": pl.Int64,
        "tools_offered": pl.List(pl.String), "template_excerpt": pl.String, "labels": pl.List(pl.String),
        "n_labels": pl.Int64, "json_keys": pl.List(pl.String), "tools_called": pl.List(pl.String),
        "median_output_tokens": pl.Float64, "order": pl.String})
    out = out.sort(["calls", "order"], descending=[True, False]).drop("order")
    return out.with_columns(pl.format("s{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(2))
                            .alias("step_id"))
