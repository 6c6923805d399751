"""S1 readers: canonical JSONL, OpenAI pairs (tools, errors, streams), OTLP spans, CSV/Parquet, gzip, detection."""

from __future__ import annotations

import gzip
import io
import json
from datetime import datetime, timezone

import polars as pl
import pytest

from fde_toolkit import FdeError
from fde_toolkit.logs import openai
from fde_toolkit.logs.detect import EMPTY, glob_matches, sniff_format, source_for
from fde_toolkit.logs.ingest import ingest
from fde_toolkit.logs.jsonl import ROW_FIELDS, RecordError
from fde_toolkit.logs.schema import CALL_SCHEMA


def calls_of(eng) -> pl.DataFrame:
    df = pl.read_parquet(eng.artifacts.path("calls"))
    assert dict(df.schema) == CALL_SCHEMA
    return df


def by_id(df: pl.DataFrame) -> dict[str, dict]:
    return {r["call_id"]: r for r in df.to_dicts()}


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=timezone.utc)


# ---------------------------------------------------------------- canonical

def test_canonical_fields_timestamps_tool_calls_and_metadata(make_engagement, canonical_record, jsonl):
    recs = [
        canonical_record(1, tool_calls=[{"name": "lookup", "arguments": {"id": 7}}], tools=[{"type": "function"}]),
        canonical_record(2, timestamp=1740823200, tool_calls=[{"name": "x", "arguments": '{"a":1}'}],
                         team="claims", metadata={"k": "v"}),
        canonical_record(3, timestamp=1740823200123, session_id="s1", user_id="u1", workload_id="triage",
                         status="error", error={"message": "boom"}, cost_usd=0.5),
    ]
    eng = make_engagement({"calls.jsonl": jsonl(recs)})
    report = ingest(eng).data
    assert (report.read, report.accepted, report.quarantined) == (3, 3, 0)
    rows = by_id(calls_of(eng))
    r1, r2, r3 = rows["c1"], rows["c2"], rows["c3"]
    assert r1["timestamp"] == utc(2025, 3, 1, 10, 0, 1)
    assert r1["tool_calls"] == [{"name": "lookup", "arguments": '{"id":7}'}]
    assert json.loads(r1["tools"]) == [{"type": "function"}]
    assert r1["messages"] == [{"role": "user", "content": "hi 1"}]
    assert (r1["status"], r1["source"], r1["provider"]) == ("ok", "calls.jsonl:1", "acme")
    assert r2["timestamp"] == utc(2025, 3, 1, 10, 0, 0)  # epoch seconds
    assert r2["tool_calls"] == [{"name": "x", "arguments": '{"a":1}'}]
    assert json.loads(r2["metadata"]) == {"k": "v", "team": "claims"}
    assert r3["timestamp"] == datetime(2025, 3, 1, 10, 0, 0, 123000, tzinfo=timezone.utc)  # epoch ms
    assert (r3["status"], r3["error"], r3["cost_usd"]) == ("error", "boom", 0.5)
    assert (r3["session_id"], r3["user_id"], r3["workload_id"]) == ("s1", "u1", "triage")


# ---------------------------------------------------------------- OpenAI pairs

