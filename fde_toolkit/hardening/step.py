"""`fde harden`: every specialist benchmarked on the hardware at hand, gated by the SLA, probed with hostile inputs.

    result = harden(eng)                          # hardening.json + hardening/<task>.json
    result.data["tasks"]["t01"]["recommended"]    # the cheapest configuration that passes the SLA, or None

For every task with a specialist (routing.json): each runtime that applies (hardening/runtimes.py; eager
always, as the reference) is measured in a fresh process (measure.py): load time, peak memory, latency
p50/p95/p99 and requests/s and tokens/s at each of hardening.batch_sizes, and quality on the whole test
split: agreement with the LLM's logged answer (slm.metrics.successes, as `fde evaluate` and `fde route`
judge it) with its 95% Wilson interval, the drop against eager and the share of answers equal to eager's.
A configuration that loses more than hardening.max_quality_drop is "failed_quality", whatever its speed.
The SLA table and the recommendation come from sla.py; the recommended runtime is then measured under
load (hardening.concurrency closed-loop clients through serving.batcher.MicroBatcher with serve.max_batch
and serve.max_wait_ms), and the robustness cases (robustness.py) go through the engagement's Router
with that runtime's specialist. A task where nothing passes keeps what routing decided; the report says
what failed.
"""

from __future__ import annotations

import platform
from importlib import metadata
from typing import TYPE_CHECKING, Any, Sequence

from fde_toolkit import FdeError
from fde_toolkit.step import StepOutputs, StepResult, run_step

if TYPE_CHECKING:
    from fde_toolkit.engagement import Engagement

HARDENING_FORMAT = "fde-hardening/1"
HARDENING_VERSION = 2  # 2: under load, the specialist answers in the recommended batch size


def machine_info(threads: int) -> dict[str, Any]:
    """Where the figures were measured: platform, CPU, cores, threads, CUDA device, torch, load average."""
    import os

    from fde_toolkit.slm.machine import usable_cores

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    cuda = None
    try:
        import torch

        if torch.cuda.is_available():
            cuda = torch.cuda.get_device_name(0)
    except Exception:  # noqa: BLE001 - no CUDA is the common case
        cuda = None
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = None
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        load = None
    return {"platform": platform.platform(), "cpu": cpu, "cores": usable_cores(), "threads": threads, "cuda": cuda,
            "torch": torch_version, "load_average": load}


def quality_of(kind: str, predictions: Sequence[str], targets: Sequence[str], chrf_ok: float,
               eager: Sequence[str] | None, eager_value: float | None) -> tuple[dict[str, Any], list[bool]]:
    """Agreement with the LLM (its Wilson interval), the drop against eager and the share equal to eager."""
    from fde_toolkit.slm.metrics import successes
    from fde_toolkit.slm.stats import wilson_interval

    ok = successes(kind, list(predictions), list(targets), chrf_ok)
    n, k = len(ok), sum(ok)
    value = k / n if n else None
    lo, hi = wilson_interval(k, n)
    same = (sum(a == b for a, b in zip(predictions, eager)) / n if eager is not None and n else None)
    drop = None if value is None or eager_value is None else round(eager_value - value, 6)
    return ({"metric": "agreement", "value": value, "low": round(lo, 6), "high": round(hi, 6), "n": n,
             "drop": drop, "equal_to_eager": same}, ok)


def quality_status(quality: dict[str, Any], max_quality_drop: float,
                   eager_value: float | None) -> tuple[str, str]:
    """("ok" | "failed_quality", why) for a measured configuration's quality (quality_of)."""
    drop = quality.get("drop")
    if drop is None:
        return "ok", "eager was not measured, so the quality drop is unknown"
    if drop > max_quality_drop + 1e-12:
        return "failed_quality", (f"agreement {quality['value']:.3f} is {drop:.3f} below eager's {eager_value:.3f}; "
                                  f"hardening.max_quality_drop allows {max_quality_drop:g}")
    return "ok", ""


