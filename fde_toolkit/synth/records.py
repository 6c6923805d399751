"""Records: the plan rendered as OpenAI request/response dicts in time order, with the deliberate defects."""

from __future__ import annotations

from datetime import date
from typing import Any, Iterator

import numpy as np
import orjson

from fde_toolkit.synth.adjuster_reasoning import REASONING_KINDS
from fde_toolkit.synth.calls import _call_contents, _Content
from fde_toolkit.synth.catalog import (_CH_DESK, _CH_MOBILE, _CH_WEB, _ST_429, _ST_500, _ST_OK, _ST_TIMEOUT, MODELS,
                                       START, T_EXTRACT, T_QA, T_REASON, T_SUMMARY, T_TOOL, T_TRIAGE, TASK_TYPES)
from fde_toolkit.synth.claims import INCIDENT_TYPES
from fde_toolkit.synth.intent_triage import TRIAGE_LABELS
from fde_toolkit.synth.knowledge_base import KNOWLEDGE_BASE
from fde_toolkit.synth.plan import _Plan, _plan
from fde_toolkit.synth.tool_call import TOOL_NAMES

# Latency model per model: time to first token (ms), prefill ms per prompt token, ms per output token.
_LATENCY = {0: (420.0, 0.060, 13.5), 1: (280.0, 0.030, 7.5), 2: (140.0, 0.020, 9.0)}

_TEMPERATURE = {T_TRIAGE: 0.0, T_EXTRACT: 0.0, T_TOOL: 0.0, T_QA: 0.2, T_SUMMARY: 0.3, T_REASON: 0.7}

_ERRORS = {
    _ST_429: ("rate_limit_error", "Rate limit reached for requests. Please try again in {s}s.",
              "rate_limit_exceeded", 429),
    _ST_TIMEOUT: ("timeout", "Request timed out.", "timeout", 504),
    _ST_500: ("server_error", "The server had an error while processing your request. Sorry about that!",
              "server_error", 500),
}


def _file_for(day_ord: int, mobile: bool) -> str:
    d = date.fromordinal(day_ord).isoformat()
    return f"otel/mobile-bff-{d}.json" if mobile else f"gateway/{d}.jsonl.gz"


_CHUNK = 4096  # records converted from numpy to Python per batch


def _request(p: _Plan, seed: int, s: int, task: int, model: int, c: _Content) -> dict[str, Any]:
    """The request as the gateway logged it: the call's content, user id and metadata (session, partial tag)."""
    chan = int(p.s_channel[s])
    meta = {"session_id": f"sess_{int(p.s_sid[s]) & 0xFFFFFFFFFFFF:012x}"}
    if chan == _CH_WEB and task == T_TRIAGE:
        meta["workload_id"] = "triage-svc"
    elif chan == _CH_WEB and task == T_EXTRACT:
        meta["workload_id"] = "fnol-extract"
    u = int(p.s_user[s])
    user = (f"adj-{1000 + u * 37 % 9000:04d}" if chan == _CH_DESK
            else f"member-{(u * 2654435761 + seed) % 10_000_000:07d}")
    request = {"model": MODELS[model], "messages": c.messages}
    if c.tools is not None:
        request["tools"] = c.tools
    request["temperature"] = _TEMPERATURE[task]
    request.update(c.extra)
    request["user"] = user
    request["metadata"] = meta
    return request


def _response(c: _Content, model: int, rid: bytes, ts_us: int, noise: float, load: float) -> tuple[dict, float]:
    """(chat.completion response, latency in ms) of a successful call."""
    t0, pre, tpot = _LATENCY[model]
    ptok, ctok = c.prompt_tokens, c.completion_tokens
    lat = (t0 + ptok * pre + ctok * tpot) * noise * (1.0 + 0.15 * (load - 1.0))
    resp = {"id": "chatcmpl-" + rid.decode(), "object": "chat.completion", "created": ts_us // 1_000_000,
            "model": MODELS[model],
            "choices": [{"index": 0, "message": c.out, "logprobs": None, "finish_reason": c.finish}],
            "usage": {"prompt_tokens": ptok, "completion_tokens": ctok, "total_tokens": ptok + ctok}}
    if model != 2:
        resp["system_fingerprint"] = "fp_" + ("7f4b9b" if model == 0 else "0ba0d1") + rid[:4].decode().lower()
    return resp, lat


def _error(status: int, noise: float) -> dict:
    typ, msg, code, http = _ERRORS[status]
    return {"type": typ, "message": msg.format(s=1 + int(noise * 3) % 20), "code": code, "status": http}


