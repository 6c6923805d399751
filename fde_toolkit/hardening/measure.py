"""One configuration (task x runtime) benchmarked in a fresh process: load time, latency at each batch size,
throughput, peak memory and the answers to the whole test split.

    run = measure_configuration(eng, "t01", "onnx-int8", threads=2)     # parent side: spawns the worker
    run["status"], run["load_s"], run["peak_memory_mb"], run["batches"][0]["latency_ms"]["p95"]
    run["predictions"]                                                  # one per test call, for the quality check
    load = measure_under_load(eng, "t01", "onnx-int8", threads=2)       # closed-loop clients through MicroBatcher

Each run is `python -m fde_toolkit.hardening.measure SPEC OUT` (JSON in, JSON out), so its peak memory
(getrusage ru_maxrss) and thread settings belong to that configuration alone, and a runtime that crashes
or hangs is recorded as status "error" with why instead of taking the step down.

A runtime other than eager is first loaded once in a process of its own ("prepare": the conversion into
artifacts/models/<task>/runtime/<runtime> on first use, prepare_s), so that load_s is a cold start from
the converted model. Inside the measuring worker, after loading (load_s), the specialist answers the
whole test split once (the quality pass, untimed: also the warm-up of the model); then at each batch
size, after `warmup` untimed batches, `repeats` timed passes over the first `max_requests` test calls
cut into batches of that size. A request in a batch waits for its batch: each gets its batch's wall
time. Latency percentiles pool the passes; `p50_spread_ms` is the [min, max] of the passes' p50s;
requests/s and tokens/s divide the passes' requests and tokens by their time. Tokens are what the
specialist processed: input tokens (truncated at the encoder's max_length) for encoders, the answers'
output tokens for decoders (`tokens` says which).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:
    from fde_toolkit.engagement import Engagement

WORKER_TIMEOUT_S = 3600.0  # one configuration's whole run; past it the configuration is an "error"
UNDER_LOAD_S = 30.0  # the under-load measurement stops after this long (or its request count)


def _pct(values: Sequence[float]) -> dict[str, float | None]:
    if not len(values):
        return {"p50": None, "p95": None, "p99": None}
    a = np.asarray(values, dtype=np.float64)
    return {f"p{q}": round(float(np.percentile(a, q)), 3) for q in (50, 95, 99)}


def precision_of(runtime: str) -> str:
    """The number format a runtime's name says it runs in (int8 quantized or fp32)."""
    name = runtime.lower()
    for tag, precision in (("int4", "int4"), ("int8", "int8"), ("float16", "fp16"), ("fp16", "fp16"),
                           ("bf16", "bf16")):
        if tag in name:
            return precision
    return "fp32"


# ----------------------------------------------------------------------------- parent side

def _run_worker(spec: dict[str, Any], threads: int, timeout_s: float) -> dict[str, Any]:
    """Run the worker on `spec`; its JSON result, or {"status": "error", "why"} when it failed or hung."""
    import fde_toolkit

    package_parent = str(Path(fde_toolkit.__file__).resolve().parent.parent)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "OPENBLAS_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join([package_parent, *filter(None, [os.environ.get("PYTHONPATH")])])}
    with tempfile.TemporaryDirectory(prefix="fde-harden-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, "-m", "fde_toolkit.hardening.measure", str(spec_path),
                                   str(out_path)], env=env, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return {"status": "error", "why": f"did not finish within {timeout_s:.0f} s (hung or far too slow)"}
        if out_path.is_file():
            try:
                result = json.loads(out_path.read_text(encoding="utf-8"))
                result.setdefault("wall_s", round(time.perf_counter() - t0, 3))
                return result
            except ValueError:
                pass
        tail = [ln for ln in (proc.stderr or "").strip().splitlines() if ln.strip()][-3:]
        return {"status": "error", "why": f"the worker exited with code {proc.returncode}"
                                          + (f": {' | '.join(tail)[-400:]}" if tail else "")}


def measure_configuration(eng: "Engagement", task: str, runtime: str, threads: int, batch_sizes: Sequence[int],
                          repeats: int, max_requests: int, warmup: int,
                          timeout_s: float = WORKER_TIMEOUT_S) -> dict[str, Any]:
    """One configuration's raw run (module docstring), measured in a fresh process."""
    base = {"engagement": str(eng.root), "task": task, "runtime": runtime, "threads": threads}
    prepare_s = None
    if runtime != "eager":  # convert (or find the converted model) first, so that load_s is a load, not a conversion
        prep = _run_worker({**base, "mode": "prepare"}, threads, timeout_s)
        if prep.get("status") != "ok":
            return {"runtime": runtime, "status": "error", "why": prep.get("why", ""),
                    "precision": precision_of(runtime), "device": "cpu"}
        prepare_s = prep.get("prepare_s")
    spec = {**base, "mode": "measure", "batch_sizes": list(batch_sizes), "repeats": repeats,
            "max_requests": max_requests, "warmup": warmup}
    run = _run_worker(spec, threads, timeout_s)
    run["prepare_s"] = prepare_s
    run.setdefault("runtime", runtime)
    run.setdefault("precision", precision_of(runtime))
    run.setdefault("device", "cpu")
    return run


