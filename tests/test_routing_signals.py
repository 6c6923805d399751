"""Specialists' answers with confidence signals, on toy engagements: an encoder classifier and a LoRA decoder."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from slm_toy import (hash_embedder, one_thread, save_bpe_candidate, save_toy_candidate,  # noqa: F401
                     save_toy_encoder, toy_engagement)

from fde_toolkit.engagement import Engagement
from fde_toolkit.routing.signals import (ENCODER_SIGNALS, NO_RIVAL_MARGIN, TOKEN_SIGNALS, Decoder, Encoder,
                                        SpecialistAnswers, answer_token_logprobs, load_specialist,
                                        tool_name_margins)
from fde_toolkit.slm import build_dataset
from fde_toolkit.slm.evaluation import evaluate
from fde_toolkit.slm.tuning import finetune

pytestmark = pytest.mark.usefixtures("one_thread")


def _with(eng, **config) -> Engagement:
    cfg = yaml.safe_load((eng.root / "engagement.yaml").read_text())
    cfg.update(config)
    (eng.root / "engagement.yaml").write_text(yaml.safe_dump(cfg))
    return Engagement.load(eng.root)


def _evaluated(eng):
    """The test records and what `fde evaluate` wrote for them."""
    build_dataset(eng, "t01")
    finetune(eng, "t01", progress=False)
    evaluate(eng, "t01", embedder=hash_embedder, progress=False)
    return eng.artifacts.read("split", "t01", "test"), eng.artifacts.read("predictions", "t01")


@pytest.fixture(scope="module")
def encoder_engagement(tmp_path_factory):
    root = tmp_path_factory.mktemp("enc")
    eng = _with(toy_engagement(root / "acme", n=160),
                candidates=[{"id": "tiny-bert", "kind": "encoder", "folder": str(save_toy_encoder(root / "bert")),
                             "params_m": 0.05}],
                finetune={"classifier": {"layers": 2, "lexical": False}, "evaluate": {"latency_examples": 2}})
    return eng, *_evaluated(eng)


def test_encoder_specialist_answers_as_evaluate_did_with_calibrated_signals(encoder_engagement):
    eng, test, rows = encoder_engagement
    seen = []
    spec = load_specialist(eng, "t01", validate=lambda *a: seen.append(a) or [])
    assert isinstance(spec, Encoder) and (spec.kind, spec.output_kind, spec.candidate) == ("encoder", "label",
                                                                                            "tiny-bert")
    run = spec.answer(test)
    assert isinstance(run, SpecialistAnswers) and run.seconds >= 0
    assert run.predictions == [r["fine_tuned"] for r in rows]
    assert set(run.signals) == set(ENCODER_SIGNALS)
    for v in run.signals.values():
        assert v.shape == (len(test),) and np.isfinite(v).all()
    top, margin = run.signals["top_probability"], run.signals["margin"]
    assert ((0 < top) & (top <= 1)).all() and ((0 <= margin) & (margin <= top)).all()
    np.testing.assert_allclose(top, [r["fine_tuned_confidence"] for r in rows], atol=1e-4)
    assert run.problems == [[]] * len(test)
    assert seen[0] == ("label", run.predictions[0], None, spec.labels) and len(seen) == len(test)
    assert spec.latency_ms(test[:3]) > 0
    empty = spec.answer([])
    assert empty.predictions == [] and all(len(v) == 0 for v in empty.signals.values())


FT = {"train": {"lr": 0.02, "epochs": 50, "max_steps": 16, "eval_every": 10, "checkpoint_every": 10,
                "budget_minutes": None, "patience": 0, "precision": "fp32"},
      "evaluate": {"latency_examples": 2, "max_new_tokens": 24, "baseline_examples": 2}}


@pytest.fixture(scope="module")
def label_decoder(tmp_path_factory):
    root = tmp_path_factory.mktemp("dec")
    eng = toy_engagement(root / "acme", n=160, candidate_folder=save_toy_candidate(root / "toy"), finetune=FT)
    return eng, *_evaluated(eng)


def _token_signals_hold(run, n):
    for v in run.signals.values():
        assert v.shape == (n,) and np.isfinite(v).all()
    s = run.signals
    assert (s["min_token_logprob"] <= s["q10_token_logprob"]).all()
    assert (s["q10_token_logprob"] <= s["q25_token_logprob"]).all()
    assert (s["min_token_logprob"] <= s["mean_token_logprob"]).all() and (s["mean_token_logprob"] <= 0).all()


def test_label_decoder_answers_as_evaluate_did_and_is_surer_when_right(label_decoder):
    eng, test, rows = label_decoder
    spec = load_specialist(eng, "t01")
    assert isinstance(spec, Decoder) and (spec.kind, spec.output_kind, spec.candidate) == ("decoder", "label", "toy")
    run = spec.answer(test)
    assert run.predictions == [r["fine_tuned"] for r in rows]
    assert set(run.signals) == {*TOKEN_SIGNALS, "label_margin"}
    _token_signals_hold(run, len(test))
    right = np.array([p == r["target"] for p, r in zip(run.predictions, test)])
    assert 0 < right.sum() < len(test), right.mean()  # the toy learns some of it: both kinds of answers exist
    for name in ("label_margin", "mean_token_logprob"):
        v = run.signals[name]
        assert v[right].mean() > v[~right].mean(), name
    assert (run.signals["label_margin"] >= 0).all()  # the chosen label is the best-scored one
    assert run.problems == [[]] * len(test)  # every answer is one of the labels
    again = spec.answer(test[:5])  # deterministic, and a smaller batch gives the same answers
    assert again.predictions == run.predictions[:5]
    np.testing.assert_allclose(again.signals["label_margin"], run.signals["label_margin"][:5], rtol=1e-4, atol=1e-4)


def test_tool_call_decoder_scores_names_and_flags_broken_json(tmp_path):
    from fde_toolkit.slm.answer import conversations
    from fde_toolkit.slm.chat import encode_prompts
    from fde_toolkit.slm.tools import offered_tool_names

    ft = {**FT, "train": {**FT["train"], "max_steps": 8}, "evaluate": {**FT["evaluate"], "max_new_tokens": 3}}
    eng = toy_engagement(tmp_path / "tools", n=60, task="tool_call",
                         candidate_folder=save_bpe_candidate(tmp_path / "bpe"), finetune=ft)
    test, rows = _evaluated(eng)
    spec = load_specialist(eng, "t01")
    run = spec.answer(test)
    assert run.predictions == [r["fine_tuned"] for r in rows]
    assert set(run.signals) == {*TOKEN_SIGNALS, "label_margin"}
    _token_signals_hold(run, len(test))
    assert (run.signals["label_margin"] >= 0).all() and (run.signals["label_margin"] < NO_RIVAL_MARGIN).all()
    # the margin comes from the scores the answer's tool name was chosen by
    prompts = encode_prompts(spec.tok, conversations(test, spec.cfg, None, spec.system_prompt))
    offered = [offered_tool_names(r.get("tools")) for r in test]
    margins, best = tool_name_margins(spec.model, spec.tok, prompts, spec.tool_names, offered)
    np.testing.assert_allclose(margins, run.signals["label_margin"])
    assert [json.loads(p[: p.index(', "arguments"')] + "}")["name"] for p in run.predictions] == best
    # three new tokens of arguments cannot close the JSON object: every answer is broken JSON
    assert all("invalid_json" in p for p in run.problems), run.problems[:3]


def test_teacher_forced_scores_match_label_scoring_and_greedy_labels_match_evaluation(label_decoder):
    from fde_toolkit.slm.answer import answer_records, conversations
    from fde_toolkit.slm.chat import encode_prompts
    from fde_toolkit.slm.decode import answer_ids, score_continuations

    eng, test, _ = label_decoder
    spec = load_specialist(eng, "t01")
    prompts = encode_prompts(spec.tok, conversations(test, spec.cfg))
    seqs = answer_ids(spec.tok, spec.labels)
    scores = score_continuations(spec.model, prompts, seqs)  # one prompt at a time, unpadded
    best = scores.argmax(1)
    lps, _ = answer_token_logprobs(spec.model, prompts, [seqs[i] for i in best], batch_size=4)  # padded batches
    np.testing.assert_allclose([lp.sum() for lp in lps], scores.max(1), rtol=1e-4, atol=1e-4)

    greedy = spec.cfg.model_copy(update={"evaluate": spec.cfg.evaluate.model_copy(update={"label_decoding": "greedy"})})
    spec.cfg = greedy
    run = spec.answer(test)
    assert run.predictions == answer_records(spec.model, spec.tok, test, eng.artifacts.read("dataset_info", "t01"),
                                             greedy)["predictions"]
    _token_signals_hold(run, len(test))


def test_a_task_without_a_specialist_names_the_step_to_run(tmp_path):
    from fde_toolkit import FdeError

    eng = toy_engagement(tmp_path / "bare", n=40)
    with pytest.raises(FdeError, match="fde finetune"):
        load_specialist(eng, "t01")


def test_answer_in_batches_slices_and_joins_in_order():
    from fde_toolkit.routing.signals import Specialist

    class Lengths(Specialist):
        def _answer(self, records):
            self.calls.append(len(records))
            return ([r["id"] for r in records],
                    {"top_probability": np.array([float(len(r["id"])) for r in records])})

        def _empty_signals(self):
            return {"top_probability": np.zeros(0)}

    spec = Lengths(task="t", kind="encoder", output_kind="text", candidate="c")
    spec.calls = []
    recs = [{"id": "x" * (i + 1), "messages": []} for i in range(7)]
    out = spec.answer_in_batches(recs, 3)
    assert spec.calls == [3, 3, 1]
    assert out.predictions == [r["id"] for r in recs] and len(out.problems) == 7
    assert out.signals["top_probability"].tolist() == [float(i + 1) for i in range(7)]
    spec.calls = []
    spec.answer_in_batches(recs, None)
    assert spec.calls == [7]
