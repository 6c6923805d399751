"""`fde evaluate`: the base model, few-shot and the fine-tuned specialist against the LLM, on the test split.

    report = evaluate(eng, "t03")      # writes artifacts/eval/t03.json and eval/t03_predictions.jsonl

Per variant: the output kind's metrics, agreement with the LLM, single-request latency, throughput,
and cost per successful task: serving cost per answer (hourly hardware price / measured answers
per hour, `finetune.serving`) divided by the share of answers that succeed. The LLM's cost is its
logged cost per call on the same examples (its answers are the reference, so they all succeed).
Every metric carries a 95% interval, and the variants are compared pairwise (slm/confidence.py).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from fde_toolkit.slm.answer import ShotPicker, answer_records, request_text, single_request_latency
from fde_toolkit.slm.card import model_card
from fde_toolkit.slm.datasets import load_dataset
from fde_toolkit.step import StepOutputs, StepResult, run_step
from fde_toolkit.slm.metrics import score, successes
from fde_toolkit.slm.registry import Candidate, load_candidate

METRIC_NAMES = {"label": ["accuracy", "macro_f1", "agreement"],
                "json": ["validity", "field_f1", "exact", "agreement"],
                "tool_call": ["validity", "name_accuracy", "call_accuracy", "agreement"],
                "text": ["chrf", "exact_match", "agreement"]}
VARIANTS = ("base", "few_shot", "fine_tuned")


def serving_cost(examples_per_s: float | None, hourly_usd: float, success_rate: float) -> dict[str, float | None]:
    """USD per answer at the measured throughput, and per successful answer."""
    if not examples_per_s:
        return {"per_task_usd": None, "per_successful_task_usd": None}
    per_task = hourly_usd / 3600.0 / examples_per_s
    return {"per_task_usd": per_task, "per_successful_task_usd": per_task / success_rate if success_rate > 0 else None}


def llm_baseline(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The LLM's logged cost and latency on these examples."""
    costs = [r["cost_usd"] for r in records if r.get("cost_usd") is not None]
    lats = sorted(r["latency_ms"] for r in records if r.get("latency_ms") is not None)
    return {"cost_per_task_usd": sum(costs) / len(costs) if costs else None, "priced_examples": len(costs),
            "latency_ms_p50": lats[len(lats) // 2] if lats else None}


def variant_report(kind: str, preds: list[str], refs: list[str], run: dict[str, Any], latency: dict[str, Any],
                   hourly_usd: float, text_success_chrf: float) -> dict[str, Any]:
    m = score(kind, preds, refs, text_success_chrf)
    return {"metrics": m, "latency_ms": latency, "examples_per_s": run["examples_per_s"],
            "cost": serving_cost(run["examples_per_s"], hourly_usd, m["agreement"])}


def evaluate(eng, task_id: str, force: bool = False,
             embedder: Callable | None = None) -> StepResult[dict[str, Any]]:
    """`fde evaluate`: base vs few-shot vs fine-tuned on the test split; writes artifacts/eval/<task>.json."""
    from fde_toolkit.slm.summary import render_evaluation

    cfg = eng.config.finetune
    arts = eng.artifacts
    adapter = arts.require("adapter", task_id)
    inputs = [arts.require("split", task_id, "train"), arts.require("split", task_id, "test"),
              arts.require("training", task_id), adapter / "adapter_model.safetensors"]
    params = {"task": task_id, "evaluate": cfg.evaluate.model_dump(mode="json"),
              "serving": cfg.serving.model_dump(mode="json"), "tools_in_prompt": cfg.dataset.tools_in_prompt}

    def make(out: StepOutputs) -> dict[str, Any]:
        if cfg.train.threads:  # the same CPU threads setting as training
            import torch
            torch.set_num_threads(cfg.train.threads)
        splits, info = load_dataset(eng, task_id)
        training = arts.read("training", task_id)
        test = splits["test"][: cfg.evaluate.max_examples]
        refs = [r["target"] for r in test]
        kind = info["output_kind"]
        n_lat = min(cfg.evaluate.latency_examples, len(test))
        sys_prompt = training["train"]["system_prompt"]
        ev, hourly, chrf_ok = cfg.evaluate, cfg.serving.hourly_usd, cfg.evaluate.text_success_chrf

        model, tok = load_candidate(Candidate.model_validate(training["candidate"]))
        picker = ShotPicker(splits["train"], ev.shots, embedder)
        shots = picker.shots(test, cfg.dataset.tools_in_prompt)
        runs: dict[str, dict[str, Any]] = {}
        r0 = answer_records(model, tok, test, info, cfg)
        runs["base"] = variant_report(kind, r0["predictions"], refs, r0,
                                      single_request_latency(model, tok, test[:n_lat], info, cfg), hourly, chrf_ok)
        r1 = answer_records(model, tok, test, info, cfg, shots=shots)
        runs["few_shot"] = variant_report(kind, r1["predictions"], refs, r1,
                                          single_request_latency(model, tok, test[:n_lat], info, cfg,
                                                                 shots=shots[:n_lat]),
                                          hourly, chrf_ok)
        from peft import PeftModel
        model = PeftModel.from_pretrained(model, str(adapter))
        model.eval()
        r2 = answer_records(model, tok, test, info, cfg, system_prompt=sys_prompt)
        runs["fine_tuned"] = variant_report(kind, r2["predictions"], refs, r2,
                                            single_request_latency(model, tok, test[:n_lat], info, cfg,
                                                                   system_prompt=sys_prompt), hourly, chrf_ok)
        llm = llm_baseline(test)
        ft_cost = runs["fine_tuned"]["cost"]["per_successful_task_usd"]
        report = {
            "task": task_id, "output_kind": kind, "candidate": training["candidate"]["id"], "examples": len(test),
            "metric_names": METRIC_NAMES[kind], "variants": runs, "llm": llm, "serving": cfg.serving.model_dump(),
            "cost_ratio_fine_tuned_vs_llm": ((ft_cost / llm["cost_per_task_usd"])
                                             if ft_cost and llm["cost_per_task_usd"] else None),
            "notes": ["The reference is the LLM's logged answer: agreement is the share of equivalent answers.",
                      f"Serving cost assumes {cfg.serving.hardware} at {hourly} USD/hour, fully used, at the "
                      "measured batched throughput."],
        }
        rows = []
        ok = {v: successes(kind, r["predictions"], refs, chrf_ok)
              for v, r in (("base", r0), ("few_shot", r1), ("fine_tuned", r2))}
        # confidence: 95% intervals per metric and variant, McNemar between variants (slm/confidence.py)
        from fde_toolkit.slm.confidence import add_confidence
        add_confidence(report, kind, test, {"base": r0["predictions"], "few_shot": r1["predictions"],
                                            "fine_tuned": r2["predictions"]}, ok, chrf_ok)
        for i, rec in enumerate(test):
            rows.append({"id": rec["id"], "request": request_text(rec)[:2000], "target": rec["target"],
                         "stratum": rec.get("stratum"), "base": r0["predictions"][i], "few_shot": r1["predictions"][i],
                         "fine_tuned": r2["predictions"][i], **{f"{v}_ok": ok[v][i] for v in ok}})
        out.write("predictions", rows, task_id)
        arts.write("model_card", model_card(training, report), task_id)
        out.summary = {v: round(runs[v]["metrics"]["agreement"], 4) for v in VARIANTS}
        return out.write_data("eval", report, task_id)

    return run_step(eng, f"evaluate:{task_id}", inputs=inputs, params=params, make=make,
                    previous=lambda: arts.read("eval", task_id), render=lambda d: render_evaluation(eng, d),
                    force=force)
