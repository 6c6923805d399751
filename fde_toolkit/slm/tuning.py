"""`fde finetune`: fine-tune a candidate on one task's dataset and write the adapter, curves and model card.

    summary = finetune(eng, "t03", budget_minutes=10)
    model, tok = load_finetuned(eng, "t03")          # base + adapter, ready for decode.predict

Writes artifacts/models/<task>/: adapter/ (PEFT), checkpoints/last/, curves.json, training.json, model_card.md.
"""

from __future__ import annotations

from typing import Any

from fde_toolkit import FdeError
from fde_toolkit.slm.card import model_card
from fde_toolkit.slm.chat import encode_examples, prompt_messages
from fde_toolkit.slm.config import FinetuneConfig
from fde_toolkit.files import write_json
from fde_toolkit.slm.datasets import load_dataset
from fde_toolkit.slm.machine import set_torch_threads
from fde_toolkit.step import StepOutputs, StepResult, run_step
from fde_toolkit.slm.registry import (Candidate, can_quantize_4bit, candidates, fits, fitting, get_candidate,
                                      load_candidate, param_count_m)
from fde_toolkit.slm.train import attach_lora, train_lora


def resolve_candidate(eng, task_id: str, candidate: str | None, cfg: FinetuneConfig | None = None,
                      output_kind: str | None = None) -> Candidate:
    """The candidate to fine-tune: the one asked for, else finetune.candidate, else `fde select`'s best,
    else the first that fits the task's output kind (an encoder classifier first for label tasks)."""
    cfg = cfg or eng.config.finetune
    wanted = candidate or cfg.candidate
    if wanted is None:
        sel = eng.artifacts.optional("selection", task_id)
        if sel is not None:
            ranked = sel.get("ranking", [])
            known = {c.id for c in candidates(eng)}
            wanted = next((r["candidate"] for r in ranked if r["candidate"] in known), None)
    if wanted is None and output_kind is not None:
        ok = fitting(candidates(eng), output_kind)
        wanted = ok[0].id if ok else None
    cand = get_candidate(eng, wanted)
    if output_kind is not None and not fits(cand, output_kind):
        raise FdeError(f"Candidate {cand.id} is an {cand.kind} classifier: it answers label tasks only, and task "
                       f"{task_id} is a {output_kind} task. Pick a decoder candidate with --candidate.")
    return cand


def encode_split(tok, records: list[dict], cfg: FinetuneConfig) -> tuple[list, dict[str, int]]:
    """Training encodings of a split, and how many were shortened or dropped."""
    convs = [prompt_messages(r, cfg.train.system_prompt, cfg.dataset.tools_in_prompt) for r in records]
    enc = encode_examples(tok, convs, [r["target"] for r in records], cfg.train.max_length)
    kept = [e for e in enc if e is not None]
    return kept, {"dropped": sum(e is None for e in enc), "truncated": sum(e.truncated for e in kept)}


