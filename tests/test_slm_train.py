"""Fine-tuning mechanics on a tiny random Llama built in code."""

from __future__ import annotations

import json
import types

import pytest
import torch
from slm_toy import FRUITS, one_thread, toy_examples, toy_model, toy_tokenizer  # noqa: F401

import fde_toolkit.slm.train as train_mod
from fde_toolkit import FdeError
from fde_toolkit.slm.batching import IGNORE, collate, length_grouped_batches, padding_waste, random_batches
from fde_toolkit.slm.chat import encode_examples, encode_prompts
from fde_toolkit.slm.config import LoraSettings, TrainSettings
from fde_toolkit.slm.decode import choose_labels
from fde_toolkit.slm.train import answer_loss, attach_lora, common_prefix_length, train_lora, validation_loss

pytestmark = pytest.mark.usefixtures("one_thread")
LORA = LoraSettings(r=8, alpha=16, dropout=0.0)


def _data(tok, n=160, seed=0):
    ex = toy_examples(n, seed)
    return encode_examples(tok, [m for m, _ in ex], [t for _, t in ex], 64), ex


def _settings(**kw) -> TrainSettings:
    base = dict(lr=2e-2, epochs=50, max_steps=60, budget_minutes=None, eval_every=20, batch_size=16, patience=0,
                checkpoint_every=1000, warmup_steps=5,
                precision="fp32")  # timing-free; "auto" is pinned where a test is about it
    return TrainSettings(**{**base, **kw})


@pytest.fixture(scope="module")
def tok():
    return toy_tokenizer()


def test_answer_only_targets_mask_the_prompt_but_keep_end_of_turn(tok):
    assert tok.pad_token_id == tok.convert_tokens_to_ids("<|im_end|>")  # as in SmolLM2: pad == end-of-turn
    enc, ex = _data(tok, 4)
    ids, tgt = collate(enc, tok.pad_token_id)
    for b, e in enumerate(enc):
        kept = tgt[b][tgt[b] != IGNORE].tolist()
        assert tok.convert_ids_to_tokens(kept) == [ex[b][1], "<|im_end|>"]
        # every target sits one position before its token, and nothing of the prompt is a target
        assert (tgt[b, : e.answer_start - 1] == IGNORE).all()
        assert tgt[b, e.length - 2].item() == tok.convert_tokens_to_ids("<|im_end|>")
        assert (tgt[b, e.length - 1:] == IGNORE).all()  # the padding after it is ignored


def test_answer_only_head_gives_the_same_loss_as_the_full_head(tok):
    enc, _ = _data(tok, 8)
    model = toy_model(tok)
    ids, tgt = collate(enc, tok.pad_token_id)
    a, n_a = answer_loss(model, ids, tgt, answer_only_head=True)
    b, n_b = answer_loss(model, ids, tgt, answer_only_head=False)
    assert n_a == n_b == 16
    assert a.item() == pytest.approx(b.item(), rel=1e-5)


def test_shared_prompt_prefix_runs_once_with_the_same_loss_and_gradients(tok):
    enc, _ = _data(tok, 8)
    ids, tgt = collate(enc, tok.pad_token_id)
    p = common_prefix_length(ids, tgt)
    assert tok.convert_ids_to_tokens(ids[0, :p].tolist())[-2:] == ["<|im_start|>", "user"]  # the system prompt + turn
    assert common_prefix_length(ids[:1], tgt[:1]) == 0
    model = attach_lora(toy_model(tok), LoraSettings(r=4, alpha=8, dropout=0.0), seed=0)
    for w in model.parameters():
        if w.requires_grad:
            torch.nn.init.normal_(w, std=0.1)  # non-zero adapters, so their gradients are all non-trivial
    grads = []
    for share in (False, True):
        loss, n = answer_loss(model, ids, tgt, share_prefix=share, min_prefix=1)
        loss.backward()
        grads.append((loss.item(), [w.grad.clone() for w in model.parameters() if w.requires_grad]))
        model.zero_grad()
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-5)
    for a, b in zip(grads[0][1], grads[1][1]):
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)


def test_length_grouped_batches_waste_little_padding():
    import random
    r = random.Random(0)
    lengths = [r.randint(10, 400) for _ in range(2000)]
    grouped = length_grouped_batches(lengths, batch_size=16, max_tokens=4096, seed=0)
    plain = random_batches(lengths, batch_size=16, seed=0)
    assert sorted(i for b in grouped for i in b) == list(range(2000))  # every example exactly once
    assert all(max(lengths[i] for i in b) * len(b) <= 4096 for b in grouped if len(b) > 1)
    assert padding_waste(grouped, lengths) < 0.05 < 0.3 < padding_waste(plain, lengths)
    assert grouped == length_grouped_batches(lengths, batch_size=16, max_tokens=4096, seed=0)
    assert grouped != length_grouped_batches(lengths, batch_size=16, max_tokens=4096, seed=0, epoch=1)


