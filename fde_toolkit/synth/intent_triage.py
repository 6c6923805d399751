"""Task 1, intent triage: one system prompt, 14 labels, the response is the bare label."""

from __future__ import annotations

import random
from typing import Any

from fde_toolkit.synth.story import _slots, _Story
from fde_toolkit.synth.text import _noisy, _pick

TRIAGE_LABELS = (
    "file_new_claim", "claim_status", "coverage_question", "update_contact_details", "payment_issue",
    "cancel_policy", "document_upload", "complaint", "roadside_assistance", "fraud_report",
    "schedule_inspection", "policy_details", "change_coverage", "speak_to_agent",
)
_LABEL_HELP = {
    "file_new_claim": "the customer reports a new accident, loss or damage",
    "claim_status": "asks where an existing claim stands or when it will be paid",
    "coverage_question": "a general question about what a policy covers, limits, deductibles or exclusions",
    "update_contact_details": "change of email, phone number or mailing address",
    "payment_issue": "billing, premium payments, charges, refunds, payment cards",
    "cancel_policy": "wants to cancel a policy or asks about cancelling",
    "document_upload": "sending photos, estimates, reports or receipts for a claim",
    "complaint": "dissatisfaction with service, an adjuster, a repair or a settlement",
    "roadside_assistance": "breakdown, tow, flat tire, lockout, dead battery, out of fuel",
    "fraud_report": "suspected fraud, identity misuse or a claim the customer did not file",
    "schedule_inspection": "book or change an inspection or appraisal of damage for a claim",
    "policy_details": "look up the customer's own policy: coverages, drivers, vehicles, renewal",
    "change_coverage": "add or remove a vehicle or driver, change limits or deductibles",
    "speak_to_agent": "asks for a human, a call back or their adjuster",
}
_TRIAGE_SYSTEM = (
    "You are the intake router for Northwind Mutual's claims assistant. Read the customer's message "
    "and classify it into exactly one intent from this list:\n"
    + "\n".join(f"- {k}: {v}" for k, v in _LABEL_HELP.items())
    + "\n\nRules: answer with the intent label only, in lowercase, with no punctuation or explanation. "
    "If a message mentions several things, pick the customer's main request. Never answer the "
    "customer yourself."
)
_OTHER_LABELS = ("payment_issue", "cancel_policy", "document_upload", "complaint", "roadside_assistance",
                 "fraud_report", "change_coverage", "speak_to_agent")
_OTHER_LABEL_P = (0.18, 0.10, 0.16, 0.12, 0.14, 0.05, 0.15, 0.10)