def _runtimes(kind: str, wanted: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """(runtimes to measure, eager first; runtimes considered and not measured, with why)."""
    from fde_toolkit.hardening import runtimes as rt

    names = list(rt.runtimes_for(kind, list(wanted)))
    names = ["eager", *[n for n in names if n != "eager"]]
    skipped = dict(rt.unavailable_runtimes(kind))
    if wanted:
        skipped = {k: v for k, v in skipped.items() if k in wanted}
    return [n for n in names if n not in skipped], skipped


def harden_task(eng: "Engagement", task: dict[str, Any], router, recorder, wanted: Sequence[str], threads: int,
                timeout_s: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the task's hardening.json entry, its raw runs) for one task with a specialist (module docstring)."""
    from fde_toolkit.hardening.measure import measure_configuration, measure_under_load
    from fde_toolkit.hardening.robustness import robustness_cases
    from fde_toolkit.hardening.sla import recommend, sla_limits, sla_rows
    from fde_toolkit.slm.datasets import kind_of, load_dataset

    cfg, arts, tid = eng.config, eng.artifacts, task["id"]
    h = cfg.hardening
    training = arts.read("training", tid)
    kind = "encoder" if training.get("specialist") == "encoder" else "decoder"
    splits, info = load_dataset(eng, tid)
    test = splits["test"]
    output_kind = info.get("output_kind", "text")
    scoring = kind_of(output_kind)  # the kind answers are judged as (short_text -> text)
    targets = [r["target"] for r in test]
    chrf_ok = cfg.finetune.evaluate.text_success_chrf
    names, unavailable = _runtimes(kind, wanted)
    runs, configurations = [], []
    eager_preds: list[str] | None = None
    eager_value: float | None = None
    for name in names:
        run = measure_configuration(eng, tid, name, threads, h.batch_sizes, h.repeats, h.max_requests, h.warmup,
                                    timeout_s=timeout_s)
        runs.append(run)
        conf: dict[str, Any] = {"runtime": name, "device": run.get("device", "cpu"),
                                "precision": run.get("precision", "fp32"), "status": run.get("status", "error"),
                                "why": run.get("why", ""), "load_s": run.get("load_s"),
                                "prepare_s": run.get("prepare_s"),
                                "peak_memory_mb": run.get("peak_memory_mb"), "threads": threads,
                                "tokens": run.get("tokens"), "batches": run.get("batches") or [], "quality": None}
        if conf["status"] == "ok":
            preds = run["predictions"]
            if len(preds) != len(test):
                conf.update(status="error", why=f"answered {len(preds)} of {len(test)} test calls")
            else:
                if name == "eager":
                    eager_preds = preds
                q, ok = quality_of(scoring, preds, targets, chrf_ok, eager_preds, eager_value)
                if name == "eager":
                    eager_value = q["value"]
                    q["drop"], q["equal_to_eager"] = 0.0, 1.0
                run["correct"] = ok
                conf["quality"] = q
                conf["status"], conf["why"] = quality_status(q, h.max_quality_drop, eager_value)
        configurations.append(conf)
    for name, why in unavailable.items():
        configurations.append({"runtime": name, "device": "cpu", "precision": None, "status": "unavailable",
                               "why": why, "load_s": None, "peak_memory_mb": None, "batches": [], "quality": None})
    lat = task.get("latency_ms") or {}
    limits = sla_limits(cfg.sla.for_task(tid), lat.get("p95"))
    rows = sla_rows(configurations, limits, h.max_quality_drop, cfg.finetune.serving.hourly_usd)
    rec, why = recommend(configurations, rows, limits)
    entry: dict[str, Any] = {
        "kind": kind, "output_kind": output_kind, "candidate": training["candidate"]["id"],
        "llm_latency_ms": {"p50": lat.get("p50"), "p95": lat.get("p95")}, "test_calls": len(test),
        "route": ((router.tasks.get(tid) or {}).get("route")), "configurations": configurations,
        "under_load": None, "sla": {"limits": limits, "rows": rows}, "recommended": rec,
        "recommendation_why": why}
    raw: dict[str, Any] = {"task": tid, "runs": runs, "under_load": None}
    served = rec["runtime"] if rec else "eager"
    if rec:
        serve = cfg.serve
        load = measure_under_load(eng, tid, served, threads, h.concurrency, serve.max_batch, serve.max_wait_ms,
                                  requests=max(h.max_requests * h.repeats, 4 * h.concurrency), timeout_s=timeout_s,
                                  batch_size=rec.get("batch_size"))
        raw["under_load"] = load
        keys = ("runtime", "concurrency", "max_batch", "batch_size", "max_wait_ms", "latency_ms", "requests_per_s",
                "requests", "seconds", "errors", "mean_batch", "largest_batch")
        entry["under_load"] = ({k: load.get(k) for k in keys} | {"status": "ok"} if load.get("status") == "ok"
                               else {"runtime": served, "status": "error", "why": load.get("why", "")})
    if served != "eager":  # the router answers with the runtime that would be served
        from fde_toolkit.hardening.runtimes import load_runtime

        router._specialists[tid] = load_runtime(eng, tid, served, threads)
    spec = router.specialist(tid)
    entry["robustness_runtime"] = served
    entry["robustness"] = robustness_cases(
        router, tid, test, output_kind=scoring, labels=list(getattr(spec, "labels", []) or info.get("labels") or []),
        recorder=recorder, max_length=_max_length(spec), max_input_chars=cfg.routing.max_input_chars,
        timeout_s=cfg.serve.timeout_s)
    return entry, raw


def _max_length(spec) -> int | None:
    from fde_toolkit.hardening.measure import _max_length as ml

    return ml(spec)


def harden(eng: "Engagement", force: bool = False, tasks: Sequence[str] | None = None,
           runtimes: Sequence[str] | None = None, embedder: Any = None,
           timeout_s: float | None = None) -> StepResult[dict[str, Any]]:
    """`fde harden`: hardening.json + hardening/<task>.json (module docstring). `tasks` limits the tasks (the
    others keep their previous entries), `runtimes` the runtimes (else hardening.runtimes, else all that apply);
    `embedder` overrides the task index's sentence embedder (tests); `timeout_s` bounds each measurement."""
    from fde_toolkit.hardening.measure import WORKER_TIMEOUT_S
    from fde_toolkit.slm.machine import usable_cores
    from fde_toolkit.slm.status import specialist_ready

    arts, cfg = eng.artifacts, eng.config
    policy_path = arts.require("routing_policy")
    tasks_json = arts.tasks()
    by_id = {t["id"]: t for t in tasks_json.get("tasks", [])}
    for t in tasks or ():
        if t not in by_id:
            raise FdeError(f"--task {t}: no such task in {eng.display(arts.path('tasks'))} "
                           f"(tasks: {', '.join(list(by_id)[:12])}{', ...' if len(by_id) > 12 else ''})")
    wanted = list(runtimes or cfg.hardening.runtimes)
    chosen, skipped = [], {}
    for tid in (list(tasks) if tasks else list(by_id)):
        if arts.exists("training", tid) and specialist_ready(arts.path("adapter", tid)):
            chosen.append(tid)
        elif tasks or by_id[tid].get("candidate"):  # SLM candidates without a specialist (yet)
            skipped[tid] = (f"no specialist: run `fde dataset`, `fde finetune` and `fde route {eng.display_root}` "
                            f"for {tid} first")
    if not chosen:
        raise FdeError("No task has a specialist to harden yet: run `fde finetune` on a candidate task and "
                       f"`fde route {eng.display_root}` first.")
    inputs = [policy_path, arts.path("tasks")]
    for tid in chosen:
        adapter = arts.path("adapter", tid)
        inputs += [arts.path("training", tid), arts.path("dataset_info", tid), arts.require("split", tid, "test"),
                   *sorted(p for p in adapter.rglob("*") if p.is_file())]
    threads = cfg.hardening.threads or usable_cores()
    params = {"version": HARDENING_VERSION, "tasks": chosen, "runtimes": wanted, "threads": threads,
              "hardening": cfg.hardening.model_dump(mode="json"), "sla": cfg.sla.model_dump(mode="json"),
              "serve": cfg.serve.model_dump(mode="json", include={"max_batch", "max_wait_ms", "timeout_s"}),
              "hourly_usd": cfg.finetune.serving.hourly_usd, "max_input_chars": cfg.routing.max_input_chars,
              "text_success_chrf": cfg.finetune.evaluate.text_success_chrf}

    def make(out: StepOutputs) -> dict[str, Any]:
        from fde_toolkit.hardening.robustness import EscalationRecorder
        from fde_toolkit.routing.router import Router

        recorder = EscalationRecorder()
        router = Router.from_engagement(eng, client=recorder, embedder=embedder)  # fails early (key, index)
        previous = arts.optional("hardening") or {}
        doc: dict[str, Any] = {"format": HARDENING_FORMAT, "machine": machine_info(threads),
                               "settings": cfg.hardening.model_dump(mode="json") | {"threads_used": threads},
                               "tasks": {}, "skipped": {}}
        if tasks:  # the tasks not asked for keep what an earlier run measured
            doc["tasks"] = {k: v for k, v in (previous.get("tasks") or {}).items() if k not in chosen}
            doc["skipped"] = {k: v for k, v in (previous.get("skipped") or {}).items()
                              if k not in chosen and k not in skipped}
        for tid in chosen:
            entry, raw = harden_task(eng, by_id[tid], router, recorder, wanted, threads,
                                     timeout_s or WORKER_TIMEOUT_S)
            doc["tasks"][tid] = entry
            out.write("hardening_runs", {"format": HARDENING_FORMAT, "machine": doc["machine"], **raw}, tid)
        doc["skipped"].update(skipped)
        doc["tasks"] = dict(sorted(doc["tasks"].items()))
        out.summary = {"tasks": len(chosen), "recommended": sum(1 for t in chosen if doc["tasks"][t]["recommended"])}
        return out.write_data("hardening", doc)

    return run_step(eng, "harden", inputs=inputs, params=params, make=make, previous=lambda: arts.read("hardening"),
                    render=render_hardening, force=force)


def _f(x: float | None, fmt: str = ",.1f") -> str:
    return "n/a" if x is None else format(x, fmt)


def render_hardening(doc: dict[str, Any]) -> str:
    """What `fde harden` prints: a short table per task and its recommendation."""
    m = doc.get("machine") or {}
    lines = [f"Hardening on {m.get('cpu', '?')} ({m.get('cores', '?')} cores, {m.get('threads', '?')} threads"
             f"{', CUDA ' + m['cuda'] if m.get('cuda') else ''}; load {m.get('load_average')}):"]
    for tid, t in (doc.get("tasks") or {}).items():
        lim = (t.get("sla") or {}).get("limits") or {}
        p95 = lim.get("p95_ms")
        llm_p50 = _f((t.get("llm_latency_ms") or {}).get("p50"), ",.0f")
        src = " (the LLM's logged p95)" if lim.get("p95_source") == "llm_logged_p95" else ""
        sla_p95 = f"SLA p95 <= {p95:,.0f} ms{src}" if p95 is not None else "no p95 limit (none set, none logged)"
        lines.append(f"  {tid} {t['kind']} {t['candidate']}, {t['test_calls']} test calls; {sla_p95}; "
                     f"LLM p50 {llm_p50 + ' ms' if llm_p50 != 'n/a' else 'not logged'}")
        lines.append(f"    {'runtime':<14}{'p50@1 ms':>10}{'best req/s':>12}{'agreement':>11}  status")
        for c in t["configurations"]:
            one = next((b for b in c.get("batches") or [] if b["batch_size"] == 1), None)
            best = max((b["requests_per_s"] or 0 for b in c.get("batches") or []), default=None)
            q = (c.get("quality") or {}).get("value")
            status = c["status"] + (f" ({c['why'][:70]})" if c["status"] != "ok" and c.get("why") else "")
            lines.append(f"    {c['runtime']:<14}{_f(one and one['latency_ms']['p50']):>10}{_f(best):>12}"
                         f"{_f(q, '.3f'):>11}  {status}")
        rec = t.get("recommended")
        if rec:
            lines.append(f"    recommended: {rec['why']}")
        else:
            lines.append(f"    recommended: none, the task stays as routing has it ({t.get('route') or 'llm'}): "
                         f"{t.get('recommendation_why', '')}")
        ul = t.get("under_load")
        if ul and ul.get("status") == "ok":
            lines.append(f"    under load ({ul['concurrency']} clients, max batch {ul['max_batch']}): p50 "
                         f"{_f(ul['latency_ms']['p50'])} ms, p95 {_f(ul['latency_ms']['p95'])} ms, "
                         f"{_f(ul['requests_per_s'])} requests/s, mean batch {_f(ul.get('mean_batch'), '.1f')}")
        elif ul:
            lines.append(f"    under load: error ({ul.get('why', '')})")
        rb = t.get("robustness") or []
        bad = [r["case"] for r in rb if not r["ok"]]
        lines.append(f"    robustness: {len(rb) - len(bad)} of {len(rb)} cases ok"
                     + (f"; not ok: {', '.join(bad)}" if bad else ""))
    for tid, why in (doc.get("skipped") or {}).items():
        lines.append(f"  {tid}: skipped, {why}")
    return "\n".join(lines)
