"""The canonical call record (DESIGN.md): every reader produces exactly this polars schema."""

from __future__ import annotations

import polars as pl

MESSAGE = pl.Struct({"role": pl.String, "content": pl.String})
TOOL_CALL = pl.Struct({"name": pl.String, "arguments": pl.String})

CALL_SCHEMA: dict[str, pl.DataType] = {
    "call_id": pl.String,
    "timestamp": pl.Datetime("us", "UTC"),
    "model": pl.String,
    "provider": pl.String,
    "messages": pl.List(MESSAGE),
    "tools": pl.String,
    "response_text": pl.String,
    "tool_calls": pl.List(TOOL_CALL),
    "input_tokens": pl.Int64,
    "output_tokens": pl.Int64,
    "latency_ms": pl.Float64,
    "cost_usd": pl.Float64,
    "status": pl.String,
    "error": pl.String,
    "session_id": pl.String,
    "user_id": pl.String,
    "workload_id": pl.String,
    "metadata": pl.String,
    "source": pl.String,
}

# Fields a record cannot be accepted without. Everything else may be null.
REQUIRED_FIELDS = ("call_id", "timestamp", "model", "messages")

# Latency above this is treated as a logging error, not a slow call (one hour).
MAX_LATENCY_MS = 3_600_000.0

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String,  # file:line (or file for a refused file)
    "file": pl.String,
    "line": pl.Int64,  # null when the whole file was refused
    "reason": pl.String,  # short, stable category, e.g. "invalid JSON"
    "detail": pl.String,  # what exactly, naming the field; never record contents
}


def empty_calls() -> pl.DataFrame:
    """An empty frame with the canonical schema."""
    return pl.DataFrame(schema=CALL_SCHEMA)


def conform(df: pl.DataFrame) -> pl.DataFrame:
    """Add missing canonical columns as nulls, cast, and order columns canonically."""
    missing = [pl.lit(None, dtype=t).alias(c) for c, t in CALL_SCHEMA.items() if c not in df.columns]
    if missing:
        df = df.with_columns(missing)
    return df.select([pl.col(c).cast(t) for c, t in CALL_SCHEMA.items()])
