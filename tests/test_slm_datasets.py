"""Task datasets: targets, dedup, no leakage between splits, stratification, caps, files."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest
from slm_toy import toy_calls, toy_engagement

from fde_toolkit import FdeError
from fde_toolkit.logs.schema import conform
from fde_toolkit.slm.config import DatasetSettings, parse_finetune_config
from fde_toolkit.slm.datasets import (build_dataset, cap_examples, infer_kind, make_dataset, normalise_input,
                                      openai_record, render_tool_calls, split_examples, task_examples)


def _calls(pairs: list[tuple[str, str]], status: list[str] | None = None) -> pl.DataFrame:
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rows = [{"call_id": f"c{i}", "timestamp": t0 + timedelta(seconds=i), "model": "m",
             "status": (status or ["ok"] * len(pairs))[i],
             "messages": [{"role": "system", "content": "Classify."}, {"role": "user", "content": q}],
             "response_text": a, "cost_usd": 0.002} for i, (q, a) in enumerate(pairs)]
    return conform(pl.DataFrame(rows, infer_schema_length=None))


def test_examples_dedup_normalised_inputs_and_skip_failed_calls():
    calls = _calls([("Where is my card?", "card"), ("where  is my CARD?", "card"), ("where is my card?", "other"),
                    ("refund please", "refund"), ("broken", "x"), ("empty", "")],
                   status=["ok", "ok", "ok", "ok", "error", "ok"])
    ex = task_examples(calls, "label")
    # the two spellings of the same request with the same answer collapse into one example (2 calls)
    assert sorted(ex["target"].to_list()) == ["card", "other", "refund"]
    assert ex.filter(pl.col("target") == "card")["calls"].item() == 2
    # same normalised input -> same group, whatever the answer
    assert ex.filter(pl.col("target").is_in(["card", "other"]))["group"].n_unique() == 1
    assert normalise_input("  A\tB  ") == "a b"


def test_no_normalised_input_in_two_splits_even_with_conflicting_answers():
    pairs = [(f"request number {i % 60}", f"label{i % 3}") for i in range(300)]  # each input with 3 answers
    pairs += [(f"REQUEST   number {i}", "label0") for i in range(60)]  # case/space variants of the same inputs
    ex = split_examples(task_examples(_calls(pairs), "label"), 0.1, 0.2, seed=1)
    per_input = ex.group_by("group").agg(pl.col("split").n_unique().alias("n"))
    assert per_input["n"].max() == 1
    assert set(ex["split"]) == {"train", "val", "test"}


def test_split_is_stratified_by_label_and_deterministic():
    pairs = [(f"q{i}", "common") for i in range(400)] + [(f"r{i}", "rare") for i in range(40)]
    ex = task_examples(_calls(pairs), "label")
    a = split_examples(ex, 0.1, 0.2, seed=3)
    b = split_examples(ex, 0.1, 0.2, seed=3)
    assert a["split"].to_list() == b["split"].to_list()
    counts = {(r["stratum"], r["split"]): r["len"] for r in a.group_by("stratum", "split").len().iter_rows(named=True)}
    assert counts[("common", "test")] == 80 and counts[("rare", "test")] == 8
    assert counts[("common", "val")] == 40 and counts[("rare", "val")] == 4
    # a label seen once goes to train, never only to test
    one = split_examples(task_examples(_calls(pairs + [("lonely", "solo")]), "label"), 0.1, 0.2, seed=3)
    assert one.filter(pl.col("stratum") == "solo")["split"].to_list() == ["train"]


def test_cap_keeps_each_stratum_share():
    pairs = [(f"q{i}", "a") for i in range(300)] + [(f"r{i}", "b") for i in range(100)]
    ex = task_examples(_calls(pairs), "label")
    capped = cap_examples(ex, 40, seed=0)
    assert capped.height == 40
    assert capped.filter(pl.col("stratum") == "b").height == 10


def test_tool_call_targets_render_as_json_the_model_can_emit():
    assert json.loads(render_tool_calls([{"name": "lookup", "arguments": '{"id": "7"}'}])) == {
        "name": "lookup", "arguments": {"id": "7"}}
    two = json.loads(render_tool_calls([{"name": "a", "arguments": "{}"}, {"name": "b", "arguments": "{}"}]))
    assert [c["name"] for c in two] == ["a", "b"]
    calls = toy_calls(40, task="tool_call")
    assert infer_kind(calls) == "tool_call"
    splits, info = make_dataset(calls, "tool_call", DatasetSettings(), seed=7)
    rec = splits["train"][0]
    assert json.loads(rec["target"])["name"].startswith("paint_")
    assert set(info["tools"]) == {"paint_yellow", "paint_red", "paint_green", "paint_purple"}
    assert set(info["strata"]["train"]) <= set(info["tools"])
    oa = openai_record(rec)
    assert oa["messages"][-1]["tool_calls"][0]["function"]["name"] == json.loads(rec["target"])["name"]
    assert oa["tools"] and oa["messages"][-1]["content"] is None


def test_infer_kind_labels_json_text():
    assert infer_kind(_calls([(f"q{i}", ["yes", "no"][i % 2]) for i in range(20)])) == "label"
    assert infer_kind(_calls([(f"q{i}", '{"a": %d}' % i) for i in range(20)])) == "json"
    assert infer_kind(_calls([(f"q{i}", f"a long free answer number {i} with words") for i in range(20)])) == "text"


def test_build_dataset_writes_splits_export_and_skips_when_fresh(tmp_path):
    eng = toy_engagement(tmp_path / "acme", n=200)
    info = build_dataset(eng, "t01").data
    folder = eng.artifacts_dir / "datasets" / "t01"
    for f in ("train.jsonl", "val.jsonl", "test.jsonl", "openai_train.jsonl", "openai_val.jsonl", "dataset.json"):
        assert (folder / f).is_file()
    assert info["labels"] == ["green", "purple", "red", "yellow"]
    n = sum(info["splits"].values())
    assert n == info["kept_examples"]
    lines = (folder / "openai_train.jsonl").read_text().splitlines()
    assert len(lines) == info["splits"]["train"]
    assert json.loads(lines[0])["messages"][-1]["role"] == "assistant"
    assert build_dataset(eng, "t01").skipped
    with pytest.raises(FdeError, match="not in tasks.json"):
        build_dataset(eng, "t99")


def test_finetune_section_is_validated_with_named_keys():
    with pytest.raises(FdeError, match="finetune.train.lr"):
        parse_finetune_config({"train": {"lr": -1}})
    with pytest.raises(FdeError, match="finetune.lora.rank"):
        parse_finetune_config({"lora": {"rank": 8}})
    assert parse_finetune_config({}).serving.hourly_usd > 0


def test_tool_names_are_spelled_as_the_answers_spell_them():
    """The request offers `requests.get`, the provider renamed it and the answer calls `requests_get`."""
    tools = json.dumps([{"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {
        "url": {"type": "string"}}}}} for n in ("requests.get", "requests.post", "os.path.exists")])
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rows = [{"call_id": f"c{i:03d}", "timestamp": t0 + timedelta(seconds=i), "model": "gpt-4o", "status": "ok",
             "messages": [{"role": "user", "content": f"{'fetch' if i % 3 else 'post to'} page {i}"}], "tools": tools,
             "tool_calls": [{"name": "requests_get" if i % 3 else "requests_post",
                             "arguments": json.dumps({"url": f"https://example.com/{i}"})}]} for i in range(60)]
    rows.append({**rows[0], "call_id": "c999", "messages": [{"role": "user", "content": "delete it"}],
                 "tool_calls": [{"name": "shutil.rmtree", "arguments": "{}"}]})  # a tool the request did not offer
    calls = conform(pl.DataFrame(rows, infer_schema_length=None))
    splits, info = make_dataset(calls, "tool_call", DatasetSettings(), seed=7)
    # one name per tool, the answers' spelling; a tool offered but never called gets the provider's renaming
    assert info["tools"] == ["os_path_exists", "requests_get", "requests_post", "shutil.rmtree"]
    assert info["renamed_tools"] == {"os.path.exists": "os_path_exists", "requests.get": "requests_get",
                                     "requests.post": "requests_post"}
    assert info["unoffered_tool_calls"] == 1  # shutil.rmtree; requests_get matches the offered requests.get
    assert set(info["strata"]["train"]) == {"requests_get", "requests_post", "shutil_rmtree"}
    rec = next(r for s in splits.values() for r in s if r["id"] != "c999")
    assert json.loads(rec["target"])["name"] in ("requests_get", "requests_post")
    # the prompt and the OpenAI export offer the names the LLM was offered, once the provider renamed them
    assert [t["function"]["name"] for t in rec["tools"]] == ["requests_get", "requests_post", "os_path_exists"]
    assert [t["function"]["name"] for t in openai_record(rec)["tools"]] == [t["function"]["name"] for t in rec["tools"]]
