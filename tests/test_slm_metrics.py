"""Every metric against hand-made cases."""

from __future__ import annotations

import math

import pytest

from fde_toolkit.slm import metrics as M


def test_label_accuracy_and_macro_f1_by_hand():
    refs = ["a", "a", "b", "c"]
    preds = ["a", "b", "b", "b"]
    assert M.label_accuracy(preds, refs) == pytest.approx(0.5)
    # a: tp1 pred1 ref2 -> 2/3; b: tp1 pred3 ref1 -> 2/4; c: tp0 pred0 ref1 -> 0
    assert M.macro_f1(preds, refs) == pytest.approx((2 / 3 + 0.5 + 0) / 3)
    assert M.macro_f1(["x"], ["y"]) == 0.0
    assert M.macro_f1(refs, refs) == 1.0


def test_exact_match_ignores_only_outer_and_repeated_whitespace():
    assert M.exact_match([" hello  world\n", "Hello"], ["hello world", "hello"]) == pytest.approx(0.5)


def test_json_validity_field_f1_and_exact():
    refs = ['{"a": 1, "b": {"c": "x"}}', '{"a": 1}', '{"k": [1, 2]}']
    preds = ['```json\n{"b": {"c": "x"}, "a": 1}\n```', '{"a": 2}', 'not json']
    s = M.json_scores(preds, refs)
    assert s["validity"] == pytest.approx(2 / 3)
    assert s["exact"] == pytest.approx(1 / 3)  # key order and fences do not matter
    assert s["field_f1"] == pytest.approx((1.0 + 0.0 + 0.0) / 3)
    # partial overlap: pred has a.b=1, c=2; ref has a.b=1, c=3, d=4 -> 1 shared of 2 and 3 -> 2/5
    assert M.field_f1({"a": {"b": 1}, "c": 2}, {"a": {"b": 1}, "c": 3, "d": 4}) == pytest.approx(0.4)
    assert M.flatten({"a": {"b": 1}, "c": [2]}) == {("a.b", "1"), ("c[0]", "2")}
    assert M.field_f1(None, {"a": 1}) == 0.0


def test_tool_call_name_and_argument_accuracy_compare_parsed_json():
    ref = '{"name": "lookup_policy", "arguments": {"policy_number": "P-1", "full": true}}'
    same_args_as_string = '{"name": "lookup_policy", "arguments": "{\\"full\\": true, \\"policy_number\\": \\"P-1\\"}"}'
    wrong_arg = '{"name": "lookup_policy", "arguments": {"policy_number": "P-2", "full": true}}'
    wrong_name = '{"name": "get_claim", "arguments": {"policy_number": "P-1", "full": true}}'
    s = M.tool_call_scores([same_args_as_string, wrong_arg, wrong_name, "garbage"], [ref] * 4)
    assert s["validity"] == pytest.approx(3 / 4)
    assert s["name_accuracy"] == pytest.approx(2 / 4)
    assert s["call_accuracy"] == pytest.approx(1 / 4)
    assert M.parse_tool_calls('[{"name": "a", "arguments": {}}, {"name": "b"}]') == [("a", {}), ("b", {})]


def test_chrf_by_hand():
    assert M.chrf("abc", "abc") == 100.0
    assert M.chrf("xyz", "abc") == 0.0
    # hyp "ab" vs ref "abc": 1-grams P=2/2 R=2/3, 2-grams P=1/1 R=1/2, 3-grams exist only in ref (skipped)
    p, r = (1 + 1) / 2, (2 / 3 + 1 / 2) / 2
    assert M.chrf("ab", "abc") == pytest.approx(100 * 5 * p * r / (4 * p + r))
    # whitespace is ignored
    assert M.chrf("a b c", "abc") == pytest.approx(100.0)
    # corpus chrF pools statistics: identical pairs stay 100, and one bad pair lowers it
    assert M.corpus_chrf(["abc", "abc"], ["abc", "abc"]) == pytest.approx(100.0)
    assert 0 < M.corpus_chrf(["abc", "xyz"], ["abc", "abc"]) < 100


