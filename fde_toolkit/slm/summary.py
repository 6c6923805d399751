"""What `fde dataset / select / finetune / evaluate` print: a short human summary of each step's result.

    print(render_dataset(eng, build_dataset(eng, "t03")))
    print(render_selection(eng, select_candidates(eng, "t03")))
    print(render_training(eng, finetune(eng, "t03")))
    print(render_evaluation(eng, evaluate(eng, "t03")))

Counts, splits, rankings and metrics only: never record contents.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fde_toolkit.engagement import shown_path
from fde_toolkit.slm.status import artifact_paths, next_command
from fde_toolkit import formatting as num

def _where(p: Path) -> str:
    """A path as the user typed it: relative to the working directory when inside it."""
    return shown_path(p)


def text_table(rows: list[dict[str, Any]], columns: dict[str, str], numeric: set[str] | None = None) -> str:
    """Rows as aligned text columns; `columns` maps row keys to headers, `numeric` columns align right."""
    numeric = numeric or set()
    cells = [[str(h) for h in columns.values()]] + [[str(r.get(k, "")) for k in columns] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    keys = list(columns)

    def line(c: list[str]) -> str:
        return "  ".join(v.rjust(w) if k in numeric else v.ljust(w) for v, w, k in zip(c, widths, keys)).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    return "\n".join(out + [line(c) for c in cells[1:]])


def _head(eng, result: dict[str, Any], what: str) -> str:
    name = result.get("name") or result.get("task_name")
    if not name:  # selection and evaluation results do not carry it; the dataset does
        ds = artifact_paths(eng, result["task"])["dataset"]
        name = json.loads(ds.read_text(encoding="utf-8")).get("name") if ds.is_file() else None
    return f"Task {result['task']}" + (f" ({name})" if name else "") + f": {what}"


def _metric(m: dict[str, Any] | None, key: str | None = None) -> str:
    if not m:
        return "–"
    key = key or m["primary"]
    v = m.get(key)
    return "–" if v is None else (f"{v:.1f}" if key.startswith("chrf") else num.share(v))


# ----------------------------------------------------------------------------- dataset

def render_dataset(eng, info: dict[str, Any], max_strata: int = 12) -> str:
    """`fde dataset`: calls -> distinct examples -> kept, the splits, the strata, and where the files are."""
    kind, sp = info["output_kind"], info["splits"]
    lines = [_head(eng, info, f"output kind {kind}"),
             f"  {info['calls']:,} calls, {info['ok_calls']:,} successful -> {info['distinct_examples']:,} distinct "
             f"(input, answer) examples, {info['kept_examples']:,} kept (cap {info['settings']['max_examples']:,})"]
    if info.get("conflicting_inputs"):
        lines.append(f"  {info['conflicting_inputs']:,} input(s) got different answers from the LLM: "
                     "kept in one split each")
    by = {"label": "label", "tool_call": "tool name"}.get(kind)
    lines.append(f"  splits: train {sp['train']:,} · val {sp['val']:,} · test {sp['test']:,} "
                 f"(no normalised input in two splits{', stratified by ' + by if by else ''})")
    if info.get("labels"):
        lines.append(f"  {len(info['labels'])} labels")
    if info.get("tools"):
        lines.append(f"  tools: {', '.join(info['tools'])}")
    strata = info.get("strata") or {}
    if strata:
        names = sorted({s for split in strata.values() for s in split},
                       key=lambda s: -sum(strata[x].get(s, 0) for x in strata))
        rows = [{"stratum": s, **{x: f"{strata[x].get(s, 0):,}" for x in ("train", "val", "test")}}
                for s in names[:max_strata]]
        table = text_table(rows, {"stratum": by or "stratum", "train": "train", "val": "val", "test": "test"},
                           numeric={"train", "val", "test"})
        lines += ["  " + ln for ln in table.splitlines()]
        if len(names) > max_strata:
            lines.append(f"  … {len(names) - max_strata} more (all in dataset.json)")
    folder = artifact_paths(eng, info["task"])["dataset"].parent
    lines.append(f"Wrote {_where(folder)}/: train/val/test.jsonl, openai_train/val.jsonl "
                 "(OpenAI fine-tuning format), dataset.json")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- selection

def render_selection(eng, result: dict[str, Any]) -> str:
    """`fde select`: the candidates ranked, zero-shot and few-shot quality, latency."""
    ranking = result.get("ranking", [])
    primary = result.get("primary") or (ranking[0]["zero_shot"]["primary"] if ranking else "quality")
    lines = [_head(eng, result, f"{len(ranking)} candidate(s) on {result['examples']} test examples: decoders "
                           f"zero-shot and {result['shots']}-shot, encoders with a fitted head "
                           f"(headline metric: {primary.replace('_', ' ')})")]
    rows = [{"rank": r["rank"], "candidate": r["candidate"],
             "params": f"{r['params_m']:,.1f}M" if r.get("params_m") else "?",
             "zero": _metric(r["zero_shot"]), "few": _metric(r["few_shot"]), "fitted": _metric(r.get("fitted")),
             "mode": r["mode"],
             "latency": num.duration_ms(r.get("latency_ms_p50")),
             "rate": f"{r['examples_per_s']:.1f}" if r.get("examples_per_s") else "–"} for r in ranking]
    table = text_table(rows, {"rank": "rank", "candidate": "candidate", "params": "params", "zero": "zero-shot",
                              "few": "few-shot", "fitted": "fitted",
                              "mode": "best mode", "latency": "latency p50", "rate": "answers/s"},
                       numeric={"rank", "params", "zero", "few", "fitted", "latency", "rate"})
    lines += ["  " + ln for ln in table.splitlines()]
    if result.get("best"):
        lines.append(f"Best: {result['best']}; `fde finetune` uses it unless --candidate or finetune.candidate says "
                     "otherwise.")
    lines.append(f"Ranked by {result.get('how', 'quality, then size, then latency')}.")
    lines.append(f"Wrote {_where(artifact_paths(eng, result['task'])['selection'])}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- training

def render_training(eng, training: dict[str, Any]) -> str:
    """`fde finetune`: what was trained, how fast, how far, and the validation loss."""
    if training.get("specialist") == "encoder":
        return render_encoder_training(eng, training)
    r, cand, lora, enc = training["result"], training["candidate"], training["lora"], training["encoded"]
    budget = training["train"].get("budget_minutes")
    params = f"{training['params_m']:,.1f}M params, " if training.get("params_m") else ""
    lines = [_head(eng, training, f"LoRA r={lora['r']} on {cand['id']} ({params}{r['device']}"
                             f"{', 4-bit QLoRA' if training.get('quantized') else ''})"),
             f"  data: {enc['train']:,} train / {enc['val']:,} val examples"
             + (f", {enc['truncated']:,} prompts shortened" if enc.get("truncated") else "")
             + (f", {enc['dropped']:,} dropped (too long)" if enc.get("dropped") else ""),
             f"  ran {r['steps']:,} steps ({r['epochs']:g} epochs, {r['examples_seen']:,} examples, {r['tokens']:,} "
             f"tokens) in {r['elapsed_seconds']:,.1f} s"
             + ("; resumed from the last checkpoint" if training.get("resumed") else ""),
             f"  stopped by: the {budget:g}-minute budget" if r["stopped_by"] == "budget" and budget
             else f"  stopped by: {r['stopped_by']}" + (f" (budget {budget:g} min)" if budget else ""),
             f"  speed: {r['tokens_per_s']:,.0f} tokens/s"
             + (f"; padding waste {num.share(r['padding_waste'])}" if r.get("padding_waste") is not None else "")]
    if r.get("precision"):
        lines.append(f"  precision: {r['precision']['chosen']} ({r['precision']['why']})")
    if r.get("best_val_loss") is not None:
        lines.append(f"  validation loss (per answer token): best {r['best_val_loss']:.4f} at step {r['best_step']} "
                     "(the saved adapter)"
                     + (f"; last train loss {r['final_train_loss']:.4f}"
                        if r.get("final_train_loss") is not None else ""))
    else:
        lines.append("  no validation pass ran (empty val split or too few steps): the adapter is the last step's")
    return _wrote(eng, training, lines, "adapter/ (PEFT), curves.json, training.json, model_card.md")


def _wrote(eng, training: dict[str, Any], lines: list[str], what: str) -> str:
    """The lines, then where the run wrote `what` and the command to run next."""
    lines.append(f"Wrote {_where(artifact_paths(eng, training['task'])['training'].parent)}/: {what}")
    nxt = next_command(eng, training["task"])
    if nxt:
        lines.append(f"Next: `{nxt}`")
    return "\n".join(lines)


def encoder_training_rows(training: dict[str, Any]) -> list[dict[str, str]]:
    """What fitting an encoder classifier did, as (what, value) rows."""
    r, enc = training["result"], training["encoded"]
    val = (f"{num.share(r['val_accuracy'], 1)} on {r['val_examples']:,} calls; calibrated by temperature "
           f"{r['temperature']:.2f} (expected calibration error {r['val_ece_before']:.3f} -> {r['val_ece_after']:.3f})"
           if r.get("val_accuracy") is not None else "no validation split: probabilities not calibrated")
    return [
        {"what": "encoder", "v": f"{training['candidate']['id']} ({training.get('params_m') or '?'} M parameters, "
                                 "frozen)"},
        {"what": "head", "v": f"{r['method']}; {r['labels']} labels, {r['features']:,} features"},
        {"what": "examples", "v": f"{enc['train']:,} train, {enc['val']:,} val"},
        {"what": "ran", "v": f"{r['elapsed_seconds']:,.1f} s ({r['embed_seconds']:,.1f} s encoding), "
                             f"{(training.get('threads') or {}).get('chosen', '?')} CPU thread(s)"},
        {"what": "validation", "v": val},
    ]


def render_encoder_training(eng, training: dict[str, Any]) -> str:
    """`fde finetune` for an encoder candidate: the head that was fitted and how well it calibrates."""
    rows = encoder_training_rows(training)
    lines = [_head(eng, training, f"encoder classifier on {training['candidate']['id']}")]
    lines += [f"  {r['what']}: {r['v']}" for r in rows]
    return _wrote(eng, training, lines, "adapter/ (classifier.json, head.safetensors), training.json, model_card.md")


# ----------------------------------------------------------------------------- evaluation

def render_evaluation(eng, report: dict[str, Any]) -> str:
    """`fde evaluate`: base, few-shot and fine-tuned against the LLM (95% intervals, paired tests), the cost ratio."""
    from fde_toolkit.slm.confidence import comparison_lines, interval_note
    from fde_toolkit.slm.figures import comparison_rows

    names = report["metric_names"]
    lines = [_head(eng, report, f"{report['output_kind']} task, {report['examples']} test examples, candidate "
                           f"{report['candidate']}; the reference is the LLM's logged answer")]
    cols = {"variant": "variant", **{m: m.replace("_", " ") for m in names}, "latency": "latency p50",
            "throughput": "throughput", "cost": "cost / successful task"}
    table = text_table(comparison_rows(report), cols, numeric=set(cols) - {"variant"})
    lines += ["  " + ln for ln in table.splitlines()]
    lines += ["  " + ln for ln in [interval_note(report), *comparison_lines(report)] if ln]
    ratio = report.get("cost_ratio_fine_tuned_vs_llm")
    serving = report.get("serving", {})
    if ratio is not None:
        lines.append(f"The fine-tuned SLM costs {num.share(ratio, 2)} of the LLM per successful task, served on "
                     f"{serving.get('hardware', 'the SLM hardware')} at ${serving.get('hourly_usd', 0):g}/hour "
                     "fully used.")
    else:
        lines.append("No cost ratio: the LLM's cost is not logged for these calls, or no fine-tuned answer succeeded.")
    p = artifact_paths(eng, report["task"])
    lines.append(f"Wrote {_where(p['evaluation'])}, {_where(p['predictions'])}; "
                 f"updated {_where(p['training'].parent / 'model_card.md')}")
    return "\n".join(lines)
