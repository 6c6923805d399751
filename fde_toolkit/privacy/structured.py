"""Structured identifiers: a broad regex finds candidates in Rust, a validator checks the few distinct ones.

Each detector is a polars (Rust regex) pattern plus a Python validator. `find_structured` runs every
pattern over a column of distinct texts with `str.extract_all`, then validates only the distinct
candidate strings (Luhn for cards, mod-97 for IBANs, libphonenumber for phones, SSA rules for SSNs,
the `ipaddress` module for IPs, real calendar dates for birth dates) and returns the exact substrings
to replace. Patterns consume a character of left context where an identifier glued to a word, `#`,
`$` or `-` is an order number, an amount or a SKU rather than PII. Credentials live in
credentials.py, values under telling JSON keys in jsonkeys.py.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date
from typing import Iterable

import phonenumbers
import polars as pl

from fde_toolkit.privacy.config import DETECTORS, PiiConfig
from fde_toolkit.privacy.credentials import credential_detectors
from fde_toolkit.privacy.findings import Detector, Hit, Validator
from fde_toolkit.privacy.pseudonym import normalise_text


# ----------------------------------------------------------------------------- shared pieces

# IDs of things, not people: a number right after one of these words is not a phone number
_ID_WORDS = (r"order|claim|invoice|ticket|case|tracking|sku|po|transaction|txn|confirmation|booking|ref|"
             r"reference|serial|item|account|acct|policy|member|id|part|model|batch|lot|build|version")
_ID_PREFIX = re.compile(r"(?i)^\s*(?:%s)s?\b" % _ID_WORDS)
_DATE_LIKE = re.compile(r"^\s*(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})(?!\d)")
_IPV4_LIKE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_LEAD_CONTEXT = r"(?:^|[^\w#$€£./\\-])"  # start of text or a character that cannot glue an ID together

_MONTHS = {m: i + 1 for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}
_MONTH_RE = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
             r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_DATE_RE = (r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})|"
            + _MONTH_RE + r"\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}|"
            + r"\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH_RE + r"\.?,?\s+\d{4})")
_DATE_PY = re.compile(r"(?i)" + _DATE_RE)


def _strip_lead(c: str, allowed_first: str) -> tuple[str, int]:
    """Drop the consumed left-context character(s); return the rest and its offset."""
    i = 0
    while i < len(c) and c[i] not in allowed_first and not c[i].isdigit():
        i += 1
    return c[i:], i


def parse_date(text: str) -> date | None:
    """A real calendar date from the formats people write birth dates in (US month-first first)."""
    s = text.strip().lower().rstrip(".,")
    m = re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})", s)
    candidates: list[tuple[int, int, int]] = []
    if m:
        candidates.append((int(m[1]), int(m[2]), int(m[3])))
    m = re.fullmatch(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})", s)
    if m:
        y = int(m[3])
        y = y + (1900 if y > (date.today().year % 100) else 2000) if len(m[3]) == 2 else y
        candidates += [(y, int(m[1]), int(m[2])), (y, int(m[2]), int(m[1]))]
    m = re.fullmatch(r"([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})", s)
    if m and m[1][:3] in _MONTHS:
        candidates.append((int(m[3]), _MONTHS[m[1][:3]], int(m[2])))
    m = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([a-z]+)\.?,?\s+(\d{4})", s)
    if m and m[2][:3] in _MONTHS:
        candidates.append((int(m[3]), _MONTHS[m[2][:3]], int(m[1])))
    for y, mo, d in candidates:
        if 1900 <= y <= date.today().year:
            try:
                return date(y, mo, d)
            except ValueError:
                continue
    return None


# ----------------------------------------------------------------------------- email

_IMAGE_TLDS = {"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff", "pdf"}
EMAIL = r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[A-Za-z]{2,24}\b"


def _email(c: str) -> list[Hit]:
    local, _, domain = c.rpartition("@")
    local = local.lstrip("._%+-")
    labels = domain.split(".")
    if (not local or ".." in local or local.endswith(".") or labels[-1].lower() in _IMAGE_TLDS
            or any(not lb or lb.startswith("-") or lb.endswith("-") for lb in labels)):
        return []
    lit = f"{local}@{domain}"
    return [Hit(lit, "EMAIL", "email", lit, lit.lower())]


# ----------------------------------------------------------------------------- phone

PHONE = (r"(?i)(?:\b(?:" + _ID_WORDS + r")s?\.?\s{0,2}[#:]?\s{0,2}|" + _LEAD_CONTEXT[3:-1] + r")"
         r"\+?\(?\d[\d ().\-]{5,}\d(?:\s{0,2}(?:x|ext\.?|extension)\s{0,2}\d{1,6})?[A-Za-z_]?")


def _national_patterns(regions: list[str]) -> list[tuple[str, re.Pattern]]:
    """Per region: its national prefix and libphonenumber's pattern every valid national number matches."""
    out = []
    for region in regions:
        md = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if md is not None and md.general_desc is not None and md.general_desc.national_number_pattern:
            out.append((md.national_prefix or "", re.compile(md.general_desc.national_number_pattern)))
    return out


