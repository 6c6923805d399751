"""The OTel format: a record as an OpenTelemetry GenAI client span, and a streaming OTLP JSON file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson


def _attr(key: str, v: Any) -> dict:
    if isinstance(v, bool):
        return {"key": key, "value": {"boolValue": v}}
    if isinstance(v, int):
        return {"key": key, "value": {"intValue": str(v)}}
    if isinstance(v, float):
        return {"key": key, "value": {"doubleValue": v}}
    if isinstance(v, (list, tuple)):
        return {"key": key, "value": {"arrayValue": {"values": [{"stringValue": str(x)} for x in v]}}}
    return {"key": key, "value": {"stringValue": str(v)}}


def _to_span(rec: dict) -> dict:
    """An OpenAI-pair record as an OpenTelemetry GenAI client span (OTLP JSON)."""
    req, resp, ot = rec["request"], rec.get("response"), rec["_otel"]
    start_ns = ot["start_ns"]
    end_ns = start_ns + int(max(rec["latency_ms"], 0.0) * 1e6)
    inputs = [{"role": m["role"], "parts": [{"type": "text", "content": m.get("content") or ""}]}
              for m in req["messages"]]
    attrs = [_attr("gen_ai.operation.name", "chat"), _attr("gen_ai.system", "openai"),
             _attr("gen_ai.provider.name", "openai"), _attr("gen_ai.request.model", req["model"]),
             _attr("gen_ai.request.temperature", float(req["temperature"])),
             _attr("gen_ai.conversation.id", ot["session_id"]), _attr("user.id", ot["user"]),
             _attr("server.address", "api.openai.com"),
             _attr("gen_ai.input.messages", orjson.dumps(inputs).decode())]
    if req.get("tools"):
        attrs.append(_attr("gen_ai.tool.definitions", orjson.dumps(req["tools"]).decode()))
    status = {"code": 1}
    if resp is not None:
        ch = resp["choices"][0]
        msg = ch["message"]
        parts: list[dict] = []
        if msg.get("content") is not None:
            parts.append({"type": "text", "content": msg["content"]})
        for tc in msg.get("tool_calls") or ():
            parts.append({"type": "tool_call", "id": tc["id"], "name": tc["function"]["name"],
                          "arguments": orjson.loads(tc["function"]["arguments"])})
        out = [{"role": "assistant", "parts": parts, "finish_reason": ch["finish_reason"]}]
        attrs += [_attr("gen_ai.response.model", resp["model"]), _attr("gen_ai.response.id", resp["id"]),
                  _attr("gen_ai.response.finish_reasons", [ch["finish_reason"]]),
                  _attr("gen_ai.usage.input_tokens", resp["usage"]["prompt_tokens"]),
                  _attr("gen_ai.usage.output_tokens", resp["usage"]["completion_tokens"]),
                  _attr("gen_ai.output.messages", orjson.dumps(out).decode())]
    else:
        err = rec["error"]
        attrs += [_attr("error.type", err["code"]), _attr("http.response.status_code", err["status"])]
        status = {"code": 2, "message": err["message"]}
    return {"traceId": ot["trace_id"], "spanId": ot["span_id"], "name": f"chat {req['model']}", "kind": 3,
            "startTimeUnixNano": str(start_ns), "endTimeUnixNano": str(end_ns), "attributes": attrs, "status": status}


_OTEL_HEAD = orjson.dumps({"resource": {"attributes": [
    _attr("service.name", "northwind-mobile-bff"), _attr("service.version", "3.14.2"),
    _attr("deployment.environment", "prod"), _attr("telemetry.sdk.language", "python")]}})
_OTEL_SCOPE = orjson.dumps({"name": "opentelemetry.instrumentation.openai_v2", "version": "2.1b0"})


class _OtelFile:
    """Streams one day's spans into an OTLP JSON document without holding them in memory."""

    def __init__(self, path: Path) -> None:
        self.f = open(path, "wb")
        self.f.write(b'{"resourceSpans":[' + _OTEL_HEAD[:-1] + b',"scopeSpans":[{"scope":' + _OTEL_SCOPE
                     + b',"spans":[\n')
        self.n = 0

    def add(self, span: dict) -> None:
        self.f.write((b",\n" if self.n else b"") + orjson.dumps(span))
        self.n += 1

    def close(self) -> None:
        self.f.write(b"\n]}]}]}\n")
        self.f.close()
