"""SLM readiness: how well a small fine-tuned model can take a task over, as a score in [0, 1] with reasons.

    r = readiness(TaskFacts(calls=7340, volume_share=0.37, kind="label", similarity=0.71, ...))
    r["score"], r["reasons"]     # 0.91, ["+ structured output: labels (14 distinct)", ...]

Each factor scores in [0, 1]; the score is their weighted mean. What an SLM needs: volume (enough to
pay off and to train on), narrow and repetitive input, structured or short output, the same input
getting the same output, few errors, and no long open-ended reasoning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

WEIGHTS = {
    "volume": 0.15,
    "narrow_input": 0.20,
    "structured_output": 0.25,
    "short_output": 0.20,
    "determinism": 0.15,
    "errors": 0.05,
}
STRUCTURE = {"label": 1.0, "tool_call": 1.0, "json": 0.9, "short_text": 0.6, "unknown": 0.5, "long_text": 0.1}
KIND_WORDS = {"label": "labels", "tool_call": "tool calls", "json": "JSON objects", "short_text": "short free text",
              "long_text": "long free text", "unknown": "not logged"}


@dataclass
class TaskFacts:
    """What readiness looks at, measured per task by discovery."""

    calls: int
    volume_share: float
    kind: str
    similarity: float | None  # mean cosine similarity of requests to the task centre
    median_output_tokens: float | None
    determinism: float | None  # share of repeated requests that got their most common output
    error_rate: float
    n_labels: int = 0


def _clip(x: float) -> float:
    return max(0.0, min(1.0, x))


def readiness(f: TaskFacts) -> dict:
    """{"score", "factors": {name: score}, "reasons": ["+ ...", "- ...", "~ ..."]}."""
    factors: dict[str, float] = {}
    reasons: list[str] = []

    def add(name: str, score: float, good: str, bad: str, neutral: str | None = None) -> None:
        factors[name] = round(score, 3)
        if neutral is not None:
            reasons.append(f"~ {neutral}")
        else:
            reasons.append(f"+ {good}" if score >= 0.6 else f"- {bad}")

    vol = _clip(math.log10(max(f.calls, 1)) / 3)
    add("volume", vol, f"{f.calls:,} calls ({f.volume_share:.1%} of volume)",
        f"only {f.calls:,} calls ({f.volume_share:.1%} of volume): little to gain and little to train on")

    if f.similarity is None:
        add("narrow_input", 0.5, "", "", "input narrowness not measured")
    else:
        add("narrow_input", _clip((f.similarity - 0.25) / 0.40),
            f"narrow, repetitive requests (mean similarity {f.similarity:.2f} to the task centre)",
            f"varied requests (mean similarity {f.similarity:.2f} to the task centre)")

    structure = STRUCTURE.get(f.kind, 0.5)
    what = KIND_WORDS.get(f.kind, f.kind)
    if f.kind == "label" and f.n_labels:
        what = f"labels ({f.n_labels} distinct)"
    if f.kind == "unknown":
        add("structured_output", structure, "", "", "output shape unknown: no usable responses logged")
    else:
        add("structured_output", structure, f"structured output: {what}", f"unstructured output: {what}")

    if f.median_output_tokens is None or f.kind == "unknown":
        add("short_output", 0.5, "", "", "output length unknown")
    else:
        t = f.median_output_tokens
        short = _clip((math.log(512) - math.log(max(t, 1))) / (math.log(512) - math.log(64)))
        add("short_output", short, f"short outputs (median {t:.0f} tokens)",
            f"long open-ended outputs (median {t:.0f} tokens): reasoning a small model does poorly")

    if f.determinism is None:
        add("determinism", 0.5, "", "", "determinism not measurable: too few repeated requests")
    else:
        add("determinism", _clip(f.determinism),
            f"deterministic: {f.determinism:.0%} of repeated requests got the same output",
            f"not deterministic: only {f.determinism:.0%} of repeated requests got the same output")

    add("errors", _clip(1 - f.error_rate / 0.10), f"error rate {f.error_rate:.1%}",
        f"high error rate {f.error_rate:.1%}")

    score = sum(WEIGHTS[k] * v for k, v in factors.items())
    return {"score": round(score, 3), "factors": factors, "reasons": reasons}
