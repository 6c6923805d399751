"""`fde route`: calibrate, per task, when the specialist keeps a call and when it escalates to the LLM.

    result = route(eng)                 # routing.yaml (the policy), routing.json (the evidence)
    result.data["tasks"]["t01"]         # signal, threshold, offload_share, kept_quality, cost and latency

For every task with an evaluated specialist: the specialist answers its validation and test calls
with every confidence signal it has (signals.py); an answer is right when it agrees with the LLM's
logged answer (slm.metrics.successes). On validation, the signal that separates right from wrong
best (AUROC) is chosen and its threshold is the lowest whose kept calls meet the task's target with
a one-sided Clopper-Pearson bound (calibrate.py); answers a validator rejects always escalate. The
test split then says what the policy does on calls it was not chosen on: offload share, the kept
calls' agreement with its 95% interval, the whole system's quality (escalated calls get the LLM's
answer), escalation reasons, cost per 1,000 calls and p50 latency before and after. A task whose
target no threshold meets stays on the LLM (`feasible: false`, with the reason). Tasks without a
specialist are in the policy too, on the LLM, with the command that would give them one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from fde_toolkit import FdeError
from fde_toolkit.step import StepOutputs, StepResult, run_step

if TYPE_CHECKING:
    from fde_toolkit.engagement import Engagement

ROUTING_VERSION = 1


def _round(x: float | None, nd: int = 4) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def _p50(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None and np.isfinite(v)]
    return _round(float(np.median(vals)), 1) if vals else None


def before_after(test: list[dict[str, Any]], kept: np.ndarray, slm_cost: float | None,
                 slm_latency_ms: float | None) -> dict[str, Any]:
    """Cost per 1,000 calls and p50 latency: all on the LLM (as logged) vs routed (kept by the SLM; escalated
    calls pay the specialist's attempt and then the LLM)."""
    llm_cost = [r.get("cost_usd") for r in test]
    llm_lat = [r.get("latency_ms") for r in test]
    priced = [c for c in llm_cost if c is not None]
    out: dict[str, Any] = {"cost_per_1000_calls": {"before": None, "after": None},
                           "p50_latency_ms": {"before": _p50(llm_lat), "after": None}}
    if priced and slm_cost is not None:
        after = [slm_cost + (0.0 if k else c) for c, k in zip(llm_cost, kept) if c is not None]
        out["cost_per_1000_calls"] = {"before": _round(1000 * float(np.mean(priced)), 4),
                                      "after": _round(1000 * float(np.mean(after)), 4)}
    if slm_latency_ms is not None:
        lat = [slm_latency_ms + (0.0 if k else (lt if lt is not None else np.nan)) for lt, k in zip(llm_lat, kept)]
        out["p50_latency_ms"]["after"] = _p50(lat)
    return out


def _scores_frame(split: str, records: list[dict[str, Any]], answers, correct: list[bool],
                  kept: np.ndarray | None) -> pl.DataFrame:
    cols: dict[str, Any] = {"id": [str(r["id"]) for r in records], "split": [split] * len(records),
                            "prediction": answers.predictions, "correct": correct,
                            "problems": [",".join(p) for p in answers.problems],
                            "llm_cost_usd": [r.get("cost_usd") for r in records],
                            "llm_latency_ms": [r.get("latency_ms") for r in records]}
    for name, values in answers.signals.items():
        cols[name] = np.asarray(values, dtype=np.float64)
    cols["kept"] = kept if kept is not None else [None] * len(records)
    return pl.DataFrame(cols, schema_overrides={"kept": pl.Boolean, "llm_cost_usd": pl.Float64,
                                                "llm_latency_ms": pl.Float64})


def route_task(eng: "Engagement", task_id: str, out: StepOutputs | None = None, name: str = "") -> dict[str, Any]:
    """Calibrate one task's escalation rule on validation and check it on test (see the module docstring)."""
    from fde_toolkit.routing.calibrate import auroc, choose_signal, evaluate_policy, kept_calls
    from fde_toolkit.routing.signals import load_specialist
    from fde_toolkit.slm.datasets import load_dataset
    from fde_toolkit.slm.metrics import successes

    cfg, arts = eng.config, eng.artifacts
    target, conf = cfg.routing.target_for(task_id), cfg.routing.confidence
    splits, info = load_dataset(eng, task_id)
    kind = info["output_kind"]
    val, test = splits["val"], splits["test"]
    if not val or not test:
        raise FdeError(f"{eng.display(arts.path('dataset_info', task_id))}: routing needs validation and test calls "
                       f"(val {len(val)}, test {len(test)}); run `fde dataset {eng.display_root} --task {task_id}` "
                       "with finetune.dataset.max_val / max_test above 0")
    spec = load_specialist(eng, task_id)
    chrf_ok = cfg.finetune.evaluate.text_success_chrf
    a_val, a_test = spec.answer(val), spec.answer(test)
    ok_val = successes(kind, a_val.predictions, [r["target"] for r in val], chrf_ok)
    ok_test = successes(kind, a_test.predictions, [r["target"] for r in test], chrf_ok)
    forced_val = np.array([bool(p) for p in a_val.problems])
    forced_test = np.array([bool(p) for p in a_test.problems])
    choice = choose_signal({k: np.asarray(v) for k, v in a_val.signals.items()}, ok_val, target, conf, forced_val)
    th = choice.threshold
    scores_test = np.asarray(a_test.signals[choice.name], dtype=np.float64)
    reasons = [p[0] if p else "" for p in a_test.problems]
    threshold = th.threshold if th.feasible else None  # infeasible: every call stays on the LLM
    policy = evaluate_policy(scores_test, ok_test, threshold, forced_test, reasons, conf)
    kept = kept_calls(scores_test, threshold, forced_test)
    ev = arts.optional("eval", task_id) or {}
    ft = (ev.get("variants") or {}).get("fine_tuned") or {}
    slm_cost = (ft.get("cost") or {}).get("per_task_usd")
    slm_lat = (ft.get("latency_ms") or {}).get("p50")
    signals_table = [{**row, "auroc_test": _round(auroc(np.asarray(a_test.signals[row["signal"]]), ok_test))}
                     for row in choice.table]
    if out is not None:
        out.write("routing_scores", pl.concat([_scores_frame("val", val, a_val, ok_val, None),
                                               _scores_frame("test", test, a_test, ok_test, kept)]), task_id)
    row: dict[str, Any] = {
        "task": task_id, "name": name or task_id, "output_kind": kind,
        "specialist": spec.candidate, "kind": spec.kind, "target": target, "confidence": conf,
        "feasible": bool(th.feasible), "reason": th.reason,
        "signal": choice.name, "threshold": _round(th.threshold, 6) if th.feasible else None,
        "signals": signals_table,
        "validation": {"n": th.n, "kept": th.kept, "kept_correct": th.kept_correct,
                       "lower_bound": _round(th.lower_bound), "accuracy": _round(float(np.mean(ok_val)))},
        "test_accuracy_all_slm": _round(float(np.mean(ok_test))),
        **{k: policy[k] for k in ("n", "kept", "offload_share", "kept_quality", "system_quality",
                                  "escalation_reasons")},
        **before_after(test, kept, slm_cost, slm_lat),
        "slm_cost_per_call_usd": slm_cost, "slm_p50_latency_ms": slm_lat,
    }
    return row


def _policy(eng: "Engagement", report: dict[str, Any]) -> dict[str, Any]:
    """routing.yaml: what a Router needs per task, nothing it does not."""
    tasks: dict[str, Any] = {}
    for tid, r in report["tasks"].items():
        if r.get("specialist") and r.get("feasible"):
            tasks[tid] = {"route": "slm", "reason": "", "specialist": r["specialist"], "kind": r["kind"],
                          "output_kind": r["output_kind"], "model": f"models/{tid}", "signal": r["signal"],
                          "threshold": r["threshold"], "target": r["target"]}
        else:
            tasks[tid] = {"route": "llm", "reason": r.get("reason") or "", "specialist": r.get("specialist"),
                          "output_kind": r.get("output_kind"), "target": r.get("target")}
    rc = eng.config.routing
    return {"version": ROUTING_VERSION, "engagement": eng.name, "confidence": rc.confidence,
            "max_input_chars": rc.max_input_chars, "task_index": "router/task_index", "tasks": tasks}


def _overall(report: dict[str, Any], tasks_json: dict[str, Any]) -> dict[str, Any]:
    """Offload across the engagement: each task's offload weighted by its share of all logged calls."""
    share = {t["id"]: t.get("volume_share") or 0.0 for t in tasks_json.get("tasks", [])}
    routed = [tid for tid, r in report["tasks"].items() if r.get("feasible")]
    offload = sum(share.get(tid, 0.0) * report["tasks"][tid]["offload_share"] for tid in routed)
    return {"tasks_routed": len(routed), "tasks": len(report["tasks"]),
            "calls_offloaded_share": _round(offload), "note": "share of all logged calls the SLMs keep, from each "
            "routed task's test-split offload weighted by its share of the logged calls"}


def route(eng: "Engagement", force: bool = False, embedder: Any = None) -> StepResult[dict[str, Any]]:
    """`fde route`: routing.yaml + routing.json + the task index and per-call scores, recorded in the manifest.
    `embedder` overrides the task index's sentence embedder (tests)."""
    from fde_toolkit.routing.index import TaskIndex
    from fde_toolkit.slm.status import specialist_ready

    arts = eng.artifacts
    tasks_json = arts.tasks()
    inputs = [arts.require("curated"), arts.require("task_assignments"), arts.path("tasks")]
    with_specialist: list[str] = []
    for tid in [t["id"] for t in tasks_json.get("tasks", [])]:
        if arts.exists("eval", tid) and specialist_ready(arts.path("adapter", tid)):
            with_specialist.append(tid)
            adapter = arts.path("adapter", tid)
            inputs += [arts.path("eval", tid), arts.path("training", tid), arts.path("split", tid, "val"),
                       arts.path("split", tid, "test"), *sorted(p for p in adapter.iterdir() if p.is_file())]
    params = {"routing": eng.config.routing.model_dump(mode="json", exclude={"escalation"}),
              "version": ROUTING_VERSION, "text_success_chrf": eng.config.finetune.evaluate.text_success_chrf}

    def make(out: StepOutputs) -> dict[str, Any]:
        index_dir = arts.path("task_index")
        TaskIndex.build(eng, embedder=embedder).save(index_dir)
        out.add(index_dir)
        report: dict[str, Any] = {"version": ROUTING_VERSION, "engagement": eng.name,
                                  "target": eng.config.routing.target, "confidence": eng.config.routing.confidence,
                                  "tasks": {}}
        for t in tasks_json.get("tasks", []):
            tid = t["id"]
            if tid in with_specialist:
                report["tasks"][tid] = route_task(eng, tid, out, t.get("name", ""))
                continue
            why = ("no evaluated specialist yet: run `fde dataset`, `fde finetune` and "
                   f"`fde evaluate {eng.display_root} --task {tid}`" if t.get("candidate")
                   else "not an SLM candidate (tasks.json readiness); it stays on the LLM")
            report["tasks"][tid] = {"task": tid, "name": t.get("name", tid), "output_kind": t.get("output_kind"),
                                    "specialist": None, "feasible": False, "candidate": bool(t.get("candidate")),
                                    "target": eng.config.routing.target_for(tid), "reason": why}
        report["overall"] = _overall(report, tasks_json)
        out.summary = {"tasks": len(report["tasks"]), "routed": report["overall"]["tasks_routed"]}
        out.write("routing_policy", _policy(eng, report))
        return out.write_data("routing", report)

    if not with_specialist:
        raise FdeError("No task has an evaluated specialist to route to yet: run `fde finetune` and `fde evaluate` "
                       f"on a candidate task first (`fde finetune {eng.display_root}` lists them).")
    return run_step(eng, "route", inputs=inputs, params=params, make=make, previous=lambda: arts.read("routing"),
                    render=render_routing, force=force)


def render_routing(report: dict[str, Any]) -> str:
    """What `fde route` prints: one block per task."""
    def f(x: float | None, nd: int) -> str:
        return "n/a" if x is None else f"{x:,.{nd}f}"

    lines = [f"Routing at target {report['target']:g} agreement with the LLM "
             f"(one-sided {report['confidence']:.0%} bound on validation; figures on the test split):"]
    for tid, r in report["tasks"].items():
        head = f"  {tid} {r.get('name', '')[:48]}"
        if not r.get("specialist"):
            if r.get("candidate"):
                lines.append(f"{head}: stays on the LLM — {r['reason']}")
            continue
        aurocs = ", ".join(f"{s['signal']} {f(s.get('auroc'), 3)}"
                           for s in r["signals"])
        lines.append(f"{head} ({r['specialist']}, target {r['target']:g})")
        lines.append(f"    signals (AUROC on val): {aurocs}; chosen {r['signal']}")
        if not r["feasible"]:
            lines.append(f"    not feasible, stays on the LLM: {r['reason']}")
            continue
        kq = r["kept_quality"]
        kq_text = (f"{kq['value']:.3f} [{kq['low']:.3f}, {kq['high']:.3f}]" if kq.get("value") is not None
                   else "n/a (no call kept)")
        cost, lat = r["cost_per_1000_calls"], r["p50_latency_ms"]
        lines.append(f"    threshold {r['threshold']:.4g}: keeps {r['offload_share']:.1%} of {r['n']} test calls, "
                     f"kept agreement {kq_text}, system {r['system_quality']:.3f} "
                     f"(all-SLM {r['test_accuracy_all_slm']:.3f})")
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(r["escalation_reasons"].items(), key=lambda kv: -kv[1]))
        lines.append(f"    escalated: {reasons or 'none'}")
        if cost.get("before") is not None and cost.get("after") is not None:
            lines.append(f"    per 1,000 calls ${cost['before']:.3f} -> ${cost['after']:.3f}; p50 latency "
                         f"{f(lat['before'], 0)} -> {f(lat['after'], 0)} ms")
    o = report.get("overall", {})
    if o:
        lines.append(f"  {o['tasks_routed']} of {o['tasks']} tasks routed; the SLMs keep "
                     f"{(o['calls_offloaded_share'] or 0):.1%} of all logged calls")
    return "\n".join(lines)
