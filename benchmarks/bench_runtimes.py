"""Batch-1 latency of a specialist's fast runtimes against eager, side by side in one run.

    python benchmarks/bench_runtimes.py --engagement /tmp/demo-copy --task t01            # encoder runtimes
    python benchmarks/bench_runtimes.py --engagement ... --threads 1,2 --requests 100
    python benchmarks/bench_runtimes.py --smollm2                 # SmolLM2-135M generate: eager vs ct2-int8

Engagement side: every runtime of the task's specialist (hardening.runtimes) is loaded (converted on
first use into the engagement's runtime_model folder: use a copy), then timed one request at a time on
the first --requests test calls, the runtimes interleaved in rounds so that the machine's load falls on
all of them alike; warm-up (3 requests) excluded. Agreement: the share of the test calls each runtime
answers as eager does. Threads: the same count for every side of one row (torch threads, ONNX Runtime
intra-op threads, CTranslate2 intra threads).

SmolLM2 side: the built-in SmolLM2-135M-Instruct candidate, a prompt of about 140 tokens, 8 new tokens
greedy: transformers generate() against a CTranslate2 int8 conversion of the same weights; and scoring
14 labels after that prompt (decode.score_continuations, the prompt's KV cache shared by the labels,
against Ct2Decoder's scoring: one generate_batch with the prompt as static prompt, the labels forced).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _p50(times: list[float]) -> float:
    return float(np.percentile(times, 50))


def bench_engagement(path: str, task: str, threads: list[int], requests: int, rounds: int) -> None:
    import torch

    from fde_toolkit.engagement import Engagement
    from fde_toolkit.hardening.runtimes import load_runtime, runtimes_for

    eng = Engagement.load(Path(path))
    test = eng.artifacts.read("split", task, "test")
    kind = "encoder" if eng.artifacts.read("training", task).get("specialist") == "encoder" else "decoder"
    names = runtimes_for(kind)
    for t in threads:
        specs = {}
        for r in names:
            t0 = time.perf_counter()
            specs[r] = load_runtime(eng, task, r, threads=t)
            specs[r].load_info["wall_s"] = round(time.perf_counter() - t0, 2)
        eager = specs["eager"].answer(test).predictions
        agree = {r: float(np.mean([a == b for a, b in zip(s.answer(test).predictions, eager)]))
                 for r, s in specs.items()}
        times: dict[str, list[float]] = {r: [] for r in names}
        items = test[:requests]
        for s in specs.values():
            for rec in items[:3]:
                s.answer([rec])
        for _ in range(rounds):
            for r, s in specs.items():
                torch.set_num_threads(t)
                for rec in items:
                    t0 = time.perf_counter()
                    s.answer([rec])
                    times[r].append((time.perf_counter() - t0) * 1000)
        base = _p50(times["eager"])
        print(f"\n{task} ({kind}, {specs['eager'].candidate}), {t} thread(s), {len(items)} requests x {rounds} "
              f"rounds, agreement on {len(test)} test calls")
        print("| runtime | p50 ms | p95 ms | eager / runtime (p50) | agreement with eager | load s (converted) |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in names:
            p50, p95 = _p50(times[r]), float(np.percentile(times[r], 95))
            info = specs[r].load_info
            conv = " (converted)" if info.get("converted") else ""
            print(f"| {r} | {p50:.2f} | {p95:.2f} | {base / p50:.2f}x | {agree[r]:.4f} | {info['wall_s']}{conv} |")


LABELS = ["cancel_policy", "change_coverage", "claim_status", "complaint", "coverage_question", "document_upload",
          "file_new_claim", "fraud_report", "payment_issue", "policy_details", "roadside_assistance",
          "schedule_inspection", "speak_to_agent", "update_contact"]


def bench_smollm2(threads: list[int], requests: int) -> None:
    import ctranslate2
    import torch

    from fde_toolkit.hardening.decoder_runtimes import Ct2Decoder
    from fde_toolkit.slm.decode import answer_ids, score_continuations
    from fde_toolkit.slm.registry import BUILTIN, DEFAULT_ID, load_candidate

    model, tok = load_candidate(BUILTIN[DEFAULT_ID], device="cpu")
    model.eval()
    text = ("A customer writes about their home insurance policy: the kitchen flooded after a pipe burst "
            "overnight, the floor and two cabinets are damaged, and they want to know whether the policy "
            "covers the repair, how long a claim takes, and whether they need photos. ") * 2
    msgs = [{"role": "system", "content": "Classify the request into one intent label."},
            {"role": "user", "content": text}]
    ids = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True)
    ids = list(ids["input_ids"] if hasattr(ids, "keys") else ids)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp + "/hf")
        tok.save_pretrained(tmp + "/hf")
        ctranslate2.converters.TransformersConverter(tmp + "/hf").convert(tmp + "/ct2", quantization="int8")
        for t in threads:
            torch.set_num_threads(t)
            gen = ctranslate2.Generator(tmp + "/ct2", device="cpu", intra_threads=t, inter_threads=1)
            toks = tok.convert_ids_to_tokens(ids)

            def eager():
                with torch.inference_mode():
                    model.generate(torch.tensor([ids]), max_new_tokens=8, min_new_tokens=8, do_sample=False,
                                   pad_token_id=tok.pad_token_id)

            def ct2():
                gen.generate_batch([toks], max_length=8, min_length=8, sampling_topk=1,
                                   include_prompt_in_result=False)

            seqs = answer_ids(tok, LABELS)

            def eager_labels():
                score_continuations(model, [ids], seqs)

            ct2_spec = Ct2Decoder(task="bench", kind="decoder", output_kind="label", candidate=DEFAULT_ID,
                                  labels=LABELS, generator=gen, tok=tok)

            def ct2_labels():
                ct2_spec._continuations([ids], seqs)

            sides = {"generate": (eager, ct2), f"score {len(LABELS)} labels": (eager_labels, ct2_labels)}
            print(f"\nSmolLM2-135M, {len(ids)}-token prompt, {t} thread(s), {requests} runs each side, interleaved")
            print("| call | eager transformers p50 ms (p95) | ct2-int8 p50 ms (p95) | eager / ct2-int8 |")
            print("|---|---:|---:|---:|")
            for call, (fe, fc) in sides.items():
                times: dict[str, list[float]] = {"eager": [], "ct2-int8": []}
                fe(), fc()
                for _ in range(requests):
                    for name, f in (("eager", fe), ("ct2-int8", fc)):
                        t0 = time.perf_counter()
                        f()
                        times[name].append((time.perf_counter() - t0) * 1000)
                e, c = _p50(times["eager"]), _p50(times["ct2-int8"])
                print(f"| {call} | {e:.1f} ({np.percentile(times['eager'], 95):.1f}) | {c:.1f} "
                      f"({np.percentile(times['ct2-int8'], 95):.1f}) | {e / c:.2f}x |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engagement")
    ap.add_argument("--task", default="t01")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--smollm2", action="store_true")
    a = ap.parse_args()
    threads = [int(t) for t in a.threads.split(",")]
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    if a.engagement:
        bench_engagement(a.engagement, a.task, threads, a.requests, a.rounds)
    if a.smollm2:
        bench_smollm2(threads, max(a.requests // 3, 10))
    print(f"\nload after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
