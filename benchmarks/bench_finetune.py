"""Fine-tuning benchmark: our LoRA loop vs the stock Trainer recipe on Banking77, SmolLM2-135M-Instruct.

    python benchmarks/bench_finetune.py                          # full run: speed, levers, 20-minute quality
    python benchmarks/bench_finetune.py --examples 32 --minutes 0.5 --test 20 --val 16   # smoke test
    python benchmarks/bench_finetune.py --skip-quality --levers  # speed and what each lever pays

Data: ../shared/data/banking77/{train,test}.csv (text, category; 77 intents). Each example is the
chat a customer's intent router would log: a short system prompt, the customer's message, and the
intent label as the LLM answered it (the category, e.g. `card_arrival`).

Speed: the same model, data, LoRA settings (r=16, alpha=32, dropout 0.05, all linear layers), peak
learning rate (2e-4), batch size (16) and number of examples (--examples, one epoch each), in
the same process, one after the other:
  - ours:  fde_toolkit.slm.train (answer-only loss with the end-of-turn kept, output layer only at
           answer positions, length-grouped batches, right padding without an attention mask, the
           prompt prefix a batch shares (system prompt) computed once per batch);
  - stock: transformers Trainer + peft LoRA, full-sequence loss, DataCollatorForLanguageModeling
           (pads each random batch to its longest example; its labels mask the padding token, which
           for SmolLM2 is also the end-of-turn token).
tokens/s counts real (non-padding) tokens per second of training: every example's whole prompt
and answer, also where ours computes a shared prefix once (the result is the same, the work less),
so examples/s moves by the same ratio. Validation loss is measured the
same way for both after the same examples: mean cross-entropy per answer token (end-of-turn
included) on --val held-out examples. --levers also times ours with each lever turned off.

Quality (--minutes, default 20, 0 to skip): label accuracy on --test examples of test.csv for
  - the base model zero-shot with all 77 labels in the system prompt (decoding constrained to them),
  - the base model few-shot: --shots most similar training examples (all-MiniLM-L6-v2) as turns,
  - ours fine-tuned for --minutes on the training set,
  - the stock recipe given the same --minutes,
each decoded inside the label set, and the fine-tuned ones also free-running (what a tutorial's
generate() gives: it must stop after the label by itself).

Prints the tables; --json PATH also writes the figures as JSON. The lead records them in RESULTS.md.
On a machine shared with other heavy processes, pass --threads 1: oversubscribed torch threads
can be several times slower, and both sides run under the same setting.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
warnings.filterwarnings("ignore")

import polars as pl  # noqa: E402
import torch  # noqa: E402

from fde_toolkit.slm.chat import encode_examples, encode_prompts  # noqa: E402
from fde_toolkit.slm.config import LoraSettings, TrainSettings  # noqa: E402
from fde_toolkit.slm.decode import choose_labels, generate  # noqa: E402
from fde_toolkit.slm.registry import load_candidate, parse_candidates  # noqa: E402
from fde_toolkit.slm.train import attach_lora, train_lora, validation_loss  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "banking77"
SYSTEM = ("You are the intent router of a bank's customer support. Classify the customer's message into "
          "one intent. Answer with the intent label only.")
LORA = LoraSettings(r=16, alpha=32, dropout=0.05, target_modules="all-linear")
LR, BATCH = 2e-4, 16
WORK = Path(tempfile.mkdtemp(prefix="fde_bench_finetune_"))  # adapters and checkpoints; removed at the end


# ----------------------------------------------------------------------------- data

def load_banking77(n_train: int, n_val: int, n_test: int, seed: int) -> dict[str, Any]:
    """Stratified samples: train (--examples), val (held out from train.csv), test (from test.csv)."""
    if not (DATA / "train.csv").is_file():
        sys.exit(f"{DATA}: Banking77 not found (expected train.csv and test.csv there).")
    train = pl.read_csv(DATA / "train.csv").with_row_index("row")
    test = pl.read_csv(DATA / "test.csv").with_row_index("row")
    labels = sorted(train["category"].unique().to_list())

    def spread(df: pl.DataFrame, n: int, salt: int) -> pl.DataFrame:
        # a prefix of this order keeps every intent's share (round-robin over intents, shuffled within)
        return (df.with_columns(pl.col("row").shuffle(seed=seed + salt).alias("_r"))
                .with_columns(pl.col("_r").rank("ordinal").over("category").alias("_k"))
                .with_columns((pl.col("_k") / pl.len().over("category")).alias("_q"))
                .sort("_q", "_r").head(n).drop("_r", "_k", "_q"))

    val = spread(train, n_val, 1)
    pool = train.join(val.select("row"), on="row", how="anti")
    return {"labels": labels, "val": val, "train_all": spread(pool, pool.height, 2),
            "train": spread(pool, n_train, 3), "test": spread(test, n_test, 4)}


def conversation(text: str, system: str = SYSTEM) -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": text}]


def label_list_prompt(labels: list[str]) -> str:
    return SYSTEM + "\nThe intents are:\n" + "\n".join(f"- {lab}" for lab in labels)


def encode(tok, df: pl.DataFrame, max_length: int = 512):
    enc = encode_examples(tok, [conversation(t) for t in df["text"]], df["category"].to_list(), max_length)
    return [e for e in enc if e is not None]


# ----------------------------------------------------------------------------- the two recipes

def fresh_model(cand):
    model, tok = load_candidate(cand, device="cpu")
    return model, tok


def run_ours(cand, train_enc, val_enc, seed: int, max_steps: int | None, minutes: float | None,
             answer_only_head: bool = True, length_grouped: bool = True, share_prefix: bool = True, epochs: float = 1.0,
             eval_every: int = 10**9, out: Path | None = None, lr: float = LR) -> tuple[Any, Any, dict[str, Any]]:
    model, tok = fresh_model(cand)
    model = attach_lora(model, LORA, seed=seed)
    settings = TrainSettings(lr=lr, batch_size=BATCH, max_batch_tokens=BATCH * 512, max_length=512, epochs=epochs,
                             max_steps=max_steps, budget_minutes=minutes, eval_every=eval_every, patience=0,
                             checkpoint_every=10**9, warmup_steps=10, answer_only_head=answer_only_head,
                             length_grouped=length_grouped, share_prefix=share_prefix,
                             max_val_examples=max(len(val_enc), 1))
    out = out or WORK / "ours"
    res = train_lora(model, tok, train_enc, val_enc if eval_every < 10**9 else [], settings, LORA, out, seed=seed,
                     progress=True)
    return model, tok, res


class _TimeBudget:
    """A Trainer callback that stops training once the wall-clock budget is spent."""

    def __init__(self, seconds: float):
        from transformers import TrainerCallback

        budget = seconds

        class Stop(TrainerCallback):
            def on_train_begin(self, args, state, control, **kw):
                self.t0 = time.perf_counter()

            def on_step_end(self, args, state, control, **kw):
                if time.perf_counter() - self.t0 >= budget:
                    control.should_training_stop = True
                return control

        self.callback = Stop()


def run_stock(cand, df: pl.DataFrame, seed: int, minutes: float | None = None) -> tuple[Any, Any, dict[str, Any]]:
    """The tutorial recipe: chat template -> tokenizer -> DataCollatorForLanguageModeling -> Trainer."""
    from peft import LoraConfig, get_peft_model
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

    model, tok = fresh_model(cand)
    torch.manual_seed(seed)
    model = get_peft_model(model, LoraConfig(r=LORA.r, lora_alpha=LORA.alpha, lora_dropout=LORA.dropout,
                                             target_modules=LORA.target_modules, task_type="CAUSAL_LM"))
    texts = [tok.apply_chat_template(conversation(t) + [{"role": "assistant", "content": c}], tokenize=False)
             for t, c in zip(df["text"], df["category"])]
    data = [{"input_ids": ids} for ids in tok(texts, truncation=True, max_length=512)["input_ids"]]
    n_examples = len(data)
    args = TrainingArguments(
        output_dir=str(WORK / "stock"),
        per_device_train_batch_size=BATCH, learning_rate=LR, num_train_epochs=1,
        max_steps=10**6 if minutes else -1, logging_strategy="no", save_strategy="no", eval_strategy="no",
        report_to=[], use_cpu=not torch.cuda.is_available(), seed=seed, dataloader_num_workers=0,
        disable_tqdm=False, remove_unused_columns=False)
    callbacks = [_TimeBudget(minutes * 60).callback] if minutes else []
    if minutes:  # a time budget: cycle the data so the trainer never runs out before the budget
        data = data * 50
    trainer = Trainer(model=model, args=args, train_dataset=data,
                      data_collator=DataCollatorForLanguageModeling(tokenizer=tok, mlm=False), callbacks=callbacks)
    t0 = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t0
    steps = trainer.state.global_step
    seen = min(steps * BATCH, len(data))
    lengths = [len(d["input_ids"]) for d in data]
    # real tokens of the examples the trainer saw (its sampler is random: use the mean length)
    tokens = sum(lengths[:n_examples]) / n_examples * seen
    model.eval()
    return model, tok, {"steps": steps, "examples_seen": seen, "train_seconds": round(seconds, 2),
                        "tokens": int(tokens), "tokens_per_s": round(tokens / seconds, 1)}


# ----------------------------------------------------------------------------- quality

def accuracy(preds: list[str], refs: list[str]) -> float:
    return sum(p.strip() == r for p, r in zip(preds, refs)) / len(refs) if refs else 0.0


def label_accuracy(model, tok, convs, refs, labels, mode: str, free: bool) -> dict[str, Any]:
    prompts = encode_prompts(tok, convs)
    t0 = time.perf_counter()
    out = {"constrained": accuracy(choose_labels(model, tok, prompts, labels, mode=mode), refs)}
    out["constrained_s_per_example"] = round((time.perf_counter() - t0) / len(refs), 3)
    if free:
        gen = generate(model, tok, prompts, max_new_tokens=16)
        out["free"] = accuracy(gen, refs)
        out["free_valid_labels"] = sum(g.strip() in set(labels) for g in gen) / len(gen)
    return out


def few_shot_convs(train: pl.DataFrame, test: pl.DataFrame, k: int) -> list[list[dict[str, str]]]:
    from fde_toolkit.slm.answer import ShotPicker
    from fde_toolkit.slm.chat import few_shot_messages

    recs = [{"messages": conversation(t), "target": c} for t, c in zip(train["text"], train["category"])]
    picker = ShotPicker(recs, k)
    shots = picker.shots([{"messages": conversation(t)} for t in test["text"]])
    return [few_shot_messages(conversation(t), s) for t, s in zip(test["text"], shots)]


# ----------------------------------------------------------------------------- report

def _row(name: str, r: dict[str, Any], ref_tps: float | None) -> str:
    ratio = f"{r['tokens_per_s'] / ref_tps:5.2f}x" if ref_tps else "   - "
    val = f"{r['val_loss']:.3f}" if r.get("val_loss") is not None else "  -  "
    waste = f"{r['padding_waste']:.1%}" if r.get("padding_waste") is not None else "  -  "
    return (f"  {name:<38} {r['tokens_per_s']:>9.1f} {ratio:>8} {r['train_seconds']:>9.1f} "
            f"{r['examples_seen']:>8} {waste:>8} {val:>9}")


def print_speed(speed: dict[str, dict[str, Any]]) -> None:
    stock_tps = speed["stock (Trainer + peft, full-sequence loss)"]["tokens_per_s"]
    print(f"\n  {'recipe':<38} {'tokens/s':>9} {'vs stock':>8} {'train s':>9} "
          f"{'examples':>8} {'padding':>8} {'val loss':>9}")
    for name, r in speed.items():
        print(_row(name, r, stock_tps))
    print(f"\n  ours / stock: {speed['ours']['tokens_per_s'] / stock_tps:.2f}x tokens/s; "
          f"validation loss per answer token "
          f"after {speed['ours']['examples_seen']} examples: ours {speed['ours']['val_loss']:.3f}, "
          f"stock {speed['stock (Trainer + peft, full-sequence loss)']['val_loss']:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=1152, help="training examples for the speed comparison")
    ap.add_argument("--minutes", type=float, default=20.0, help="training budget for the quality runs (0: skip)")
    ap.add_argument("--test", type=int, default=400, help="test examples for label accuracy")
    ap.add_argument("--val", type=int, default=128, help="held-out examples for validation loss")
    ap.add_argument("--shots", type=int, default=5, help="examples in the few-shot prompt")
    ap.add_argument("--shot-pool", type=int, default=3000, help="training examples the few-shot picker searches")
    ap.add_argument("--quality-lr", type=float, default=LR, help="peak learning rate of ours in the quality run")
    ap.add_argument("--levers", action="store_true", help="also time ours with each speed lever off")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-speed", action="store_true", help="only the quality runs")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    cand = parse_candidates([])[0]
    t_all = time.perf_counter()
    data = load_banking77(a.examples, a.val, a.test, a.seed)
    _, tok = fresh_model(cand)
    train_enc, val_enc = encode(tok, data["train"]), encode(tok, data["val"])
    env = {"machine": platform.machine(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
           "torch": torch.__version__, "device": "cuda" if torch.cuda.is_available() else "cpu",
           "load_avg_start": os.getloadavg()[0]}
    print(f"Banking77, SmolLM2-135M-Instruct, {env['device']}, {env['torch_threads']} torch threads, "
          f"load average {env['load_avg_start']:.1f} at start")
    mean_len = sum(e.length for e in train_enc) / len(train_enc)
    print(f"speed run: {len(train_enc)} examples (mean {mean_len:.1f} tokens), val {len(val_enc)}, "
          f"LoRA r={LORA.r} all-linear, lr {LR}, batch {BATCH}, one epoch each\n")

    results: dict[str, Any] = {"env": env,
                               "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()}}
    speed: dict[str, dict[str, Any]] = {}
    if a.skip_speed:
        variants = []
    else:
        m, t, r = run_stock(cand, data["train"], a.seed)
        r["val_loss"] = validation_loss(m, val_enc, t.pad_token_id)
        speed["stock (Trainer + peft, full-sequence loss)"] = r
        del m
        variants = [("ours", True, True, True)]
    if a.levers and not a.skip_speed:
        variants += [("ours, prompt prefix not shared", True, True, False),
                     ("ours, full output layer", False, True, True),
                     ("ours, random batches (padding)", True, False, True),
                     ("ours, all three levers off", False, False, False)]
    for name, head, grouped, share in variants:
        m, t, r = run_ours(cand, train_enc, val_enc, a.seed, max_steps=None, minutes=None, answer_only_head=head,
                           length_grouped=grouped, share_prefix=share, epochs=1.0)
        r["val_loss"] = validation_loss(m, val_enc, t.pad_token_id)
        speed[name] = r
        del m
    if speed:
        print_speed(speed)
    results["speed"] = speed

    if a.minutes > 0 and not a.skip_quality:
        labels, test = data["labels"], data["test"]
        refs = test["category"].to_list()
        quality: dict[str, Any] = {}
        print(f"\nquality: label accuracy on {len(refs)} test examples, {a.minutes:g} training minutes each\n")
        base, btok = fresh_model(cand)
        quality["base zero-shot (77 labels in the prompt)"] = label_accuracy(
            base, btok, [conversation(t, label_list_prompt(labels)) for t in test["text"]], refs, labels,
            "greedy", False)
        pool = data["train_all"].head(a.shot_pool)
        quality[f"base few-shot ({a.shots} nearest examples)"] = label_accuracy(
            base, btok, few_shot_convs(pool, test, a.shots), refs, labels, "greedy", False)
        del base
        full_enc = encode(tok, data["train_all"])
        convs = [conversation(t) for t in test["text"]]
        m, t, r = run_ours(cand, full_enc, val_enc, a.seed, max_steps=None, minutes=a.minutes, epochs=100,
                           eval_every=200, lr=a.quality_lr)
        quality[f"ours fine-tuned ({a.minutes:g} min)"] = {**label_accuracy(m, t, convs, refs, labels, "greedy", True),
                                                          "examples_seen": r["examples_seen"], "steps": r["steps"],
                                                          "val_loss": r["best_val_loss"]}
        del m
        m, t, r = run_stock(cand, data["train_all"], a.seed, minutes=a.minutes)
        quality[f"stock fine-tuned ({a.minutes:g} min)"] = {**label_accuracy(m, t, convs, refs, labels, "greedy", True),
                                                           "examples_seen": r["examples_seen"], "steps": r["steps"],
                                                           "val_loss": validation_loss(m, val_enc, t.pad_token_id)}
        del m
        print(f"  {'model':<44} {'constrained':>11} {'free-running':>12} {'valid labels':>12} "
              f"{'examples':>9} {'val loss':>9}")
        for name, q in quality.items():
            free = f"{q['free']:.1%}" if "free" in q else "-"
            valid = f"{q['free_valid_labels']:.1%}" if "free_valid_labels" in q else "-"
            seen = str(q.get("examples_seen", "-"))
            vl = f"{q['val_loss']:.3f}" if q.get("val_loss") is not None else "-"
            print(f"  {name:<44} {q['constrained']:>11.1%} {free:>12} {valid:>12} {seen:>9} {vl:>9}")
        results["quality"] = quality
    env["load_avg_end"] = os.getloadavg()[0]
    env["seconds"] = round(time.perf_counter() - t_all, 1)
    print(f"\ndone in {env['seconds']:.0f} s; load average {env['load_avg_end']:.1f} at the end")
    if a.json:
        a.json.write_text(json.dumps(results, indent=1, default=float), encoding="utf-8")


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
