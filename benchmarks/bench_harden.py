"""`fde harden` per specialist at batch 1: the recommended configuration against eager transformers and the LLM.

    python benchmarks/bench_harden.py                                # a copy of engagements/demo
    python benchmarks/bench_harden.py --engagement PATH --runtimes eager,onnx-int8 --threads 2

Works on a temporary copy of the engagement (the original is never written): its engagement.yaml gets
the benchmark's hardening settings, then `harden(eng, force=True)` measures every runtime that applies
(or --runtimes) in fresh processes, all with the same thread count. Per specialist, at batch 1, side by
side in the same run:

  ours      the recommended configuration (the cheapest that passes the SLA), its batch-1 p50
  eager     eager transformers (today's specialist), its batch-1 p50
  LLM       the LLM's logged p50 for the task (tasks.json)

Targets (issue #13): ours at least 3x faster than eager (eager p50 / ours p50 >= 3) and at most one third
of the LLM's logged p50 (ours / LLM <= 1/3).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "n/a"


def _copy(src: Path, dst: Path) -> Path:
    """The engagement without its reports (the artifacts, settings, logs and key the steps need)."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("reports"), symlinks=True)
    return dst


def _set_hardening(root: Path, settings: dict) -> None:
    import yaml

    path = root / "engagement.yaml"
    cfg = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    cfg["hardening"] = {**(cfg.get("hardening") or {}), **settings}
    path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _f(x, fmt=",.1f") -> str:
    return "n/a" if x is None else format(x, fmt)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engagement", type=Path, default=REPO / "engagements" / "demo")
    ap.add_argument("--runtimes", default="", help="comma-separated; default: every runtime that applies")
    ap.add_argument("--task", action="append", default=None, help="task id (repeatable); default: all specialists")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-sizes", default="1,8")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-requests", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--keep", action="store_true", help="keep the temporary copy (its path is printed)")
    args = ap.parse_args(argv)

    from fde_toolkit.engagement import Engagement
    from fde_toolkit.hardening.step import harden, render_hardening

    if not (args.engagement / "artifacts" / "routing.yaml").is_file():
        print(f"{args.engagement}: no artifacts/routing.yaml; run `fde route` on it first", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bench-harden-"))
    root = _copy(args.engagement.resolve(), tmp / args.engagement.name)
    _set_hardening(root, {"batch_sizes": [int(b) for b in args.batch_sizes.split(",")], "repeats": args.repeats,
                          "max_requests": args.max_requests, "threads": args.threads,
                          "concurrency": args.concurrency})
    print(f"bench_harden on {os.uname().nodename}: {_uptime()}")
    print(f"engagement copy: {root}; threads per side: {args.threads}; batch sizes {args.batch_sizes}, "
          f"{args.repeats} repeats of up to {args.max_requests} test calls")
    eng = Engagement.load(root)
    runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()] or None
    t0 = time.perf_counter()
    result = harden(eng, force=True, tasks=args.task, runtimes=runtimes)
    seconds = time.perf_counter() - t0
    doc = result.data
    print(render_hardening(doc))
    print(f"\n(harden took {seconds:.0f} s; after: {_uptime()})\n")
    print("| task | ours (recommended) | ours p50 ms | eager p50 ms | eager / ours | LLM p50 ms | ours / LLM | "
          "3x eager | <= 1/3 LLM |")
    print("|---|---|---:|---:|---:|---:|---:|---|---|")
    ok = True
    for tid, t in doc["tasks"].items():
        confs = {c["runtime"]: c for c in t["configurations"]}
        one = {name: next((b for b in c.get("batches") or [] if b["batch_size"] == 1), None)
               for name, c in confs.items()}
        eager = (one.get("eager") or {}).get("latency_ms", {}).get("p50")
        rec = t.get("recommended")
        ours = rec["latency_ms"]["p50"] if rec else None
        llm = (t.get("llm_latency_ms") or {}).get("p50")
        speedup = eager / ours if eager and ours else None
        vs_llm = ours / llm if ours and llm else None
        pass_eager = speedup is not None and speedup >= 3
        pass_llm = vs_llm is not None and vs_llm <= 1 / 3
        ok &= pass_eager and pass_llm
        print(f"| {tid} | {rec['runtime'] if rec else 'none'} | {_f(ours)} | {_f(eager)} | {_f(speedup, '.2f')}x | "
              f"{_f(llm)} | {_f(vs_llm, '.3f')} | {'PASS' if pass_eager else 'FAIL'} | "
              f"{'PASS' if pass_llm else 'FAIL'} |")
        for name, b in one.items():
            if b:
                lat = b["latency_ms"]
                print(f"    {name:<12} batch 1 p50 {_f(lat['p50'])} ms, p95 {_f(lat['p95'])} ms; "
                      f"status {confs[name]['status']}; threads {confs[name].get('threads')}")
            else:
                print(f"    {name:<12} {confs[name]['status']}: {confs[name].get('why', '')[:140]}")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
