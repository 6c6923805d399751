"""A task's specialist, whichever kind it is: an encoder classifier or a decoder with a LoRA adapter.

    clf, result = train_encoder(cand, splits, cfg, seed=7)       # `fde finetune` for an encoder candidate
    spec = load_specialist(eng, "t01")                           # reads models/t01/adapter/
    run = spec.answer(test_records)                              # predictions, confidence, examples per second
    spec.latency(test_records[:20])                              # ms per request, one at a time

The encoder's request text is what the user sent (the non-system turns): the system prompt of a
label task is the same for every call and carries the label list, which the head already knows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from fde_toolkit.slm.answer import latency_summary, request_text
from fde_toolkit.slm.config import FinetuneConfig
from fde_toolkit.slm.registry import Candidate, weights_folder

def train_encoder(cand: Candidate, splits: dict[str, list[dict]], cfg: FinetuneConfig, seed: int = 0):
    """(EncoderClassifier, result) fitted on the train split and calibrated on the val split."""
    from fde_toolkit.slm.encoder import fit_classifier

    tr, va = splits["train"], splits["val"]
    return fit_classifier(weights_folder(cand), [request_text(r) for r in tr], [r["target"] for r in tr],
                          [request_text(r) for r in va], [r["target"] for r in va], cfg.classifier, seed=seed)


def latency_ms(fn, items: Sequence[Any]) -> dict[str, float | None]:
    """Milliseconds `fn([item])` takes per item, one at a time (p50, p95, mean)."""
    times = []
    for it in items:
        t0 = time.perf_counter()
        fn([it])
        times.append((time.perf_counter() - t0) * 1000)
    return latency_summary(times)


@dataclass
class EncoderSpecialist:
    """An encoder classifier answering label requests, with a calibrated confidence per answer."""

    classifier: Any  # EncoderClassifier

    kind = "encoder"

    def answer(self, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
        texts = [request_text(r) for r in records]
        t0 = time.perf_counter()
        probs = self.classifier.predict_proba(texts) if texts else np.zeros((0, len(self.classifier.labels)))
        dt = time.perf_counter() - t0
        preds = [self.classifier.labels[i] for i in probs.argmax(1)] if len(texts) else []
        return {"predictions": preds, "confidence": [round(float(p), 4) for p in probs.max(1)] if len(texts) else [],
                "seconds": round(dt, 3), "examples_per_s": len(texts) / dt if dt > 0 else None}

    def latency(self, records: Sequence[dict[str, Any]]) -> dict[str, float | None]:
        if records:
            self.classifier.predict_proba([request_text(records[0])])  # warm-up
        return latency_ms(lambda rs: self.classifier.predict_proba([request_text(r) for r in rs]), records)


def load_encoder(eng, task_id: str) -> EncoderSpecialist:
    from fde_toolkit.slm.encoder import EncoderClassifier

    folder = eng.artifacts.require("adapter", task_id)
    training = eng.artifacts.read("training", task_id)
    cand = Candidate.model_validate(training["candidate"])
    return EncoderSpecialist(EncoderClassifier.load(folder, weights_folder(cand)))
