"""S1 ingest's record checks: which raw records are accepted, and the quarantine reason of the others.

    good, bad = check_calls(raw)     # raw: a chunk in RAW_SCHEMA (fde_toolkit.logs.jsonl)

The checks run in order as polars expressions; the first that fails names the record's reason
(MISSING, "wrong type", "invalid timestamp", "invalid latency", "invalid token count", "invalid cost")
and a detail that never repeats the record's content. Accepted calls get status normalised to ok / error.
A call_id seen earlier in the ingest is quarantined as DUPLICATE when the chunks are taken back in
reading order (reading.IngestRun).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from fde_toolkit.logs.schema import MAX_LATENCY_MS

MISSING = "missing required field"
DUPLICATE = "duplicate call_id"  # a call_id seen earlier in the ingest (see reading.IngestRun)
_OK_STATUS = ("ok", "success", "succeeded", "completed", "complete", "200", "true")


def _blank(c: str) -> pl.Expr:
    return pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "")


def _checks() -> list[tuple[pl.Expr, str, pl.Expr]]:
    c = pl.col
    lit = pl.lit
    latency = c("latency_ms")
    return [
        (c("_type_error").is_not_null(), "wrong type", c("_type_error")),
        (_blank("call_id"), MISSING, lit("call_id is missing")),
        (~c("_ts_given"), MISSING, lit("timestamp is missing")),
        (c("timestamp").is_null(), "invalid timestamp", lit("timestamp is not ISO 8601 text or an epoch number")),
        (_blank("model"), MISSING, lit("model is missing")),
        (c("messages").is_null() | (c("messages").list.len() == 0), MISSING, lit("messages is missing or empty")),
        (latency < 0, "invalid latency", lit("latency_ms is negative")),
        (latency.is_nan() | (latency > MAX_LATENCY_MS), "invalid latency",
         lit(f"latency_ms is above {MAX_LATENCY_MS:,.0f} ms (one hour) or not a number")),
        ((c("input_tokens") < 0) | (c("output_tokens") < 0), "invalid token count",
         lit("input_tokens or output_tokens is negative")),
        (c("cost_usd") < 0, "invalid cost", lit("cost_usd is negative")),
    ]


def check_calls(raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split a chunk (RAW_SCHEMA) into acceptable calls and rejects (_file, _line, reason, detail).

    The first failing check names the reason. Accepted calls get status normalised to ok / error.
    """
    checks = _checks()
    reason: Any = pl.when(checks[0][0]).then(pl.lit(checks[0][1]))
    detail: Any = pl.when(checks[0][0]).then(checks[0][2])
    for cond, r, d in checks[1:]:
        reason = reason.when(cond).then(pl.lit(r))
        detail = detail.when(cond).then(d)
    df = raw.with_columns(reason.otherwise(None).alias("reason"), detail.otherwise(None).alias("detail"))
    bad = df.filter(pl.col("reason").is_not_null()).select("_file", "_line", "reason", "detail")
    status = pl.col("status").str.strip_chars().str.to_lowercase()
    good = df.filter(pl.col("reason").is_null()).with_columns(
        status=pl.when(pl.col("status").is_null())
        .then(pl.when(pl.col("error").is_null()).then(pl.lit("ok")).otherwise(pl.lit("error")))
        .when(status.is_in(_OK_STATUS)).then(pl.lit("ok"))
        .otherwise(pl.lit("error")))
    return good.drop("reason", "detail"), bad