def test_openai_pair_with_tools_history_and_extras(make_engagement, openai_pair, jsonl):
    tools = [{"type": "function", "function": {"name": "get_order", "parameters": {"type": "object"}}}]
    rec = openai_pair(1, session_id="sess-9", workload_id="orders")
    rec["request"].update(
        tools=tools, user="member-4",
        messages=[{"role": "system", "content": "You help."}, {"role": "user", "content": "Where is order 5?"},
                  {"role": "assistant", "content": None, "tool_calls": [
                      {"id": "call_1", "type": "function",
                       "function": {"name": "get_order", "arguments": '{"id":5}'}}]},
                  {"role": "tool", "tool_call_id": "call_1", "content": '{"status":"shipped"}'}])
    rec["response"]["choices"][0]["message"] = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_2", "type": "function", "function": {"name": "notify", "arguments": '{"to":"member-4"}'}}]}
    eng = make_engagement({"proxy.log": jsonl([rec])})
    ingest(eng)
    r = calls_of(eng).row(0, named=True)
    assert r["call_id"] == "chatcmpl-1" and r["provider"] == "openai" and r["model"] == "gpt-4o-mini"
    assert [m["role"] for m in r["messages"]] == ["system", "user", "assistant", "tool"]
    assert json.loads(r["messages"][2]["content"]) == [{"name": "get_order", "arguments": {"id": 5}}]
    assert r["messages"][3]["content"] == '{"status":"shipped"}'
    assert json.loads(r["tools"]) == tools
    assert r["response_text"] is None
    assert r["tool_calls"] == [{"name": "notify", "arguments": '{"to":"member-4"}'}]
    assert (r["input_tokens"], r["output_tokens"], r["latency_ms"]) == (10, 5, 120.0)
    assert (r["user_id"], r["session_id"], r["workload_id"]) == ("member-4", "sess-9", "orders")
    meta = json.loads(r["metadata"])
    assert meta["temperature"] == 0.1 and meta["finish_reason"] == "stop"


def test_openai_errors_instead_of_a_response(make_engagement, openai_pair, jsonl):
    recs = [openai_pair(1, response=None, error={"message": "Rate limit reached", "code": "rate_limit"}),
            openai_pair(2, response=None, status_code=503),
            openai_pair(3, response={"error": {"message": "context length exceeded"}})]
    eng = make_engagement({"errors.jsonl": jsonl(recs)})
    report = ingest(eng).data
    assert report.accepted == 3
    df = calls_of(eng).sort("source")
    assert df["status"].to_list() == ["error"] * 3
    assert df["error"].to_list() == ["Rate limit reached", "HTTP 503", "context length exceeded"]
    assert df["response_text"].to_list() == [None] * 3
    # no response id: a content hash, stable and distinct
    assert df["call_id"].n_unique() == 3 and all(len(c) == 24 for c in df["call_id"])


def test_openai_streamed_chunks_are_reassembled():
    chunks = [
        {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1740823200, "model": "gpt-4o",
         "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]},
        {"id": "chatcmpl-s", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "lo"}}]},
        {"id": "chatcmpl-s", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "c1", "type": "function", "function": {"name": "search", "arguments": '{"q":'}},
            {"index": 1, "id": "c2", "type": "function", "function": {"name": "fetch", "arguments": ""}}]}}]},
        {"id": "chatcmpl-s", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": '"cats"}'}}, {"index": 1, "function": {"arguments": "{}"}}]},
            "finish_reason": "tool_calls"}]},
        {"id": "chatcmpl-s", "object": "chat.completion.chunk", "choices": [],
         "usage": {"prompt_tokens": 12, "completion_tokens": 7}},
    ]
    rec = {"request": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True},
           "response": chunks, "latency_ms": 900}
    row = dict(zip(ROW_FIELDS, openai.to_row(rec, b"{}")))
    assert row["call_id"] == "chatcmpl-s" and row["model"] == "gpt-4o"
    assert row["ts_num"] == 1740823200.0  # response.created when no timestamp was logged
    assert row["response_text"] == "Hello"
    assert row["tc_names"] == ["search", "fetch"] and row["tc_args"] == ['{"q":"cats"}', "{}"]
    assert (row["input_tokens"], row["output_tokens"], row["status"]) == (12, 7, "ok")
    single = dict(zip(ROW_FIELDS, openai.to_row({**rec, "response": chunks[0]}, b"{}")))
    assert single["response_text"] == "Hel"


def test_openai_wrong_types_raise_record_errors(openai_pair):
    bad_tokens = openai_pair(1)
    bad_tokens["response"]["usage"]["prompt_tokens"] = "abc"
    with pytest.raises(RecordError) as e:
        openai.to_row(bad_tokens, b"")
    assert e.value.reason == "wrong type" and "prompt_tokens" in e.value.detail and "abc" not in e.value.detail
    bad_messages = openai_pair(2)
    bad_messages["request"]["messages"] = "hello"
    with pytest.raises(RecordError, match="request.messages is text"):
        openai.to_row(bad_messages, b"")


