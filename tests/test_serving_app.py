"""`fde serve` over real HTTP on loopback: uvicorn in a thread, a toy engagement with a trained encoder
specialist, a real loopback LLM server for the escalations, the official openai client and raw bytes."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import openai
import polars as pl
import pytest
import yaml
from slm_toy import FRUITS, SYSTEM, TOOLS_JSON, hash_embedder, one_thread, save_toy_encoder, toy_engagement  # noqa: F401

from fde_toolkit import FdeError
from fde_toolkit.engagement import Engagement
from fde_toolkit.logs.ingest import ingest
from fde_toolkit.routing.client import OpenAIEndpoint
from fde_toolkit.routing.index import TaskIndex
from fde_toolkit.routing.router import Router
from fde_toolkit.serving.app import build, completion_chunks, create_app, is_loopback, serve_in_thread
from fde_toolkit.serving.config import ServeConfig
from fde_toolkit.slm import build_dataset
from fde_toolkit.slm.tuning import finetune

pytestmark = pytest.mark.usefixtures("one_thread")
LLM_KEY_ENV, SERVE_KEY_ENV, SERVE_KEY = "FDE_TEST_SERVE_LLM_KEY", "FDE_TEST_SERVE_KEY", "sk-serve-test-1"
MODEL = "fde/t01/tiny-bert"
COLOURS = set(FRUITS.values())
TOOL_CALL = {"id": "call_llm_1", "type": "function",
             "function": {"name": "paint_red", "arguments": '{"fruit": "apple"}'}}


class FakeLLM(BaseHTTPRequestHandler):
    """An OpenAI-like endpoint: a tool call when the request offers tools, text otherwise; "slowly" in the
    last message sleeps 1.5 s; /broken/... answers HTTP 500."""

    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path.startswith("/broken/"):
            return self._send(500, {"error": {"message": "upstream exploded"}})
        FakeLLM.seen.append(body)
        if "slowly" in (body["messages"][-1].get("content") or ""):
            time.sleep(1.5)
        if body.get("tools"):
            message = {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]}
        else:
            message = {"role": "assistant", "content": "the llm says red"}
        self._send(200, {"id": "chatcmpl-llm", "object": "chat.completion", "created": 1, "model": "gpt-4o-2024",
                         "choices": [{"index": 0, "message": message,
                                      "finish_reason": "tool_calls" if body.get("tools") else "stop"}],
                         "usage": {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15}})

    def _send(self, status: int, obj: dict) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def llm_url():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeLLM)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    os.environ[LLM_KEY_ENV] = "sk-llm"
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    os.environ.pop(LLM_KEY_ENV, None)


@pytest.fixture(scope="module")
def eng(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    eng = toy_engagement(root / "acme", n=160)
    cfg = yaml.safe_load((eng.root / "engagement.yaml").read_text())
    cfg.update(candidates=[{"id": "tiny-bert", "kind": "encoder", "folder": str(save_toy_encoder(root / "bert")),
                            "params_m": 0.05}],
               finetune={"classifier": {"layers": 2, "lexical": False}},
               pii={"ner": False, "key_file": ".secrets/pii.key"})
    (eng.root / ".secrets").mkdir()
    (eng.root / ".secrets" / "pii.key").write_text("k" * 64)
    (eng.root / "engagement.yaml").write_text(yaml.safe_dump(cfg))
    tasks = json.loads(eng.artifacts.path("tasks").read_text())
    tasks["tasks"][0]["models"] = [{"model": "gpt-4o", "calls": 160}]
    eng.artifacts.path("tasks").write_text(json.dumps(tasks))
    eng = Engagement.load(eng.root)
    build_dataset(eng, "t01")
    finetune(eng, "t01", progress=False)
    TaskIndex.build(eng, embedder=hash_embedder).save(eng.artifacts.path("task_index"))
    policy = {"version": 1, "engagement": eng.name, "confidence": 0.95, "max_input_chars": 32000,
              "task_index": "router/task_index",
              "tasks": {"t01": {"route": "slm", "reason": "", "specialist": "tiny-bert", "kind": "encoder",
                                "output_kind": "label", "model": "models/t01", "signal": "top_probability",
                                "threshold": 0.0, "target": 0.98}}}
    eng.artifacts.path("routing_policy").write_text(yaml.safe_dump(policy))
    return eng


def _router(eng, llm_url: str, path: str = "/v1", log: Path | None = None) -> Router:
    client = OpenAIEndpoint(llm_url + path, api_key_env=LLM_KEY_ENV, timeout_s=5)
    return Router.from_engagement(eng.root, client=client, embedder=hash_embedder).log_to(log)


@pytest.fixture(scope="module")
def served(eng, llm_url, tmp_path_factory):
    """Factory: (url, router) of a server with these serve: settings; every server stops at the end."""
    running = []

    def start(log: Path | None = None, slow_s: float = 0.0, path: str = "/v1", **settings):
        router = _router(eng, llm_url, path, log)
        if slow_s:
            spec = router.specialist("t01")
            answer = spec.answer
            spec.answer = lambda recs: time.sleep(slow_s) or answer(recs)
        app = create_app(router, ServeConfig(**settings), warm_up=not slow_s)
        running.append(serve_in_thread(app))
        return running[-1].url, router

    yield start
    for r in running:
        r.stop()


@pytest.fixture(scope="module")
def main(served, tmp_path_factory):
    """The server most tests share: key required, batches of up to 16, small body limit; its log."""
    os.environ[SERVE_KEY_ENV] = SERVE_KEY
    log = tmp_path_factory.mktemp("served") / "data" / "served" / "served.jsonl"
    url, router = served(log=log, require_key=True, api_key_env=SERVE_KEY_ENV, max_batch=16, max_wait_ms=30,
                         max_body_bytes=4096)
    yield url, log
    os.environ.pop(SERVE_KEY_ENV, None)


def _client(url: str, key: str = SERVE_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=20)


def _messages(text: str) -> list[dict]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]


def _auth() -> dict:
    return {"Authorization": f"Bearer {SERVE_KEY}"}


# ----------------------------------------------------------------------------- the router's batch path

def test_route_batch_runs_each_stage_once_and_leaves_escalations_to_the_caller(eng, llm_url, tmp_path) -> None:
    texts = ["tell me the colour of a ripe banana please", "a small lime colour", "my plum colour please"]
    one = _router(eng, llm_url)
    alone = [one.complete({"messages": _messages(t)}) for t in texts]
    router = _router(eng, llm_url, log=tmp_path / "batch.jsonl")
    calls = {"scrub": 0, "assign": 0, "answer": 0}
    for name, obj, attr in (("scrub", router, "scrub"), ("assign", router.index, "assign"),
                            ("answer", router.specialist("t01"), "answer")):
        fn = getattr(obj, attr)
        setattr(obj, attr, lambda *a, _fn=fn, _n=name: calls.__setitem__(_n, calls[_n] + 1) or _fn(*a))
    seen = len(FakeLLM.seen)
    batch = router.route_batch([{"messages": _messages(t)} for t in texts]
                               + [{"messages": [{"role": "user", "content": "hello"}]}, "not a request",
                                  {"messages": _messages("   ")}],
                               tasks=[None, "t01", None, None, None, "t01"])
    assert calls == {"scrub": 1, "assign": 1, "answer": 1} and len(FakeLLM.seen) == seen  # no LLM call yet
    assert [b.reply["choices"][0]["message"] for b in batch[:3]] == [a["choices"][0]["message"] for a in alone]
    assert all(b.route["route"] == "slm" and not b.escalates for b in batch[:3])
    assert batch[3].escalates and batch[3].route["reason"] == "no_matching_step"
    assert isinstance(batch[4].error, FdeError) and not batch[4].escalates
    assert batch[5].escalates and batch[5].route["reason"] == "empty_input"
    reply = router.escalate(batch[3])
    assert reply["fde_route"]["route"] == "llm" and reply["choices"][0]["message"]["content"] == "the llm says red"
    assert len((tmp_path / "batch.jsonl").read_text().splitlines()) == 4  # three answers and one escalation
    with pytest.raises(FdeError):
        router.complete("not a request")


# ----------------------------------------------------------------------------- the openai client

def test_models_chat_and_a_specialist_id_with_the_openai_client(main) -> None:
    url, _ = main
    c = _client(url)
    assert [m.id for m in c.models.list()] == ["auto", MODEL]
    assert c.models.retrieve(MODEL).id == MODEL
    r = c.chat.completions.create(model="gpt-4o", messages=_messages("tell me the colour of a ripe banana please"))
    assert r.object == "chat.completion" and r.model == "tiny-bert"
    assert r.choices[0].message.content in COLOURS and r.choices[0].finish_reason == "stop"
    route = r.model_extra["fde_route"]
    assert route["route"] == "slm" and route["task"] == "t01" and route["reason"] == "" and route["latency_ms"] > 0
    direct = c.chat.completions.create(model=MODEL, messages=_messages("tell me the colour of a ripe banana please"))
    assert direct.choices[0].message.content == r.choices[0].message.content
    auto = c.chat.completions.with_raw_response.create(model="auto", messages=_messages("a ripe lime please"))
    assert auto.headers["x-fde-route"] == "slm" and auto.headers["x-fde-task"] == "t01"


def test_escalations_reach_the_llm_with_their_reason(main) -> None:
    url, _ = main
    c = _client(url)
    poem = [{"role": "system", "content": "write a poem"}, {"role": "user", "content": "about limes"}]
    r = c.chat.completions.create(model="gpt-4o", messages=poem)
    assert r.choices[0].message.content == "the llm says red" and r.model == "gpt-4o-2024"
    assert r.model_extra["fde_route"] == {**r.model_extra["fde_route"], "route": "llm", "reason": "no_matching_step"}
    assert FakeLLM.seen[-1]["messages"] == poem and "stream" not in FakeLLM.seen[-1]
    # a specialist's id still escalates what its guards refuse; the LLM gets the task's logged model
    r = c.chat.completions.create(model=MODEL, messages=_messages("   "))
    assert r.model_extra["fde_route"]["reason"] == "empty_input" and FakeLLM.seen[-1]["model"] == "gpt-4o"


def test_streaming_sends_chunks_that_add_up_to_the_answer(main) -> None:
    url, _ = main
    c = _client(url)
    text = "tell me the colour of a small plum"
    whole = c.chat.completions.create(model="gpt-4o", messages=_messages(text)).choices[0].message.content
    chunks = list(c.chat.completions.create(model="gpt-4o", messages=_messages(text), stream=True,
                                            stream_options={"include_usage": True}))
    assert all(ch.object == "chat.completion.chunk" for ch in chunks)
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == whole
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [ch.choices[0].finish_reason for ch in chunks if ch.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is None  # the specialist counts no tokens
    escalated = c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello there"}],
                                          stream=True)
    assert "".join(ch.choices[0].delta.content or "" for ch in escalated) == "the llm says red"
    raw = httpx.post(url + "/v1/chat/completions", headers=_auth(), timeout=10,
                     json={"model": "auto", "messages": _messages(text), "stream": True})
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.text.endswith("data: [DONE]\n\n") and raw.text.startswith("data: {")


def test_tool_calls_pass_through_plain_and_streamed(main) -> None:
    url, _ = main
    c = _client(url)
    tools = json.loads(TOOLS_JSON)
    msgs = [{"role": "user", "content": "paint the apple"}]
    r = c.chat.completions.create(model="gpt-4o", messages=msgs, tools=tools)
    call = r.choices[0].message.tool_calls[0]
    assert call.function.name == "paint_red" and json.loads(call.function.arguments) == {"fruit": "apple"}
    assert r.choices[0].finish_reason == "tool_calls"
    parts = list(c.chat.completions.create(model="gpt-4o", messages=msgs, tools=tools, stream=True))
    deltas = [tc for ch in parts for tc in (ch.choices[0].delta.tool_calls or [])]
    assert {d.index for d in deltas} == {0} and deltas[0].id == "call_llm_1"
    assert deltas[0].function.name == "paint_red"
    assert "".join(d.function.arguments or "" for d in deltas) == TOOL_CALL["function"]["arguments"]
    assert parts[-1].choices[0].finish_reason == "tool_calls"


def test_a_specialist_tool_call_answer_streams_as_indexed_deltas() -> None:
    reply = {"id": "x", "created": 1, "model": "m", "choices": [{"message": {"role": "assistant", "content": None,
             "tool_calls": [TOOL_CALL, {**TOOL_CALL, "id": "call_2"}]}, "finish_reason": "tool_calls"}]}
    chunks = completion_chunks(reply)
    calls = [tc for c in chunks for tc in c["choices"][0]["delta"].get("tool_calls", [])]
    assert [tc["index"] for tc in calls] == [0, 0, 1, 1] and calls[2]["id"] == "call_2"


def test_the_openai_client_raises_the_right_errors(main) -> None:
    url, _ = main
    c = _client(url)
    with pytest.raises(openai.AuthenticationError) as e:
        _client(url, key="wrong").chat.completions.create(model="auto", messages=_messages("a lime"))
    assert e.value.code == "invalid_api_key"
    with pytest.raises(openai.NotFoundError) as e:
        c.chat.completions.create(model="fde/t99/nothing", messages=_messages("a lime"))
    assert e.value.code == "model_not_found" and e.value.param == "model"
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model="auto", messages=[])
    assert e.value.param == "messages"
    with pytest.raises(openai.APIStatusError) as e:
        c.chat.completions.create(model="auto", messages=_messages("banana " * 1000))
    assert e.value.status_code == 413 and e.value.code == "request_too_large"


# ----------------------------------------------------------------------------- raw bytes

@pytest.mark.parametrize("body, status, param", [
    (b'{"model": "auto", "messages": [', 400, None),
    (b"\xff\xfe not json", 400, None),
    (b"[1, 2]", 400, None),
    (b'{"model": "auto"}', 400, "messages"),
    (b'{"model": "auto", "messages": []}', 400, "messages"),
    (b'{"model": "auto", "messages": "hi"}', 400, "messages"),
    (b'{"model": "auto", "messages": [{"role": 1, "content": "x"}]}', 400, "messages[0].role"),
    (b'{"model": "auto", "messages": [{"role": "user", "content": 5}]}', 400, "messages[0].content"),
    (b'{"model": 7, "messages": [{"role": "user", "content": "x"}]}', 400, "model"),
    (b'{"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}', 400, "temperature"),
    (b'{"messages": [{"role": "user", "content": "x"}], "stream": "yes"}', 400, "stream"),
    (b'{"messages": [{"role": "user", "content": "x"}], "tools": {}}', 400, "tools"),
    (b'{"messages": [{"role": "user", "content": "x"}], "n": 3}', 400, "n"),
])
def test_bad_bodies_get_openai_shaped_4xx(main, body: bytes, status: int, param: str | None) -> None:
    url, _ = main
    r = httpx.post(url + "/v1/chat/completions", content=body, headers={**_auth(), "Content-Type": "application/json"})
    assert r.status_code == status
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["type"] == "invalid_request_error"
    assert err["param"] == param and err["message"]


def test_oversized_bodies_get_413_declared_or_not_and_unknown_paths_404(main) -> None:
    url, _ = main
    big = json.dumps({"model": "auto", "messages": _messages("x" * 5000)}).encode()
    r = httpx.post(url + "/v1/chat/completions", content=big, headers=_auth())
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
    chunked = httpx.post(url + "/v1/chat/completions", content=iter([big[:3000], big[3000:]]), headers=_auth())
    assert "content-length" not in chunked.request.headers and chunked.status_code == 413
    r = httpx.get(url + "/v1/nothing")
    assert r.status_code == 404 and set(r.json()["error"]) == {"message", "type", "param", "code"}
    assert httpx.get(url + "/v1/chat/completions").status_code == 405
    # an escaped lone surrogate is valid JSON: routed (escalated as undecodable), not refused
    r = httpx.post(url + "/v1/chat/completions", headers=_auth(),
                   content=b'{"messages": [{"role": "user", "content": "banana \\ud800 colour"}]}')
    assert r.status_code == 200 and r.json()["fde_route"]["reason"] == "undecodable_input"


# ----------------------------------------------------------------------------- load

def test_sixteen_concurrent_clients_are_answered_in_batches(main) -> None:
    url, _ = main
    texts = [f"{w} the colour of a {f} please" for f in FRUITS for w in ("tell me", "what is", "say")]
    c = _client(url)
    alone = {t: c.chat.completions.create(model="auto", messages=_messages(t)).choices[0].message.content
             for t in texts}
    before = _metric(url, "fde_batch_size", "count")
    start = threading.Barrier(16)

    def client(k: int) -> list[tuple[str, str]]:
        mine = _client(url)
        start.wait()
        return [(t, mine.chat.completions.create(model="auto", messages=_messages(t)).choices[0].message.content)
                for t in texts[k % 4::4]]

    with ThreadPoolExecutor(16) as pool:
        answers = [a for got in pool.map(client, range(16)) for a in got]
    assert len(answers) == 16 * 3 and all(got == alone[t] for t, got in answers)
    batches = _metric(url, "fde_batch_size", "count") - before
    assert batches < len(answers)  # some batches held more than one request
    assert _metric(url, "fde_batch_size", "bucket", le="1.0") < _metric(url, "fde_batch_size", "count")


def test_a_full_queue_answers_429_with_retry_after(served) -> None:
    url, _ = served(max_batch=1, queue_size=1, slow_s=0.4)
    body = {"model": "auto", "messages": _messages("the colour of a lime")}
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: httpx.post(url + "/v1/chat/completions", json=body, timeout=20), range(8)))
    statuses = sorted(r.status_code for r in codes)
    assert 200 in statuses and 429 in statuses and set(statuses) <= {200, 429}
    busy = next(r for r in codes if r.status_code == 429)
    assert busy.headers["retry-after"] == "1" and busy.json()["error"]["code"] == "rate_limit_exceeded"
    with pytest.raises(openai.RateLimitError):
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(lambda _: _client(url).chat.completions.create(**body), range(6)))


def test_slow_specialists_and_slow_escalations_time_out_with_504(served) -> None:
    url, _ = served(timeout_s=0.5, slow_s=1.2)
    r = httpx.post(url + "/v1/chat/completions", json={"messages": _messages("the colour of a lime")}, timeout=10)
    assert r.status_code == 504 and r.json()["error"]["code"] == "timeout"
    time.sleep(0.8)  # the slow batch finishes
    r = httpx.post(url + "/v1/chat/completions", timeout=10,
                   json={"messages": [{"role": "user", "content": "answer slowly"}]})
    assert r.status_code == 504 and r.json()["error"]["type"] == "timeout"


def test_a_failing_escalation_endpoint_is_502_without_the_request(served) -> None:
    url, _ = served(path="/broken/v1")
    r = httpx.post(url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "my secret plan"}]})
    assert r.status_code == 502 and r.json()["error"]["code"] == "escalation_failed"
    assert "HTTP 500" in r.json()["error"]["message"] and "secret" not in r.text


def test_without_an_escalation_endpoint_the_specialist_serves_and_escalations_get_502(eng) -> None:
    router = Router.from_engagement(eng.root, embedder=hash_embedder)  # routing.escalation.url is not set
    app, lines = build(eng, "127.0.0.1", 0, config=ServeConfig(), router=router)
    assert any("502" in line and "routing.escalation.url" in line for line in lines)
    with serve_in_thread(app) as running:
        ok = httpx.post(running.url + "/v1/chat/completions", json={"messages": _messages("a ripe lime")})
        assert ok.status_code == 200 and ok.json()["fde_route"]["route"] == "slm"
        r = httpx.post(running.url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 502 and "routing.escalation.url" in r.json()["error"]["message"]
        assert httpx.get(running.url + "/health").json()["escalation"].startswith("routing.escalation.url")


# ----------------------------------------------------------------------------- health, metrics, key, log

def _metric(url: str, name: str, kind: str = "", **labels) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(url + "/metrics", headers=_auth()).text
    want = f"{name}_{kind}" if kind else name
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == want and all(s.labels.get(k) == v for k, v in labels.items()))


def test_health_and_metrics(main) -> None:
    url, _ = main
    h = httpx.get(url + "/health").json()  # open: load balancers probe it without a key
    assert h["status"] == "ok" and h["queue_depth"] == 0 and h["api_key_required"] is True
    assert h["specialists"]["t01"] == {"model": MODEL, "specialist": "tiny-bert", "kind": "encoder",
                                       "output_kind": "label", "runtime": "eager"}
    assert h["escalation"] == "configured"
    _client(url).chat.completions.create(model="auto", messages=_messages("a big lime colour"))
    assert httpx.get(url + "/metrics").status_code == 401
    assert _metric(url, "fde_requests", "total", route="slm", task="t01", status="200") >= 1
    assert _metric(url, "fde_requests", "total", status="400") >= 1  # after the raw-bytes tests
    assert _metric(url, "fde_escalations", "total", reason="no_matching_step") >= 1
    assert _metric(url, "fde_request_latency_seconds", "count", route="slm") >= 1
    assert _metric(url, "fde_queue_depth") == 0


def test_the_api_key(eng, llm_url, served, monkeypatch) -> None:
    monkeypatch.delenv(SERVE_KEY_ENV, raising=False)
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
    with pytest.raises(FdeError, match="serve.api_key_env") as e:
        create_app(_router(eng, llm_url), ServeConfig(api_key_env=SERVE_KEY_ENV), host="0.0.0.0", warm_up=False)
    assert f"${SERVE_KEY_ENV}" in str(e.value)
    url, _ = served()  # loopback: no key needed by default
    assert httpx.post(url + "/v1/chat/completions", json={"messages": _messages("a lime")}).status_code == 200
    monkeypatch.setenv(SERVE_KEY_ENV, SERVE_KEY)
    url, _ = served(require_key=True, api_key_env=SERVE_KEY_ENV)
    body = {"messages": _messages("a lime")}
    assert httpx.post(url + "/v1/chat/completions", json=body).status_code == 401
    assert httpx.post(url + "/v1/chat/completions", json=body,
                      headers={"Authorization": "Bearer nope"}).status_code == 401
    assert httpx.post(url + "/v1/chat/completions", json=body, headers=_auth()).status_code == 200
    assert httpx.get(url + "/v1/models").status_code == 401


def test_every_call_is_logged_for_fde_ingest(main, tmp_path: Path) -> None:
    url, log = main
    _client(url).chat.completions.create(model="auto", messages=_messages("one more plum"),
                                         metadata={"workload_id": "fruit"})
    raw = tmp_path / "next" / "data" / "raw"
    raw.mkdir(parents=True)
    shutil.copy(log, raw / "served.jsonl")
    (tmp_path / "next" / "engagement.yaml").write_text("name: next\n")
    nxt = Engagement.load(tmp_path / "next")
    ingest(nxt)
    calls = pl.read_parquet(nxt.artifacts.path("calls"))
    lines = log.read_text().splitlines()
    quarantined = nxt.artifacts.read("quarantine")  # the lone-surrogate request only: not valid UTF-8 text
    assert calls.height + len(quarantined) == len(lines) > 10 and len(quarantined) <= 1
    routes = [json.loads(m)["fde_route"] for m in calls["metadata"]]
    assert {r["route"] for r in routes} == {"slm", "llm"}
    assert "fruit" in calls["workload_id"].to_list()


def test_build_prints_the_url_the_models_and_the_log(eng, llm_url) -> None:
    app, lines = build(eng, "127.0.0.1", 8123, router=_router(eng, llm_url))
    text = "\n".join(lines)
    assert "http://127.0.0.1:8123/v1" in text and MODEL in text and "data/served/served-" in text
    assert app.state.service.router._log.parent == eng.root / "data" / "served"
    app.state.service.close()
