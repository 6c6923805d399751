"""Readable task names: class-based TF-IDF top terms, plus labels, JSON keys and tool names.

    terms = top_terms(docs, classes, weights)   # {class: [term, ...]} most distinctive first
    task_name("label", terms, labels=[...])     # "classify (14 labels): claim_status / file_new_claim"
    task_name("tool_call", terms, tool_sets=50) # "tool calls over 50 tool sets: weather / flights"
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

# Placeholders left by normalisation and scrubbing are not terms.
_NOISE = {"num", "id", "date", "time", "email", "url", "person", "phone", "policy_number", "credit_card",
          "location", "address", "iban", "ssn", "ip_address"}
_TOKEN = r"(?u)\b[a-z][a-z_]{2,}\b"
# chat fillers that say nothing about the task
_FILLERS = ["thx", "thanks", "thank", "hi", "hello", "hey", "please", "pls", "plz", "morning", "advance", "ok", "okay"]
_STOP = sorted(ENGLISH_STOP_WORDS | set(_FILLERS))

KIND_VERB = {
    "label": "classify",
    "json": "extract JSON",
    "tool_call": "tool call",
    "short_text": "short answer",
    "long_text": "open-ended",
    "unknown": "requests",
}


def top_terms(docs: list[str], classes: list[int], weights: list[float] | None = None,
              n: int = 8) -> dict[int, list[str]]:
    """Most distinctive unigrams and bigrams per class by class-based TF-IDF.

    tf = term count in the class / words in the class; idf = log(1 + mean words per class / term count
    over all classes). Documents may repeat across classes; weights count repeated calls.
    """
    if not docs:
        return {}
    vec = CountVectorizer(token_pattern=_TOKEN, ngram_range=(1, 2), stop_words=_STOP, min_df=1,
                          max_features=50_000, dtype=np.float64)
    try:
        x = vec.fit_transform(docs)
    except ValueError:  # no term survived (only numbers, placeholders)
        return {c: [] for c in set(classes)}
    vocab = vec.get_feature_names_out()
    keep = np.array([not (set(t.split()) & _NOISE) for t in vocab])
    labels, inverse = np.unique(np.asarray(classes), return_inverse=True)
    w = np.ones(len(docs)) if weights is None else np.asarray(weights, dtype=np.float64)
    onehot = sparse.csr_matrix((w, (inverse, np.arange(len(docs)))), shape=(len(labels), len(docs)))
    counts = np.asarray((onehot @ x).todense())
    counts[:, ~keep] = 0
    words = counts.sum(axis=1, keepdims=True)
    tf = counts / np.where(words == 0, 1, words)
    idf = np.log(1 + words.mean() / np.maximum(counts.sum(axis=0), 1e-9))
    score = tf * idf[None, :]
    out: dict[int, list[str]] = {}
    for i, c in enumerate(labels):
        order = np.argsort(-score[i], kind="stable")
        chosen: list[str] = []
        for j in order:
            if score[i, j] <= 0 or len(chosen) >= n:
                break
            t = vocab[j]
            # skip a term already covered by a chosen bigram, or a bigram made of chosen words
            if any(t in c2.split() or set(t.split()) <= set(c2.split()) for c2 in chosen):
                continue
            chosen.append(t)
        out[int(c)] = chosen
    return out


def task_name(kind: str, terms: list[str], labels: list[str] | None = None, n_labels: int = 0,
              json_keys: list[str] | None = None, tools: list[str] | None = None,
              tool_sets: int | None = None) -> str:
    """A short readable name: what the task does, then what it is about.

    `tool_sets` is given for a tool-call task whose requests bring their own tools: its name counts
    the tool sets and says what the requests are about (no two tools stand for it)."""
    about = " / ".join(terms[:2]) if terms else "misc"
    if kind == "label" and labels:
        return f"classify ({n_labels} labels): " + " / ".join(labels[:2])
    if kind == "json" and json_keys:
        return "extract JSON: " + ", ".join(json_keys[:3]) + (", …" if len(json_keys) > 3 else "")
    if kind == "tool_call" and tool_sets is not None:
        return f"tool calls over {tool_sets} tool sets: {about}"
    if kind == "tool_call" and tools:
        return "tool: " + " / ".join(tools[:2]) + (" / …" if len(tools) > 2 else "")
    return f"{KIND_VERB.get(kind, kind)}: {about}"
