"""The refinement loop: the drift statistics on windows with a known shift and without, and `fde drift` end to
end on the toy engagement (discovery run for real with the hash embedder) over a folder of new JSONL logs."""

from __future__ import annotations

import json
import random
import secrets
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from threadpoolctl import threadpool_limits
from slm_toy import FILLER, FRUITS, SYSTEM, hash_embedder, toy_engagement

from fde_toolkit import FdeError
from fde_toolkit.routing.drift import drift, drift_view, render_drift
from fde_toolkit.routing.shift import (DriftThresholds, domain_shift, new_task_candidates, outcome_shift, recommend,
                                       weekly_task_mix)
from fde_toolkit.tasks import discover

CENTRES = np.random.default_rng(0).normal(size=(5, 32))


def _window(n: int, mix: list[float], seed: int) -> np.ndarray:
    """Unit vectors from a mixture of five kinds of request (mix: their shares)."""
    r = np.random.default_rng(seed)
    x = CENTRES[r.choice(5, n, p=mix)] + r.normal(size=(n, 32))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _calls_of(tasks: list[str], start: datetime) -> pl.DataFrame:
    return pl.DataFrame({"timestamp": [start + timedelta(hours=i) for i in range(len(tasks))], "task_id": tasks})


EVEN = [0.2] * 5


def test_windows_from_one_distribution_do_not_alarm_and_a_shifted_one_does() -> None:
    ref = _window(200, EVEN, 1)
    same = domain_shift(ref, _window(200, EVEN, 2), seed=3, permutations=20)
    assert not same["shifted"] and same["auroc"] < 0.6 and same["p_value"] > 0.05, same
    moved = domain_shift(ref, _window(200, [0.02, 0.03, 0.05, 0.3, 0.6], 2), seed=3, permutations=20)
    assert moved["shifted"] and moved["auroc"] > moved["permutation_p95"] and moved["auroc"] >= 0.6, moved
    assert moved["p_value"] == pytest.approx(1 / 21, abs=1e-3)  # no shuffle came close
    # deterministic for a seed
    assert domain_shift(ref, _window(200, EVEN, 2), seed=3, permutations=20) == same
    # a report testing ten tasks asks each for p <= 0.005: a real shift runs the shuffles that p needs
    strict = domain_shift(ref, _window(200, [0.02, 0.03, 0.05, 0.3, 0.6], 2), seed=3, permutations=20, alpha=0.005)
    assert strict["shifted"] and strict["permutations"] == 200 and strict["p_value"] == pytest.approx(1 / 201, abs=1e-4)


def test_a_chance_separation_stops_its_extra_shuffles_early() -> None:
    ref = _window(60, EVEN, 1)
    same = domain_shift(ref, _window(60, EVEN, 4), seed=5, permutations=20, floor=0.0, alpha=0.005)
    # with the floor at 0 every test extends; a window like the reference cannot reach p <= 0.005, and the
    # extension stops once more than alpha x 201 - 1 shuffles beat the observed AUROC
    assert not same["shifted"] and same["permutations"] < 200, same


def test_task_mix_psi_is_small_without_a_shift_and_large_with_one() -> None:
    r = random.Random(0)
    reference = {"t01": 500, "t02": 300, "t03": 200}
    start = datetime(2026, 3, 2, tzinfo=timezone.utc)  # a Monday: ISO week 2026-W10
    same = r.choices(["t01", "t02", "t03"], [5, 3, 2], k=168)
    shifted = r.choices(["t01", "t02", "t03", None], [1, 3, 4, 2], k=168)
    mix = weekly_task_mix(_calls_of(same + shifted, start), reference)
    (w1, w2) = mix["weekly"]
    assert (w1["week"], w2["week"]) == ("2026-W10", "2026-W11") and w1["calls"] == w2["calls"] == 168
    assert w1["psi"] < 0.1 < 0.2 < w2["psi"]
    assert "(no task)" in w2["shares"] and mix["reference"]["t01"] == 0.5
    assert mix["overall"]["calls"] == 336 and w1["psi"] < mix["overall"]["psi"] < w2["psi"]


