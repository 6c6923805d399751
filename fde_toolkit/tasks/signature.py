"""Task signatures: what the caller asked the model to do, with the volatile data taken out.

Per call: the system-prompt template (numbers, IDs, dates and PII placeholders normalised), the tool
names offered, the user's request with the same normalisation, and the response shape (tool call,
JSON, short label-like text, free text). Work stays columnar: regexes run in polars over the
distinct texts only.

    sig = call_signatures(calls)        # .calls (one row per call), .requests, .templates
    normalise(["Claim CLM-1234 on 2024-03-01"]) == ["claim <id> on <date>"]
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable

import orjson
import polars as pl

# (pattern, replacement), applied in order. Rust regex syntax (no look-around).
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
VOLATILE: list[tuple[str, str]] = [
    # pseudonyms written by the scrub step: <EMAIL_7f3a91c2> -> <EMAIL>
    (r"<([A-Z][A-Z0-9_]*?)_[0-9a-fA-F]{4,}>", "<$1>"),
    (r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", "<EMAIL>"),
    (r"(?i)\bhttps?://\S+", "<URL>"),
    (r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", "<ID>"),
    (r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b", "<DATE>"),
    (r"\b\d{1,2}/\d{1,2}/\d{2,4}\b", "<DATE>"),
    (r"(?i)\b" + _MONTH + r"\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}\b", "<DATE>"),
    (r"(?i)\b\d{1,2}(?:st|nd|rd|th)?\s+" + _MONTH + r",?\s+\d{4}\b", "<DATE>"),
    (r"(?i)\b\d{1,2}:\d{2}(?::\d{2})?\s*(?:am|pm)?\b", "<TIME>"),
    # identifiers: a token with a digit and a letter, dash or underscore (CLM-48620633, NWM-333-754081, I-90)
    (r"\b[A-Za-z_]+[-_]?\d[\w-]*", "<ID>"),
    (r"\b\d+[-_][\w-]*", "<ID>"),
    (r"\b\d+[A-Za-z]{3,}\w*", "<ID>"),
    # amounts and plain numbers
    (r"[$€£]?\d[\d,]*(?:\.\d+)?%?", "<NUM>"),
    (r"\s+", " "),
]

REQUEST_CHARS = 300  # a request is told apart by its beginning (about 64 tokens); the rest is cut
OUTPUT_CHARS = 500  # enough to tell outputs apart (labels, determinism)
SHOW_CHARS = 400  # curated request text kept per call, for representative examples
BATCH_ROWS = 50_000  # calls read at a time


def normalise_expr(text: pl.Expr) -> pl.Expr:
    """Polars expression: lowercase text with volatile tokens replaced by <NUM>, <ID>, <DATE>, ..."""
    for pattern, repl in VOLATILE:
        text = text.str.replace_all(pattern, repl)
    return text.str.strip_chars().str.to_lowercase()


def normalise(texts: Iterable[str | None]) -> list[str | None]:
    """Normalise a few texts (tests, notebooks); the pipeline uses `normalise_expr` on columns."""
    s = pl.Series("t", list(texts), dtype=pl.String)
    return pl.select(normalise_expr(pl.lit(s))).to_series().to_list()


def digest(text: str) -> str:
    """Short stable content hash (the same on every machine and polars version)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def _role_text(roles: tuple[str, ...], last: bool) -> pl.Expr:
    picked = pl.col("messages").list.eval(
        pl.element().filter(pl.element().struct.field("role").is_in(list(roles))).struct.field("content"))
    return picked.list.last() if last else picked.list.join("\n")


def _tool_names(tools_json: str | None) -> str:
    """Sorted, comma-joined names of the tools offered (OpenAI format), '' when none or unreadable."""
    if not tools_json:
        return ""
    try:
        tools = orjson.loads(tools_json)
    except orjson.JSONDecodeError:
        return "(unreadable tools)"
    names = set()
    for t in tools if isinstance(tools, list) else []:
        if isinstance(t, dict):
            fn = t.get("function") if isinstance(t.get("function"), dict) else t
            if isinstance(fn.get("name"), str):
                names.add(fn["name"])
    return ",".join(sorted(names))


def _normalised(values: pl.DataFrame, src: str, dst: str, chars: int | None) -> pl.DataFrame:
    """Distinct values of column `src` with their normalised text in `dst`."""
    distinct = values.select(pl.col(src).unique()).filter(pl.col(src).is_not_null())
    cut = pl.col(src) if chars is None else pl.col(src).str.slice(0, chars)
    return distinct.with_columns(normalise_expr(cut).alias(dst))


