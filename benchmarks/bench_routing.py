"""SLM-first routing on Banking77: how many calls the specialist keeps at a quality target, held out.

    python benchmarks/bench_routing.py                           # ../shared/data/banking77, 2 threads
    python benchmarks/bench_routing.py --cascade-examples 0      # without the SmolLM2 cascade side
    python benchmarks/bench_routing.py --engagement engagements/demo   # an engagement's routed tasks (after
                                                                 # `fde route`), from its stored scores

Banking77 as one logged routing step whose LLM answered every query with its dataset label. The
shipped encoder classifier (fit_classifier, default ClassifierSettings, as bench_banking77 fits it) is
fitted on the training split minus a stratified, seeded validation split of 2,000 queries; that split
calibrates its temperature and the escalation threshold; the test split (3,080) checks the policy.

Sides, at each target (0.95, 0.98, 0.99 agreement with the LLM, 95% one-sided Clopper-Pearson):

  ours       calibrate_threshold on the signal choose_signal picks (top_probability or margin)
  all-LLM    every call escalates: offload 0, quality 1.0
  all-SLM    every call kept: offload 1, quality = the classifier's test accuracy
  global     one threshold chosen on the pooled validation calls of every task in the run (here one
             task, so it is ours: the row says so)
  cascade    SmolLM2-135M-Instruct few-shot (5 nearest of 3,000 training queries), its label decoded
             greedily inside the label set, the mean token log-probability of that label as the only
             signal, threshold calibrated the same way on --cascade-examples validation queries and
             checked on as many test queries. Default 100, not 300: on 2 cores shared with other jobs
             SmolLM2 answered in 1.5 s per query (load 2-3; 8 s at load 5), so 300 + 300 queries
             would take 15 minutes or more, over the 8 minutes this side may take

Per side: offload share (calls the SLM keeps), the kept calls' test agreement with its two-sided 95%
Clopper-Pearson interval, and the system's quality (escalated calls answered by the LLM). Acceptance
(issue #12): at target 0.98 ours keeps >= 70% of test calls and the kept calls' agreement is >= 0.98
within its interval.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_banking77 import read_split  # noqa: E402

TARGETS = (0.95, 0.98, 0.99)
SYSTEM = ("You are the intent router of a bank's customer support. Classify the customer's message into "
          "one intent. Answer with the intent label only.")


def default_data() -> Path:
    """../shared/data/banking77 next to the checkout (bench_banking77's default), or one level up for a worktree."""
    for root in (REPO.parent, REPO.parent.parent):
        if (root / "shared" / "data" / "banking77" / "train.csv").is_file():
            return root / "shared" / "data" / "banking77"
    return REPO.parent / "shared" / "data" / "banking77"


def stratified_split(labels: list[str], n_val: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    fit_idx, val_idx = train_test_split(idx, test_size=n_val, stratify=labels, random_state=seed)
    return np.sort(fit_idx), np.sort(val_idx)


def encoder_signals(probs: np.ndarray) -> dict[str, np.ndarray]:
    """The encoder's confidence signals (signals.py's names): top probability, and top minus second."""
    top2 = np.sort(probs, axis=1)[:, -2:]
    return {"top_probability": top2[:, 1], "margin": top2[:, 1] - top2[:, 0]}


def global_threshold(val_by_task: dict[str, tuple[np.ndarray, np.ndarray]], target: float):
    """One threshold for every task: calibrated on all tasks' validation calls pooled."""
    from fde_toolkit.routing.calibrate import calibrate_threshold

    scores = np.concatenate([s for s, _ in val_by_task.values()])
    correct = np.concatenate([c for _, c in val_by_task.values()])
    return calibrate_threshold(scores, correct, target)


def chosen_logprobs(model, prompts: list[list[int]], answers: list[list[int]], batch_size: int = 8) -> np.ndarray:
    """Mean token log-probability of each answer after its prompt: one teacher-forced forward per batch."""
    import torch

    out = np.zeros(len(prompts))
    with torch.inference_mode():
        for s in range(0, len(prompts), batch_size):
            rows = [p + a for p, a in zip(prompts[s:s + batch_size], answers[s:s + batch_size])]
            width = max(len(r) for r in rows)
            ids = torch.zeros((len(rows), width), dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for i, r in enumerate(rows):
                ids[i, :len(r)], mask[i, :len(r)] = torch.tensor(r), 1
            hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
            for i, (p, a) in enumerate(zip(prompts[s:s + batch_size], answers[s:s + batch_size])):
                pos = torch.arange(len(p) - 1, len(p) + len(a) - 1)  # position j predicts token j + 1
                logp = torch.log_softmax(model.lm_head(hidden[i, pos]).float(), -1)  # the output layer there only
                out[s + i] = logp[torch.arange(len(a)), torch.tensor(a)].mean().item()
    return out


def cascade_answers(xtr: list[str], ytr: list[str], queries: list[str], labels: list[str], shots: int,
                    pool: int, seed: int) -> tuple[list[str], np.ndarray, float]:
    """SmolLM2 few-shot: (chosen labels, mean token log-prob of each chosen label, seconds per query).

    The label is decoded greedily inside the label set (decode.choose_labels, as the toolkit does for 77
    labels); scoring all 77 labels in full ran 11 s per query on this machine, greedy under 1 s."""
    from fde_toolkit.slm.answer import ShotPicker
    from fde_toolkit.slm.chat import encode_prompts, few_shot_messages
    from fde_toolkit.slm.decode import answer_ids, choose_labels
    from fde_toolkit.slm.registry import BUILTIN, DEFAULT_ID, load_candidate

    def conversation(text: str) -> list[dict[str, str]]:
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]

    rng = np.random.default_rng(seed)
    pick = rng.choice(len(xtr), min(pool, len(xtr)), replace=False)
    picker = ShotPicker([{"messages": conversation(xtr[i]), "target": ytr[i]} for i in pick], shots)
    convs = [few_shot_messages(conversation(q), s)
             for q, s in zip(queries, picker.shots([{"messages": conversation(q)} for q in queries]))]
    model, tok = load_candidate(BUILTIN[DEFAULT_ID], device="cpu")
    model.eval()
    seqs = dict(zip(labels, answer_ids(tok, labels)))
    prompts = encode_prompts(tok, convs)
    t0 = time.perf_counter()
    chosen = choose_labels(model, tok, prompts, labels, mode="greedy", progress="cascade: SmolLM2 few-shot")
    mean_lp = chosen_logprobs(model, prompts, [seqs[c] for c in chosen])
    return chosen, mean_lp, (time.perf_counter() - t0) / max(1, len(queries))


def fmt_quality(q: dict) -> str:
    if q["value"] is None:
        return "– (none kept)"
    return f"{q['value']:.4f} [{q['low']:.4f}, {q['high']:.4f}]"


def fmt_auroc(a: float | None) -> str:
    return "n/a" if a is None else f"{a:.3f}"


def row(side: str, target: float, r: dict, note: str = "") -> str:
    return (f"| {target:g} | {side} | {r['offload_share']:.1%} ({r['kept']:,}/{r['n']:,}) | "
            f"{fmt_quality(r['kept_quality'])} | {r['system_quality']:.4f} | {note} |")


def engagement_sides(root: Path) -> int:
    """The same sides on an engagement's routed tasks, from artifacts/router/<task>_scores.parquet (`fde route`):
    per task and pooled over tasks (calls weighted as logged in the test splits). The cascade side needs a
    decoder specialist's mean_token_logprob; an encoder specialist has none, and the row says so."""
    import polars as pl

    from fde_toolkit.engagement import Engagement
    from fde_toolkit.routing.calibrate import choose_signal, clopper_pearson_interval, evaluate_policy

    eng = Engagement.load(root)
    report = eng.artifacts.read("routing")
    tasks = [t for t, r in report["tasks"].items() if r.get("specialist") and eng.artifacts.exists("routing_scores", t)]
    if not tasks:
        sys.exit(f"{root}: no routed task with scores; run `fde route {root}` first.")
    data = {}
    for t in tasks:
        s = eng.artifacts.read("routing_scores", t)
        signals = [c for c in s.columns if c not in {"id", "split", "prediction", "correct", "problems", "kept",
                                                     "llm_cost_usd", "llm_latency_ms"}]
        part = {}
        for split in ("val", "test"):
            x = s.filter(pl.col("split") == split)
            part[split] = ({k: x[k].cast(pl.Float64).to_numpy() for k in signals}, x["correct"].to_numpy().astype(bool),
                           (x["problems"].fill_null("") != "").to_numpy())
        data[t] = part
    load = os.getloadavg()
    print(f"Engagement {eng.name}: {len(tasks)} routed task(s) ({', '.join(tasks)}); scores from `fde route`; "
          f"load {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}; no model runs here (0 threads)")
    print()
    print("| target | task | side | offload (kept/test calls) | kept quality [95% CI] | system quality | notes |")
    print("|---:|---|---|---:|---|---:|---|")
    for target in TARGETS:
        pooled = {"kept": 0, "kept_ok": 0, "n": 0}
        common = set.intersection(*(set(d["val"][0]) for d in data.values()))
        gsig = "top_probability" if "top_probability" in common else sorted(common)[0] if common else None
        g = (global_threshold({t: (d["val"][0][gsig], d["val"][1]) for t, d in data.items()}, target)
             if gsig else None)
        for t, d in data.items():
            (sv, okv, fv), (st, okt, ft) = d["val"], d["test"]
            pick = choose_signal(sv, okv, target, forced=fv)
            th = pick.threshold
            ours = evaluate_policy(st[pick.name], okt, th.threshold if th.feasible else None, forced=ft)
            note = (f"{pick.name} >= {th.threshold:.4f}; val {th.kept}/{th.n} kept, bound {th.lower_bound:.4f}"
                    if th.feasible else f"infeasible: {th.reason}")
            print(row(f"{t} | ours", target, ours, note))
            n = len(okt)
            lo, hi = clopper_pearson_interval(int(okt.sum()), n)
            print(f"| {target:g} | {t} | all-SLM | 100.0% ({n}/{n}) | {okt.mean():.4f} [{lo:.4f}, {hi:.4f}] | "
                  f"{okt.mean():.4f} | |")
            if g is not None:
                glob = evaluate_policy(st[gsig], okt, g.threshold if g.feasible else None, forced=ft)
                print(row(f"{t} | global", target, glob, f"{gsig} >= {g.threshold:.4f} pooled over {len(data)} task(s)"
                          if g.feasible else f"infeasible: {g.reason}"))
            if "mean_token_logprob" in sv:
                pc = choose_signal({"mean_token_logprob": sv["mean_token_logprob"]}, okv, target, forced=fv)
                c = evaluate_policy(st["mean_token_logprob"], okt, pc.threshold.threshold
                                    if pc.threshold.feasible else None, forced=ft)
                print(row(f"{t} | cascade (mean log-prob)", target, c, "" if pc.threshold.feasible
                          else f"infeasible: {pc.threshold.reason}"))
            else:
                print(f"| {target:g} | {t} | cascade (mean log-prob) | n/a | n/a | n/a | an encoder specialist has no "
                      "token log-probabilities |")
            pooled["kept"] += ours["kept"]
            pooled["kept_ok"] += round((ours["kept_quality"]["value"] or 0) * ours["kept"])
            pooled["n"] += ours["n"]
        k, kc, n = pooled["kept"], pooled["kept_ok"], pooled["n"]
        lo, hi = clopper_pearson_interval(kc, k) if k else (None, None)
        print(f"| {target:g} | all tasks | ours | {k / n:.1%} ({k}/{n}) | "
              + (f"{kc / k:.4f} [{lo:.4f}, {hi:.4f}]" if k else "– (none kept)")
              + f" | {(kc + n - k) / n:.4f} | all-LLM: offload 0, quality 1.0 |")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=default_data())
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--val", type=int, default=2000, help="training queries held out to calibrate")
    ap.add_argument("--cascade-examples", type=int, default=100,
                    help="validation and test queries each for the SmolLM2 cascade (0: skip it)")
    ap.add_argument("--shots", type=int, default=5)
    ap.add_argument("--shot-pool", type=int, default=3000, help="training queries the few-shot picker searches")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--engagement", type=Path, default=None,
                    help="instead of Banking77: an engagement's routed tasks, from the scores `fde route` stored")
    args = ap.parse_args()
    if args.engagement is not None:
        return engagement_sides(args.engagement)

    import torch

    from fde_toolkit.routing.calibrate import choose_signal, clopper_pearson_interval, evaluate_policy
    from fde_toolkit.slm.config import ClassifierSettings
    from fde_toolkit.slm.encoder import fit_classifier
    from fde_toolkit.slm.machine import describe_threads
    from fde_toolkit.tasks.embed import default_model_path

    if not (args.data / "train.csv").is_file():
        sys.exit(f"{args.data}: Banking77 not found (expected train.csv and test.csv there); pass --data.")
    threads = describe_threads(None)  # what the machine had free at the start; --threads is what ran
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    xtr, ytr = read_split(args.data / "train.csv")
    xte, yte = read_split(args.data / "test.csv")
    fit_idx, val_idx = stratified_split(ytr, args.val, args.seed)
    xfit, yfit = [xtr[i] for i in fit_idx], [ytr[i] for i in fit_idx]
    xval, yval = [xtr[i] for i in val_idx], [ytr[i] for i in val_idx]

    t0 = time.perf_counter()
    clf, fit = fit_classifier(default_model_path(), xfit, yfit, xval, yval, ClassifierSettings(), seed=args.seed)
    fit_s = time.perf_counter() - t0
    labels = list(clf.labels)
    t0 = time.perf_counter()
    pval, pte = clf.predict_proba(xval), clf.predict_proba(xte)
    answer_s = time.perf_counter() - t0
    ok_val = np.array([labels[i] for i in pval.argmax(1)]) == np.array(yval)
    ok_te = np.array([labels[i] for i in pte.argmax(1)]) == np.array(yte)
    sig_val, sig_te = encoder_signals(pval), encoder_signals(pte)

    casc = None
    if args.cascade_examples > 0:
        rng = np.random.default_rng(args.seed + 1)
        cv = np.sort(rng.choice(len(xval), min(args.cascade_examples, len(xval)), replace=False))
        ct = np.sort(rng.choice(len(xte), min(args.cascade_examples, len(xte)), replace=False))
        t0 = time.perf_counter()
        preds, mean_lp, per_q = cascade_answers(xfit, yfit, [xval[i] for i in cv] + [xte[i] for i in ct], labels,
                                                args.shots, args.shot_pool, args.seed)
        m = len(cv)
        casc = {"val_idx": cv, "test_idx": ct, "s_val": mean_lp[:m], "s_te": mean_lp[m:],
                "ok_val": np.array(preds[:m]) == np.array([yval[i] for i in cv]),
                "ok_te": np.array(preds[m:]) == np.array([yte[i] for i in ct]),
                "seconds": time.perf_counter() - t0, "per_query": per_q}

    load = os.getloadavg()
    print(f"Banking77 as one routing step: {len(xtr):,} train = {len(xfit):,} fit + {len(xval):,} validation "
          f"(stratified, seed {args.seed}; temperature and thresholds), {len(xte):,} test; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min) at the end")
    print(f"Threads: torch {args.threads} for every side, sides one after another in one process "
          f"(--threads); describe_threads at the start: {threads['why']}")
    print(f"Encoder fit {fit_s:.0f} s ({fit['features']:,} features, T={fit['temperature']:.2f}); answering "
          f"{len(xval) + len(xte):,} queries {answer_s:.0f} s; encoder accuracy val {ok_val.mean():.4f}, "
          f"test {ok_te.mean():.4f}")
    if casc is not None:
        print(f"Cascade: SmolLM2-135M-Instruct, {args.shots}-shot from {args.shot_pool:,} training queries, "
              f"{len(casc['val_idx'])} val + {len(casc['test_idx'])} test queries, {casc['seconds']:.0f} s "
              f"({casc['per_query']:.2f} s per query answering); accuracy val {casc['ok_val'].mean():.4f}, "
              f"test {casc['ok_te'].mean():.4f}")
    print()
    print("| target | side | offload (kept/test calls) | kept quality [95% CI] | system quality | notes |")
    print("|---:|---|---:|---|---:|---|")
    summary = {}
    n_te = len(ok_te)
    k_all = int(ok_te.sum())
    lo, hi = clopper_pearson_interval(k_all, n_te)
    for target in TARGETS:
        pick = choose_signal(sig_val, ok_val, target)
        th = pick.threshold
        ours = evaluate_policy(sig_te[pick.name], ok_te, th.threshold)
        table = ", ".join(f"{r['signal']} AUROC {fmt_auroc(r['auroc'])} offload {r['offload']:.1%}" for r in pick.table)
        note = (f"{pick.name} >= {th.threshold:.4f}; val {th.kept:,}/{th.n:,} kept, bound {th.lower_bound:.4f}; {table}"
                if th.feasible else f"infeasible: {th.reason}")
        print(row("ours", target, ours, note))
        print(row("all-LLM", target, evaluate_policy(np.zeros(n_te), ok_te, None)))
        print(f"| {target:g} | all-SLM | 100.0% ({n_te:,}/{n_te:,}) | {k_all / n_te:.4f} [{lo:.4f}, {hi:.4f}] | "
              f"{k_all / n_te:.4f} | |")
        g = global_threshold({"banking77": (sig_val[pick.name], ok_val)}, target)
        glob = evaluate_policy(sig_te[pick.name], ok_te, g.threshold)
        same = "the same threshold as ours: one task in this run, so pooled = per task" \
            if g.threshold == th.threshold else f"threshold {g.threshold}"
        print(row("global", target, glob, same))
        summary[target] = ours
        if casc is not None:
            pick_c = choose_signal({"mean_token_logprob": casc["s_val"]}, casc["ok_val"], target)
            c = evaluate_policy(casc["s_te"], casc["ok_te"], pick_c.threshold.threshold)
            tc = pick_c.threshold
            cnote = (f"mean_token_logprob >= {tc.threshold:.4f}; AUROC {fmt_auroc(pick_c.table[0]['auroc'])}; val "
                     f"{tc.kept}/{tc.n} kept" if tc.feasible else f"infeasible: {tc.reason}")
            print(row("cascade", target, c, cnote))
            sub_te = casc["test_idx"]
            sub = evaluate_policy(sig_te[pick.name][sub_te], ok_te[sub_te], th.threshold)
            print(row("ours on the cascade's test queries", target, sub, "ours' threshold from 2,000 val"))
            sub_val = casc["val_idx"]
            pick_s = choose_signal({k: v[sub_val] for k, v in sig_val.items()}, ok_val[sub_val], target)
            sub2 = evaluate_policy(sig_te[pick_s.name][sub_te], ok_te[sub_te], pick_s.threshold.threshold)
            n2 = (f"{pick_s.name} calibrated on the cascade's {len(sub_val)} val queries"
                  if pick_s.threshold.feasible else f"infeasible: {pick_s.threshold.reason}")
            print(row("ours, same small calibration", target, sub2, n2))
    print()
    r = summary[0.98]
    q = r["kept_quality"]
    ok = r["offload_share"] >= 0.70 and q["value"] is not None and q["high"] >= 0.98
    print(f"- {'PASS' if r['offload_share'] >= 0.70 else 'MISS'}  ours keeps >= 70% of test calls at target 0.98 "
          f"({r['offload_share']:.1%})")
    if q["value"] is not None:
        print(f"- {'PASS' if q['high'] >= 0.98 else 'MISS'}  kept calls' test agreement >= 0.98 within its interval "
              f"({q['value']:.4f} [{q['low']:.4f}, {q['high']:.4f}]; point estimate "
              f"{'at or above' if q['value'] >= 0.98 else 'below'} 0.98)")
    print(f"- acceptance: {'PASS' if ok else 'MISS'}; wall clock {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
