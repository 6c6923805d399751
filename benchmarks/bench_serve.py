"""`fde serve` under load: the same specialist served with micro-batching vs one request at a time, same run.

    python benchmarks/bench_serve.py [ENGAGEMENT] --task t01 --clients 16 --seconds 20 --max-batch 16

ENGAGEMENT defaults to a copy of engagements/demo in /tmp (the demo is never written to); it needs
routing.yaml (`fde route`) with the task on its specialist. Each side is a fresh server process (uvicorn on
loopback, the engagement's scrub, task index and specialist through Router.route_batch) that the clients
(one asyncio process, `--clients` concurrent connections) load for `--seconds` with the task's test-split
requests in turn, as the customer's code would send them (model "gpt-4o": routed by the task index).
The two sides differ only in serve.max_batch (N vs 1). Escalations go to an in-process stub that answers at
once, so the figures are the server's own work. The task index's memory of past request vectors is off
(MEMO = 0) on both sides: requests that come round again are embedded again, as new traffic would be.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

DEMO = Path(__file__).resolve().parents[1] / "engagements" / "demo"


def _server(root: str, max_batch: int, max_wait_ms: float, threads: int | None, runtime: str | None,
            port_q) -> None:
    """A server process: the engagement's router behind create_app on a free loopback port."""
    import torch

    import fde_toolkit.routing.index as index
    from fde_toolkit.engagement import Engagement
    from fde_toolkit.routing.router import Router
    from fde_toolkit.serving.app import create_app, serve_in_thread

    if threads:
        torch.set_num_threads(threads)
    index.MEMO = 0

    def stub(request: dict) -> dict:
        return {"id": "chatcmpl-stub", "object": "chat.completion", "created": 0, "model": "stub-llm",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]}

    eng = Engagement.load(root)
    cfg = eng.config.serve.model_copy(update={"max_batch": max_batch, "max_wait_ms": max_wait_ms,
                                              "queue_size": 1024, "timeout_s": 60.0})
    router = Router.from_engagement(eng, client=stub)
    if runtime:
        router.runtime = lambda task: runtime
    app = create_app(router, cfg, host="127.0.0.1")
    running = serve_in_thread(app)
    port_q.put((running.port, torch.get_num_threads(), app.state.service.specialists))
    while True:
        time.sleep(3600)


async def _load(url: str, requests: list[dict], clients: int, seconds: float) -> dict:
    import httpx

    lat: list[float] = []
    codes: dict[int, int] = {}
    routes: dict[str, int] = {}
    nxt = 0
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=httpx.Limits(max_connections=clients)) as http:
        warm = [http.post("/v1/chat/completions", json=requests[i % len(requests)]) for i in range(clients)]
        await asyncio.gather(*warm)
        t0 = time.perf_counter()
        stop = t0 + seconds

        async def client() -> None:
            nonlocal nxt
            while time.perf_counter() < stop:
                req = requests[nxt % len(requests)]
                nxt += 1
                t = time.perf_counter()
                r = await http.post("/v1/chat/completions", json=req)
                lat.append((time.perf_counter() - t) * 1000)
                codes[r.status_code] = codes.get(r.status_code, 0) + 1
                if r.status_code == 200:
                    k = r.headers.get("x-fde-route", "")
                    routes[k] = routes.get(k, 0) + 1

        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - t0
        metrics = (await http.get("/metrics")).text
        health = (await http.get("/health")).json()
    return {"requests": len(lat), "seconds": round(elapsed, 2), "requests_per_s": round(len(lat) / elapsed, 2),
            "p50_ms": round(float(np.percentile(lat, 50)), 1), "p95_ms": round(float(np.percentile(lat, 95)), 1),
            "status": codes, "errors_5xx": sum(n for c, n in codes.items() if c >= 500), "routes": routes,
            "mean_batch": health["batches"]["mean_batch"], "largest_batch": health["batches"]["largest_batch"],
            "metrics_lines": len(metrics.splitlines())}


def _side(root: str, max_batch: int, args, requests: list[dict]) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=_server, args=(root, max_batch, args.max_wait_ms, args.threads, args.runtime, q),
                       daemon=True)
    t = time.perf_counter()
    proc.start()
    try:
        port, threads, specialists = q.get(timeout=600)
        start_s = round(time.perf_counter() - t, 1)
        out = asyncio.run(_load(f"http://127.0.0.1:{port}", requests, args.clients, args.seconds))
    finally:
        proc.terminate()
        proc.join(10)
    runtimes = ",".join(f"{t}:{s['runtime']}" for t, s in specialists.items())
    return {"max_batch": max_batch, "torch_threads": threads, "runtime": runtimes, "start_s": start_s, **out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("engagement", nargs="?", help="default: a copy of engagements/demo in /tmp")
    ap.add_argument("--task", default="t01")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--max-batch", type=int, default=16)
    ap.add_argument("--max-wait-ms", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=None, help="torch threads in the server (default: torch's)")
    ap.add_argument("--runtime", help="the specialist's runtime (default: hardening.json's recommendation, as "
                    "`fde serve` loads it)")
    ap.add_argument("--json", help="write the figures here too")
    args = ap.parse_args()

    root = args.engagement
    if root is None:
        if not (DEMO / "artifacts" / "routing.yaml").exists():
            sys.exit(f"{DEMO}: no routing.yaml yet; run `make demo` (or `fde route`) first, or pass an engagement.")
        root = "/tmp/bench-serve-demo"
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(DEMO, root, ignore=shutil.ignore_patterns("reports", "served"))
    test = [json.loads(line) for line in (Path(root) / "artifacts" / "datasets" / args.task / "test.jsonl")
            .read_text(encoding="utf-8").splitlines() if line.strip()]
    requests = [{"model": "gpt-4o", "messages": r["messages"], **({"tools": r["tools"]} if r.get("tools") else {})}
                for r in test]
    load_before = os.getloadavg()
    batched = _side(root, args.max_batch, args, requests)
    single = _side(root, 1, args, requests)
    load_after = os.getloadavg()

    print(f"bench_serve: {args.task} test requests ({len(requests)}), {args.clients} concurrent clients, "
          f"{args.seconds:g} s per side, loopback HTTP; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, load {load_before[0]:.2f} before / {load_after[0]:.2f} after")
    print(f"{'':34} {'batching (max_batch=' + str(args.max_batch) + ')':>26} {'no batching (max_batch=1)':>26}")
    for key, label in (("requests_per_s", "requests/s"), ("p50_ms", "latency p50 ms"), ("p95_ms", "latency p95 ms"),
                       ("requests", "requests answered"), ("errors_5xx", "5xx errors"), ("mean_batch", "mean batch"),
                       ("largest_batch", "largest batch"), ("torch_threads", "server torch threads"),
                       ("runtime", "runtime"),
                       ("start_s", "server start s")):
        print(f"{label:34} {batched[key]!s:>26} {single[key]!s:>26}")
    print(f"{'routes (slm / llm)':34} {str(batched['routes']):>26} {str(single['routes']):>26}")
    ratio = batched["requests_per_s"] / single["requests_per_s"] if single["requests_per_s"] else float("inf")
    ok = ratio >= 3 and batched["errors_5xx"] == 0 and single["errors_5xx"] == 0
    print(f"ratio requests/s batching / none: {ratio:.2f}x  (target >= 3x, 0 errors 5xx: {'PASS' if ok else 'FAIL'})")
    if args.json:
        Path(args.json).write_text(json.dumps({"batched": batched, "single": single, "ratio": round(ratio, 3),
                                               "load": [load_before, load_after]}, indent=2))


if __name__ == "__main__":
    main()
