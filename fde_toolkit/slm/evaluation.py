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
from fde_toolkit.slm.machine import set_torch_threads
from fde_toolkit.step import StepOutputs, StepResult, run_step
from fde_toolkit.slm.metrics import score, successes, tool_call_breakdown, tools_in
from fde_toolkit.slm.registry import Candidate, candidates, load_candidate

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


def baseline_candidate(eng, training: dict[str, Any]) -> Candidate | None:
    """The decoder whose zero- and few-shot answers the specialist is compared with: the specialist's own base
    model when it is a decoder, else the first decoder candidate (None when there is none)."""
    if training.get("specialist") != "encoder":
        return Candidate.model_validate(training["candidate"])
    return next((c for c in candidates(eng) if c.kind == "decoder"), None)


def evaluate(eng, task_id: str, force: bool = False, embedder: Callable | None = None,
             progress: bool = True) -> StepResult[dict[str, Any]]:
    """`fde evaluate`: base vs few-shot vs the specialist on the test split; writes artifacts/eval/<task>.json."""
    from fde_toolkit.slm.summary import render_evaluation

    cfg = eng.config.finetune
    arts = eng.artifacts
    adapter = arts.require("adapter", task_id)
    inputs = [arts.require("split", task_id, "train"), arts.require("split", task_id, "test"),
              arts.require("training", task_id), *sorted(p for p in adapter.iterdir() if p.is_file())]
    training = arts.read("training", task_id)
    base_cand = baseline_candidate(eng, training)
    params = {"task": task_id, "evaluate": cfg.evaluate.model_dump(mode="json"),
              "serving": cfg.serving.model_dump(mode="json"), "tools_in_prompt": cfg.dataset.tools_in_prompt,
              "baseline": base_cand.model_dump(mode="json") if base_cand else None}

    def make(out: StepOutputs) -> dict[str, Any]:
        threads = set_torch_threads(cfg.train.threads)  # the same CPU threads setting as training
        splits, info = load_dataset(eng, task_id)
        test = splits["test"][: cfg.evaluate.max_examples]
        refs = [r["target"] for r in test]
        kind = info["output_kind"]
        ev, hourly, chrf_ok = cfg.evaluate, cfg.serving.hourly_usd, cfg.evaluate.text_success_chrf
        n_lat = min(ev.latency_examples, len(test))
        base_test = test[: min(ev.baseline_examples or len(test), len(test))]
        base_refs = refs[: len(base_test)]
        runs: dict[str, dict[str, Any]] = {}
        answers: dict[str, dict[str, Any]] = {}
        model = tok = None
        if base_cand is not None:
            model, tok = load_candidate(base_cand)
            picker = ShotPicker(splits["train"], ev.shots, embedder)
            shots = picker.shots(base_test, cfg.dataset.tools_in_prompt)
            lat_n = min(n_lat, len(base_test))
            answers["base"] = answer_records(model, tok, base_test, info, cfg, progress=progress and "base")
            runs["base"] = variant_report(kind, answers["base"]["predictions"], base_refs, answers["base"],
                                          single_request_latency(model, tok, base_test[:lat_n], info, cfg),
                                          hourly, chrf_ok)
            answers["few_shot"] = answer_records(model, tok, base_test, info, cfg, shots=shots,
                                                 progress=progress and "few-shot")
            runs["few_shot"] = variant_report(kind, answers["few_shot"]["predictions"], base_refs,
                                              answers["few_shot"],
                                              single_request_latency(model, tok, base_test[:lat_n], info, cfg,
                                                                     shots=shots[:lat_n]), hourly, chrf_ok)
        if training.get("specialist") == "encoder":
            from fde_toolkit.slm.specialist import load_encoder
            spec = load_encoder(eng, task_id)
            answers["fine_tuned"] = spec.answer(test)
            lat = spec.latency(test[:n_lat])
        else:
            from peft import PeftModel
            sys_prompt = training["train"]["system_prompt"]
            model = PeftModel.from_pretrained(model, str(adapter))
            model.eval()
            answers["fine_tuned"] = answer_records(model, tok, test, info, cfg, system_prompt=sys_prompt,
                                                   progress=progress and "fine-tuned")
            lat = single_request_latency(model, tok, test[:n_lat], info, cfg, system_prompt=sys_prompt)
        runs["fine_tuned"] = variant_report(kind, answers["fine_tuned"]["predictions"], refs, answers["fine_tuned"],
                                            lat, hourly, chrf_ok)
        for v, r in runs.items():
            r["examples"] = len(answers[v]["predictions"])
            r["model"] = training["candidate"]["id"] if v == "fine_tuned" else base_cand.id
        llm = llm_baseline(test)
        ft_cost = runs["fine_tuned"]["cost"]["per_successful_task_usd"]
        report = {
            "task": task_id, "output_kind": kind, "candidate": training["candidate"]["id"],
            "specialist": training.get("specialist", "decoder"), "examples": len(test),
            "baseline_examples": len(base_test) if base_cand else 0, "threads": threads,
            "metric_names": METRIC_NAMES[kind], "variants": runs, "llm": llm, "serving": cfg.serving.model_dump(),
            "cost_ratio_fine_tuned_vs_llm": ((ft_cost / llm["cost_per_task_usd"])
                                             if ft_cost and llm["cost_per_task_usd"] else None),
            "notes": ["The reference is the LLM's logged answer: agreement is the share of equivalent answers.",
                      f"Serving cost assumes {cfg.serving.hardware} at {hourly} USD/hour, fully used, at the "
                      "measured batched throughput."]
            + ([f"Base and few-shot ({base_cand.id}) answered the first {len(base_test)} of the {len(test)} test "
                "calls (finetune.evaluate.baseline_examples)."] if base_cand and len(base_test) < len(test) else []),
        }
        ok = {v: successes(kind, a["predictions"], refs[: len(a["predictions"])], chrf_ok) for v, a in answers.items()}
        rows = []
        # confidence: 95% intervals per metric and variant, McNemar between variants (slm/confidence.py)
        from fde_toolkit.slm.confidence import add_confidence
        add_confidence(report, kind, test, {v: a["predictions"] for v, a in answers.items()}, ok, chrf_ok)
        if kind == "tool_call":  # tools seen in training vs never seen, per variant
            seen = tools_in(r["target"] for r in splits["train"])
            report["tools_seen_in_training"] = {
                v: tool_call_breakdown(a["predictions"], refs[: len(a["predictions"])], seen)
                for v, a in answers.items()}
        for i, rec in enumerate(test):
            row = {"id": rec["id"], "request": request_text(rec)[:2000], "target": rec["target"],
                   "stratum": rec.get("stratum")}
            for v in VARIANTS:
                got = i < len(answers.get(v, {}).get("predictions", []))
                row[v] = answers[v]["predictions"][i] if got else None
                row[f"{v}_ok"] = ok[v][i] if got else None
            if "confidence" in answers["fine_tuned"]:
                row["fine_tuned_confidence"] = answers["fine_tuned"]["confidence"][i]
            rows.append(row)
        out.write("predictions", rows, task_id)
        arts.write("model_card", model_card(training, report), task_id)
        out.summary = {v: round(runs[v]["metrics"]["agreement"], 4) for v in runs}
        return out.write_data("eval", report, task_id)

    return run_step(eng, f"evaluate:{task_id}", inputs=inputs, params=params, make=make,
                    previous=lambda: arts.read("eval", task_id), render=lambda d: render_evaluation(eng, d),
                    force=force)
