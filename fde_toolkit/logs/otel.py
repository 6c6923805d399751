"""Reader for OpenTelemetry GenAI spans in OTLP JSON exports.

A file is either one export document ({"resourceSpans": [...]}) or one export per line. Each GenAI
chat span becomes a call: gen_ai.request.model (or gen_ai.response.model), gen_ai.provider.name /
gen_ai.system, gen_ai.usage.*, gen_ai.input.messages / gen_ai.output.messages (semconv "parts",
or the older "content" form; OpenLLMetry's gen_ai.prompt.N.* is read too), latency from the span
times, status code 2 = error, call_id = traceId:spanId. Other spans are counted and quarantined as
"not an LLM call span" so that counts add up. Each span is one record read; its line is the line of
its export document, or, for a file holding a single document, the span's position in it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import orjson

from fde_toolkit.logs.jsonl import (UTF8_BOM, FileRefused, ReadError, RecordError, as_float, as_int, as_str,
                                    content_text, is_blank, iter_blocks, json_text, kind, messages_of,
                                    not_an_object, parse_error, read_head, tool_calls_of)

NOT_A_CALL = "not an LLM call span"
# gen_ai operations that are not one model call (agents wrap calls; tools and embeddings are not chat)
_NOT_CHAT = frozenset({"embeddings", "execute_tool", "create_agent", "invoke_agent"})
# attributes with a canonical home, or too big for metadata
_MAPPED = frozenset({
    "gen_ai.request.model", "gen_ai.response.model", "gen_ai.system", "gen_ai.provider.name",
    "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.prompt_tokens",
    "gen_ai.usage.completion_tokens", "gen_ai.input.messages", "gen_ai.output.messages",
    "gen_ai.system_instructions", "gen_ai.tool.definitions", "gen_ai.conversation.id", "session.id",
    "user.id", "enduser.id", "workload_id", "gen_ai.response.id",
})


def otlp_value(v: Any) -> Any:
    """The Python value of an OTLP AnyValue ({"stringValue": ...}, {"intValue": "12"}, ...)."""
    if v.__class__ is not dict:
        return v
    for k, x in v.items():
        if k == "stringValue" or k == "boolValue" or k == "bytesValue":
            return x
        if k == "intValue":
            return int(x)
        if k == "doubleValue":
            return float(x)
        if k == "arrayValue":
            return [otlp_value(i) for i in (x or {}).get("values", ())]
        if k == "kvlistValue":
            return attributes((x or {}).get("values"))
    return None


def attributes(kvs: Any) -> dict[str, Any]:
    """An OTLP key/value list as a dict."""
    if not kvs:
        return {}
    if kvs.__class__ is not list:
        raise RecordError("wrong type", f"attributes is {kind(kvs)}, expected a list of key/value pairs")
    out: dict[str, Any] = {}
    for kv in kvs:
        if kv.__class__ is dict and kv.get("key").__class__ is str:
            try:
                out[kv["key"]] = otlp_value(kv.get("value"))
            except (TypeError, ValueError):
                raise RecordError("wrong type", f"attribute {kv['key']} has a malformed value") from None
    return out


def _json_attr(attrs: dict[str, Any], key: str) -> Any:
    v = attrs.get(key)
    if v.__class__ is str:
        try:
            return orjson.loads(v)
        except orjson.JSONDecodeError:
            raise RecordError("wrong type", f"{key} is text that is not JSON") from None
    return v


def _semconv_messages(msgs: Any, key: str) -> list[dict[str, Any]] | None:
    """Messages with "parts" turned into {role, content} for messages_of."""
    if msgs is None:
        return None
    if msgs.__class__ is not list:
        raise RecordError("wrong type", f"{key} is {kind(msgs)}, expected a list of messages")
    out = []
    for m in msgs:
        if m.__class__ is dict and "parts" in m and "content" not in m:
            m = {"role": m.get("role"), "content": m["parts"]}
        out.append(m)
    return out


def _indexed(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]] | None:
    """OpenLLMetry's flattened gen_ai.prompt.N.role / .content attributes as a message list."""
    found: dict[int, dict[str, Any]] = {}
    for k, v in attrs.items():
        if k.startswith(prefix):
            idx, _, field = k[len(prefix):].partition(".")
            if idx.isdigit() and field in ("role", "content"):
                found.setdefault(int(idx), {})[field] = v
    return [found[i] for i in sorted(found)] or None


