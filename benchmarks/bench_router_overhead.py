"""What the router adds to a specialist's own latency: specialist.answer alone vs Router.complete, same requests,
same run, interleaved one request at a time.

    python benchmarks/bench_router_overhead.py /tmp/demo --task t01 --requests 200 --threads 1

The engagement needs routing.yaml (`fde route`) and its task index (built here when missing, timed). Requests
are the task's test split, as the chat requests their curated calls were. Escalations go to an in-process
stub that answers at once (nothing leaves the machine), so the figures are the router's own work: building
the canonical row, the PII scrub (with the engagement's settings, NER included when on), placing the call
(task index: normalise, embed, nearest centre) and the specialist with its signals and validators.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import polars as pl


def _p(xs: list[float], q: float) -> float | None:
    return round(float(np.percentile(xs, q)), 3) if xs else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("engagement")
    ap.add_argument("--task", default="t01")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the 2-core laptop floor: 1)")
    ap.add_argument("--json", help="write the figures here too")
    args = ap.parse_args()

    import torch

    from fde_toolkit.engagement import Engagement
    from fde_toolkit.routing.index import TaskIndex
    from fde_toolkit.routing.replay import _request
    from fde_toolkit.routing.router import Router, specialist_record

    torch.set_num_threads(args.threads)
    eng = Engagement.load(args.engagement)
    build_s = None
    if not (eng.artifacts.path("task_index") / "index.json").exists():
        t = time.perf_counter()
        TaskIndex.build(eng).save(eng.artifacts.path("task_index"))
        build_s = round(time.perf_counter() - t, 1)

    def stub(request: dict) -> dict:
        return {"object": "chat.completion", "model": "stub-llm",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": "stop"}]}

    t = time.perf_counter()
    router = Router.from_engagement(eng, client=stub)
    load_s = time.perf_counter() - t
    test = eng.artifacts.read("split", args.task, "test")[:args.requests]
    calls = (pl.read_parquet(eng.artifacts.path("curated"))
             .filter(pl.col("call_id").is_in([r["id"] for r in test])).sort("call_id"))
    rows = list(calls.iter_rows(named=True))
    requests = [_request(r) for r in rows]
    records = [specialist_record(r) for r in rows]
    spec = router.specialist(args.task)
    t = time.perf_counter()
    for req, rec in zip(requests[:5], records[:5]):  # warm-up: models, NER, embedder loaded; first-call costs paid
        spec.answer([rec])
        router.complete(req)
    warm_s = time.perf_counter() - t + load_s

    alone, routed, scrub, assign, inside, overhead, no_scrub = [], [], [], [], [], [], []
    routes: dict[str, int] = {}
    for req, rec in zip(requests, records):
        t = time.perf_counter()
        spec.answer([rec])
        a = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        reply = router.complete(req)
        r = (time.perf_counter() - t) * 1000
        key = reply["fde_route"]["route"] + (":" + reply["fde_route"]["reason"] if reply["fde_route"]["reason"] else "")
        routes[key] = routes.get(key, 0) + 1
        tm = router.timings
        scrub.append(tm.get("scrub", 0) * 1000)
        if "assign" in tm:
            assign.append(tm["assign"] * 1000)
        if "specialist" in tm:  # the specialist ran inside the router: a like-for-like pair
            alone.append(a)
            routed.append(r)
            inside.append(tm["specialist"] * 1000)
            overhead.append(r - a)
            no_scrub.append(r - a - tm.get("scrub", 0) * 1000)
    p50_alone, p50_routed = _p(alone, 50), _p(routed, 50)
    out = {
        "engagement": eng.name, "task": args.task, "specialist": spec.candidate, "kind": spec.kind,
        "requests": len(requests), "paired": len(alone), "routes": routes, "torch_threads": args.threads,
        "pii_ner": eng.config.pii.ner, "cpu": platform.processor() or platform.machine(),
        "index_build_s": build_s, "load_and_warm_up_s": round(warm_s, 1),
        "specialist_alone_ms": {"p50": p50_alone, "p95": _p(alone, 95)},
        "router_complete_ms": {"p50": p50_routed, "p95": _p(routed, 95)},
        "overhead_ms": {"p50": _p(overhead, 50), "p95": _p(overhead, 95),
                        "p50_difference": round(p50_routed - p50_alone, 3) if alone else None},
        "ratio_p50": round(p50_routed / p50_alone, 2) if alone else None,
        "stages_ms_p50": {"scrub": _p(scrub, 50), "assign": _p(assign, 50), "specialist_inside": _p(inside, 50)},
        "overhead_without_scrub_ms_p50": _p(no_scrub, 50),
    }
    print(json.dumps(out, indent=1))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
