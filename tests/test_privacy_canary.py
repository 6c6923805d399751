"""Never leaks: known PII canaries in every field type must not survive anywhere scrubbing writes."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest
import yaml

from fde_toolkit import FdeError
from fde_toolkit.engagement import Engagement, new_engagement
from fde_toolkit.logs.schema import MESSAGE, TOOL_CALL, conform
from fde_toolkit.privacy import KEY_ENV, PiiConfig, curate_calls, key_id, read_vault, scrub

KEY = bytes(range(32))
DECOY = bytes(range(100, 132))  # in $FDE_PII_KEY, which the engagement's key file overrides

# Each canary: the text written into a record, and the substrings that must never appear afterwards
# (at least 7 characters, so that hashes and timestamps in the manifest cannot match by chance).
CANARIES = {
    "email": ("canary.kestrel@leaktest.example", ["canary.kestrel", "kestrel@leaktest"]),
    "email2": ("Osprey.Canary@LeakTest.example", ["osprey.canary", "Osprey.Canary"]),
    "phone": ("+1 (415) 555-0199", ["555-0199", "5550199"]),
    "phone2": ("650.253.0042", ["253.0042", "2530042"]),
    "card": ("4539 1488 0343 6467", ["4539 1488", "4539148803436467", "0343 6467"]),
    "iban": ("DE89 3704 0044 0532 0130 00", ["DE89 3704", "DE89370400440532013000"]),
    "ssn": ("536-22-8174", ["536-22-8174", "536228174"]),
    "ip": ("203.0.113.77", ["203.0.113.77"]),
    "api_key": ("sk-proj-CanaryKey0123456789abcdefXYZ", ["CanaryKey0123456789"]),
    "aws": ("AKIACANARY0123456789", ["AKIACANARY"]),
    "jwt": ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlQ2FuYXJ5", ["eyJzdWIiOiJjYW5hcnkifQ"]),
    "password": ("Canary!Pass42", ["Canary!Pass42"]),
    "url_token": ("https://acme.example/reset?token=CanaryTok3n998877", ["CanaryTok3n998877"]),
    "dob": ("DOB: 07/19/1983", ["07/19/1983"]),
    "policy": ("NWM-731-004219", ["NWM-731-004219", "731-004219"]),
    "person": ("Maria Kestrelwood", ["Kestrelwood"]),
    "person_json": ("Ottoline Brackenbury", ["Brackenbury", "Ottoline"]),
}


def v(name: str) -> str:
    return CANARIES[name][0]


def canary_calls() -> pl.DataFrame:
    tool_result = json.dumps({"customer": {"email": v("email2"), "iban": v("iban"), "first_name": "Ottoline",
                                           "last_name": "Brackenbury", "card": int(v("card").replace(" ", ""))},
                              "raw": json.dumps({"ssn": v("ssn"), "ip": v("ip")})})
    args = json.dumps({"query": {"contact": {"phone": v("phone2"), "email": v("email")}},
                       "auth": {"api_key": v("api_key"), "password": v("password")}, "order_id": "ORD-2024-000001"})
    rows = []
    for i in range(3):
        rows.append({
            "call_id": f"c{i}", "timestamp": datetime(2024, 3, 1, tzinfo=timezone.utc), "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": f"You help {v('email')}. Internal key {v('aws')}."},
                {"role": "user", "content": f"I'm {v('person')}, {v('dob')}, phone {v('phone')}, card {v('card')}, "
                                            f"policy {v('policy')}."},
                {"role": "tool", "content": tool_result},
                {"role": "assistant", "content": f"Reset link: {v('url_token')}"},
            ],
            "tool_calls": [{"name": "lookup_customer", "arguments": args}],
            "tools": json.dumps([{"type": "function", "function": {"name": "lookup_customer",
                                                                     "description": f"Escalate to {v('email2')}"}}]),
            "response_text": f"Dear {v('person')}, we called {v('phone')}. Session {v('jwt')}",
            "metadata": json.dumps({"client_ip": v("ip"), "note": f"ssn {v('ssn')}", "nested": {"iban": v("iban")}}),
            "error": f"upstream rejected card {v('card')} for {v('email')}",
            "user_id": v("email"), "session_id": f"sess-{v('email2')}",
        })
    overrides = {"messages": pl.List(MESSAGE), "tool_calls": pl.List(TOOL_CALL)}
    return conform(pl.DataFrame(rows, schema_overrides=overrides))


def leaks(text: str) -> list[str]:
    low = text.lower()
    return [f"{name}:{s}" for name, (_, subs) in CANARIES.items() for s in subs if s.lower() in low]


PII = {"patterns": [{"name": "POLICY_NUMBER", "regex": r"NWM-\d{3}-\d{6}"}], "vault": True,
       "sensitivity": [{"name": "health", "keywords": ["policy"], "action": "flag"}]}


def test_the_canaries_are_really_in_the_input() -> None:
    assert min(len(s) for _, subs in CANARIES.values() for s in subs) >= 7
    raw = canary_calls().write_ndjson()
    assert len({x.split(":")[0] for x in leaks(raw)}) == len(CANARIES)


@pytest.mark.parametrize("ner", [True, False], ids=["ner", "structured-only"])
def test_no_canary_survives_scrub_calls(ner: bool) -> None:
    cfg = PiiConfig(**{**PII, "ner": ner})
    result = curate_calls(canary_calls(), cfg, KEY)
    allowed = set() if ner else {"person"}  # free-text names need NER; JSON first/last names do not
    found = {x.split(":")[0] for x in leaks(result.curated.write_ndjson())}
    assert found <= allowed, sorted(found)
    assert leaks(json.dumps(result.report)) == []
    assert result.curated.height == 3
    assert json.loads(result.curated.get_column("metadata")[0])["sensitivity"] == ["health"]


def test_no_canary_in_any_artifact_and_the_vault_round_trips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engagement as `fde new` makes it: a random key in the template's pii.key_file, which wins over
    $FDE_PII_KEY (set here to a decoy). The vault must open with the key file's key, and only with it."""
    monkeypatch.setenv(KEY_ENV, DECOY.hex())
    root = tmp_path / "acme"
    new_engagement(root)
    config = yaml.safe_load((root / "engagement.yaml").read_text(encoding="utf-8"))
    legal = [{"name": "legal", "keywords": ["reset link"], "action": "restrict"}]
    config["pii"].update({**PII, "sensitivity": legal})
    (root / "engagement.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    key = bytes.fromhex((root / config["pii"]["key_file"]).read_text(encoding="utf-8"))  # what `fde new` wrote
    assert key != DECOY
    canary_calls().write_parquet(root / "artifacts" / "calls.parquet")
    eng = Engagement.load(root)
    report = scrub(eng).data
    assert report["records"]["restricted"] == 3
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["steps"]["scrub"]["params"]["key_id"] == key_id(key)  # the step used the file's key
    # the pseudonyms are those the file's key makes, not the environment's
    with_key = curate_calls(canary_calls(), eng.config.pii, key)
    assert pl.read_parquet(root / "artifacts" / "restricted.parquet").equals(with_key.restricted)
    assert pl.read_parquet(root / "artifacts" / "curated.parquet").equals(with_key.curated)
    assert not with_key.restricted.equals(curate_calls(canary_calls(), eng.config.pii, DECOY).restricted)

    scanned = 0
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name == "calls.parquet":  # the raw input is raw by definition
            continue
        text = (pl.read_parquet(path).write_ndjson() if path.suffix == ".parquet"
                else path.read_bytes().decode("utf-8", errors="replace"))
        assert leaks(text) == [], (path.name, leaks(text))
        scanned += 1
    assert scanned >= 5  # curated, restricted, report, vault, manifest, engagement.yaml

    with pytest.raises(FdeError, match="cannot decrypt"):
        read_vault(root / "artifacts" / "pii_vault.enc", DECOY)
    vault = read_vault(root / "artifacts" / "pii_vault.enc", key)
    originals = set(vault.values())
    for name in ("email", "phone", "card", "iban", "ssn", "api_key", "policy", "person"):
        assert v(name) in originals, name
    restricted = pl.read_parquet(root / "artifacts" / "restricted.parquet").write_ndjson()
    for placeholder, original in vault.items():
        assert original not in restricted
    assert any(ph in restricted for ph in vault)
