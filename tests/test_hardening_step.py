"""`fde harden` on a toy engagement with a trained encoder specialist: the measurements, the SLA gate and
recommendation, the robustness cases through the real Router, the fresh-skip and the ROI's reading."""

from __future__ import annotations

import json
import sys
import time
import types

import pytest
from slm_toy import TOOLS_JSON, hash_embedder, one_thread, save_toy_encoder, routed_engagement, toy_engagement  # noqa: F401

from fde_toolkit import FdeError
from fde_toolkit.hardening.measure import measure_configuration
from fde_toolkit.hardening.robustness import EscalationRecorder, run_case, tool_schema_case
from fde_toolkit.hardening.sla import recommend, sla_limits, sla_rows, usd_per_million
from fde_toolkit.hardening.step import harden, quality_of, quality_status
from fde_toolkit.hardening.config import Sla

pytestmark = pytest.mark.usefixtures("one_thread")
HARDENING = {"batch_sizes": [1, 4], "repeats": 2, "max_requests": 20, "warmup": 1, "threads": 1, "concurrency": 4}
CASES = {"empty_input", "whitespace_only", "ten_times_longest", "invalid_utf8", "rtl_text", "emoji_zero_width",
         "prompt_injection", "prompt_injection_only"}


def _runtimes_module():
    """The runtimes to measure: eager and torch-int8 with hardening/runtimes.py, else a stand-in with eager only."""
    try:
        import fde_toolkit.hardening.runtimes  # noqa: F401

        return None, ["eager", "torch-int8"]
    except ImportError:
        from fde_toolkit.routing.signals import load_specialist

        stand_in = types.ModuleType("fde_toolkit.hardening.runtimes")
        stand_in.runtimes_for = lambda kind, wanted=(): [w for w in wanted if w == "eager"] or ["eager"]
        stand_in.unavailable_runtimes = lambda kind: {}
        stand_in.load_runtime = lambda eng, task, runtime, threads=None: load_specialist(eng, task)
        return stand_in, ["eager"]


STAND_IN, RUNTIMES = _runtimes_module()


@pytest.fixture(scope="module")
def eng(tmp_path_factory):


    root = tmp_path_factory.mktemp("harden")
    eng = toy_engagement(root / "acme", n=160)
    return routed_engagement(
        eng, pii_key=True,
        candidates=[{"id": "tiny-bert", "kind": "encoder", "folder": str(save_toy_encoder(root / "bert")),
                     "params_m": 0.05}],
        finetune={"classifier": {"layers": 2, "lexical": False}, "dataset": {"val_fraction": 0.3},
                  "evaluate": {"latency_examples": 2}},
        pii={"ner": False, "key_file": ".secrets/pii.key"},
        routing={"target": 0.8, "max_input_chars": 400}, hardening=HARDENING,
        sla={"default": {"p95_ms": 5000, "quality_floor": 0.0}}, serve={"max_batch": 4, "max_wait_ms": 2})


@pytest.fixture
def runtimes(monkeypatch):
    if STAND_IN is not None:
        monkeypatch.setitem(sys.modules, "fde_toolkit.hardening.runtimes", STAND_IN)
    return RUNTIMES


@pytest.fixture
def hardened(eng, runtimes):
    return harden(eng, runtimes=runtimes, embedder=hash_embedder)


