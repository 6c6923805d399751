"""S5: LoRA fine-tuning on a task's examples, loss on the answer only, on CPU or CUDA.

    model = attach_lora(model, LoraSettings())
    result = train_lora(model, tok, train_enc, val_enc, TrainSettings(max_steps=200), out_dir, seed=7)
    finetune(eng, "t03")        # `fde finetune`: adapter/, curves.json, training.json, model_card.md

What makes it fast: the output layer (vocabulary x hidden, a fifth of SmolLM2's compute) runs only
at answer positions; batches group examples of similar length, right-padded without an attention
mask, so padding costs next to nothing; the prompt prefix every example of a batch shares (the
task's system prompt) runs once per batch, its keys and values shared by every row (exact for a
causal model: those states are the same in every row). The end-of-turn token after the answer stays in the loss
even where the tokenizer uses it as its padding token, so the model learns to stop.

Precision (finetune.train.precision): bf16 autocast on CUDA; elsewhere "auto" times the first batch
in float32 and in bf16 and keeps bf16 only where it is clearly faster and the loss the same
(machine.measure_bf16); the choice and its measurements are in the result ("precision").

A run stops at the first of: epochs, max_steps, the wall-clock budget, early stopping on the
validation loss. The best adapter (lowest validation loss) is the one saved. A checkpoint is
written every `checkpoint_every` steps and at the end; `resume=True` continues from it with the
step count, the data order, the optimizer and the random state where they were.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from fde_toolkit import FdeError
from fde_toolkit.files import replacing
from fde_toolkit.slm.batching import (IGNORE, collate, length_grouped_batches, padding_waste, random_batches,
                                      sorted_batches)
from fde_toolkit.slm.chat import Encoded
from fde_toolkit.slm.config import LoraSettings, TrainSettings

CURVES = "curves.json"


# ----------------------------------------------------------------------------- model pieces

def attach_lora(model, lora: LoraSettings, seed: int = 0):
    """Wrap a causal LM with fresh LoRA adapters (initialised deterministically from `seed`)."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    cfg = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, task_type="CAUSAL_LM",
                     target_modules=lora.target_modules, bias="none")
    return get_peft_model(model, cfg)


def _parts(model):
    """(decoder stack, output layer) of a (PEFT-wrapped) causal LM."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.get_decoder(), base.get_output_embeddings()


def common_prefix_length(input_ids: torch.Tensor, targets: torch.Tensor) -> int:
    """Length of the token prefix every row shares, ending before the first answer target of any row."""
    if input_ids.size(0) < 2:
        return 0
    same = (input_ids == input_ids[:1]).all(0)
    differs = (~same).nonzero()
    p = int(differs[0]) if len(differs) else input_ids.size(1)
    first_target = int((targets != IGNORE).float().argmax(1).min())
    return max(0, min(p, first_target))


def _hidden(model, input_ids: torch.Tensor, prefix: int) -> torch.Tensor:
    """Last hidden states of the rows after `prefix` shared tokens; the prefix runs once for the whole batch.

    Exact: a causal model's states for the shared prefix are the same in every row."""
    decoder, _ = _parts(model)
    if prefix == 0:
        return decoder(input_ids=input_ids, use_cache=False).last_hidden_state
    from fde_toolkit.slm.decode import CACHE_KW, _copy_cache
    out = decoder(input_ids=input_ids[:1, :prefix], use_cache=True)
    cache = _copy_cache(getattr(out, CACHE_KW), input_ids.size(0))
    return decoder(input_ids=input_ids[:, prefix:], use_cache=True, **{CACHE_KW: cache}).last_hidden_state


