"""Every specialist's answers, with the confidence signals routing calibrates its escalation on.

    spec = load_specialist(eng, "t01")            # encoder classifier or LoRA decoder, from models/t01/
    run = spec.answer(test_records)               # dataset rows ({"id", "messages", "tools"?, ...})
    run.predictions[0], run.signals["top_probability"][0], run.problems[0]   # "refund", 0.97, []
    spec.latency_ms(test_records[:20])            # p50 ms to answer one request, signals included
    load_specialist(eng, "t01", runtime="onnx-int8")   # a faster runtime, same answers (hardening/runtimes.py)

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
    runtime: str = "eager"  # hardening/runtimes.py: what computes the answers
    load_info: dict[str, Any] = field(default_factory=dict)  # the runtime's threads, precision, load and conversion

    @property
    def tokenizer(self):
        """The HF tokenizer the specialist reads requests with."""
        raise NotImplementedError

    def answer(self, records: Sequence[dict[str, Any]]) -> SpecialistAnswers:
        t0 = time.perf_counter()
        preds, signals = self._answer(list(records)) if records else ([], self._empty_signals())
        problems = self._problems(records, preds)
        return SpecialistAnswers(preds, signals, problems, round(time.perf_counter() - t0, 3))

    def answer_in_batches(self, records: Sequence[dict[str, Any]], batch_size: int | None) -> SpecialistAnswers:
        """`answer` over consecutive slices of at most `batch_size` records (None: all at once), joined.
        The server answers in the batch size hardening measured best for the runtime."""
        records = list(records)
        if not batch_size or len(records) <= batch_size:
            return self.answer(records)
        parts = [self.answer(records[i:i + batch_size]) for i in range(0, len(records), batch_size)]
        return SpecialistAnswers([p for a in parts for p in a.predictions],
                                 {k: np.concatenate([a.signals[k] for a in parts]) for k in parts[0].signals},
                                 [x for a in parts for x in a.problems], round(sum(a.seconds for a in parts), 3))

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

    @property
    def tokenizer(self):
        return self.classifier.encoder.tok

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


@dataclass
class Decoder(Specialist):
    """A causal LM with the task's LoRA adapter, answering as `fde evaluate` does, then scoring its answers."""

    model: Any = None  # PeftModel, eval mode
    tok: Any = None
    cfg: Any = None  # the engagement's FinetuneConfig (evaluate: max_new_tokens, batch_size, label_decoding)
    tool_names: list[str] = field(default_factory=list)  # the tool names the training answers used
    system_prompt: str = "keep"  # as in training (finetune.train.system_prompt)

    @property
    def tokenizer(self):
        return self.tok

    def _answer(self, records: list[dict[str, Any]]) -> tuple[list[str], dict[str, np.ndarray]]:
        from fde_toolkit.slm.answer import conversations
        from fde_toolkit.slm.chat import encode_prompts
        from fde_toolkit.slm.decode import answer_ids, generate, generate_tool_calls
        from fde_toolkit.slm.tools import offered_tool_names

        ev = self.cfg.evaluate
        prompts = encode_prompts(self.tok, conversations(records, self.cfg, None, self.system_prompt))
        offered = [offered_tool_names(r.get("tools")) for r in records]
        margin = rivals = None
        if self.output_kind == "label" and self.labels:
            preds, answers, margin, rivals = self._labels(prompts)
        elif self.output_kind == "tool_call" and (self.tool_names or any(offered)):
            preds = generate_tool_calls(self.model, self.tok, prompts, self.tool_names, ev.max_new_tokens,
                                        ev.batch_size, offered=offered)
            answers = answer_ids(self.tok, preds)
            margin, _ = tool_name_margins(self.model, self.tok, prompts, self.tool_names, offered)
        else:
            preds = generate(self.model, self.tok, prompts, ev.max_new_tokens, ev.batch_size)
            answers = answer_ids(self.tok, preds)
            if self.output_kind in ("label", "tool_call"):  # free text: no label or tool name was chosen
                margin = np.zeros(len(records))
        lps, best_rival = answer_token_logprobs(self.model, prompts, answers, ev.batch_size, rivals)
        signals = token_signals(lps)
        if rivals is not None:  # greedy label decoding: the margin at the answer's closest branching token
            margin = np.array([float(np.min(lp - r)) if np.isfinite(r).any() else NO_RIVAL_MARGIN
                               for lp, r in zip(lps, best_rival)])
        if margin is not None:
            signals["label_margin"] = np.asarray(margin, dtype=np.float64)
        return preds, signals

    def _labels(self, prompts: list[list[int]]):
        """(predictions, answer ids, margins or None, rival tokens or None), chosen as decode.choose_labels does."""
        from fde_toolkit.slm.decode import answer_ids, choose_sequences, label_mode, score_continuations

        seqs = answer_ids(self.tok, self.labels)
        if label_mode(self.cfg.evaluate.label_decoding, len(self.labels)) == "score":
            scores = score_continuations(self.model, prompts, seqs)
            pick = scores.argmax(1).tolist()
            return [self.labels[i] for i in pick], [seqs[i] for i in pick], top_margin(scores), None
        pick = choose_sequences(self.model, self.tok, prompts, seqs, "greedy", self.cfg.evaluate.batch_size)
        return [self.labels[i] for i in pick], [seqs[i] for i in pick], None, [branch_rivals(seqs[i], seqs)
                                                                              for i in pick]

    def _empty_signals(self) -> dict[str, np.ndarray]:
        names = TOKEN_SIGNALS + (("label_margin",) if self.output_kind in ("label", "tool_call") else ())
        return {k: np.zeros(0) for k in names}


