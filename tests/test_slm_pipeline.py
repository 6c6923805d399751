"""The engagement steps end to end on a tiny model: dataset -> select -> finetune -> evaluate -> figures."""

from __future__ import annotations

import json
import re

import pytest
from slm_toy import hash_embedder, one_thread, save_bpe_candidate, save_toy_candidate, toy_engagement  # noqa: F401

from fde_toolkit import FdeError
from fde_toolkit.slm import build_dataset, finetune
from fde_toolkit.slm import figures as fig
from fde_toolkit.slm.evaluation import evaluate
from fde_toolkit.slm.selection import rank_candidates, select_candidates
from fde_toolkit.slm.summary import render_evaluation

pytestmark = pytest.mark.usefixtures("one_thread")
FT = {"train": {"lr": 0.02, "epochs": 50, "max_steps": 30, "eval_every": 10, "checkpoint_every": 10,
                "budget_minutes": None, "patience": 0},
      "select": {"examples": 12, "latency_examples": 2}, "evaluate": {"latency_examples": 2, "max_new_tokens": 24}}


def test_label_task_end_to_end(tmp_path):
    eng = toy_engagement(tmp_path / "acme", n=160, candidate_folder=save_toy_candidate(tmp_path / "toy"), finetune=FT)
    info = build_dataset(eng, "t01").data
    assert info["output_kind"] == "label"

    sel = select_candidates(eng, "t01", embedder=hash_embedder, progress=False).data
    assert sel["best"] == "toy" and sel["ranking"][0]["zero_shot"]["n"] == 12
    assert (eng.artifacts_dir / "select" / "t01.json").is_file()

    tr = finetune(eng, "t01").data
    mdir = eng.artifacts_dir / "models" / "t01"
    assert tr["result"]["steps"] == 30 and tr["candidate"]["id"] == "toy"
    for f in ("adapter/adapter_config.json", "adapter/adapter_model.safetensors", "curves.json", "training.json",
              "model_card.md", "checkpoints/last/state.json"):
        assert (mdir / f).is_file(), f
    card = (mdir / "model_card.md").read_text()
    for section in ("## Base model", "## Data", "## Training", "## Metrics", "## Intended use", "## Known limits"):
        assert section in card
    assert finetune(eng, "t01").skipped  # nothing changed: the manifest skips it

    more = finetune(eng, "t01", resume=True, max_steps=40).data
    assert more["result"]["steps"] == 40 and more["resumed"] is True
    steps = [c["step"] for c in json.loads((mdir / "curves.json").read_text())["train"]]
    assert steps == list(range(1, 41))

    rep = evaluate(eng, "t01", embedder=hash_embedder).data
    assert set(rep["variants"]) == {"base", "few_shot", "fine_tuned"}
    ft = rep["variants"]["fine_tuned"]
    assert ft["metrics"]["accuracy"] > rep["variants"]["base"]["metrics"]["accuracy"]
    assert ft["cost"]["per_task_usd"] > 0 and rep["llm"]["cost_per_task_usd"] == pytest.approx(0.001)
    assert "| fine_tuned |" in (mdir / "model_card.md").read_text()
    preds = eng.artifacts.read("predictions", "t01")
    assert len(preds) == rep["examples"] and {"base", "few_shot", "fine_tuned", "target"} <= set(preds[0])
    assert {p["fine_tuned"] for p in preds} <= {"green", "purple", "red", "yellow"}

    curves = json.loads((mdir / "curves.json").read_text())
    assert len(fig.training_curves(curves).data) == 3
    assert "fine-tuned" in str(fig.comparison_table(rep))
    assert fig.confusion_matrix(preds).data[0].z
    worst = fig.worst_examples(preds, "base", "label", n=3)
    assert len(worst) == 3 and worst[0]["score"] <= worst[-1]["score"]


