"""95% intervals for every figure of `fde evaluate`, paired tests between its variants, and how both read.

    metric_intervals("label", preds, refs)    # {"accuracy": [lo, hi], "macro_f1": [lo, hi], "agreement": ...}
    add_confidence(report, kind, test, predictions, ok)   # intervals per variant, report["comparisons"]
    metric_text(report["variants"]["fine_tuned"]["metrics"], "agreement")   # '95.8% [80%, 99%]'
    comparison_lines(report)   # ['fine-tuned vs few-shot: not distinguishable (McNemar p=0.25, 24 paired calls)']

Shares of examples (accuracy, agreement, validity, exact, ...) get Wilson's interval; corpus-level
metrics (macro_f1, field_f1, chrf, chrf_mean) a percentile bootstrap over examples, seeded. Variants
are compared by McNemar's exact test on their per-example successes, paired by record id (the ids
both answered). Reports written before intervals existed render without them.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from fde_toolkit import formatting as num
from fde_toolkit.slm import metrics as M
from fde_toolkit.slm.stats import bootstrap_interval, mcnemar, paired, wilson_interval

# comparison key -> (variant a, variant b): the verdict is a's, against b
COMPARISONS = {"fine_tuned_vs_few_shot": ("fine_tuned", "few_shot"), "fine_tuned_vs_base": ("fine_tuned", "base")}
SHORT_NAMES = {"base": "base zero-shot", "few_shot": "few-shot", "fine_tuned": "fine-tuned"}
SCORE_RANGE = {"chrf": 100.0, "chrf_mean": 100.0}  # 0-100 metrics; every other one is 0-1


def _mean(s: np.ndarray) -> np.ndarray:
    return s.mean(axis=1)


def _corpus_chrf(s: np.ndarray) -> float:
    return M.chrf_from_stats(s.sum(axis=0))


def _macro_f1(s: np.ndarray) -> float:
    return M.macro_f1(s[:, 0], s[:, 1])


def metric_intervals(kind: str, preds: Sequence[str | None], refs: Sequence[str], text_success_chrf: float = 60.0,
                     n_boot: int = 1000, seed: int = 0) -> dict[str, list[float]]:
    """[lo, hi] (95%) for every metric `metrics.score(kind, preds, refs)` returns, from its per-example values."""
    preds = [p or "" for p in preds]
    n = len(refs)
    shares: dict[str, list[bool]] = {}
    boot: dict[str, tuple[Any, Callable, bool]] = {}  # metric -> (examples, statistic, vectorised)
    if kind == "label":
        shares["accuracy"] = M.label_matches(preds, refs)
        boot["macro_f1"] = (list(zip(preds, refs)), _macro_f1, False)
    elif kind == "json":
        ex = M.json_example_scores(preds, refs)
        shares.update(validity=ex["validity"], exact=ex["exact"])
        boot["field_f1"] = (np.asarray(ex["field_f1"], dtype=float), _mean, True)
    elif kind == "tool_call":
        shares.update(M.tool_call_example_scores(preds, refs))
    else:
        boot["chrf"] = (np.asarray(M.chrf_stats(preds, refs), dtype=float), _corpus_chrf, False)
        boot["chrf_mean"] = (np.asarray([M.chrf(p, r) for p, r in zip(preds, refs)], dtype=float), _mean, True)
    shares.update(exact_match=M.exact_matches(preds, refs), agreement=M.successes(kind, preds, refs, text_success_chrf))
    out = {}
    for m in M.score(kind, [], []):  # score's order
        if m in shares:
            lo, hi = wilson_interval(sum(shares[m]), n)
        elif m in boot:
            values, stat, vec = boot[m]
            lo, hi = (bootstrap_interval(values, stat, n_boot=n_boot, seed=seed, vectorised=vec) if n
                      else (0.0, SCORE_RANGE.get(m, 1.0)))
        else:
            continue  # primary, n
        out[m] = [round(lo, 6), round(hi, 6)]
    return out


def compare_variants(ok_by_id: dict[str, dict[Any, bool]], alpha: float = 0.05) -> dict[str, dict[str, Any]]:
    """McNemar's test of each pair in COMPARISONS on the ids both variants answered (n says how many)."""
    return {key: mcnemar(*paired(ok_by_id[a], ok_by_id[b]), alpha=alpha)
            for key, (a, b) in COMPARISONS.items() if a in ok_by_id and b in ok_by_id}


