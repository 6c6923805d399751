"""S1 profile: where the calls, tokens, latency, errors, cost and tools go.

    prof = profile(eng)            # artifacts/profile.json + artifacts/figures/*.json, skipped when fresh
    print(render_summary(prof))
    profile_calls(calls)           # the same numbers for any canonical frame, pure

Everything is polars expressions over a lazy scan of calls.parquet; the heavy `messages` column is
never read. Costs are only summed where known: a model without a price is listed under
`cost.unpriced_models` with its calls and tokens, never counted as zero.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from fde_toolkit import FdeError
from fde_toolkit.engagement import Engagement
from fde_toolkit.logs.schema import CALL_SCHEMA
from fde_toolkit.step import StepOutputs, StepResult, run_step
from fde_toolkit import formatting as num

PROFILE_VERSION = 1
QUANTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}
LATENCY_QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
# Left edges of the token histogram bins, 1-2-5 steps; the last bin is open-ended.
TOKEN_BIN_EDGES = [0, 1, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000,
                   100_000, 200_000, 500_000, 1_000_000]
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
TOP_ERROR_KINDS = 20
TOP_WORKLOADS = 50
RUN_RATE_DAYS = 30
UNKNOWN = "(unknown)"

_TOOLS_DTYPE = pl.List(pl.Struct({"name": pl.String, "function": pl.Struct({"name": pl.String})}))
_COLUMNS = ["timestamp", "model", "provider", "tools", "response_text", "tool_calls", "input_tokens",
            "output_tokens", "latency_ms", "cost_usd", "status", "error", "session_id", "user_id",
            "workload_id"]


# ----------------------------------------------------------------------------- the frame

def _base(calls: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """The columns the profile reads, plus derived flags; nothing is collected here."""
    lf = calls.lazy()
    names = lf.collect_schema().names()
    missing = [c for c in ("timestamp", "model") if c not in names]
    if missing:
        raise FdeError(f"cannot profile calls: column(s) {', '.join(missing)} missing from the call table.")
    lf = lf.select([pl.col(c).cast(CALL_SCHEMA[c]) if c in names else pl.lit(None, dtype=CALL_SCHEMA[c]).alias(c)
                    for c in _COLUMNS])
    status = pl.coalesce(pl.col("status").str.to_lowercase(),
                         pl.when(pl.col("error").is_not_null()).then(pl.lit("error")).otherwise(pl.lit("ok")))
    tokens = pl.col("input_tokens").fill_null(0) + pl.col("output_tokens").fill_null(0)
    error_kind = _error_kind(pl.col("error"))
    called = pl.col("tool_calls").list.len().fill_null(0) > 0
    has_text = pl.col("response_text").fill_null("").str.len_chars() > 0
    return lf.with_columns(
        pl.col("model").fill_null(UNKNOWN),
        pl.col("provider").fill_null(UNKNOWN),
        (status != "ok").alias("is_error"),
        (status == "ok").alias("is_ok"),
        pl.when(error_kind.is_null() | (error_kind == "")).then(pl.lit("(no error message)"))
        .otherwise(error_kind).alias("error_kind"),
        pl.col("timestamp").dt.date().alias("date"),
        pl.col("timestamp").dt.hour().alias("hour"),
        pl.col("timestamp").dt.weekday().alias("weekday"),  # 1 = Monday
        called.alias("has_tool_calls"),
        has_text.alias("has_text"),
    ).with_columns(
        # A cost is known when logged or priced; an error with no tokens costs nothing to know.
        (pl.col("cost_usd").is_not_null() | (pl.col("is_error") & (tokens == 0))).alias("priced"),
    )


def _error_kind(error: pl.Expr) -> pl.Expr:
    """The category of an error message, so that messages differing only in details group together:
    its first line and sentence, without a JSON body, text after "Class: " or long numbers.
    "RateLimitError: slow down" -> "RateLimitError"; "Error code: 429 - {...}" -> "Error code: 429";
    "Request timed out. Retry in 3s." -> "Request timed out"."""
    kind = (error.str.split("\n").list.first().str.split("{").list.first().str.split(". ").list.first()
            .str.replace(r":\s+\D.*$", "").str.replace_all(r"\d{4,}", "N"))
    return kind.str.strip_chars(" .-:").str.slice(0, 80)


def _known_sum(col: str) -> pl.Expr:
    """Sum of the non-null values, or null when there are none (never a silent 0)."""
    return pl.when(pl.col(col).count() > 0).then(pl.col(col).sum()).otherwise(None)


def _token_stats(col: str) -> list[pl.Expr]:
    out = [pl.col(col).quantile(q, interpolation="linear").alias(f"{col}_{k}") for k, q in QUANTILES.items()]
    return out + [pl.col(col).mean().alias(f"{col}_mean"), pl.col(col).max().alias(f"{col}_max")]


def _latency_stats() -> list[pl.Expr]:
    ok_latency = pl.col("latency_ms").filter(pl.col("is_ok"))
    per_token = (pl.col("latency_ms") / pl.col("output_tokens")).filter(
        pl.col("is_ok") & (pl.col("output_tokens") > 0))
    out = [ok_latency.quantile(q, interpolation="linear").alias(f"latency_{k}") for k, q in LATENCY_QUANTILES.items()]
    out += [ok_latency.mean().alias("latency_mean"), ok_latency.count().alias("latency_calls")]
    out += [per_token.quantile(q, interpolation="linear").alias(f"ms_per_output_token_{k}")
            for k, q in (("p50", 0.5), ("p95", 0.95))]
    return out


def _group_stats() -> list[pl.Expr]:
    """Per-group numbers shared by the totals and the by-model table."""
    return [
        pl.len().alias("calls"),
        pl.col("is_error").sum().alias("errors"),
        _known_sum("input_tokens").alias("input_tokens"),
        _known_sum("output_tokens").alias("output_tokens"),
        _known_sum("cost_usd").alias("cost_usd"),
        pl.col("priced").sum().alias("priced_calls"),
        *_token_stats("input_tokens"),
        *_token_stats("output_tokens"),
        *_latency_stats(),
    ]


def _bin_index(col: str) -> pl.Expr:
    """Index of the TOKEN_BIN_EDGES bin holding `col` (null stays null)."""
    index = pl.sum_horizontal([(pl.col(col) >= e).cast(pl.Int32) for e in TOKEN_BIN_EDGES[1:]])
    return pl.when(pl.col(col).is_not_null()).then(index).alias("bin")


def _queries(lf: pl.LazyFrame) -> dict[str, pl.LazyFrame]:
    totals = lf.select(
        *_group_stats(),
        pl.col("timestamp").min().alias("first"),
        pl.col("timestamp").max().alias("last"),
        pl.col("session_id").drop_nulls().n_unique().alias("sessions"),
        pl.col("user_id").drop_nulls().n_unique().alias("users"),
        pl.col("model").n_unique().alias("models"),
        pl.col("workload_id").count().alias("workload_tagged"),
        pl.col("workload_id").drop_nulls().n_unique().alias("workloads"),
        pl.col("tools").is_not_null().sum().alias("tools_offered_calls"),
        pl.col("has_tool_calls").sum().alias("tool_call_calls"),
        pl.col("is_ok").sum().alias("ok_calls"),
        (pl.col("is_ok") & pl.col("has_tool_calls") & ~pl.col("has_text")).sum().alias("kind_tool_call"),
        (pl.col("is_ok") & ~pl.col("has_tool_calls") & pl.col("has_text")).sum().alias("kind_text"),
        (pl.col("is_ok") & pl.col("has_tool_calls") & pl.col("has_text")).sum().alias("kind_both"),
        (pl.col("is_ok") & ~pl.col("has_tool_calls") & ~pl.col("has_text")).sum().alias("kind_empty"),
    )
    by_model = lf.group_by("model").agg(
        *_group_stats(),
        pl.col("provider").unique().sort().str.join(", ").alias("providers"),
    )
    by_provider = lf.group_by("provider").agg(
        pl.len().alias("calls"), _known_sum("input_tokens").alias("input_tokens"),
        _known_sum("output_tokens").alias("output_tokens"), _known_sum("cost_usd").alias("cost_usd"),
        pl.col("model").n_unique().alias("models"))
    per_day = lf.group_by("date").agg(
        pl.len().alias("calls"), pl.col("is_error").sum().alias("errors"),
        _known_sum("input_tokens").alias("input_tokens"), _known_sum("output_tokens").alias("output_tokens"),
        _known_sum("cost_usd").alias("cost_usd"), pl.col("priced").sum().alias("priced_calls"))
    per_day_model = lf.group_by("date", "model").agg(
        pl.len().alias("calls"), pl.col("is_error").sum().alias("errors"), _known_sum("cost_usd").alias("cost_usd"))
    hour_weekday = lf.group_by("weekday", "hour").agg(pl.len().alias("calls"))
    error_kinds = lf.filter(pl.col("is_error")).group_by("error_kind").agg(
        pl.len().alias("calls"), pl.col("model").n_unique().alias("models"))
    unpriced = lf.filter(~pl.col("priced")).group_by("model").agg(
        pl.len().alias("calls"), _known_sum("input_tokens").alias("input_tokens"),
        _known_sum("output_tokens").alias("output_tokens"))
    hist_in = lf.group_by("model", _bin_index("input_tokens")).agg(pl.len().alias("calls"))
    hist_out = lf.group_by("model", _bin_index("output_tokens")).agg(pl.len().alias("calls"))
    tool_sets = lf.filter(pl.col("tools").is_not_null()).group_by("tools").agg(pl.len().alias("calls"))
    names = pl.col("tool_calls").list.eval(pl.element().struct.field("name").fill_null(UNKNOWN))
    called = (lf.filter(pl.col("has_tool_calls")).select(names.alias("name"))
              .explode("name").group_by("name").agg(pl.len().alias("invocations")))
    called_in = (lf.filter(pl.col("has_tool_calls")).select(names.list.unique().alias("name"))
                 .explode("name").group_by("name").agg(pl.len().alias("called_calls")))
    workloads = lf.filter(pl.col("workload_id").is_not_null()).group_by("workload_id").agg(pl.len().alias("calls"))
    return {"totals": totals, "by_model": by_model, "by_provider": by_provider, "per_day": per_day,
            "per_day_model": per_day_model, "hour_weekday": hour_weekday, "error_kinds": error_kinds,
            "unpriced": unpriced, "hist_in": hist_in, "hist_out": hist_out, "tool_sets": tool_sets,
            "called": called, "called_in": called_in, "workloads": workloads}


# ----------------------------------------------------------------------------- helpers

def _share(part: float | int | None, whole: float | int | None) -> float | None:
    if part is None or not whole:
        return None
    return part / whole


def _tool_names(tools_json: str) -> list[str]:
    """Tool names offered in one `tools` JSON value (OpenAI or bare {"name"} format); [] if unreadable."""
    try:
        tools = orjson.loads(tools_json)
    except orjson.JSONDecodeError:
        return []
    if isinstance(tools, dict):
        tools = [tools]
    names = []
    for t in tools if isinstance(tools, list) else []:
        if isinstance(t, dict):
            fn = t.get("function")
            name = fn.get("name") if isinstance(fn, dict) else t.get("name")
            if isinstance(name, str):
                names.append(name)
    return names


def _offered_tools(tool_sets: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Calls offering each tool, from the distinct `tools` values; also the count of unreadable values."""
    schema = {"name": pl.String, "offered_calls": pl.Int64}
    if tool_sets.height == 0:
        return pl.DataFrame(schema=schema), 0
    try:
        decoded = tool_sets.with_columns(pl.col("tools").str.json_decode(_TOOLS_DTYPE).alias("parsed"))
        pairs = (decoded.with_columns(pl.col("parsed").list.eval(
            pl.coalesce(pl.element().struct.field("function").struct.field("name"),
                        pl.element().struct.field("name"))).list.drop_nulls().list.unique().alias("name"))
            .select("name", "calls"))
        unreadable = 0
    except pl.exceptions.PolarsError:
        # Mixed or broken JSON: parse the distinct values one by one (a handful of tool sets, not rows).
        parsed = [(sorted(set(_tool_names(t))), t) for t in tool_sets["tools"].to_list()]
        unreadable = int(sum(c for (n, t), c in zip(parsed, tool_sets["calls"].to_list())
                             if not n and not _is_json(t)))
        pairs = pl.DataFrame({"name": [n for n, _ in parsed], "calls": tool_sets["calls"]},
                             schema={"name": pl.List(pl.String), "calls": pl.Int64})
    out = (pairs.explode("name").drop_nulls("name").group_by("name")
           .agg(pl.col("calls").sum().cast(pl.Int64).alias("offered_calls")))
    return out, unreadable