def answer_loss(model, input_ids: torch.Tensor, targets: torch.Tensor, answer_only_head: bool = True,
                share_prefix: bool = False, min_prefix: int = 8) -> tuple[torch.Tensor, int]:
    """(sum of cross-entropy over answer tokens, number of answer tokens).

    With `answer_only_head` the output layer runs only where a target exists; otherwise on every
    position (the usual way, same value, more compute). With `share_prefix` the prompt prefix all
    rows share (a system prompt, at least `min_prefix` tokens) is computed once per batch: same
    value and gradients, less compute."""
    n = int((targets != IGNORE).sum())
    _, head = _parts(model)
    prefix = common_prefix_length(input_ids, targets) if share_prefix else 0
    prefix = prefix if prefix >= min_prefix else 0
    hidden = _hidden(model, input_ids, prefix)
    tgt = targets[:, prefix:]
    if answer_only_head:
        mask = tgt != IGNORE
        return F.cross_entropy(head(hidden[mask]).float(), tgt[mask], reduction="sum"), n
    logits = head(hidden).float()
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), tgt.reshape(-1), ignore_index=IGNORE,
                           reduction="sum"), n


@torch.no_grad()
def validation_loss(model, encoded: Sequence[Encoded], pad_id: int, max_tokens: int = 4096, batch_size: int = 32,
                    device: str = "cpu", share_prefix: bool = True,
                    dtype: torch.dtype | None | str = "auto") -> float:
    """Mean cross-entropy per answer token (end-of-turn included) over `encoded`; `dtype` as in `_autocast`."""
    if not encoded:
        return float("nan")
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    lengths = [e.length for e in encoded]
    for b in sorted_batches(lengths, max_tokens, batch_size):
        ids, tgt = collate([encoded[i] for i in b], pad_id)
        with _autocast(device, dtype):
            loss, n = answer_loss(model, ids.to(device), tgt.to(device), share_prefix=share_prefix)
        total += float(loss)
        count += n
    if was_training:
        model.train()
    return total / max(count, 1)


def _autocast(device: str, dtype: torch.dtype | None | str = "auto"):
    """Autocast to `dtype` on the device; None: float32 (off); "auto": bf16 on CUDA, off elsewhere."""
    kind = device.split(":")[0]
    if dtype == "auto":
        dtype = torch.bfloat16 if kind == "cuda" else None
    if dtype is None:
        return torch.autocast(kind, enabled=False)
    return torch.autocast(kind, dtype=dtype)


# ----------------------------------------------------------------------------- precision

def planned_precision(setting: str, device: str) -> dict[str, Any] | None:
    """The precision a run uses without measuring ({"setting", "device", "chosen", "why"}), or None: measure it.

    "fp32" and "bf16" are what they say; "auto" is bf16 autocast on CUDA (as always there) and is
    measured on the first batch elsewhere (`choose_precision`)."""
    base = {"setting": setting, "device": device}
    if setting in ("fp32", "bf16"):
        return {**base, "chosen": setting, "why": f"finetune.train.precision is {setting}"}
    if device.startswith("cuda"):
        return {**base, "chosen": "bf16", "why": "CUDA: bf16 autocast, the default there (not measured)"}
    return None


MEASURE_ROWS = 2  # rows of the first batch that bf16 and fp32 are timed on


def choose_precision(model, params: list[torch.Tensor], ids: torch.Tensor, tgt: torch.Tensor,
                     settings: TrainSettings, device: str, seed: int) -> dict[str, Any]:
    """The run's precision: planned_precision, else measured on this batch (machine.measure_bf16).

    The measuring steps run forward and backward only (no optimizer step) on the batch's first
    `MEASURE_ROWS` rows (the ratio of the two speeds is what matters, and a full batch of long prompts
    cost a CPU run minutes), from the same random state each, and leave the training's random state
    and the gradients as they were."""
    plan = planned_precision(settings.precision, device)
    if plan is not None:
        return plan
    from fde_toolkit.slm.machine import measure_bf16

    ids, tgt = ids[:MEASURE_ROWS].to(device), tgt[:MEASURE_ROWS].to(device)

    def step(dtype: torch.dtype | None) -> float:
        torch.manual_seed(seed)
        with _autocast(device, dtype):
            loss_sum, n = answer_loss(model, ids, tgt, settings.answer_only_head, settings.share_prefix)
        loss = loss_sum / max(n, 1)
        loss.backward()
        for p in params:
            p.grad = None
        return loss.item()

    was_training = model.training
    model.train()
    cuda = [torch.device(device).index or 0] if device.startswith("cuda") else []
    with torch.random.fork_rng(devices=cuda):
        measured = measure_bf16(step, steps=1)
    model.train(was_training)
    return {"setting": settings.precision, "device": device, "rows": int(ids.size(0)), **measured}


