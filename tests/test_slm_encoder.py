"""Encoder classifier candidates on a tiny BERT built in code: the head learns, saves, reloads, calibrates."""

from __future__ import annotations

import numpy as np
import pytest
from slm_toy import FRUITS, one_thread, save_toy_encoder, toy_engagement, toy_examples  # noqa: F401

from fde_toolkit import FdeError
from fde_toolkit.slm.config import ClassifierSettings
from fde_toolkit.slm.encoder import (EncoderClassifier, expected_calibration_error, fit_classifier, fit_temperature,
                                     softmax)

pytestmark = pytest.mark.usefixtures("one_thread")


def _split(n: int, seed: int):
    ex = toy_examples(n, seed)
    return [m[1]["content"] for m, _ in ex], [y for _, y in ex]


@pytest.fixture(scope="module")
def encoder_folder(tmp_path_factory):
    return str(save_toy_encoder(tmp_path_factory.mktemp("enc") / "tiny-bert"))


@pytest.mark.parametrize("lexical", [False, True])
def test_head_learns_a_separable_task_and_probabilities_sum_to_one(encoder_folder, lexical):
    xs, ys = _split(200, 0)
    vx, vy = _split(40, 1)
    tx, ty = _split(80, 2)
    clf, res = fit_classifier(encoder_folder, xs, ys, vx, vy, ClassifierSettings(layers=2, lexical=lexical))
    assert clf.labels == sorted(FRUITS.values())
    acc = np.mean([p == y for p, y in zip(clf.predict(tx), ty)])
    assert acc >= 0.95, acc  # the fruit word decides the colour: a linear head on the features finds it
    probs = clf.predict_proba(tx)
    assert probs.shape == (80, 4) and np.allclose(probs.sum(1), 1.0) and (probs >= 0).all()
    assert res["val_examples"] == 40 and res["temperature"] > 0 and res["converged"]
    assert res["features"] == clf.features(tx[:1]).shape[1]
    stacked = np.asarray(clf.features(tx) @ clf.coef.T) + clf.intercept  # the block-wise logits are the same
    np.testing.assert_allclose(clf.logits(tx), stacked, rtol=1e-4, atol=1e-5)


def test_saved_classifier_reloads_with_identical_probabilities(encoder_folder, tmp_path):
    xs, ys = _split(120, 0)
    vx, vy = _split(20, 1)
    clf, _ = fit_classifier(encoder_folder, xs, ys, vx, vy, ClassifierSettings(layers=2))
    folder = clf.save(tmp_path / "adapter")
    again = EncoderClassifier.load(folder, encoder_folder)
    tx, _ = _split(30, 5)
    assert again.labels == clf.labels and again.temperature == clf.temperature
    np.testing.assert_allclose(again.predict_proba(tx), clf.predict_proba(tx), rtol=1e-6, atol=1e-7)


def test_two_labels_give_a_two_column_softmax(encoder_folder):
    xs, ys = _split(120, 0)
    keep = [i for i, y in enumerate(ys) if y in ("red", "yellow")]
    clf, _ = fit_classifier(encoder_folder, [xs[i] for i in keep], [ys[i] for i in keep], [], [],
                            ClassifierSettings(layers=1))
    p = clf.predict_proba(["a ripe banana please", "my apple"])
    assert p.shape == (2, 2) and np.allclose(p.sum(1), 1.0)
    assert clf.predict(["a ripe banana please", "my apple"]) == ["yellow", "red"]


def test_one_label_is_a_clear_error(encoder_folder):
    with pytest.raises(FdeError, match="at least two labels"):
        fit_classifier(encoder_folder, ["a", "b"], ["red", "red"], [], [])


def test_temperature_and_calibration_error_by_hand():
    # over-confident logits: right 3 times in 4 at confidence ~1.0 -> a temperature above 1 lowers the NLL
    z = np.array([[10.0, 0.0], [10.0, 0.0], [10.0, 0.0], [10.0, 0.0]])
    y = np.array([0, 0, 0, 1])
    t = fit_temperature(z, y)
    assert t > 1.0
    # the NLL-optimal confidence is the accuracy: softmax(10 / t) ~= 0.75
    assert softmax(z / t)[0, 0] == pytest.approx(0.75, abs=0.02)
    # all right on validation: the temperature stays finite and the confidence below 1
    sure = fit_temperature(z[:3], y[:3])
    assert 0.05 < sure and softmax(z[:1] / sure)[0, 0] < 0.999
    # ECE: one bin (confidence 0.9) holding accuracy 0.5 -> |0.9 - 0.5| = 0.4
    p = np.array([[0.9, 0.1], [0.9, 0.1]])
    assert expected_calibration_error(p, np.array([0, 1])) == pytest.approx(0.4)
    assert fit_temperature(z[:0], y[:0]) == 1.0