def load_specialist(eng, task_id: str, validate: Problems | None = None, runtime: str | None = None) -> Specialist:
    """The task's specialist from artifacts/models/<task>: an Encoder or a Decoder, by training.json.

    `runtime` (None or "eager": as trained) names a faster one: hardening.runtimes.load_runtime."""
    if runtime not in (None, "eager"):
        from fde_toolkit.hardening.runtimes import load_runtime

        return load_runtime(eng, task_id, runtime, validate=validate)
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


def _load_decoder(eng, task_id: str, training: dict[str, Any], info: dict[str, Any],
                  common: dict[str, Any]) -> Decoder:
    """The base candidate with the task's adapter, as `fde evaluate` loads it."""
    from peft import PeftModel

    from fde_toolkit.slm.registry import Candidate, load_candidate

    adapter = eng.artifacts.require("adapter", task_id)
    model, tok = load_candidate(Candidate.model_validate(training["candidate"]))
    model = PeftModel.from_pretrained(model, str(adapter))
    model.eval()
    return Decoder(**common, labels=list(info.get("labels") or []), model=model, tok=tok, cfg=eng.config.finetune,
                   tool_names=list(info.get("tools") or []),
                   system_prompt=training.get("train", {}).get("system_prompt", "keep"))


# ----------------------------------------------------------------------------- scoring answers

