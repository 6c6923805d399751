"""Task 3, tool calls: 4 tools offered (OpenAI format); the response is one tool call, content null."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import orjson

from fde_toolkit.synth.intent_triage import _TRIAGE_TEMPLATES, _wrap
from fde_toolkit.synth.pii import _address, _email
from fde_toolkit.synth.story import _person, _slots, _Story
from fde_toolkit.synth.text import _fmt_date, _noisy, _pick, _tok
from fde_toolkit.synth.vocab import _ALNUM

TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": "lookup_policy",
        "description": "Look up a Northwind Mutual policy: coverages, limits, deductibles, drivers, vehicles, "
                       "renewal date.",
        "parameters": {"type": "object", "properties": {
            "policy_number": {"type": "string", "description": "Policy number, format NWM-123-456789"}},
            "required": ["policy_number"], "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "get_claim_status",
        "description": "Get the current status, adjuster and payment state of an existing claim.",
        "parameters": {"type": "object", "properties": {
            "claim_id": {"type": "string", "description": "Claim number, format CLM-12345678"}},
            "required": ["claim_id"], "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "schedule_inspection",
        "description": "Book an adjuster's inspection of the damage for a claim.",
        "parameters": {"type": "object", "properties": {
            "claim_id": {"type": "string", "description": "Claim number, format CLM-12345678"},
            "date": {"type": "string", "description": "Inspection date, YYYY-MM-DD"},
            "address": {"type": "string", "description": "Where the damaged vehicle or property is"}},
            "required": ["claim_id", "date", "address"], "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "update_contact",
        "description": "Update the email address and/or phone number on a policy.",
        "parameters": {"type": "object", "properties": {
            "policy_number": {"type": "string", "description": "Policy number, format NWM-123-456789"},
            "email": {"type": "string", "description": "New email address"},
            "phone": {"type": "string", "description": "New phone number"}},
            "required": ["policy_number"], "additionalProperties": False}}},
]
TOOL_NAMES = tuple(t["function"]["name"] for t in TOOLS)
_TOOL_SYSTEM = (
    "You are Northwind Mutual's claims service agent. Help the member by calling exactly one of the "
    "available tools with arguments taken from their message. Dates go in YYYY-MM-DD format. Do not "
    "invent identifiers: use the policy and claim numbers exactly as the member wrote them."
)
_LABEL_TOOL = {"claim_status": "get_claim_status", "update_contact_details": "update_contact",
               "schedule_inspection": "schedule_inspection", "policy_details": "lookup_policy"}

# update_contact_details: (template, which new values it gives)
_CONTACT_TEMPLATES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Please update my email on policy {policy} to {new_email}.", ("email",)),
    ("I have a new email address: {new_email}. My policy number is {policy}.", ("email",)),
    ("Can you change the email for {policy}? Use {new_email} from now on.", ("email",)),
    ("My phone number changed, it's now {new_phone}. Policy {policy}.", ("phone",)),
    ("Update the phone on policy {policy} to {new_phone} please", ("phone",)),
    ("New cell number for policy {policy}: {new_phone}", ("phone",)),
    ("I moved and have new contact info. Policy {policy}, email {new_email}, phone {new_phone}.", ("email", "phone")),
    ("Please update my contact details for {policy}: phone {new_phone}, email {new_email}.", ("email", "phone")),
    ("Hi it's {name}, policy {policy}. New number {new_phone} and new email {new_email}.", ("email", "phone")),
)


def _tool_message(label: str, st: _Story, r: random.Random, phone: bool, day: date) -> str:
    """The member's message for a tool-backed intent; also sets the tool call a good model makes."""
    slots = _slots(st, r)
    if label == "update_contact_details":
        tpl, gives = _pick(r, _CONTACT_TEMPLATES)
        p2 = _person(int(r.random() * 2**31), 0)  # new email/phone, drawn with the seed chain
        slots["new_email"] = _email(r, st.p.first, st.p.last) if r.random() < 0.8 else p2.email
        slots["new_phone"] = p2.phone
        args = {"policy_number": st.p.policy}
        if "email" in gives:
            args["email"] = slots["new_email"]
        if "phone" in gives:
            args["phone"] = slots["new_phone"]
    else:
        tpl = _pick(r, _TRIAGE_TEMPLATES[label])
        if label == "schedule_inspection":
            d = day + timedelta(days=2 + int(r.random() * 12))
            slots["insp_date"] = _fmt_date(d, r)
            slots["insp_address"] = st.p.address if r.random() < 0.6 else _address(r)
            args = {"claim_id": st.claim, "date": d.isoformat(), "address": slots["insp_address"]}
        elif label == "claim_status":
            args = {"claim_id": st.claim}
        else:
            args = {"policy_number": st.p.policy}
    st.tool_name, st.tool_args = _LABEL_TOOL[label], args
    return _wrap(_noisy(tpl, r, phone), r, phone).format_map(slots)


_TOOLS_TOKENS = _tok(orjson.dumps(TOOLS).decode()) + 12


def render_call(st: _Story, r: random.Random) -> tuple[list[dict], dict, dict[str, Any]]:
    """(messages, response message, extra request keys) of a tool call; the request also offers TOOLS."""
    msgs = [{"role": "system", "content": _TOOL_SYSTEM}, {"role": "user", "content": st.first_msg}]
    cid = "call_" + "".join(_ALNUM[int(r.random() * 62)] for _ in range(24))
    out = {"role": "assistant", "content": None, "tool_calls": [
        {"id": cid, "type": "function",
         "function": {"name": st.tool_name, "arguments": orjson.dumps(st.tool_args).decode()}}]}
    return msgs, out, {"tool_choice": "auto"}