def measure_under_load(eng: "Engagement", task: str, runtime: str, threads: int, concurrency: int,
                       max_batch: int, max_wait_ms: float, requests: int, duration_s: float = UNDER_LOAD_S,
                       timeout_s: float = WORKER_TIMEOUT_S, batch_size: int | None = None) -> dict[str, Any]:
    """`concurrency` closed-loop clients sending one request at a time through a MicroBatcher (max_batch,
    max_wait_ms) until `requests` are answered or `duration_s` passed: latency percentiles and requests/s.
    The specialist answers each serving batch in slices of `batch_size` (the recommended one), as the router does."""
    spec = {"mode": "under_load", "engagement": str(eng.root), "task": task, "runtime": runtime, "threads": threads,
            "concurrency": concurrency, "max_batch": max_batch, "max_wait_ms": max_wait_ms, "requests": requests,
            "duration_s": duration_s, "batch_size": batch_size}
    return _run_worker(spec, threads, timeout_s)


# ----------------------------------------------------------------------------- worker side

def _load(spec: dict[str, Any]):
    from fde_toolkit.engagement import Engagement

    eng = Engagement.load(spec["engagement"])
    if spec["runtime"] == "eager":  # today's specialist, whether or not other runtimes are installed
        from fde_toolkit.routing.signals import load_specialist

        return eng, load_specialist(eng, spec["task"])
    from fde_toolkit.hardening.runtimes import load_runtime

    return eng, load_runtime(eng, spec["task"], spec["runtime"], spec["threads"])


def _tokenizer(spec_obj) -> Any:
    tok = getattr(spec_obj, "tokenizer", None)
    if tok is None and getattr(spec_obj, "classifier", None) is not None:
        tok = spec_obj.classifier.encoder.tok
    return tok if tok is not None else getattr(spec_obj, "tok", None)


def _max_length(spec_obj) -> int | None:
    clf = getattr(spec_obj, "classifier", None)
    settings = getattr(clf, "settings", None)
    return getattr(settings, "max_length", None) or getattr(spec_obj, "max_length", None)


def token_counts(spec_obj, records: Sequence[dict[str, Any]], predictions: Sequence[str]) -> tuple[list[int], str]:
    """Tokens the specialist processed per record, and which: "input" (encoders) or "output" (decoders)."""
    from fde_toolkit.slm.answer import request_text

    tok = _tokenizer(spec_obj)
    if tok is None:
        return [0] * len(records), "none"
    if spec_obj.kind == "encoder":
        n = _max_length(spec_obj)
        enc = tok([request_text(r) for r in records], truncation=n is not None, max_length=n)
        return [len(ids) for ids in enc["input_ids"]], "input"
    return [len(tok(p or "", add_special_tokens=False)["input_ids"]) for p in predictions], "output"


def _set_threads(threads: int) -> None:
    """torch's intra-op threads, when the runtime imported torch (the parent set OMP/MKL_NUM_THREADS already):
    a runtime that does not need torch is not charged torch's memory."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(int(threads))


def _peak_mb() -> float:
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024, 1)  # bytes on macOS, KiB else


def worker_measure(spec: dict[str, Any]) -> dict[str, Any]:
    """The worker's timed passes (module docstring)."""
    from fde_toolkit.slm.datasets import load_dataset

    t0 = time.perf_counter()
    eng, sp = _load(spec)
    load_s = time.perf_counter() - t0
    _set_threads(spec["threads"])
    splits, _ = load_dataset(eng, spec["task"])
    test = splits["test"]
    answers = sp.answer(test)
    quality_s = time.perf_counter() - t0 - load_s
    timed = test[: spec["max_requests"]]
    tokens, token_kind = token_counts(sp, timed, answers.predictions[: len(timed)])
    batches = []
    for b in spec["batch_sizes"]:
        chunks = [timed[i:i + b] for i in range(0, len(timed), b)]
        for k in range(spec["warmup"]):
            sp.answer(chunks[k % len(chunks)])
        pooled: list[float] = []
        p50s: list[float] = []
        seconds = 0.0
        for _ in range(spec["repeats"]):
            lat: list[float] = []
            for chunk in chunks:
                t = time.perf_counter()
                sp.answer(chunk)
                dt = time.perf_counter() - t
                seconds += dt
                lat += [dt * 1000.0] * len(chunk)
            pooled += lat
            p50s.append(float(np.percentile(lat, 50)))
        n = len(timed) * spec["repeats"]
        batches.append({"batch_size": b, "latency_ms": _pct(pooled),
                        "p50_spread_ms": [round(min(p50s), 3), round(max(p50s), 3)],
                        "requests_per_s": round(n / seconds, 3) if seconds > 0 else None,
                        "tokens_per_s": round(sum(tokens) * spec["repeats"] / seconds, 1) if seconds > 0 else None,
                        "requests": len(timed), "repeats": spec["repeats"]})
    return {"status": "ok", "why": "", "runtime": spec["runtime"], "kind": sp.kind,
            "device": getattr(sp, "device", None) or "cpu",
            "precision": getattr(sp, "precision", None) or precision_of(spec["runtime"]),
            "threads": spec["threads"], "load_s": round(load_s, 3), "quality_pass_s": round(quality_s, 3),
            "peak_memory_mb": _peak_mb(), "tokens": token_kind, "batches": batches,
            "predictions": list(answers.predictions), "problems": [list(p) for p in answers.problems]}


