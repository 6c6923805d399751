"""End to end: PII canaries in every field type never reach anything past the scrub step.

The engagement runs as far as the pipeline goes (ingest, scrub, profile, the scoping report); then
every file under artifacts/ and reports/ is searched for every canary. calls.parquet is the S1
table, the input of S2, and holds the customer's raw text by design: it is the one file skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import polars as pl
import pytest

from fde_toolkit.engagement import new_engagement
from fde_toolkit.logs.ingest import ingest
from fde_toolkit.logs.profile import profile
from fde_toolkit.privacy import scrub
from fde_toolkit.reports.runner import run_phases
from fde_toolkit.synth import write_demo_logs

EMAIL = "canary.ethelwyn@example.org"
PHONE = "(415) 839-2274"
CARD = "4539 1488 0343 6467"
SSN = "536-22-8411"
IBAN = "DE89 3704 0044 0532 0130 00"
POLICY = "NWM-777-314159"
SECRET = "sk-proj-Zq8vR2mT5wX9yB3nK7pL4sD6fG1hJ0aC"
PERSON = "Margaret Thompson"

# every form a canary could take once copied around: as written, and with spaces/dashes removed
CANARIES = {EMAIL, PHONE, CARD, SSN, IBAN, POLICY, SECRET, PERSON,
            CARD.replace(" ", ""), IBAN.replace(" ", ""), "4158392274", SECRET[8:]}


def _pair(i: int, messages: list[dict], response: dict | None, **extra) -> bytes:
    rec = {
        "timestamp": f"2026-09-0{1 + i % 5}T10:00:0{i % 10}Z",
        "request": {"model": "gpt-4o-mini-2024-07-18", "messages": messages, "user": EMAIL,
                    "metadata": {"session_id": f"canary-{i}", "customer_email": EMAIL, "note": f"card {CARD}"}},
        "response": response,
        "latency_ms": 420.0 + i,
        **extra,
    }
    return orjson.dumps(rec)


def _completion(i: int, content: str | None = None, tool_calls: list | None = None) -> dict:
    msg = {"role": "assistant", "content": content}
    if tool_calls:
        msg["tool_calls"] = tool_calls
    return {"id": f"chatcmpl-canary{i}", "object": "chat.completion", "created": 1788220979 + i,
            "model": "gpt-4o-mini-2024-07-18", "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}}


def _canary_log() -> bytes:
    system = {"role": "system", "content": f"You help Northwind Mutual customers. Escalations go to {EMAIL}."}
    user = {"role": "user", "content": (
        f"Hi, my name is {PERSON}. My policy is {POLICY}, call me on {PHONE} or write to {EMAIL}. "
        f"I paid with card {CARD}, my SSN is {SSN} and refunds go to IBAN {IBAN}. "
        f"Our integration key is {SECRET}.")}
    tool_call = [{"id": "call_1", "type": "function", "function": {
        "name": "update_contact",
        "arguments": json.dumps({"policy_number": POLICY, "customer": {"email": EMAIL, "phone": PHONE},
                                 "payment": {"card": CARD}})}}]
    tool_result = {"role": "tool", "tool_call_id": "call_1",
                   "content": json.dumps({"status": "ok", "ssn_on_file": SSN, "holder": PERSON})}
    lines = [
        _pair(1, [system, user], _completion(1, content=f"Thanks {PERSON}, I have noted {PHONE} for {POLICY}.")),
        _pair(2, [system, user], _completion(2, tool_calls=tool_call)),
        _pair(3, [system, user, {"role": "assistant", "content": None, "tool_calls": tool_call}, tool_result],
              _completion(3, content=f"Your contact details are updated, {PERSON}.")),
        _pair(4, [system, user], None, error={"type": "invalid_request_error", "code": 400,
                                              "message": f"Invalid recipient {EMAIL} for policy {POLICY}"}),
    ]
    return b"\n".join(lines) + b"\n"


def _text_of(path: Path) -> str:
    if path.suffix == ".parquet":
        df = pl.read_parquet(path)
        return "\n".join(str(v) for col in df.columns for v in df[col].to_list())
    return path.read_bytes().decode("utf-8", errors="replace")


@pytest.mark.slow
def test_canaries_never_pass_the_scrub_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    logs = tmp_path / "logs"
    write_demo_logs(logs, n_calls=300, days=5, seed=3, bad_records=True)
    (logs / "canary.jsonl").write_bytes(_canary_log())
    eng = new_engagement(tmp_path / "acme", logs=logs, client="Canary Test Co")
    (eng.root / "engagement.yaml").write_text(
        (eng.root / "engagement.yaml").read_text()
        + "pii:\n  ner: true\n  patterns:\n    - name: POLICY_NUMBER\n      regex: \"NWM-\\\\d{3}-\\\\d{6}\"\n"
          "  pseudonymize_ids: [user_id]\n  vault: true\n")
    monkeypatch.setenv("FDE_PII_KEY", "9f1c2e7a4b6d8f0a1c3e5a7b9d1f3e5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d")
    from fde_toolkit.engagement import Engagement

    eng = Engagement.load(eng.root)
    report = ingest(eng)
    assert report.to_dict()["totals"]["accepted"] >= 300
    # the canaries really went in: the raw S1 table holds them
    raw_text = _text_of(eng.artifacts_dir / "calls.parquet")
    assert all(c in raw_text for c in (EMAIL, CARD, SSN, IBAN, POLICY, SECRET, PERSON))

    scrub(eng)
    profile(eng)
    run_phases(eng, phases=["01_scoping"])

    scanned, hits = 0, []
    for folder in (eng.artifacts_dir, eng.reports_dir):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if path == eng.artifacts_dir / "calls.parquet":
                continue
            text = _text_of(path)
            scanned += 1
            hits += [f"{path.relative_to(eng.root)}: {c!r}" for c in CANARIES if c in text]
    assert scanned >= 6  # curated.parquet, pii_report.json, profile.json, figures, the executed notebook, the HTML
    assert not hits, "PII canaries leaked:\n" + "\n".join(hits)
