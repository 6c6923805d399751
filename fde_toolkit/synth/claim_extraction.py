"""Task 2, claim extraction: a first-notice-of-loss message -> JSON with 7 fields."""

from __future__ import annotations

import random
from typing import Any

import orjson

from fde_toolkit.synth.claims import INCIDENT_TYPES
from fde_toolkit.synth.documents import _grow
from fde_toolkit.synth.story import _Story
from fde_toolkit.synth.text import _fmt_date, _money, _pick

EXTRACTION_FIELDS = ("policy_number", "claimant_name", "incident_date", "incident_type", "location",
                     "estimated_amount", "injuries")
_EXTRACT_SYSTEM = (
    "You extract first-notice-of-loss (FNOL) details for Northwind Mutual's claims intake. Return one "
    "JSON object with exactly these keys:\n"
    '- "policy_number": string like NWM-123-456789, as written\n'
    '- "claimant_name": the policyholder reporting the loss, full name\n'
    '- "incident_date": date of loss as YYYY-MM-DD\n'
    '- "incident_type": one of ' + ", ".join(INCIDENT_TYPES) + "\n"
    '- "location": where it happened, as written in the message\n'
    '- "estimated_amount": estimated damage in USD as a number\n'
    '- "injuries": true if anyone was hurt, false if the message says no one was hurt\n'
    "Use null for anything the message does not state. Output the JSON object only."
)
_EXTRACT_ASKS = (
    "Extract the claim details from this message:\n\n",
    "Extract the FNOL fields from the following customer message.\n\n",
    "Message received via web intake:\n\n",
    "Parse this first notice of loss:\n\n",
)

_SUBJECTS = ("New claim - {short}", "Claim report: {short}", "Accident report", "FNOL {policy}", "Need to file a claim",
             "Damage report for policy {policy}")


def _fnol_message(st: _Story, r: random.Random, phone: bool) -> str:
    """A first-notice-of-loss message that states exactly the facts the extraction JSON holds."""
    p = st.p
    date_s = _fmt_date(st.loss_date, r)
    amount_s = ""
    if st.amount is not None:
        amount_s = _pick(r, ("The repair shop estimated {a}.", "I think the damage is about {a}.",
                             "Estimate so far is {a}.", "The contractor quoted {a}.",
                             "Damage looks like around {a}.")).format(
            a=_pick(r, (_money(st.amount), f"${st.amount}", f"{st.amount:,} dollars", f"{_money(st.amount)}.00")))
    inj = ""
    if st.injuries is not None:
        inj = st.injury_text if st.injuries is False else st.injury_text[0].upper() + st.injury_text[1:] + "."
    Inc = st.fp[0].upper() + st.fp[1:]
    x = r.random()
    if phone:
        return (f"[call transcript] caller {p.name} policy {p.policy}. caller states on {date_s} {st.fp} "
                f"{st.loc_phrase}. {amount_s} {inj} callback number {p.phone}.").replace("  ", " ")
    if x < 0.35:
        subject = _pick(r, _SUBJECTS).format(short=st.short, policy=p.policy)
        body = " ".join(t for t in (f"My name is {p.name} and my policy number is {p.policy}.",
                                    f"On {date_s} {st.fp} {st.loc_phrase}.", amount_s, inj) if t)
        return (f"Subject: {subject}\n\nHello,\n\n{body}\n\nYou can reach me at {p.phone} or {p.email}."
                f"\n\nThanks,\n{p.first}")
    if x < 0.65:
        parts = [f"Hi, this is {p.name} (policy {p.policy}).", f"{Inc} {st.loc_phrase} on {date_s}.", inj, amount_s,
                 _pick(r, (f"Call me at {p.phone}.", f"My number is {p.phone}.", f"Email me at {p.email}."))]
        return " ".join(t for t in parts if t)
    injuries = "" if st.injuries is None else ("Injuries: yes - " + st.injury_text if st.injuries else "Injuries: none")
    rows = [f"Policy number: {p.policy}", f"Name: {p.name}", f"Date of loss: {date_s}", f"Location: {st.location}",
            f"What happened: {Inc}.", f"Estimated damage: {_money(st.amount)}" if st.amount is not None else "",
            injuries, f"Best phone: {p.phone}", f"Email: {p.email}"]
    return "Web claim form submission\n" + "\n".join(t for t in rows if t)


def _extraction_answer(st: _Story) -> str:
    return orjson.dumps({
        "policy_number": st.p.policy, "claimant_name": st.p.name, "incident_date": st.loss_date.isoformat(),
        "incident_type": st.itype, "location": st.location, "estimated_amount": st.amount,
        "injuries": st.injuries}).decode()


def render_call(st: _Story, r: random.Random, ctx: int) -> tuple[list[dict], dict, dict[str, Any]]:
    """(messages, response message, extra request keys) of an extraction call; ctx > 0 forwards attachments."""
    text = st.fnol_msg
    if ctx:
        text = _grow(st, r, text + "\n\n--- attachments forwarded with the message ---", ctx, estimates=False)
    msgs = [{"role": "system", "content": _EXTRACT_SYSTEM},
            {"role": "user", "content": _pick(r, _EXTRACT_ASKS) + text}]
    out = {"role": "assistant", "content": _extraction_answer(st)}
    return msgs, out, {"response_format": {"type": "json_object"}}
