"""The model card shipped with every fine-tuned adapter (markdown: what it is, what it was trained on,
how good it is)."""

from __future__ import annotations

from typing import Any


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "-" if v is None else str(v)


def _encoder_training(t: dict[str, Any]) -> list[str]:
    res, c = t["result"], t["classifier"]
    return [
        f"- features: mean-pooled hidden states of the encoder's last {c['layers']} layers"
        + (", TF-IDF character (2-5) and word (1-2) n-grams of the request" if c["lexical"] else "")
        + f" ({_fmt(res['features'])} in all); the encoder is not trained",
        f"- head: {res['method']}, C={c['c']}; {res['labels']} labels; seed {t['seed']}",
        f"- calibration: one temperature ({_fmt(res['temperature'])}) fitted on the validation split; expected "
        f"calibration error {_fmt(res['val_ece_before'])} -> {_fmt(res['val_ece_after'])}",
        f"- fitted in {_fmt(res['elapsed_seconds'])} s ({_fmt(res['embed_seconds'])} s encoding) on "
        f"{_fmt((t.get('threads') or {}).get('chosen'))} CPU thread(s); "
        f"validation accuracy {_fmt(res['val_accuracy'])}",
    ]


def _metric(metrics: dict[str, Any], key: str) -> str:
    """'0.9583 [0.798, 0.993]': the value and its 95% interval (reports from before intervals: the value)."""
    ci = (metrics.get("intervals") or {}).get(key)
    return _fmt(metrics.get(key)) + (f" [{ci[0]:.3g}, {ci[1]:.3g}]" if ci and metrics.get(key) is not None else "")


def _confidence(evaluation: dict[str, Any]) -> list[str]:
    """The note on the brackets and the paired comparisons, for reports that have them."""
    from fde_toolkit.slm.confidence import comparison_lines, interval_note

    note, paired = interval_note(evaluation), comparison_lines(evaluation)
    out = ["", note] if note else []
    if paired:
        out += ["", "Paired on the same test calls (McNemar's exact test, 5% level):", ""]
        out += [f"- {line}" for line in paired]
    return out


