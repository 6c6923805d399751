"""Answers that go to the LLM whatever the specialist's confidence: empty, off the label set, broken.

    answer_problems("label", "card_lost", labels=labels)            # [] or ["unknown_label"]
    answer_problems("json", '{"city": "Oslo"')                        # ["invalid_json"]
    answer_problems("tool_call", '{"name": "get_weather", "arguments": {"city": 3}}', offered_tools=tools)
                                                                      # ["arguments_break_schema"]

Reasons: "empty_answer", "unknown_label", "invalid_json" (also a tool call that is not
{"name", "arguments"} JSON, or whose arguments are not JSON), "unknown_tool" (a name no offered tool
has, compared by tools.tool_key: the provider's `requests_get` is the offered `requests.get`) and
"arguments_break_schema" (the arguments fail the offered tool's `parameters` JSON Schema: the
schema's declared `$schema` draft, else Draft 2020-12). Tools are in OpenAI format, as a list or its
JSON text; without them the tool is not checked. A broken schema among the offered tools is skipped,
never an error: the answer is judged on what can be checked.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Sequence

import orjson

from fde_toolkit.slm.metrics import parse_json, parse_tool_calls
from fde_toolkit.slm.tools import tool_key

KINDS = ("label", "json", "tool_call", "text")


def _offered(offered_tools: list[dict] | str | None) -> dict[str, Any] | None:
    """tool_key -> the tool's `parameters` (None when it declares none); None when no tools are known."""
    if offered_tools is None:
        return None
    if isinstance(offered_tools, str):
        try:
            offered_tools = orjson.loads(offered_tools)
        except orjson.JSONDecodeError:
            return None
    if not isinstance(offered_tools, list):
        return None
    out: dict[str, Any] = {}
    for spec in offered_tools:
        fn = spec.get("function") if isinstance(spec, dict) and isinstance(spec.get("function"), dict) else spec
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            out.setdefault(tool_key(fn["name"]), fn.get("parameters"))
    return out


@functools.lru_cache(maxsize=256)
def _validator(schema_json: bytes):
    """A JSON Schema validator for one `parameters` schema, or None when the schema itself is broken."""
    import jsonschema

    schema = orjson.loads(schema_json)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an unknown $schema falls back to 2020-12 with a warning
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
        return cls(schema)
    except Exception:  # noqa: BLE001 - any broken schema is skipped, whatever jsonschema raises
        return None


def _breaks_schema(arguments: Any, parameters: Any) -> bool:
    if not isinstance(parameters, dict):
        return False  # no schema (or not one) to check against
    try:
        validator = _validator(orjson.dumps(parameters, option=orjson.OPT_SORT_KEYS))
    except (TypeError, orjson.JSONEncodeError):
        return False
    if validator is None:
        return False
    try:
        return next(iter(validator.iter_errors(arguments)), None) is not None
    except Exception:  # noqa: BLE001 - e.g. an unresolvable $ref or a bad pattern shows only when validating
        return False


def _tool_call_problems(answer: str, offered_tools: list[dict] | str | None) -> list[str]:
    calls = parse_tool_calls(answer)
    if calls is None:
        return ["invalid_json"]
    if not calls:
        return ["empty_answer"]
    tools = _offered(offered_tools)
    out: list[str] = []
    for name, arguments in calls:
        if isinstance(arguments, str):  # arguments given as text that is not JSON
            out.append("invalid_json")
            continue
        if tools is None:
            continue
        key = tool_key(name)
        if key not in tools:
            out.append("unknown_tool")
        elif _breaks_schema(arguments, tools[key]):
            out.append("arguments_break_schema")
    return list(dict.fromkeys(out))


def answer_problems(kind: str, answer: str | None, offered_tools: list[dict] | str | None = None,
                    labels: Sequence[str] | None = None) -> list[str]:
    """Why an answer of this output kind must go to the LLM ([] when nothing is wrong with it)."""
    if kind not in KINDS:
        raise ValueError(f"answer_problems: output kind {kind!r} is not one of {', '.join(KINDS)}")
    if answer is None or not answer.strip():
        return ["empty_answer"]
    if kind == "label":
        return ["unknown_label"] if labels is not None and answer.strip() not in {lab.strip() for lab in labels} else []
    if kind == "json":
        return ["invalid_json"] if parse_json(answer) is None else []
    if kind == "tool_call":
        return _tool_call_problems(answer, offered_tools)
    return []
