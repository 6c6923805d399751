"""Replay: held-out calls through the router, offline, against what the LLM answered them (router/replay.json).

    result = replay(eng)                   # the `fde route --replay` step; StepResult with the report
    print(render_replay(result.data))      # per task: offload, system quality, cost and p50 latency vs all-LLM
    report = replay_report(eng)            # the pure core, no manifest

The calls are every routed task's test split (artifacts/datasets/<task>/test.jsonl) and, for tasks on the
LLM, a sample of their curated calls of the same size. Each goes through the Router as the request its
curated call was; an escalated call is answered by the LLM's logged response to that call (nothing goes
out). System quality is the final answer's agreement with the logged LLM answer (slm/metrics.successes
for the task's output kind); an escalated call agrees by construction. Routed latency is the router's
measured time (scrub, index, specialist), plus the logged LLM latency when the call escalated; routed
cost is the specialist's serving cost per answer (eval/<task>.json) wherever it ran, plus the logged
LLM cost when the call escalated.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import orjson
import polars as pl

from fde_toolkit import FdeError
from fde_toolkit.step import StepOutputs, StepResult, run_step
from fde_toolkit.tasks.embed import Embedder

if TYPE_CHECKING:
    from fde_toolkit.engagement import Engagement

REPLAY_VERSION = 1
LLM_SAMPLE = 50  # calls replayed per task on the LLM: enough to see the router place them and send them on
RAN_SPECIALIST = {"low_confidence", "specialist_error", "invalid_json", "unknown_tool", "arguments_break_schema",
                  "empty_answer", "unknown_label"}  # escalations decided after the specialist answered


def _request(call: dict[str, Any]) -> dict[str, Any]:
    """The chat request a curated call was (call_id in metadata, so the offline LLM finds its answer)."""
    req: dict[str, Any] = {"model": call["model"] or "",
                           "messages": [{"role": m["role"], "content": m["content"] or ""}
                                        for m in call["messages"] or []],
                           "metadata": {"call_id": call["call_id"]}}
    if call["workload_id"]:
        req["metadata"]["workload_id"] = call["workload_id"]
    if call["tools"]:
        try:
            req["tools"] = orjson.loads(call["tools"])
        except orjson.JSONDecodeError:
            pass
    return req


def logged_llm(calls: pl.DataFrame) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """An escalation client that answers a request with the LLM's logged response to its call."""
    by_id = {r["call_id"]: r for r in calls.iter_rows(named=True)}

    def complete(request: dict[str, Any]) -> dict[str, Any]:
        call = by_id[request["metadata"]["call_id"]]
        if call["tool_calls"]:
            message = {"role": "assistant", "content": None, "tool_calls": [
                {"id": f"call_{i}", "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                for i, c in enumerate(call["tool_calls"])]}
        else:
            message = {"role": "assistant", "content": call["response_text"] or ""}
        return {"id": f"logged-{call['call_id']}", "object": "chat.completion", "model": call["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": call["input_tokens"], "completion_tokens": call["output_tokens"]}}

    return complete


def _answer(reply: dict[str, Any], kind: str) -> str:
    """The final answer in the form the task's references take (tool calls as {"name", "arguments"})."""
    from fde_toolkit.slm.datasets import render_tool_calls

    msg = reply["choices"][0]["message"]
    if kind == "tool_call" or msg.get("tool_calls"):
        return render_tool_calls([{"name": c["function"]["name"], "arguments": c["function"]["arguments"]}
                                  for c in msg.get("tool_calls") or []])
    return (msg.get("content") or "").strip()


def _reference(call: dict[str, Any], kind: str) -> str:
    from fde_toolkit.slm.datasets import render_tool_calls

    if kind == "tool_call":
        return render_tool_calls([dict(c) for c in call["tool_calls"] or []])
    return (call["response_text"] or "").strip()


def _slm_cost(eng: "Engagement", task: str) -> float | None:
    ev = eng.artifacts.optional("eval", task) or {}
    return (((ev.get("variants") or {}).get("fine_tuned") or {}).get("cost") or {}).get("per_task_usd")


def _held_out(eng: "Engagement", policy: dict[str, Any], assignments: pl.DataFrame) -> pl.DataFrame:
    """call_id, task (the discovered one) of the calls to replay."""
    tasks = policy["tasks"]
    rows: list[tuple[str, str]] = []
    for tid, t in sorted(tasks.items()):
        if t.get("route") == "slm":
            test = eng.artifacts.read("split", tid, "test")
            rows += [(r["id"], tid) for r in test]
    size = LLM_SAMPLE
    for tid, t in sorted(tasks.items()):
        if t.get("route") != "slm":
            ids = assignments.filter(pl.col("task_id") == tid)["call_id"].sort()
            rows += [(c, tid) for c in ids.sample(min(size, ids.len()), seed=eng.config.seed).sort().to_list()]
    return pl.DataFrame(rows, schema={"call_id": pl.String, "task": pl.String}, orient="row")


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    kept = [r for r in rows if r["route"] == "slm"]
    # cost over the calls whose LLM cost is known (logged or priced) and whose routed cost is known
    priced = [r for r in rows if r["llm_cost"] is not None and r["routed_cost"] is not None]
    all_llm = float(sum(r["llm_cost"] for r in priced)) if priced else None
    routed = float(sum(r["routed_cost"] for r in priced)) if priced else None
    lat_llm = [r["llm_latency"] for r in rows if r["llm_latency"] is not None]
    lat_routed = [r["routed_latency"] for r in rows if r["routed_latency"] is not None]
    return {
        "calls": n, "kept": len(kept), "offload_share": round(len(kept) / n, 4) if n else None,
        "system_quality": round(sum(r["agrees"] for r in rows) / n, 4) if n else None,
        "kept_quality": round(sum(r["agrees"] for r in kept) / len(kept), 4) if kept else None,
        "misplaced": sum(1 for r in rows if r["placed"] is not None and r["placed"] != r["task"]),
        "cost_usd": {"all_llm": all_llm, "routed": routed, "priced_calls": len(priced),
                     "saving_share": round(1 - routed / all_llm, 4) if routed is not None and all_llm else None},
        "latency_ms_p50": {"all_llm": round(float(np.median(lat_llm)), 2) if lat_llm else None,
                           "routed": round(float(np.median(lat_routed)), 2) if lat_routed else None,
                           "router_only": round(float(np.median([r["router_ms"] for r in rows])), 2) if n else None},
        "escalation_reasons": dict(sorted(Counter(r["reason"] for r in rows if r["route"] == "llm").items())),
    }


def replay_report(eng: "Engagement", client: Callable | None = None, embedder: Embedder | None = None,
                  router: Any = None) -> dict[str, Any]:
    """The replay's figures (see the module docstring); `client` overrides the logged-LLM stand-in."""
    from fde_toolkit.routing.router import Router
    from fde_toolkit.slm.datasets import kind_of
    from fde_toolkit.slm.metrics import successes

    assignments = pl.read_parquet(eng.artifacts.require("task_assignments"))
    router = router or Router.from_engagement(eng, embedder=embedder)
    held = _held_out(eng, router.policy, assignments)
    if held.height == 0:
        raise FdeError(f"{eng.display(eng.artifacts.path('routing_policy'))}: no task has calls to replay. "
                       f"Run `fde route {eng.display_root}` after `fde dataset` for the routed tasks.")
    calls = (pl.scan_parquet(eng.artifacts.require("curated")).join(held.lazy(), on="call_id", how="inner")
             .sort("task", "call_id").collect())
    missing = held.height - calls.height
    router._client = client or logged_llm(calls)
    kinds = {t["id"]: kind_of(t.get("output_kind")) for t in eng.artifacts.tasks()["tasks"]}
    kinds |= {tid: kind_of(t.get("output_kind") or kinds.get(tid)) for tid, t in router.policy["tasks"].items()
              if t.get("output_kind")}
    slm_cost = {tid: _slm_cost(eng, tid) for tid, t in router.policy["tasks"].items() if t.get("route") == "slm"}
    from tqdm.auto import tqdm

    rows = []
    for call in tqdm(calls.iter_rows(named=True), total=calls.height, desc="replaying calls", unit="call",
                     disable=calls.height < 100):
        kind = kinds.get(call["task"], "text")
        reply = router.complete(_request(call))
        route = reply["fde_route"]
        ran = route["route"] == "slm" or route["reason"] in RAN_SPECIALIST
        unit = slm_cost.get(route["task"]) if ran else 0.0
        llm = route["route"] == "llm"
        rows.append({
            "task": call["task"], "placed": route["task"], "route": route["route"], "reason": route["reason"],
            "agrees": bool(successes(kind, [_answer(reply, kind)], [_reference(call, kind)])[0]),
            "router_ms": route["latency_ms"], "llm_latency": call["latency_ms"], "llm_cost": call["cost_usd"],
            "routed_latency": (route["latency_ms"] + call["latency_ms"] if call["latency_ms"] is not None else None)
            if llm else route["latency_ms"],
            "routed_cost": None if unit is None or (llm and call["cost_usd"] is None)
            else unit + (call["cost_usd"] if llm else 0.0),
        })
    per_task = {}
    for tid in sorted({r["task"] for r in rows}):
        t = router.policy["tasks"].get(tid) or {}
        per_task[tid] = {"route": t.get("route", "llm"), "signal": t.get("signal"), "threshold": t.get("threshold"),
                         "target": t.get("target"), "output_kind": kinds.get(tid, "text"),
                         "slm_cost_per_call_usd": slm_cost.get(tid),
                         **_summary([r for r in rows if r["task"] == tid])}
    return {"version": REPLAY_VERSION, "engagement": eng.name, "overall": _summary(rows), "tasks": per_task,
            "calls_missing": missing,
            "method": f"held-out calls (test splits of routed tasks; {LLM_SAMPLE} calls of each task on the LLM; "
                      "the overall figures are over this mix, not the traffic's) "
                      "through the router; escalations answered by the logged LLM response; quality = agreement "
                      "with the logged LLM answer"}


def replay(eng: "Engagement", force: bool = False, client: Callable | None = None,
           embedder: Embedder | None = None) -> StepResult[dict[str, Any]]:
    """`fde route --replay`: router/replay.json, recorded in the manifest; skipped when nothing changed."""
    arts = eng.artifacts
    policy_path = arts.require("routing_policy")
    index = arts.require("task_index")
    inputs = [policy_path, arts.require("curated"), arts.require("task_assignments"),
              *sorted(p for p in index.iterdir() if p.is_file())]
    import yaml

    routed = [tid for tid, t in ((yaml.safe_load(policy_path.read_text(encoding="utf-8")) or {}).get("tasks") or {})
              .items() if t.get("route") == "slm"]
    for tid in sorted(routed):
        model = arts.root / "models" / tid
        inputs += [arts.require("split", tid, "test"), *sorted(
            p for p in model.rglob("*") if p.is_file() and p.relative_to(model).parts[0] != "runtime")]
        inputs += [arts.path("eval", tid)] if arts.exists("eval", tid) else []
    try:  # the runtime the router answers each task on (hardening.json's recommendation, else eager)
        from fde_toolkit.hardening.runtimes import recommended_runtime
        runtimes = {tid: recommended_runtime(eng, tid) for tid in sorted(routed)}
    except ImportError:
        runtimes = {tid: "eager" for tid in sorted(routed)}
    params = {"version": REPLAY_VERSION, "pii": eng.config.pii.model_dump(mode="json"), "runtimes": runtimes,
              "client": None if client is None else getattr(client, "__name__", type(client).__name__)}

    def make(out: StepOutputs) -> dict[str, Any]:
        report = replay_report(eng, client=client, embedder=embedder)
        o = report["overall"]
        out.summary = {"calls": o["calls"], "offload_share": o["offload_share"], "system_quality": o["system_quality"]}
        return out.write_data("replay", report)

    return run_step(eng, "route:replay", inputs=inputs, params=params, make=make,
                    previous=lambda: arts.read("replay"), render=render_replay, force=force)


def _money(v: float | None) -> str:
    return "n/a" if v is None else f"${v:,.4f}"


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1%}"


def _ms(v: float | None) -> str:
    return "n/a" if v is None else f"{v:,.0f}"


def render_replay(report: dict[str, Any]) -> str:
    """The replay as a terminal table: per task and overall, routed vs all-LLM."""
    head = (f"{'task':<8} {'route':<5} {'calls':>6} {'offload':>8} {'quality':>8} {'cost LLM':>10} {'routed':>10} "
            f"{'p50 LLM':>8} {'routed':>8}  escalations")
    lines = ["Replay: held-out calls through the router, escalations answered by the logged LLM response.", "",
             head, "-" * len(head)]

    def line(name: str, route: str, s: dict[str, Any]) -> str:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(s["escalation_reasons"].items(), key=lambda kv: -kv[1]))
        return (f"{name:<8} {route:<5} {s['calls']:>6,} {_pct(s['offload_share']):>8} {_pct(s['system_quality']):>8} "
                f"{_money(s['cost_usd']['all_llm']):>10} {_money(s['cost_usd']['routed']):>10} "
                f"{_ms(s['latency_ms_p50']['all_llm']):>8} {_ms(s['latency_ms_p50']['routed']):>8}  {reasons}")

    for tid, s in report["tasks"].items():
        lines.append(line(tid, s["route"], s))
    lines += ["-" * len(head), line("all", "", report["overall"]), ""]
    o = report["overall"]
    lines.append(f"quality = agreement with the logged LLM answer (escalated calls agree by construction); "
                 f"router p50 {_ms(o['latency_ms_p50']['router_only'])} ms per call; "
                 f"{o['misplaced']} call(s) placed in another task than discovery's.")
    if report.get("calls_missing"):
        lines.append(f"{report['calls_missing']} held-out call(s) are no longer in curated.parquet and were skipped.")
    return "\n".join(lines)