def test_loss_decreases_and_the_model_learns_the_toy_task(tok, tmp_path):
    train, _ = _data(tok, 160, seed=0)
    val, val_ex = _data(tok, 32, seed=1)
    model = attach_lora(toy_model(tok), LORA, seed=0)
    before = validation_loss(model, val, tok.pad_token_id)
    res = train_lora(model, tok, train, val, _settings(), LORA, tmp_path, seed=0, progress=False)
    assert res["steps"] == 60 and res["stopped_by"] == "max_steps"
    assert res["best_val_loss"] < 0.5 * before
    prompts = encode_prompts(tok, [m for m, _ in val_ex])
    preds = choose_labels(model, tok, prompts, sorted(FRUITS.values()))
    assert sum(p == t for p, (_, t) in zip(preds, val_ex)) / len(val_ex) >= 0.8
    curves = json.loads((tmp_path / "curves.json").read_text())
    assert [c["step"] for c in curves["train"]] == list(range(1, 61))
    assert curves["val"][0]["step"] == 0 and curves["val"][-1]["step"] == 60
    assert res["padding_waste"] < 0.1


def test_adapter_saves_and_reloads_to_identical_outputs(tok, tmp_path):
    from peft import PeftModel
    train, _ = _data(tok, 64)
    model = attach_lora(toy_model(tok), LORA, seed=0)
    train_lora(model, tok, train, train[:16], _settings(max_steps=10, eval_every=5), LORA, tmp_path, seed=0,
               progress=False)
    best = json.loads((tmp_path / "curves.json").read_text())["val"]
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    reloaded = PeftModel.from_pretrained(toy_model(tok), str(tmp_path / "adapter")).eval()
    ids = torch.tensor([train[0].ids])
    with torch.no_grad():
        out = reloaded(input_ids=ids).logits
        fresh = toy_model(tok)(input_ids=ids).logits
    assert not torch.allclose(out, fresh)  # the adapter changes the outputs...
    # ...and the saved adapter is the best one by validation loss
    best_loss = min(v["val_loss"] for v in best)
    assert validation_loss(reloaded, train[:16], tok.pad_token_id) == pytest.approx(best_loss, abs=1e-4)
    model.eval()
    with torch.no_grad():
        again = PeftModel.from_pretrained(toy_model(tok), str(tmp_path / "adapter")).eval()(input_ids=ids).logits
    assert torch.equal(out, again)


def test_same_seed_same_run(tok, tmp_path):
    train, _ = _data(tok, 64)
    lora = LoraSettings(r=8, alpha=16, dropout=0.1)
    runs = []
    for k in range(2):
        model = attach_lora(toy_model(tok), lora, seed=3)
        train_lora(model, tok, train, train[:8], _settings(max_steps=8), lora, tmp_path / str(k), seed=3,
                   progress=False)
        runs.append([c["loss"] for c in json.loads((tmp_path / str(k) / "curves.json").read_text())["train"]])
    assert runs[0] == runs[1]


def test_resume_continues_the_step_count_and_matches_an_uninterrupted_run(tok, tmp_path):
    train, _ = _data(tok, 64)
    lora = LoraSettings(r=8, alpha=16, dropout=0.1)  # dropout: the random state must be restored too
    settings = _settings(max_steps=10, checkpoint_every=2, eval_every=4, precision="auto")  # measured, then kept

    class Crash(Exception):
        pass

    def crash_at_6(state):
        if state.step == 6:
            raise Crash

    first = attach_lora(toy_model(tok), lora, seed=0)
    with pytest.raises(Crash):
        train_lora(first, tok, train, train[:8], settings, lora, tmp_path / "b", seed=0, progress=False,
                   on_step=crash_at_6)
    chosen = json.loads((tmp_path / "b" / "checkpoints" / "last" / "state.json").read_text())["state"]["precision"]
    # the uninterrupted reference pins what the first run measured: bf16 vs fp32 timing differs between machines
    straight = attach_lora(toy_model(tok), lora, seed=0)
    train_lora(straight, tok, train, train[:8], _settings(max_steps=10, checkpoint_every=2, eval_every=4,
                                                          precision=chosen["chosen"]),
               lora, tmp_path / "a", seed=0, progress=False)
    ref = json.loads((tmp_path / "a" / "curves.json").read_text())
    again = attach_lora(toy_model(tok), lora, seed=99)  # fresh weights: the checkpoint must restore them
    res = train_lora(again, tok, train, train[:8], settings, lora, tmp_path / "b", seed=0, resume=True, progress=False)
    got = json.loads((tmp_path / "b" / "curves.json").read_text())
    assert res["steps"] == 10
    assert [c["step"] for c in got["train"]] == list(range(1, 11))
    assert [c["loss"] for c in got["train"]] == pytest.approx([c["loss"] for c in ref["train"]], abs=1e-5)
    assert res["precision"]["why"].startswith("resumed: ")  # the precision the run started with, not measured again
    assert res["precision"]["chosen"] == chosen["chosen"]
    with pytest.raises(FdeError, match="other settings"):
        other = attach_lora(toy_model(tok), lora, seed=0)
        train_lora(other, tok, train, train[:8], _settings(max_steps=12, lr=1e-3, checkpoint_every=2), lora,
                   tmp_path / "b", seed=0, resume=True, progress=False)