def test_encoder_candidate_through_finetune_and_evaluate(encoder_folder, tmp_path):
    import yaml

    from fde_toolkit.engagement import Engagement
    from fde_toolkit.slm import build_dataset, finetune
    from fde_toolkit.slm.evaluation import evaluate
    from fde_toolkit.slm.selection import select_candidates
    from slm_toy import hash_embedder, save_toy_candidate

    eng = toy_engagement(tmp_path / "acme", n=160)
    cfg = yaml.safe_load((eng.root / "engagement.yaml").read_text())
    cfg["candidates"] = [{"id": "toy", "folder": str(save_toy_candidate(tmp_path / "toy")), "params_m": 0.1},
                         {"id": "tiny-bert", "kind": "encoder", "folder": encoder_folder, "params_m": 0.05}]
    cfg["finetune"] = {"classifier": {"layers": 2}, "select": {"examples": 12, "latency_examples": 2},
                       "evaluate": {"latency_examples": 2, "max_new_tokens": 8, "baseline_examples": 10}}
    (eng.root / "engagement.yaml").write_text(yaml.safe_dump(cfg))
    eng = Engagement.load(eng.root)
    build_dataset(eng, "t01")
    sel = select_candidates(eng, "t01", embedder=hash_embedder, progress=False).data
    enc_row = next(r for r in sel["ranking"] if r["candidate"] == "tiny-bert")
    assert enc_row["fitted"]["accuracy"] >= 0.9 and enc_row["zero_shot"] is None
    assert sel["best"] == "tiny-bert"  # better than an untrained toy decoder, and smaller

    tr = finetune(eng, "t01").data
    assert tr["specialist"] == "encoder" and tr["candidate"]["id"] == "tiny-bert"
    adapter = eng.artifacts.path("adapter", "t01")
    assert (adapter / "classifier.json").is_file() and (adapter / "head.safetensors").is_file()
    assert "encoder classifier" in (eng.artifacts.path("model_card", "t01")).read_text()

    rep = evaluate(eng, "t01", embedder=hash_embedder).data
    ft = rep["variants"]["fine_tuned"]
    assert rep["specialist"] == "encoder" and ft["examples"] == rep["examples"] > 10
    assert rep["variants"]["few_shot"]["examples"] == 10 and rep["baseline_examples"] == 10
    assert ft["metrics"]["accuracy"] >= 0.9 and ft["latency_ms"]["p50"] > 0
    preds = eng.artifacts.read("predictions", "t01")
    assert all(0 < p["fine_tuned_confidence"] <= 1 for p in preds)
    assert preds[-1]["few_shot"] is None and preds[0]["few_shot"] is not None

    with pytest.raises(FdeError, match="label tasks only"):
        from fde_toolkit.slm.tuning import resolve_candidate
        resolve_candidate(eng, "t01", "tiny-bert", output_kind="json")


@pytest.mark.slow
def test_shipped_minilm_classifier_on_real_banking_queries():
    """The built-in encoder candidate on Banking77 (real queries our code did not write): every fifth
    training query (1,800 to fit, 200 to calibrate), 600 test queries. The full split reaches 0.942
    (benchmarks/RESULTS.md)."""
    import csv
    from pathlib import Path

    from fde_toolkit.slm.registry import ENCODER_ID, parse_candidates, weights_folder
    from fde_toolkit.slm.stats import wilson_interval

    data = Path(__file__).resolve().parents[2] / "shared" / "data" / "banking77"
    if not (data / "train.csv").is_file():
        pytest.skip("../shared/data/banking77 is not here")
    rows = {s: list(csv.DictReader((data / f"{s}.csv").open(encoding="utf-8"))) for s in ("train", "test")}
    train, test = rows["train"][::5], rows["test"][::5][:600]  # strided: the files are grouped by intent
    fit, val = [r for i, r in enumerate(train) if i % 10], train[::10]
    enc = next(c for c in parse_candidates([]) if c.id == ENCODER_ID)
    clf, res = fit_classifier(weights_folder(enc), [r["text"] for r in fit], [r["category"] for r in fit],
                              [r["text"] for r in val], [r["category"] for r in val])
    right = sum(p == r["category"] for p, r in zip(clf.predict([r["text"] for r in test]), test))
    lo, _ = wilson_interval(right, len(test))
    assert lo >= 0.75, (right / len(test), lo)  # measured 2026-12-03: see the assertion message on failure
    assert res["val_ece_after"] <= res["val_ece_before"] + 0.02