def _input_messages(attrs: dict[str, Any]) -> tuple[list[str] | None, list[str | None] | None]:
    msgs = _semconv_messages(_json_attr(attrs, "gen_ai.input.messages"), "gen_ai.input.messages")
    if msgs is None:
        msgs = _indexed(attrs, "gen_ai.prompt.")
    roles, contents = messages_of(msgs, "gen_ai.input.messages")
    system = _json_attr(attrs, "gen_ai.system_instructions")
    if system is not None and roles is not None:
        roles.insert(0, "system")
        contents.insert(0, content_text(system, "gen_ai.system_instructions"))
    return roles, contents


def _output(attrs: dict[str, Any]) -> tuple[str | None, list, list, Any]:
    """(response text, tool call names, arguments, finish reason) of the first output message."""
    msgs = _json_attr(attrs, "gen_ai.output.messages")
    if msgs is None:
        done = _indexed(attrs, "gen_ai.completion.")
        return (as_str(done[0].get("content"), "gen_ai.completion.0.content") if done else None), [], [], None
    if msgs.__class__ is not list:
        raise RecordError("wrong type", f"gen_ai.output.messages is {kind(msgs)}, expected a list of messages")
    if not msgs:
        return None, [], [], None
    m = msgs[0]
    if m.__class__ is not dict:
        raise RecordError("wrong type", "gen_ai.output.messages[0] is not an object")
    parts = m.get("parts")
    if parts is None:
        names, args = tool_calls_of(m.get("tool_calls"), "gen_ai.output.messages[0].tool_calls")
        return content_text(m.get("content"), "gen_ai.output.messages[0].content"), names, args, m.get("finish_reason")
    if parts.__class__ is not list:
        raise RecordError("wrong type", "gen_ai.output.messages[0].parts is not a list")
    texts, calls = [], []
    for p in parts:
        if p.__class__ is dict and p.get("type") == "tool_call":
            calls.append(p)
        else:
            texts.append(p)
    text = content_text(texts, "gen_ai.output.messages[0].parts") if texts else None
    names, args = tool_calls_of(calls, "gen_ai.output.messages[0].parts")
    return text, names, args, m.get("finish_reason")


def _nanos(v: Any, field: str) -> int | None:
    return as_int(v, field) if v is not None else None


