"""Specialists' answers with confidence signals, on toy engagements: an encoder classifier and a LoRA decoder."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from slm_toy import hash_embedder, one_thread, save_toy_encoder, toy_engagement  # noqa: F401

from fde_toolkit.engagement import Engagement
from fde_toolkit.routing.signals import ENCODER_SIGNALS, Encoder, SpecialistAnswers, load_specialist
from fde_toolkit.slm import build_dataset
from fde_toolkit.slm.tuning import finetune
from fde_toolkit.slm.evaluation import evaluate

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
