"""Structured detectors: true positives and hard negatives for each, and the values under telling JSON keys."""

from __future__ import annotations

import polars as pl
import pytest

from fde_toolkit.privacy.config import PiiConfig
from fde_toolkit.privacy.jsonkeys import key_rule, keyed_hit
from fde_toolkit.privacy.structured import (build_detectors, card_brand_ok, find_structured, iban_ok, luhn_ok,
                                            parse_date, ssn_ok)

CONFIG = PiiConfig(phone_regions=["US", "GB"], patterns=[{"name": "POLICY_NUMBER", "regex": r"NWM-\d{3}-\d{6}"}])
DETECTORS = build_detectors(CONFIG)


def found(text: str, config: PiiConfig | None = None) -> set[tuple[str, str, str]]:
    dets = DETECTORS if config is None else build_detectors(config)
    return {(h.detector, h.entity, h.literal) for h in find_structured(pl.Series([text]), dets).values()}


TRUE_POSITIVES = [
    # (detector, text, the exact substring it must replace)
    ("email", "mail me: jane.doe+tag@sub.example.co.uk.", "jane.doe+tag@sub.example.co.uk"),
    ("email", "JANE@EXAMPLE.COM wrote", "JANE@EXAMPLE.COM"),
    ("email", "josé@correo.es", "josé@correo.es"),
    ("phone", "call +1 (415) 555-0132 now", "+1 (415) 555-0132"),
    ("phone", "call 415.555.0132", "415.555.0132"),
    ("phone", "UK office +44 20 7946 0958", "+44 20 7946 0958"),
    ("phone", "ring 020 7946 0958 (national, GB)", "020 7946 0958"),
    ("phone", "tel:4155550132", "4155550132"),
    ("phone", "(415) 555-0132 x123", "(415) 555-0132 x123"),
    ("phone", "first 415-555-0132\n650-253-0000", "650-253-0000"),
    ("card", "card 4111 1111 1111 1111 exp 12/27", "4111 1111 1111 1111"),
    ("card", "amex 3782-822463-10005", "3782-822463-10005"),
    ("card", "5555555555554444", "5555555555554444"),
    ("iban", "IBAN GB82 WEST 1234 5698 7654 32 thanks", "GB82 WEST 1234 5698 7654 32"),
    ("iban", "DE89370400440532013000", "DE89370400440532013000"),
    ("ssn", "ssn 123-45-6789", "123-45-6789"),
    ("ssn", "SSN: 123456789", "123456789"),
    ("ssn", "my social security number is 234 56 7890", "234 56 7890"),
    ("ip", "server 192.168.1.20 down", "192.168.1.20"),
    ("ip", "from 2001:db8:85a3::8a2e:370:7334", "2001:db8:85a3::8a2e:370:7334"),
    ("ip", "ip=8.8.4.4", "8.8.4.4"),
    ("dob", "DOB: 04/12/1985", "04/12/1985"),
    ("dob", "date of birth 1985-04-12", "1985-04-12"),
    ("dob", "born on March 3, 1979", "March 3, 1979"),
    ("dob", "birthday: 3rd of May 1990", "3rd of May 1990"),
    ("api_key", "key sk-proj-abcdefghijklmnopqrstuvwxyz0123", "sk-proj-abcdefghijklmnopqrstuvwxyz0123"),
    ("api_key", "sk-ant-api03-abcdefghijklmnopqrstuvwxyz", "sk-ant-api03-abcdefghijklmnopqrstuvwxyz"),
    ("api_key", "AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("api_key", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
    ("api_key", "github_pat_11ABCDEFG0123456789_abcdefghijkl", "github_pat_11ABCDEFG0123456789_abcdefghijkl"),
    ("api_key", "xoxb-123456789012-abcdefghij", "xoxb-123456789012-abcdefghij"),
    ("jwt", "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    ("private_key", "k=-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc=\n-----END RSA PRIVATE KEY----- end",
     "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc=\n-----END RSA PRIVATE KEY-----"),
    ("private_key", "truncated -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
     "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC"),
    ("url_credentials", "db at https://admin:hunter22@db.example.com/x", "//admin:hunter22@"),
    ("url_credentials", "https://x.com/cb?access_token=abc123def456&page=2", "access_token=abc123def456"),
    ("url_credentials", "https://s3.amazonaws.com/b/k?X-Amz-Signature=deadbeef1234", "X-Amz-Signature=deadbeef1234"),
    ("secret_assignment", 'api_key: "Zx81kd93LLm2Qp0a"', "Zx81kd93LLm2Qp0a"),
    ("secret_assignment", "password=Sup3r!pass", "Sup3r!pass"),
    ("secret_assignment", "pwd=P4s!x7", "pwd=P4s!x7"),  # short values keep their key as context
    ("secret_assignment", "Authorization: Bearer abcdef1234567890XYZ", "abcdef1234567890XYZ"),
    ("street_address", "ship to 742 Evergreen Terrace, Springfield", "742 Evergreen Terrace"),
    ("custom", "policy NWM-123-456789 renewed", "NWM-123-456789"),
]


@pytest.mark.parametrize("detector,text,literal", TRUE_POSITIVES, ids=[f"{d}:{t[:28]}" for d, t, _ in TRUE_POSITIVES])
def test_true_positive(detector: str, text: str, literal: str) -> None:
    hits = found(text)
    assert any(d == detector and lit == literal for d, _, lit in hits), hits


HARD_NEGATIVES = [
    "order ORD-2024-118734 shipped", "claim CLM-00012345 opened", "Order #4155550132", "order 2024118734",
    "order id 415-555-0132", "at 2024-03-15 14:22:31", "2024-03-15T14:22:31Z", "total $1,234.56",
    "USD 4155.55", "SKU-88231-BL", "version 10.2.0.1", "v1.2.3.4", "OID 1.2.3.4.5",
    "id 123e4567-e89b-12d3-a456-426614174000", "trace 4bf92f3577b34da6a3ce929d0e0e4736", "span 00f067aa0ba902b7",
    "logo@2x.png", "react@18.2.0", "ts 1710512551000", "epoch 1710512551", "at 10:30:00",
    "mac 00:1A:2B:3C:4D:5E", "std::vector<int> and Foo::Bar", "card ending 1111", "4111111111111112 (bad Luhn)",
    "123-45-678", "000-12-3456", "666-12-3456", "localhost 127.0.0.1", "mask 255.255.255.0",
    "invoice date 04/12/1985", "the token expired", "password: required", "uses sk-learn",
    "qty 12 34 56", "tracking 1Z999AA10123456784", "meeting at 3 Main", "page 2 of 10",
    "ISBN 978-3-16-148410-0", "see https://docs.example.com/returns?page=2&sort=asc",
    "GB82 WEST 1234 5698 7654 33 (bad checksum)", "call_id chatcmpl-9aXb3KzQ1", "latency 1234.5 ms",
    "request 50643354-33fa-3bb5-2eb6-87e4dcc0b9a1", "Street 5 is closed",
]


@pytest.mark.parametrize("text", HARD_NEGATIVES)
def test_hard_negative(text: str) -> None:
    assert found(text) == set()


def test_every_detector_has_true_positives_here() -> None:
    covered = {d for d, _, _ in TRUE_POSITIVES}
    assert covered >= {d.name for d in DETECTORS}


def test_an_ip_address_is_not_a_phone_number() -> None:
    assert found("client 201.32.179.30") == {("ip", "IP", "201.32.179.30")}


def test_runs_of_several_identifiers_are_all_found() -> None:
    hits = found("call 415-555-0132 650-253-0000 212-555-0187 or pay 4111 1111 1111 1111 2027")
    assert {lit for _, e, lit in hits if e == "PHONE"} == {"415-555-0132", "650-253-0000", "212-555-0187"}
    assert {lit for _, e, lit in hits if e == "CARD"} == {"4111 1111 1111 1111"}
    assert {lit for _, e, lit in found("415-555-0132 4111 1111 1111 1111")} == {"415-555-0132", "4111 1111 1111 1111"}


def test_phone_regions_decide_national_numbers() -> None:
    us_only = PiiConfig(phone_regions=["US"])
    assert found("ring 020 7946 0958", us_only) == set()
    assert {e for _, e, _ in found("ring 020 7946 0958", PiiConfig(phone_regions=["GB"]))} == {"PHONE"}


def test_disabled_detectors_do_not_run() -> None:
    only_email = PiiConfig(detectors=["email"])
    assert {d for d, _, _ in found("a@b.com 415-555-0132 4111 1111 1111 1111", only_email)} == {"email"}


def test_validators() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert card_brand_ok("4111111111111111") and not card_brand_ok("9111111111111111")
    assert iban_ok("GB82WEST12345698765432") and not iban_ok("GB82WEST12345698765433")
    assert ssn_ok("123456789") and not ssn_ok("000123456") and not ssn_ok("900123456") and not ssn_ok("078051120")
    assert str(parse_date("04/12/1985")) == "1985-04-12"
    assert str(parse_date("31/12/1985")) == "1985-12-31"  # day-first when month-first is impossible
    assert parse_date("13/13/1985") is None and parse_date("1850-01-01") is None


@pytest.mark.parametrize("key,value,entity", [
    ("first_name", "Maria", "PERSON"), ("customerName", "Maria Garcia", "PERSON"), ("dob", "1985-04-12", "DOB"),
    ("date_of_birth", "April 12, 1985", "DOB"), ("ssn", "123456789", "SSN"), ("password", "hunter2!", "SECRET"),
    ("api_key", "Zx81kd93LLm2Qp0a", "SECRET"), ("Authorization", "Bearer abcdef1234567890", "SECRET"),
    ("shipping_address", "742 Evergreen Terrace", "ADDRESS"),
])
def test_telling_json_keys(key: str, value: str, entity: str) -> None:
    rule = key_rule(key)
    assert rule is not None
    hit = keyed_hit(rule, value)
    assert hit is not None and hit.entity == entity and hit.literal == value


@pytest.mark.parametrize("key,value", [
    ("name", "get_weather"), ("product_name", "Blue Widget"), ("email_address", "x"), ("ip_address", "10.0.0.1"),
    ("max_tokens", "512"), ("first_name", "ORD-123"), ("dob", "unknown"), ("password", "***"),
    ("api_key", "string"), ("next_page_token", "abc"), ("ssn", "000000000"),
])
def test_telling_json_keys_hard_negatives(key: str, value: str) -> None:
    rule = key_rule(key)
    assert rule is None or keyed_hit(rule, value) is None
