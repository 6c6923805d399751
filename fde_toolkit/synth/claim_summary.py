"""Task 5, claim summaries: claim notes (often with long attachments) -> a 2-4 sentence summary."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from fde_toolkit.synth.documents import _grow
from fde_toolkit.synth.story import _Story
from fde_toolkit.synth.text import _money, _tok

_SUMMARY_SYSTEM = (
    "Summarize the claim file for the adjuster handoff in 2 to 4 sentences. Include the claim number, "
    "the insured, what happened and when, the estimated damage and injuries if known, the current "
    "status and the next step. Plain sentences, no bullet points."
)


def _claim_notes(st: _Story, r: random.Random, target_tokens: int) -> str:
    p = st.p
    amount = f"Reserve/estimate: {_money(st.amount)}" if st.amount is not None else "Reserve/estimate: not yet set"
    inj = {None: "Injuries: unknown", True: f"Injuries: yes ({st.injury_tp})",
           False: "Injuries: none reported"}[st.injuries]
    head = (f"CLAIM FILE {st.claim}\nPolicy: {p.policy} | Insured: {p.name} | Phone: {p.phone} | Email: {p.email}\n"
            f"Loss type: {st.itype} ({st.short}) | Date of loss: {st.loss_date.isoformat()} | Location: {st.location}\n"
            f"{amount} | {inj}\nAssigned adjuster: {st.adjuster}\n\nNOTES\n"
            f"{st.report_date.isoformat()} 09:{int(r.random() * 60):02d} ({st.adjuster}): FNOL taken. Insured reports "
            f"that {st.tp}. Coverage verified on policy {p.policy}.\n"
            f"{min(st.report_date + timedelta(days=1), st.day).isoformat()} 14:{int(r.random() * 60):02d} "
            f"({st.adjuster}): Status: {st.status[0]}. Next step: {st.status[1]}.")
    return _grow(st, r, head, target_tokens)


def _summary_answer(st: _Story, r: random.Random) -> str:
    p = st.p
    dl = f"{st.loss_date:%B} {st.loss_date.day}, {st.loss_date.year}"
    amount = (f"The estimated damage is {_money(st.amount)}." if st.amount is not None
              else "No damage estimate is on file yet.")
    inj = {None: "", True: f"Injuries were reported: {st.injury_tp}.", False: "No injuries were reported."}[st.injuries]
    v = int(r.random() * 3)
    if v == 0:
        s = [f"Claim {st.claim} for {p.name} (policy {p.policy}) is a {st.short} on {dl} at {st.location}: {st.tp}.",
             f"{amount} {inj}".strip(), f"The claim is {st.status[0]}; next step: {st.status[1]}."]
    elif v == 1:
        s = [f"{p.name} reported a {st.short} on {dl} at {st.location} (claim {st.claim}, policy {p.policy}); {st.tp}.",
             f"{amount} {inj}".strip(), f"Status: {st.status[0]}, and the next step is to {st.status[1]}."]
    else:
        s = [f"On {dl}, {st.tp} at {st.location}; claim {st.claim} was opened under policy {p.policy} for {p.name}.",
             f"{inj} {amount}".strip(), f"It is currently {st.status[0]}, and the next step is to {st.status[1]}."]
    return " ".join(x for x in s if x)


def render_call(st: _Story, r: random.Random, ctx: int, fnol: bool) -> tuple[list[dict], dict, dict[str, Any]]:
    """(messages, response message, extra request keys) of a summary call over claim notes of about ctx tokens;
    after a first notice of loss (`fnol`) the notes end with the insured's original message."""
    if fnol:
        head_ctx = max(ctx, _tok(st.fnol_msg) + 120)
        notes = _claim_notes(st, r, head_ctx) + "\n\n[Original message from the insured]\n" + st.fnol_msg
    else:
        notes = _claim_notes(st, r, ctx)
    msgs = [{"role": "system", "content": _SUMMARY_SYSTEM}, {"role": "user", "content": "Claim file:\n\n" + notes}]
    out = {"role": "assistant", "content": _summary_answer(st, r)}
    return msgs, out, {"max_tokens": 400}
