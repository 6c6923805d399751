"""The statistics of the refinement loop (S6), pure functions over counts, vectors and routed outcomes.

    weekly_task_mix(new, reference_counts)              # PSI of the task mix, per ISO week and overall
    domain_shift(ref_vectors, new_vectors, seed=7)       # {"auroc", "permutation_p95", "p_value", "shifted"}
    new_task_candidates(far_vectors, far_texts, seed=7)  # clusters of calls no known task is close to
    outcome_shift(routes, expected_offload=0.8)          # escalation, validator failures, agreement
    recommend(stats)                                     # keep | retrain | create_specialist, with why

Input shift within a task is a two-sample test by a classifier: a logistic regression learns to tell the
reference calls' request embeddings from the new ones; its cross-validated AUROC is 0.5 when the windows
are alike. The null distribution comes from the same AUROC with the window labels shuffled, so the alarm
needs both: above the permutation 95th percentile (not chance) and above a practical floor (big enough
to matter). The task mix uses the population stability index of roi/next_steps.py (0.1 watch, 0.2 act).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np
import polars as pl

from fde_toolkit.roi.next_steps import input_mix_drift

NO_TASK = "(no task)"
FAR_REASONS = ("far_from_task", "no_matching_step")
VALIDATOR_REASONS = ("invalid_json", "unknown_tool", "arguments_break_schema", "empty_answer", "unknown_label")


@dataclass(frozen=True)
class DriftThresholds:
    """Where the refinement loop raises its hand; every number in drift.json names the one it met."""

    psi_watch: float = 0.1  # task mix: worth a look
    psi_alarm: float = 0.2  # task mix: significant shift (the usual PSI rule)
    auroc_floor: float = 0.6  # input shift must also be this separable to matter
    permutations: int = 20  # label shuffles for the null distribution of the AUROC
    folds: int = 5
    min_calls: int = 20  # fewer new calls of a task: too few to judge its input shift
    max_window: int = 1000  # calls per side the domain classifier sees (a seeded sample)
    min_candidate: int = 20  # calls a new-task candidate needs
    offload_drop: float = 0.05  # routed share kept on the SLM may fall this much below routing.json
    validator_share: float = 0.05  # share of routed calls whose SLM answer a validator refused
    confidence: float = 0.95

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------- task mix

def weekly_task_mix(new: pl.DataFrame, reference_counts: Mapping[str, float], psi_watch: float = 0.1,
                    psi_alarm: float = 0.2) -> dict[str, Any]:
    """PSI of the task shares against the reference mix, overall and per ISO week.

    `new` has `timestamp` and `task_id` (null: no task; counted as NO_TASK). Returns {"reference":
    shares, "overall": {"calls", "psi", "level", "shares"}, "weekly": [{"week", ...the same}]}; level: stable,
    watch (PSI > psi_watch) or shift (PSI > psi_alarm).
    """
    frame = new.select(pl.col("timestamp").dt.strftime("%G-W%V").alias("week"),
                       pl.col("task_id").fill_null(NO_TASK).alias("task"))
    ref_total = sum(reference_counts.values()) or 1.0

    def mix(part: pl.DataFrame) -> dict[str, Any]:
        counts = {r["task"]: r["len"] for r in part.group_by("task").len().sort("task").iter_rows(named=True)}
        n = sum(counts.values())
        psi = round(input_mix_drift(dict(reference_counts), counts), 4) if n else None
        level = None if psi is None else "shift" if psi > psi_alarm else "watch" if psi > psi_watch else "stable"
        return {"calls": n, "psi": psi, "level": level, "shares": {k: round(v / n, 4) for k, v in counts.items()}}

    weeks = [{"week": w, **mix(frame.filter(pl.col("week") == w))}
             for w in sorted(frame["week"].drop_nulls().unique().to_list())]
    return {"reference": {k: round(v / ref_total, 4) for k, v in sorted(reference_counts.items())},
            "overall": mix(frame), "weekly": weeks}


# ----------------------------------------------------------------------------- input shift in a task

def _auroc_cv(x: np.ndarray, y: np.ndarray, folds: int, seed: int) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    scores = np.empty(len(y), dtype=np.float64)
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        model = LogisticRegression(C=1.0, solver="liblinear").fit(x[train], y[train])
        scores[test] = model.decision_function(x[test])
    return float(roc_auc_score(y, scores))


def domain_shift(reference_vectors: np.ndarray, new_vectors: np.ndarray, seed: int = 7, permutations: int = 20,
                 floor: float = 0.6, folds: int = 5, max_window: int = 1000, alpha: float = 0.05) -> dict[str, Any]:
    """Can a classifier tell the new calls from the reference ones? Cross-validated AUROC against a
    permutation baseline (window labels shuffled, seeded).

    Returns {"auroc", "permutation_p95", "p_value", "shifted", "reference_calls", "new_calls", "reason"};
    shifted when the permutation p-value is at most `alpha` and auroc >= floor. `alpha` is the level of
    this one test: a report that tests many tasks passes 0.05 / tasks (Bonferroni), so that one window
    of unchanged traffic raises no alarm by chance. `permutations` shuffles always run; when the AUROC
    reaches the floor, more run (up to what a p-value of `alpha` needs), stopping as soon as the verdict
    is settled. Each side is sampled down to `max_window`.
    """
    rng = np.random.default_rng(seed)
    ref, new = np.asarray(reference_vectors, np.float32), np.asarray(new_vectors, np.float32)
    if len(ref) > max_window:
        ref = ref[np.sort(rng.choice(len(ref), max_window, replace=False))]
    if len(new) > max_window:
        new = new[np.sort(rng.choice(len(new), max_window, replace=False))]
    out: dict[str, Any] = {"auroc": None, "permutation_p95": None, "p_value": None, "shifted": False,
                           "reference_calls": len(ref), "new_calls": len(new), "floor": floor, "alpha": alpha,
                           "permutations": permutations, "reason": ""}
    folds = min(folds, len(ref), len(new))
    if folds < 2:
        out["reason"] = "too few calls on one side to cross-validate"
        return out
    x = np.concatenate([ref, new])
    y = np.concatenate([np.zeros(len(ref), np.int64), np.ones(len(new), np.int64)])
    observed = _auroc_cv(x, y, folds, seed)
    null = [_auroc_cv(x, rng.permutation(y), folds, seed + 1 + i) for i in range(permutations)]
    if observed >= floor:  # only then can the verdict be "shifted": resolve the p-value down to alpha
        needed = int(np.ceil(1.0 / alpha))  # (1 + exceed) / (1 + n) <= alpha needs n >= 1 / alpha - 1
        allowed = int(np.floor(alpha * (needed + 1) - 1))  # null AUROCs >= observed still compatible with alpha
        while len(null) < needed and sum(v >= observed for v in null) <= allowed:
            null.append(_auroc_cv(x, rng.permutation(y), folds, seed + 1 + len(null)))
    null_a = np.asarray(null)
    p95 = float(np.quantile(null_a, 0.95)) if len(null_a) else 0.5
    p_value = float((1 + (null_a >= observed).sum()) / (1 + len(null_a)))
    shifted = bool(p_value <= alpha and observed >= floor)
    out.update(auroc=round(observed, 4), permutation_p95=round(p95, 4), p_value=round(p_value, 4), shifted=shifted,
               permutations=len(null_a))
    if shifted:
        out["reason"] = f"AUROC {observed:.3f} >= floor {floor}, permutation p={p_value:.4f} <= {alpha:.4g}"
    elif observed < floor:
        out["reason"] = (f"AUROC {observed:.3f} " + ("within chance" if observed <= p95 else "beats chance but is")
                         + f" below the floor {floor} (permutation p95 {p95:.3f})")
    else:
        out["reason"] = f"AUROC {observed:.3f} not beyond chance at level {alpha:.4g} (permutation p={p_value:.4f})"
    return out


# ----------------------------------------------------------------------------- new kinds of request

def new_task_candidates(vectors: np.ndarray, texts: list[str], seed: int = 7, min_size: int = 20,
                        reference_texts: Mapping[str, list[str]] | None = None,
                        weights: np.ndarray | None = None, examples: int = 3) -> list[dict[str, Any]]:
    """Clusters among calls far from every known task: k-means, k by silhouette (tasks/cluster.py), each
    cluster of at least `min_size` calls a candidate named by its top terms (tasks/naming.py).

    `vectors`: unit rows, one per distinct request (`weights`: its call count); `texts`: the curated
    request texts. `reference_texts` (task -> texts of its calls) lets the terms say what sets a
    candidate apart from the known tasks. Largest first: {"id", "calls", "requests", "terms", "name",
    "cohesion", "examples", "k_reason", "rows"} (rows: the member rows, nearest the centre first).
    """
    from fde_toolkit.tasks.cluster import member_centres, split_requests
    from fde_toolkit.tasks.naming import task_name, top_terms

    x = np.asarray(vectors, np.float32)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, np.float64)
    if len(x) == 0 or w.sum() < min_size:
        return []
    labels, k, why = np.zeros(len(x), np.int64), 1, "one group: too few distinct requests to split"
    if len(x) >= 3:
        split = split_requests(x, w, k_range=(2, max(2, int(w.sum()) // min_size)), seed=seed)
        sizes = np.bincount(split.labels, weights=w, minlength=split.k)
        if split.k > 1 and sizes.max() >= min_size:  # else the split only cut one group into small pieces
            labels, k, why = split.labels, split.k, split.reason
        elif split.k > 1:
            why = f"one group: no part of the {split.k}-way split reaches {min_size} calls"
        else:
            why = split.reason
    centres = member_centres(x, w, labels, k)
    docs, classes, dw = list(texts), [int(c) for c in labels], list(w)
    for j, (_, ref) in enumerate(sorted((reference_texts or {}).items())):
        docs += ref
        classes += [-1 - j] * len(ref)
        dw += [1.0] * len(ref)
    terms = top_terms(docs, classes, dw)
    out = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        calls = int(w[members].sum())
        if calls < min_size:
            continue
        sims = x[members] @ centres[c]
        order = members[np.argsort(-sims, kind="stable")]
        t = terms.get(c, [])
        out.append({"calls": calls, "requests": len(members), "terms": t[:8],
                    "name": task_name("unknown", t), "cohesion": round(float(np.average(sims, weights=w[members])), 4),
                    "examples": [texts[i] for i in order[:examples]], "k_reason": why, "rows": order.tolist()})
    out.sort(key=lambda r: -r["calls"])
    return [{"id": f"new{i + 1:02d}", **r} for i, r in enumerate(out)]


# ----------------------------------------------------------------------------- routed outcomes

def _upper(k: int, n: int, confidence: float) -> float:
    from scipy.stats import beta

    return 1.0 if k >= n else float(beta.ppf(confidence, k + 1, n - k))


def _lower(k: int, n: int, confidence: float) -> float:
    from scipy.stats import beta

    return 0.0 if k <= 0 else float(beta.ppf(1 - confidence, k, n - k + 1))


def outcome_shift(routes: list[dict[str, Any]], expected_offload: float | None = None, target: float | None = None,
                  thresholds: DriftThresholds | None = None) -> dict[str, Any]:
    """What the router did with a task's new calls, from each call's metadata "fde_route" record.

    routes: {"route": "slm"|"llm", "reason": str, "agree": bool|None (LLM-sampled calls)}. Flags: the
    offload's upper confidence bound below `expected_offload` - offload_drop (routing.json said more);
    validator refusals above validator_share; agreement's upper bound below `target`.
    """
    th = thresholds or DriftThresholds()
    n = len(routes)
    reasons: dict[str, int] = {}
    for r in routes:
        if r.get("route") == "llm":
            key = r.get("reason") or "unspecified"
            reasons[key] = reasons.get(key, 0) + 1
    slm = sum(1 for r in routes if r.get("route") == "slm")
    failures = sum(v for k, v in reasons.items() if k in VALIDATOR_REASONS)
    sampled = [bool(r["agree"]) for r in routes if r.get("agree") is not None]
    out: dict[str, Any] = {
        "routed": n, "slm": slm, "escalated": n - slm, "escalation_rate": round((n - slm) / n, 4) if n else None,
        "offload_share": round(slm / n, 4) if n else None, "expected_offload": expected_offload,
        "escalation_reasons": dict(sorted(reasons.items())), "validator_failures": failures,
        "validator_failure_share": round(failures / n, 4) if n else None,
        "agreement": {"sampled": len(sampled), "agree": sum(sampled),
                      "value": round(sum(sampled) / len(sampled), 4) if sampled else None, "target": target},
        "flags": [],
    }
    if not n:
        return out
    if expected_offload is not None:
        up = _upper(slm, n, th.confidence)
        out["offload_upper"] = round(up, 4)
        if up < expected_offload - th.offload_drop:
            out["flags"].append(f"offload {slm / n:.1%} (upper bound {up:.1%}) below routing.json's "
                                f"{expected_offload:.1%} - {th.offload_drop:.0%}")
    if failures / n > th.validator_share:
        out["flags"].append(f"validators refused {failures / n:.1%} of the SLM answers (> {th.validator_share:.0%})")
    if sampled and target is not None:
        up = _upper(sum(sampled), len(sampled), th.confidence)
        out["agreement"]["upper"] = round(up, 4)
        if up < target:
            out["flags"].append(f"agreement {sum(sampled) / len(sampled):.1%} on {len(sampled)} LLM-checked calls "
                                f"(upper bound {up:.1%}) below the target {target:.1%}")
    return out


# ----------------------------------------------------------------------------- what to do

def recommend(stats: Mapping[str, Any], thresholds: DriftThresholds | None = None) -> dict[str, Any]:
    """keep | retrain | create_specialist, with the numbers and the threshold that decided it.

    stats: a new-task candidate ({"candidate": True, "calls"}), or a known task's {"new_calls",
    "input_shift": domain_shift(...) | None, "outcome": outcome_shift(...) | None}.
    """
    th = thresholds or DriftThresholds()
    if stats.get("candidate"):
        return {"action": "create_specialist", "trigger": f"calls >= min_candidate ({th.min_candidate})",
                "because": f"{stats['calls']} new calls far from every known task form one group"}
    triggers, because = [], []
    shift = stats.get("input_shift") or {}
    if shift.get("shifted"):
        triggers.append(f"permutation p <= {shift.get('alpha', 0.05):.4g} and AUROC >= auroc_floor ({th.auroc_floor})")
        because.append(f"the new requests are told apart from the training ones (AUROC {shift['auroc']:.3f}, "
                       f"chance p95 {shift['permutation_p95']:.3f}, p={shift['p_value']:.4f})")
    outcome = stats.get("outcome") or {}
    for flag in outcome.get("flags", []):
        triggers.append("routed outcome")
        because.append(flag)
    if triggers:
        return {"action": "retrain", "trigger": "; ".join(dict.fromkeys(triggers)),
                "because": "; ".join(because) + ": retrain with the new calls"}
    n = int(stats.get("new_calls") or 0)
    if n < th.min_calls:
        return {"action": "keep", "trigger": f"new calls < min_calls ({th.min_calls})",
                "because": f"only {n} new calls: too few to judge a shift"}
    auroc = shift.get("auroc")
    return {"action": "keep", "trigger": "no threshold met",
            "because": "inputs as before" + (f" ({shift.get('reason', '')})" if auroc is not None else "")
            + ("; routed outcomes as expected" if outcome.get("routed") else "")}