def worker_under_load(spec: dict[str, Any]) -> dict[str, Any]:
    """`concurrency` client threads, each sending its next request when the last one was answered."""
    from fde_toolkit.serving.batcher import MicroBatcher
    from fde_toolkit.slm.datasets import load_dataset

    eng, sp = _load(spec)
    _set_threads(spec["threads"])
    test = load_dataset(eng, spec["task"])[0]["test"]
    if not test:
        return {"status": "error", "why": "no test calls to send"}
    sp.answer(test[: spec["max_batch"]])  # warm-up at the largest batch
    sp.answer(test[:1])
    total, duration, conc = int(spec["requests"]), float(spec["duration_s"]), int(spec["concurrency"])
    lat: list[float] = []
    errors: list[str] = []
    counter = iter(range(10**12))
    lock = threading.Lock()
    start = time.perf_counter()
    deadline = start + duration

    def client() -> None:
        while time.perf_counter() < deadline:
            with lock:
                i = next(counter)
            if i >= total:
                return
            t = time.perf_counter()
            try:
                batcher.submit(test[i % len(test)]).result(timeout=max(1.0, duration))
            except Exception as e:  # noqa: BLE001 - recorded, the measurement goes on
                errors.append(type(e).__name__)
                continue
            with lock:
                lat.append((time.perf_counter() - t) * 1000.0)

    size = spec.get("batch_size")
    with MicroBatcher(lambda recs: sp.answer_in_batches(recs, size).predictions, max_batch=spec["max_batch"],
                      max_wait_ms=spec["max_wait_ms"], queue_size=max(256, 2 * conc), name="harden") as batcher:
        clients = [threading.Thread(target=client, daemon=True) for _ in range(conc)]
        for c in clients:
            c.start()
        for c in clients:
            c.join(duration + 60)
        wall = time.perf_counter() - start
        stats = batcher.stats()
    return {"status": "ok", "why": "", "runtime": spec["runtime"], "concurrency": conc,
            "max_batch": spec["max_batch"], "batch_size": size, "max_wait_ms": spec["max_wait_ms"],
            "latency_ms": _pct(lat),
            "requests_per_s": round(len(lat) / wall, 3) if wall > 0 else None, "requests": len(lat),
            "seconds": round(wall, 3), "errors": len(errors), "mean_batch": stats["mean_batch"],
            "largest_batch": stats["largest_batch"], "threads": spec["threads"], "peak_memory_mb": _peak_mb()}


def worker_prepare(spec: dict[str, Any]) -> dict[str, Any]:
    """Load the runtime once: converts the model into artifacts/models/<task>/runtime/<runtime> if needed."""
    t0 = time.perf_counter()
    _load(spec)
    return {"status": "ok", "why": "", "prepare_s": round(time.perf_counter() - t0, 3)}


def main(argv: Sequence[str]) -> int:
    """`python -m fde_toolkit.hardening.measure SPEC.json OUT.json`."""
    from fde_toolkit import FdeError

    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    try:
        result = {"under_load": worker_under_load, "prepare": worker_prepare}.get(spec.get("mode"),
                                                                                 worker_measure)(spec)
    except FdeError as e:
        result = {"status": "error", "why": str(e)}
    except Exception as e:  # noqa: BLE001 - a runtime that fails is a result, not a crash of the step
        result = {"status": "error", "why": f"{type(e).__name__}: {str(e)[:400]}"}
    tmp = Path(argv[1]).with_suffix(".tmp")
    tmp.write_text(json.dumps(result), encoding="utf-8")
    tmp.replace(argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