def _is_json(text: str) -> bool:
    try:
        orjson.loads(text)
        return True
    except orjson.JSONDecodeError:
        return False


def _records(df: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: dates as ISO strings."""
    conv = [pl.col(c).cast(pl.String) for c, t in df.schema.items() if t in (pl.Date,) or isinstance(t, pl.Datetime)]
    return df.with_columns(conv).to_dicts() if conv else df.to_dicts()


def _clean(obj: Any) -> Any:
    """JSON-safe: NaN/inf become null, floats rounded to 6 decimals, dates to ISO strings."""
    if isinstance(obj, float):
        return None if obj != obj or obj in (float("inf"), float("-inf")) else round(obj, 6)
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, date):
        return obj.isoformat()
    return obj


def _quantile_block(row: dict[str, Any], col: str) -> dict[str, Any]:
    return {k: row[f"{col}_{k}"] for k in (*QUANTILES, "mean", "max")}


def _latency_block(row: dict[str, Any]) -> dict[str, Any]:
    return {"ok_calls": row["latency_calls"], **{f"{k}_ms": row[f"latency_{k}"] for k in (*LATENCY_QUANTILES, "mean")},
            "ms_per_output_token_p50": row["ms_per_output_token_p50"],
            "ms_per_output_token_p95": row["ms_per_output_token_p95"]}


def _histogram(hist: pl.DataFrame, model_order: list[str]) -> dict[str, Any]:
    """Counts per model over the token bins that hold any call; `edges` has one more entry (null = open)."""
    hist = hist.drop_nulls("bin")
    if hist.height == 0:
        return {"edges": [], "counts": {}}
    lo, hi = int(hist["bin"].min()), int(hist["bin"].max())
    bins = list(range(lo, hi + 1))
    edges = [TOKEN_BIN_EDGES[b] for b in bins] + [TOKEN_BIN_EDGES[hi + 1] if hi + 1 < len(TOKEN_BIN_EDGES) else None]
    counts = {}
    for model in model_order:
        sub = dict(hist.filter(pl.col("model") == model).select("bin", "calls").iter_rows())
        counts[model] = [int(sub.get(b, 0)) for b in bins]
    return {"edges": edges, "counts": counts}


# ----------------------------------------------------------------------------- the profile

def profile_calls(calls: pl.DataFrame | pl.LazyFrame) -> dict[str, Any]:
    """Profile canonical calls (a frame or a lazy scan) into a JSON-serialisable dict."""
    queries = _queries(_base(calls))
    frames = dict(zip(queries, pl.collect_all(list(queries.values()), engine="streaming")))
    t = frames["totals"].to_dicts()[0]
    n = int(t["calls"])
    first, last = t["first"], t["last"]
    days = (last.date() - first.date()).days + 1 if first is not None else 0
    known_cost = t["cost_usd"]
    unpriced_frame = frames["unpriced"]
    unpriced_tokens = int((unpriced_frame["input_tokens"].fill_null(0)
                           + unpriced_frame["output_tokens"].fill_null(0)).sum())
    all_tokens = int((t["input_tokens"] or 0) + (t["output_tokens"] or 0))

    by_model = frames["by_model"].sort(["calls", "model"], descending=[True, False])
    model_order = by_model["model"].to_list()
    models = []
    for r in by_model.to_dicts():
        models.append({
            "model": r["model"], "providers": r["providers"], "calls": r["calls"], "share": _share(r["calls"], n),
            "errors": r["errors"], "error_rate": _share(r["errors"], r["calls"]),
            "input_tokens": r["input_tokens"], "output_tokens": r["output_tokens"],
            "cost_usd": r["cost_usd"], "cost_share": _share(r["cost_usd"], known_cost),
            "cost_known_share": _share(r["priced_calls"], r["calls"]),
            "input_tokens_dist": _quantile_block(r, "input_tokens"),
            "output_tokens_dist": _quantile_block(r, "output_tokens"),
            "latency": _latency_block(r),
        })
    providers = [{**r, "share": _share(r["calls"], n), "cost_share": _share(r["cost_usd"], known_cost)}
                 for r in frames["by_provider"].sort(["calls", "provider"], descending=[True, False]).to_dicts()]

    per_day = frames["per_day"].sort("date").with_columns(
        (pl.col("errors") / pl.col("calls")).alias("error_rate"))
    per_day_model = frames["per_day_model"].sort(["date", "model"])
    hw = frames["hour_weekday"].drop_nulls().select("weekday", "hour", "calls")
    cells = {(d, h): c for d, h, c in hw.iter_rows()}
    matrix = [[cells.get((d, h), 0) for h in range(24)] for d in range(1, 8)]  # 7 x 24 aggregated cells
    by_hour = [sum(row[h] for row in matrix) for h in range(24)]
    by_weekday = [sum(row) for row in matrix]

    errors = int(t["errors"])
    kinds = frames["error_kinds"].sort(["calls", "error_kind"], descending=[True, False])
    unpriced = frames["unpriced"].sort(["calls", "model"], descending=[True, False]).with_columns(
        pl.col("model").is_in(by_model.filter(pl.col("cost_usd").is_null())["model"].implode())
        .alias("no_known_cost"))
    cost_per_day = known_cost / days if known_cost is not None and days else None

    offered, unreadable = _offered_tools(frames["tool_sets"])
    tools = (offered.join(frames["called_in"], on="name", how="full", coalesce=True)
             .join(frames["called"], on="name", how="full", coalesce=True)
             .with_columns(pl.col("offered_calls", "called_calls", "invocations").fill_null(0).cast(pl.Int64))
             .sort(["called_calls", "offered_calls", "name"], descending=[True, True, False]))
    workloads = frames["workloads"].sort(["calls", "workload_id"], descending=[True, False])
    ok = int(t["ok_calls"])

    prof = {
        "version": PROFILE_VERSION,
        "totals": {
            "calls": n, "first_call": first.isoformat() if first else None,
            "last_call": last.isoformat() if last else None,
            "first_date": first.date().isoformat() if first else None,
            "last_date": last.date().isoformat() if last else None,
            "days": days, "calls_per_day": _share(n, days), "sessions": t["sessions"], "users": t["users"],
            "models": t["models"], "input_tokens": t["input_tokens"], "output_tokens": t["output_tokens"],
            "ok_calls": ok, "errors": errors, "error_rate": _share(errors, n),
            "cost_usd_known": known_cost, "cost_known_share": _share(t["priced_calls"], n),
        },
        "over_time": {
            "per_day": _records(per_day),
            "per_day_by_model": _records(per_day_model),
            "by_hour_utc": by_hour, "by_weekday": by_weekday, "weekdays": WEEKDAYS,
            "weekday_hour_utc": matrix,
        },
        "models": models,
        "providers": providers,
        "tokens": {
            "input": _quantile_block(t, "input_tokens"), "output": _quantile_block(t, "output_tokens"),
            "histogram_input": _histogram(frames["hist_in"], model_order),
            "histogram_output": _histogram(frames["hist_out"], model_order),
        },
        "latency": {"note": "successful calls only", "overall": _latency_block(t),
                    "by_model": [{"model": m["model"], **m["latency"]} for m in models]},
        "errors": {
            "calls": n, "errors": errors, "rate": _share(errors, n),
            "by_model": [{"model": m["model"], "calls": m["calls"], "errors": m["errors"], "rate": m["error_rate"]}
                         for m in models],
            "by_day": _records(per_day.select("date", "calls", "errors", "error_rate")),
            "kinds": [{**r, "share": _share(r["calls"], errors)} for r in kinds.head(TOP_ERROR_KINDS).to_dicts()],
            "other_kinds": max(kinds.height - TOP_ERROR_KINDS, 0),
        },
        "cost": {
            "currency": "USD",
            "known_usd": known_cost,
            "cost_known_share": _share(t["priced_calls"], n),
            "cost_known_token_share": _share(all_tokens - unpriced_tokens, all_tokens),
            "by_model": [{"model": m["model"], "cost_usd": m["cost_usd"], "cost_share": m["cost_share"],
                          "cost_known_share": m["cost_known_share"]} for m in models],
            "by_day": _records(per_day.select("date", "cost_usd", "priced_calls", "calls")),
            "by_day_and_model": _records(per_day_model.select("date", "model", "cost_usd")),
            "unpriced_models": _records(unpriced),
            "per_day_usd": cost_per_day,
            "monthly_run_rate": {
                "usd": cost_per_day * RUN_RATE_DAYS if cost_per_day is not None else None,
                "days_observed": days,
                "basis": (f"known cost / {days} observed calendar day(s) x {RUN_RATE_DAYS}; "
                          "a projection, not a bill"
                          + ("; excludes unpriced calls, so a lower bound" if unpriced.height else "")),
            },
        },
        "tools": {
            "calls_with_tools_offered": t["tools_offered_calls"],
            "offered_share": _share(t["tools_offered_calls"], n),
            "calls_with_tool_calls": t["tool_call_calls"],
            "unreadable_tools_json_calls": unreadable,
            "by_tool": _records(tools),
        },
        "responses": {
            "basis": "successful calls",
            "ok_calls": ok,
            "kinds": {k: {"calls": t[f"kind_{k}"], "share": _share(t[f"kind_{k}"], ok)}
                      for k in ("tool_call", "text", "both", "empty")},
        },
        "workloads": {
            "tagged_calls": t["workload_tagged"], "coverage": _share(t["workload_tagged"], n),
            "distinct": t["workloads"],
            "top": [{**r, "share": _share(r["calls"], n)} for r in workloads.head(TOP_WORKLOADS).to_dicts()],
        },
        "ingest": None,
    }
    return _clean(prof)


def ingest_summary(report: dict[str, Any]) -> dict[str, Any]:
    """The counts from ingest_report.json worth showing: totals, quarantine reasons, files per format."""
    files = report.get("files") or []
    by_format: dict[str, dict[str, int]] = {}
    for f in files:  # one entry per input file, not per record
        row = by_format.setdefault(str(f.get("format") or UNKNOWN), {"files": 0, "read": 0, "accepted": 0,
                                                                       "quarantined": 0, "refused": 0})
        row["files"] += 1
        for k in ("read", "accepted", "quarantined"):
            row[k] += int(f.get(k) or 0)
        row["refused"] += int(bool(f.get("refused")))
    reasons = sorted((report.get("reasons") or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    return _clean({
        "totals": report.get("totals") or {},
        "reasons": [{"reason": r, "records": c} for r, c in reasons],
        "by_format": [{"format": k, **v} for k, v in sorted(by_format.items())],
        "unpriced_models": report.get("unpriced_models") or [],
    })


ERROR_TEXT_WITHHELD = "(error text withheld until `fde scrub` has run)"


def _with_curated_errors(calls: pl.LazyFrame, curated: Path) -> pl.LazyFrame:
    """The call table with its error texts taken from the curated table: error kinds end up in reports,
    and reports never see raw text. Before curation has run, error texts are withheld."""
    if not curated.is_file():
        return calls.with_columns(
            pl.when(pl.col("error").is_not_null()).then(pl.lit(ERROR_TEXT_WITHHELD)).alias("error"))
    return calls.drop("error").join(pl.scan_parquet(curated).select("call_id", "error"), on="call_id", how="left")


def profile(eng: Engagement, force: bool = False) -> StepResult[dict[str, Any]]:
    """Profile the engagement's accepted calls; write profile.json and one plotly JSON per figure."""
    from fde_toolkit import viz
    from fde_toolkit.logs.figures import FIGURES

    arts = eng.artifacts
    calls = arts.require("calls")
    ingest_report, curated = arts.path("ingest_report"), arts.path("curated")
    inputs = [calls] + [p for p in (ingest_report, curated) if p.is_file()]
    params = {"version": PROFILE_VERSION, "figures": sorted(FIGURES)}

    def make(out: StepOutputs) -> dict[str, Any]:
        try:
            prof = profile_calls(_with_curated_errors(pl.scan_parquet(calls), curated))
        except (pl.exceptions.ComputeError, OSError) as e:
            raise FdeError(f"{eng.display(calls)}: cannot read the call table ({e.__class__.__name__}). "
                           f"Run `fde ingest --force {eng.display_root}` to rebuild it.") from None
        if ingest_report.is_file():
            prof["ingest"] = ingest_summary(arts.read("ingest_report"))
        out.write("profile", prof)
        for name, build in FIGURES.items():
            out.add(viz.save_figure(build(prof), arts.path("figure", name)))
        out.summary = {"calls": prof["totals"]["calls"], "models": prof["totals"]["models"],
                       "cost_usd_known": prof["cost"]["known_usd"],
                       "unpriced_models": [u["model"] for u in prof["cost"]["unpriced_models"]]}
        return prof

    return run_step(eng, "profile", inputs=inputs, params=params, make=make, previous=arts.profile,
                    render=render_summary, force=force)


# ----------------------------------------------------------------------------- terminal summary

def render_summary(profile: dict[str, Any]) -> str:
    """A short terminal summary of a profile."""
    t, cost = profile["totals"], profile["cost"]
    if not t["calls"]:
        return "Profile: no calls."
    lat = profile["latency"]["overall"]
    p95 = "n/a" if lat["p95_ms"] is None else f"{lat['p95_ms']:,.0f} ms"
    lines = [
        f"Profile: {t['calls']:,} calls, {t['first_date']} to {t['last_date']} "
        f"({t['days']} day(s), {t['calls_per_day']:,.0f}/day), {t['sessions']:,} sessions, {t['users']:,} users",
        "  models:     " + ", ".join(f"{m['model']} {m['share']:.0%}" for m in profile["models"][:5])
        + (f" (+{len(profile['models']) - 5} more)" if len(profile["models"]) > 5 else ""),
        f"  cost:       {num.money(cost['known_usd'])} known ({num.share(cost['cost_known_share'])} of calls priced); "
        f"monthly run-rate {num.money(cost['monthly_run_rate']['usd'])} (projected)" if cost["known_usd"] is not None
        else "  cost:       unknown (no call has a logged cost or a price)",
        f"  latency:    p95 {p95} (successful calls)",
        f"  errors:     {num.share(profile['errors']['rate'])} of calls ({profile['errors']['errors']:,})",
    ]
    if cost["unpriced_models"]:
        lines.append("  unpriced:   "
                     + ", ".join(f"{u['model']} ({u['calls']:,} calls)" for u in cost["unpriced_models"])
                     + " - add them under `prices:` in engagement.yaml")
    ing = profile.get("ingest")
    if ing and ing.get("totals"):
        tt = ing["totals"]
        lines.append(f"  ingest:     {tt.get('read', 0):,} read, {tt.get('accepted', 0):,} accepted, "
                     f"{tt.get('quarantined', 0):,} quarantined")
    return "\n".join(lines)
