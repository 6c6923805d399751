"""Escalation thresholds a quality target holds under: the SLM keeps a call only when it is sure enough.

    th = calibrate_threshold(val_scores, val_correct, target=0.98, forced=val_forced)
    th.feasible, th.threshold, th.kept, th.lower_bound, th.reason
    pick = choose_signal({"top_probability": p, "margin": m}, val_correct, 0.98)   # .name, .threshold, .table
    evaluate_policy(test_scores, test_correct, th.threshold, forced=test_forced, reasons=test_reasons)
    coverage_curve(val_scores, val_correct)      # offload share vs kept quality, for the curve and slider
    clopper_pearson_lower(147, 150)              # 0.9486: 147 right of 150 shows >= 0.9486 with 95% confidence

A call is kept (answered by the SLM) when its score is at or above the threshold and no validator
forced it to the LLM; every other call escalates, and the LLM's answer is the reference, so it counts
as right. The threshold is the lowest score on the validation split at which the kept calls' one-sided
Clopper-Pearson lower bound still reaches the target: the target holds with `confidence`, not just on
average. That bound is not monotone in the threshold (a wrong answer among the most confident calls
pulls it down until enough right ones follow), so every distinct score is tried, in one pass.
A NaN score is the lowest confidence there is: it passes no threshold and escalates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from fde_toolkit import FdeError

MORE_VALIDATION = "raise finetune.dataset.val_fraction and max_val"


@dataclass(frozen=True)
class Threshold:
    """The calibrated keep rule of one signal: keep = (score >= threshold) & ~forced.

    n counts every validation call (forced ones too), so kept / n is the offload share; lower_bound is the
    kept calls' one-sided Clopper-Pearson bound; threshold and lower_bound are None, with a reason, when
    no threshold reaches the target."""

    feasible: bool
    threshold: float | None
    kept: int
    n: int
    kept_correct: int
    lower_bound: float | None
    reason: str = ""

    @property
    def offload_share(self) -> float:
        return self.kept / self.n if self.n else 0.0


@dataclass(frozen=True)
class SignalChoice:
    """The signal a task escalates on, its threshold, and one row per signal tried (signal, auroc,
    feasible, threshold, offload)."""

    name: str
    threshold: Threshold
    table: list[dict[str, Any]] = field(default_factory=list)


# ----------------------------------------------------------------------------- intervals

def _beta():
    from scipy.stats import beta  # scipy stays out of `import fde_toolkit.routing.calibrate`

    return beta


def _lower_bounds(k: np.ndarray, n: np.ndarray, confidence: float) -> np.ndarray:
    """One-sided Clopper-Pearson lower bounds of k right out of n, elementwise; 0 where k == 0."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    some = k > 0
    lb = _beta().ppf(1 - confidence, np.where(some, k, 1.0), np.where(some, n - k + 1, 1.0))
    return np.where(some, lb, 0.0)