def _dtype(precision: dict[str, Any]) -> torch.dtype | None:
    return torch.bfloat16 if precision["chosen"] == "bf16" else None


# ----------------------------------------------------------------------------- state

@dataclass
class TrainState:
    """Everything a resumed run needs besides the weights and the optimizer."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    examples_seen: int = 0
    tokens: int = 0
    answer_tokens: int = 0
    train_seconds: float = 0.0
    elapsed: float = 0.0
    best_val: float | None = None
    best_step: int | None = None
    bad_evals: int = 0
    curves: list[dict[str, Any]] = field(default_factory=list)
    evals: list[dict[str, Any]] = field(default_factory=list)
    precision: dict[str, Any] | None = None  # what the run chose (a resumed "auto" run keeps it)


def _trainable_state(model) -> dict[str, torch.Tensor]:
    from peft import get_peft_model_state_dict
    return {k: v.detach().cpu().clone() for k, v in get_peft_model_state_dict(model).items()}


def _load_trainable_state(model, state: dict[str, torch.Tensor]) -> None:
    from peft import set_peft_model_state_dict
    set_peft_model_state_dict(model, state)


def _fingerprint(settings: TrainSettings, lora: LoraSettings, n_train: int, seed: int) -> dict[str, Any]:
    keep = ("lr", "weight_decay", "warmup_steps", "batch_size", "max_batch_tokens", "max_length",
            "system_prompt", "length_grouped", "share_prefix")
    return {"lora": lora.model_dump(mode="json"), "seed": seed, "n_train": n_train,
            **{k: getattr(settings, k) for k in keep}}


def save_checkpoint(folder: Path, model, opt, state: TrainState, best: dict[str, torch.Tensor] | None,
                    fingerprint: dict[str, Any]) -> Path:
    """Write the checkpoint atomically (a crash mid-write leaves the previous one)."""
    with replacing(folder) as tmp:
        tmp.mkdir(parents=True)
        torch.save(_trainable_state(model), tmp / "adapter_state.pt")
        torch.save(opt.state_dict(), tmp / "optimizer.pt")
        torch.save({"torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}, tmp / "rng.pt")
        if best is not None:
            torch.save(best, tmp / "best_adapter_state.pt")
        (tmp / "state.json").write_text(json.dumps({"state": state.__dict__, "fingerprint": fingerprint}),
                                        encoding="utf-8")
    return folder


def load_checkpoint(folder: Path, model, opt, fingerprint: dict[str, Any]) -> tuple[TrainState, dict | None]:
    """Restore weights, optimizer, random state; (TrainState, best adapter state)."""
    meta = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    if meta["fingerprint"] != fingerprint:
        diff = sorted(k for k in fingerprint if meta["fingerprint"].get(k) != fingerprint[k])
        raise FdeError(f"{folder}: the checkpoint was trained with other settings ({', '.join(diff)}); "
                       "resume with the same settings, or start again without --resume.")
    _load_trainable_state(model, torch.load(folder / "adapter_state.pt", weights_only=True))
    opt.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=True))
    rng = torch.load(folder / "rng.pt", weights_only=False)
    torch.set_rng_state(rng["torch"])
    if rng.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    best_path = folder / "best_adapter_state.pt"
    best = torch.load(best_path, weights_only=True) if best_path.is_file() else None
    return TrainState(**meta["state"]), best


# ----------------------------------------------------------------------------- the loop

def _lr_factor(step: int, progress: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to 10% as progress (steps or budget used) goes to 1."""
    warm = min(1.0, (step + 1) / warmup) if warmup > 0 else 1.0
    return warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(max(progress, 0.0), 1.0))))


def _batches(lengths: list[int], settings: TrainSettings, seed: int, epoch: int) -> list[list[int]]:
    if settings.length_grouped:
        return length_grouped_batches(lengths, settings.batch_size, settings.max_batch_tokens, seed, epoch)
    return random_batches(lengths, settings.batch_size, seed, epoch)


