"""The pii: settings and the PII key: errors name the field, the key never has a default."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from fde_toolkit import FdeError
from fde_toolkit.privacy import PiiConfig, key_id, load_key, parse_pii_config
from fde_toolkit.privacy.pseudonym import Pseudonymizer, parse_key


def error_of(raw: dict) -> str:
    with pytest.raises(FdeError) as e:
        parse_pii_config(raw, source="engagements/acme/engagement.yaml")
    return str(e.value)


def test_defaults_are_safe() -> None:
    cfg = parse_pii_config({})
    assert cfg.ner and not cfg.vault and cfg.default_operator == "pseudonymize"
    assert "email" in cfg.detectors and "phone" in cfg.detectors and cfg.key_file is None


def test_invalid_custom_regex_names_the_field() -> None:
    msg = error_of({"patterns": [{"name": "OK_ONE", "regex": r"A\d+"}, {"name": "POLICY", "regex": "NWM-(\\d{3"}]})
    assert "pii.patterns[1].regex" in msg and "not a valid regular expression" in msg
    assert "engagements/acme/engagement.yaml" in msg


def test_look_around_is_explained() -> None:
    msg = error_of({"patterns": [{"name": "POLICY", "regex": r"(?<=NWM-)\d+"}]})
    assert "pii.patterns[0].regex" in msg and "look-around" in msg


def test_pattern_matching_empty_text_is_refused() -> None:
    assert "matches the empty string" in error_of({"patterns": [{"name": "POLICY", "regex": r"\d*"}]})


@pytest.mark.parametrize("raw,field", [
    ({"nerr": True}, "pii.nerr"),
    ({"patterns": [{"name": "policy", "regex": "x"}]}, "pii.patterns[0].name"),
    ({"operators": {"CARDS": "mask"}}, "pii.operators"),
    ({"operators": {"CARD": "blur"}}, "pii.operators.CARD"),
    ({"detectors": ["email", "passport"]}, "pii.detectors"),
    ({"phone_regions": ["USA"]}, "pii.phone_regions"),
    ({"sensitivity": [{"name": "health", "action": "quarantine", "keywords": ["x"]}]}, "pii.sensitivity[0].action"),
    ({"sensitivity": [{"name": "health"}]}, "pii.sensitivity[0]"),
    ({"sensitivity": [{"name": "health", "patterns": ["(a"]}]}, "pii.sensitivity[0].patterns"),
    ({"sensitivity": [{"name": "h", "keywords": ["x"], "fields": ["body"]}]}, "pii.sensitivity[0].fields"),
])
def test_errors_name_the_field(raw: dict, field: str) -> None:
    assert field in error_of(raw)


def test_operators_accept_custom_pattern_names() -> None:
    cfg = parse_pii_config({"patterns": [{"name": "MEMBER_ID", "regex": r"M\d{6}"}],
                            "operators": {"MEMBER_ID": "mask", "LOCATION": "keep"}})
    assert cfg.operator("MEMBER_ID") == "mask" and cfg.operator("LOCATION") == "keep"
    assert cfg.operator("EMAIL") == "pseudonymize"


def test_missing_key_names_both_options(tmp_path: Path) -> None:
    with pytest.raises(FdeError) as e:
        load_key(tmp_path, None, environ={})
    msg = str(e.value)
    assert "FDE_PII_KEY" in msg and "key_file" in msg and "secrets.token_hex(32)" in msg
    assert "default" in msg


def test_configured_key_file_missing_is_an_error_even_with_env(tmp_path: Path) -> None:
    with pytest.raises(FdeError, match="does not exist"):
        load_key(tmp_path, ".secrets/pii.key", environ={"FDE_PII_KEY": "a" * 64})


def test_key_from_file_relative_to_engagement(tmp_path: Path) -> None:
    (tmp_path / ".secrets").mkdir()
    (tmp_path / ".secrets" / "pii.key").write_text("ab" * 32 + "\n")
    assert load_key(tmp_path, ".secrets/pii.key", environ={}) == bytes.fromhex("ab" * 32)


def test_key_formats_and_length() -> None:
    raw = bytes(range(32))
    assert parse_key(raw.hex(), "env") == raw
    assert parse_key(base64.b64encode(raw).decode(), "env") == raw
    assert parse_key("a long passphrase of words", "env") == b"a long passphrase of words"
    with pytest.raises(FdeError, match="too short"):
        parse_key("short", "env")
    assert load_key(None, None, environ={"FDE_PII_KEY": raw.hex()}) == raw


def test_key_id_is_stable_and_reveals_nothing() -> None:
    k = bytes(range(32))
    assert key_id(k) == key_id(k) and key_id(k) != key_id(bytes(32))
    assert k.hex()[:12] not in key_id(k)


def test_placeholders_depend_on_key_and_value() -> None:
    cfg = PiiConfig()
    a, b = Pseudonymizer(b"a" * 32, cfg), Pseudonymizer(b"b" * 32, cfg)
    assert a.placeholder("EMAIL", "x@y.com") == a.placeholder("EMAIL", "x@y.com")
    assert a.placeholder("EMAIL", "x@y.com") != b.placeholder("EMAIL", "x@y.com")
    assert a.placeholder("EMAIL", "x@y.com") != a.placeholder("EMAIL", "z@y.com")
    assert a.placeholder("EMAIL", "x@y.com").startswith("<EMAIL_") and len(a.placeholder("EMAIL", "q")) == 20


def test_operators_replacements() -> None:
    cfg = PiiConfig(operators={"CARD": "mask", "EMAIL": "mask", "SSN": "drop", "LOCATION": "keep"})
    p = Pseudonymizer(b"k" * 32, cfg)
    assert p.replacement("CARD", "4111 1111 1111 1111", "4111111111111111") == "****1111"
    assert p.replacement("EMAIL", "x@y.com", "x@y.com") == "<EMAIL>"
    assert p.replacement("SSN", "123-45-6789", "123456789") == ""
    assert p.replacement("LOCATION", "Paris", "paris") == "Paris"
    assert p.replacement("PHONE", "415-555-0132", "+14155550132").startswith("<PHONE_")