def finetune(eng, task_id: str, candidate: str | None = None, resume: bool = False, budget_minutes: float | None = None,
             max_steps: int | None = None, force: bool = False, progress: bool = True) -> StepResult[dict[str, Any]]:
    """Fine-tune LoRA adapters for `task_id`; returns training.json's content.

    `budget_minutes` / `max_steps` override finetune.train for this run; `resume` continues the last checkpoint."""
    from fde_toolkit.slm.summary import render_training

    cfg = eng.config.finetune
    arts = eng.artifacts
    overrides: dict[str, Any] = {}
    if budget_minutes is not None:
        overrides["budget_minutes"] = budget_minutes
    if max_steps is not None:
        overrides["max_steps"] = max_steps
    train_cfg = cfg.train.model_copy(update=overrides)
    cfg = cfg.model_copy(update={"train": train_cfg})
    inputs = [arts.require("split", task_id, "train"), arts.require("split", task_id, "val")]
    splits, info = load_dataset(eng, task_id)
    cand = resolve_candidate(eng, task_id, candidate, cfg, info["output_kind"])
    out = arts.path("model", task_id)
    if cand.kind == "encoder":
        params = {"task": task_id, "candidate": cand.model_dump(mode="json"), "seed": eng.config.seed,
                  "classifier": cfg.classifier.model_dump(mode="json")}
        return run_step(eng, f"finetune:{task_id}", inputs=inputs, params=params,
                        make=lambda o: _train_encoder(eng, task_id, cand, splits, info, cfg, o),
                        previous=lambda: arts.read("training", task_id), render=lambda d: render_training(eng, d),
                        force=force or resume)
    params = {"task": task_id, "candidate": cand.model_dump(mode="json"), "seed": eng.config.seed,
              "lora": cfg.lora.model_dump(mode="json"), "train": train_cfg.model_dump(mode="json"),
              "tools_in_prompt": cfg.dataset.tools_in_prompt}

    def make(outputs: StepOutputs) -> dict[str, Any]:
        threads = set_torch_threads(train_cfg.threads)
        model, tok = load_candidate(cand, quantize=train_cfg.quantize, trainable=True)
        train_enc, tstats = encode_split(tok, splits["train"], cfg)
        val_enc, vstats = encode_split(tok, splits["val"], cfg)
        if not train_enc:
            raise FdeError(f"Task {task_id}: no training example fits finetune.train.max_length "
                           f"({train_cfg.max_length} tokens). Raise it, or set finetune.train.system_prompt: drop.")
        params_m = cand.params_m or param_count_m(model)
        model = attach_lora(model, cfg.lora, seed=eng.config.seed)
        out.mkdir(parents=True, exist_ok=True)
        result = train_lora(model, tok, train_enc, val_enc, train_cfg, cfg.lora, out, seed=eng.config.seed,
                            resume=resume, progress=progress)
        training = {
            "task": task_id, "task_name": info.get("name"), "engagement": eng.name,
            "candidate": cand.model_dump(mode="json", exclude_none=True), "params_m": params_m,
            "quantized": train_cfg.quantize == "4bit" or (train_cfg.quantize == "auto" and can_quantize_4bit()),
            "dataset": {"output_kind": info["output_kind"], "splits": info["splits"], "labels": info.get("labels", []),
                        "tools": info.get("tools", [])},
            "encoded": {"train": len(train_enc), "val": len(val_enc),
                        "truncated": tstats["truncated"] + vstats["truncated"],
                        "dropped": tstats["dropped"] + vstats["dropped"]},
            "lora": cfg.lora.model_dump(mode="json"), "train": train_cfg.model_dump(mode="json"),
            "tools_in_prompt": cfg.dataset.tools_in_prompt, "seed": eng.config.seed, "resumed": resume,
            "threads": threads,
            "result": result,
        }
        adapter = arts.path("adapter", task_id)
        write_json(adapter / "fde_candidate.json", training["candidate"], indent=None)
        outputs.add(adapter / "adapter_config.json")
        outputs.add(arts.path("curves", task_id))
        outputs.write("training", training, task_id)
        outputs.write("model_card", model_card(training), task_id)
        outputs.summary = {k: result[k] for k in ("steps", "stopped_by", "best_val_loss", "tokens_per_s")}
        return training

    return run_step(eng, f"finetune:{task_id}", inputs=inputs, params=params, make=make,
                    previous=lambda: arts.read("training", task_id), render=lambda d: render_training(eng, d),
                    force=force or resume)


def _train_encoder(eng, task_id: str, cand: Candidate, splits: dict, info: dict, cfg: FinetuneConfig,
                   outputs: StepOutputs) -> dict[str, Any]:
    """`fde finetune` for an encoder candidate: fit and calibrate the head; the classifier goes to adapter/."""
    from fde_toolkit.slm.specialist import train_encoder

    threads = set_torch_threads(cfg.train.threads)
    clf, result = train_encoder(cand, splits, cfg, seed=eng.config.seed)
    adapter = clf.save(eng.artifacts.path("adapter", task_id))
    write_json(adapter / "fde_candidate.json", cand.model_dump(mode="json", exclude_none=True), indent=None)
    training = {
        "task": task_id, "task_name": info.get("name"), "engagement": eng.name, "specialist": "encoder",
        "candidate": cand.model_dump(mode="json", exclude_none=True), "params_m": cand.params_m,
        "dataset": {"output_kind": info["output_kind"], "splits": info["splits"], "labels": info.get("labels", []),
                    "tools": info.get("tools", [])},
        "encoded": {"train": result["train_examples"], "val": result["val_examples"], "truncated": 0, "dropped": 0},
        "classifier": cfg.classifier.model_dump(mode="json"), "seed": eng.config.seed, "resumed": False,
        "threads": threads, "result": result,
    }
    outputs.add(adapter / "classifier.json")
    outputs.write("training", training, task_id)
    outputs.write("model_card", model_card(training), task_id)
    outputs.summary = {k: result[k] for k in ("val_accuracy", "temperature", "elapsed_seconds")}
    return training


def load_finetuned(eng, task_id: str, device: str | None = None):
    """(PEFT model, tokenizer): the task's base candidate with its fine-tuned adapter, in eval mode."""
    from peft import PeftModel

    adapter = eng.artifacts.require("adapter", task_id)
    training = eng.artifacts.read("training", task_id)
    cand = Candidate.model_validate(training["candidate"])
    model, tok = load_candidate(cand, device=device)
    model = PeftModel.from_pretrained(model, str(adapter))
    model.eval()
    return model, tok
