"""S6 refinement plan: which tasks to take next, and when to fine-tune a specialist again.

    plan = refinement_plan(roi)                         # roi.json's dict (also stored in it as refinement_plan)
    plan["next_tasks"]; plan["retrain"]
    input_mix_drift({"t001": 700, "t002": 300}, {"t001": 500, "t002": 480})   # PSI of the task mix

Retraining triggers, whichever comes first, per specialist:
- schedule: every 12 / retrains_per_year months (the cadence the ROI's upkeep pays for);
- volume, when `roi.retrain.after_new_calls` is set: after that many new calls of the task, which the
  measured monthly volume turns into a date;
- drift of the input mix: the population stability index of the task mix (or, within a task, of its
  labels / tools) between the training snapshot and the new logs above `roi.retrain.psi_threshold`
  (0.2 is the usual "significant shift" rule);
- quality: agreement with the LLM on a weekly shadow sample more than `roi.retrain.agreement_drop`
  below the agreement measured at evaluation.
"""

from __future__ import annotations

import math
from typing import Any

from fde_toolkit.roi.model import DAYS_PER_MONTH


def input_mix_drift(before: dict[str, float], after: dict[str, float], eps: float = 1e-4) -> float:
    """Population stability index between two count (or share) mixes over the same categories."""
    keys = sorted(set(before) | set(after))
    tb, ta = sum(before.values()) or 1.0, sum(after.values()) or 1.0
    psi = 0.0
    for k in keys:
        p = max(before.get(k, 0.0) / tb, eps)
        q = max(after.get(k, 0.0) / ta, eps)
        psi += (q - p) * math.log(q / p)
    return psi


def _monthly(roi: dict[str, Any], calls: float) -> float:
    m = roi["measurements"]
    share = roi["assumptions"]["logged_share_of_traffic"]["likely"]
    return calls / m["logs.days"]["value"] * DAYS_PER_MONTH / share


def refinement_plan(roi: dict[str, Any], settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The next tasks (candidates without a specialist) and each specialist's retraining triggers."""
    settings = settings or roi.get("settings", {}).get("retrain", {})
    m = roi["measurements"]
    info = roi.get("task_info", {})
    offload = roi["assumptions"].get("routing_offload_share", {}).get("likely")
    expanded = set(roi.get("expanded_tasks", []))
    next_tasks = []
    for tid in roi.get("next_tasks", []):
        calls = m.get(f"{tid}.calls", {}).get("value")
        cost = m.get(f"{tid}.llm_cost_usd", {}).get("value")
        t = info.get(tid, {})
        spend_y = _monthly(roi, cost) * 12 if cost is not None else None
        next_tasks.append({
            "task": tid, "name": t.get("name", tid), "output_kind": t.get("output_kind"), "rank": t.get("rank"),
            "readiness": t.get("readiness"), "volume_share": t.get("volume_share"), "cost_share": t.get("cost_share"),
            "calls_per_month": _monthly(roi, calls) if calls is not None else None, "llm_spend_per_year": spend_y,
            "avoidable_per_year": spend_y * offload if spend_y is not None and offload is not None else None,
            "in_expanded_scenario": tid in expanded,
            "steps": f"fde dataset / fde finetune / fde evaluate --task {tid}",
        })
    retrain = []
    drop, psi = settings.get("agreement_drop", 0.03), settings.get("psi_threshold", 0.2)
    per_year = roi["assumptions"].get("retrains_per_year", {}).get("likely") or 0
    cadence = 12.0 / per_year if per_year else None
    for tid in roi.get("tasks", []):
        calls = m.get(f"{tid}.calls", {}).get("value")
        per_month = _monthly(roi, calls) if calls else None
        after = settings.get("after_new_calls")
        quality = m.get(f"{tid}.quality", {}).get("value")
        triggers = []
        if cadence:
            triggers.append(f"every {cadence:.1f} months at the latest (retrains_per_year, as the upkeep budgets it)")
        if after and per_month:
            triggers.append(f"after {int(after):,} new calls of the task (about {after / per_month:.1f} months)")
        triggers.append(f"input-mix drift: PSI of the task mix, or of this task's labels / tools, above {psi:g}")
        triggers.append(f"shadow agreement with the LLM below {quality - drop:.1%} (evaluated {quality:.1%})"
                        if quality is not None else "shadow agreement below the evaluation's")
        retrain.append({
            "task": tid, "name": info.get(tid, {}).get("name", tid), "quality": quality,
            "trained_on": m.get(f"{tid}.training_examples", {}).get("value"),
            "every_months": cadence, "after_new_calls": int(after) if after else None,
            "months_until_volume_trigger": (after / per_month) if after and per_month else None,
            "psi_threshold": psi, "agreement_floor": (quality - drop) if quality is not None else None,
            "triggers": triggers,
        })
    lowest = sorted((r for r in retrain if r["quality"] is not None), key=lambda r: r["quality"])
    return {"next_tasks": next_tasks, "retrain": retrain,
            # a specialist that agrees with the LLM less often than the router is assumed to keep its answers
            "refine_first": [r["task"] for r in lowest if offload is not None and r["quality"] < offload],
            "how": "Each month, run ingest/scrub on the new logs, assign them to the tasks (fde discover keeps ids "
                   "stable), compare the task mix with input_mix_drift, and shadow-score a sample of each "
                   "specialist's answers against the LLM."}