def model_card(training: dict[str, Any], evaluation: dict[str, Any] | None = None) -> str:
    """Markdown model card from training.json (and eval/<task>.json when evaluated)."""
    t = training
    cand, ds, res = t["candidate"], t["dataset"], t["result"]
    encoder = t.get("specialist") == "encoder"
    inside = cand.get("gguf") or cand.get("subfolder")
    strata = (", stratified by " + ("label" if ds["output_kind"] == "label" else "tool name")
              if ds["output_kind"] in ("label", "tool_call") else "")
    lines = [
        f"# {t['task']} specialist: " + (f"encoder classifier on {cand['id']}" if encoder
                                          else f"LoRA adapter on {cand['id']}"),
        "",
        f"Fine-tuned by fde-toolkit for the engagement **{t['engagement']}** to take over the task "
        f"*{t.get('task_name') or t['task']}* (output kind: `{ds['output_kind']}`) from the LLM it was logged on.",
        "",
        "## Base model",
        f"- id: `{cand['id']}`; parameters: {_fmt(t.get('params_m'))} M; "
        f"context: {_fmt(cand.get('context_length'))} tokens; "
        f"licence: {cand.get('licence', 'unknown')}",
        "- weights: "
        f"{cand.get('folder') or cand.get('hub') or (str(cand.get('package')) + '/' + str(inside))}",
        ("- format: `adapter/classifier.json` + `head.safetensors` (+ `lexical.json`): "
         "`fde_toolkit.slm.encoder.EncoderClassifier.load('adapter/', encoder_folder)`" if encoder else
         "- adapter format: PEFT LoRA (`PeftModel.from_pretrained(base, 'adapter/')`)"
         + (", trained 4-bit (QLoRA)" if t.get("quantized") else "")),
        "",
        "## Data",
        f"- source: the customer's curated calls of task `{t['task']}` "
        "(PII replaced by placeholders before any training); "
        "the target is the LLM's logged answer"
        + (" (tool calls rendered as `{\"name\": ..., \"arguments\": {...}}`)"
           if ds["output_kind"] == "tool_call" else ""),
        f"- splits (no normalised input in two splits{strata}): "
        f"train {ds['splits']['train']}, val {ds['splits']['val']}, test {ds['splits']['test']}",
        f"- examples used: {t['encoded']['train']} train, {t['encoded']['val']} val; "
        f"{t['encoded']['truncated']} prompts shortened, "
        f"{t['encoded']['dropped']} dropped (answer longer than max_length)",
        "",
        "## Training",
    ]
    lines += _encoder_training(t) if encoder else [
        f"- LoRA r={t['lora']['r']}, alpha={t['lora']['alpha']}, dropout={t['lora']['dropout']}, "
        f"targets={t['lora']['target_modules']}",
        f"- lr {t['train']['lr']}, batch <= {t['train']['batch_size']} examples / "
        f"{t['train']['max_batch_tokens']} tokens, "
        f"max_length {t['train']['max_length']}, warm-up {t['train']['warmup_steps']} steps, "
        f"cosine decay; seed {t['seed']}",
        f"- loss on answer tokens only, end-of-turn included; system prompt: {t['train']['system_prompt']}",
        f"- ran {res['steps']} steps ({res['epochs']} epochs, {res['examples_seen']} examples, {res['tokens']} tokens) "
        f"in {_fmt(res['elapsed_seconds'])} s on {res['device']}; stopped by {res['stopped_by']}; "
        f"{_fmt(res['tokens_per_s'])} tokens/s; padding waste {_fmt(res['padding_waste'])}",
        *([f"- precision {res['precision']['chosen']}: {res['precision']['why']}"] if res.get("precision") else []),
        f"- validation loss (per answer token): best {_fmt(res['best_val_loss'])} "
        f"at step {_fmt(res['best_step'])} (the saved adapter)",
    ]
    lines += ["", "## Metrics"]
    if evaluation:
        lines.append("On the held-out test split, against the LLM's logged answers:")
        lines.append("")
        lines.append("| variant | " + " | ".join(evaluation["metric_names"])
                     + " | latency p50 ms | cost / successful task USD |")
        lines.append("|---" * (len(evaluation["metric_names"]) + 3) + "|")
        for name, v in evaluation["variants"].items():
            vals = " | ".join(_metric(v["metrics"], m) for m in evaluation["metric_names"])
            lines.append(f"| {name} | {vals} | {_fmt(v['latency_ms']['p50'])} | "
                         f"{_fmt(v['cost']['per_successful_task_usd'])} |")
        llm = evaluation.get("llm", {})
        ref = " | ".join("reference" for _ in evaluation["metric_names"])
        lines.append(f"| LLM (logged) | {ref} | {_fmt(llm.get('latency_ms_p50'))} | "
                     f"{_fmt(llm.get('cost_per_task_usd'))} |")
        lines += _confidence(evaluation)
    else:
        lines.append("Not evaluated yet: run `fde evaluate` for test-split metrics against the LLM.")
    lines += [
        "",
        "## Intended use",
        f"- Answering the calls of task `{t['task']}` in place of the LLM, behind an SLM-first router that sends "
        "low-confidence or out-of-scope calls back to the LLM.",
        "- Not a general assistant: outside this task's prompt template and request kinds "
        "its answers are not measured.",
        "",
        "## Known limits",
        "- It learned the LLM's answers, mistakes included; it is at best as good as the LLM on this task.",
        "- Trained on a snapshot of the logs: drift in the requests (new intents, new tools, new formats) "
        "needs re-training (S6).",
        "- Inputs seen only with placeholders for personal data (names, emails, numbers); "
        "serve it behind the same scrubbing.",
        (f"- The encoder is frozen and reads the first {t['classifier']['max_length']} tokens of the request; "
         "it answers only the labels it saw in training." if encoder else
         f"- {res['device'].upper()} training with {res['steps']} steps; "
         "longer budgets or a larger candidate may do better."),
    ]
    return "\n".join(lines) + "\n"
