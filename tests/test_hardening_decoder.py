"""`fde harden` on a toy tool-call engagement with a LoRA decoder specialist: output tokens counted, the
tool-call robustness case, and every configuration answering the whole test split."""

from __future__ import annotations

import sys

import pytest
from slm_toy import hash_embedder, one_thread, save_bpe_candidate, routed_engagement, toy_engagement  # noqa: F401
from test_hardening_step import RUNTIMES, STAND_IN

from fde_toolkit.hardening.step import harden

pytestmark = pytest.mark.usefixtures("one_thread")
FT = {"train": {"lr": 0.02, "epochs": 50, "max_steps": 8, "eval_every": 8, "checkpoint_every": 8,
                "budget_minutes": None, "patience": 0, "precision": "fp32"},
      "evaluate": {"latency_examples": 1, "max_new_tokens": 16, "baseline_examples": 1},
      "dataset": {"val_fraction": 0.3}}


@pytest.fixture(scope="module")
def eng(tmp_path_factory):

    root = tmp_path_factory.mktemp("harden-dec")
    eng = toy_engagement(root / "tools", n=60, task="tool_call", candidate_folder=save_bpe_candidate(root / "bpe"),
                         finetune=FT)
    return routed_engagement(
        eng, pii_key=True, pii={"ner": False, "key_file": ".secrets/pii.key"}, routing={"target": 0.5},
        hardening={"batch_sizes": [1, 4], "repeats": 1, "max_requests": 4, "warmup": 0, "threads": 1,
                   "concurrency": 2}, serve={"max_batch": 2})


def test_harden_a_tool_call_decoder(eng, monkeypatch) -> None:
    if STAND_IN is not None:
        monkeypatch.setitem(sys.modules, "fde_toolkit.hardening.runtimes", STAND_IN)
    runtimes = ["eager", "merged"] if STAND_IN is None else RUNTIMES
    doc = harden(eng, runtimes=runtimes, embedder=hash_embedder).data
    t = doc["tasks"]["t01"]
    test = eng.artifacts.read("split", "t01", "test")
    assert t["kind"] == "decoder" and t["output_kind"] == "tool_call"
    confs = {c["runtime"]: c for c in t["configurations"]}
    assert set(confs) == set(runtimes)
    for c in confs.values():
        assert c["status"] in ("ok", "failed_quality"), c["why"]
        assert c["tokens"] == "output" and c["quality"]["n"] == len(test)
        for b in c["batches"]:
            assert 0 < b["latency_ms"]["p50"] <= b["latency_ms"]["p95"] <= b["latency_ms"]["p99"]
            assert b["tokens_per_s"] > 0
    # the answers eager gave are the ones `fde evaluate` wrote
    raw = eng.artifacts.read("hardening_runs", "t01")
    assert raw["runs"][0]["predictions"] == [r["fine_tuned"] for r in eng.artifacts.read("predictions", "t01")]
    rb = {r["case"]: r for r in t["robustness"]}
    assert rb["tool_arguments_break_schema"]["reason"] == "arguments_break_schema"
    assert all(r["ok"] for r in rb.values()), [r for r in rb.values() if not r["ok"]]
