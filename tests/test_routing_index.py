"""The task index places new calls where discovery placed the logged ones, and refuses the calls it cannot place.

Discovery runs for real on two engagements with deterministic stand-in embedders: the toy fruit task
(tests/slm_toy.py) and the synthetic insurance customer of test_tasks_discover.py (six kinds of step,
one of them split by kind of request).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from slm_toy import hash_embedder, toy_calls, toy_engagement
from test_tasks_discover import BagOfWords, synthetic_calls

from fde_toolkit import FdeError
from fde_toolkit.engagement import Engagement
from fde_toolkit.logs.schema import conform
from fde_toolkit.routing.index import TaskIndex, normalise_text
from fde_toolkit.tasks import discover
from fde_toolkit.tasks.signature import normalise


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> tuple[Engagement, TaskIndex]:
    eng = toy_engagement(tmp_path_factory.mktemp("toy") / "toy", n=120)
    discover(eng, force=True, embedder=hash_embedder)
    return eng, TaskIndex.build(eng, embedder=hash_embedder)


def _discovered(root: Path, calls: pl.DataFrame, emb: BagOfWords) -> Engagement:
    (root / "artifacts").mkdir(parents=True)
    (root / "engagement.yaml").write_text(yaml.safe_dump({"name": root.name, "seed": 5}))
    calls.write_parquet(root / "artifacts" / "curated.parquet")
    eng = Engagement.load(root)
    discover(eng, embedder=emb)
    return eng


@pytest.fixture(scope="module")
def acme(tmp_path_factory) -> tuple[Engagement, TaskIndex, BagOfWords]:
    emb = BagOfWords()
    eng = _discovered(tmp_path_factory.mktemp("acme") / "acme", synthetic_calls()[0], emb)
    return eng, TaskIndex.build(eng, embedder=emb), emb


def _agreement(eng: Engagement, index: TaskIndex) -> pl.DataFrame:
    got = index.assign(pl.read_parquet(eng.artifacts.path("curated")))
    want = pl.read_parquet(eng.artifacts.path("task_assignments"))
    return got.join(want, on="call_id", suffix="_discovered")


def test_the_toy_calls_go_back_to_their_task(toy) -> None:
    eng, index = toy
    j = _agreement(eng, index)
    assert j.height == 120 and index.tasks == ["t01"]
    assert (j["task_id"] == j["task_id_discovered"]).all() and (j["step_id"] == j["step_id_discovered"]).all()
    # far_quantile 0.99: about one call in a hundred is farther than its task's cut-off
    assert j.filter(pl.col("reason") != "")["reason"].to_list() == ["far_from_task"] * int(
        (j["reason"] != "").sum()) and (j["reason"] != "").sum() <= 3


def test_the_synthetic_customer_s_calls_go_back_to_their_tasks(acme) -> None:
    eng, index, emb = acme
    n = emb.texts
    j = _agreement(eng, index)
    assert emb.texts == n  # a large batch reads the engagement's embedding cache
    assert j["task_id"].null_count() == 0 and (j["step_id"] == j["step_id_discovered"]).all()
    wrong = j.filter(pl.col("task_id") != pl.col("task_id_discovered"))
    # Every closed step (labels, JSON, tool calls, short text) is one task, so those agree by construction.
    # The open-ended tail was split by k-means on neighbour-smoothed vectors, the index takes the nearest raw
    # centre (the members' mean): they could differ on a request between two kinds; here all 1210 agree.
    assert wrong.height == 0, wrong
    steps = {s["id"]: s for s in eng.artifacts.tasks()["steps"]}
    assert any(steps[s]["split_by_request"] for s in j["step_id"].unique())
    # distances are discovery's, up to the centres being computed on the same requests
    assert np.allclose(j["distance"].to_numpy(), j["distance_discovered"].to_numpy(), atol=1e-4)
    assert index.data["normaliser_mismatches"] == 0


def test_the_python_normaliser_is_the_polars_one() -> None:
    calls, _ = synthetic_calls()
    texts = [m["content"] for ms in calls["messages"].to_list() for m in ms][:800]
    texts += ["Claim CLM-1234 on 2024-03-01 at 10:30 pm, $1,200.50 (12%) to <EMAIL_7f3a91c2> via https://x.io/a",
              "Ünïcode 3rd March 2025 and 5 Jan. 2024, ref 12-AB and 77abc\tend", "", "   "]
    assert [normalise_text(t) for t in texts] == normalise(texts)


def _call(user: str | None, system: str = "answer with the colour only", tools: str | None = None,
          workload: str | None = None, call_id: str = "n1") -> pl.DataFrame:
    msgs = [{"role": "system", "content": system}]
    if user is not None:
        msgs.append({"role": "user", "content": user})
    return conform(pl.DataFrame([{"call_id": call_id, "model": "gpt-4o", "messages": msgs, "tools": tools,
                                  "workload_id": workload}], infer_schema_length=None))


def test_each_guard_names_its_reason(toy) -> None:
    _, index = toy
    cases = {
        "ok": _call("tell me the colour of a ripe banana please"),
        "empty": _call("   "),
        "no_user": _call(None),
        "huge": _call("banana " * 10_000),
        "nul": _call("banana\x00 colour"),
        "mojibake": _call("banana \ufffd colour"),
        "new_prompt": _call("banana", system="you write poems about the sea"),
        "new_tools": _call("banana", tools=toy_calls(1, task="tool_call")["tools"][0]),
        "far": _call("zebra quantum invoice overdue mortgage"),
    }
    got = pl.concat([index.assign(c.with_columns(pl.lit(k).alias("call_id"))) for k, c in cases.items()])
    reasons = dict(zip(got["call_id"], got["reason"]))
    assert reasons == {"ok": "", "empty": "empty_input", "no_user": "empty_input", "huge": "oversized_input",
                       "nul": "undecodable_input", "mojibake": "undecodable_input", "new_prompt": "no_matching_step",
                       "new_tools": "no_matching_step", "far": "far_from_task"}
    row = got.filter(pl.col("call_id") == "ok").row(0, named=True)
    assert row["task_id"] == "t01" and row["step_id"] == "s01" and row["distance"] < index.data["tasks"][0]["cutoff"]
    far = got.filter(pl.col("call_id") == "far").row(0, named=True)
    assert far["task_id"] == "t01" and far["distance"] > index.data["tasks"][0]["cutoff"]  # the nearest, too far
    assert got.filter(pl.col("reason").is_in(["empty_input", "no_matching_step"]))["task_id"].null_count() == 4
    assert index.assign(_call("x").clear()).columns == ["call_id", "task_id", "step_id", "distance", "reason"]


def test_a_prompt_with_a_variable_slot_matches_its_family(acme) -> None:
    _, index, _ = acme
    # the RAG prompts (a variable slot of retrieved passages) form one family: a new passage still matches
    system = ("You are the policy assistant. Answer in one or two sentences using only these excerpts:\n"
              "[fact99] Coverage for meteor strikes pays up to a limit of 5 dollars per loss.")
    got = index.assign(_call("Is hail damage covered and what is the limit for it?", system=system))
    assert got["reason"][0] == "" and got["task_id"][0] is not None


def test_a_tag_split_step_routes_by_tag_and_untagged_calls_by_nearest_task(tmp_path: Path) -> None:
    rows = []
    for i in range(240):
        tag = "billing-bot" if i % 2 else "claims-bot"
        topic = "refund my premium payment card charge" if i % 2 else "open a new claim for car damage"
        rows.append({"call_id": f"w{i:03d}", "model": "m", "status": "ok",
                     "messages": [{"role": "system", "content": "You are a helpful assistant."},
                                  {"role": "user", "content": f"{topic} number {i}"}],
                     "response_text": "Sure, here is what to do next " * (1 + i % 3), "output_tokens": 20,
                     "workload_id": tag if i % 5 else None})
    emb = BagOfWords()
    eng = _discovered(tmp_path / "tags", conform(pl.DataFrame(rows, infer_schema_length=None)), emb)
    index = TaskIndex.build(eng, embedder=emb)
    j = _agreement(eng, index)
    assert (j["task_id"] == j["task_id_discovered"]).all()  # untagged calls included
    step = {s["workload_tag"]: s["id"] for s in eng.artifacts.tasks()["steps"]}
    system = "You are a helpful assistant."
    got = pl.concat([index.assign(_call("refund my premium payment card charge", system, workload="billing-bot")),
                     index.assign(_call("refund my premium payment card charge", system, workload="claims-bot")),
                     index.assign(_call("open a new claim for car damage", system))])
    assert got["step_id"].to_list() == [step["billing-bot"], step["claims-bot"], step["claims-bot"]]


def test_save_and_load_round_trip(toy, tmp_path: Path) -> None:
    eng, index = toy
    folder = index.save(tmp_path / "task_index")
    assert sorted(p.name for p in folder.iterdir()) == ["centres.npy", "index.json"]
    again = TaskIndex.load(folder, embedder=hash_embedder)
    calls = pl.read_parquet(eng.artifacts.path("curated"))
    assert again.assign(calls).equals(index.assign(calls))
    assert np.array_equal(again.centres, index.centres) and again.tasks == index.tasks
    with pytest.raises(FdeError, match="built with the embedding model hash_embedder"):
        TaskIndex.load(folder, embedder=BagOfWords())
    with pytest.raises(FdeError, match="fde route"):
        TaskIndex.load(tmp_path / "nowhere", embedder=hash_embedder)


def test_rebuilding_embeds_nothing_new(acme) -> None:
    eng, _, emb = acme
    n = emb.texts
    TaskIndex.build(eng, embedder=emb)
    assert emb.texts == n  # every request vector came from the cache discovery filled