def add_confidence(report: dict[str, Any], kind: str, records: Sequence[dict[str, Any]],
                   predictions: dict[str, Sequence[str]], ok: dict[str, Sequence[bool]],
                   text_success_chrf: float = 60.0) -> None:
    """Adds `intervals` and `examples` to each variant's metrics and `comparisons` to an evaluation report.

    `predictions[v]` and `ok[v]` follow `records`; a variant answered on fewer records (a prefix) is scored
    on those, and compared with another on the record ids both answered."""
    refs = [r["target"] for r in records]
    for v, preds in predictions.items():
        m = report["variants"][v]["metrics"]
        m["intervals"] = metric_intervals(kind, preds, refs[: len(preds)], text_success_chrf)
        m["examples"] = len(preds)
    ids = [r["id"] for r in records]
    report["comparisons"] = compare_variants({v: dict(zip(ids, got)) for v, got in ok.items()})


# ----------------------------------------------------------------------------- how they read

def metric_text(metrics: dict[str, Any], key: str, digits: int = 1, interval_digits: int = 0) -> str:
    """A metric of one variant as tables write it: '95.8% [80%, 99%]', chrF '62.1 [55, 71]';
    without the interval when the report has none (written before intervals existed)."""
    v = metrics.get(key)
    if v is None:
        return num.NONE
    unit = "score" if key.startswith("chrf") else "share"
    text = f"{v:.{digits}f}" if unit == "score" else num.share(v, digits)
    ci = (metrics.get("intervals") or {}).get(key)
    return f"{text} {num.interval(ci[0], ci[1], unit, interval_digits)}" if ci else text


def comparison_text(key: str, c: dict[str, Any]) -> str:
    """'fine-tuned vs few-shot: not distinguishable (McNemar p=0.25, 24 paired calls)'."""
    a, b = COMPARISONS.get(key) or key.split("_vs_", 1)
    return (f"{SHORT_NAMES.get(a, a)} vs {SHORT_NAMES.get(b, b)}: {c['verdict']} "
            f"(McNemar {num.p_value(c.get('p_value'))}, {c.get('n', 0):,} paired calls)")


def comparison_lines(report: dict[str, Any]) -> list[str]:
    """One line per paired comparison in the report (none for reports written before they existed)."""
    return [comparison_text(k, c) for k, c in (report.get("comparisons") or {}).items()]


def error_bars(metrics: Sequence[dict[str, Any] | None], key: str = "agreement",
               scale: float = 1.0) -> dict[str, Any] | None:
    """A plotly `error_y` drawing each bar's 95% interval of `key`; None unless every bar has one."""
    cis = [((m or {}).get("intervals") or {}).get(key) for m in metrics]
    vals = [(m or {}).get(key) for m in metrics]
    if not cis or any(ci is None or v is None for ci, v in zip(cis, vals)):
        return None
    return {"type": "data", "symmetric": False, "array": [max(0.0, ci[1] - v) * scale for ci, v in zip(cis, vals)],
            "arrayminus": [max(0.0, v - ci[0]) * scale for ci, v in zip(cis, vals)], "thickness": 1.5, "width": 4}


def interval_note(report: dict[str, Any]) -> str:
    """What the brackets are, for a report that has them ('' otherwise)."""
    if not any("intervals" in (v.get("metrics") or {}) for v in report.get("variants", {}).values()):
        return ""
    return "In brackets: 95% intervals (Wilson for shares of answers, bootstrap over examples for F1 and chrF)."
