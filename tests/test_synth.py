"""The demo customer's logs: deterministic, consistent answers, realistic shape, deliberate defects."""

from __future__ import annotations

import collections
import gzip
import json
import re
import statistics
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from fde_toolkit import synth
from fde_toolkit.synth import (EXTRACTION_FIELDS, FRONTIER_MODEL, INCIDENT_TYPES, INTERNAL_MODEL, KNOWLEDGE_BASE,
                               MINI_MODEL, START, TASK_TYPES, TOOL_NAMES, TRIAGE_LABELS, demo_ground_truth,
                               generate_demo_calls, write_demo_logs)
from fde_toolkit.synth.text import _date_variants
from fde_toolkit.synth.vocab import _FIRST, _LAST

N, DAYS, SEED = 4000, 7, 11
END = START + timedelta(days=DAYS)


@pytest.fixture(scope="module")
def stream() -> list[dict]:
    return list(generate_demo_calls(N, DAYS, SEED))


@pytest.fixture(scope="module")
def calls(stream) -> list[dict]:
    return [r for r in stream if "_raw" not in r]


@pytest.fixture(scope="module")
def ok(calls) -> list[dict]:
    return [r for r in calls if r["response"] is not None]


def _by_task(rows: list[dict], task: str) -> list[dict]:
    return [r for r in rows if r["_task"]["task_type"] == task]


def _user(r: dict) -> str:
    return r["request"]["messages"][-1]["content"]


def _answer(r: dict) -> str | None:
    return r["response"]["choices"][0]["message"]["content"]


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("demo")
    return out, write_demo_logs(out, n_calls=N, days=DAYS, seed=SEED)


def _read_gateway(path: Path) -> tuple[list[dict], int]:
    """(records, count of lines that are not JSON objects)."""
    recs, bad = [], 0
    for line in gzip.decompress(path.read_bytes()).split(b"\n"):
        if not line:
            continue
        try:
            recs.append(json.loads(line))
        except (json.JSONDecodeError, UnicodeDecodeError):
            bad += 1
    return recs, bad