def test_harden_measures_gates_and_recommends(eng, hardened) -> None:
    doc = hardened.data
    assert doc["format"] == "fde-hardening/1"
    assert set(doc["machine"]) >= {"platform", "cpu", "cores", "threads", "cuda", "torch", "load_average"}
    assert doc["machine"]["threads"] == 1 and doc["settings"]["batch_sizes"] == [1, 4]
    t = doc["tasks"]["t01"]
    test = eng.artifacts.read("split", "t01", "test")
    assert t["kind"] == "encoder" and t["output_kind"] == "label" and t["candidate"] == "tiny-bert"
    assert t["test_calls"] == len(test) and set(t["llm_latency_ms"]) == {"p50", "p95"}
    confs = {c["runtime"]: c for c in t["configurations"]}
    assert list(confs)[0] == "eager" and confs["eager"]["status"] == "ok"
    for c in confs.values():
        assert c["status"] in ("ok", "failed_quality"), c["why"]
        assert c["load_s"] > 0 and c["peak_memory_mb"] > 50 and c["tokens"] == "input"
        assert [b["batch_size"] for b in c["batches"]] == [1, 4]
        for b in c["batches"]:
            lat = b["latency_ms"]
            assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"]
            assert b["p50_spread_ms"][0] <= b["p50_spread_ms"][1]
            assert b["requests_per_s"] > 0 and b["tokens_per_s"] > 0 and b["requests"] == 20
        q = c["quality"]
        assert q["metric"] == "agreement" and q["n"] == len(test) and q["low"] <= q["value"] <= q["high"]
        assert (c["status"] == "failed_quality") == (q["drop"] > 0.01)
    assert confs["eager"]["quality"]["drop"] == 0.0 and confs["eager"]["quality"]["equal_to_eager"] == 1.0
    # the eager agreement is the one `fde route` measured on the same test split with the same rule
    routing = eng.artifacts.read("routing")["tasks"]["t01"]
    assert confs["eager"]["quality"]["value"] == pytest.approx(routing["test_accuracy_all_slm"], abs=1e-4)
    # SLA: a row per measured configuration x batch size; the cheapest passing row is recommended
    sla = t["sla"]
    assert sla["limits"]["p95_ms"] == 5000 and sla["limits"]["quality_floor"] == 0.0
    assert len(sla["rows"]) == 2 * len(confs)
    passing = [r for r in sla["rows"] if r["passed"]]
    assert passing, sla["rows"]
    rec = t["recommended"]
    best = min(passing, key=lambda r: r["usd_per_million"])
    assert (rec["runtime"], rec["batch_size"]) == (best["runtime"], best["batch_size"])
    assert rec["usd_per_million"] == pytest.approx(0.10 / (best["requests_per_s"] * 3600) * 1e6, rel=1e-4)
    assert rec["latency_ms"] == confs[rec["runtime"]]["batches"][0]["latency_ms"]  # batch 1
    assert "cheapest" in rec["why"] and rec["runtime"] in rec["why"]
    # under load: the recommended runtime through the micro-batcher
    ul = t["under_load"]
    assert ul["status"] == "ok" and ul["runtime"] == rec["runtime"] and ul["concurrency"] == 4
    assert ul["max_batch"] == 4 and ul["errors"] == 0 and ul["requests"] > 0 and ul["requests_per_s"] > 0
    assert ul["latency_ms"]["p50"] <= ul["latency_ms"]["p95"] <= ul["latency_ms"]["p99"]
    # robustness through the real Router: every case ends in a valid answer or a clean escalation
    rb = {r["case"]: r for r in t["robustness"]}
    assert set(rb) == CASES
    assert all(r["ok"] for r in rb.values()), [r for r in rb.values() if not r["ok"]]
    assert (rb["empty_input"]["route"], rb["empty_input"]["reason"]) == ("llm", "empty_input")
    assert rb["whitespace_only"]["reason"] == "empty_input"
    assert rb["invalid_utf8"]["reason"] == "undecodable_input"
    assert rb["ten_times_longest"]["reason"] == "oversized_input" and "400" in rb["ten_times_longest"]["description"]
    # the raw runs keep every answer
    raw = eng.artifacts.read("hardening_runs", "t01")
    assert len(raw["runs"][0]["predictions"]) == len(test)
    text = str(hardened)
    assert "t01" in text and "recommended:" in text and "robustness: 8 of 8 cases ok" in text
    # nothing changed: the second run is skipped
    again = harden(eng, runtimes=RUNTIMES, embedder=hash_embedder)
    assert again.skipped and again.data["tasks"]["t01"]["recommended"] == rec


def test_the_roi_takes_latency_and_throughput_from_hardening(eng, hardened) -> None:
    from fde_toolkit.roi.measurements import gather

    t = hardened.data["tasks"]["t01"]
    m = gather(eng).measurements
    assert m["t01.slm_latency_under_load_ms"].value == pytest.approx(t["under_load"]["latency_ms"]["p50"])
    assert m["t01.slm_latency_under_load_ms"].field == "tasks.t01.under_load.latency_ms.p50"
    assert m["t01.throughput_under_load"].value == pytest.approx(t["under_load"]["requests_per_s"])
    assert m["t01.slm_latency_ms"].value == pytest.approx(t["recommended"]["latency_ms"]["p50"])
    assert {m[k].artifact for k in ("t01.slm_latency_ms", "t01.throughput_under_load")} == {"hardening.json"}


def test_a_strict_sla_recommends_nothing_and_says_what_failed(hardened) -> None:
    t = hardened.data["tasks"]["t01"]
    limits = sla_limits(Sla(p95_ms=0.001, min_requests_per_s=1e9), llm_p95_ms=700.0)
    rows = sla_rows(t["configurations"], limits, 0.01, 0.10)
    assert rows and not any(r["passed"] for r in rows)
    assert all(r["checks"]["p95_ms"] is False and r["checks"]["max_memory_mb"] is None for r in rows)
    rec, why = recommend(t["configurations"], rows, limits)
    assert rec is None and "p95_ms" in why and "min_requests_per_s" in why
    assert sla_limits(Sla(), llm_p95_ms=700.0)["p95_ms"] == 700.0  # no SLA p95: the LLM's logged p95