def _intervals(k: np.ndarray, n: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided Clopper-Pearson intervals, elementwise; (0, 1) where n == 0."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    tail = (1 - confidence) / 2
    beta = _beta()
    lo_ok, hi_ok = k > 0, k < n
    lo = beta.ppf(tail, np.where(lo_ok, k, 1.0), np.where(lo_ok, n - k + 1, 1.0))
    hi = beta.ppf(1 - tail, np.where(hi_ok, k + 1, 1.0), np.where(hi_ok, n - k, 1.0))
    return np.where(lo_ok, lo, 0.0), np.where(hi_ok, hi, 1.0)


def clopper_pearson_lower(k: int, n: int, confidence: float = 0.95) -> float:
    """One-sided lower bound on the share of right answers, k right out of n; 0.0 when n == 0 (or k == 0)."""
    if n <= 0:
        return 0.0
    return float(_lower_bounds(np.array([k]), np.array([n]), confidence)[0])


def clopper_pearson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided (exact) interval of the share k / n; (0.0, 1.0) when n == 0."""
    if n <= 0:
        return (0.0, 1.0)
    lo, hi = _intervals(np.array([k]), np.array([n]), confidence)
    return (float(lo[0]), float(hi[0]))


def calls_needed(target: float, confidence: float = 0.95) -> int:
    """The fewest calls that can show `target` at all: the smallest n whose bound with n of n right reaches
    it ((1 - confidence) ** (1 / n) >= target)."""
    n = max(1, math.ceil(math.log(1 - confidence) / math.log(target)))
    while n > 1 and clopper_pearson_lower(n - 1, n - 1, confidence) >= target:
        n -= 1
    while clopper_pearson_lower(n, n, confidence) < target:
        n += 1
    return n


# ----------------------------------------------------------------------------- inputs

def _check_target(target: float) -> None:
    if not 0 < target < 1:
        raise FdeError(f"routing target is {target}; a target is a share between 0 and 1 (e.g. 0.98 for 98%) "
                       f"— fix routing.target / routing.targets in engagement.yaml")


def _arrays(scores: Any, correct: Any, forced: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=float).reshape(-1)
    c = np.asarray(correct, dtype=bool).reshape(-1)
    f = np.zeros(len(s), dtype=bool) if forced is None else np.asarray(forced, dtype=bool).reshape(-1)
    if not len(s) == len(c) == len(f):
        raise ValueError(f"scores, correct and forced are per call: {len(s)}, {len(c)} and {len(f)} values")
    return s, c, f


def _candidates(s: np.ndarray, c: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct score of the calls that may be kept (not forced, not NaN), most confident first: the
    score, how many calls a threshold there keeps, and how many of those are right."""
    ok = ~f & ~np.isnan(s)
    es, ec = s[ok], c[ok]
    order = np.argsort(-es, kind="stable")
    es, ec = es[order], ec[order]
    if not len(es):
        return es, np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    last = np.r_[es[1:] != es[:-1], True]  # the last call of each run of equal scores
    kept = np.flatnonzero(last) + 1
    return es[last], kept, np.cumsum(ec)[last]


# ----------------------------------------------------------------------------- thresholds

def calibrate_threshold(scores: Sequence[float] | np.ndarray, correct: Sequence[bool] | np.ndarray, target: float,
                        confidence: float = 0.95, forced: Sequence[bool] | np.ndarray | None = None) -> Threshold:
    """The lowest threshold whose kept validation calls' one-sided Clopper-Pearson lower bound (at
    `confidence`) reaches `target`; infeasible, with the reason and what to do, when none does."""
    _check_target(target)
    s, c, f = _arrays(scores, correct, forced)
    n = len(s)
    pct = f"{confidence:.0%}"

    def infeasible(reason: str) -> Threshold:
        return Threshold(False, None, 0, n, 0, None, reason)

    if n == 0:
        return infeasible(f"no validation calls to calibrate on — the task needs a validation split "
                          f"({MORE_VALIDATION})")
    if f.all():
        return infeasible(f"all {n} validation calls fail a validator and go to the LLM, so no threshold keeps any "
                          f"— look at the validator reasons (invalid answers) before calibrating")
    values, kept, right = _candidates(s, c, f)
    if not len(values):
        return infeasible(f"none of the {n} validation calls has a confidence score (all NaN) — check the "
                          f"specialist's signals")
    lb = _lower_bounds(right, kept, confidence)
    hit = np.flatnonzero(lb >= target)
    if len(hit):
        i = hit[-1]  # the lowest threshold that still holds the target keeps the most calls
        return Threshold(True, float(values[i]), int(kept[i]), n, int(right[i]), float(lb[i]), "")
    best = int(np.argmax(lb))
    reason = (f"no threshold keeps calls whose {pct} lower bound reaches {target:g}: the best is {lb[best]:.3f} "
              f"on {kept[best]} calls ({right[best]} right)")
    eligible, needed = int(kept[-1]), calls_needed(target, confidence)
    if eligible < needed:
        forced_note = f" (of {n}; {int(f.sum())} forced to the LLM)" if f.any() else ""
        reason += (f"; {eligible} validation calls{forced_note} cannot show {target:g} even when all are right "
                   f"(needs >= {needed}) — {MORE_VALIDATION}")
    else:
        reason += (f"; the specialist's most confident answers are wrong too often for {target:g} — improve the "
                   f"specialist (more training data, another candidate) or lower routing.target")
    return infeasible(reason)


# ----------------------------------------------------------------------------- signals

def auroc(scores: Sequence[float] | np.ndarray, correct: Sequence[bool] | np.ndarray) -> float | None:
    """How well a signal ranks right answers above wrong ones (0.5: chance, 1: perfectly); None when all
    answers are right or all wrong. Ties count half; NaN ranks lowest."""
    s, c, _ = _arrays(scores, correct, None)
    pos, neg = int(c.sum()), int((~c).sum())
    if not pos or not neg:
        return None
    from scipy.stats import rankdata

    ranks = rankdata(np.where(np.isnan(s), -np.inf, s))
    return float((ranks[c].sum() - pos * (pos + 1) / 2) / (pos * neg))


def choose_signal(signals: Mapping[str, Sequence[float] | np.ndarray], correct: Sequence[bool] | np.ndarray,
                  target: float, confidence: float = 0.95,
                  forced: Sequence[bool] | np.ndarray | None = None) -> SignalChoice:
    """The signal with the best AUROC on the calls no validator forced (ties: the one keeping more calls),
    its calibrated threshold, and a row per signal."""
    if not signals:
        raise ValueError("choose_signal needs at least one signal")
    c = np.asarray(correct, dtype=bool).reshape(-1)
    free = np.ones(len(c), dtype=bool) if forced is None else ~np.asarray(forced, dtype=bool).reshape(-1)
    tried = []
    for name, scores in signals.items():
        th = calibrate_threshold(scores, c, target, confidence, forced)
        area = auroc(np.asarray(scores, dtype=float).reshape(-1)[free], c[free]) if len(c) else None
        tried.append((name, area, th))
    name, _, th = max(tried, key=lambda t: (-math.inf if t[1] is None else t[1], t[2].kept))
    table = [{"signal": nm, "auroc": a, "feasible": t.feasible, "threshold": t.threshold,
              "offload": t.offload_share} for nm, a, t in tried]
    return SignalChoice(name, th, table)


# ----------------------------------------------------------------------------- policy figures

def _reason_of(r: Any) -> str:
    if isinstance(r, (list, tuple)):
        return str(r[0]) if r else ""
    return str(r or "")


def kept_calls(scores: Sequence[float] | np.ndarray, threshold: float | None,
               forced: Sequence[bool] | np.ndarray | None = None) -> np.ndarray:
    """Which calls the SLM keeps: score >= threshold (NaN never passes) and no validator forced them to the LLM.
    A threshold of None keeps nothing."""
    s = np.asarray(scores, dtype=np.float64)
    if threshold is None:
        return np.zeros(len(s), dtype=bool)
    f = np.zeros(len(s), dtype=bool) if forced is None else np.asarray(forced, dtype=bool)
    return (s >= threshold) & ~f  # NaN >= t is False


def evaluate_policy(scores: Sequence[float] | np.ndarray, correct: Sequence[bool] | np.ndarray,
                    threshold: float | Threshold | None, forced: Sequence[bool] | np.ndarray | None = None,
                    reasons: Sequence[str] | None = None, confidence: float = 0.95) -> dict[str, Any]:
    """What a threshold does on (held-out) calls: how many the SLM keeps, their quality with its two-sided
    interval, the system's quality (escalated calls are answered by the LLM, the reference) and why calls
    escalated. A threshold of None keeps nothing. Without `forced`, a call with a validator reason is forced."""
    if isinstance(threshold, Threshold):
        threshold = threshold.threshold
    if forced is None and reasons is not None:
        forced = [bool(_reason_of(r)) for r in reasons]
    s, c, f = _arrays(scores, correct, forced)
    n = len(s)
    if reasons is not None and len(reasons) != n:
        raise ValueError(f"reasons are per call: {len(reasons)} for {n} calls")
    keep = kept_calls(s, threshold, f)
    kept, kept_correct = int(keep.sum()), int((keep & c).sum())
    lo, hi = clopper_pearson_interval(kept_correct, kept, confidence)
    counts: dict[str, int] = {}
    for i in np.flatnonzero(~keep):
        if f[i]:
            why = (_reason_of(reasons[i]) if reasons is not None else "") or "validator"
        else:
            why = "low_confidence"
        counts[why] = counts.get(why, 0) + 1
    return {"n": n, "kept": kept, "kept_correct": kept_correct, "threshold": threshold,
            "offload_share": kept / n if n else 0.0,
            "kept_quality": {"value": kept_correct / kept if kept else None, "low": lo, "high": hi},
            "system_quality": (kept_correct + n - kept) / n if n else None,
            "escalation_reasons": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))}


def coverage_curve(scores: Sequence[float] | np.ndarray, correct: Sequence[bool] | np.ndarray,
                   forced: Sequence[bool] | np.ndarray | None = None, points: int = 50,
                   confidence: float = 0.95) -> list[dict[str, float]]:
    """Up to `points` thresholds spread over the distinct scores, most confident first: the offload share
    each keeps and the kept calls' quality with its two-sided Clopper-Pearson interval."""
    s, c, f = _arrays(scores, correct, forced)
    values, kept, right = _candidates(s, c, f)
    if not len(values) or points < 1:
        return []
    pick = np.unique(np.linspace(0, len(values) - 1, min(points, len(values))).round().astype(int))
    values, kept, right = values[pick], kept[pick], right[pick]
    lo, hi = _intervals(right, kept, confidence)
    return [{"threshold": float(t), "offload_share": float(k / len(s)), "kept_quality": float(r / k),
             "low": float(a), "high": float(b)} for t, k, r, a, b in zip(values, kept, right, lo, hi)]
