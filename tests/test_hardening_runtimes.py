"""Fast runtimes answer as the eager specialist does: ONNX Runtime and torch int8 encoders, merged and
CTranslate2 decoders, on toy engagements; conversions are cached and rebuilt when their source changes."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from slm_toy import one_thread, save_bpe_candidate, save_toy_candidate, save_toy_encoder, toy_engagement  # noqa: F401

from fde_toolkit import FdeError
from fde_toolkit.engagement import Engagement
from fde_toolkit.hardening.runtimes import (RUNTIMES, load_runtime, recommended_batch_size, recommended_runtime,
                                            runtimes_for, unavailable_runtimes)
from fde_toolkit.routing.signals import Encoder, load_specialist
from fde_toolkit.slm import build_dataset
from fde_toolkit.slm.tuning import finetune

pytestmark = pytest.mark.usefixtures("one_thread")

INT8_PROBABILITY_TOLERANCE = 0.05  # int8 encoder features: calibrated probabilities within 5 points of eager
INT8_LOGPROB_TOLERANCE = 0.1  # int8 decoder: token log-probability signals within 0.1 nats of eager
INT8_NEAR_TIE = 0.1  # int8 may flip a label the eager model chose by less than this margin (nats); none other


def _trained(eng) -> list[dict]:
    build_dataset(eng, "t01")
    finetune(eng, "t01", progress=False)
    return eng.artifacts.read("split", "t01", "test")


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    root = tmp_path_factory.mktemp("enc")
    eng = toy_engagement(root / "acme", n=160)
    cfg = yaml.safe_load((eng.root / "engagement.yaml").read_text())
    cfg["candidates"] = [{"id": "tiny-bert", "kind": "encoder", "folder": str(save_toy_encoder(root / "bert")),
                          "params_m": 0.05}]
    cfg["finetune"] = {"classifier": {"layers": 2}}  # lexical features on: the head reads both blocks
    (eng.root / "engagement.yaml").write_text(yaml.safe_dump(cfg))
    eng = Engagement.load(eng.root)
    test = _trained(eng)
    return eng, test, load_specialist(eng, "t01").answer(test)


@pytest.mark.parametrize("runtime", ["torch-int8", "onnx", "onnx-int8"])
def test_encoder_runtimes_answer_as_eager(encoder, runtime):
    eng, test, eager = encoder
    spec = load_specialist(eng, "t01", runtime=runtime)
    assert isinstance(spec, Encoder) and spec.runtime == runtime and spec.tokenizer is not None
    run = spec.answer(test)
    assert run.predictions == eager.predictions
    assert set(run.signals) == set(eager.signals)
    tol = INT8_PROBABILITY_TOLERANCE if runtime.endswith("int8") else 1e-5
    for name, v in run.signals.items():
        np.testing.assert_allclose(v, eager.signals[name], atol=tol, err_msg=name)
    one = spec.answer(test[:1])  # batch 1, unpadded: the same answer as in a padded batch
    assert one.predictions == run.predictions[:1]
    np.testing.assert_allclose(one.signals["top_probability"], run.signals["top_probability"][:1], atol=1e-5)


def test_onnx_conversion_is_cached_and_rebuilt_when_the_encoder_changes(encoder, tmp_path):
    import shutil

    eng, test, eager = encoder
    first = load_runtime(eng, "t01", "onnx-int8")  # converted by an earlier test or now
    again = load_runtime(eng, "t01", "onnx-int8", threads=1)
    assert again.load_info["converted"] is False and again.load_info["threads"] == 1
    folder = eng.artifacts.path("runtime_model", "t01", "onnx")
    assert (folder / "encoder.onnx").is_file() and (folder / "fingerprint.json").is_file()
    assert first.answer(test[:4]).predictions == eager.predictions[:4]
    # the same encoder rewritten with other weights: both conversions are rebuilt from it
    bert = eng.config.candidates[0].folder
    shutil.copytree(bert, tmp_path / "keep")
    import torch
    from transformers import BertModel

    model = BertModel.from_pretrained(str(bert))
    with torch.no_grad():
        model.embeddings.word_embeddings.weight.mul_(1.5)
    model.save_pretrained(str(bert))
    try:
        changed = load_runtime(eng, "t01", "onnx-int8")
        assert changed.load_info["converted"] is True
        ref = load_specialist(eng, "t01").answer(test)
        assert changed.answer(test).predictions == ref.predictions
    finally:
        shutil.rmtree(bert)
        shutil.copytree(tmp_path / "keep", bert)


def test_runtime_names_are_checked():
    assert runtimes_for("encoder") == list(RUNTIMES["encoder"])
    assert runtimes_for("decoder", ["eager", "onnx", "ct2-int8", "llama.cpp"]) == ["eager", "ct2-int8"]
    assert runtimes_for("encoder", ["eager", "onnx", "ct2-int8"]) == ["eager", "onnx"]
    with pytest.raises(FdeError, match="'onnxx'.*hardening.runtimes"):
        runtimes_for("encoder", ["onnxx"])
    with pytest.raises(FdeError, match="kind"):
        runtimes_for("classifier")
    why = unavailable_runtimes("decoder")
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        assert "wheel" in why["llama.cpp"]
    assert "ct2-int8" not in why and unavailable_runtimes("encoder") == {}


def test_unknown_or_inapplicable_runtime_and_the_recommendation(encoder):
    import json

    eng, _, _ = encoder
    with pytest.raises(FdeError, match="'fast'"):
        load_specialist(eng, "t01", runtime="fast")
    with pytest.raises(FdeError, match="does not apply.*encoder"):
        load_runtime(eng, "t01", "ct2-int8")
    assert recommended_runtime(eng, "t01") == "eager"
    path = eng.artifacts.path("hardening")
    assert recommended_batch_size(eng, "t01") is None
    path.write_text(json.dumps({"format": "fde-hardening/1",
                                "tasks": {"t01": {"recommended": {"runtime": "onnx", "batch_size": 4}}}}))
    try:
        assert recommended_runtime(eng, "t01") == "onnx" and recommended_runtime(eng, "t02") == "eager"
        assert recommended_batch_size(eng, "t01") == 4 and recommended_batch_size(eng, "t02") is None
    finally:
        path.unlink()


# ----------------------------------------------------------------------------- decoders

FT = {"train": {"lr": 0.02, "epochs": 50, "max_steps": 16, "eval_every": 10, "checkpoint_every": 10,
                "budget_minutes": None, "patience": 0, "precision": "fp32"},
      "evaluate": {"latency_examples": 2, "max_new_tokens": 12, "baseline_examples": 2}}


@pytest.fixture(scope="module")
def label_decoder(tmp_path_factory):
    root = tmp_path_factory.mktemp("dec")
    eng = toy_engagement(root / "acme", n=120, candidate_folder=save_toy_candidate(root / "toy"), finetune=FT)
    test = _trained(eng)[:24]
    return eng, test, load_specialist(eng, "t01")


def _same(run, eager, logprob_tol: float, near_tie: float = 0.0, margin: np.ndarray | None = None):
    """Equal answers (except, with `near_tie`, where the eager label margin, or `margin`, is below it) and
    signals within `logprob_tol` on the equal answers."""
    assert set(run.signals) == set(eager.signals)
    if margin is None:
        margin = eager.signals.get("label_margin", np.full(len(eager.predictions), np.inf))
    firm = margin >= near_tie
    assert firm.mean() >= 0.75, margin  # the comparison covers most of the set
    assert [p for p, f in zip(run.predictions, firm) if f] == [p for p, f in zip(eager.predictions, firm) if f]
    for name, v in run.signals.items():
        np.testing.assert_allclose(v[firm], eager.signals[name][firm], atol=logprob_tol, rtol=1e-4, err_msg=name)


def _as(spec, **evaluate):
    spec.cfg = spec.cfg.model_copy(update={"evaluate": spec.cfg.evaluate.model_copy(update=evaluate)})
    return spec


@pytest.mark.parametrize("runtime", ["merged", "ct2-float32", "ct2-int8"])
def test_label_decoder_runtimes_answer_as_eager_scored_and_greedy(label_decoder, runtime):
    eng, test, eager_spec = label_decoder
    spec = load_specialist(eng, "t01", runtime=runtime)
    assert spec.runtime == runtime and spec.tokenizer is not None
    tol, tie = (INT8_LOGPROB_TOLERANCE, INT8_NEAR_TIE) if runtime == "ct2-int8" else (1e-3, 0.0)
    for mode in ("greedy", "score"):
        eager = _as(eager_spec, label_decoding=mode).answer(test)
        _same(_as(spec, label_decoding=mode).answer(test), eager, tol, tie)
    # free text (greedy generation up to max_new_tokens, cut at the end of turn), scored the same way; the
    # near ties are those of the label scores (the first generated token is the label's)
    eager_spec.output_kind = spec.output_kind = "text"
    try:
        _same(spec.answer(test), eager_spec.answer(test), tol, tie, eager.signals["label_margin"])
    finally:
        eager_spec.output_kind = spec.output_kind = "label"


def test_ct2_conversion_is_cached_and_rebuilt_when_the_adapter_changes(label_decoder):
    eng, test, _ = label_decoder
    load_runtime(eng, "t01", "ct2-int8")
    again = load_runtime(eng, "t01", "ct2-int8")
    assert again.load_info["converted"] is False
    adapter = eng.artifacts.path("adapter", "t01")
    weights = next(adapter.glob("*.safetensors"))
    keep = weights.read_bytes()
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(weights))
    save_file({k: v * 2 for k, v in tensors.items()}, str(weights), metadata={"format": "pt"})
    try:
        changed = load_runtime(eng, "t01", "ct2-int8")
        assert changed.load_info["converted"] is True
        _same(changed.answer(test), load_specialist(eng, "t01").answer(test), INT8_LOGPROB_TOLERANCE, INT8_NEAR_TIE)
    finally:
        weights.write_bytes(keep)


def test_tool_call_decoder_in_ct2_chooses_names_and_arguments_as_eager(tmp_path):
    ft = {**FT, "train": {**FT["train"], "max_steps": 8}, "evaluate": {**FT["evaluate"], "max_new_tokens": 6}}
    eng = toy_engagement(tmp_path / "tools", n=60, task="tool_call",
                         candidate_folder=save_bpe_candidate(tmp_path / "bpe"), finetune=ft)
    test = _trained(eng)
    eager = load_specialist(eng, "t01").answer(test)
    run = load_specialist(eng, "t01", runtime="ct2-float32").answer(test)
    _same(run, eager, 1e-3)
    assert all(p.startswith('{"name": "paint_') for p in run.predictions)
