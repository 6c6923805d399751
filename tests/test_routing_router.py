"""The router on a toy engagement with a trained encoder specialist, escalating to a real HTTP server on loopback
that answers like an OpenAI endpoint."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from slm_toy import hash_embedder, one_thread, save_toy_encoder, toy_engagement  # noqa: F401

from fde_toolkit import FdeError
from fde_toolkit.engagement import Engagement
from fde_toolkit.logs.ingest import ingest
from fde_toolkit.routing.client import OpenAIEndpoint, client_from
from fde_toolkit.routing.config import EscalationConfig
from fde_toolkit.routing.index import TaskIndex
from fde_toolkit.routing.replay import LLM_SAMPLE, render_replay, replay
from fde_toolkit.routing.router import Router
from fde_toolkit.slm import build_dataset
from fde_toolkit.slm.tuning import finetune

pytestmark = pytest.mark.usefixtures("one_thread")
KEY_ENV = "FDE_TEST_LLM_KEY"
SYSTEM = "answer with the colour only"


class FakeOpenAI(BaseHTTPRequestHandler):
    """POST /v1/chat/completions with the right Bearer key -> a chat.completion; /broken/... -> HTTP 500."""

    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/broken/v1/chat/completions":
            return self._send(500, {"error": {"message": "upstream exploded"}})
        if self.path != "/v1/chat/completions":
            return self._send(404, {"error": "no such route"})
        if self.headers.get("Authorization") != "Bearer sk-test-123":
            return self._send(401, {"error": "bad key"})
        FakeOpenAI.seen.append(body)
        self._send(200, {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-2024",
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": "the llm says red"},
                                      "finish_reason": "stop"}],
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
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def llm(server, monkeypatch) -> OpenAIEndpoint:
    monkeypatch.setenv(KEY_ENV, "sk-test-123")
    return OpenAIEndpoint(server + "/v1", api_key_env=KEY_ENV, timeout_s=5)


@pytest.fixture(scope="module")
def eng(tmp_path_factory):
    root = tmp_path_factory.mktemp("router")
    eng = toy_engagement(root / "acme", n=160)
    cfg = yaml.safe_load((eng.root / "engagement.yaml").read_text())
    cfg.update(candidates=[{"id": "tiny-bert", "kind": "encoder", "folder": str(save_toy_encoder(root / "bert")),
                            "params_m": 0.05}],
               finetune={"classifier": {"layers": 2, "lexical": False}}, pii={"ner": False})
    (eng.root / "engagement.yaml").write_text(yaml.safe_dump(cfg))
    (eng.root / ".secrets").mkdir()
    (eng.root / ".secrets" / "pii.key").write_text("k" * 64)
    cfg["pii"]["key_file"] = ".secrets/pii.key"
    (eng.root / "engagement.yaml").write_text(yaml.safe_dump(cfg))
    eng = Engagement.load(eng.root)
    build_dataset(eng, "t01")
    finetune(eng, "t01", progress=False)
    TaskIndex.build(eng, embedder=hash_embedder).save(eng.artifacts.path("task_index"))
    return eng


def _policy(eng: Engagement, route: str = "slm", threshold: float = 0.0) -> None:
    policy = {"version": 1, "engagement": eng.name, "confidence": 0.95, "max_input_chars": 32000,
              "task_index": "router/task_index",
              "tasks": {"t01": {"route": route, "reason": "" if route == "slm" else "no threshold meets 0.98",
                                "specialist": "tiny-bert", "kind": "encoder", "output_kind": "label",
                                "model": "models/t01", "signal": "top_probability", "threshold": threshold,
                                "target": 0.98}}}
    eng.artifacts.path("routing_policy").write_text(yaml.safe_dump(policy))


def _request(text: str, **extra) -> dict:
    return {"model": "gpt-4o", "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}],
            **extra}


# ----------------------------------------------------------------------------- the escalation client

def test_the_client_posts_with_the_key_from_the_environment(llm) -> None:
    reply = llm.complete(_request("tell me the colour of a lime"))
    assert reply["choices"][0]["message"]["content"] == "the llm says red"
    assert FakeOpenAI.seen[-1]["messages"][1]["content"] == "tell me the colour of a lime"
    assert "sk-test-123" not in json.dumps(vars(llm), default=str)  # the key is read per call, never kept
    assert client_from(llm) is llm
    forced = OpenAIEndpoint(llm.url, api_key_env=KEY_ENV, model="gpt-4o-mini")
    forced.complete(_request("x"))
    assert FakeOpenAI.seen[-1]["model"] == "gpt-4o-mini"


def test_client_errors_name_the_variable_the_url_and_the_status(server, llm, monkeypatch) -> None:
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(FdeError, match=rf"\${KEY_ENV} is not set"):
        llm.complete(_request("x"))
    monkeypatch.setenv(KEY_ENV, "sk-test-123")
    broken = OpenAIEndpoint(server + "/broken/v1", api_key_env=KEY_ENV)
    with pytest.raises(FdeError, match="HTTP 500") as e:
        broken.complete(_request("my secret question"))
    assert server + "/broken/v1/chat/completions" in str(e.value) and "secret" not in str(e.value)
    monkeypatch.setenv(KEY_ENV, "wrong")
    with pytest.raises(FdeError, match="HTTP 401"):
        llm.complete(_request("x"))
    with pytest.raises(FdeError, match="routing.escalation.url"):
        client_from(EscalationConfig())
    assert isinstance(client_from(EscalationConfig(url=server + "/v1")), OpenAIEndpoint)


# ----------------------------------------------------------------------------- the router

def test_a_confident_specialist_answers_and_a_strict_threshold_escalates(eng, llm) -> None:
    _policy(eng, threshold=0.0)
    router = Router.from_engagement(eng.root, client=llm, embedder=hash_embedder)
    reply = router.complete(_request("tell me the colour of a ripe banana please"))
    route = reply["fde_route"]
    assert route["route"] == "slm" and route["task"] == "t01" and route["reason"] == ""
    assert reply["model"] == "tiny-bert" and reply["object"] == "chat.completion"
    assert reply["choices"][0]["message"]["content"] in ("yellow", "red", "green", "purple")
    assert route["signal"] == "top_probability" and 0 < route["score"] <= 1 and route["latency_ms"] > 0
    assert router.last_route == route
    _policy(eng, threshold=1.01)
    strict = Router.from_engagement(eng.root, client=llm, embedder=hash_embedder)
    reply = strict.complete(_request("tell me the colour of a ripe banana please"))
    assert reply["fde_route"]["route"] == "llm" and reply["fde_route"]["reason"] == "low_confidence"
    assert reply["choices"][0]["message"]["content"] == "the llm says red" and reply["model"] == "gpt-4o-2024"
    assert reply["fde_route"]["score"] == route["score"] and reply["fde_route"]["threshold"] == 1.01


def test_a_task_on_the_llm_and_an_empty_message_escalate_with_their_reason(eng, llm) -> None:
    _policy(eng, route="llm")
    router = Router.from_engagement(eng.root, client=llm, embedder=hash_embedder)
    assert router.complete(_request("the colour of a lime"))["fde_route"]["reason"] == "task_on_llm"
    _policy(eng)
    router = Router.from_engagement(eng.root, client=llm, embedder=hash_embedder)
    n = len(FakeOpenAI.seen)
    reply = router.complete(_request("   ", metadata={"workload_id": "fruit"}))
    assert reply["fde_route"]["reason"] == "empty_input" and reply["fde_route"]["route"] == "llm"
    assert FakeOpenAI.seen[n]["messages"][1]["content"] == "   "  # the original request went to the LLM
    assert FakeOpenAI.seen[n]["metadata"] == {"workload_id": "fruit"}
    assert router.complete(_request("banana\ud800 colour"))["fde_route"]["reason"] == "undecodable_input"
    assert router.complete(_request("poem", messages=[{"role": "system", "content": "write a poem"},
                                                      {"role": "user", "content": "about limes"}])
                           )["fde_route"]["reason"] == "no_matching_step"


def test_planted_pii_is_scrubbed_before_the_index_and_the_specialist_see_it(eng, llm) -> None:
    _policy(eng)
    router = Router.from_engagement(eng.root, client=llm, embedder=hash_embedder)
    embedded: list[str] = []
    router.index.embedder = lambda texts: embedded.extend(texts) or hash_embedder(texts)
    spec = router.specialist("t01")
    records: list[dict] = []
    answer = spec.answer
    spec.answer = lambda recs: records.extend(recs) or answer(recs)
    n = len(FakeOpenAI.seen)
    address = "jane.doe@example.com"
    reply = router.complete(_request(f"my ripe banana colour please, write to {address}"))
    assert reply["fde_route"]["route"] == "slm" and len(FakeOpenAI.seen) == n
    assert embedded and records
    seen = json.dumps([embedded, records])
    assert address not in seen and "jane" not in seen
    assert "<EMAIL" in records[0]["messages"][1]["content"]


def test_the_routed_log_ingests_back_as_canonical_calls(eng, llm, tmp_path: Path) -> None:
    _policy(eng)
    raw = tmp_path / "next" / "data" / "raw"
    router = Router.from_engagement(eng.root, client=llm, embedder=hash_embedder).log_to(raw / "routed.jsonl")
    replies = [router.complete(_request(t, metadata={"workload_id": "fruit"}))
               for t in ("the colour of a big lime", "   ", "a plum please tell me the colour")]
    (tmp_path / "next" / "engagement.yaml").write_text("name: next\n")
    nxt = Engagement.load(tmp_path / "next")
    ingest(nxt)
    calls = pl.read_parquet(nxt.artifacts.path("calls")).sort("timestamp")
    assert calls.height == 3 and not nxt.artifacts.read("quarantine")
    rows = calls.to_dicts()
    for row, reply in zip(rows, replies):
        meta = json.loads(row["metadata"])
        assert meta["fde_route"]["route"] == reply["fde_route"]["route"]
        assert row["workload_id"] == "fruit" and row["latency_ms"] == reply["fde_route"]["latency_ms"]
        assert row["response_text"] == reply["choices"][0]["message"]["content"]
        assert row["model"] == reply["model"]
    assert rows[1]["messages"][1]["content"] == "   " and rows[1]["input_tokens"] == 11  # the LLM's usage
    assert rows[0]["model"] == "tiny-bert"


def test_a_missing_policy_names_fde_route(tmp_path: Path) -> None:
    eng = toy_engagement(tmp_path / "bare", n=20)
    with pytest.raises(FdeError, match="fde route"):
        Router.from_engagement(eng.root)


def test_replay_answers_escalations_offline_and_reports_cost_and_latency(eng) -> None:
    from fde_toolkit.routing.signals import load_specialist

    test = eng.artifacts.read("split", "t01", "test")
    scores = load_specialist(eng, "t01").answer(test).signals["top_probability"]
    _policy(eng, threshold=float(np.median(scores)))  # about half kept, half escalated
    eng.artifacts.write("eval", {"variants": {"fine_tuned": {"cost": {"per_task_usd": 1e-5}}}}, "t01")
    result = replay(eng, embedder=hash_embedder)
    report = result.data
    o, t = report["overall"], report["tasks"]["t01"]
    assert o["calls"] == t["calls"] == len(test) and report["calls_missing"] == 0
    assert o["kept"] + sum(o["escalation_reasons"].values()) == o["calls"]
    assert 0 < o["offload_share"] < 1 and o["kept_quality"] is not None
    assert o["system_quality"] == round((o["kept_quality"] * o["kept"] + o["calls"] - o["kept"]) / o["calls"], 4)
    assert set(o["escalation_reasons"]) <= {"low_confidence", "far_from_task", "unknown_label"}
    curated = pl.read_parquet(eng.artifacts.path("curated")).filter(pl.col("call_id").is_in([r["id"] for r in test]))
    assert o["cost_usd"]["all_llm"] == pytest.approx(curated["cost_usd"].sum())
    assert o["cost_usd"]["routed"] < o["cost_usd"]["all_llm"]
    assert o["latency_ms_p50"]["all_llm"] == 400.0 and o["latency_ms_p50"]["routed"] > 0
    assert eng.artifacts.exists("replay") and "t01" in render_replay(report)
    assert replay(eng, embedder=hash_embedder).skipped
    _policy(eng, route="llm")  # a task on the LLM: a sample of its calls, all escalated, quality 1
    llm = replay(eng, embedder=hash_embedder).data["overall"]
    assert llm["calls"] == LLM_SAMPLE and llm["offload_share"] == 0 and llm["system_quality"] == 1.0
    assert llm["cost_usd"]["routed"] == pytest.approx(llm["cost_usd"]["all_llm"])