def test_wall_clock_budget_stops_before_the_step_that_would_overrun(tok, tmp_path, monkeypatch):
    """A fake clock: every training step takes 10 s, validation none. A one-minute budget fits 6 steps; the run
    stops there, by the budget, instead of starting a 7th step that would end at 70 s."""
    now = [0.0]
    monkeypatch.setattr(train_mod, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    real_loss = train_mod.answer_loss

    def ten_second_step(model, *args, **kw):
        if model.training:  # validation_loss runs in eval mode
            now[0] += 10.0
        return real_loss(model, *args, **kw)

    monkeypatch.setattr(train_mod, "answer_loss", ten_second_step)
    train, _ = _data(tok, 256)
    model = attach_lora(toy_model(tok), LORA, seed=0)
    # float32 pinned: "auto" would time the first batch in training mode, and this clock makes each of those 10 s
    settings = _settings(max_steps=None, epochs=1000, budget_minutes=1.0, eval_every=10_000, precision="fp32")
    res = train_lora(model, tok, train, train[:16], settings, LORA, tmp_path, seed=0, progress=False)
    assert res["stopped_by"] == "budget"
    assert res["steps"] == 6
    curves = json.loads((tmp_path / "curves.json").read_text())
    assert [c["elapsed_s"] for c in curves["train"]] == [10.0 * k for k in range(1, 7)]  # all inside the minute


def test_auto_precision_off_cuda_is_measured_on_the_first_batch_and_changes_nothing_else(tok, tmp_path):
    train, _ = _data(tok, 64)
    lora = LoraSettings(r=8, alpha=16, dropout=0.1)  # dropout: the measurement must leave the random state alone
    runs = {}
    for setting in ("auto", "chosen"):
        precision = setting if setting == "auto" else runs["auto"][0]["precision"]["chosen"]
        model = attach_lora(toy_model(tok), lora, seed=3)
        res = train_lora(model, tok, train, train[:8], _settings(max_steps=6, precision=precision), lora,
                         tmp_path / setting, seed=3, progress=False)
        runs[setting] = (res, json.loads((tmp_path / setting / "curves.json").read_text()))
    p = runs["auto"][0]["precision"]
    assert p["setting"] == "auto" and p["device"] == "cpu" and p["chosen"] in ("fp32", "bf16") and p["why"]
    assert p["fp32_s_per_step"] > 0 and p["bf16_s_per_step"] > 0 and p["steps"] == 1 and p["rows"] <= 2
    assert p["loss_delta"] < 0.05 and p["fp32_loss"] == pytest.approx(p["bf16_loss"], rel=0.05)
    assert p["chosen"] == ("bf16" if p["bf16_s_per_step"] <= 0.9 * p["fp32_s_per_step"] and p["loss_delta"] < 0.02
                           else "fp32")
    # the same run as one pinned to what auto chose: weights, gradients and random state untouched by the timing
    assert [c["loss"] for c in runs["auto"][1]["train"]] == [c["loss"] for c in runs["chosen"][1]["train"]]
    assert runs["chosen"][0]["precision"] == {"setting": p["chosen"], "device": "cpu", "chosen": p["chosen"],
                                              "why": f"finetune.train.precision is {p['chosen']}"}


def test_bf16_pinned_trains_under_autocast_on_cpu(tok, tmp_path, monkeypatch):
    seen = []
    real = train_mod.answer_loss

    def spy(model, *args, **kw):
        seen.append(torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16)
        return real(model, *args, **kw)

    monkeypatch.setattr(train_mod, "answer_loss", spy)
    train, _ = _data(tok, 64)
    model = attach_lora(toy_model(tok), LORA, seed=0)
    res = train_lora(model, tok, train, train[:8], _settings(max_steps=12, precision="bf16"), LORA, tmp_path, seed=0,
                     progress=False)
    assert res["precision"]["chosen"] == "bf16" and "measured" not in res["precision"]["why"]
    assert seen and all(seen)  # every training and validation pass
    assert res["final_train_loss"] < json.loads((tmp_path / "curves.json").read_text())["train"][0]["loss"]


def test_planned_precision_keeps_bf16_on_cuda_and_measures_only_elsewhere():
    assert train_mod.planned_precision("auto", "cuda") == {
        "setting": "auto", "device": "cuda", "chosen": "bf16", "why": "CUDA: bf16 autocast, the default there "
                                                                      "(not measured)"}
    assert train_mod.planned_precision("fp32", "cuda:1")["chosen"] == "fp32"
    assert train_mod.planned_precision("bf16", "cpu")["chosen"] == "bf16"
    assert train_mod.planned_precision("auto", "cpu") is None
    with train_mod._autocast("cpu", None):
        assert not torch.is_autocast_enabled("cpu")
    with train_mod._autocast("cpu", torch.bfloat16):
        assert torch.is_autocast_enabled("cpu")
    with train_mod._autocast("cpu"):  # "auto" off CUDA: float32, as before
        assert not torch.is_autocast_enabled("cpu")
