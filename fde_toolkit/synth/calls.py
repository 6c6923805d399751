"""Calls: one logical call's request and response, from its session's story and its task's generator."""

from __future__ import annotations

import random
from datetime import date
from functools import lru_cache
from typing import Any, Callable, NamedTuple

from fde_toolkit.synth import (adjuster_reasoning, claim_extraction, claim_summary, intent_triage, policy_qa,
                               tool_call)
from fde_toolkit.synth.catalog import _CH_PHONE, T_EXTRACT, T_QA, T_SUMMARY, T_TOOL, T_TRIAGE
from fde_toolkit.synth.claims import INCIDENT_TYPES
from fde_toolkit.synth.intent_triage import TRIAGE_LABELS
from fde_toolkit.synth.plan import _Plan
from fde_toolkit.synth.sessions import _FLOWS, _story
from fde_toolkit.synth.story import _key, _person, _Story
from fde_toolkit.synth.text import _tok
from fde_toolkit.synth.tool_call import _TOOLS_TOKENS, TOOLS


class _Content(NamedTuple):
    """What one logical call sent and got back (a retry sends the same)."""

    messages: list[dict]
    tools: list[dict] | None
    extra: dict[str, Any]  # extra request keys: max_tokens, response_format, tool_choice
    out: dict  # the response message
    finish: str
    prompt_tokens: int
    completion_tokens: int


def _session_stories(p: _Plan, seed: int) -> Callable[[int], _Story]:
    """Session index -> its story, cached (people are cached too: repeat customers keep their identity)."""
    person = lru_cache(maxsize=8192)(lambda u: _person(seed, int(u)))
    flow_names = [f[0] for f in _FLOWS]

    @lru_cache(maxsize=4096)
    def story(s: int) -> _Story:
        lab = int(p.s_label[s])
        return _story(seed, s, person(int(p.s_insured[s])), INCIDENT_TYPES[int(p.s_incident[s])],
                      date.fromordinal(int(p.s_day[s])), flow_names[int(p.s_flow[s])],
                      TRIAGE_LABELS[lab] if lab >= 0 else "", int(p.s_channel[s]), int(p.s_kb[s]))

    return story


def _usage(msgs: list[dict], tools: list[dict] | None, out: dict) -> tuple[str, int, int]:
    """(finish reason, prompt tokens, completion tokens) of a call."""
    prompt_tokens = sum(_tok(m["content"]) + 4 for m in msgs) + 3
    if tools is not None:
        prompt_tokens += _TOOLS_TOKENS
    if out.get("tool_calls"):
        completion = sum(_tok(t["function"]["name"]) + _tok(t["function"]["arguments"]) + 6 for t in out["tool_calls"])
        return "tool_calls", prompt_tokens, completion
    return "stop", prompt_tokens, _tok(out["content"]) + 1


def _call_contents(p: _Plan, seed: int) -> Callable[[int, int, int, int, int, int], _Content]:
    """(session, step, task, label, ctx, gen) -> that logical call's content, cached."""
    story = _session_stories(p, seed)

    @lru_cache(maxsize=2048)
    def content(s: int, step: int, task: int, label: int, ctx: int, gen: int) -> _Content:
        st = story(s)
        r = random.Random(_key(seed, 3, s, step))
        phone = int(p.s_channel[s]) == _CH_PHONE
        flow = _FLOWS[int(p.s_flow[s])]
        tools = None
        if task == T_TRIAGE:
            msgs, out, extra = intent_triage.render_call(st, label)
        elif task == T_EXTRACT:
            msgs, out, extra = claim_extraction.render_call(st, r, ctx)
        elif task == T_TOOL:
            msgs, out, extra = tool_call.render_call(st, r)
            tools = TOOLS
        elif task == T_QA:
            prev = None
            if step > 0 and flow[1][step - 1] == T_QA:  # follow-up: the first Q&A is in context
                first = content(s, step - 1, task, int(p.s_kb[s]), 0, 0)
                prev = first.messages, first.out
            msgs, out, extra = policy_qa.render_call(st, r, label, phone, prev)
        elif task == T_SUMMARY:
            msgs, out, extra = claim_summary.render_call(st, r, ctx, flow[0] == "fnol")
        else:
            msgs, out, extra = adjuster_reasoning.render_call(st, r, label, ctx, gen)
        return _Content(msgs, tools, extra, out, *_usage(msgs, tools, out))

    return content