# ---------------------------------------------------------------- OpenTelemetry

def _attr(key, value):
    if isinstance(value, bool):
        v = {"boolValue": value}
    elif isinstance(value, int):
        v = {"intValue": str(value)}
    elif isinstance(value, float):
        v = {"doubleValue": value}
    else:
        v = {"stringValue": value}
    return {"key": key, "value": v}


def _span(span_id, attrs, start=1_740_823_200_000_000_000, ms=250, code=0, trace="t" * 32):
    return {"traceId": trace, "spanId": span_id, "name": "chat", "startTimeUnixNano": str(start),
            "endTimeUnixNano": str(start + ms * 1_000_000), "status": {"code": code},
            "attributes": [_attr(k, v) for k, v in attrs.items()]}


def _export(spans):
    return {"resourceSpans": [{"resource": {"attributes": [_attr("service.name", "bff")]},
                               "scopeSpans": [{"scope": {"name": "x"}, "spans": spans}]}]}


CHAT_IN = json.dumps([{"role": "system", "parts": [{"type": "text", "content": "Route it."}]},
                      {"role": "user", "parts": [{"type": "text", "content": "My card is lost"}]}])
CHAT_OUT = json.dumps([{"role": "assistant", "finish_reason": "tool_call", "parts": [
    {"type": "text", "content": "Blocking it."},
    {"type": "tool_call", "id": "c1", "name": "block_card", "arguments": {"card": "last4"}}]}])


def otel_spans():
    chat = _span("s1", {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.system": "openai",
                        "gen_ai.usage.input_tokens": 42, "gen_ai.usage.output_tokens": 9,
                        "gen_ai.input.messages": CHAT_IN, "gen_ai.output.messages": CHAT_OUT,
                        "gen_ai.conversation.id": "conv-1"})
    old_form = _span("s2", {"gen_ai.response.model": "claude-3-5-haiku", "gen_ai.provider.name": "anthropic",
                            "gen_ai.input.messages": json.dumps([{"role": "user", "content": "hi"}]),
                            "gen_ai.output.messages": json.dumps([{"role": "assistant", "content": "hello"}]),
                            "session.id": "sess-2"}, code=2, ms=1500)
    http = _span("s3", {"http.request.method": "GET", "url.path": "/health"})
    return [chat, old_form, http]


def test_otel_document_spans_and_non_llm_span(make_engagement, quarantine):
    doc = json.dumps(_export(otel_spans()), indent=2)  # a pretty-printed whole-file export
    eng = make_engagement({"traces/export.json": doc})
    report = ingest(eng).data
    assert (report.read, report.accepted, report.quarantined) == (3, 2, 1)
    assert report.reasons == {"not an LLM call span": 1}
    [q] = quarantine(eng)
    assert (q["file"], q["line"], q["reason"]) == ("traces/export.json", 3, "not an LLM call span")
    rows = by_id(calls_of(eng))
    chat = rows["t" * 32 + ":s1"]
    assert chat["model"] == "gpt-4o" and chat["provider"] == "openai"
    assert chat["messages"] == [{"role": "system", "content": "Route it."},
                                {"role": "user", "content": "My card is lost"}]
    assert chat["response_text"] == "Blocking it."
    assert chat["tool_calls"] == [{"name": "block_card", "arguments": '{"card":"last4"}'}]
    assert (chat["input_tokens"], chat["output_tokens"], chat["latency_ms"]) == (42, 9, 250.0)
    assert chat["timestamp"] == utc(2025, 3, 1, 10, 0, 0) and chat["session_id"] == "conv-1"
    assert chat["status"] == "ok" and json.loads(chat["metadata"])["service.name"] == "bff"
    old = rows["t" * 32 + ":s2"]
    assert (old["provider"], old["model"], old["status"], old["latency_ms"]) == (
        "anthropic", "claude-3-5-haiku", "error", 1500.0)
    assert old["messages"] == [{"role": "user", "content": "hi"}] and old["response_text"] == "hello"
    assert old["session_id"] == "sess-2"


