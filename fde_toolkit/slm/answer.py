"""Run an SLM over a split the way the task needs it: prompts (zero- or few-shot), decoding, timing.

    picker = ShotPicker(train_records, k=3)                # nearest training examples by embedding
    run = answer_records(model, tok, test, info, cfg, shots=picker.shots(test))
    run = answer_records(..., progress="evaluating t03")   # a tqdm bar over the examples, with the time left
    run["predictions"], run["examples_per_s"]
    lat = single_request_latency(model, tok, test[:10], info, cfg)   # ms per request, batch of one
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import numpy as np

from fde_toolkit.slm.chat import Message, few_shot_messages, prompt_messages
from fde_toolkit.slm.config import FinetuneConfig
from fde_toolkit.slm.decode import examples_bar, predict
from fde_toolkit.slm.tools import offered_tool_names

Shots = list[tuple[list[Message], str]]


def request_text(record: dict[str, Any]) -> str:
    """What the user asked: the non-system turns of the request."""
    return "\n".join(m["content"] for m in record["messages"] if m["role"] != "system")


class ShotPicker:
    """The k training examples most similar to a request (cosine of sentence embeddings)."""

    def __init__(self, train: Sequence[dict[str, Any]], k: int = 3,
                 embedder: Callable[[list[str]], np.ndarray] | None = None):
        if embedder is None:
            from fde_toolkit.tasks.embed import SentenceEmbedder
            embedder = SentenceEmbedder()
        self.train, self.k, self.embedder = list(train), k, embedder
        self._vectors = self._unit(embedder([request_text(r) for r in self.train])) if self.train else None

    @staticmethod
    def _unit(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)

    def shots(self, records: Sequence[dict[str, Any]], tools_in_prompt: str = "compact") -> list[Shots]:
        if self._vectors is None or not records:
            return [[] for _ in records]
        q = self._unit(self.embedder([request_text(r) for r in records]))
        sims = q @ self._vectors.T
        out = []
        for row in sims:
            top = np.argsort(-row, kind="stable")[: self.k][::-1]  # the most similar last, next to the query
            out.append([(prompt_messages(self.train[i], "drop", tools_in_prompt), self.train[i]["target"])
                        for i in top])
        return out


def conversations(records: Sequence[dict[str, Any]], cfg: FinetuneConfig, shots: list[Shots] | None = None,
                  system_prompt: str = "keep") -> list[list[Message]]:
    convs = [prompt_messages(r, system_prompt, cfg.dataset.tools_in_prompt) for r in records]
    if shots is not None:
        convs = [few_shot_messages(c, s) for c, s in zip(convs, shots)]
    return convs


def answer_records(model, tok, records: Sequence[dict[str, Any]], info: dict[str, Any], cfg: FinetuneConfig,
                   shots: list[Shots] | None = None, system_prompt: str = "keep",
                   progress: bool | str = False) -> dict[str, Any]:
    """Predictions for `records` (batched), and the measured throughput.

    `progress`: True or a description ("evaluating t03") shows a tqdm.auto bar over the records with
    the time left (a widget in a notebook); False, the default, prints nothing."""
    convs = conversations(records, cfg, shots, system_prompt)
    t0 = time.perf_counter()
    preds = predict(model, tok, convs, _kind(info), labels=info.get("labels"), tool_names=info.get("tools"),
                    max_new_tokens=cfg.evaluate.max_new_tokens, batch_size=cfg.evaluate.batch_size,
                    label_decoding=cfg.evaluate.label_decoding, progress=progress,
                    offered_tools=_offered(records))
    dt = time.perf_counter() - t0
    return {"predictions": preds, "seconds": round(dt, 3), "examples_per_s": len(records) / dt if dt > 0 else None}


def single_request_latency(model, tok, records: Sequence[dict[str, Any]], info: dict[str, Any], cfg: FinetuneConfig,
                           shots: list[Shots] | None = None, system_prompt: str = "keep",
                           progress: bool | str = False) -> dict[str, float | None]:
    """Milliseconds to answer one request at a time (p50, p95, mean); `progress` as in answer_records."""
    convs = conversations(records, cfg, shots, system_prompt)
    times = []
    with examples_bar(progress, len(convs), "latency") as bar:
        for c, offered in zip(convs, _offered(records)):
            t0 = time.perf_counter()
            predict(model, tok, [c], _kind(info), labels=info.get("labels"), tool_names=info.get("tools"),
                    max_new_tokens=cfg.evaluate.max_new_tokens, batch_size=1,
                    label_decoding=cfg.evaluate.label_decoding, offered_tools=[offered])
            times.append((time.perf_counter() - t0) * 1000)
            bar.update(1)
    return latency_summary(times)


def latency_summary(times_ms: Sequence[float]) -> dict[str, float | None]:
    """p50, p95 and mean of per-request milliseconds (None each when nothing was timed)."""
    if not times_ms:
        return {"p50": None, "p95": None, "mean": None}
    a = np.asarray(times_ms)
    return {"p50": round(float(np.percentile(a, 50)), 2), "p95": round(float(np.percentile(a, 95)), 2),
            "mean": round(float(a.mean()), 2)}


def _offered(records: Sequence[dict[str, Any]]) -> list[list[str]]:
    """The tools each request offered: a tool call names one of its own request's tools."""
    return [offered_tool_names(r.get("tools")) for r in records]


def _kind(info: dict[str, Any]) -> str:
    return info.get("output_kind", "text")