def _spans(path: Path) -> list[dict]:
    doc = json.loads(path.read_text())
    return [s for rs in doc["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]


# ------------------------------------------------------------------ determinism and layout

def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(logs, tmp_path):
    out, paths = logs
    again = write_demo_logs(tmp_path / "again", n_calls=N, days=DAYS, seed=SEED)
    assert [p.relative_to(tmp_path / "again") for p in again] == [p.relative_to(out) for p in paths]
    for a, b in zip(paths, again):
        assert a.read_bytes() == b.read_bytes(), a.name
    other = write_demo_logs(tmp_path / "other", n_calls=N, days=DAYS, seed=SEED + 1)
    differ = sum(a.read_bytes() != b.read_bytes() for a, b in zip(paths, other))
    assert differ == len(paths)


def test_layout_is_one_gateway_file_and_one_otel_file_per_day(logs):
    out, paths = logs
    days = [(START + timedelta(days=i)).date().isoformat() for i in range(DAYS)]
    assert sorted(p.relative_to(out).as_posix() for p in paths) == sorted(
        [f"gateway/{d}.jsonl.gz" for d in days] + [f"otel/mobile-bff-{d}.json" for d in days])
    assert not list(out.rglob("*ground*")), "ground truth must never sit next to the raw logs"
    # gzip header: mtime 0 and no embedded file name, so bytes do not depend on where or when
    head = paths[0].read_bytes()[:10]
    assert head[:2] == b"\x1f\x8b" and head[4:8] == b"\0\0\0\0" and head[3] & 0x08 == 0


def test_counts_add_up_to_n_calls_plus_the_duplicate(logs):
    out, paths = logs
    records, bad = [], 0
    for p in paths:
        if p.suffix == ".gz":
            recs, b = _read_gateway(p)
            records += recs
            bad += b
    spans = [s for p in paths if p.suffix == ".json" for s in _spans(p)]
    assert bad == 4
    assert len(records) + len(spans) == N + 1  # one record is logged twice
    ids = collections.Counter(r["response"]["id"] for r in records if r["response"])
    assert [n for n in ids.values() if n > 1] == [2]
    assert sum(r["latency_ms"] < 0 for r in records) == 1
    assert all(not k.startswith("_") for r in records for k in r)


def test_without_bad_records_there_is_no_defect():
    stream = list(generate_demo_calls(1500, 3, SEED, bad_records=False))
    assert len(stream) == 1500
    assert not any("_raw" in r for r in stream)
    assert all(r["latency_ms"] > 0 for r in stream)
    ids = [r["response"]["id"] for r in stream if r["response"]]
    assert len(ids) == len(set(ids))
    assert all(r["_task"]["defect"] is None for r in stream)


def test_invalid_arguments_are_refused():
    with pytest.raises(ValueError):
        generate_demo_calls(0)
    with pytest.raises(ValueError):
        generate_demo_calls(10, otel_share=1.5)


# ------------------------------------------------------------------ tasks and answers

def test_every_task_type_is_present_with_its_expected_share(calls):
    n = len({r["_task"]["record"] for r in calls})
    assert n == N
    share = collections.Counter(r["_task"]["task_type"] for r in calls)
    assert set(share) == set(TASK_TYPES)
    expected = {"intent_triage": (0.30, 0.45), "claim_extraction": (0.06, 0.13), "tool_call": (0.09, 0.17),
                "policy_qa": (0.11, 0.20), "claim_summary": (0.10, 0.19), "adjuster_reasoning": (0.09, 0.15)}
    for task, (lo, hi) in expected.items():
        assert lo <= share[task] / len(calls) <= hi, (task, share[task] / len(calls))


def test_triage_answers_the_intended_label(ok):
    triage = _by_task(ok, "intent_triage")
    for r in triage:
        assert _answer(r) in TRIAGE_LABELS
        assert _answer(r) == r["_task"]["label"]
        assert r["request"]["messages"][0]["content"] == triage[0]["request"]["messages"][0]["content"]
    assert {_answer(r) for r in triage} == set(TRIAGE_LABELS)
    # many phrasings: the users' words differ
    texts = collections.defaultdict(set)
    for r in triage:
        texts[_answer(r)].add(_user(r))
    assert all(len(v) >= 5 for v in texts.values())


def test_extraction_json_is_consistent_with_the_message(ok):
    ex = _by_task(ok, "claim_extraction")
    assert len(ex) > 100
    nulls = collections.Counter()
    for r in ex:
        assert r["request"]["response_format"] == {"type": "json_object"}
        msg = _user(r)
        out = json.loads(_answer(r))
        assert tuple(out) == EXTRACTION_FIELDS
        assert out["incident_type"] == r["_task"]["label"] and out["incident_type"] in INCIDENT_TYPES
        for f in ("policy_number", "claimant_name", "location"):
            assert out[f] in msg, f
        assert any(v in msg for v in _date_variants(date.fromisoformat(out["incident_date"])))
        if out["estimated_amount"] is None:
            nulls["amount"] += 1
        else:
            assert str(out["estimated_amount"]) in msg.replace(",", "")
        assert out["injuries"] in (True, False, None)
        nulls["injuries"] += out["injuries"] is None
    assert 0 < nulls["amount"] < len(ex) * 0.4 and 0 < nulls["injuries"] < len(ex) * 0.3


def test_tool_call_arguments_come_from_the_user_message(ok):
    tc = _by_task(ok, "tool_call")
    assert {r["_task"]["label"] for r in tc} == set(TOOL_NAMES)
    schemas = {t["function"]["name"]: t["function"]["parameters"] for t in synth.TOOLS}
    for r in tc:
        assert [t["function"]["name"] for t in r["request"]["tools"]] == list(TOOL_NAMES)
        ch = r["response"]["choices"][0]
        assert ch["finish_reason"] == "tool_calls" and ch["message"]["content"] is None
        (call,) = ch["message"]["tool_calls"]
        assert call["type"] == "function" and call["id"].startswith("call_")
        name, args = call["function"]["name"], json.loads(call["function"]["arguments"])
        assert name == r["_task"]["label"]
        assert set(schemas[name]["required"]) <= set(args) <= set(schemas[name]["properties"])
        msg = _user(r)
        for k, v in args.items():
            if k == "date":
                assert any(x in msg for x in _date_variants(date.fromisoformat(v)))
            else:
                assert v in msg, (k, v)


def test_policy_answers_come_from_the_knowledge_base(ok):
    qa = _by_task(ok, "policy_qa")
    assert len({r["_task"]["label"] for r in qa}) >= 20
    kb = {e["id"]: e for e in KNOWLEDGE_BASE}
    followups = 0
    for r in qa:
        entry = kb[r["_task"]["label"]]
        assert _answer(r) in entry["answers"]
        assert entry["excerpt"] in r["request"]["messages"][0]["content"]
        n_sent = len(re.findall(r"[.!?](\s|$)", _answer(r)))
        assert 1 <= n_sent <= 3
        followups += len(r["request"]["messages"]) == 4
    assert followups > 0


def test_summaries_state_the_facts_of_the_claim_file(ok):
    sm = _by_task(ok, "claim_summary")
    for r in sm:
        notes, out = _user(r), _answer(r)
        claim = re.search(r"CLM-\d{8}", out).group(0)
        assert claim in notes
        name = re.search(r"Insured: ([^|]+?) \|", notes).group(1)
        assert name in out
        assert 2 <= len(re.findall(r"[.!?](\s|$)", out)) <= 4 and "\n" not in out
        dated = [date.fromisoformat(d) for d in re.findall(r"\b(20\d\d-\d\d-\d\d)\b", notes)]
        assert max(dated) <= datetime.fromisoformat(r["timestamp"]).date()  # nothing dated after the call


def test_adjuster_requests_are_long_open_ended_and_go_to_the_frontier_model(ok):
    rs = _by_task(ok, "adjuster_reasoning")
    assert {r["request"]["model"] for r in rs} == {FRONTIER_MODEL}
    assert len({r["_task"]["label"] for r in rs}) == len(synth.REASONING_KINDS)
    out_tokens = [r["response"]["usage"]["completion_tokens"] for r in rs]
    assert min(out_tokens) >= 100 and statistics.median(out_tokens) > 250
    assert all(_answer(r).count("\n\n") >= 2 for r in rs)
    assert all(r["request"]["user"].startswith("adj-") for r in rs)
    assert len({_user(r)[:80] for r in rs}) > len(rs) * 0.9


# ------------------------------------------------------------------ PII, sessions, tags, models

def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def test_pii_is_seeded_in_messages_and_tool_arguments(ok):
    text = "\n".join(m["content"] for r in ok for m in r["request"]["messages"] if m["role"] == "user")
    assert len(set(re.findall(r"[\w.]+@[\w]+\.(?:com|net|me)", text))) > 200
    assert len(set(re.findall(r"NWM-\d{3}-\d{6}", text))) > 200
    phones = re.findall(r"\(\d{3}\) \d{3}-\d{4}|\b\d{3}-\d{3}-\d{4}\b|\b\d{3}\.\d{3}\.\d{4}\b"
                        r"|\+1[ -]\d{3}[ -]\d{3}[ -]\d{4}", text)
    assert len(set(phones)) > 100
    cards = [re.sub(r"\D", "", c)
             for c in re.findall(r"\b(?:\d{4}[ -]?){3}\d{4}\b|\b\d{4}[ -]?\d{6}[ -]?\d{5}\b", text)]
    assert len(cards) >= 5 and all(_luhn_ok(c) for c in cards)
    street = r"\d+ \w+ (?:Street|St|Avenue|Ave|Road|Rd|Drive|Dr|Lane|Ln|Court|Ct|Boulevard|Blvd|Way|Place|Terrace)\b"
    assert len(re.findall(street, text)) > 100
    names = {f"{f} {l}" for f in _FIRST for l in _LAST}
    assert sum(n in text for n in list(names)[:2000]) > 50
    args = [json.loads(c["function"]["arguments"])
            for r in ok for c in r["response"]["choices"][0]["message"].get("tool_calls") or ()]
    joined = json.dumps(args)
    assert re.search(r"NWM-\d{3}-\d{6}", joined) and re.search(r"@", joined)
    assert any("phone" in a for a in args) and any("address" in a for a in args)


def test_sessions_follow_the_claim_workflow(ok):
    sessions = collections.defaultdict(list)
    for r in ok:
        sessions[r["request"]["metadata"]["session_id"]].append(r)
    flows = collections.Counter()
    for rs in sessions.values():
        seen: set[int] = set()
        tasks = []
        for r in rs:  # one entry per logical call: the duplicate line is skipped
            if r["_task"]["record"] not in seen:
                seen.add(r["_task"]["record"])
                tasks.append(r["_task"]["task_type"])
        flows[tuple(tasks)] += 1
        stamps = [r["timestamp"] for r in rs]
        assert stamps == sorted(stamps)
        assert len({r["request"]["user"] for r in rs}) == 1
        by = {r["_task"]["task_type"]: r for r in rs}
        if "intent_triage" in by and "tool_call" in by:  # the routed handler gets the same message
            assert _user(by["intent_triage"]) == _user(by["tool_call"])
        if "claim_extraction" in by and "claim_summary" in by:
            fnol = json.loads(_answer(by["claim_extraction"]))
            assert fnol["policy_number"] in _user(by["claim_summary"])
    assert flows[("intent_triage", "claim_extraction", "claim_summary")] > 20
    assert flows[("intent_triage", "tool_call")] > 50
    assert flows[("intent_triage", "policy_qa", "policy_qa")] > 5


def test_only_some_traffic_carries_a_workload_tag(calls):
    tags = collections.Counter((r["_task"]["task_type"], r["request"]["metadata"].get("workload_id")) for r in calls)
    assert {t for (_, t) in tags} == {None, "triage-svc", "fnol-extract"}
    assert {task for (task, t) in tags if t == "triage-svc"} == {"intent_triage"}
    assert {task for (task, t) in tags if t == "fnol-extract"} == {"claim_extraction"}
    tagged = tags[("intent_triage", "triage-svc")] / sum(v for (task, _), v in tags.items() if task == "intent_triage")
    assert 0.3 < tagged < 0.8


def test_models_are_mixed_and_the_internal_model_is_a_small_share(calls):
    models = collections.Counter(r["request"]["model"] for r in calls)
    assert set(models) == {FRONTIER_MODEL, MINI_MODEL, INTERNAL_MODEL}
    assert 0.01 < models[INTERNAL_MODEL] / len(calls) < 0.12
    triage = collections.Counter(r["request"]["model"] for r in _by_task(calls, "intent_triage"))
    assert triage[FRONTIER_MODEL] > 0 and triage[MINI_MODEL] > triage[FRONTIER_MODEL]


# ------------------------------------------------------------------ errors, retries, time, tokens, latency

def test_errors_are_rare_and_mostly_retried_with_the_same_request(calls):
    errs = [r for r in calls if r["response"] is None]
    assert 0.01 <= len(errs) / len(calls) <= 0.04
    assert {e["error"]["status"] for e in errs} <= {429, 500, 504} and 429 in {e["error"]["status"] for e in errs}
    by_session = collections.defaultdict(list)
    for r in calls:
        by_session[r["request"]["metadata"]["session_id"]].append(r)
    retried = 0
    for e in errs:
        later = [r for r in by_session[e["request"]["metadata"]["session_id"]] if r["timestamp"] > e["timestamp"]]
        if later and later[0]["request"] == e["request"]:
            gap = (datetime.fromisoformat(later[0]["timestamp"])
                   - datetime.fromisoformat(e["timestamp"])).total_seconds()
            assert 0.5 < gap < 120
            retried += 1
    assert retried / len(errs) > 0.6


def test_timestamps_are_sorted_and_inside_the_window(logs, stream):
    out, paths = logs
    for p in paths:
        if p.suffix == ".gz":
            recs, _ = _read_gateway(p)
            ts = [r["timestamp"] for r in recs]
            day = p.name[:10]
        else:
            ts = [datetime.fromtimestamp(int(s["startTimeUnixNano"]) / 1e9, timezone.utc).isoformat()
                  for s in _spans(p)]
            day = p.name[-15:-5]
        assert ts == sorted(ts), p.name
        assert all(t[:10] == day for t in ts), p.name
    stamps = [datetime.fromisoformat(r["timestamp"]) for r in stream if "_raw" not in r]
    assert stamps == sorted(stamps) and START <= stamps[0] and stamps[-1] < END


def test_arrivals_have_diurnal_weekly_shape_and_growth():
    gt = demo_ground_truth(60_000, 28, SEED, bad_records=False)
    hour = gt["timestamp"].dt.hour().value_counts().sort("timestamp")
    counts = dict(zip(hour["timestamp"].to_list(), hour["count"].to_list()))
    assert sum(counts.get(h, 0) for h in range(14, 20)) > 4 * sum(counts.get(h, 0) for h in range(6, 12))  # UTC
    daily = gt.group_by(gt["timestamp"].dt.date().alias("d")).len().sort("d")
    wd = daily.filter(pl.col("d").dt.weekday() <= 5)["len"].mean()
    we = daily.filter(pl.col("d").dt.weekday() >= 6)["len"].mean()
    assert we < 0.75 * wd
    first, last = daily["len"][:7].sum(), daily["len"][-7:].sum()
    assert last > 1.05 * first


def test_token_counts_are_plausible_for_the_text(ok):
    prompts = []
    for r in ok:
        chars = (sum(len(m["content"]) for m in r["request"]["messages"])
                 + len(json.dumps(r["request"].get("tools") or "")))
        u = r["response"]["usage"]
        assert chars / 6 < u["prompt_tokens"] < chars / 2.5 + 50
        msg = r["response"]["choices"][0]["message"]
        out = msg["content"] or "".join(c["function"]["arguments"] + c["function"]["name"] for c in msg["tool_calls"])
        assert len(out) / 6 <= u["completion_tokens"] <= len(out) / 2.5 + 12
        assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
        prompts.append(u["prompt_tokens"])
    long_share = sum(p > 2000 for p in prompts) / len(prompts)
    assert 0.03 < long_share < 0.25  # the long-context tail comes from attached documents
    assert 250 < statistics.median(prompts) < 1200


def test_latency_follows_model_speed_and_errors(calls):
    def med(model):
        return statistics.median(r["latency_ms"] / (r["response"]["usage"]["completion_tokens"] + 20)
                                 for r in calls if r["response"] and r["request"]["model"] == model)
    assert med(FRONTIER_MODEL) > 1.3 * med(MINI_MODEL)
    for r in calls:
        if r["response"] is None:
            lim = {429: (1, 2000), 504: (30000, 61000), 500: (50, 20000)}[r["error"]["status"]]
            assert lim[0] <= r["latency_ms"] <= lim[1]
        elif r["_task"]["defect"] != "negative_latency":
            assert r["latency_ms"] > 0


# ------------------------------------------------------------------ the OpenTelemetry source and ground truth

def test_otel_spans_carry_genai_attributes(logs):
    out, paths = logs
    spans = [s for p in paths if p.suffix == ".json" for s in _spans(p)]
    assert 0.05 * N < len(spans) < 0.16 * N
    doc = json.loads(next(p for p in paths if p.suffix == ".json").read_text())
    res = {a["key"]: a["value"] for a in doc["resourceSpans"][0]["resource"]["attributes"]}
    assert res["service.name"] == {"stringValue": "northwind-mobile-bff"}
    tool_calls = 0
    for s in spans:
        assert re.fullmatch(r"[0-9a-f]{32}", s["traceId"]) and re.fullmatch(r"[0-9a-f]{16}", s["spanId"])
        assert int(s["endTimeUnixNano"]) >= int(s["startTimeUnixNano"])
        a = {x["key"]: x["value"] for x in s["attributes"]}
        assert a["gen_ai.system"] == {"stringValue": "openai"}
        assert a["gen_ai.request.model"]["stringValue"] in synth.MODELS
        inputs = json.loads(a["gen_ai.input.messages"]["stringValue"])
        assert inputs[0]["role"] == "system" and inputs[-1]["role"] == "user"
        assert inputs[-1]["parts"][0]["type"] == "text"
        if s["status"]["code"] == 2:
            assert "gen_ai.output.messages" not in a and "error.type" in a
            continue
        assert int(a["gen_ai.usage.input_tokens"]["intValue"]) > 0
        assert int(a["gen_ai.usage.output_tokens"]["intValue"]) > 0
        outputs = json.loads(a["gen_ai.output.messages"]["stringValue"])
        part = outputs[0]["parts"][0]
        if part["type"] == "tool_call":
            tool_calls += 1
            assert part["name"] in TOOL_NAMES and isinstance(part["arguments"], dict)
            assert "gen_ai.tool.definitions" in a
    assert tool_calls > 0


def test_ground_truth_matches_the_written_files(logs, calls):
    out, paths = logs
    gt = demo_ground_truth(N, DAYS, SEED)
    assert gt.height == N and gt["record"].to_list() == list(range(N))
    assert gt["defect"].drop_nulls().sort().to_list() == ["logged_twice", "negative_latency"]
    by_record = {r["_task"]["record"]: r for r in calls}
    assert gt["task_type"].to_list() == [by_record[i]["_task"]["task_type"] for i in range(N)]
    assert gt["label"].to_list() == [by_record[i]["_task"]["label"] for i in range(N)]
    # (file, line) points at the record, extra lines included
    lines = {}
    for p in paths:
        if p.suffix == ".gz":
            for i, raw in enumerate(gzip.decompress(p.read_bytes()).split(b"\n")[:-1], start=1):
                lines[(p.relative_to(out).as_posix(), i)] = raw
    for row in gt.filter(pl.col("line").is_not_null()).iter_rows(named=True):
        rec = json.loads(lines[(row["file"], row["line"])])
        assert rec["timestamp"][:23] == row["timestamp"].isoformat(timespec="milliseconds")[:23]
        assert (rec["response"] or {}).get("id") == row["response_id"]
        assert rec["request"]["metadata"]["session_id"] == row["session_id"]
    span_ids = {f'{s["traceId"]}:{s["spanId"]}' for p in paths if p.suffix == ".json" for s in _spans(p)}
    otel_rows = gt.filter(pl.col("line").is_null())
    assert set(otel_rows["call_id"].to_list()) == span_ids and otel_rows.height == len(span_ids)
    gw = gt.filter(pl.col("line").is_not_null())
    assert gw["call_id"].null_count() == (gw["status"] == "error").sum()


def test_seeded_phone_numbers_are_real_us_numbers():
    """Phone PII must look like a customer's real numbers, or the demo would not exercise the detectors."""
    import random

    import phonenumbers

    from fde_toolkit.synth.pii import _phone

    r = random.Random(5)
    nums = [_phone(r) for _ in range(500)]
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(n, "US")) for n in nums)