def test_otel_one_export_per_line(make_engagement, jsonl):
    spans = otel_spans()
    eng = make_engagement({"otlp.jsonl": jsonl([_export(spans[:2]), _export(spans[2:])])})
    report = ingest(eng).data
    assert (report.read, report.accepted, report.quarantined) == (3, 2, 1)
    assert sorted(calls_of(eng)["source"].to_list()) == ["otlp.jsonl:1", "otlp.jsonl:1"]


# ---------------------------------------------------------------- CSV and Parquet

CSV_SOURCE = {"glob": "exports/*", "mapping": {
    "call_id": "request_id", "timestamp": "created_at", "model": "model_name", "prompt": "prompt_text",
    "system_prompt": "system_text", "response_text": "completion", "input_tokens": "prompt_tokens",
    "output_tokens": "completion_tokens", "latency_ms": "duration_ms"}, "timestamp_format": "%d/%m/%Y %H:%M"}

CSV_TEXT = ("request_id,created_at,model_name,prompt_text,system_text,completion,prompt_tokens,completion_tokens,"
            "duration_ms,team\n"
            "r1,01/03/2025 10:00,gpt-4o,What is my balance?,You are a bank bot.,It is 5 EUR,12,4,300,retail\n"
            "r2,01/03/2025 10:05,gpt-4o,Close my account,,Done,8,1,250.5,retail\n"
            "r3,01/03/2025 10:07,gpt-4o,Hi,,Hello,abc,1,100,retail\n"
            "r4,31/02/2025 10:07,gpt-4o,Hi,,Hello,1,1,100,retail\n")


def test_csv_with_mapping_vectorised_types_and_metadata(make_engagement, quarantine):
    eng = make_engagement({"exports/calls.csv": CSV_TEXT}, sources=[CSV_SOURCE])
    report = ingest(eng).data
    assert (report.read, report.accepted, report.quarantined) == (4, 2, 2)
    assert report.files[0].format == "csv"
    q = {r["line"]: r for r in quarantine(eng)}
    assert q[4]["reason"] == "wrong type" and "input_tokens (column prompt_tokens)" in q[4]["detail"]
    assert q[5]["reason"] == "invalid timestamp"
    rows = by_id(calls_of(eng))
    assert rows["r1"]["messages"] == [{"role": "system", "content": "You are a bank bot."},
                                      {"role": "user", "content": "What is my balance?"}]
    assert rows["r2"]["messages"] == [{"role": "user", "content": "Close my account"}]
    assert rows["r1"]["timestamp"] == utc(2025, 3, 1, 10, 0)
    assert (rows["r2"]["input_tokens"], rows["r2"]["latency_ms"], rows["r2"]["source"]) == (
        8, 250.5, "exports/calls.csv:3")
    assert json.loads(rows["r1"]["metadata"]) == {"team": "retail"}


def test_parquet_with_mapping_native_types_and_messages_column(make_engagement, tmp_path):
    frame = pl.DataFrame({
        "id": ["p1", "p2"],
        "ts": [datetime(2025, 3, 1, 10), datetime(2025, 3, 1, 11)],
        "llm": ["gpt-4o", "gpt-4o"],
        "conversation": [[{"role": "user", "content": "a"}],
                         [{"role": "system", "content": "s"}, {"role": "user", "content": "b"}]],
        "tokens_in": [5, 6],
        "epoch": [1740823200, 1740826800],
    })
    buf = io.BytesIO()
    frame.write_parquet(buf)
    src = {"glob": "**/*.parquet", "mapping": {"call_id": "id", "timestamp": "ts", "model": "llm",
                                               "messages": "conversation", "input_tokens": "tokens_in"}}
    eng = make_engagement({"db/export.parquet": buf.getvalue()}, sources=[src])
    report = ingest(eng).data
    assert (report.read, report.accepted, report.quarantined) == (2, 2, 0)
    rows = by_id(calls_of(eng))
    assert rows["p2"]["messages"] == [{"role": "system", "content": "s"}, {"role": "user", "content": "b"}]
    assert rows["p1"]["timestamp"] == utc(2025, 3, 1, 10) and rows["p1"]["source"] == "db/export.parquet:1"
    assert json.loads(rows["p1"]["metadata"]) == {"epoch": 1740823200}


