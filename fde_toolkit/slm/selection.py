"""S4, `fde select`: which candidate to specialise for a task.

Every candidate that fits the task's output kind is measured on the task's test examples: a decoder
zero-shot and few-shot (the k most similar training examples as earlier turns), an encoder classifier
(label tasks) with its head fitted on the train split, which is its specialised form and takes
seconds. Candidates are ranked by quality, then, among those within `select.quality_tolerance` of
each other, by size and then by measured single-request latency.

    ranking = rank_candidates(rows, tolerance=0.02)
    result = select_candidates(eng, "t03")      # writes artifacts/select/t03.json
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from fde_toolkit.slm.answer import ShotPicker, answer_records, single_request_latency
from fde_toolkit.slm.datasets import load_dataset
from fde_toolkit.slm.machine import set_torch_threads
from fde_toolkit.step import StepOutputs, StepResult, run_step
from fde_toolkit.slm.metrics import PRIMARY, score
from fde_toolkit.slm.registry import candidates, fitting, load_candidate, param_count_m


def quality(metrics: dict[str, Any]) -> float:
    """The kind's headline metric on a 0-1 scale (chrF is 0-100)."""
    v = float(metrics[metrics["primary"]])
    return v / 100.0 if metrics["primary"] == "chrf" else v


def rank_candidates(rows: list[dict[str, Any]], tolerance: float) -> list[dict[str, Any]]:
    """Best first: quality in bands of `tolerance` below the best, then fewer parameters, then lower latency."""
    if not rows:
        return []
    top = max(r["quality"] for r in rows)
    band = (lambda q: int((top - q) / tolerance + 1e-9)) if tolerance > 0 else (lambda q: -q)

    def key(r: dict[str, Any]) -> tuple:
        return (band(r["quality"]), r.get("params_m") or float("inf"), r.get("latency_ms_p50") or float("inf"),
                r["candidate"])

    ranked = sorted(rows, key=key)
    return [{**r, "rank": i + 1} for i, r in enumerate(ranked)]


def evaluate_candidate(model, tok, test: list[dict], info: dict[str, Any], cfg, picker: ShotPicker) -> dict[str, Any]:
    """Zero-shot and few-shot quality, and single-request latency, of one loaded candidate."""
    refs = [r["target"] for r in test]
    kind = info["output_kind"]
    zero = answer_records(model, tok, test, info, cfg)
    shots = picker.shots(test, cfg.dataset.tools_in_prompt)
    few = answer_records(model, tok, test, info, cfg, shots=shots)
    m0 = score(kind, zero["predictions"], refs, cfg.evaluate.text_success_chrf)
    m1 = score(kind, few["predictions"], refs, cfg.evaluate.text_success_chrf)
    best_mode = "few-shot" if quality(m1) > quality(m0) else "zero-shot"
    n_lat = min(cfg.select.latency_examples, len(test))
    lat = single_request_latency(model, tok, test[:n_lat], info, cfg,
                                 shots=shots[:n_lat] if best_mode == "few-shot" else None)
    return {"zero_shot": m0, "few_shot": m1, "mode": best_mode, "quality": max(quality(m0), quality(m1)),
            "latency_ms_p50": lat["p50"], "latency_ms_p95": lat["p95"],
            "examples_per_s": few["examples_per_s"] if best_mode == "few-shot" else zero["examples_per_s"]}


def evaluate_encoder(cand, splits: dict[str, list[dict]], test: list[dict], info: dict[str, Any], cfg,
                     seed: int) -> dict[str, Any]:
    """An encoder classifier's quality once its head is fitted on the train split, and its latency."""
    from fde_toolkit.slm.specialist import EncoderSpecialist, train_encoder

    clf, fit = train_encoder(cand, splits, cfg, seed=seed)
    spec = EncoderSpecialist(clf)
    run = spec.answer(test)
    m = score(info["output_kind"], run["predictions"], [r["target"] for r in test], cfg.evaluate.text_success_chrf)
    lat = spec.latency(test[: min(cfg.select.latency_examples, len(test))])
    return {"zero_shot": None, "few_shot": None, "fitted": m, "mode": "fitted head", "quality": quality(m),
            "fit_seconds": fit["elapsed_seconds"], "latency_ms_p50": lat["p50"], "latency_ms_p95": lat["p95"],
            "examples_per_s": run["examples_per_s"]}


def select_candidates(eng, task_id: str, force: bool = False, embedder: Callable | None = None,
                      progress: bool = True) -> StepResult[dict[str, Any]]:
    """`fde select`: rank the engagement's candidates on the task's test split; writes artifacts/select/<task>.json."""
    from fde_toolkit.slm.summary import render_selection

    cfg = eng.config.finetune
    cands = candidates(eng)
    arts = eng.artifacts
    inputs = [arts.require("split", task_id, "train"), arts.require("split", task_id, "test")]
    params = {"task": task_id, "candidates": [c.model_dump(mode="json") for c in cands],
              "select": cfg.select.model_dump(mode="json"), "evaluate": cfg.evaluate.model_dump(mode="json"),
              "tools_in_prompt": cfg.dataset.tools_in_prompt}

    def make(out: StepOutputs) -> dict[str, Any]:
        threads = set_torch_threads(cfg.train.threads)  # the same CPU threads setting as training
        splits, info = load_dataset(eng, task_id)
        test = splits["test"][: cfg.select.examples]
        kind = info["output_kind"]
        picker = None
        rows = []
        iterator = fitting(cands, kind)
        if progress:
            from tqdm.auto import tqdm
            iterator = tqdm(iterator, desc="candidates", unit="model")
        for cand in iterator:
            row = {"candidate": cand.id, "kind": cand.kind, "params_m": cand.params_m,
                   "context_length": cand.context_length, "licence": cand.licence, "strengths": cand.strengths}
            if cand.kind == "encoder":
                rows.append({**row, **evaluate_encoder(cand, splits, test, info, cfg, eng.config.seed)})
                continue
            picker = picker or ShotPicker(splits["train"], cfg.select.shots, embedder)
            model, tok = load_candidate(cand)
            res = evaluate_candidate(model, tok, test, info, cfg, picker)
            rows.append({**row, "params_m": cand.params_m or param_count_m(model), **res})
            del model
        ranking = rank_candidates(rows, cfg.select.quality_tolerance)
        result = {"task": task_id, "output_kind": kind, "primary": PRIMARY[kind], "examples": len(test),
                  "shots": cfg.select.shots, "threads": threads,
                  "ranking": ranking, "best": ranking[0]["candidate"] if ranking else None,
                  "how": "quality (the kind's headline metric: a decoder's best of zero-/few-shot, an encoder's "
                         "with its head fitted on the train split) in bands of "
                         f"{cfg.select.quality_tolerance}, then parameters, then single-request latency"}
        out.summary = {"best": result["best"], "candidates": len(rows)}
        return out.write_data("selection", result, task_id, default=_json_default)

    return run_step(eng, f"select:{task_id}", inputs=inputs, params=params, make=make,
                    previous=lambda: arts.read("selection", task_id), render=lambda d: render_selection(eng, d),
                    force=force)


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    raise TypeError(type(o).__name__)