def train_lora(model, tok, train: Sequence[Encoded], val: Sequence[Encoded], settings: TrainSettings,
               lora: LoraSettings, out_dir: Path, seed: int = 7, resume: bool = False, device: str | None = None,
               progress: bool = True, on_step: Callable[[TrainState], None] | None = None) -> dict[str, Any]:
    """Train the LoRA adapters of `model` (already wrapped by attach_lora) and save the best one.

    Writes out_dir/adapter (PEFT format), out_dir/checkpoints/last, out_dir/curves.json. Returns a
    summary: steps, why it stopped, losses, throughput, padding waste, the precision and why
    (`settings.precision`, measured on the first batch when "auto" off CUDA). The wall-clock budget counts
    this call's time (a resumed run gets a fresh budget); with a budget the learning-rate schedule
    follows the time used, so only step-budgeted runs repeat exactly."""
    if not train:
        raise FdeError("No training examples fit the model's context: "
                       "raise finetune.train.max_length or check the dataset.")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    out_dir = Path(out_dir)
    ckpt = out_dir / "checkpoints" / "last"
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    lengths = [e.length for e in train]
    val = list(val)[: settings.max_val_examples]
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    fp = _fingerprint(settings, lora, len(train), seed)

    torch.manual_seed(seed)
    state, best = TrainState(), None
    if resume:
        if not (ckpt / "state.json").is_file():
            raise FdeError(f"{ckpt}: no checkpoint to resume from. Run without --resume first.")
        state, best = load_checkpoint(ckpt, model, opt, fp)

    per_epoch = len(_batches(lengths, settings, seed, 0))
    total_steps = math.ceil(settings.epochs * per_epoch)
    if settings.max_steps is not None:
        total_steps = min(total_steps, settings.max_steps)
    budget_s = settings.budget_minutes * 60 if settings.budget_minutes else None
    t_run = time.perf_counter()
    elapsed0 = state.elapsed
    stopped_by = "epochs"
    step_times: list[float] = []
    waste_real = waste_padded = 0
    loss_ema = None

    def progress_of(run_s: float) -> float:
        p = state.step / max(total_steps, 1)
        return max(p, run_s / budget_s) if budget_s else p

    if settings.precision == "auto" and state.precision and state.precision.get("device") == device:
        why = state.precision["why"]
        state.precision = {**state.precision, "why": why if why.startswith("resumed: ") else f"resumed: {why}"}
    else:  # timed on the first batch of the run (that time counts in the budget)
        first = _batches(lengths, settings, seed, state.epoch)
        b0 = first[min(state.batch_in_epoch, len(first) - 1)]
        state.precision = choose_precision(model, params, *collate([train[i] for i in b0], pad_id), settings, device,
                                           seed)
    dtype = _dtype(state.precision)

    def evaluate_now() -> None:
        nonlocal best
        v = validation_loss(model, val, pad_id, settings.max_batch_tokens, device=device,
                            share_prefix=settings.share_prefix, dtype=dtype)
        state.evals.append({"step": state.step, "examples_seen": state.examples_seen, "val_loss": round(v, 5),
                            "elapsed_s": round(state.elapsed, 2)})
        if state.best_val is None or v < state.best_val - settings.min_delta:
            state.best_val, state.best_step, state.bad_evals = v, state.step, 0
            best = _trainable_state(model)
        else:
            state.bad_evals += 1

    if not state.evals and val:
        evaluate_now()  # the starting point of the validation curve
    bar = tqdm(total=total_steps, initial=state.step, desc="fine-tuning", unit="step", disable=not progress,
               dynamic_ncols=True)
    model.train()
    order: tuple[int, list[list[int]]] = (-1, [])
    try:
        while state.step < total_steps:
            if order[0] != state.epoch:
                order = (state.epoch, _batches(lengths, settings, seed, state.epoch))
            batches = order[1]
            if state.batch_in_epoch >= len(batches):
                state.epoch, state.batch_in_epoch = state.epoch + 1, 0
                continue
            b = batches[state.batch_in_epoch]
            run_s = time.perf_counter() - t_run
            if budget_s is not None and step_times and run_s + sum(step_times[-5:]) / len(step_times[-5:]) > budget_s:
                stopped_by = "budget"
                break
            lr = settings.lr * _lr_factor(state.step, progress_of(run_s), settings.warmup_steps)
            for g in opt.param_groups:
                g["lr"] = lr
            t0 = time.perf_counter()
            ids, tgt = collate([train[i] for i in b], pad_id)
            with _autocast(device, dtype):
                loss_sum, n = answer_loss(model, ids.to(device), tgt.to(device), settings.answer_only_head,
                                          settings.share_prefix)
            loss = loss_sum / max(n, 1)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            dt = time.perf_counter() - t0
            step_times.append(dt)
            real = sum(lengths[i] for i in b)
            waste_real += real
            waste_padded += ids.numel()
            state.step += 1
            state.batch_in_epoch += 1
            state.examples_seen += len(b)
            state.tokens += real
            state.answer_tokens += n
            state.train_seconds += dt
            state.elapsed = elapsed0 + time.perf_counter() - t_run
            lv = loss.item()
            loss_ema = lv if loss_ema is None else 0.9 * loss_ema + 0.1 * lv
            state.curves.append({"step": state.step,
                                 "epoch": round(state.epoch + state.batch_in_epoch / len(batches), 4),
                                 "examples_seen": state.examples_seen, "tokens": state.tokens, "loss": round(lv, 5),
                                 "lr": lr, "tokens_per_s": round(real / dt, 1), "elapsed_s": round(state.elapsed, 2)})
            bar.update(1)
            bar.set_postfix(loss=f"{loss_ema:.3f}", tok_s=f"{state.tokens / max(state.train_seconds, 1e-9):.0f}",
                            val=f"{state.best_val:.3f}" if state.best_val is not None else "-")
            if val and state.step % settings.eval_every == 0:
                evaluate_now()
                state.elapsed = elapsed0 + time.perf_counter() - t_run
                if settings.patience and state.bad_evals >= settings.patience:
                    stopped_by = "early_stopping"
            if state.step % settings.checkpoint_every == 0:
                save_checkpoint(ckpt, model, opt, state, best, fp)
            if on_step is not None:
                on_step(state)
            if stopped_by == "early_stopping":
                break
            if state.step >= total_steps:
                stopped_by = ("max_steps" if settings.max_steps is not None and total_steps == settings.max_steps
                              else "epochs")
    except KeyboardInterrupt:
        save_checkpoint(ckpt, model, opt, state, best, fp)
        bar.close()
        raise FdeError(f"Fine-tuning interrupted at step {state.step}; the checkpoint is saved. "
                       "Continue with --resume.") from None
    bar.close()
    if val and (not state.evals or state.evals[-1]["step"] != state.step):
        evaluate_now()
    state.elapsed = elapsed0 + time.perf_counter() - t_run
    save_checkpoint(ckpt, model, opt, state, best, fp)
    final_trained = _trainable_state(model)
    if best is not None:
        _load_trainable_state(model, best)
    adapter = out_dir / "adapter"
    shutil.rmtree(adapter, ignore_errors=True)
    model.save_pretrained(adapter)
    if best is not None:
        _load_trainable_state(model, final_trained)  # the live model stays where training left it
    curves = {"train": state.curves, "val": state.evals}
    (out_dir / CURVES).write_text(json.dumps(curves), encoding="utf-8")
    return {
        "steps": state.step, "epochs": round(state.examples_seen / len(train), 3), "stopped_by": stopped_by,
        "examples_seen": state.examples_seen, "tokens": state.tokens, "answer_tokens": state.answer_tokens,
        "train_seconds": round(state.train_seconds, 2), "elapsed_seconds": round(state.elapsed, 2),
        "tokens_per_s": round(state.tokens / max(state.train_seconds, 1e-9), 1),
        "padding_waste": round(1 - waste_real / waste_padded, 4) if waste_padded else None,
        "planned_padding_waste": round(padding_waste(_batches(lengths, settings, seed, 0), lengths), 4),
        "final_train_loss": state.curves[-1]["loss"] if state.curves else None,
        "best_val_loss": round(state.best_val, 5) if state.best_val is not None else None,
        "best_step": state.best_step, "total_steps_planned": total_steps, "device": device,
        "precision": state.precision,
    }