def test_epoch_column_with_unit_and_json_messages(make_engagement, quarantine):
    text = ("id,t,m,msgs\n"
            'a,1740823200000,x,"[{""role"":""user"",""content"":""hi""}]"\n'
            'b,1740823260000,x,not json\n'
            'c,1740823270000,x,"[{""content"":""no role""}]"\n')
    src = {"glob": "*.csv", "timestamp_unit": "ms",
           "mapping": {"call_id": "id", "timestamp": "t", "model": "m", "messages": "msgs"}}
    eng = make_engagement({"e.csv": text}, sources=[src])
    report = ingest(eng).data
    assert (report.accepted, report.quarantined) == (1, 2)
    assert calls_of(eng)["timestamp"].to_list() == [utc(2025, 3, 1, 10)]
    q3, q4 = quarantine(eng)
    assert (q3["line"], q3["reason"]) == (3, "wrong type") and "messages (column msgs)" in q3["detail"]
    assert (q4["line"], q4["reason"]) == (4, "wrong type") and "role" in q4["detail"]
    # all rows valid JSON: the vectorised decode path flags the missing role the same way
    eng2 = make_engagement({"e.csv": "\n".join(text.splitlines()[:2] + text.splitlines()[3:]) + "\n"},
                           sources=[src], name="eng2")
    assert (ingest(eng2).data.accepted, [q["reason"] for q in quarantine(eng2)]) == (1, ["wrong type"])


def test_csv_without_mapping_or_with_a_missing_column_is_refused(make_engagement, quarantine):
    eng = make_engagement({"a.csv": CSV_TEXT})
    report = ingest(eng).data
    assert report.files[0].refused.startswith("missing column mapping")
    assert "mapping" in report.files[0].refused and (report.read, report.quarantined) == (1, 1)
    src = {**CSV_SOURCE, "glob": "*.csv", "mapping": {**CSV_SOURCE["mapping"], "model": "engine"}}
    eng2 = make_engagement({"a.csv": CSV_TEXT}, sources=[src], name="eng2")
    report2 = ingest(eng2).data
    refused = report2.files[0].refused
    assert refused.startswith("missing column") and "'engine'" in refused and "sources[0].mapping.model" in refused
    [q] = quarantine(eng2)
    assert q["line"] is None and q["source"] == "a.csv" and q["reason"] == "missing column"


def test_unknown_mapping_key_is_a_config_error(make_engagement):
    eng = make_engagement({"a.csv": CSV_TEXT}, sources=[{"glob": "*.csv", "mapping": {"promt": "prompt_text"}}])
    with pytest.raises(FdeError, match=r"sources\[0\]\.mapping\.promt"):
        ingest(eng)


# ---------------------------------------------------------------- gzip and detection

def _gz(data: bytes | str) -> bytes:
    return gzip.compress(data.encode() if isinstance(data, str) else data, mtime=0)