def _with_defects(rec: dict, i: int, defects: list[str] | None) -> Iterator[dict]:
    """The record, preceded by the invalid lines and followed by the duplicate its defects call for."""
    if not defects:
        yield rec
        return
    for what in defects:
        if what in ("truncated", "nul"):
            line = orjson.dumps({k: v for k, v in rec.items() if not k.startswith("_")})
            raw = line[: int(len(line) * (0.35 + 0.4 * (i % 7) / 7))] if what == "truncated" else b"\x00" * 64
            yield {"_raw": raw, "_sink": "gateway", "_file": rec["_file"], "_task": None}
        elif what == "negative_latency":
            rec["latency_ms"] = -rec["latency_ms"]
            rec["_task"]["defect"] = "negative_latency"
        elif what == "logged_twice":
            rec["_task"]["defect"] = "logged_twice"
    yield rec
    if "logged_twice" in defects:
        yield rec


def _iter_records(p: _Plan, seed: int) -> Iterator[dict]:
    """The plan's records in time order, rendered in batches of _CHUNK."""
    content = _call_contents(p, seed)
    n = p.ts_us.size
    mask = 2**64 - 1
    for c0 in range(0, n, _CHUNK):
        c1 = min(n, c0 + _CHUNK)
        stamps = (np.datetime_as_string(p.ts_us[c0:c1].astype("datetime64[us]"), unit="ms")).tolist()
        ts_l = p.ts_us[c0:c1].tolist()
        cols = [a[c0:c1].tolist() for a in (p.sess, p.step, p.attempt, p.task, p.label, p.model, p.status,
                                            p.err_ms, p.noise, p.load, p.ctx, p.gen, p.span)]
        rids = p.rid[c0:c1].tolist()
        for j in range(c1 - c0):
            s, step, att, task, label, model, status, err, noise, load, ctx, gen, span = (c[j] for c in cols)
            i = c0 + j
            c = content(s, step, task, label, ctx, gen)
            request = _request(p, seed, s, task, model, c)
            rec: dict[str, Any] = {"timestamp": stamps[j] + "Z", "request": request}
            if status == _ST_OK:
                rec["response"], lat = _response(c, model, rids[j], ts_l[j], noise, load)
            else:
                rec["response"] = None
                rec["error"] = _error(status, noise)
                lat = err
            rec["latency_ms"] = round(float(lat), 1)
            day = START.date().toordinal() + (ts_l[j] - p.start_us) // 86_400_000_000
            mobile = int(p.s_channel[s]) == _CH_MOBILE
            rec["_sink"] = "otel" if mobile else "gateway"
            rec["_file"] = _file_for(day, mobile)
            if mobile:
                rec["_otel"] = {"start_ns": ts_l[j] * 1000,
                                "trace_id": f"{int(p.s_trace[s, 0]) & mask:016x}{int(p.s_trace[s, 1]) & mask:016x}",
                                "span_id": f"{span & mask:016x}", "session_id": request["metadata"]["session_id"],
                                "user": request["user"]}
            rec["_task"] = {"record": i, "task_type": TASK_TYPES[task], "label": _label_name(task, label),
                            "session": s, "step": step, "attempt": att, "defect": None}
            yield from _with_defects(rec, i, p.defects.get(i))


def _label_name(task: int, label: int) -> str | None:
    if task == T_TRIAGE:
        return TRIAGE_LABELS[label]
    if task == T_TOOL:
        return TOOL_NAMES[label]
    if task == T_QA:
        return KNOWLEDGE_BASE[label]["id"]
    if task in (T_EXTRACT, T_SUMMARY):
        return INCIDENT_TYPES[label]
    return REASONING_KINDS[label]


def generate_demo_calls(n_calls: int = 20_000, days: int = 30, seed: int = 7, bad_records: bool = True,
                        otel_share: float = 0.1) -> Iterator[dict]:
    """Yield the demo customer's logged calls in time order, one OpenAI request/response pair dict each.

    Exactly `n_calls` records (error records and their retries included: ~2% of records are errors,
    most followed a few seconds later by a retry of the same request in the same session). With
    `bad_records`, the stream also holds the defects the ingest quarantine must catch: 4 raw lines
    that are not JSON (dicts with `_raw` bytes instead of a record), one record with a negative
    latency, and one record yielded twice (same response id); tiny runs with fewer than 8 successful
    gateway records get none.

    Private keys, stripped by `write_demo_logs`: `_sink` ("gateway" or "otel"), `_file` (relative
    path it is written to), `_otel` (trace/span ids, for OTel records), `_task` (ground truth:
    record index, task_type, label, session, step, attempt, defect; None on raw lines).
    """
    plan = _plan(n_calls, days, seed, bad_records, otel_share)
    return _iter_records(plan, seed)
