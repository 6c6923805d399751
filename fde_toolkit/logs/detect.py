"""Which reader a raw file needs: engagement.yaml's sources first, then the file's content.

Content sniffing looks at magic bytes (gzip is looked through, Parquet starts with PAR1) and the
first non-empty line, never at the file extension alone.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import orjson

from fde_toolkit.engagement import SourceConfig
from fde_toolkit.logs.jsonl import UTF8_BOM, is_blank, read_head

FORMATS = ("canonical", "openai", "otel", "csv", "parquet")
EMPTY = "empty"
_CSV_SEPARATORS = (",", ";", "\t", "|")


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def glob_matches(pattern: str, relpath: str) -> bool:
    """Glob match on a path relative to data/raw/: `*` stays within a folder, `**/` spans folders."""
    return _glob_regex(pattern).match(relpath) is not None


def source_for(relpath: str, sources: list[SourceConfig]) -> tuple[int, SourceConfig] | None:
    """The first source whose glob matches the file, with its index in engagement.yaml."""
    for i, s in enumerate(sources):
        if glob_matches(s.glob, relpath):
            return i, s
    return None


def _json_kind(obj: object) -> str | None:
    if not isinstance(obj, dict):
        return None
    if "resourceSpans" in obj:
        return "otel"
    if "request" in obj or ("response" in obj and "messages" not in obj):
        return "openai"
    if "messages" in obj or "call_id" in obj:
        return "canonical"
    return None


def _json_kind_by_keys(head: bytes) -> str | None:
    """For a first record too long to parse from the head, or a pretty-printed document."""
    if b'"resourceSpans"' in head:
        return "otel"
    if b'"request"' in head:
        return "openai"
    if b'"messages"' in head or b'"call_id"' in head:
        return "canonical"
    return None


def _looks_like_csv(line: bytes) -> str | None:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(c < " " and c not in "\t\r" for c in text):
        return None
    counts = {sep: text.count(sep) for sep in _CSV_SEPARATORS}
    sep = max(counts, key=lambda s: counts[s])
    return sep if counts[sep] else None


def csv_separator(path: Path) -> str:
    """The CSV's field separator, from its header line (',' when unsure)."""
    head = read_head(path, 1 << 16).lstrip(UTF8_BOM)
    first = next((ln for ln in head.split(b"\n") if not is_blank(ln)), b"")
    return _looks_like_csv(first) or ","


def sniff_format(path: Path) -> str | None:
    """The file's format from its content, EMPTY for a file with no content, None when unknown."""
    head = read_head(path)
    if head.startswith(b"PAR1"):
        return "parquet"
    head = head.lstrip(UTF8_BOM)
    if not head.strip():
        return EMPTY
    lines = [ln for ln in head.split(b"\n")[:50] if not is_blank(ln)]
    first = lines[0].lstrip()
    if first.startswith(b"["):
        return None  # a JSON array: not a log format we read line by line
    if first.startswith(b"{"):
        for ln in lines[:20]:
            try:
                kind = _json_kind(orjson.loads(ln))
            except orjson.JSONDecodeError:
                continue
            if kind:
                return kind
        return _json_kind_by_keys(head)
    if _looks_like_csv(lines[0]):
        return "csv"
    return None
