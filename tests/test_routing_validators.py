"""Answers that escalate whatever the confidence: each reason on a hand-made answer."""

from __future__ import annotations

import json

import pytest

from fde_toolkit.routing.validators import answer_problems

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
        "required": ["city"], "additionalProperties": False}}},
    {"type": "function", "function": {"name": "requests.get", "parameters": {
        "type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]}}},
    {"type": "function", "function": {"name": "broken", "parameters": {"type": "nonsense", "minimum": "x"}}},
    {"type": "function", "function": {"name": "no_params"}},
    {"type": "function", "function": {"name": "old_draft", "parameters": {
        "$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
        "properties": {"n": {"type": "number", "maximum": 10, "exclusiveMaximum": True}}}}},
]


def call(name: str, arguments) -> str:
    return json.dumps({"name": name, "arguments": arguments})


def test_empty_answers_escalate_for_every_kind():
    for kind in ("label", "json", "tool_call", "text"):
        assert answer_problems(kind, "") == ["empty_answer"]
        assert answer_problems(kind, "  \n") == ["empty_answer"]
        assert answer_problems(kind, None) == ["empty_answer"]
    assert answer_problems("tool_call", "[]", TOOLS) == ["empty_answer"]
    assert answer_problems("text", "Any reply at all.") == []
    with pytest.raises(ValueError, match="output kind"):
        answer_problems("image", "x")


def test_labels_outside_the_label_set():
    labels = ["card_lost", "balance"]
    assert answer_problems("label", "card_lost", labels=labels) == []
    assert answer_problems("label", " balance\n", labels=labels) == []
    assert answer_problems("label", "refund", labels=labels) == ["unknown_label"]
    assert answer_problems("label", "refund") == []  # no label set: nothing to check against


def test_broken_json():
    assert answer_problems("json", '{"city": "Oslo"') == ["invalid_json"]
    assert answer_problems("json", '```json\n{"city": "Oslo"}\n```') == []
    assert answer_problems("tool_call", '{"name": "get_weather", "arguments": {', TOOLS) == ["invalid_json"]
    assert answer_problems("tool_call", '{"arguments": {"city": "Oslo"}}', TOOLS) == ["invalid_json"]  # no name
    assert answer_problems("tool_call", call("get_weather", "{city: Oslo"), TOOLS) == ["invalid_json"]


def test_a_valid_call_passes_as_a_list_or_as_json_text_and_with_arguments_as_a_string():
    ok = call("get_weather", {"city": "Oslo", "days": 3})
    assert answer_problems("tool_call", ok, TOOLS) == []
    assert answer_problems("tool_call", ok, json.dumps(TOOLS)) == []
    assert answer_problems("tool_call", call("get_weather", json.dumps({"city": "Oslo"})), TOOLS) == []
    assert answer_problems("tool_call", ok) == []  # no tools known: only the format is checked


def test_unknown_tools_compare_by_the_providers_spelling():
    assert answer_problems("tool_call", call("get_stock", {"s": "X"}), TOOLS) == ["unknown_tool"]
    assert answer_problems("tool_call", call("requests_get", {"url": "http://x"}), TOOLS) == []
    assert answer_problems("tool_call", call("requests.get", {"url": "http://x"}), TOOLS) == []
    assert answer_problems("tool_call", call("get_weather", {"city": "Oslo"}), []) == ["unknown_tool"]
    two = json.dumps([{"name": "get_weather", "arguments": {"city": 3}}, {"name": "nope", "arguments": {}}])
    assert answer_problems("tool_call", two, TOOLS) == ["arguments_break_schema", "unknown_tool"]


def test_arguments_that_break_the_offered_schema():
    for bad in ({"days": 2}, {"city": 3}, {"city": "Oslo", "days": 0}, {"city": "Oslo", "extra": 1}):
        assert answer_problems("tool_call", call("get_weather", bad), TOOLS) == ["arguments_break_schema"], bad
    assert answer_problems("tool_call", call("requests_get", {}), TOOLS) == ["arguments_break_schema"]


def test_the_declared_draft_is_used_and_broken_or_missing_schemas_are_skipped():
    # draft-04's boolean exclusiveMaximum: 10 breaks it; under 2020-12 this schema would itself be invalid
    assert answer_problems("tool_call", call("old_draft", {"n": 10}), TOOLS) == ["arguments_break_schema"]
    assert answer_problems("tool_call", call("old_draft", {"n": 9}), TOOLS) == []
    assert answer_problems("tool_call", call("broken", {"anything": 1}), TOOLS) == []
    assert answer_problems("tool_call", call("no_params", {"anything": 1}), TOOLS) == []
    assert answer_problems("tool_call", call("get_weather", {"city": "Oslo"}), "not json [") == []