@dataclass
class Signatures:
    """What task discovery knows of the calls, without the volatile data and without long texts.

    calls: one row per call: call_id, template_id, tools (offered tool names, comma-joined),
        workload_id, req_id, shape (tool_call | json | short | text | none), out_h (hash of the
        normalised output; null without output), label (normalised short output), json_text
        (normalised JSON output), called_tools, model, input/output tokens, latency_ms, cost_usd, status.
    requests: one row per distinct normalised request: req_id, request (normalised, cut to
        REQUEST_CHARS), request_text (curated text of its first call, cut to SHOW_CHARS), call_id.
    templates: one row per prompt template (system prompts equal once normalised): template_id,
        system (its most common curated text), template (normalised), calls.
    """

    calls: pl.DataFrame
    requests: pl.DataFrame
    templates: pl.DataFrame


def _owned(df: pl.DataFrame) -> pl.DataFrame:
    """Copy string columns into their own buffers. Polars strings are views: a short slice of a long
    message would otherwise keep the whole batch's message buffers alive."""
    return df.with_columns(pl.concat_str([pl.col(c), pl.lit("")]).alias(c)
                           for c, t in df.schema.items() if t == pl.String)


def _batch(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """One batch of canonical calls -> (per-call signature rows, distinct systems, first texts per request)."""
    text = pl.col("response_text").str.strip_chars()
    has_tool = pl.col("tool_calls").list.len().fill_null(0) > 0
    is_json = (text.str.starts_with("{") | text.str.starts_with("[") | text.str.starts_with("```json"))
    is_short = ((text.str.len_chars() <= 60) & ~text.str.contains("\n")
                & (text.str.count_matches(r"\s+") <= 5))
    called = pl.col("tool_calls").list.eval(pl.element().struct.field("name")).list.sort().list.join(",")
    tool_out = pl.col("tool_calls").list.eval(
        pl.element().struct.field("name") + pl.lit("(") + pl.element().struct.field("arguments").fill_null("")
        + pl.lit(")")).list.join(";")
    base = frame.select(
        pl.col("call_id"),
        _role_text(("system", "developer"), last=False).fill_null("").alias("system"),
        pl.col("tools").alias("tools_json"),
        pl.col("workload_id").fill_null(""),
        pl.coalesce(_role_text(("user",), last=True),
                    pl.col("messages").list.eval(pl.element().struct.field("content")).list.last(),
                    pl.lit("")).str.slice(0, SHOW_CHARS).alias("request_text"),
        pl.when(has_tool).then(pl.lit("tool_call"))
        .when(text.is_null() | (text == "")).then(pl.lit("none"))
        .when(is_json).then(pl.lit("json"))
        .when(is_short).then(pl.lit("short"))
        .otherwise(pl.lit("text")).alias("shape"),
        pl.when(has_tool).then(tool_out).otherwise(pl.col("response_text")).str.slice(0, OUTPUT_CHARS)
        .alias("output_raw"),
        pl.when(has_tool).then(called).otherwise(pl.lit(None, dtype=pl.String)).alias("called_tools"),
        "model", "input_tokens", "output_tokens", "latency_ms", "cost_usd",
        pl.col("status").fill_null("ok").str.to_lowercase().alias("status"),
    ).with_columns(pl.col("system").hash(11).alias("system_h"))
    systems = base.group_by("system_h").agg(pl.col("system").first(), pl.len().alias("calls"))
    tools = base.select(pl.col("tools_json").unique())
    tools = tools.with_columns(pl.Series("tools", [_tool_names(t) for t in tools["tools_json"].to_list()],
                                         dtype=pl.String))
    base = base.join(tools, on="tools_json", how="left", nulls_equal=True, maintain_order="left")
    base = base.join(_normalised(base, "request_text", "request", REQUEST_CHARS), on="request_text", how="left",
                     maintain_order="left")
    base = base.join(_normalised(base, "output_raw", "output", OUTPUT_CHARS), on="output_raw", how="left",
                     maintain_order="left")
    firsts = (base.sort("call_id").group_by("request", maintain_order=True)
              .agg(pl.col("call_id").first(), pl.col("request_text").first()))
    out = pl.when(pl.col("shape") == "none").then(None).otherwise(pl.col("output"))
    rows = base.select(
        "call_id", "system_h", "tools", "workload_id", pl.col("request").fill_null(""), "shape",
        pl.when(out.is_null()).then(None).otherwise(out.hash(7)).alias("out_h"),
        pl.when(pl.col("shape") == "short").then(out).alias("label"),
        pl.when(pl.col("shape") == "json").then(out).alias("json_text"),
        "called_tools", "model", "input_tokens", "output_tokens", "latency_ms", "cost_usd", "status")
    return _owned(rows), _owned(systems), _owned(firsts)


def call_signatures(calls: pl.DataFrame | pl.LazyFrame, batch_rows: int = BATCH_ROWS) -> Signatures:
    """Signatures of canonical calls, read `batch_rows` calls at a time: long prompts, tool schemas
    and documents never sit in memory for all calls at once (pass a lazy frame from scan_parquet)."""
    lf = calls.lazy()
    n = lf.select(pl.len()).collect().item()
    rows, systems, firsts = [], [], []
    for start in range(0, max(n, 1), batch_rows):
        r, s, f = _batch(lf.slice(start, batch_rows).collect())
        rows.append(r)
        systems.append(s)
        firsts.append(f)
    sig = pl.concat(rows)
    # templates: system prompts normalised once, numbered by their normalised text
    systems_df = (pl.concat(systems).group_by("system_h").agg(pl.col("system").first(), pl.col("calls").sum())
                  .with_columns(normalise_expr(pl.col("system")).alias("template")))
    systems_df = systems_df.with_columns(pl.col("template").rank("dense").cast(pl.UInt32).alias("template_id"))
    templates = (systems_df.sort(["template_id", "calls", "system"], descending=[False, True, False])
                 .group_by("template_id", maintain_order=True)
                 .agg(pl.col("system").first(), pl.col("template").first(), pl.col("calls").sum()))
    # requests: numbered by their normalised text, with the curated text of their first call
    requests = (pl.concat(firsts).sort("call_id").group_by("request", maintain_order=True)
                .agg(pl.col("call_id").first(), pl.col("request_text").first())
                .with_columns(pl.col("request").fill_null("")).sort("request")
                .unique("request", keep="first", maintain_order=True).with_row_index("req_id"))
    sig = (sig.join(systems_df.select("system_h", "template_id"), on="system_h", how="left", maintain_order="left")
           .join(requests.select("request", "req_id"), on="request", how="left", maintain_order="left"))
    sig = sig.select("call_id", "template_id", "tools", "workload_id", "req_id", "shape", "out_h", "label",
                     "json_text", "called_tools", "model", "input_tokens", "output_tokens", "latency_ms",
                     "cost_usd", "status")
    return Signatures(sig, requests.select("req_id", "request", "request_text", "call_id"), templates)


def template_families(templates: pl.DataFrame, max_branch: int = 8, min_variants: int = 50,
                      light_leaf: float = 0.01) -> dict[str, str]:
    """Group normalised system prompts that differ only by a variable part (retrieved passages, notes).

    `templates` has columns template, calls. The prompts are read as word sequences in a prefix tree.
    A node where the prompts fan out into many branches (more than `max_branch`) and many distinct
    prompts (at least `min_variants`), each rarely repeated (the median prompt holds under
    `light_leaf` of the node's calls), is a slot for variable content: every prompt below it shares
    one family, named by the words before the slot. Prompts that fan out into a few branches, or into
    prompts that each carry much traffic (a shared preamble, then each step's own instructions), stay
    apart. Returns template -> family key.
    """
    texts = templates["template"].to_list()
    weights = templates["calls"].to_list()
    words = [t.split(" ") if t else [] for t in texts]
    family: dict[str, str] = {}
    stack: list[tuple[list[int], int]] = [(list(range(len(texts))), 0)]
    while stack:
        idx, depth = stack.pop()
        while True:
            groups: dict[str | None, list[int]] = {}
            for i in idx:
                groups.setdefault(words[i][depth] if depth < len(words[i]) else None, []).append(i)
            if len(groups) == 1:
                (tok, _), = groups.items()
                if tok is None:
                    for i in idx:
                        family[texts[i]] = texts[i]
                    break
                depth += 1
                continue
            total = sum(weights[i] for i in idx) or 1
            median_leaf = sorted(weights[i] for i in idx)[len(idx) // 2] / total
            if depth > 0 and len(groups) > max_branch and len(idx) >= min_variants and median_leaf < light_leaf:
                key = " ".join(words[idx[0]][:depth]) + " …"
                for i in idx:
                    family[texts[i]] = key
                break
            for tok, g in groups.items():
                if tok is None:
                    for i in g:
                        family[texts[i]] = texts[i]
                else:
                    stack.append((g, depth + 1))
            break
    return family
