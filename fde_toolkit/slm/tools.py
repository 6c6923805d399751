"""Tool names as the provider logs them in answers, and the one way every place matches them.

OpenAI-style APIs accept function names of the characters a-z, A-Z, 0-9, `_` and `-` only, at most
64 of them, so the SDK or gateway in between renames an offered `requests.get` to `requests_get`:
the logged request offers `requests.get`, the logged answer calls `requests_get`, and the customer's
code dispatches on `requests_get`. `tool_key` is that renaming. Two names with the same key are the
same tool wherever names are matched: the datasets (which offered tool a target calls), constrained
decoding (the names a specialist may answer with) and the metrics (a predicted `requests.get` is the
reference `requests_get`).

    tool_key("requests.get") == "requests_get"
    offered_tool_names(tools)                        # names in OpenAI tool schemas (a list or JSON text)
    spelling = answer_spelling(offered, called)      # key -> the name the answers use
    respell_tools(tools, spelling)                   # the schemas, named the way the answers name them
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Iterable, Mapping

import orjson

MAX_NAME = 64
_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")


def tool_key(name: str | None) -> str:
    """A tool name as OpenAI-style providers accept and log it: every character outside [a-zA-Z0-9_-]
    becomes `_`, cut to 64 characters. Names with the same key are the same tool."""
    return _UNSAFE.sub("_", (name or "").strip())[:MAX_NAME]


def _function(spec: Any) -> dict[str, Any] | None:
    if not isinstance(spec, dict):
        return None
    fn = spec.get("function") if isinstance(spec.get("function"), dict) else spec
    return fn if isinstance(fn.get("name"), str) else None


def tool_list(tools: str | list | None) -> list[dict[str, Any]]:
    """Tool schemas (OpenAI format) from a list or its JSON text; [] when none or unreadable."""
    if isinstance(tools, str):
        try:
            tools = orjson.loads(tools)
        except orjson.JSONDecodeError:
            return []
    return [t for t in tools if isinstance(t, dict)] if isinstance(tools, list) else []


def offered_tool_names(tools: str | list | None) -> list[str]:
    """The names of the tools offered, in their order, as the request logged them."""
    return [fn["name"] for fn in map(_function, tool_list(tools)) if fn is not None]


def answer_spelling(offered: Iterable[str], called: Iterable[str]) -> dict[str, str]:
    """tool_key -> the name a specialist answers with: the spelling the logged answers use most (ties:
    the first in sorted order), else, for a tool no answer called, the key (the provider's renaming)."""
    seen: dict[str, Counter[str]] = {}
    for name in called:
        if name:
            seen.setdefault(tool_key(name), Counter())[name] += 1
    out = {k: sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] for k, c in seen.items()}
    for name in offered:
        if name:
            out.setdefault(tool_key(name), tool_key(name))
    return dict(sorted(out.items()))


def respell(name: str, spelling: Mapping[str, str] | None = None) -> str:
    """`name` spelled as the answers spell its tool (`spelling` from answer_spelling), else its key."""
    k = tool_key(name)
    return (spelling or {}).get(k, k)


def respell_tools(tools: list[dict[str, Any]] | None,
                  spelling: Mapping[str, str] | None = None) -> list[dict[str, Any]] | None:
    """Copies of the tool schemas whose names are the ones the answers use (what the LLM was offered
    once the provider renamed them); None stays None."""
    if tools is None:
        return None
    out = []
    for t in tools:
        fn = _function(t)
        if fn is None or respell(fn["name"], spelling) == fn["name"]:
            out.append(t)
            continue
        renamed = {**fn, "name": respell(fn["name"], spelling)}
        out.append({**t, "function": renamed} if t.get("function") is fn else renamed)
    return out