# Customer message templates per label; slots are filled from the session's seeded story.
_TRIAGE_TEMPLATES: dict[str, tuple[str, ...]] = {
    "file_new_claim": (
        "I need to file a claim. {Incident}.",
        "I want to report an accident. {Incident}.",
        "How do I start a claim? {Incident}.",
        "{Incident}. What do I need to do to open a claim?",
        "I'd like to open a new claim on policy {policy}.",
        "need to report a loss, {incident}",
        "Reporting damage: {incident}. Policy {policy}.",
        "Can you help me file a claim? {Incident}.",
        "I was in an accident and need to start a claim for my {vehicle}.",
        "My name is {name} and I need to file a claim. {Incident}.",
        "{Incident} on {date}. I want to make a claim.",
    ),
    "claim_status": (
        "Any update on claim {claim}?",
        "What's the status of my claim {claim}?",
        "I filed claim {claim} two weeks ago and haven't heard anything. Where does it stand?",
        "Can you check on claim number {claim} for me please",
        "Has my claim {claim} been approved yet?",
        "Checking in on {claim}, is the payment on its way?",
        "This is {name}. Could you tell me where claim {claim} is at?",
        "status of claim {claim}?",
        "When will my claim {claim} be settled? It's been a while.",
        "I'm waiting on the adjuster for claim {claim}, any news?",
    ),
    "schedule_inspection": (
        "Can an adjuster come inspect the damage for claim {claim}? I'm available on {insp_date} at {insp_address}.",
        "I'd like to schedule the inspection for {claim} on {insp_date}. The address is {insp_address}.",
        "Please book an inspection for claim {claim}, {insp_date}, at {insp_address}",
        "For claim {claim}: the car is at {insp_address}, can someone look at it on {insp_date}?",
        "Need an appraiser out to {insp_address} for claim {claim}. {insp_date} works for me.",
        "Schedule inspection: claim {claim}, {insp_address}, {insp_date}",
        "Could the inspection for claim {claim} happen on {insp_date}? Address: {insp_address}.",
    ),
    "policy_details": (
        "What coverages do I have on policy {policy}?",
        "Can you pull up my policy {policy} and tell me my deductible?",
        "I need the details of policy {policy}, when does it renew?",
        "Is my {vehicle} listed on policy {policy}?",
        "Look up policy {policy} please, I want to see my limits.",
        "Who are the drivers on my policy {policy}?",
        "Send me a summary of policy {policy}",
        "What's my liability limit on {policy}?",
    ),
    "payment_issue": (
        "I was charged twice this month on my card {card}.",
        "My autopay failed, I think the card on file expired. Can you use {card} instead?",
        "Why is my premium higher this month? Policy {policy}.",
        "I paid my bill but it still shows overdue.",
        "Please refund the duplicate charge to card {card}",
        "The payment on my card ending {card4} was declined, what now?",
        "I want to switch my payments to card {card}, exp {card_exp}.",
        "Got a late fee even though I paid on time, policy {policy}",
    ),
    "cancel_policy": (
        "I want to cancel my policy {policy}.",
        "Please cancel my auto insurance effective {date}. Policy number {policy}.",
        "How do I cancel? I sold my {vehicle}.",
        "I found cheaper insurance and want to cancel {policy}",
        "Cancel my homeowners policy, we sold the house at {address}.",
        "What's the fee if I end my policy early? I want to cancel.",
    ),
    "document_upload": (
        "I have photos of the damage for claim {claim}, where do I send them?",
        "How do I upload the police report for {claim}?",
        "I'm trying to attach the repair estimate to my claim {claim} but the upload keeps failing.",
        "Where can I submit receipts for my rental car? Claim {claim}.",
        "Can I email the documents for claim {claim} to you?",
        "The adjuster asked for my medical bills, how do I get them to you",
    ),
    "complaint": (
        "This is ridiculous, I've been waiting three weeks for someone to call me back about {claim}.",
        "I want to file a complaint about the adjuster handling my claim.",
        "Your repair shop did a terrible job on my {vehicle}.",
        "Nobody answers the phone and my claim {claim} is still not paid. I'm very unhappy.",
        "I'm going to report you to the state insurance department if this isn't fixed.",
        "The settlement offer for my {vehicle} is insulting.",
    ),
    "roadside_assistance": (
        "My car broke down on {highway} near {city}, I need a tow.",
        "Flat tire on {highway}, can you send someone?",
        "I locked my keys in the car at {address}.",
        "Battery is dead, I'm at {address}. Need a jump start.",
        "Ran out of gas on {highway} just past {city}",
        "My {vehicle} won't start, I'm stuck at {address}",
    ),
    "fraud_report": (
        "I think someone filed a claim using my name and policy {policy}.",
        "I got a letter about claim {claim} but I never filed it.",
        "I want to report a suspicious claim, my neighbor bragged about faking a break-in.",
        "Someone is calling people pretending to be from Northwind and asking for card numbers.",
        "There's a claim on my policy {policy} I don't recognize.",
    ),
    "change_coverage": (
        "I'd like to add my daughter as a driver on policy {policy}.",
        "I just bought a {vehicle}, can you add it to my policy?",
        "Can I raise my liability limits?",
        "I want to add rental reimbursement to policy {policy}.",
        "Please remove my old car from the policy, I sold it.",
        "Can I lower my deductible to $250?",
    ),
    "speak_to_agent": (
        "Can I talk to a real person?",
        "agent please",
        "I need to speak with my adjuster, my number is {phone}.",
        "Please have someone call me back at {phone}.",
        "Transfer me to a human",
        "Can my agent email me at {email}? I'd rather not do this by chat.",
    ),
}

_OPENERS = ("", "", "", "Hi, ", "Hello, ", "Hi there. ", "Good morning. ", "Hey, ", "Hello. ")
_CLOSERS = ("", "", "", " Thanks.", " Thank you!", " thx", " Thanks, {first}", " - {name}", " Thanks in advance.")


def _wrap(text_tpl: str, r: random.Random, phone: bool) -> str:
    if phone:
        return "caller: " + text_tpl
    return _pick(r, _OPENERS) + text_tpl + _pick(r, _CLOSERS)


def _customer_message(label: str, st: _Story, r: random.Random, phone: bool) -> str:
    tpl = _noisy(_pick(r, _TRIAGE_TEMPLATES[label]), r, phone)
    return _wrap(tpl, r, phone).format_map(_slots(st, r))


def render_call(st: _Story, label: int) -> tuple[list[dict], dict, dict[str, Any]]:
    """(messages, response message, extra request keys) of a triage call: the session's first message."""
    msgs = [{"role": "system", "content": _TRIAGE_SYSTEM}, {"role": "user", "content": st.first_msg}]
    out = {"role": "assistant", "content": TRIAGE_LABELS[label]}
    return msgs, out, {"max_tokens": 10}