def token_signals(logprobs: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """min, 10% and 25% quantiles (linear), and mean of each answer's token log-probabilities."""
    stats = np.array([[lp.min(), *np.quantile(lp, [0.1, 0.25]), lp.mean()] if len(lp) else [0.0] * 4
                      for lp in logprobs], dtype=np.float64).reshape(-1, 4)
    return {name: stats[:, k] for k, name in enumerate(TOKEN_SIGNALS)}


def top_margin(scores: np.ndarray) -> np.ndarray:
    """Per row, the best minus the second-best score (NO_RIVAL_MARGIN with a single column)."""
    if scores.shape[1] < 2:
        return np.full(len(scores), NO_RIVAL_MARGIN)
    top2 = -np.partition(-scores, 1, axis=1)[:, :2]
    return top2[:, 0] - top2[:, 1]


def branch_rivals(chosen: Sequence[int], seqs: Sequence[Sequence[int]]) -> list[list[int]]:
    """Per token of `chosen`, the other tokens the label trie allowed after the same prefix."""
    out = []
    for k, t in enumerate(chosen):
        out.append(sorted({s[k] for s in seqs if len(s) > k and s[k] != t and list(s[:k]) == list(chosen[:k])}))
    return out


def tool_name_margins(model, tok, prompts: Sequence[list[int]], tool_names: Sequence[str],
                      offered: Sequence[Sequence[str]]) -> tuple[np.ndarray, list[str | None]]:
    """Per prompt, the best minus the second-best log-likelihood among the tool names it may call, scored
    as decode.generate_tool_calls scores them (after the common '{"name": "' head), and the best name.
    NO_RIVAL_MARGIN with one name; 0.0 and None with none (the answer was free text)."""
    from fde_toolkit.slm.decode import TOOL_HEAD, TOOL_TAIL, allowed_tool_names, score_continuations

    margins, best = np.zeros(len(prompts)), [None] * len(prompts)
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, o in enumerate(offered):
        groups.setdefault(tuple(allowed_tool_names(tool_names, o)), []).append(i)
    for names, idx in groups.items():
        if len(names) < 2:
            margins[idx] = NO_RIVAL_MARGIN if names else 0.0
            for i in idx:
                best[i] = names[0] if names else None
            continue
        seqs = [tok(f"{TOOL_HEAD}{n}{TOOL_TAIL}", add_special_tokens=False)["input_ids"] for n in names]
        k = 0
        while all(len(s) > k and s[k] == seqs[0][k] for s in seqs):
            k += 1
        head, rests = (seqs[0][:k], [s[k:] for s in seqs]) if all(len(s) > k for s in seqs) else ([], seqs)
        scores = score_continuations(model, [prompts[i] + head for i in idx], rests)
        margins[idx] = top_margin(scores)
        for i, j in zip(idx, scores.argmax(1)):
            best[i] = names[j]
    return margins, best


def answer_token_logprobs(model, prompts: Sequence[list[int]], answers: Sequence[list[int]], batch_size: int = 8,
                          rivals: Sequence[Sequence[Sequence[int]]] | None = None):
    """Each answer's token log-probabilities after its prompt, teacher-forced, batched by length.

    Returns (log-probs per answer, best rival log-prob per answer token or None): `rivals` names, per
    answer and token, other tokens to compare with (-inf where there are none)."""
    import torch

    dev = next(model.parameters()).device
    lps: list[np.ndarray] = [np.zeros(0)] * len(prompts)
    best: list[np.ndarray] = [np.zeros(0)] * len(prompts)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]) + len(answers[i]))
    with torch.inference_mode():
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            seqs = [list(prompts[i]) + list(answers[i]) for i in idx]
            width, keep = max(map(len, seqs)), max(len(answers[i]) for i in idx)
            ids = torch.zeros((len(idx), width), dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for j, q in enumerate(seqs):  # left padding: every answer ends at the last position
                ids[j, width - len(q):] = torch.tensor(q)
                mask[j, width - len(q):] = 1
            pos = (mask.cumsum(-1) - 1).clamp(min=0)
            logits = model(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=pos.to(dev),
                           use_cache=False, logits_to_keep=keep + 1).logits[:, :-1].float()
            logp = torch.log_softmax(logits, -1)  # position k predicts the token at keep - len(answer) + k
            for j, i in enumerate(idx):
                a = answers[i]
                rows = logp[j, keep - len(a):]
                lps[i] = rows.gather(-1, torch.tensor(a, device=dev)[:, None])[:, 0].double().cpu().numpy()
                if rivals is not None:
                    best[i] = np.array([float(rows[k, list(r)].max()) if r else -np.inf
                                        for k, r in enumerate(rivals[i])])
    return lps, (best if rivals is not None else None)
