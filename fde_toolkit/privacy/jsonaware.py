"""JSON-aware scrubbing: the strings inside tool arguments, tool results and JSON-in-strings.

A JSON document is split into its leaves (string values, keys, long integers), the leaves are
scrubbed like any other text, and the document is rebuilt from them: it stays valid JSON with the
same keys (a key changes only when it is itself PII). A string that holds JSON is opened too, up to
three levels deep. Values under telling keys ("first_name", "dob", "api_key", "password") become
whole-value findings, since the key says what they are.
"""

from __future__ import annotations

import json
from array import array
from dataclasses import dataclass, field
from typing import Any

import orjson

from fde_toolkit.privacy.findings import Hit
from fde_toolkit.privacy.jsonkeys import key_rule, keyed_hit

MAX_DEPTH = 3
LONG_INT = 10**6  # integers this large may be phone, card or account numbers written as numbers


def looks_like_json(text: str) -> bool:
    s = text.strip()
    return len(s) >= 2 and ((s[0] == "{" and s[-1] == "}") or (s[0] == "[" and s[-1] == "]"))


def loads(text: str) -> tuple[Any, bool] | None:
    """(parsed value, parsed by orjson) or None when `text` is not JSON."""
    try:
        return orjson.loads(text), True
    except orjson.JSONDecodeError:
        pass
    try:  # big integers, NaN and the like: orjson refuses them, the stdlib reads them
        return json.loads(text), False
    except (ValueError, RecursionError):
        return None


def dumps(obj: Any, fast: bool) -> str:
    if fast:
        try:
            return orjson.dumps(obj).decode("utf-8")
        except (TypeError, orjson.JSONEncodeError):
            pass
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _nested(s: str, depth: int) -> tuple[Any, bool] | None:
    if depth >= MAX_DEPTH or not looks_like_json(s):
        return None
    parsed = loads(s)
    if parsed is None or not isinstance(parsed[0], (dict, list)):
        return None
    return parsed


@dataclass
class JsonDocs:
    """The leaves of the JSON documents among a set of distinct texts."""

    texts: list[str] = field(default_factory=list)  # documents that parsed
    leaves: list[str] = field(default_factory=list)  # distinct leaf strings; index = leaf id
    leaf_ner: bytearray = field(default_factory=bytearray)  # 1 when the leaf is a value in an NER field
    doc_idx: array = field(default_factory=lambda: array("I"))  # one entry per leaf occurrence
    leaf_idx: array = field(default_factory=lambda: array("I"))
    keyed: dict[str, Hit] = field(default_factory=dict)  # whole-value findings from telling keys
    not_json: list[int] = field(default_factory=list)  # input positions that looked like JSON but did not parse


def split_documents(texts: list[str], ner: list[bool], use_keys: bool) -> JsonDocs:
    """Parse each text (all look like JSON) and collect its leaves; the ones that fail are listed."""
    out = JsonDocs()
    ids: dict[str, int] = {}
    rules: dict[str, str | None] = {}

    def leaf(s: str, doc: int, as_value: bool) -> None:
        i = ids.get(s)
        if i is None:
            i = ids[s] = len(out.leaves)
            out.leaves.append(s)
            out.leaf_ner.append(0)
        if as_value:
            out.leaf_ner[i] = 1
        out.doc_idx.append(doc)
        out.leaf_idx.append(i)

    def keyed(parent: str | None, value: str) -> None:
        if not use_keys or parent is None:
            return
        rule = rules.get(parent, "?")
        if rule == "?":
            rule = rules[parent] = key_rule(parent)
        if rule is not None and value not in out.keyed:
            hit = keyed_hit(rule, value)
            if hit is not None:
                out.keyed[value] = hit

    def walk(obj: Any, parent: str | None, doc: int, ner_ok: bool, depth: int) -> None:
        if isinstance(obj, str):
            nested = _nested(obj, depth)
            if nested is not None:
                walk(nested[0], parent, doc, ner_ok, depth + 1)
                return
            leaf(obj, doc, ner_ok)
            keyed(parent, obj)
        elif isinstance(obj, dict):
            for k, v in obj.items():
                if isinstance(k, str):
                    leaf(k, doc, False)
                walk(v, k if isinstance(k, str) else parent, doc, ner_ok, depth)
        elif isinstance(obj, list):
            for v in obj:
                walk(v, parent, doc, ner_ok, depth)
        elif isinstance(obj, int) and not isinstance(obj, bool) and abs(obj) >= LONG_INT:
            s = str(obj)
            leaf(s, doc, False)
            keyed(parent, s)

    for pos, text in enumerate(texts):
        parsed = loads(text)
        if parsed is None or not isinstance(parsed[0], (dict, list)):
            out.not_json.append(pos)
            continue
        doc = len(out.texts)
        mark = len(out.doc_idx)
        try:
            walk(parsed[0], None, doc, ner[pos], 0)
        except RecursionError:  # absurdly deep: scrub it as plain text instead
            del out.doc_idx[mark:]
            del out.leaf_idx[mark:]
            out.not_json.append(pos)
            continue
        out.texts.append(text)
    return out


def rebuild(text: str, leaf_map: dict[str, str]) -> str | None:
    """The document with its leaves replaced by `leaf_map` (changed leaves only); None when unchanged."""
    parsed = loads(text)
    if parsed is None:
        return None
    obj, fast = parsed
    new, changed = _rebuild(obj, leaf_map, fast, 0)
    return dumps(new, fast) if changed else None


def _rebuild(obj: Any, leaf_map: dict[str, str], fast: bool, depth: int) -> tuple[Any, bool]:
    if isinstance(obj, str):
        nested = _nested(obj, depth)
        if nested is not None:
            new, changed = _rebuild(nested[0], leaf_map, nested[1], depth + 1)
            return (dumps(new, nested[1]), True) if changed else (obj, False)
        new_s = leaf_map.get(obj)
        return (new_s, True) if new_s is not None else (obj, False)
    if isinstance(obj, dict):
        out: dict[Any, Any] = {}
        changed = False
        for k, v in obj.items():
            nk = leaf_map.get(k, k) if isinstance(k, str) else k
            if nk in out:  # two keys that became the same placeholder: keep both
                n = 2
                while f"{nk}#{n}" in out:
                    n += 1
                nk = f"{nk}#{n}"
            nv, ch = _rebuild(v, leaf_map, fast, depth)
            changed = changed or ch or nk != k
            out[nk] = nv
        return out, changed
    if isinstance(obj, list):
        items = [_rebuild(v, leaf_map, fast, depth) for v in obj]
        if any(ch for _, ch in items):
            return [v for v, _ in items], True
        return obj, False
    if isinstance(obj, int) and not isinstance(obj, bool) and abs(obj) >= LONG_INT:
        new_s = leaf_map.get(str(obj))
        return (new_s, True) if new_s is not None else (obj, False)
    return obj, False
