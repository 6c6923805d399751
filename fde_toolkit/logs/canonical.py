"""Reader for the canonical JSONL: one call record per line with the DESIGN.md fields.

timestamp is ISO 8601 text or an epoch number; messages a list of {role, content}; tool_calls a
list of {name, arguments} whose arguments may be an object or a JSON string. Keys that are not
canonical fields are kept in metadata.
"""

from __future__ import annotations

from typing import Any

import orjson

from fde_toolkit.logs.jsonl import (as_float, as_int, as_str, as_timestamp, error_text, json_text, messages_of,
                                    not_an_object, tool_calls_of)
from fde_toolkit.logs.schema import CALL_SCHEMA

KNOWN_FIELDS = frozenset(CALL_SCHEMA)


def _metadata(rec: dict[str, Any]) -> str | None:
    meta = rec.get("metadata")
    extra = rec.keys() - KNOWN_FIELDS
    if not extra:
        return json_text(meta, "metadata")
    merged: dict[str, Any] = {k: rec[k] for k in sorted(extra)}
    if meta.__class__ is dict:
        merged = {**meta, **merged}
    elif meta is not None:
        merged["metadata"] = meta
    return orjson.dumps(merged).decode()


def to_row(rec: Any, raw: bytes) -> tuple:
    """One canonical record as a reader row (see jsonl.ROW_FIELDS)."""
    if rec.__class__ is not dict:
        raise not_an_object(rec)
    g = rec.get
    ts_text, ts_num = as_timestamp(g("timestamp"), "timestamp")
    roles, contents = messages_of(g("messages"), "messages")
    names, args = tool_calls_of(g("tool_calls"), "tool_calls")
    status = as_str(g("status"), "status")
    error = error_text(g("error"), "error")
    return (
        as_str(g("call_id"), "call_id"), ts_text, ts_num, as_str(g("model"), "model"),
        as_str(g("provider"), "provider"), roles, contents, json_text(g("tools"), "tools"),
        as_str(g("response_text"), "response_text"), names, args,
        as_int(g("input_tokens"), "input_tokens"), as_int(g("output_tokens"), "output_tokens"),
        as_float(g("latency_ms"), "latency_ms"), as_float(g("cost_usd"), "cost_usd"),
        status, error, as_str(g("session_id"), "session_id"), as_str(g("user_id"), "user_id"),
        as_str(g("workload_id"), "workload_id"), _metadata(rec),
    )

