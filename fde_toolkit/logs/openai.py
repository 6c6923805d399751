"""Reader for OpenAI request/response pairs, one JSON object per line.

    {"timestamp", "request": {model, messages, tools, ...}, "response": chat.completion, "latency_ms"}

as logging proxies and the NVIDIA data-flywheel blueprint store them. Also read: an error instead
of a response (`"error": {...}`, an error body, or an HTTP status code >= 400), streamed responses
(one chat.completion.chunk or a list of chunks: content concatenated, tool calls merged by index),
and legacy completions (`prompt` / `choices[0].text`).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from fde_toolkit.logs.jsonl import (RecordError, as_float, as_int, as_str, as_timestamp, content_text,
                                    error_text, json_text, kind, messages_of, not_an_object, tool_calls_of)

# Top-level keys with a canonical home; any other key goes to metadata.
_RECORD_KEYS = frozenset({"timestamp", "request", "response", "latency_ms", "error", "status_code", "status",
                          "provider", "session_id", "user_id", "workload_id", "cost_usd", "metadata", "call_id"})
# Request keys with a canonical home; the rest (temperature, max_tokens, ...) go to metadata.
_REQUEST_KEYS = frozenset({"model", "messages", "tools", "user", "metadata", "prompt"})


def _merge_stream(chunks: list[Any]) -> tuple[dict[str, Any], str | None, list, list, dict | None, str | None]:
    """(first chunk's id/model/created, text, tool names, tool arguments, usage, finish reason)."""
    head: dict[str, Any] = {}
    texts: list[str] = []
    calls: dict[int, list] = {}
    usage = None
    finish = None
    for n, ch in enumerate(chunks):
        if ch.__class__ is not dict:
            raise RecordError("wrong type", f"response[{n}] is {kind(ch)}, expected a stream chunk object")
        for k in ("id", "model", "created"):
            if k not in head and ch.get(k) is not None:
                head[k] = ch[k]
        if ch.get("usage"):
            usage = ch["usage"]
        for choice in ch.get("choices") or ():
            if choice.__class__ is not dict or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or choice.get("message") or {}
            c = delta.get("content")
            if c:
                texts.append(c if c.__class__ is str else (content_text(c, "response.delta.content") or ""))
            for t in delta.get("tool_calls") or ():
                if t.__class__ is not dict:
                    raise RecordError("wrong type", "response.delta.tool_calls has an entry that is not an object")
                slot = calls.setdefault(t.get("index", len(calls)), [None, []])
                fn = t.get("function") or {}
                if fn.get("name"):
                    slot[0] = fn["name"]
                if fn.get("arguments"):
                    slot[1].append(as_str(fn["arguments"], "response.delta.tool_calls.arguments"))
            if choice.get("finish_reason"):
                finish = choice["finish_reason"]
    names = [calls[i][0] for i in sorted(calls)]
    args = ["".join(calls[i][1]) or None for i in sorted(calls)]
    return head, ("".join(texts) if texts else None), names, args, usage, finish


def _response(resp: Any) -> tuple[dict[str, Any], str | None, list, list, dict | None, str | None, Any]:
    """Like _merge_stream, plus an error object when the response is an error body."""
    if resp.__class__ is str:
        try:
            resp = orjson.loads(resp)
        except orjson.JSONDecodeError:
            raise RecordError("wrong type", "response is text that is not JSON") from None
    if resp.__class__ is list:
        return (*_merge_stream(resp), None)
    if resp.__class__ is not dict:
        raise RecordError("wrong type", f"response is {kind(resp)}, expected a chat.completion object")
    if resp.get("object") == "chat.completion.chunk":
        return (*_merge_stream([resp]), None)
    if "error" in resp and "choices" not in resp:
        return {}, None, [], [], None, None, resp["error"]
    choices = resp.get("choices")
    text, names, args, finish = None, [], [], None
    if choices:
        if choices.__class__ is not list or choices[0].__class__ is not dict:
            raise RecordError("wrong type", "response.choices is not a list of objects")
        ch0 = choices[0]
        msg = ch0.get("message")
        if msg.__class__ is dict:
            text = content_text(msg.get("content"), "response.choices[0].message.content")
            tc = msg.get("tool_calls") or ([msg["function_call"]] if msg.get("function_call") else None)
            names, args = tool_calls_of(tc, "response.choices[0].message.tool_calls")
        elif msg is not None:
            raise RecordError("wrong type", f"response.choices[0].message is {kind(msg)}, expected an object")
        else:
            text = as_str(ch0.get("text"), "response.choices[0].text")
        finish = ch0.get("finish_reason")
    return resp, text, names, args, resp.get("usage"), finish, None


def _text(v: Any, field: str) -> str | None:
    return v if v is None or v.__class__ is str else as_str(v, field)


def to_row(rec: Any, raw: bytes) -> tuple:
    """One request/response pair as a reader row (see jsonl.ROW_FIELDS)."""
    if rec.__class__ is not dict:
        raise not_an_object(rec)
    g = rec.get
    req = g("request")
    if req is None:
        req = {}
    elif req.__class__ is not dict:
        raise RecordError("wrong type", f"request is {kind(req)}, expected an object")
    resp = g("response")
    error = g("error")
    head: dict[str, Any] = {}
    text, names, args, usage, finish = None, [], [], None, None
    choices = resp.get("choices") if resp.__class__ is dict else None
    if choices.__class__ is list and choices and choices[0].__class__ is dict \
            and choices[0].get("message").__class__ is dict and resp.get("object") != "chat.completion.chunk":
        head, usage = resp, resp.get("usage")  # the common case, inline
        ch0 = choices[0]
        msg = ch0["message"]
        text = msg.get("content")
        if text is not None and text.__class__ is not str:
            text = content_text(text, "response.choices[0].message.content")
        tc = msg.get("tool_calls") or ([msg["function_call"]] if msg.get("function_call") else None)
        if tc:
            names, args = tool_calls_of(tc, "response.choices[0].message.tool_calls")
        finish = ch0.get("finish_reason")
    elif resp is not None:
        head, text, names, args, usage, finish, resp_error = _response(resp)
        error = error or resp_error
    if usage is None:
        usage = {}
    elif usage.__class__ is not dict:
        raise RecordError("wrong type", f"response.usage is {kind(usage)}, expected an object")

    code = g("status_code")
    if code is not None:
        code = as_int(code, "status_code")
    status = g("status")
    if status.__class__ is int:
        code, status = code or status, None
    status = _text(status, "status")
    if error is not None:
        error = error_text(error, "error")
    elif code is not None and code >= 400:
        error = f"HTTP {code}"
    if status is None:
        status = "error" if (error is not None or resp is None) else "ok"
    if status == "error" and error is None and resp is None:
        error = "no response logged"

    messages = req.get("messages")
    if messages is None and req.get("prompt").__class__ is str:
        messages = [{"role": "user", "content": req["prompt"]}]
    roles, contents = messages_of(messages, "request.messages")

    req_model = _text(req.get("model"), "request.model")
    model = _text(head.get("model"), "response.model") or req_model
    ts = g("timestamp")
    if ts is None:
        ts = head.get("created")
    if ts.__class__ is str:
        ts_text, ts_num = ts, None
    else:
        ts_text, ts_num = as_timestamp(ts, "timestamp")

    call_id = _text(g("call_id"), "call_id") or _text(head.get("id"), "response.id")
    if not call_id:
        call_id = hashlib.blake2b(raw.strip(), digest_size=12).hexdigest()

    meta: dict[str, Any] = {k: v for k, v in req.items() if k not in _REQUEST_KEYS}
    for k in rec.keys() - _RECORD_KEYS:
        meta[k] = rec[k]
    for m in (req.get("metadata"), g("metadata")):
        if m.__class__ is dict:
            meta.update(m)
        elif m is not None:
            meta["metadata"] = m
    if finish is not None:
        meta["finish_reason"] = finish
    if code is not None:
        meta["status_code"] = code
    if req_model and model != req_model:
        meta["requested_model"] = req_model
    if head.get("system_fingerprint"):
        meta["system_fingerprint"] = head["system_fingerprint"]

    session = g("session_id") or meta.get("session_id")
    workload = g("workload_id") or meta.get("workload_id")
    user = g("user_id") or req.get("user") or meta.get("user_id")
    tokens_in = usage.get("prompt_tokens")
    if tokens_in is None:
        tokens_in = usage.get("input_tokens")
    tokens_out = usage.get("completion_tokens")
    if tokens_out is None:
        tokens_out = usage.get("output_tokens")
    latency = g("latency_ms")
    cost = g("cost_usd")
    tools = req.get("tools")
    return (
        call_id, ts_text, ts_num, model, _text(g("provider"), "provider") or "openai",
        roles, contents, None if tools is None else json_text(tools, "request.tools"), text, names, args,
        tokens_in if tokens_in is None or tokens_in.__class__ is int
        else as_int(tokens_in, "response.usage.prompt_tokens"),
        tokens_out if tokens_out is None or tokens_out.__class__ is int
        else as_int(tokens_out, "response.usage.completion_tokens"),
        latency if latency is None or latency.__class__ is float else as_float(latency, "latency_ms"),
        cost if cost is None or cost.__class__ is float else as_float(cost, "cost_usd"),
        status, error, _text(session, "session_id"), _text(user, "user_id"), _text(workload, "workload_id"),
        orjson.dumps(meta).decode() if meta else None,
    )