def span_row(span: Any, where: str, resource: dict[str, Any]) -> tuple:
    """One GenAI chat span as a reader row; RecordError for any other span."""
    if span.__class__ is not dict:
        raise RecordError("wrong type", f"{where} is {kind(span)}, expected a span object")
    attrs = attributes(span.get("attributes"))
    model = attrs.get("gen_ai.request.model") or attrs.get("gen_ai.response.model")
    op = attrs.get("gen_ai.operation.name")
    if not model:
        raise RecordError(NOT_A_CALL, f"{where} has no gen_ai.request.model or gen_ai.response.model attribute")
    if op in _NOT_CHAT:
        raise RecordError(NOT_A_CALL, f"{where} is a gen_ai.operation.name={op} span, not a model call")
    roles, contents = _input_messages(attrs)
    text, names, args, finish = _output(attrs)
    start = _nanos(span.get("startTimeUnixNano"), "startTimeUnixNano")
    end = _nanos(span.get("endTimeUnixNano"), "endTimeUnixNano")
    latency = (end - start) / 1e6 if start is not None and end is not None else None
    status = span.get("status") or {}
    if status.__class__ is not dict:
        raise RecordError("wrong type", f"{where}.status is {kind(status)}, expected an object")
    failed = status.get("code") in (2, "2", "STATUS_CODE_ERROR")
    error = (as_str(status.get("message"), "status.message") or as_str(attrs.get("error.type"), "error.type")
             or "span status error") if failed else None
    trace, span_id = span.get("traceId"), span.get("spanId")
    meta = {k: v for k, v in attrs.items()
            if k not in _MAPPED and not k.startswith(("gen_ai.prompt.", "gen_ai.completion."))}
    if span.get("name"):
        meta["span_name"] = span["name"]
    if resource.get("service.name"):
        meta["service.name"] = resource["service.name"]
    if finish is not None:
        meta["finish_reason"] = finish
    return (
        f"{trace}:{span_id}" if trace and span_id else None, None, float(start) if start is not None else None,
        as_str(model, "gen_ai.request.model"),
        as_str(attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system"), "gen_ai.provider.name"),
        roles, contents, json_text(_json_attr(attrs, "gen_ai.tool.definitions"), "gen_ai.tool.definitions"),
        text, names, args,
        as_int(attrs.get("gen_ai.usage.input_tokens", attrs.get("gen_ai.usage.prompt_tokens")),
               "gen_ai.usage.input_tokens"),
        as_int(attrs.get("gen_ai.usage.output_tokens", attrs.get("gen_ai.usage.completion_tokens")),
               "gen_ai.usage.output_tokens"),
        as_float(latency, "latency"), None, "error" if failed else "ok", error,
        as_str(attrs.get("gen_ai.conversation.id") or attrs.get("session.id"), "gen_ai.conversation.id"),
        as_str(attrs.get("user.id") or attrs.get("enduser.id"), "user.id"),
        as_str(attrs.get("workload_id"), "workload_id"),
        orjson.dumps(meta).decode() if meta else None,
    )


def to_rows(doc: Any, raw: bytes) -> list[tuple | RecordError]:
    """Every span of one OTLP export document: a row per chat span, a RecordError per other span."""
    if doc.__class__ is not dict:
        raise not_an_object(doc)
    rs = doc.get("resourceSpans")
    if rs.__class__ is not list:
        raise RecordError("wrong type" if rs is not None else "missing required field",
                          f"resourceSpans is {kind(rs)}, expected a list (OTLP JSON export)")
    out: list[tuple | RecordError] = []
    n = 0
    for r in rs:
        if r.__class__ is not dict:
            n += 1
            out.append(RecordError("wrong type", f"a resourceSpans entry is {kind(r)}, expected an object"))
            continue
        try:
            resource = attributes((r.get("resource") or {}).get("attributes"))
        except RecordError:
            resource = {}  # only feeds metadata
        for ss in r.get("scopeSpans") or r.get("instrumentationLibrarySpans") or ():
            for span in (ss.get("spans") if ss.__class__ is dict else None) or ():
                n += 1
                try:
                    out.append(span_row(span, f"span {n}", resource))
                except RecordError as e:
                    out.append(e)
    return out


def one_export_per_line(path: Path) -> bool:
    """True when the file's first non-empty line is a whole OTLP JSON document (JSONL of exports)."""
    head = read_head(path).lstrip(UTF8_BOM)
    for line in head.split(b"\n"):
        if not is_blank(line):
            try:
                return isinstance(orjson.loads(line), dict)
            except orjson.JSONDecodeError:
                return False
    return False


def read_document(path: Path, progress: Callable[[int], None] | None = None) -> list[tuple | RecordError]:
    """Every span of a file holding one (possibly pretty-printed) OTLP JSON export."""
    try:
        data = b"".join(iter_blocks(path, progress))
    except ReadError as e:
        raise FileRefused("unreadable file", f"{e}; copy or export the file again") from None
    try:
        doc = orjson.loads(data.lstrip(UTF8_BOM))
    except orjson.JSONDecodeError as e:
        err = parse_error(data, False, e)
        raise FileRefused(err.reason, f"{err.detail} at line {e.lineno}; an OTLP export must be one JSON "
                                      "document, or one document per line") from None
    try:
        return to_rows(doc, data)
    except RecordError as e:
        raise FileRefused(e.reason, e.detail) from None
