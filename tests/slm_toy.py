"""A tiny random Llama and a word-level chat tokenizer built in code, plus a toy task it can learn.

Shared by the tests/test_slm_*.py files: seconds to build, nothing downloaded.
"""

from __future__ import annotations

import random
from pathlib import Path

from fde_toolkit.slm.registry import CHATML

FRUITS = {"banana": "yellow", "apple": "red", "lime": "green", "plum": "purple"}
FILLER = ["please", "tell", "me", "the", "colour", "of", "a", "ripe", "fresh", "small", "big", "this", "my", "nice"]
SPECIALS = ["<unk>", "<|im_start|>", "<|im_end|>"]
SYSTEM = "answer with the colour only"


def toy_examples(n: int, seed: int = 0) -> list[tuple[list[dict], str]]:
    """(messages, target): a request naming a fruit among filler words; the answer is its colour."""
    r = random.Random(seed)
    out = []
    for _ in range(n):
        fruit = r.choice(sorted(FRUITS))
        words = r.sample(FILLER, r.randint(2, 9))
        words.insert(r.randint(0, len(words)), fruit)
        out.append(([{"role": "system", "content": SYSTEM}, {"role": "user", "content": " ".join(words)}],
                    FRUITS[fruit]))
    return out


def toy_tokenizer(extra_words: list[str] | None = None):
    """Word-level tokenizer; its pad token is its end-of-turn token, as SmolLM2's is."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["system", "user", "assistant", *SYSTEM.split(), *FRUITS, *FRUITS.values(), *FILLER, *(extra_words or [])]
    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for w in words:
        vocab.setdefault(w, len(vocab))
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", bos_token="<|im_start|>",
                                  eos_token="<|im_end|>", pad_token="<|im_end|>",
                                  additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    tok.chat_template = CHATML
    return tok


def toy_model(tok, hidden: int = 48, layers: int = 2, seed: int = 0):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                      tie_word_embeddings=True, initializer_range=0.2)
    model = LlamaForCausalLM(cfg)
    model.eval()
    return model


def save_toy_candidate(folder: Path, extra_words: list[str] | None = None) -> Path:
    """A tiny model + tokenizer saved as a transformers folder (a `folder:` candidate)."""
    tok = toy_tokenizer(extra_words)
    model = toy_model(tok)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def toy_calls(n: int, seed: int = 0, task: str = "label"):
    """Curated calls (canonical schema) of one toy task: "label" (fruit -> colour) or "tool_call"."""
    from datetime import datetime, timedelta, timezone

    import polars as pl

    from fde_toolkit.logs.schema import conform

    rows = []
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for i, (msgs, colour) in enumerate(toy_examples(n, seed)):
        row = {"call_id": f"c{i:05d}", "timestamp": t0 + timedelta(seconds=i), "model": "gpt-4o", "provider": "openai",
               "messages": msgs, "input_tokens": 30, "output_tokens": 2, "latency_ms": 400.0, "cost_usd": 0.001,
               "status": "ok"}
        if task == "tool_call":
            row["tools"] = TOOLS_JSON
            row["tool_calls"] = [{"name": f"paint_{colour}",
                                  "arguments": '{"fruit": "' + msgs[1]["content"].split()[0] + '"}'}]
        else:
            row["response_text"] = colour
        rows.append(row)
    return conform(pl.DataFrame(rows, infer_schema_length=None))


TOOLS_JSON = ('[' + ",".join('{"type": "function", "function": {"name": "paint_%s", "description": "paint", '
                             '"parameters": {"type": "object", "properties": {"fruit": {"type": "string"}}}}}' % c
                             for c in FRUITS.values()) + ']')


def toy_engagement(root: Path, n: int = 120, task: str = "label", candidate_folder: Path | None = None,
                   finetune: dict | None = None):
    """An engagement folder with curated.parquet, tasks.parquet and tasks.json for one task `t01`."""
    import json

    import polars as pl
    import yaml

    from fde_toolkit.engagement import Engagement

    root.mkdir(parents=True, exist_ok=True)
    calls = toy_calls(n, task=task)
    art = root / "artifacts"
    art.mkdir(exist_ok=True)
    calls.write_parquet(art / "curated.parquet")
    pl.DataFrame({"call_id": calls["call_id"], "step_id": ["s01"] * n, "task_id": ["t01"] * n,
                  "distance": [0.1] * n}).write_parquet(art / "tasks.parquet")
    kind = "tool_call" if task == "tool_call" else "label"
    (art / "tasks.json").write_text(json.dumps({"tasks": [{"id": "t01", "name": "fruit colours", "output_kind": kind,
                                                           "labels": sorted(FRUITS.values())}]}), encoding="utf-8")
    config: dict = {"name": root.name, "seed": 7}
    if candidate_folder is not None:
        config["candidates"] = [{"id": "toy", "folder": str(candidate_folder), "params_m": 0.1, "context_length": 256}]
    if finetune:
        config["finetune"] = finetune
    (root / "engagement.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return Engagement.load(root)


def hash_embedder(texts: list[str]):
    """A stand-in sentence embedder: bag of hashed words (similar requests share words)."""
    import zlib

    import numpy as np

    out = np.zeros((len(texts), 64), dtype=np.float32)
    for i, t in enumerate(texts):
        for w in t.lower().split():
            out[i, zlib.crc32(w.encode()) % 64] += 1.0
    return out


def _one_thread():
    """Tiny models run fastest, and steadiest on a shared machine, on one thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