def test_tool_call_task_end_to_end(tmp_path):
    eng = toy_engagement(tmp_path / "tools", n=80, task="tool_call",
                         candidate_folder=save_bpe_candidate(tmp_path / "bpe"),
                         finetune={**FT, "train": {**FT["train"], "max_steps": 8}})
    info = build_dataset(eng, "t01").data
    assert info["output_kind"] == "tool_call" and len(info["tools"]) == 4
    finetune(eng, "t01")
    rep = evaluate(eng, "t01", embedder=hash_embedder).data
    names = {"paint_yellow", "paint_red", "paint_green", "paint_purple"}
    preds = eng.artifacts.read("predictions", "t01")
    assert all(any(p["fine_tuned"].startswith('{"name": "%s"' % n) for n in names) for p in preds)
    assert set(rep["metric_names"]) >= {"name_accuracy", "call_accuracy"}


def test_evaluation_carries_intervals_and_paired_comparisons(tmp_path):
    eng = toy_engagement(tmp_path / "ci", n=60, candidate_folder=save_toy_candidate(tmp_path / "toy"),
                         finetune={**FT, "train": {**FT["train"], "max_steps": 4}})
    build_dataset(eng, "t01")
    finetune(eng, "t01")
    result = evaluate(eng, "t01", embedder=hash_embedder)
    rep = eng.artifacts.read("eval", "t01")  # as written
    n = rep["examples"]
    for v, r in rep["variants"].items():
        m = r["metrics"]
        assert m["examples"] == n and set(m["intervals"]) == {"accuracy", "macro_f1", "exact_match", "agreement"}
        assert all(0.0 <= lo <= hi <= 1.0 for lo, hi in m["intervals"].values()), v
        lo, hi = m["intervals"]["agreement"]
        assert lo <= m["agreement"] <= hi
    ok = {v: [p[f"{v}_ok"] for p in eng.artifacts.read("predictions", "t01")] for v in rep["variants"]}
    for key, other in (("fine_tuned_vs_few_shot", "few_shot"), ("fine_tuned_vs_base", "base")):
        c = rep["comparisons"][key]
        assert c["n"] == n and c["verdict"] in {"better", "worse", "not distinguishable"} and 0 < c["p_value"] <= 1
        assert c["a_only"] == sum(a and not b for a, b in zip(ok["fine_tuned"], ok[other]))
        assert c["a_only"] - c["b_only"] == sum(ok["fine_tuned"]) - sum(ok[other])
    text = str(result)
    assert re.search(r"\d+\.\d% \[\d+%, \d+%\]", text) and "In brackets: 95% intervals" in text
    assert f"fine-tuned vs few-shot: {rep['comparisons']['fine_tuned_vs_few_shot']['verdict']} (McNemar p" in text
    assert f"{n} paired calls" in text
    card = eng.artifacts.read("model_card", "t01")
    assert "fine-tuned vs base zero-shot: " in card and "In brackets: 95% intervals" in card
    # an evaluation written before intervals still renders, without them
    for r in rep["variants"].values():
        del r["metrics"]["intervals"], r["metrics"]["examples"]
    del rep["comparisons"]
    old = render_evaluation(eng, rep)
    assert "[" not in old.split("Wrote")[0] and "McNemar" not in old and "fine-tuned" in old


def test_steps_need_their_inputs(tmp_path):
    eng = toy_engagement(tmp_path / "bare", n=40, candidate_folder=save_toy_candidate(tmp_path / "toy"))
    with pytest.raises(FdeError, match="fde dataset"):
        finetune(eng, "t01")
    build_dataset(eng, "t01")
    with pytest.raises(FdeError, match="fde finetune"):
        evaluate(eng, "t01", embedder=hash_embedder)
    with pytest.raises(FdeError, match="not in engagement.yaml"):
        finetune(eng, "t01", candidate="nope")


def test_ranking_prefers_quality_then_size_then_latency():
    rows = [{"candidate": "big", "quality": 0.80, "params_m": 1700, "latency_ms_p50": 90},
            {"candidate": "small", "quality": 0.79, "params_m": 135, "latency_ms_p50": 30},
            {"candidate": "bad", "quality": 0.40, "params_m": 50, "latency_ms_p50": 5},
            {"candidate": "small-slow", "quality": 0.795, "params_m": 135, "latency_ms_p50": 60}]
    ranked = rank_candidates(rows, tolerance=0.02)
    assert [r["candidate"] for r in ranked] == ["small", "small-slow", "big", "bad"]
    assert [r["candidate"] for r in rank_candidates(rows, tolerance=0.0)][0] == "big"