def _plausible(value: str, national: list[tuple[str, re.Pattern]]) -> bool:
    """A cheap necessary condition before the (slow) full parse: numbers written with a + go on;
    others must look like a national number of one of the regions (epoch times, amounts do not)."""
    if value.lstrip().startswith("+"):
        return True
    digits = re.sub(r"\D", "", re.split(r"(?i)x|ext", value)[0])
    for prefix, pattern in national:
        if pattern.fullmatch(digits) or (prefix and digits.startswith(prefix)
                                         and pattern.fullmatch(digits[len(prefix):])):
            return True
    return False


def _phone(regions: list[str]) -> Validator:
    national = _national_patterns(regions)

    def validate(c: str) -> list[Hit]:
        if _ID_PREFIX.match(c):
            return []
        value, _ = _strip_lead(c, "+(")
        if _DATE_LIKE.match(value) or _IPV4_LIKE.match(value) or value[-1].isalpha() or value[-1] == "_":
            return []  # a date, an IP address, or digits glued to a word (a UUID or an ID)
        digits = sum(ch.isdigit() for ch in value)
        hits: list[Hit] = []
        if digits < 7:
            return []
        if digits <= 15 and "  " not in value and _plausible(value, national):  # the whole candidate is one number
            for region in regions:
                try:
                    num = phonenumbers.parse(value, region)
                except phonenumbers.NumberParseException:
                    continue
                if phonenumbers.is_valid_number(num):
                    e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
                    return [Hit(value, "PHONE", "phone", value, e164)]
        if value.isdigit():  # one run of digits that is not a phone number holds none either
            return []
        seen: set[str] = set()
        for region in regions:  # several numbers, or a number inside a longer run of digits and spaces
            for m in phonenumbers.PhoneNumberMatcher(value, region, leniency=phonenumbers.Leniency.VALID):
                raw = m.raw_string
                if raw in seen or _DATE_LIKE.match(raw):
                    continue
                seen.add(raw)
                e164 = phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
                hits.append(Hit(raw, "PHONE", "phone", raw, e164))
        return hits

    return validate


# ----------------------------------------------------------------------------- payment card

CARD = _LEAD_CONTEXT + r"\d(?:[ \-]?\d){12,}\b"


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_brand_ok(d: str) -> bool:
    """Issuer prefix and length of the major networks (Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay)."""
    n = len(d)
    if d[0] == "4":
        return n in (13, 16, 19)
    if 51 <= int(d[:2]) <= 55 or 2221 <= int(d[:4]) <= 2720:
        return n == 16
    if d[:2] in ("34", "37"):
        return n == 15
    if d[:4] == "6011" or d[:2] == "65" or 644 <= int(d[:3]) <= 649 or d[:2] == "62":
        return 16 <= n <= 19
    if 300 <= int(d[:3]) <= 305 or d[:2] in ("36", "38", "39"):
        return 14 <= n <= 19
    if 3528 <= int(d[:4]) <= 3589:
        return 16 <= n <= 19
    return False


def _card(c: str) -> list[Hit]:
    """The longest valid card number at each group boundary, left to right: the candidate run may
    also hold a phone number before the card or an expiry year after it."""
    value, _ = _strip_lead(c, "")
    groups = [(m.start(), m.end()) for m in re.finditer(r"\d+", value)]
    hits: list[Hit] = []
    i = 0
    while i < len(groups):
        best = None
        n_digits = 0
        for j in range(i, len(groups)):
            n_digits += groups[j][1] - groups[j][0]
            if n_digits > 19:
                break
            lit = value[groups[i][0]:groups[j][1]]
            d = re.sub(r"\D", "", lit)
            if n_digits >= 13 and len(set(d)) > 1 and card_brand_ok(d) and luhn_ok(d):
                best = (j, Hit(lit, "CARD", "card", lit, d))
        if best is not None:
            hits.append(best[1])
            i = best[0]
        i += 1
    return hits


# ----------------------------------------------------------------------------- IBAN

IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25,
    "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
    "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
    "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}