def test_new_task_candidates_for_a_planted_cluster_and_none_without() -> None:
    r = np.random.default_rng(4)
    scattered = r.normal(size=(15, 32))  # a few stray calls: fewer than a candidate needs
    planted = CENTRES[0] * 3 + r.normal(size=(40, 32))
    words = ["refund", "invoice", "late", "fee", "charge"]
    texts = [f"stray request {i}" for i in range(15)] + [f"{words[i % 5]} invoice refund number {i}" for i in range(40)]
    x = np.concatenate([scattered, planted])
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    found = new_task_candidates(x, texts, seed=1, min_size=20)
    assert len(found) == 1 and 20 <= found[0]["calls"] <= 55
    assert set(found[0]["rows"]) >= set(range(15, 55)) - set(range(15, 20))  # (nearly) all planted calls
    assert "invoice" in found[0]["terms"] or "refund" in found[0]["terms"]
    assert new_task_candidates(x[:15], texts[:15], seed=1, min_size=20) == []
    # two planted clusters far apart are two candidates
    other = CENTRES[1] * 3 + r.normal(size=(40, 32))
    x2 = np.concatenate([planted, other])
    x2 = x2 / np.linalg.norm(x2, axis=1, keepdims=True)
    two = new_task_candidates(x2, texts[15:] + [f"weather forecast rain {i}" for i in range(40)], seed=1, min_size=20)
    assert [c["calls"] for c in two] == [40, 40]


def test_outcomes_and_recommendations_follow_the_numbers() -> None:
    th = DriftThresholds()
    fine = [{"route": "slm", "reason": ""}] * 80 + [{"route": "llm", "reason": "low_confidence"}] * 20
    ok = outcome_shift(fine, expected_offload=0.8, target=0.95, thresholds=th)
    assert ok["escalation_rate"] == 0.2 and ok["flags"] == [] and ok["escalation_reasons"] == {"low_confidence": 20}
    worse = [{"route": "slm", "reason": ""}] * 50 + [{"route": "llm", "reason": "invalid_json"}] * 30 + \
        [{"route": "llm", "reason": "low_confidence", "agree": False}] * 20
    bad = outcome_shift(worse, expected_offload=0.8, target=0.95, thresholds=th)
    assert bad["validator_failures"] == 30 and len(bad["flags"]) == 3  # offload, validators, agreement
    same = {"auroc": 0.52, "permutation_p95": 0.56, "p_value": 0.4, "shifted": False, "reason": "within chance"}
    moved = {"auroc": 0.8, "permutation_p95": 0.56, "p_value": 0.048, "shifted": True, "reason": ""}
    assert recommend({"new_calls": 200, "input_shift": same, "outcome": ok})["action"] == "keep"
    r = recommend({"new_calls": 200, "input_shift": moved, "outcome": ok})
    assert r["action"] == "retrain" and "0.800" in r["because"] and "auroc_floor (0.6)" in r["trigger"]
    assert recommend({"new_calls": 200, "input_shift": same, "outcome": bad})["action"] == "retrain"
    few = recommend({"new_calls": 5, "input_shift": None, "outcome": None})
    assert few["action"] == "keep" and "min_calls (20)" in few["trigger"]
    assert recommend({"candidate": True, "calls": 33})["action"] == "create_specialist"


# ----------------------------------------------------------------------------- the step, end to end

WEATHER = ["forecast", "rain", "wind", "storm", "sunny", "humid", "cloudy", "snow"]


def _record(i: int, when: datetime, system: str, user: str, answer: str, route: dict | None = None) -> dict:
    rec = {"call_id": f"new-{i:04d}", "timestamp": when.isoformat().replace("+00:00", "Z"), "model": "gpt-4o",
           "provider": "openai", "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
           "response_text": answer, "input_tokens": 30, "output_tokens": 2, "latency_ms": 400.0}
    if route:
        rec["metadata"] = {"fde_route": route}
    return rec