try:
    import pytest

    one_thread = pytest.fixture(_one_thread)
except ImportError:  # pragma: no cover
    pass


def toy_bpe_tokenizer(corpus: list[str], vocab_size: int = 400):
    """A byte-level BPE chat tokenizer trained in code on `corpus`: decodes text exactly (JSON included)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE(unk_token=None))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS[1:],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tk.train_from_iterator(corpus, trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                  pad_token="<|im_end|>")
    tok.chat_template = CHATML
    return tok


def tool_corpus(n: int = 200) -> list[str]:
    from fde_toolkit.slm.chat import render_tools
    import json as _json

    tools = _json.loads(TOOLS_JSON)
    texts = [render_tools(tools), "system user assistant"]
    for msgs, colour in toy_examples(n):
        fruit = msgs[1]["content"].split()[0]
        texts.append(msgs[1]["content"])
        texts.append(_json.dumps({"name": f"paint_{colour}", "arguments": {"fruit": fruit}}))
    return texts


def save_bpe_candidate(folder: Path) -> Path:
    tok = toy_bpe_tokenizer(tool_corpus())
    model = toy_model(tok)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def save_toy_encoder(folder: Path) -> Path:
    """A tiny random BERT and its word-level tokenizer, saved as a transformers folder (an encoder candidate)."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    vocab = {t: i for i, t in enumerate(specials)}
    for w in ["caller", *SYSTEM.split(), *FRUITS, *FRUITS.values(), *FILLER]:
        vocab.setdefault(w, len(vocab))
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tk.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2),
                                                                                               ("[SEP]", 3)])
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                  sep_token="[SEP]")
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                 intermediate_size=64, max_position_embeddings=64))
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def routed_engagement(eng, pii_key: bool = False, **sections):
    """`eng` with `sections` set in its engagement.yaml, then profiled, its t01 dataset built, the specialist
    trained and evaluated, and routed (`fde route`): the setup every hardening and serving test starts from.
    `pii_key` writes a key file under .secrets/ for the router's scrub. The toy calls carry no PII, so the
    curated calls stand in for the ingested ones."""
    import shutil

    import yaml

    from fde_toolkit.engagement import Engagement
    from fde_toolkit.routing.step import route
    from fde_toolkit.slm import build_dataset
    from fde_toolkit.slm.evaluation import evaluate
    from fde_toolkit.slm.tuning import finetune

    cfg = yaml.safe_load((eng.root / "engagement.yaml").read_text())
    if pii_key:
        (eng.root / ".secrets").mkdir(exist_ok=True)
        (eng.root / ".secrets" / "pii.key").write_text("k" * 64)
    cfg.update(sections)
    (eng.root / "engagement.yaml").write_text(yaml.safe_dump(cfg))
    eng = Engagement.load(eng.root)
    shutil.copy(eng.artifacts.path("curated"), eng.artifacts.path("calls"))
    eng.profile()
    build_dataset(eng, "t01")
    finetune(eng, "t01", progress=False)
    evaluate(eng, "t01", embedder=hash_embedder, progress=False)
    route(eng, embedder=hash_embedder)
    return eng