def test_score_by_kind_reports_agreement_and_primary():
    s = M.score("label", ["a", "b"], ["a", "a"])
    assert s["accuracy"] == 0.5 and s["agreement"] == 0.5 and s["primary"] == "accuracy" and s["n"] == 2
    t = M.score("text", ["the claim is open", "zzz"], ["the claim is open", "the claim is closed"],
                text_success_chrf=60)
    assert t["agreement"] == 0.5 and t["primary"] == "chrf"
    assert M.successes("json", ['{"a":1}', '{"a":2}'], ['{"a": 1}', '{"a": 1}']) == [True, False]
    assert M.successes("tool_call", ['{"name":"x","arguments":{"q":1}}'],
                       ['{"name": "x", "arguments": {"q": 1}}']) == [True]
    assert not math.isnan(M.score("json", [None], ['{"a": 1}'])["field_f1"])


def test_tool_names_compare_as_the_provider_logs_them():
    ref = '{"name": "requests_get", "arguments": {"url": "https://a.example"}}'
    dotted = '{"name": "requests.get", "arguments": {"url": "https://a.example"}}'
    other = '{"name": "requests.post", "arguments": {"url": "https://a.example"}}'
    s = M.tool_call_scores([dotted, other], [ref, ref])
    assert s["name_accuracy"] == 0.5 and s["call_accuracy"] == 0.5
    assert M.successes("tool_call", [dotted, other], [ref, ref]) == [True, False]
    assert M.score("tool_call", [dotted], [ref])["agreement"] == 1.0


def _call(name: str, **args) -> str:
    import json
    return json.dumps({"name": name, "arguments": args})


def test_tool_call_breakdown_on_tools_seen_in_training_and_never_seen():
    train = [_call("requests_get", url="u"), _call("lookup_policy", id=1), "not a call"]
    seen = M.tools_in(train)
    assert seen == {"requests_get", "lookup_policy"}
    refs = [_call("requests_get", url="a"),   # seen: right call
            _call("requests_get", url="b"),   # seen: right name, wrong arguments
            _call("lookup_policy", id=2),     # seen: wrong name
            _call("get_weather", city="Oslo"),  # unseen: right call
            _call("get_weather", city="Rome"),  # unseen: unreadable prediction
            "garbage"]                         # an unreadable reference counts nowhere
    preds = [_call("requests.get", url="a"), _call("requests_get", url="x"), _call("requests_get", id=2),
             _call("get.weather", city="Oslo"), "{oops", _call("x")]
    b = M.tool_call_breakdown(preds, refs, seen)
    assert b["seen"] == {"n": 3, "name_accuracy": pytest.approx(2 / 3), "call_accuracy": pytest.approx(1 / 3)}
    assert b["unseen"] == {"n": 2, "name_accuracy": 0.5, "call_accuracy": 0.5}
    # a call of several tools is unseen when any of them is; seen names are normalised too
    multi = '[{"name": "requests_get", "arguments": {}}, {"name": "get_weather", "arguments": {}}]'
    assert M.tool_call_breakdown([multi], [multi], {"requests.get"})["unseen"]["n"] == 1
    assert M.tool_call_breakdown([multi], [multi], {"requests.get", "get_weather"})["seen"]["call_accuracy"] == 1.0
    empty = M.tool_call_breakdown([], [], set())
    assert empty["seen"] == {"n": 0, "name_accuracy": None, "call_accuracy": None}


def test_per_example_helpers_are_what_the_shares_average():
    refs = ['{"a": 1, "b": 2}', '{"a": 1}', '{"k": [1, 2]}']
    preds = ['{"b": 2, "a": 1}', '{"a": 2, "c": 3}', 'not json']
    ex = M.json_example_scores(preds, refs)
    # exact, then no leaf shared (0 of 2 and 1), then unparsable
    assert ex == {"validity": [True, True, False], "field_f1": [1.0, 0.0, 0.0], "exact": [True, False, False]}
    ref = '{"name": "a", "arguments": {"x": 1}}'
    tc = M.tool_call_example_scores(['{"name": "a", "arguments": {"x": 2}}', ref, "nope"], [ref] * 3)
    assert tc == {"validity": [True, True, False], "name_accuracy": [True, True, False],
                  "call_accuracy": [False, True, False]}
    assert M.label_matches([" a", "b"], ["a", "a"]) == [True, False]
    assert M.exact_matches(["a  b", "ab"], ["a b", "a b"]) == [True, False]
    # per-example chrF statistics summed are the corpus statistics
    hyps, tgts = ["the claim", "is open"], ["the claim", "is closed"]
    stats = M.chrf_stats(hyps, tgts)
    pooled = [[sum(s[i][j] for s in stats) for j in range(3)] for i in range(M.CHRF_ORDER)]
    assert M.chrf_from_stats(pooled) == pytest.approx(M.corpus_chrf(hyps, tgts))