def _new_logs(folder: Path) -> int:
    """Week 1: fruit calls as before (routed); week 2: fruit calls plus 30 weather calls under a new prompt.
    Returns the number of malformed lines written."""
    r = random.Random(11)
    week1, week2 = datetime(2026, 2, 2, 9, tzinfo=timezone.utc), datetime(2026, 2, 9, 9, tzinfo=timezone.utc)
    recs = []
    for i in range(60):
        fruit = r.choice(sorted(FRUITS))
        words = r.sample(FILLER, r.randint(2, 9))
        words.insert(r.randint(0, len(words)), fruit)
        when = (week1 if i < 30 else week2) + timedelta(minutes=i)
        route = {"route": "slm", "reason": "", "task": "t01"} if i < 24 else \
            {"route": "llm", "reason": "low_confidence", "task": "t01"} if i < 30 else None
        recs.append(_record(i, when, SYSTEM, " ".join(words), FRUITS[fruit], route))
    for i in range(30):
        words = r.sample(WEATHER, 3)
        recs.append(_record(100 + i, week2 + timedelta(minutes=i), "you are a weather desk; answer in one line",
                            "what is the " + " ".join(words) + " outlook", "mild"))
    folder.mkdir(parents=True)
    lines = [json.dumps(x) for x in recs]
    bad = ["{not json", json.dumps({"call_id": "x", "timestamp": "yesterday"}), "[1, 2, 3]"]
    (folder / "calls.jsonl").write_text("\n".join(lines[:50] + bad[:2] + lines[50:] + bad[2:]) + "\n")
    return len(bad)


@pytest.fixture(scope="module")
def engagement(tmp_path_factory):
    root = tmp_path_factory.mktemp("drift") / "toy"
    eng = toy_engagement(root, n=120)
    (root / ".secrets").mkdir()
    (root / ".secrets" / "pii.key").write_text(secrets.token_hex(32))
    config = yaml.safe_load((root / "engagement.yaml").read_text())
    config["pii"] = {"ner": False, "key_file": ".secrets/pii.key"}
    (root / "engagement.yaml").write_text(yaml.safe_dump(config))
    eng = type(eng).load(root)
    with threadpool_limits(1):  # discovery's t-SNE map spins its OpenMP threads on a loaded 2-core machine
        discover(eng, force=True, embedder=hash_embedder)
    logs = tmp_path_factory.mktemp("new") / "logs"
    n_bad = _new_logs(logs)
    return eng, logs, n_bad


def test_drift_end_to_end_on_new_logs(engagement) -> None:
    eng, logs, n_bad = engagement
    result = drift(eng, logs, embedder=hash_embedder)
    rep = result.data
    ing, scrub = rep["ingest"], rep["scrub"]
    # nothing lost: read = accepted + quarantined; accepted = curated + restricted + dropped
    assert ing["read"] == 90 + n_bad and ing["accepted"] == 90 and ing["quarantined"] == n_bad
    assert len(ing["quarantine"]) == n_bad and all(q["source"].startswith("calls.jsonl:") for q in ing["quarantine"])
    assert sum(ing["reasons"].values()) == n_bad
    assert scrub["in"] == 90 == scrub["curated"] + scrub["restricted"] + scrub["dropped"] and rep["calls"] == 90
    # the artifacts, through the catalog
    assert pl.read_parquet(eng.artifacts.path("drift_calls")).height == 90
    assign = pl.read_parquet(eng.artifacts.path("drift_assignments"))
    assert assign.height == 90 and assign.filter(pl.col("reason") == "no_matching_step").height == 30
    # week 1 is like the reference; week 2 has a third of its calls in no task
    w1, w2 = rep["task_mix"]["weekly"]
    assert (w1["week"], w2["week"]) == ("2026-W06", "2026-W07")
    assert w1["psi"] < 0.1 < 0.2 < w2["psi"]
    # the weather calls are one new-task candidate
    (cand,) = rep["candidates"]
    assert cand["calls"] == 30 and cand["weeks"] == {"2026-W07": 30}
    assert cand["recommendation"]["action"] == "create_specialist" and set(cand["terms"]) & set(WEATHER)
    # the fruit task's inputs did not move; its routed outcomes are counted
    (t01,) = rep["tasks"]
    assert t01["task"] == "t01" and not t01["input_shift"]["shifted"] and t01["recommendation"]["action"] == "keep"
    assert t01["outcome"]["routed"] == 30 and t01["outcome"]["escalation_rate"] == 0.2
    assert t01["new_calls"] + t01["far_calls"] == 60
    text = render_drift(rep)
    assert "create a specialist" in text and "quarantined" in text and "2026-W07" in text
    summary, fig = drift_view(eng)
    assert "new-task candidates" in summary._repr_html_() and len(fig.data) >= 3
    # the same logs and settings: skipped
    again = drift(eng, logs, embedder=hash_embedder)
    assert again.skipped and again.data == json.loads(eng.artifacts.path("drift").read_text())


