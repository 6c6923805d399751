"""Synthetic artifacts for the ROI tests: a profile, tasks.json, evaluations, training records, model cards.

Shaped like what fde profile / discover / finetune / evaluate write (only the fields the ROI reads,
plus what the model card needs), with round numbers so the tests can compute results by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from fde_toolkit.engagement import Engagement

# the client's figures: every required assumption, fixed, so hand computations stay simple
ROI_FIXED = {
    "engagement_fee_usd": {"unit": "usd", "value": 40000, "source": "statement of work"},
    "integration_usd": {"unit": "usd", "value": 20000, "source": "client IT estimate"},
    "loaded_hourly_rate_usd": {"unit": "usd_per_hour", "low": 40, "likely": 50, "high": 60, "source": "client HR"},
    "handling_minutes_per_case": {"unit": "minutes", "value": 10, "source": "client operations"},
    "annual_upkeep_usd": {"unit": "usd", "low": 6000, "likely": 12000, "high": 20000, "source": "FDE estimate"},
    "additional_task_usd": {"unit": "usd", "value": 8000, "source": "FDE estimate"},
}

TASKS = [  # id, name, kind, calls, cost_usd, llm latency p50, rank
    ("t001", "classify intents", "label", 6000, 6.0, 400.0, 1),
    ("t002", "extract claim fields", "json", 3000, 9.0, 900.0, 2),
    ("t003", "call tools", "tool_call", 2000, 4.0, 700.0, 3),
    ("t004", "summarise notes", "short_text", 1000, 5.0, 1500.0, 4),
]


def profile_doc(calls: int = 20000, days: int = 30, sessions: int = 10000, cost: float = 40.0) -> dict[str, Any]:
    """A profile over `days` days from 2026-09-01 with a flat weekday-hour matrix (peak factor 1)."""
    per_cell = calls / (days * 24)
    # 30 days from Tue 2026-09-01: each weekday appears 4 or 5 times; cells hold totals per weekday-hour
    occ = [4, 5, 5, 4, 4, 4, 4]  # Mon..Sun occurrences in 2026-09-01..2026-09-30
    matrix = [[per_cell * occ[d] for _ in range(24)] for d in range(7)]
    return {"version": 1,
            "totals": {"calls": calls, "first_call": "2026-09-01T00:00:00+00:00",
                       "last_call": "2026-09-30T23:59:00+00:00",
                       "first_date": "2026-09-01", "last_date": "2026-09-30", "days": days,
                       "calls_per_day": calls / days,
                       "sessions": sessions, "users": 100, "models": 1, "input_tokens": 1, "output_tokens": 1,
                       "ok_calls": calls, "errors": 0, "error_rate": 0.0, "cost_usd_known": cost,
                       "cost_known_share": 1.0},
            "over_time": {"weekday_hour_utc": matrix, "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]},
            "cost": {"currency": "USD", "known_usd": cost}}


def tasks_doc(tasks=TASKS, extra_noncandidates: int = 2) -> dict[str, Any]:
    rows = []
    total = 20000
    for tid, name, kind, calls, cost, lat, rank in tasks:
        rows.append({"id": tid, "name": name, "output_kind": kind, "calls": calls, "volume_share": calls / total,
                     "cost_usd": cost, "cost_share": cost / 40.0, "unpriced_calls": 0,
                     "latency_ms": {"p50": lat, "p95": lat * 3}, "error_rate": 0.0,
                     "readiness": {"score": 0.9 - rank / 20, "reasons": []}, "candidate": True, "rank": rank})
    for i in range(extra_noncandidates):
        rows.append({"id": f"t{10 + i:03d}", "name": "open-ended", "output_kind": "long_text", "calls": 50,
                     "volume_share": 0.0025, "cost_usd": 0.5, "cost_share": 0.0125, "unpriced_calls": 0,
                     "latency_ms": {"p50": 4000.0, "p95": 9000.0}, "error_rate": 0.0,
                     "readiness": {"score": 0.4, "reasons": []}, "candidate": False, "rank": None})
    return {"k": len(rows), "calls": total, "tasks": rows, "candidates": [t[0] for t in tasks]}


def eval_doc(task: str, kind: str = "label", agreement: float = 0.9, latency_ms: float = 100.0,
             examples_per_s: float = 10.0, hourly: float = 0.10) -> dict[str, Any]:
    per_task = hourly / 3600.0 / examples_per_s
    metrics = {"label": {"accuracy": agreement, "macro_f1": agreement - 0.05, "primary": "accuracy"},
               "json": {"validity": 1.0, "field_f1": agreement + 0.03, "exact": agreement - 0.1, "primary": "field_f1"},
               "tool_call": {"validity": 1.0, "name_accuracy": 0.99, "call_accuracy": agreement,
                             "primary": "call_accuracy"},
               "text": {"chrf": 70.0, "chrf_mean": 68.0, "primary": "chrf"}}[
                   kind if kind in ("label", "json", "tool_call") else "text"]
    ft = {"metrics": {**metrics, "exact_match": agreement, "agreement": agreement, "n": 100},
          "latency_ms": {"p50": latency_ms, "p95": latency_ms * 1.5, "mean": latency_ms},
          "examples_per_s": examples_per_s,
          "cost": {"per_task_usd": per_task, "per_successful_task_usd": per_task / agreement}}
    base = json.loads(json.dumps(ft))
    base["metrics"]["agreement"] = agreement / 3
    return {"task": task, "output_kind": kind if kind in ("label", "json", "tool_call") else "text",
            "candidate": "smollm2-135m-instruct", "examples": 100, "metric_names": ["agreement"],
            "variants": {"base": base, "few_shot": base, "fine_tuned": ft},
            "llm": {"cost_per_task_usd": 0.001, "priced_examples": 100, "latency_ms_p50": 400.0},
            "serving": {"hardware": "1 vCPU", "hourly_usd": hourly}}


def training_doc(task: str, seconds: float = 3600.0, examples: int = 1000) -> dict[str, Any]:
    return {"task": task, "result": {"elapsed_seconds": seconds, "device": "cpu"}, "encoded": {"train": examples}}


def write_engagement(root: Path, evaluated: tuple[str, ...] = ("t001", "t002"),
                     roi: dict[str, Any] | None = None, client: str = "Tiny ROI Client",
                     serving_hourly: float = 0.10, evals: dict[str, dict] | None = None,
                     cards: bool = True) -> Engagement:
    """An engagement with profile.json, tasks.json and, for `evaluated`, eval + training + model card."""
    root.mkdir(parents=True, exist_ok=True)
    art = root / "artifacts"
    art.mkdir(exist_ok=True)
    (art / "profile.json").write_text(json.dumps(profile_doc()), encoding="utf-8")
    (art / "tasks.json").write_text(json.dumps(tasks_doc()), encoding="utf-8")
    kinds = {t[0]: t[2] for t in TASKS}
    for tid in evaluated:
        doc = (evals or {}).get(tid) or eval_doc(tid, kinds[tid], hourly=serving_hourly)
        (art / "eval").mkdir(exist_ok=True)
        (art / "eval" / f"{tid}.json").write_text(json.dumps(doc), encoding="utf-8")
        mdir = art / "models" / tid
        mdir.mkdir(parents=True, exist_ok=True)
        (mdir / "training.json").write_text(json.dumps(training_doc(tid)), encoding="utf-8")
        if cards:
            (mdir / "model_card.md").write_text(f"# {tid} specialist: LoRA adapter on smollm2-135m-instruct\n\n"
                                                "## Metrics\n\n| variant | agreement |\n|---|---|\n"
                                                "| fine_tuned | 0.9 |\n",
                                                encoding="utf-8")
    config = {"name": root.name, "client": client, "seed": 7,
              "finetune": {"serving": {"hardware": "1 vCPU", "hourly_usd": serving_hourly}},
              "roi": roi if roi is not None else {"assumptions": ROI_FIXED}}
    (root / "engagement.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return Engagement.load(root)
