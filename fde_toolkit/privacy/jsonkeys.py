"""Values under telling JSON keys: "first_name", "dob", "ssn", "password", "api_key", "shipping_address".

The key says what the value is, so the whole value becomes the entity once it passes a light check
(a name looks like a name, a date parses, a token looks random). Keys like "name" alone stay out:
{"name": "get_weather"} is a tool, not a person.
"""

from __future__ import annotations

import re

from fde_toolkit.privacy.credentials import NOT_A_SECRET, looks_like_password, looks_like_token
from fde_toolkit.privacy.findings import Hit
from fde_toolkit.privacy.pseudonym import normalise_text
from fde_toolkit.privacy.structured import parse_date, ssn_ok


def _norm_key(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


_PERSON_WORDS = ("first", "last", "full", "given", "family", "middle", "sur", "customer", "patient", "client",
                 "contact", "holder", "recipient", "sender", "employee", "member", "passenger", "guest",
                 "beneficiary", "applicant", "insured", "driver", "owner", "person", "caller", "maiden")
_NOT_STREET = ("email", "ip", "mac", "web", "wallet", "server", "host", "bitcoin", "eth", "contract", "memory",
               "url", "link", "mail")
_DOB_KEYS = {"dob", "dateofbirth", "birthdate", "birthday", "bdate"}
_SSN_KEYS = {"ssn", "socialsecuritynumber", "socialsecurity", "socialsecurityno"}
_PASSWORD_KEYS_JSON = {"password", "passwd", "pwd", "passphrase", "secret", "clientsecret", "pin"}
_TOKEN_SUFFIXES = ("apikey", "accesskey", "accesskeyid", "secretkey", "secretaccesskey", "token", "privatekey",
                   "authorization", "signature", "credential", "credentials", "secret", "password")
_NAME_VALUE = re.compile(r"^[^\W\d_][^\W\d_'’.\- ]*(?:[ '’.\-]+[^\W\d_][^\W\d_'’.\-]*)*\.?$")


def key_rule(key: str) -> str | None:
    """The kind of value a JSON key announces (PERSON, ADDRESS, DOB, SSN, PASSWORD, TOKEN), or None."""
    k = _norm_key(key)
    if not k:
        return None
    if k in _PASSWORD_KEYS_JSON:
        return "PASSWORD"
    if k.endswith(_TOKEN_SUFFIXES) and not k.endswith(("tokens", "tokencount")):
        return "TOKEN"
    if k in _DOB_KEYS:
        return "DOB"
    if k in _SSN_KEYS:
        return "SSN"
    if k.endswith("name") and k != "name" and any(w in k[:-4] for w in _PERSON_WORDS):
        return "PERSON"
    if k in ("surname", "forename", "firstname", "lastname"):
        return "PERSON"
    if (k.endswith("address") and not k.startswith(_NOT_STREET)) or k in (
            "street", "streetaddress", "addressline1", "addressline2", "address1", "address2"):
        return "ADDRESS"
    return None


def keyed_hit(rule: str, value: str) -> Hit | None:
    """Validate a JSON value under a telling key; the whole value becomes the entity."""
    v = value.strip()
    if not v:
        return None
    if rule == "PASSWORD":
        return Hit(value, "SECRET", "json_key", value, value) if looks_like_password(v) or looks_like_token(v) else None
    if rule == "TOKEN":
        bare = re.sub(r"(?i)^(?:bearer|basic|token)\s+", "", v)
        return Hit(value, "SECRET", "json_key", value, value) if looks_like_token(bare) else None
    if rule == "DOB":
        d = parse_date(v)
        return Hit(value, "DOB", "json_key", value, d.isoformat()) if d else None
    if rule == "SSN":
        d = re.sub(r"[- ]", "", v)
        return Hit(value, "SSN", "json_key", value, d) if len(d) == 9 and d.isdigit() and ssn_ok(d) else None
    if rule == "PERSON":
        ok = 2 <= len(v) <= 60 and _NAME_VALUE.match(v) and not NOT_A_SECRET.match(v)
        return Hit(value, "PERSON", "json_key", value, normalise_text(v)) if ok else None
    if rule == "ADDRESS":
        ok = len(v) >= 6 and re.search(r"[A-Za-z]", v) and re.search(r"\d|\s", v) and "@" not in v
        return Hit(value, "ADDRESS", "json_key", value, normalise_text(v)) if ok else None
    return None