IBAN = r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b"


def iban_ok(compact: str) -> bool:
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _iban(c: str) -> list[Hit]:
    want = IBAN_LENGTHS.get(c[:2])
    if want is None:
        return []
    taken, end = 0, 0
    for i, ch in enumerate(c):
        if ch != " ":
            taken += 1
        if taken == want:
            end = i + 1
            break
    if not end:
        return []
    lit = c[:end]
    compact = lit.replace(" ", "")
    if not compact[2:4].isdigit() or not iban_ok(compact):
        return []
    return [Hit(lit, "IBAN", "iban", lit, compact)]


# ----------------------------------------------------------------------------- US SSN

SSN = (r"(?i)\b(?:ssn|social\s+security(?:\s+(?:number|no|num))?|ss#)\.?\W{0,4}\d{9}\b|"
       + _LEAD_CONTEXT + r"\d{3}-\d{2}-\d{4}\b|" + _LEAD_CONTEXT + r"\d{3} \d{2} \d{4}\b")
_SSN_VALUE = re.compile(r"\d{3}([- ]?)\d{2}\1\d{4}$")
_SSN_NEVER_ISSUED = {"078051120", "219099999"}  # advertising and example numbers


def ssn_ok(d: str) -> bool:
    area, group, serial = int(d[:3]), int(d[3:5]), int(d[5:])
    return (0 < area < 900 and area != 666 and group != 0 and serial != 0 and d not in _SSN_NEVER_ISSUED)


def _ssn(c: str) -> list[Hit]:
    m = _SSN_VALUE.search(c)
    if not m:
        return []
    lit = m.group(0)
    d = re.sub(r"\D", "", lit)
    return [Hit(lit, "SSN", "ssn", lit, d)] if ssn_ok(d) else []


# ----------------------------------------------------------------------------- IP addresses

_VERSION_WORDS = r"v|ver|version|release|build|firmware|fw|rev|revision|release"
IPV4 = (r"(?i)(?:\b(?:" + _VERSION_WORDS + r")\.?[:=]?\s{0,2}|^|[^\w.])"
        r"\d{1,3}(?:\.\d{1,3}){3}(?:\.\d)?\b")
IPV6 = r"(?i)(?:^|[^\w:])[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}"
_NETMASK_OCTETS = {"0", "128", "192", "224", "240", "248", "252", "254", "255"}


def _ipv4(c: str) -> list[Hit]:
    if re.match(r"(?i)^(?:%s)\b" % _VERSION_WORDS, c) or re.match(r"(?i)^v\d", c):
        return []
    value, _ = _strip_lead(c, "")
    if value.count(".") != 3:  # four dotted groups and a fifth: an OID or a version string
        return []
    try:
        ip = ipaddress.IPv4Address(value)
    except ValueError:
        return []
    octets = value.split(".")
    if ip.is_loopback or ip.is_unspecified or ip.is_multicast or (
            octets[0] == "255" and all(o in _NETMASK_OCTETS for o in octets)):
        return []
    return [Hit(value, "IP", "ip", value, str(ip))]


def _ipv6(c: str) -> list[Hit]:
    value = c.lstrip()
    while value and not (value[0].isalnum() or value[0] == ":"):
        value = value[1:]
    value = value.rstrip(":") if not value.endswith("::") else value
    if "::" not in value and value.count(":") != 7:
        return []
    if not re.search(r"\d", value) or len(re.findall(r"[0-9a-fA-F]+", value)) < 3:
        return []
    try:
        ip = ipaddress.IPv6Address(value)
    except ValueError:
        return []
    if ip.is_loopback or ip.is_unspecified:
        return []
    return [Hit(value, "IP", "ip", value, ip.compressed)]


# ----------------------------------------------------------------------------- date of birth (in context)

DOB = (r"(?i)\b(?:d\.?o\.?b|date\s+of\s+birth|birth\s*date|birthday|born(?:\s+on)?)\.?[\"']?\s{0,3}[:=\-]?"
       r"\s{0,3}[\"']?\s{0,3}(?:(?:is|was|on)\s+)?" + _DATE_RE)


def _dob(c: str) -> list[Hit]:
    matches = list(_DATE_PY.finditer(c))
    if not matches:
        return []
    lit = matches[-1].group(0)
    d = parse_date(lit)
    if d is None:
        return []
    return [Hit(lit, "DOB", "dob", lit, d.isoformat())]


# ----------------------------------------------------------------------------- street addresses (US style)

