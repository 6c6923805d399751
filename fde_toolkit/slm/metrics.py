"""Quality of an SLM's answers against the LLM's logged answers, by output kind.

    label_scores(preds, refs)        # accuracy, macro_f1
    json_scores(preds, refs)         # validity, field_f1, exact
    tool_call_scores(preds, refs)    # name_accuracy, call_accuracy (arguments compared as parsed JSON)
    tool_call_breakdown(preds, refs, seen_tools=tools_in(train_targets))   # the same on seen / unseen tools
    chrf(hyp, ref), corpus_chrf(hyps, refs)   # character n-gram F-score (chrF2, 0-100), for free text
    score(kind, preds, refs)         # the kind's metrics, `agreement` with the LLM and per-example `success`

Per example (what the aggregates average, and what confidence intervals resample): exact_matches,
label_matches, json_example_scores, tool_call_example_scores, chrf_stats (+ chrf_from_stats), successes.

The reference is what the LLM answered, so `agreement` is the share of answers equivalent to it:
same label; same parsed JSON; same tool and arguments; chrF at or above a threshold for text.
Tool names compare by `tools.tool_key`: a predicted `requests.get` is the reference `requests_get`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Sequence

import orjson

from fde_toolkit.slm.tools import tool_key

# ----------------------------------------------------------------------------- labels and exact match


def _norm(s: str | None) -> str:
    return " ".join((s or "").split())


def exact_matches(preds: Sequence[str], refs: Sequence[str]) -> list[bool]:
    """Per example: equal to the reference after trimming and collapsing whitespace."""
    return [_norm(p) == _norm(r) for p, r in zip(preds, refs)]


def exact_match(preds: Sequence[str], refs: Sequence[str]) -> float:
    """Share of answers equal to the reference after trimming and collapsing whitespace."""
    return sum(exact_matches(preds, refs)) / len(refs) if refs else 0.0


def label_matches(preds: Sequence[str], refs: Sequence[str]) -> list[bool]:
    """Per example: the same label (outer whitespace ignored)."""
    return [p.strip() == r.strip() for p, r in zip(preds, refs)]


def label_accuracy(preds: Sequence[str], refs: Sequence[str]) -> float:
    return sum(label_matches(preds, refs)) / len(refs) if refs else 0.0


def macro_f1(preds: Sequence[str], refs: Sequence[str]) -> float:
    """Unweighted mean of per-label F1 over every label seen in the references or the predictions."""
    preds = [p.strip() for p in preds]
    refs = [r.strip() for r in refs]
    labels = sorted(set(refs) | set(preds))
    if not labels:
        return 0.0
    tp = Counter(p for p, r in zip(preds, refs) if p == r)
    npred, nref = Counter(preds), Counter(refs)
    f1s = []
    for lab in labels:
        denom = npred[lab] + nref[lab]
        f1s.append(2 * tp[lab] / denom if denom else 0.0)
    return sum(f1s) / len(f1s)


def label_scores(preds: Sequence[str], refs: Sequence[str]) -> dict[str, float]:
    return {"accuracy": label_accuracy(preds, refs), "macro_f1": macro_f1(preds, refs)}


# ----------------------------------------------------------------------------- JSON

def parse_json(text: str | None) -> Any:
    """The JSON value in an answer (a ```json fence allowed), or None when it does not parse."""
    if text is None:
        return None
    t = text.strip()
    if t.startswith("```"):
        t = t.removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        return orjson.loads(t)
    except orjson.JSONDecodeError:
        return None


def _canon(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def flatten(value: Any, prefix: str = "") -> set[tuple[str, str]]:
    """(path, value) pairs of every leaf: {"a": {"b": 1}, "c": [2]} -> {("a.b", "1"), ("c[0]", "2")}."""
    out: set[tuple[str, str]] = set()
    if isinstance(value, dict):
        if not value:
            out.add((prefix, "{}"))
        for k, v in value.items():
            out |= flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list):
        if not value:
            out.add((prefix, "[]"))
        for i, v in enumerate(value):
            out |= flatten(v, f"{prefix}[{i}]")
    else:
        out.add((prefix, _canon(value)))
    return out


def field_f1(pred: Any, ref: Any) -> float:
    """F1 of the (path, value) leaves of two parsed JSON values; 0 when the prediction did not parse."""
    if pred is None:
        return 0.0
    p, r = flatten(pred), flatten(ref)
    if not p and not r:
        return 1.0
    hit = len(p & r)
    return 2 * hit / (len(p) + len(r)) if (p or r) else 0.0


def json_example_scores(preds: Sequence[str], refs: Sequence[str]) -> dict[str, list]:
    """Per example: validity (parses), field_f1 (float) and exact (same parsed value)."""
    pp = [parse_json(p) for p in preds]
    rr = [parse_json(r) for r in refs]
    pairs = list(zip(pp, rr))
    return {"validity": [p is not None for p, _ in pairs], "field_f1": [field_f1(p, r) for p, r in pairs],
            "exact": [p is not None and _canon(p) == _canon(r) for p, r in pairs]}


def json_scores(preds: Sequence[str], refs: Sequence[str]) -> dict[str, float]:
    """validity (share that parses), field_f1 (mean over examples), exact (same parsed value)."""
    n = len(refs)
    if not n:
        return {"validity": 0.0, "field_f1": 0.0, "exact": 0.0}
    return {k: sum(v) / n for k, v in json_example_scores(preds, refs).items()}


# ----------------------------------------------------------------------------- tool calls

def parse_tool_calls(text: str | None) -> list[tuple[str, Any]] | None:
    """[(name, parsed arguments)] from {"name":..., "arguments":...} (or a list of them); None if unreadable.

    Arguments given as a JSON string are parsed too, so '{"a":1}' and {"a": 1} compare equal."""
    v = parse_json(text)
    items = v if isinstance(v, list) else [v]
    out = []
    for it in items:
        if not isinstance(it, dict) or "name" not in it:
            return None
        args = it.get("arguments", {})
        if isinstance(args, str):
            parsed = parse_json(args)
            args = parsed if parsed is not None else args
        out.append((str(it["name"]), args))
    return out


def _same_names(pc: list[tuple[str, Any]], rc: list[tuple[str, Any]]) -> bool:
    return [tool_key(x[0]) for x in pc] == [tool_key(x[0]) for x in rc]


def _same_calls(pc: list[tuple[str, Any]], rc: list[tuple[str, Any]]) -> bool:
    return _same_names(pc, rc) and [_canon(x[1]) for x in pc] == [_canon(x[1]) for x in rc]


def tool_call_example_scores(preds: Sequence[str], refs: Sequence[str]) -> dict[str, list[bool]]:
    """Per example: validity, name_accuracy (same tool names in order, by tool_key), call_accuracy (names and
    parsed arguments)."""
    out: dict[str, list[bool]] = {"validity": [], "name_accuracy": [], "call_accuracy": []}
    for p, r in zip(preds, refs):
        pc, rc = parse_tool_calls(p), parse_tool_calls(r)
        names = pc is not None and rc is not None and _same_names(pc, rc)
        out["validity"].append(pc is not None)
        out["name_accuracy"].append(names)
        out["call_accuracy"].append(names and _same_calls(pc, rc))
    return out


def tool_call_scores(preds: Sequence[str], refs: Sequence[str]) -> dict[str, float]:
    """validity, name_accuracy (same tool names in order), call_accuracy (names and parsed arguments)."""
    n = len(refs)
    if not n:
        return {"validity": 0.0, "name_accuracy": 0.0, "call_accuracy": 0.0}
    return {k: sum(v) / n for k, v in tool_call_example_scores(preds, refs).items()}


def tools_in(targets: Iterable[str | None]) -> set[str]:
    """The tools (by tool_key) that tool-call answers call: the seen tools of a train split's targets."""
    return {tool_key(name) for t in targets for name, _ in (parse_tool_calls(t) or [])}


def tool_call_breakdown(preds: Sequence[str], refs: Sequence[str], seen_tools: set[str]) -> dict[str, dict[str, Any]]:
    """name_accuracy and call_accuracy apart on the test calls whose reference tools were all seen in
    training (`seen_tools`, e.g. tools_in(train targets)) and on those calling a tool never seen.

    {"seen": {"n", "name_accuracy", "call_accuracy"}, "unseen": {...}}; names compare by tool_key; an
    accuracy is None where n is 0; references that do not parse are in neither group."""
    seen = {tool_key(t) for t in seen_tools}
    counts = {g: {"n": 0, "names": 0, "calls": 0} for g in ("seen", "unseen")}
    for p, r in zip(preds, refs):
        rc = parse_tool_calls(r)
        if not rc:
            continue
        c = counts["seen" if all(tool_key(name) in seen for name, _ in rc) else "unseen"]
        c["n"] += 1
        pc = parse_tool_calls(p)
        if pc is not None and _same_names(pc, rc):
            c["names"] += 1
            c["calls"] += _same_calls(pc, rc)
    return {g: {"n": c["n"], "name_accuracy": c["names"] / c["n"] if c["n"] else None,
                "call_accuracy": c["calls"] / c["n"] if c["n"] else None} for g, c in counts.items()}


# ----------------------------------------------------------------------------- chrF

CHRF_ORDER = 6
CHRF_BETA = 2.0


def _char_ngrams(text: str, n: int) -> Counter[str]:
    s = "".join(text.split())  # chrF ignores whitespace
    return Counter(s[i:i + n] for i in range(len(s) - n + 1))


def _chrf_stats(hyp: str, ref: str) -> list[tuple[int, int, int]]:
    """Per order n: (matching n-grams, n-grams in the hypothesis, n-grams in the reference)."""
    out = []
    for n in range(1, CHRF_ORDER + 1):
        h, r = _char_ngrams(hyp, n), _char_ngrams(ref, n)
        out.append((sum((h & r).values()), sum(h.values()), sum(r.values())))
    return out


def chrf_from_stats(stats: Sequence[Sequence[int]]) -> float:
    """chrF as sacrebleu computes it: precision and recall averaged over the orders that exist, then F-beta."""
    precs, recs = [], []
    for match, nh, nr in stats:
        if nh > 0 and nr > 0:
            precs.append(match / nh)
            recs.append(match / nr)
    if not precs:
        return 0.0
    p, r = sum(precs) / len(precs), sum(recs) / len(recs)
    if p + r == 0:
        return 0.0
    b2 = CHRF_BETA ** 2
    return 100.0 * (1 + b2) * p * r / (b2 * p + r)


def chrf(hyp: str, ref: str) -> float:
    """Sentence chrF2 (character 1-6 grams, recall weighted twice), 0-100."""
    if _norm(hyp) == _norm(ref):
        return 100.0
    return chrf_from_stats(_chrf_stats(hyp, ref))


def chrf_stats(hyps: Sequence[str], refs: Sequence[str]) -> list[list[tuple[int, int, int]]]:
    """Per example, per order n: (matching, hypothesis, reference) n-gram counts; summed, they give corpus chrF."""
    return [_chrf_stats(h, r) for h, r in zip(hyps, refs)]


def corpus_chrf(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Corpus chrF2: n-gram statistics summed over all sentences, then one score."""
    total = [[0, 0, 0] for _ in range(CHRF_ORDER)]
    for stats in chrf_stats(hyps, refs):
        for i, s in enumerate(stats):
            for j in range(3):
                total[i][j] += s[j]
    return chrf_from_stats(total)


# ----------------------------------------------------------------------------- by output kind

def successes(kind: str, preds: Sequence[str], refs: Sequence[str], text_success_chrf: float = 60.0) -> list[bool]:
    """Per example: is this answer as good as the LLM's (equivalent to it)?"""
    if kind == "label":
        return [p.strip() == r.strip() for p, r in zip(preds, refs)]
    if kind == "json":
        out = []
        for p, r in zip(preds, refs):
            pp, rr = parse_json(p), parse_json(r)
            out.append(pp is not None and rr is not None and _canon(pp) == _canon(rr))
        return out
    if kind == "tool_call":
        out = []
        for p, r in zip(preds, refs):
            pc, rc = parse_tool_calls(p), parse_tool_calls(r)
            out.append(pc is not None and rc is not None and _same_calls(pc, rc))
        return out
    return [chrf(p, r) >= text_success_chrf for p, r in zip(preds, refs)]


PRIMARY = {"label": "accuracy", "json": "field_f1", "tool_call": "call_accuracy", "text": "chrf"}


def score(kind: str, preds: Sequence[str], refs: Sequence[str], text_success_chrf: float = 60.0) -> dict[str, Any]:
    """The kind's metrics plus exact_match, agreement (share of successes) and `primary` (the headline metric)."""
    preds = [p or "" for p in preds]
    if kind == "label":
        m: dict[str, Any] = label_scores(preds, refs)
    elif kind == "json":
        m = json_scores(preds, refs)
    elif kind == "tool_call":
        m = tool_call_scores(preds, refs)
    else:
        m = {"chrf": corpus_chrf(preds, refs),
             "chrf_mean": sum(chrf(p, r) for p, r in zip(preds, refs)) / len(refs) if refs else 0.0}
    ok = successes(kind, preds, refs, text_success_chrf)
    m["exact_match"] = exact_match(preds, refs)
    m["agreement"] = sum(ok) / len(ok) if ok else 0.0
    m["primary"] = PRIMARY[kind]
    m["n"] = len(refs)
    return m