def test_gzip_of_every_format_is_read_by_magic_bytes(make_engagement, canonical_record, openai_pair, jsonl):
    frame = pl.DataFrame({"request_id": ["pq1"], "created_at": ["01/03/2025 10:00"], "model_name": ["m"],
                          "prompt_text": ["p"]})
    buf = io.BytesIO()
    frame.write_parquet(buf)
    files = {
        "a.data": _gz(jsonl([canonical_record(1)])),
        "b.data": _gz(jsonl([openai_pair(2)])),
        "c.data": _gz(json.dumps(_export(otel_spans()[:1]))),
        "exports/d.csv.gz": _gz(CSV_TEXT),
        "exports/e.bin": _gz(buf.getvalue()),
    }
    pq_source = {"glob": "exports/*.bin", "timestamp_format": "%d/%m/%Y %H:%M", "mapping": {
        "call_id": "request_id", "timestamp": "created_at", "model": "model_name", "prompt": "prompt_text"}}
    eng = make_engagement(files, sources=[pq_source, CSV_SOURCE, {"glob": "**/*"}])
    report = ingest(eng).data
    formats = {f.file: f.format for f in report.files}
    assert formats == {"a.data": "canonical", "b.data": "openai", "c.data": "otel", "exports/d.csv.gz": "csv",
                       "exports/e.bin": "parquet"}
    accepted = {f.file: f.accepted for f in report.files}
    assert accepted == {"a.data": 1, "b.data": 1, "c.data": 1, "exports/d.csv.gz": 2, "exports/e.bin": 1}


def test_sniffing_by_content_not_extension(tmp_path, canonical_record, openai_pair):
    cases = {
        "canon.csv": json.dumps(canonical_record(1)) + "\n",
        "pairs.txt": "\n\n" + json.dumps(openai_pair(1)) + "\n",
        "spans.jsonl": json.dumps(_export([])) + "\n",
        "table.json": "a,b,c\n1,2,3\n",
        "empty.jsonl": "  \n\n",
        "binary.jsonl": b"\x00\x01\x02\xff\xfe",
        "array.json": "[1, 2, 3]\n",
    }
    got = {}
    for name, content in cases.items():
        p = tmp_path / name
        p.write_bytes(content.encode() if isinstance(content, str) else content)
        got[name] = sniff_format(p)
    assert got == {"canon.csv": "canonical", "pairs.txt": "openai", "spans.jsonl": "otel", "table.json": "csv",
                   "empty.jsonl": EMPTY, "binary.jsonl": None, "array.json": None}
    # the first record is broken: the next one decides
    p = tmp_path / "broken_first.jsonl"
    p.write_text('{"request": {"model": \n' + json.dumps(openai_pair(2)) + "\n")
    assert sniff_format(p) == "openai"


def test_glob_rules_and_first_matching_source_wins():
    from fde_toolkit.engagement import SourceConfig

    assert glob_matches("**/*", "a.jsonl") and glob_matches("**/*", "x/y/a.jsonl")
    assert glob_matches("exports/*.csv", "exports/a.csv") and not glob_matches("exports/*.csv", "exports/x/a.csv")
    assert glob_matches("**/*.gz", "a.gz") and not glob_matches("*.gz", "x/a.gz")
    sources = [SourceConfig(glob="logs/*.jsonl", format="openai"), SourceConfig(glob="**/*", format="canonical")]
    assert source_for("logs/a.jsonl", sources)[0] == 0
    assert source_for("other/a.jsonl", sources)[0] == 1
    assert source_for("a.jsonl", sources[:1]) is None


def test_format_override_beats_detection(make_engagement, canonical_record, jsonl, quarantine):
    # canonical records forced through the OpenAI reader: no request -> missing model, counted
    files = {"forced/a.jsonl": jsonl([canonical_record(1)]), "auto/b.jsonl": jsonl([canonical_record(2)])}
    eng = make_engagement(files, sources=[{"glob": "forced/*", "format": "openai"}, {"glob": "**/*", "format": "auto"}])
    report = ingest(eng).data
    fmt = {f.file: (f.format, f.accepted, f.quarantined) for f in report.files}
    assert fmt == {"forced/a.jsonl": ("openai", 0, 1), "auto/b.jsonl": ("canonical", 1, 0)}
    [q] = quarantine(eng)
    assert (q["reason"], q["detail"]) == ("missing required field", "model is missing")
