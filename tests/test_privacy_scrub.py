"""scrub_calls and the `scrub` step: JSON stays JSON, pseudonyms are consistent, operators, custom
patterns, sensitivity actions with counts that add up, pseudonymised IDs, the manifest skip."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from fde_toolkit import FdeError
from fde_toolkit.engagement import Engagement
from fde_toolkit.logs.schema import CALL_SCHEMA, MESSAGE, TOOL_CALL, conform
from fde_toolkit.privacy import PiiConfig, read_vault, render_report, scrub, scrub_calls
from fde_toolkit.privacy import curation, step as step_module
from fde_toolkit.privacy.pseudonym import PLACEHOLDER

KEY = bytes(range(32))
NO_NER = {"ner": False}


def call(i: int, user: str = "", tool: str | None = None, args: str | None = None, response: str | None = None,
         metadata: str | None = None, system: str = "You are the support assistant.", **extra: Any) -> dict:
    msgs = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    if tool is not None:
        msgs.append({"role": "tool", "content": tool})
    return {"call_id": f"c{i}", "timestamp": datetime(2024, 3, 1, 12, i % 60, tzinfo=timezone.utc), "model": "gpt-4o",
            "messages": msgs, "tool_calls": [{"name": "lookup", "arguments": args}] if args is not None else [],
            "response_text": response, "metadata": metadata, **extra}


def frame(*calls: dict) -> pl.DataFrame:
    return conform(pl.DataFrame(list(calls), schema_overrides={"messages": pl.List(MESSAGE),
                                                                "tool_calls": pl.List(TOOL_CALL)}))


def run(df: pl.DataFrame, key: bytes = KEY, **cfg: Any) -> tuple[pl.DataFrame, pl.DataFrame | None, dict]:
    return scrub_calls(df, PiiConfig(**{**NO_NER, **cfg}), key)


def user_text(df: pl.DataFrame, row: int = 0) -> str:
    return df.get_column("messages")[row][1]["content"]


def test_output_keeps_the_canonical_schema_and_order() -> None:
    df = frame(call(0, "mail a@b.com"), call(1, "nothing here"))
    curated, restricted, report = run(df)
    assert curated.schema == pl.Schema(CALL_SCHEMA)
    assert curated.get_column("call_id").to_list() == ["c0", "c1"]
    assert restricted is None
    assert user_text(curated, 1) == "nothing here"


def test_json_arguments_and_tool_results_stay_valid_with_the_same_keys() -> None:
    args = {"customer": {"email": "maria@example.org", "phone": "+1 415 555 0132", "tags": ["vip", "a@b.co"]},
            "order_id": "ORD-2024-118734", "amount": 1234.56, "note": "ship to 742 Evergreen Terrace"}
    result = {"rows": [{"email": "maria@example.org", "card": 4111111111111111, "ok": True, "ssn": "123-45-6789"}],
              "payload": json.dumps({"inner": {"email": "inner@example.org"}})}  # JSON inside a JSON string
    df = frame(call(0, "see tool", tool=json.dumps(result), args=json.dumps(args)))
    curated, _, _ = run(df)
    new_args = json.loads(curated.get_column("tool_calls")[0][0]["arguments"])
    new_result = json.loads(curated.get_column("messages")[0][2]["content"])
    assert new_args.keys() == args.keys() and new_args["customer"].keys() == args["customer"].keys()
    assert new_args["order_id"] == "ORD-2024-118734" and new_args["amount"] == 1234.56
    assert new_args["customer"]["email"].startswith("<EMAIL_") and new_args["customer"]["tags"][0] == "vip"
    assert new_args["note"].startswith("ship to <ADDRESS_")
    row = new_result["rows"][0]
    assert row.keys() == result["rows"][0].keys() and row["ok"] is True
    assert row["card"].startswith("<CARD_") and row["ssn"].startswith("<SSN_")
    inner = json.loads(new_result["payload"])
    assert inner["inner"]["email"].startswith("<EMAIL_")
    assert "maria@example.org" not in curated.write_ndjson()


def test_same_value_same_placeholder_across_calls_and_fields() -> None:
    df = frame(
        call(0, "I am jane@example.com", args=json.dumps({"email": "JANE@example.com"})),
        call(1, "hi", response="We wrote to jane@example.com", metadata=json.dumps({"contact": "jane@example.com"}),
             user_id="jane@example.com"),
    )
    curated, _, report = run(df)
    text = curated.write_ndjson()
    placeholders = set(PLACEHOLDER.findall(text))
    assert len(placeholders) == 1  # case-insensitive email normalisation, everywhere
    assert curated.get_column("user_id")[1] == placeholders.pop()
    assert report["entities"]["by_type"] == {"EMAIL": 5}
    assert report["entities"]["distinct_values_by_type"] == {"EMAIL": 1}


def test_different_keys_give_different_placeholders() -> None:
    df = frame(call(0, "mail jane@example.com"))
    a = user_text(run(df, key=b"a" * 32)[0])
    b = user_text(run(df, key=b"b" * 32)[0])
    assert a != b and a.startswith("mail <EMAIL_") and b.startswith("mail <EMAIL_")


def test_operators_mask_drop_keep() -> None:
    df = frame(call(0, "card 4111 1111 1111 1111, ssn 123-45-6789, mail jane@example.com, call 415-555-0132"))
    cfg = {"operators": {"CARD": "mask", "SSN": "drop", "EMAIL": "keep", "PHONE": "mask"}}
    curated, _, report = run(df, **cfg)
    assert user_text(curated) == "card ****1111, ssn , mail jane@example.com, call ****0132"
    assert report["entities"]["by_type"] == {"CARD": 1, "EMAIL": 1, "PHONE": 1, "SSN": 1}
    assert report["entities"]["operators"]["EMAIL"] == "keep"


def test_custom_patterns_use_their_name() -> None:
    df = frame(call(0, "policy NWM-123-456789 and NWM-999-000001"))
    curated, _, report = run(df, patterns=[{"name": "POLICY_NUMBER", "regex": r"NWM-\d{3}-\d{6}"}])
    assert PLACEHOLDER.sub("X", user_text(curated)) == "policy X and X"
    assert "<POLICY_NUMBER_" in user_text(curated)
    assert report["entities"]["by_type"] == {"POLICY_NUMBER": 2}
    assert report["entities"]["by_detector"] == {"custom": 2}


def test_tools_schemas_are_scrubbed_structurally_but_keep_their_shape() -> None:
    tools = json.dumps([{"type": "function", "function": {"name": "email_customer", "description":
                         "Email the customer. Escalations go to ops@acme.com.",
                         "parameters": {"type": "object", "properties": {"first_name": {"type": "string"}}}}}])
    df = frame(call(0, "hi", tools=tools))
    curated, _, _ = run(df)
    out = json.loads(curated.get_column("tools")[0])
    assert out[0]["function"]["name"] == "email_customer"
    assert out[0]["function"]["parameters"]["properties"] == {"first_name": {"type": "string"}}
    assert "ops@acme.com" not in curated.get_column("tools")[0]


def test_error_and_session_fields_are_scrubbed() -> None:
    df = frame(call(0, "x", error="upstream rejected caller 415-555-0132", session_id="sess-bob@example.com"))
    curated, _, report = run(df)
    assert "415-555-0132" not in curated.get_column("error")[0]
    assert "bob@example.com" not in curated.get_column("session_id")[0]
    assert set(report["entities"]["by_field"]) == {"error", "session_id"}


def test_pseudonymize_ids_replaces_every_user_id() -> None:
    df = frame(call(0, "a", user_id="u-1001"), call(1, "b", user_id="u-1001"), call(2, "c", user_id="u-2002"),
               call(3, "d"))
    curated, _, report = run(df, pseudonymize_ids=["user_id"])
    ids = curated.get_column("user_id").to_list()
    assert ids[0] == ids[1] != ids[2] and ids[3] is None and ids[0].startswith("<USER_ID_")
    assert report["entities"]["by_field"]["user_id"] == {"USER_ID": 3}


HEALTH = {"name": "health", "keywords": ["diagnosis", "blood pressure"], "action": "restrict"}
LEGAL = {"name": "legal_hold", "patterns": [r"(?i)\blegal hold\b"], "action": "drop"}
VIP = {"name": "vip", "keywords": ["platinum"], "action": "flag"}


def test_sensitivity_actions_and_counts_add_up() -> None:
    df = frame(
        call(0, "my Diagnosis came back, mail jane@example.com"),          # restrict
        call(1, "document is under LEGAL HOLD"),                            # drop
        call(2, "platinum member here", metadata=json.dumps({"tier": "p"})),  # flag
        call(3, "Blood   pressure and platinum", metadata="not json"),     # restrict (beats flag)
        call(4, "diagnosis under legal hold"),                              # drop (beats restrict)
        call(5, "plain question"),
    )
    curated, restricted, report = run(df, sensitivity=[HEALTH, LEGAL, VIP])
    r = report["records"]
    assert r == {"in": 6, "curated": 2, "restricted": 2, "dropped": 2}
    assert r["curated"] + r["restricted"] + r["dropped"] == r["in"]
    assert curated.get_column("call_id").to_list() == ["c2", "c5"]
    assert restricted.get_column("call_id").to_list() == ["c0", "c3"]
    assert "jane@example.com" not in restricted.write_ndjson()  # the restricted partition is curated too
    meta = json.loads(curated.get_column("metadata")[0])
    assert meta == {"tier": "p", "sensitivity": ["vip"]}
    assert json.loads(restricted.get_column("metadata")[1]) == {"metadata": "not json",
                                                                 "sensitivity": ["health", "vip"]}
    assert json.loads(restricted.get_column("metadata")[0]) == {"sensitivity": ["health"]}
    s = report["sensitivity"]
    assert (s["records_dropped"], s["records_restricted"], s["records_flagged"]) == (2, 2, 1)
    rules = {x["name"]: x for x in s["rules"]}
    assert rules["health"]["records_matched"] == 3 and rules["health"]["records_actioned"] == 2
    assert rules["health"]["matched_by_keywords"] == 3 and rules["health"]["matched_by_patterns"] == 0
    assert rules["legal_hold"]["matched_by_patterns"] == 2 and rules["vip"]["records_actioned"] == 1


def test_sensitivity_sees_original_text_and_respects_fields() -> None:
    df = frame(call(0, "hello", system="Never give a diagnosis."), call(1, "the diagnosis is in"))
    rule = {**HEALTH, "fields": ["messages.user"]}
    _, restricted, _ = run(df, sensitivity=[rule])
    assert restricted.get_column("call_id").to_list() == ["c1"]
    # a pattern that needs the raw e-mail still matches although the e-mail is replaced afterwards
    _, restricted, _ = run(frame(call(0, "from ceo@acme.com")),
                           sensitivity=[{"name": "exec", "patterns": ["ceo@acme\\.com"], "action": "restrict"}])
    assert restricted.height == 1 and "ceo@acme.com" not in restricted.write_ndjson()


def test_report_holds_counts_not_values() -> None:
    df = frame(call(0, "jane@example.com 415-555-0132 4111 1111 1111 1111", args=json.dumps({"first_name": "Jane"})))
    _, _, report = run(df)
    text = json.dumps(report)
    for value in ("jane@example.com", "415-555-0132", "4111", "Jane"):
        assert value not in text
    assert not PLACEHOLDER.search(text)
    assert report["entities"]["records_with_pii"] == 1
    assert sum(report["entities"]["by_type"].values()) == report["entities"]["total"] == 4
    assert sum(sum(v.values()) for v in report["entities"]["by_field"].values()) == 4
    assert sum(report["entities"]["by_detector"].values()) == 4
    assert "Scrubbed 1 calls" in render_report(report) and "jane" not in render_report(report)


def test_unexpected_errors_do_not_quote_record_text(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "patient jane@example.com"

    def boom(*_a: Any, **_k: Any) -> None:
        raise ValueError(f"cannot handle {secret}")

    monkeypatch.setattr(curation.jsonaware, "split_documents", boom)
    monkeypatch.delenv("FDE_DEBUG", raising=False)
    with pytest.raises(FdeError) as e:
        run(frame(call(0, secret)))
    assert secret not in str(e.value) and "JSON parsing" in str(e.value) and "FDE_DEBUG" in str(e.value)
    assert e.value.__cause__ is None and e.value.__suppress_context__


def test_invalid_json_arguments_are_scrubbed_as_text() -> None:
    df = frame(call(0, "x", args='{"email": "jane@example.com", "trunc'))
    curated, _, report = run(df)
    assert "jane@example.com" not in curated.get_column("tool_calls")[0][0]["arguments"]
    assert report["texts"]["json_looking_but_invalid"] == 0  # does not end like JSON: plain text from the start


def test_empty_calls() -> None:
    curated, restricted, report = run(frame(call(0, "x")).clear(), sensitivity=[HEALTH])
    assert curated.height == 0 and restricted.height == 0
    assert report["records"] == {"in": 0, "curated": 0, "restricted": 0, "dropped": 0}


# ----------------------------------------------------------------------------- the engagement step

@pytest.fixture
def eng(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engagement:
    root = tmp_path / "acme"
    (root / "artifacts").mkdir(parents=True)
    (root / ".secrets").mkdir()
    (root / ".secrets" / "pii.key").write_text(KEY.hex())
    cfg = {"name": "acme", "pii": {"key_file": ".secrets/pii.key", "ner": False, "vault": True,
                                   "sensitivity": [HEALTH]}}
    (root / "engagement.yaml").write_text(yaml.safe_dump(cfg))
    frame(call(0, "mail jane@example.com"), call(1, "diagnosis: flu, call 415-555-0132"), call(2, "hello")) \
        .write_parquet(root / "artifacts" / "calls.parquet")
    monkeypatch.delenv("FDE_PII_KEY", raising=False)
    return Engagement.load(root)


def test_scrub_step_writes_artifacts_and_skips_when_fresh(eng: Engagement, monkeypatch: pytest.MonkeyPatch) -> None:
    report = scrub(eng).data
    art = eng.artifacts_dir
    assert report["records"] == {"in": 3, "curated": 2, "restricted": 1, "dropped": 0}
    curated = pl.read_parquet(art / "curated.parquet")
    restricted = pl.read_parquet(art / "restricted.parquet")
    assert curated.height == 2 and restricted.height == 1
    assert json.loads((art / "pii_report.json").read_text())["records"] == report["records"]
    step = json.loads((eng.root / "manifest.json").read_text())["steps"]["scrub"]
    assert sorted(step["outputs"]) == sorted(f"artifacts/{n}" for n in (
        "curated.parquet", "restricted.parquet", "pii_vault.enc", "pii_report.json"))
    assert "FDE" not in json.dumps(step["params"]) and KEY.hex() not in json.dumps(step)

    vault = read_vault(art / "pii_vault.enc", KEY)
    assert set(vault.values()) == {"jane@example.com", "415-555-0132"}
    assert all(PLACEHOLDER.fullmatch(k) for k in vault)
    with pytest.raises(FdeError, match="cannot decrypt"):
        read_vault(art / "pii_vault.enc", b"x" * 32)

    monkeypatch.setattr(step_module, "curate_calls", lambda *a, **k: pytest.fail("should have skipped"))
    again = scrub(Engagement.load(eng.root))
    assert again.skipped and again.data["records"] == report["records"]
    assert str(again).startswith("scrub: up to date")


def test_scrub_step_reruns_when_pii_settings_change(eng: Engagement) -> None:
    scrub(eng)
    cfg = yaml.safe_load((eng.root / "engagement.yaml").read_text())
    cfg["pii"]["sensitivity"] = []
    (eng.root / "engagement.yaml").write_text(yaml.safe_dump(cfg))
    rerun = scrub(Engagement.load(eng.root))
    assert not rerun.skipped and rerun.data["records"]["restricted"] == 0
    cfg["roi"] = {"horizon_years": 5}  # another section: the scrub does not run again
    (eng.root / "engagement.yaml").write_text(yaml.safe_dump(cfg))
    assert scrub(Engagement.load(eng.root)).skipped
    assert not (eng.artifacts_dir / "restricted.parquet").exists()  # no stale partition left behind


def test_scrub_step_needs_ingest_and_a_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "acme"
    root.mkdir()
    (root / "engagement.yaml").write_text("name: acme\npii: {ner: false}\n")
    monkeypatch.delenv("FDE_PII_KEY", raising=False)
    with pytest.raises(FdeError, match="fde ingest"):
        scrub(Engagement.load(root))
    (root / "artifacts").mkdir()
    frame(call(0, "x")).write_parquet(root / "artifacts" / "calls.parquet")
    with pytest.raises(FdeError, match="FDE_PII_KEY"):
        scrub(Engagement.load(root))
    monkeypatch.setenv("FDE_PII_KEY", "cd" * 32)
    assert scrub(Engagement.load(root)).data["records"]["curated"] == 1