def _conf(runtime, rps, p95, mem, drop, status="ok"):
    return {"runtime": runtime, "status": status, "peak_memory_mb": mem,
            "quality": {"value": 0.9 - drop, "drop": drop},
            "batches": [{"batch_size": 1, "latency_ms": {"p50": p95 / 2, "p95": p95, "p99": p95},
                         "requests_per_s": rps}]}


def test_selection_takes_the_cheapest_passing_row_then_less_memory() -> None:
    confs = [_conf("eager", 10, 100, 500, 0.0), _conf("fast-but-wrong", 100, 10, 100, 0.05, "failed_quality"),
             _conf("int8", 40, 50, 300, 0.005), _conf("onnx", 40, 40, 200, 0.0),
             {"runtime": "ct2", "status": "unavailable", "batches": []}]
    rows = sla_rows(confs, sla_limits(Sla(p95_ms=200), None), 0.01, 0.36)
    assert [r["runtime"] for r in rows] == ["eager", "fast-but-wrong", "int8", "onnx"]
    wrong = rows[1]
    assert wrong["checks"]["quality_drop"] is False and not wrong["passed"] and wrong["checks"]["p95_ms"]
    rec, why = recommend(confs, rows)
    assert rec["runtime"] == "onnx"  # int8 and onnx cost the same; onnx peaks lower
    assert rec["usd_per_million"] == usd_per_million(0.36, 40) == pytest.approx(2.5)
    assert "$2.50 per million" in why and "40.0 requests/s" in why


def test_a_quality_drop_beyond_the_allowance_fails_the_configuration() -> None:
    refs = ["red"] * 90 + ["green"] * 10
    eager = list(refs)
    worse = ["red"] * 100  # 10 points lower
    q_eager, _ = quality_of("label", eager, refs, 60.0, eager, None)
    q, ok = quality_of("label", worse, refs, 60.0, eager, q_eager["value"])
    assert q["value"] == pytest.approx(0.9) and q["drop"] == pytest.approx(0.1) and q["equal_to_eager"] == 0.9
    assert q["low"] < 0.9 < q["high"] and sum(ok) == 90
    status, why = quality_status(q, 0.01, q_eager["value"])
    assert status == "failed_quality" and "0.100 below" in why and "0.01" in why
    assert quality_status(q, 0.2, q_eager["value"]) == ("ok", "")


def test_a_runtime_that_fails_is_an_error_not_a_crash(eng, runtimes) -> None:
    run = measure_configuration(eng, "t01", "no-such-runtime", 1, [1], 1, 2, 0, timeout_s=120)
    assert run["status"] == "error" and run["why"]


def test_tool_arguments_that_break_the_schema_are_rejected() -> None:
    row = tool_schema_case(TOOLS_JSON)
    assert row["ok"] and row["route"] == "llm" and row["reason"] == "arguments_break_schema"
    assert tool_schema_case(None)["ok"]


def test_a_hang_is_recorded_as_not_ok() -> None:
    class Stuck:
        def complete(self, request):
            time.sleep(5)

    row = run_case(Stuck(), EscalationRecorder(), "hang", "a router that never answers",
                   {"messages": [{"role": "user", "content": "x"}]}, "label", ["red"], timeout_s=0.2)
    assert not row["ok"] and "no reply within 0.2 s" in row["detail"]


def test_unknown_tasks_and_engagements_without_a_policy_are_named(eng, tmp_path) -> None:
    with pytest.raises(FdeError, match="--task t99"):
        harden(eng, tasks=["t99"], embedder=hash_embedder)
    bare = toy_engagement(tmp_path / "bare", n=40)
    with pytest.raises(FdeError, match="fde route"):
        harden(bare)


def test_fde_harden_on_the_command_line(eng, hardened, monkeypatch, capsys) -> None:
    from fde_toolkit import cli

    monkeypatch.setattr("fde_toolkit.routing.index.SentenceEmbedder", lambda *a, **k: hash_embedder)
    monkeypatch.setattr(sys, "argv", ["fde", "harden", str(eng.root), "--runtimes", ",".join(RUNTIMES)])
    try:
        cli.main()
    except SystemExit as e:
        assert not e.code
    out = capsys.readouterr().out
    assert "up to date" in out and "recommended:" in out
    assert json.loads(eng.artifacts.path("hardening").read_text())["tasks"]["t01"]["recommended"]
