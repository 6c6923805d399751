"""Every specialist's answers, with the confidence signals routing calibrates its escalation on.

    spec = load_specialist(eng, "t01")            # encoder classifier or LoRA decoder, from models/t01/
    run = spec.answer(test_records)               # dataset rows ({"id", "messages", "tools"?, ...})
    run.predictions[0], run.signals["top_probability"][0], run.problems[0]   # "paint_red", 0.97, []
    spec.latency_ms(test_records[:20])            # p50 ms to answer one request, signals included

Signals, higher = more sure, one float per record:
- encoder: "top_probability" (the calibrated top probability), "margin" (top minus second).
- decoder: the answer's tokens scored under the model in one teacher-forced pass: "min_token_logprob",
  "q10_token_logprob", "q25_token_logprob", "mean_token_logprob"; label and tool-call tasks add
  "label_margin": the best minus the second-best summed log-likelihood among the labels (among the
  tool names the request offered), the scores the answer was chosen by. A label set decoded greedily
  inside its trie (finetune.evaluate.label_decoding) has no full score per label: its margin is the
  smallest, over the answer's branching tokens, of the chosen token's log-probability minus the best
  other allowed token's. With a single choice there is no rival: the margin is NO_RIVAL_MARGIN.
The decoder answers exactly as `fde evaluate` does (same prompts, label scoring, constrained tool
names, greedy generation, finetune.evaluate settings). `problems` are the validators' reasons per
answer (routing/validators.py: answers that always escalate).
Importing this module loads no model stack; loading a specialist does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

Problems = Callable[..., list[str]]  # answer_problems(kind, answer, offered_tools, labels)
NO_RIVAL_MARGIN = 1000.0  # nats: a label or tool name the answer could not have chosen otherwise
ENCODER_SIGNALS = ("top_probability", "margin")
TOKEN_SIGNALS = ("min_token_logprob", "q10_token_logprob", "q25_token_logprob", "mean_token_logprob")


@dataclass
class SpecialistAnswers:
    """One specialist's answers to a list of records: per record a prediction, its signals and problems."""

    predictions: list[str]
    signals: dict[str, np.ndarray]  # signal name -> one float per record, higher = more sure
    problems: list[list[str]]  # validator reasons per record ([] when the answer passes)
    seconds: float  # wall time of answer(), signals included


@dataclass
class Specialist:
    """A task's specialist as routing sees it: answers with signals. Build it with load_specialist."""

    task: str
    kind: str  # "encoder" | "decoder"
    output_kind: str  # label | json | tool_call | text
    candidate: str  # the candidate id the specialist was fitted from
    labels: list[str] = field(default_factory=list)
    validate: Problems | None = None  # default: routing.validators.answer_problems

    def answer(self, records: Sequence[dict[str, Any]]) -> SpecialistAnswers:
        t0 = time.perf_counter()
        preds, signals = self._answer(list(records)) if records else ([], self._empty_signals())
        problems = self._problems(records, preds)
        return SpecialistAnswers(preds, signals, problems, round(time.perf_counter() - t0, 3))

    def latency_ms(self, records: Sequence[dict[str, Any]]) -> float | None:
        """p50 milliseconds to answer one request at a time (signals included), after one warm-up."""
        from fde_toolkit.slm.specialist import latency_ms

        if not records:
            return None
        self.answer(records[:1])
        return latency_ms(self.answer, list(records))["p50"]

    def _problems(self, records: Sequence[dict[str, Any]], preds: list[str]) -> list[list[str]]:
        check = self.validate
        if check is None:
            from fde_toolkit.routing.validators import answer_problems as check
        labels = self.labels if self.output_kind == "label" else None
        return [list(check(self.output_kind, p, r.get("tools"), labels)) for r, p in zip(records, preds)]

    def _answer(self, records: list[dict[str, Any]]) -> tuple[list[str], dict[str, np.ndarray]]:
        raise NotImplementedError

    def _empty_signals(self) -> dict[str, np.ndarray]:
        raise NotImplementedError


@dataclass
class Encoder(Specialist):
    """An encoder classifier (slm/encoder.py): its calibrated probabilities are the signals."""

    classifier: Any = None  # EncoderClassifier

    def _answer(self, records: list[dict[str, Any]]) -> tuple[list[str], dict[str, np.ndarray]]:
        from fde_toolkit.slm.answer import request_text

        probs = self.classifier.predict_proba([request_text(r) for r in records])
        top2 = np.sort(probs, axis=1)[:, ::-1][:, :2]
        second = top2[:, 1] if probs.shape[1] > 1 else np.zeros(len(probs))
        preds = [self.classifier.labels[i] for i in probs.argmax(1)]
        return preds, {"top_probability": top2[:, 0].astype(np.float64),
                       "margin": (top2[:, 0] - second).astype(np.float64)}

    def _empty_signals(self) -> dict[str, np.ndarray]:
        return {k: np.zeros(0) for k in ENCODER_SIGNALS}


def load_specialist(eng, task_id: str, validate: Problems | None = None) -> Specialist:
    """The task's specialist from artifacts/models/<task>: an Encoder or a Decoder, by training.json."""
    training = eng.artifacts.read("training", task_id)
    kind = "encoder" if training.get("specialist") == "encoder" else "decoder"
    info = eng.artifacts.read("dataset_info", task_id)
    common = dict(task=task_id, kind=kind, output_kind=info.get("output_kind", "text"),
                  candidate=training["candidate"]["id"], validate=validate)
    if kind == "encoder":
        from fde_toolkit.slm.specialist import load_encoder

        clf = load_encoder(eng, task_id).classifier
        return Encoder(**common, labels=list(clf.labels), classifier=clf)
    return _load_decoder(eng, task_id, training, info, common)


def _load_decoder(eng, task_id: str, training: dict[str, Any], info: dict[str, Any], common: dict[str, Any]):
    raise NotImplementedError("decoder specialists: not yet")