# USPS street suffixes (Publication 28, C1), full names and common abbreviations, optionally plural
_STREET_SUFFIXES = (
    "Alley|Aly|Annex|Arcade|Avenue|Ave|Bayou|Beach|Bend|Bluff|Bottom|Boulevard|Blvd|Branch|Bridge|Brook|Burg|"
    "Bypass|Camp|Canyon|Cape|Causeway|Center|Ctr|Circle|Cir|Cliff|Club|Common|Corner|Course|Court|Ct|Cove|Creek|"
    "Crescent|Crest|Crossing|Crossroad|Curve|Dale|Dam|Divide|Drive|Dr|Estate|Expressway|Expy|Extension|Falls|"
    "Ferry|Field|Flat|Ford|Forest|Forge|Fork|Fort|Freeway|Fwy|Garden|Gateway|Glen|Green|Grove|Harbor|Haven|"
    "Heights|Highway|Hwy|Hill|Hollow|Inlet|Island|Isle|Junction|Key|Knoll|Lake|Land|Landing|Lane|Ln|Light|Loaf|"
    "Lock|Lodge|Loop|Mall|Manor|Meadow|Mews|Mill|Mission|Motorway|Mount|Mountain|Neck|Orchard|Oval|Overpass|"
    "Park|Parkway|Pkwy|Pass|Passage|Path|Pike|Pine|Place|Pl|Plain|Plaza|Point|Port|Prairie|Radial|Ramp|Ranch|"
    "Rapid|Rest|Ridge|River|Road|Rd|Route|Row|Rue|Run|Shoal|Shore|Skyway|Spring|Spur|Square|Sq|Station|"
    "Stravenue|Stream|Street|St|Summit|Terrace|Ter|Throughway|Trace|Track|Trafficway|Trail|Trl|Trailer|"
    "Tunnel|Turnpike|Underpass|Union|Valley|Viaduct|View|Village|Ville|Vista|Walk|Wall|Way|Well")
STREET_ADDRESS = (
    r"\b\d{1,6}[A-Za-z]?\s+(?:[NSEW]\.?\s+)?(?:[A-Z][a-z]+\.?\s+){1,3}(?:" + _STREET_SUFFIXES + r")s?\b\.?"
    r"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|Fl|Floor)\.?\s*#?\s*[A-Za-z0-9\-]{1,6})?"
)


def _street_address(c: str) -> list[Hit]:
    lit = c.rstrip()
    return [Hit(lit, "ADDRESS", "street_address", lit, normalise_text(lit))]


# ----------------------------------------------------------------------------- the detector set

def build_detectors(config: PiiConfig) -> list[Detector]:
    """The enabled regex detectors in priority order, then the customer's patterns."""
    table: dict[str, list[Detector]] = {
        **credential_detectors(),
        "email": [Detector("email", EMAIL, _email)],
        "iban": [Detector("iban", IBAN, _iban)],
        "card": [Detector("card", CARD, _card)],
        "ssn": [Detector("ssn", SSN, _ssn)],
        "phone": [Detector("phone", PHONE, _phone(config.phone_regions))],
        "ip": [Detector("ip", IPV4, _ipv4), Detector("ip", IPV6, _ipv6)],
        "dob": [Detector("dob", DOB, _dob)],
        "street_address": [Detector("street_address", STREET_ADDRESS, _street_address)],
    }
    out = [d for name in DETECTORS if name in config.detectors for d in table.get(name, [])]
    for p in config.patterns:
        name = p.name
        out.append(Detector("custom", p.regex,
                            lambda c, name=name: [Hit(c, name, "custom", c, c.strip())] if c.strip() else []))
    return out


def find_structured(texts: pl.Series, detectors: Iterable[Detector]) -> dict[str, Hit]:
    """Validated findings in `texts` (distinct strings), keyed by the exact substring to replace.

    One `extract_all` per detector runs in Rust over the whole column (polars runs them in
    parallel); Python sees only the distinct candidate strings. When two detectors claim the
    same substring, the earlier (higher-priority) detector keeps it.
    """
    detectors = list(detectors)
    found: dict[str, Hit] = {}
    if texts.len() == 0 or not detectors:
        return found
    frame = pl.DataFrame({"t": texts})
    cols = frame.lazy().select(
        [pl.col("t").str.extract_all(d.pattern).alias(f"d{i}") for i, d in enumerate(detectors)]).collect()
    for i, d in enumerate(detectors):
        cands = cols.get_column(f"d{i}").explode().drop_nulls().unique().sort().to_list()
        for c in cands:
            for hit in d.validate(c):
                if hit.literal and hit.literal not in found:
                    found[hit.literal] = hit
    return found