def test_drift_recommends_retraining_when_a_task_s_inputs_and_outcomes_move(engagement, tmp_path: Path) -> None:
    """Only bananas now, in short requests, and the SLM escalates more than routing.json promised."""
    eng, _, _ = engagement
    root = tmp_path / "toy"
    shutil.copytree(eng.root, root)
    eng = type(eng).load(root)
    (root / "artifacts" / "routing.json").write_text(json.dumps({"tasks": {"t01": {"offload_share": 0.9}}}))
    r = random.Random(5)
    start = datetime(2026, 2, 2, 9, tzinfo=timezone.utc)
    recs = []
    for i in range(60):
        words = r.sample(FILLER[:6], 2)
        route = {"route": "slm", "reason": "", "task": "t01"} if i < 30 else \
            {"route": "llm", "reason": "unknown_label" if i < 45 else "low_confidence", "task": "t01"}
        recs.append(_record(i, start + timedelta(minutes=i), SYSTEM, " ".join(["banana", *words]), "yellow", route))
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "routed.jsonl").write_text("".join(json.dumps(x) + "\n" for x in recs))
    rep = drift(eng, tmp_path / "logs", embedder=hash_embedder).data
    (t01,) = rep["tasks"]
    assert t01["input_shift"]["shifted"] and t01["input_shift"]["auroc"] >= 0.6, t01["input_shift"]
    out = t01["outcome"]
    assert out["expected_offload"] == 0.9 and out["offload_share"] == 0.5 and out["validator_failures"] == 15
    assert len(out["flags"]) == 2  # offload below routing.json's, validators refusing a quarter of the answers
    rec = t01["recommendation"]
    assert rec["action"] == "retrain" and "auroc_floor" in rec["trigger"] and "routing.json" in rec["because"]
    assert rep["candidates"] == [] and "retrain" in render_drift(rep)


def test_drift_names_a_missing_or_empty_folder(engagement, tmp_path: Path) -> None:
    eng, _, _ = engagement
    with pytest.raises(FdeError, match="no such folder"):
        drift(eng, tmp_path / "absent", embedder=hash_embedder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FdeError, match="no log files"):
        drift(eng, tmp_path / "empty", embedder=hash_embedder)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "calls.jsonl").write_text("{oops\n[1]\n")
    rep = drift(eng, tmp_path / "bad", embedder=hash_embedder).data
    # a file no reader recognises is refused: one record read, one quarantined
    assert rep["calls"] == 0 and rep["ingest"]["read"] == rep["ingest"]["quarantined"] >= 1
    assert rep["candidates"] == [] and rep["tasks"][0]["recommendation"]["action"] == "keep"
    assert f"{rep['ingest']['quarantined']} quarantined" in render_drift(rep)
