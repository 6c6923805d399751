"""The demo customer: Northwind Mutual's claims assistant, as its LLM gateway logged it.

A deterministic generator of a realistic enterprise agent's call logs, used by the demo engagement,
the tests and the benchmarks. Northwind Mutual (a fictional insurer) runs a claims-handling
assistant whose recurring steps are the tasks that later steps must discover and move to SLMs:

    intent_triage       one system prompt, 14 labels, the response is the bare label
    claim_extraction    first-notice-of-loss message -> JSON with 7 fields (response_format json_object)
    tool_call           4 tools offered (OpenAI format); the response is one tool call, content null
    policy_qa           RAG over a fixed knowledge base of 26 policy facts; 1-3 sentence answers
    claim_summary       claim notes (often with long attachments) -> a 2-4 sentence summary
    adjuster_reasoning  open-ended requests from adjusters (~11%): letters, comparisons, analyses

Calls group into sessions (triage -> tool call / extraction -> summary), carry PII (names, emails,
phones in several formats, NWM-123-456789 policy numbers, Luhn-valid card numbers, addresses),
errors (429 / timeout / 500, ~2%) mostly followed by a retry of the same request, and a partial
manual tag (`metadata.workload_id`) on the web channel's triage and extraction calls.

    write_demo_logs(out)             ->  out/gateway/2026-09-01.jsonl.gz ... (OpenAI request/response pairs)
                                         out/otel/mobile-bff-2026-09-01.json ... (OTLP JSON GenAI spans)
    generate_demo_calls(...)         ->  the same records as dicts, in time order, with private keys
    demo_ground_truth(...)           ->  each record's seeded task type and label (never written to disk)

The same arguments give byte-identical files. Nothing here reads the shared data folder at run time:
the shapes fitted on the Azure LLM inference traces are constants below.
"""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import orjson
import polars as pl

__all__ = [
    "CLIENT", "START", "TASK_TYPES", "TRIAGE_LABELS", "TOOLS", "KNOWLEDGE_BASE", "MODELS",
    "FRONTIER_MODEL", "MINI_MODEL", "INTERNAL_MODEL", "EXTRACTION_FIELDS", "INCIDENT_TYPES",
    "generate_demo_calls", "write_demo_logs", "demo_ground_truth",
]

CLIENT = "Northwind Mutual"
START = datetime(2026, 9, 1, tzinfo=timezone.utc)

TASK_TYPES = ("intent_triage", "claim_extraction", "tool_call", "policy_qa", "claim_summary",
              "adjuster_reasoning")
T_TRIAGE, T_EXTRACT, T_TOOL, T_QA, T_SUMMARY, T_REASON = range(6)

FRONTIER_MODEL = "gpt-4o-2024-08-06"
MINI_MODEL = "gpt-4o-mini-2024-07-18"
INTERNAL_MODEL = "northwind-ft-claims-v1"  # self-hosted, no public price: the profile flags it
MODELS = (FRONTIER_MODEL, MINI_MODEL, INTERNAL_MODEL)
# Latency model per model: time to first token (ms), prefill ms per prompt token, ms per output token.
_LATENCY = {0: (420.0, 0.060, 13.5), 1: (280.0, 0.030, 7.5), 2: (140.0, 0.020, 9.0)}

# --------------------------------------------------------------------------------------------------
# Shapes fitted once on the Azure LLM inference traces 2023 (Azure/AzurePublicDataset, CC BY 4.0;
# Patel et al., "Splitwise", ISCA 2024), file AzureLLMInferenceTrace_conv.csv: 19,366 requests
# in 58 minutes of 2023-11-16 (the code trace, 8,819 requests, was measured for comparison).
#   conversation ContextTokens:   p10 207, p25 396, p50 1020, p75 1189, p90 2734, p95 4083, p99 4142,
#                                 max 14050; log-mean 6.633, log-sd 0.985; 14.2% > 2000 tokens,
#                                 17.1% >= 1500 (that long mode: log-mean 8.025, log-sd 0.353, p50 3751)
#   conversation GeneratedTokens: p10 54, p50 129, p75 395, p90 424, p99 601, mean 211; bimodal:
#                                 66% short mode (log-mean 4.497, log-sd 0.547, p50 94) and
#                                 34% long mode >= 250 (log-mean 6.041, log-sd 0.138, p50 407)
#   conversation arrivals:        328 requests/min, per-minute count CV 0.25 (Poisson alone would be
#                                 0.055), inter-arrival CV 1.09, per-second variance/mean 1.39
#   code trace, for contrast:     context p50 1469 (log-mean 7.00, log-sd 1.36), generated p50 13,
#                                 per-minute CV 1.03 (far burstier)
# Used: attached documents and claim notes take the conversation context distribution (the long
# mode for adjusters' document-heavy requests); adjusters' long answers take the long generated
# mode (its spread widened from 0.138 to 0.30: one hour understates a month's variety); arrivals
# get per-minute gamma noise with the excess CV sqrt(0.25^2 - 0.055^2) = 0.24. The trace spans one
# hour, so the diurnal and weekday shapes below are assumptions (a US East-coast claims centre),
# not fits.
# --------------------------------------------------------------------------------------------------
AZ_CTX_LOG_MU, AZ_CTX_LOG_SD = 6.633, 0.985
AZ_CTX_LONG_LOG_MU, AZ_CTX_LONG_LOG_SD = 8.025, 0.353
AZ_GEN_LONG_LOG_MU, AZ_GEN_LONG_LOG_SD = 6.041, 0.30
AZ_MINUTE_EXCESS_CV = 0.24

_UTC_OFFSET_H = -4  # customer's local time (US Eastern, daylight time)
# Relative arrival rate by local hour (0..23): customers (web, phone, mobile) and adjusters (desk).
_DIURNAL_CUSTOMER = (0.15, 0.10, 0.08, 0.07, 0.08, 0.15, 0.35, 0.65, 0.95, 1.15, 1.25, 1.25,
                     1.15, 1.20, 1.25, 1.20, 1.10, 0.95, 0.80, 0.70, 0.60, 0.50, 0.35, 0.22)
_DIURNAL_ADJUSTER = (0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.30, 0.90, 1.30, 1.40, 1.30,
                     0.90, 1.20, 1.35, 1.30, 1.10, 0.60, 0.20, 0.08, 0.05, 0.03, 0.02, 0.01)
_WEEKDAY_CUSTOMER = (1.15, 1.05, 1.00, 1.00, 0.95, 0.60, 0.50)  # Monday first
_WEEKDAY_ADJUSTER = (1.05, 1.00, 1.00, 1.00, 0.95, 0.08, 0.04)
_GROWTH_PER_DAY = 0.006  # business growth: about +19% over 30 days

# --------------------------------------------------------------------------------------------------
# Task 1: intent triage
# --------------------------------------------------------------------------------------------------
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
_OPENERS = ("", "", "", "Hi, ", "Hello, ", "Hi there. ", "Good morning. ", "Hey, ", "Hello. ")
_CLOSERS = ("", "", "", " Thanks.", " Thank you!", " thx", " Thanks, {first}", " - {name}", " Thanks in advance.")

# --------------------------------------------------------------------------------------------------
# Task 2: claim field extraction
# --------------------------------------------------------------------------------------------------
INCIDENT_TYPES = ("collision", "theft", "vandalism", "fire", "water_damage", "hail", "windstorm", "glass",
                  "animal_collision", "liability")
_INCIDENT_P = (0.34, 0.08, 0.05, 0.04, 0.11, 0.08, 0.07, 0.10, 0.07, 0.06)
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
# (first person, third person, short name, where it can happen) per incident type; where: "home" (the
# insured's address), "road" (a highway), "xing" (an intersection), "lot" (a street address), "auto" (any of those)
_INCIDENTS: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "collision": (
        ("I was rear-ended while stopped at a red light", "the insured was rear-ended while stopped at a red light", "rear-end collision", "auto"),
        ("another driver ran a stop sign and hit the passenger side of my {vehicle}", "another driver ran a stop sign and struck the passenger side of the insured's {vehicle}", "intersection collision", "xing"),
        ("I slid on black ice and hit a guardrail", "the insured slid on black ice and struck a guardrail", "single-vehicle collision", "road"),
        ("a delivery van backed into my parked {vehicle}", "a delivery van backed into the insured's parked {vehicle}", "parked-vehicle collision", "lot"),
        ("I got sideswiped merging onto the highway", "the insured was sideswiped while merging onto the highway", "sideswipe collision", "road"),
    ),
    "theft": (
        ("my {vehicle} was stolen from my driveway overnight", "the insured's {vehicle} was stolen from the driveway overnight", "vehicle theft", "home"),
        ("someone broke into my car and took my laptop and the stereo", "someone broke into the insured's car and took a laptop and the stereo", "vehicle break-in", "lot"),
        ("our house was broken into while we were away and jewelry and a TV were taken", "the home was burglarized while the insureds were away and jewelry and a TV were taken", "burglary", "home"),
    ),
    "vandalism": (
        ("someone keyed both sides of my {vehicle} and slashed two tires", "someone keyed both sides of the insured's {vehicle} and slashed two tires", "vehicle vandalism", "lot"),
        ("our fence and garage door were spray painted", "the fence and garage door were spray painted", "property vandalism", "home"),
    ),
    "fire": (
        ("a kitchen fire damaged the stove, the cabinets and the ceiling", "a kitchen fire damaged the stove, the cabinets and the ceiling", "kitchen fire", "home"),
        ("an electrical fire started in our garage", "an electrical fire started in the garage", "electrical fire", "home"),
    ),
    "water_damage": (
        ("a pipe burst in the upstairs bathroom and water came through the kitchen ceiling", "a pipe burst in the upstairs bathroom and water came through the kitchen ceiling", "burst pipe", "home"),
        ("the water heater failed and flooded our basement", "the water heater failed and flooded the basement", "water heater failure", "home"),
    ),
    "hail": (
        ("a hailstorm dented the hood and roof of my {vehicle}", "a hailstorm dented the hood and roof of the insured's {vehicle}", "hail damage to a vehicle", "auto"),
        ("hail damaged our roof shingles and gutters", "hail damaged the roof shingles and gutters", "hail damage to a roof", "home"),
    ),
    "windstorm": (
        ("high winds brought a tree down on our garage roof", "high winds brought a tree down on the garage roof", "wind and fallen-tree damage", "home"),
        ("a storm tore off part of our roof and siding", "a storm tore off part of the roof and siding", "wind damage to a roof", "home"),
    ),
    "glass": (
        ("a rock hit my windshield on the highway and cracked it", "a rock struck the windshield on the highway and cracked it", "windshield crack", "road"),
        ("the rear window of my {vehicle} shattered", "the rear window of the insured's {vehicle} shattered", "broken rear window", "lot"),
    ),
    "animal_collision": (
        ("I hit a deer driving home at night", "the insured struck a deer while driving at night", "deer strike", "road"),
        ("a deer ran out and hit the front of my {vehicle}", "a deer ran out and struck the front of the insured's {vehicle}", "deer strike", "road"),
    ),
    "liability": (
        ("a guest slipped on our icy front steps and hurt their wrist", "a guest slipped on the insured's icy front steps and injured a wrist", "slip-and-fall injury", "home"),
        ("a ladder fell off my truck and damaged another car", "a ladder fell off the insured's truck and damaged another car", "third-party property damage", "road"),
    ),
}
_AMOUNT_RANGE = {"collision": (900, 16000), "theft": (600, 9000), "vandalism": (400, 5000), "fire": (4000, 60000),
                 "water_damage": (2500, 40000), "hail": (1500, 22000), "windstorm": (3000, 35000),
                 "glass": (180, 1600), "animal_collision": (1500, 9000), "liability": (1200, 25000)}
# (as the customer writes it, as a claim file states it)
_INJURY_YES = (("my passenger hurt her neck and went to urgent care", "a passenger hurt her neck and went to urgent care"),
               ("I have some back pain and saw a doctor", "the insured has back pain and saw a doctor"),
               ("the other driver complained of neck pain", "the other driver complained of neck pain"),
               ("I cut my hand and needed stitches", "the insured cut a hand and needed stitches"))
_INJURY_NO = ("No one was hurt.", "Nobody was injured.", "No injuries.", "Thankfully no one was hurt.")
_SUBJECTS = ("New claim - {short}", "Claim report: {short}", "Accident report", "FNOL {policy}", "Need to file a claim",
             "Damage report for policy {policy}")

# --------------------------------------------------------------------------------------------------
# Task 3: tool calls
# --------------------------------------------------------------------------------------------------
TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": "lookup_policy",
        "description": "Look up a Northwind Mutual policy: coverages, limits, deductibles, drivers, vehicles, renewal date.",
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

# --------------------------------------------------------------------------------------------------
# Task 4: policy Q&A over a fixed knowledge base
# --------------------------------------------------------------------------------------------------
# (id, excerpt shown to the model, member questions, the answers a good model gives)
KNOWLEDGE_BASE: tuple[dict[str, Any], ...] = tuple({"id": k, "excerpt": e, "questions": q, "answers": a} for k, e, q, a in (
    ("collision_deductible",
     "Auto collision coverage carries the deductible on the declarations page ($500 on the standard plan). It applies once per claim and is refunded when Northwind recovers the full loss from an at-fault driver's insurer.",
     ("What is my collision deductible?", "Do I have to pay a deductible if I hit a pole?", "How much is the deductible on a collision claim?", "Is the collision deductible per claim or per year?", "Do I get my deductible back if the other driver was at fault?"),
     ("Collision claims carry the deductible on your declarations page, $500 on the standard plan, and it applies once per claim. If the other driver was at fault and we recover the full loss from their insurer, your deductible is refunded.",
      "Your collision deductible is the amount on your declarations page ($500 on the standard plan), charged once per claim. It is refunded when we recover the full loss from the at-fault driver's insurer.")),
    ("comprehensive_deductible",
     "Comprehensive coverage (theft, vandalism, fire, hail, falling objects, animal strikes) has its own deductible, $250 on the standard plan.",
     ("What's the deductible for hail damage to my car?", "Is there a deductible if my car is stolen?", "How much is my comprehensive deductible?", "Do I pay a deductible for hitting a deer?"),
     ("Comprehensive losses such as theft, vandalism, fire, hail and animal strikes have their own deductible, which is $250 on the standard plan.",
      "That falls under comprehensive coverage, which has a separate deductible of $250 on the standard plan.")),
    ("windshield",
     "Windshield and glass repair is covered with no deductible when the glass can be repaired; a full replacement is subject to the comprehensive deductible. Northwind glass partners bill Northwind directly.",
     ("Is windshield repair covered?", "Do I pay anything to fix a chip in my windshield?", "My windshield is cracked, do I have to pay the deductible?", "Does my policy cover replacing a windshield?"),
     ("Yes. Repairing a chip or crack costs you nothing because there is no deductible for glass repair, while a full windshield replacement is subject to your comprehensive deductible. If you use a Northwind glass partner, they bill us directly.",
      "A windshield that can be repaired is fixed with no deductible; if it has to be replaced, your comprehensive deductible applies. Northwind glass partners bill us directly.")),
    ("rental_car",
     "Rental reimbursement, when listed on the policy, pays up to $40 a day for a rental car for at most 30 days while the insured vehicle is repaired after a covered claim.",
     ("Will you pay for a rental car while mine is in the shop?", "How many days of rental car do I get?", "Is a rental car covered after an accident?", "What's the daily limit for a rental?", "Does my policy include a rental car?"),
     ("If rental reimbursement is on your policy, we pay up to $40 a day for a rental car, for up to 30 days, while your car is repaired after a covered claim.",
      "Rental reimbursement covers up to $40 per day for a maximum of 30 days while your vehicle is being repaired after a covered claim, as long as it is listed on your policy.")),
    ("roadside",
     "Roadside assistance covers towing up to 15 miles, jump starts, lockouts, flat-tire changes and fuel delivery, up to 3 service calls per policy year.",
     ("What does roadside assistance include?", "How far will you tow my car?", "How many roadside calls do I get a year?", "Does roadside cover a lockout?"),
     ("Roadside assistance includes towing up to 15 miles, jump starts, lockouts, flat-tire changes and fuel delivery. You can use up to 3 service calls per policy year.",
      "You get up to 3 roadside service calls per policy year, covering towing up to 15 miles, jump starts, lockouts, flat tires and fuel delivery.")),
    ("flood_exclusion",
     "Homeowners policies exclude flood damage from rising surface water. Flood protection requires a separate flood policy, for example through the National Flood Insurance Program, which has a 30-day waiting period.",
     ("Does my homeowners policy cover flooding?", "Is flood damage covered?", "Our basement flooded after the river rose, are we covered?", "Do I need separate flood insurance?"),
     ("No, homeowners policies exclude flood damage from rising surface water. You would need a separate flood policy, for example through the National Flood Insurance Program, which has a 30-day waiting period.",
      "Flood from rising surface water is excluded from homeowners coverage. A separate flood policy, such as one from the National Flood Insurance Program, is needed, and it starts after a 30-day waiting period.")),
    ("sewer_backup",
     "Water that backs up through sewers or drains is excluded unless the Water Backup endorsement is on the policy; the endorsement covers up to $10,000 per loss.",
     ("Is sewer backup covered?", "Water came up through my basement drain, does my policy cover it?", "What is the water backup endorsement?", "Am I covered if the sewer backs up into my house?"),
     ("Sewer and drain backup is only covered if the Water Backup endorsement is on your policy, and then up to $10,000 per loss.",
      "Water backing up through sewers or drains is excluded unless you have the Water Backup endorsement, which covers up to $10,000 per loss.")),
    ("burst_pipe",
     "Sudden and accidental water damage, such as from a burst pipe, is covered, including tearing out damaged materials; the repair of the pipe itself and damage from long-term leaks are not covered.",
     ("A pipe burst in my wall, is that covered?", "Are water leaks covered by homeowners insurance?", "Will you pay to fix the broken pipe?", "Is damage from a slow leak covered?"),
     ("Sudden and accidental water damage, like a burst pipe, is covered, including tearing out and replacing damaged materials. The repair of the pipe itself and damage from long-term leaks are not covered.",
      "We cover sudden water damage from a burst pipe, including the damaged walls and floors, but not the cost of fixing the pipe itself or damage from a slow, long-term leak.")),
    ("reporting_deadline",
     "Auto accidents should be reported within 30 days. Property claims must be filed within one year of the date of loss.",
     ("How long do I have to report an accident?", "Is there a deadline to file a claim?", "Can I still file a claim for damage from last year?", "How soon do I need to report a property claim?"),
     ("Auto accidents should be reported within 30 days, and property claims must be filed within one year of the date of loss.",
      "Please report auto accidents within 30 days. For property damage you have one year from the date of loss to file a claim.")),
    ("claim_timeline",
     "Northwind acknowledges a claim within 2 business days and makes a coverage decision within 15 business days after receiving all requested documents.",
     ("How long does a claim take?", "When will I hear back about my claim?", "How long until you make a decision on my claim?", "What is the claims processing time?"),
     ("We acknowledge every claim within 2 business days and make a coverage decision within 15 business days after we receive all the documents we asked for.",
      "You will hear from us within 2 business days of filing, and we decide on coverage within 15 business days of receiving all requested documents.")),
    ("total_loss",
     "A vehicle is a total loss when repairs would cost more than 75% of its actual cash value; Northwind then pays the actual cash value minus the deductible.",
     ("When is a car considered totaled?", "How do you decide if my car is a total loss?", "What do I get paid if my car is totaled?", "What is the total loss threshold?"),
     ("A car is a total loss when repairs would cost more than 75% of its actual cash value. In that case we pay the actual cash value minus your deductible.",
      "We declare a total loss when the repair cost exceeds 75% of the vehicle's actual cash value, and we then pay the actual cash value less your deductible.")),
    ("gap_coverage",
     "Loan/lease gap coverage pays the difference between the actual cash value and the balance owed on the loan or lease if the car is totaled, up to 25% of the actual cash value.",
     ("What does gap insurance cover?", "I owe more on my loan than the car is worth, what happens if it's totaled?", "Do I have gap coverage?", "How much does gap coverage pay?"),
     ("Gap coverage pays the difference between your car's actual cash value and what you still owe on the loan or lease if it is totaled, up to 25% of the actual cash value.",
      "If your car is totaled, loan/lease gap coverage pays the difference between its actual cash value and your loan or lease balance, capped at 25% of the actual cash value.")),
    ("uninsured_motorist",
     "Uninsured/underinsured motorist coverage pays for your injuries and, in most states, vehicle damage when the at-fault driver has no or too little insurance; the property damage part has a $250 deductible.",
     ("What if the driver who hit me has no insurance?", "What does uninsured motorist coverage pay for?", "The other driver was underinsured, am I covered?", "Is there a deductible for uninsured motorist claims?"),
     ("Uninsured/underinsured motorist coverage pays for your injuries and, in most states, your vehicle damage when the at-fault driver has no or too little insurance. The vehicle damage part has a $250 deductible.",
      "If the at-fault driver has no or too little insurance, your uninsured motorist coverage pays for your injuries and, in most states, your car's damage with a $250 deductible.")),
    ("medical_payments",
     "Medical payments coverage pays reasonable medical expenses for the insured and passengers after an accident, up to $5,000 per person, regardless of fault.",
     ("Are my passengers' medical bills covered?", "Does my policy pay for my doctor visits after the accident?", "How much is medical payments coverage?", "Do you cover medical bills if the accident was my fault?"),
     ("Medical payments coverage pays reasonable medical expenses for you and your passengers after an accident, up to $5,000 per person, no matter who was at fault.",
      "Yes, medical payments coverage pays up to $5,000 per person in reasonable medical bills for you and your passengers, regardless of fault.")),
    ("mold",
     "Mold is excluded unless it results from a covered water loss; then coverage is capped at $5,000 per policy term.",
     ("Is mold covered?", "We found mold after the pipe burst, will you pay for removal?", "Does homeowners insurance cover mold remediation?", "What's the limit for mold?"),
     ("Mold is only covered when it results from a covered water loss, and then up to $5,000 per policy term.",
      "Mold is excluded unless it comes from a covered water loss such as a burst pipe; in that case remediation is covered up to $5,000 per policy term.")),
    ("earthquake",
     "Earthquake and earth movement are excluded from homeowners policies; earthquake coverage is available as a separate endorsement with a deductible of 10% of the dwelling limit.",
     ("Am I covered for earthquakes?", "Does homeowners insurance cover earthquake damage?", "Can I add earthquake coverage?", "What's the deductible for earthquake coverage?"),
     ("Earthquake and earth movement are excluded from homeowners policies. You can add an earthquake endorsement, which has a deductible of 10% of your dwelling limit.",
      "Standard homeowners coverage excludes earthquakes, but an earthquake endorsement is available with a deductible equal to 10% of the dwelling limit.")),
    ("property_away",
     "Personal property is covered worldwide, but items stolen away from home are covered up to 10% of the personal property limit.",
     ("My laptop was stolen at a hotel, is it covered?", "Are my belongings covered when I travel?", "Is stuff stolen from my car covered by homeowners?", "Does my policy cover things outside my house?"),
     ("Your personal property is covered anywhere in the world, but theft away from your home is limited to 10% of your personal property limit.",
      "Yes, belongings are covered worldwide; items stolen away from home are covered up to 10% of your personal property limit.")),
    ("jewelry",
     "Theft of jewelry, watches and furs is limited to $1,500 in total per loss unless the items are scheduled on the policy with an appraisal.",
     ("Is my engagement ring covered if it's stolen?", "What's the limit for stolen jewelry?", "How do I fully insure my watch?", "Are jewelry thefts covered?"),
     ("Jewelry, watches and furs are covered for theft up to $1,500 in total per loss. To cover more, schedule the items on your policy with an appraisal.",
      "Theft of jewelry and watches is limited to $1,500 per loss unless you schedule the items on the policy with an appraisal.")),
    ("additional_living_expenses",
     "If a covered loss makes the home unlivable, Additional Living Expenses pay for a hotel, extra meal costs and other added expenses for up to 12 months.",
     ("Will you pay for a hotel while my house is repaired?", "What are additional living expenses?", "How long do you pay for temporary housing?", "Our house is unlivable after the fire, what now?"),
     ("If a covered loss makes your home unlivable, Additional Living Expenses pay for a hotel, extra meal costs and other added expenses for up to 12 months.",
      "Additional Living Expenses cover the extra cost of living elsewhere, such as a hotel and meals, for up to 12 months when a covered loss makes your home unlivable.")),
    ("dog_bite",
     "Personal liability covers bodily injury your dog causes to others, up to the liability limit, unless the animal is excluded on the declarations page.",
     ("My dog bit someone, am I covered?", "Does my policy cover dog bites?", "Is liability for my pets included?", "A neighbor's kid was bitten by our dog, what happens?"),
     ("Personal liability covers injuries your dog causes to others, up to your liability limit, unless the animal is excluded on your declarations page.",
      "Yes, dog bites to other people fall under your personal liability coverage up to your limit, unless your declarations page excludes the animal.")),
    ("rideshare",
     "Personal auto coverage does not apply while the driver is logged into a rideshare or delivery app; the Rideshare endorsement extends coverage to that period.",
     ("Am I covered when I drive for Uber?", "Does my auto policy cover food delivery?", "Is rideshare driving covered?", "What is the rideshare endorsement?"),
     ("Your personal auto coverage does not apply while you are logged into a rideshare or delivery app. The Rideshare endorsement extends your coverage to that time.",
      "Driving while logged into a rideshare or delivery app is not covered by a personal auto policy unless you add the Rideshare endorsement.")),
    ("new_vehicle",
     "A newly purchased vehicle is covered automatically for 30 days with the broadest coverage on the policy; it must be added within that time to stay covered.",
     ("I just bought a new car, is it covered?", "How long do I have to add a new car to my policy?", "Is my new truck insured before I call you?", "Do I need to add my new vehicle right away?"),
     ("A newly purchased vehicle is covered automatically for 30 days with the broadest coverage on your policy. Add it within those 30 days to keep it covered.",
      "Your new vehicle is covered automatically for 30 days with your policy's broadest coverage; please add it to the policy within that period.")),
    ("repair_shop",
     "Members may choose any repair shop. Repairs at a Northwind Direct Repair shop come with a lifetime workmanship guarantee for as long as the member owns the vehicle.",
     ("Can I pick my own body shop?", "Do I have to use your repair shops?", "Is there a guarantee on repairs?", "What is the Direct Repair program?"),
     ("You can choose any repair shop you like. If you use a Northwind Direct Repair shop, the workmanship is guaranteed for as long as you own the vehicle.",
      "Yes, the choice of shop is yours. Repairs done at a Northwind Direct Repair shop carry a lifetime workmanship guarantee while you own the car.")),
    ("tree_removal",
     "Removal of a fallen tree is covered up to $1,000 per loss when it damages a covered structure or blocks a driveway.",
     ("A tree fell in my yard, will you pay to remove it?", "Is tree removal covered?", "How much do you pay for tree removal after a storm?", "A tree fell on my fence, are we covered?"),
     ("Tree removal is covered up to $1,000 per loss when the fallen tree damages a covered structure or blocks your driveway.",
      "If a fallen tree damages a covered structure or blocks a driveway, we pay up to $1,000 per loss to remove it.")),
    ("home_business",
     "Business property kept at home is covered only up to $2,500; a home business endorsement is needed for more.",
     ("Is my home office equipment covered?", "I run a business from home, is my inventory insured?", "What's the limit for business property at home?", "Do I need extra coverage for my home business?"),
     ("Business property kept at home is covered only up to $2,500. For more than that, you would need a home business endorsement.",
      "Your policy covers business property at home up to $2,500; a home business endorsement raises that.")),
    ("custom_equipment",
     "Aftermarket equipment such as custom wheels or sound systems is covered up to $1,500 unless it is declared on the policy.",
     ("Are my custom rims covered?", "Is an aftermarket stereo covered if it's stolen?", "How much coverage is there for custom parts?", "Do I need to declare my lift kit?"),
     ("Aftermarket equipment such as custom wheels or sound systems is covered up to $1,500 unless you declare it on your policy.",
      "Custom parts and aftermarket equipment are covered up to $1,500; declare them on the policy to cover more.")),
))
_QA_SYSTEM_HEAD = (
    "You are the Northwind Mutual policy assistant. Answer the member's question in one to three "
    "sentences using only the policy excerpts below. Be specific about amounts and limits. If the "
    "excerpts do not answer the question, say you will connect them with a licensed agent.\n\n"
    "Policy excerpts:\n"
)

# --------------------------------------------------------------------------------------------------
# Task 5: claim summaries
# --------------------------------------------------------------------------------------------------
_SUMMARY_SYSTEM = (
    "Summarize the claim file for the adjuster handoff in 2 to 4 sentences. Include the claim number, "
    "the insured, what happened and when, the estimated damage and injuries if known, the current "
    "status and the next step. Plain sentences, no bullet points."
)
_STATUS = (
    ("awaiting the repair estimate", "follow up with the shop for the repair estimate"),
    ("scheduled for a field inspection", "complete the inspection and review the photos"),
    ("approved with payment pending", "issue payment to the insured"),
    ("referred to the Special Investigations Unit", "wait for the SIU review before any payment"),
    ("waiting on the police report", "request the police report from the department"),
    ("pending a recorded statement", "take the insured's recorded statement"),
    ("awaiting contractor bids", "compare the contractor bids"),
    ("approved and closed", "send the closing letter"),
)
_ADJUSTERS = ("R. Okafor", "J. Patel", "M. Brennan", "S. Delgado", "T. Nguyen", "K. Larsen", "A. Haddad",
              "L. Castillo", "D. Whitfield", "P. Novak", "C. Mensah", "E. Rossi")

# --------------------------------------------------------------------------------------------------
# Task 6: adjusters' open-ended requests
# --------------------------------------------------------------------------------------------------
_REASON_SYSTEM = (
    "You are an expert claims adjuster assistant at Northwind Mutual. Give thorough, well-reasoned, "
    "professional answers. Show your calculations, cite the policy language you rely on, and end "
    "with clear recommendations."
)
REASONING_KINDS = ("compare_estimates", "denial_letter", "delay_letter", "fraud_review", "total_loss_valuation",
                   "subrogation_assessment", "coverage_analysis", "reserve_recommendation", "claimant_email")
_REASON_P = (0.16, 0.12, 0.08, 0.12, 0.12, 0.10, 0.12, 0.09, 0.09)

# --------------------------------------------------------------------------------------------------
# PII vocabulary (home-made, fictional; no Faker)
# --------------------------------------------------------------------------------------------------
_FIRST = ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
          "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Christopher",
          "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Sandra", "Mark", "Ashley", "Steven",
          "Emily", "Andrew", "Michelle", "Joshua", "Amanda", "Kevin", "Melissa", "Brian", "Stephanie", "Maria",
          "Jose", "Luis", "Carmen", "Wei", "Mei", "Hiroshi", "Yuki", "Priya", "Rahul", "Aisha", "Omar",
          "Fatima", "Ahmed", "Olga", "Dmitri", "Chloe", "Liam", "Noah", "Olivia", "Emma", "Sofia", "Mateo",
          "Isabella", "Ethan", "Ava", "Lucas", "Mia", "Kwame", "Amara", "Siobhan", "Declan", "Ingrid", "Lars",
          "Thanh", "Minh", "Grace", "Diego", "Valentina", "Jamal", "Keisha", "Tyrone")
_LAST = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
         "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
         "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
         "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green",
         "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Patel",
         "Kim", "Chen", "Wang", "Singh", "O'Brien", "Murphy", "Kowalski", "Nowak", "Okafor", "Mensah", "Haddad",
         "Cohen", "Rossi", "Schmidt", "Dubois", "Silva", "Yamamoto", "Tanaka", "Ivanova", "Larsen",
         "Fitzgerald", "MacDonald", "Delgado", "Castillo", "Abernathy", "Whitfield", "Brennan", "Novak", "Osei")
_STREETS = ("Maple", "Oak", "Pine", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park", "Main", "Church", "High",
            "Franklin", "Highland", "Jefferson", "Lincoln", "Madison", "Chestnut", "Spring", "Walnut", "Sunset",
            "River", "Meadow", "Ridge", "Willow", "Forest", "Cherry", "Prospect", "Mill", "Union", "Summit",
            "Valley", "Orchard", "Birch", "Harbor", "Magnolia", "Dogwood", "Juniper", "Sycamore", "Bay")
_SUFFIXES = ("Street", "St", "Avenue", "Ave", "Road", "Rd", "Drive", "Dr", "Lane", "Ln", "Court", "Ct",
             "Boulevard", "Blvd", "Way", "Place", "Terrace")
_CITIES = (("Springfield", "MA", "011"), ("Worcester", "MA", "016"), ("Framingham", "MA", "017"),
           ("Providence", "RI", "029"), ("Hartford", "CT", "061"), ("New Haven", "CT", "065"),
           ("Stamford", "CT", "069"), ("Albany", "NY", "122"), ("Buffalo", "NY", "142"), ("Rochester", "NY", "146"),
           ("Portland", "ME", "041"), ("Burlington", "VT", "054"), ("Manchester", "NH", "031"), ("Nashua", "NH", "030"),
           ("Newark", "NJ", "071"), ("Trenton", "NJ", "086"), ("Allentown", "PA", "181"), ("Pittsburgh", "PA", "152"),
           ("Harrisburg", "PA", "171"), ("Wilmington", "DE", "198"), ("Baltimore", "MD", "212"),
           ("Annapolis", "MD", "214"), ("Richmond", "VA", "232"), ("Norfolk", "VA", "235"), ("Raleigh", "NC", "276"),
           ("Charlotte", "NC", "282"), ("Columbus", "OH", "432"), ("Cleveland", "OH", "441"),
           ("Ann Arbor", "MI", "481"), ("Grand Rapids", "MI", "495"))
_HIGHWAYS = ("I-90", "I-95", "I-84", "I-91", "I-287", "Route 9", "Route 1", "Route 2", "US-20", "I-81", "I-76",
             "Route 128", "I-495", "I-80", "Route 30")
_VEHICLES = (("Toyota", "Camry"), ("Honda", "Civic"), ("Honda", "CR-V"), ("Ford", "F-150"), ("Chevrolet", "Silverado"),
             ("Toyota", "RAV4"), ("Nissan", "Altima"), ("Subaru", "Outback"), ("Jeep", "Grand Cherokee"),
             ("Hyundai", "Elantra"), ("Kia", "Sorento"), ("Tesla", "Model 3"), ("BMW", "X3"), ("Volkswagen", "Jetta"),
             ("Mazda", "CX-5"), ("Ford", "Escape"), ("Chevrolet", "Equinox"), ("Ram", "1500"), ("Toyota", "Highlander"),
             ("Audi", "A4"))
_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com", "comcast.net",
            "proton.me", "verizon.net")
_SHOPS = ("Metro Auto Body", "Precision Collision", "Main Street Auto Repair", "Valley Body Works", "Gold Star Collision",
          "Northside Auto Care", "Riverside Paint & Body", "Crossroads Collision Center")
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_DATE_FORMATS = ("%B {d}, %Y", "{m}/{d}/%Y", "%Y-%m-%d", "{d} %B %Y", "%b {d}, %Y")


def _date_variants(d: date) -> list[str]:
    """Every way the generator writes a date in customer text (tests check extracted dates against these)."""
    return [d.strftime(f.format(d=d.day, m=d.month)) for f in _DATE_FORMATS]


def _fmt_date(d: date, r: random.Random) -> str:
    f = _DATE_FORMATS[int(r.random() * len(_DATE_FORMATS))]
    return d.strftime(f.format(d=d.day, m=d.month))


def _pick(r: random.Random, seq):
    return seq[int(r.random() * len(seq))]


def _luhn_complete(digits: str) -> str:
    """Append the Luhn check digit to a card number's first digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return digits + str((10 - total % 10) % 10)


def _card(r: random.Random) -> str:
    """A Luhn-valid test card number (Visa, Mastercard or Amex prefix) in one of the usual layouts."""
    kind = r.random()
    if kind < 0.55:
        num = _luhn_complete("4" + "".join(str(int(r.random() * 10)) for _ in range(14)))
    elif kind < 0.9:
        num = _luhn_complete("5" + str(1 + int(r.random() * 5)) + "".join(str(int(r.random() * 10)) for _ in range(13)))
    else:
        num = _luhn_complete("37" + "".join(str(int(r.random() * 10)) for _ in range(12)))
        sep = _pick(r, (" ", "-", ""))
        return sep.join((num[:4], num[4:10], num[10:]))
    sep = _pick(r, (" ", " ", "-", ""))
    return sep.join(num[i:i + 4] for i in range(0, 16, 4))


# US area codes in service (customers' numbers are real numbers, so detectors see realistic input)
_AREA_CODES = (
    201, 202, 203, 205, 206, 207, 208, 210, 212, 213, 214, 215, 216, 217, 218, 219, 224, 225, 228, 229,
    231, 234, 239, 240, 248, 251, 252, 253, 254, 256, 260, 262, 267, 269, 270, 281, 301, 302, 303, 304,
    305, 307, 308, 309, 310, 312, 313, 314, 315, 316, 317, 318, 319, 320, 321, 323, 330, 334, 336, 337,
    339, 347, 351, 352, 360, 361, 386, 401, 402, 404, 405, 406, 407, 408, 409, 410, 412, 413, 414, 415,
    417, 419, 423, 424, 425, 430, 432, 434, 435, 440, 443, 469, 478, 479, 480, 484, 501, 502, 503, 504,
    505, 507, 508, 509, 510, 512, 513, 515, 516, 517, 518, 520, 530, 540, 541, 559, 561, 562, 563, 567,
    570, 571, 573, 574, 575, 580, 585, 586, 601, 602, 603, 605, 606, 607, 608, 609, 610, 612, 614, 615,
    616, 617, 618, 619, 620, 623, 626, 630, 631, 636, 641, 646, 650, 651, 660, 661, 662, 678, 682, 701,
    702, 703, 704, 706, 707, 708, 712, 713, 714, 715, 716, 717, 718, 719, 720, 724, 727, 731, 732, 734,
    737, 740, 754, 757, 760, 763, 765, 770, 772, 773, 774, 775, 781, 785, 786, 801, 802, 803, 804, 805,
    806, 808, 810, 812, 813, 814, 815, 816, 817, 818, 828, 830, 831, 832, 843, 845, 847, 848, 850, 856,
    857, 858, 859, 860, 862, 863, 864, 865, 870, 872, 878, 901, 903, 904, 906, 907, 908, 909, 910, 912,
    913, 914, 915, 916, 917, 918, 919, 920, 925, 928, 931, 936, 937, 940, 941, 947, 949, 951, 952, 954,
    956, 970, 971, 972, 973, 978, 979, 980, 985, 989,
)


def _phone(r: random.Random) -> str:
    a = _pick(r, _AREA_CODES)
    b = 200 + int(r.random() * 790)
    if b % 100 == 11 or b == 555:  # N11 service codes and 555 are not subscriber exchanges
        b += 1
    c = int(r.random() * 10000)
    return _pick(r, (f"({a}) {b}-{c:04d}", f"{a}-{b}-{c:04d}", f"{a}.{b}.{c:04d}", f"+1 {a} {b} {c:04d}",
                     f"{a}{b}{c:04d}", f"+1-{a}-{b}-{c:04d}"))


def _email(r: random.Random, first: str, last: str) -> str:
    f, l = first.lower(), last.lower().replace("'", "")
    n = 1 + int(r.random() * 98)
    user = _pick(r, (f"{f}.{l}", f"{f}{l}{n}", f"{f[0]}{l}", f"{f}_{l}{n}", f"{f}.{l[0]}{n}", f"{l}.{f}"))
    return f"{user}@{_pick(r, _DOMAINS)}"


def _address(r: random.Random) -> str:
    city, state, z3 = _pick(r, _CITIES)
    num = 1 + int(r.random() * 9800)
    street = f"{_pick(r, _STREETS)} {_pick(r, _SUFFIXES)}"
    unit = _pick(r, ("", "", "", "", f" Apt {1 + int(r.random() * 40)}", f" Unit {chr(65 + int(r.random() * 6))}"))
    return f"{num} {street}{unit}, {city}, {state} {z3}{int(r.random() * 100):02d}"


def _money(x: int) -> str:
    return f"${x:,}"


def _tok(text: str) -> int:
    """Approximate token count of text (about 4 characters a token for English and JSON)."""
    return (len(text) + 3) // 4


def _noisy(tpl: str, r: random.Random, phone: bool) -> str:
    """Light human noise on a template before its slots are filled, so PII and ids stay intact."""
    if phone:  # contact-centre speech-to-text: lower case, little punctuation
        return tpl.lower().replace(",", "").replace("?", "").replace("!", "").replace(".", "")
    x = r.random()
    if x < 0.10:
        tpl = tpl.lower()
    elif x < 0.18 and tpl and tpl[-1] in ".?!":
        tpl = tpl[:-1]
    if r.random() < 0.12:
        words = tpl.split(" ")
        cand = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
        if cand:
            i = _pick(r, cand)
            w = words[i]
            j = 1 + int(r.random() * (len(w) - 2))
            words[i] = w[:j - 1] + w[j] + w[j - 1] + w[j + 1:]
            tpl = " ".join(words)
    return tpl


# --------------------------------------------------------------------------------------------------
# Seeded stories: a customer's identity and a session's claim
# --------------------------------------------------------------------------------------------------
def _key(seed: int, tag: int, a: int, b: int = 0) -> int:
    return (((seed & 0xFFFFFFFF) * 16 + tag) << 48 | (a & 0xFFFFFFFFFF)) << 8 | (b & 0xFF)


@dataclass(frozen=True)
class _Person:
    first: str
    last: str
    email: str
    phone: str
    policy: str
    address: str
    card: str
    vehicle: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


def _person(seed: int, u: int) -> _Person:
    r = random.Random(_key(seed, 1, u))
    first, last = _pick(r, _FIRST), _pick(r, _LAST)
    make, model = _pick(r, _VEHICLES)
    return _Person(first, last, _email(r, first, last), _phone(r),
                   f"NWM-{int(r.random() * 900) + 100}-{int(r.random() * 1_000_000):06d}",
                   _address(r), _card(r), f"{2012 + int(r.random() * 15)} {make} {model}")


@dataclass
class _Story:
    """Everything a session's calls say about one customer and one claim."""

    p: _Person
    claim: str
    itype: str
    fp: str  # incident, first person
    tp: str  # incident, third person
    short: str
    home: bool
    loss_date: date
    report_date: date
    location: str
    loc_phrase: str
    amount: int | None
    injuries: bool | None
    injury_text: str  # as the customer wrote it
    injury_tp: str  # as the claim file states it
    status: tuple[str, str]
    adjuster: str
    day: date  # the session's day: nothing in the file is dated later
    first_msg: str = ""
    fnol_msg: str = ""
    tool_args: dict | None = None
    tool_name: str | None = None
    slots: dict | None = None


def _story(seed: int, s: int, person: _Person, itype: str, session_day: date, flow: str, label: str,
           channel: int, kb: int) -> _Story:
    r = random.Random(_key(seed, 2, s))
    fp, tp, short, where = _pick(r, _INCIDENTS[itype])
    home = where == "home"
    veh = person.vehicle
    fp, tp = fp.format(vehicle=veh), tp.format(vehicle=veh)
    loss_date = session_day - timedelta(days=int(r.random() * 12))
    if home:
        location = person.address
        loc_phrase = _pick(r, ("at my home, {loc}", "at our house at {loc}", "at {loc}"))
    else:
        x = {"road": 0.0, "xing": 0.5, "lot": 0.9, "auto": r.random()}[where]
        city, state, _ = _pick(r, _CITIES)
        if x < 0.4:
            location = f"{_pick(r, _HIGHWAYS)} near {city}, {state}"
            loc_phrase = "on {loc}"
        elif x < 0.75:
            location = (f"{_pick(r, _STREETS)} {_pick(r, _SUFFIXES)} and {_pick(r, _STREETS)} "
                        f"{_pick(r, _SUFFIXES)} in {city}, {state}")
            loc_phrase = "at the intersection of {loc}"
        else:
            location = _address(r)
            loc_phrase = _pick(r, ("in the parking lot at {loc}", "outside {loc}", "near {loc}"))
    lo, hi = _AMOUNT_RANGE[itype]
    amount = int(lo + (hi - lo) * r.random() ** 1.6) // 10 * 10 if r.random() < 0.78 else None
    inj_p = {"collision": 0.3, "animal_collision": 0.15, "liability": 0.0}.get(itype, 0.0)
    if itype == "liability" and home:
        injuries, (injury_text, injury_tp) = True, ("the guest went to the emergency room",) * 2
    elif r.random() < 0.13:
        injuries, injury_text, injury_tp = None, "", ""
    elif r.random() < inj_p:
        injuries, (injury_text, injury_tp) = True, _pick(r, _INJURY_YES)
    else:
        injuries, injury_text, injury_tp = False, _pick(r, _INJURY_NO), ""
    st = _STATUS[int(r.random() * len(_STATUS))]
    claim = f"CLM-{int(r.random() * 90_000_000) + 10_000_000}"
    story = _Story(person, claim, itype, fp, tp, short, home, loss_date,
                   min(loss_date + timedelta(days=int(r.random() * 3)), session_day), location,
                   loc_phrase.format(loc=location), amount, injuries, injury_text, injury_tp, st, _pick(r, _ADJUSTERS),
                   session_day)
    phone = channel == _CH_PHONE
    if flow == "fnol":
        story.fnol_msg = _fnol_message(story, r, phone)
        story.first_msg = story.fnol_msg if r.random() < 0.4 else _customer_message(label, story, r, phone)
    elif label in _LABEL_TOOL:
        story.first_msg = _tool_message(label, story, r, phone, session_day)
    elif label == "coverage_question":
        story.first_msg = _question(kb, r, phone)
    elif label:
        story.first_msg = _customer_message(label, story, r, phone)
    return story


def _slots(st: _Story, r: random.Random) -> dict[str, str]:
    p = st.p
    inc = st.fp
    return {
        "policy": p.policy, "claim": st.claim, "vehicle": p.vehicle, "first": p.first, "name": p.name,
        "email": p.email, "phone": p.phone, "card": p.card, "card4": p.card.replace(" ", "").replace("-", "")[-4:],
        "card_exp": f"{1 + int(r.random() * 12):02d}/{28 + int(r.random() * 4)}", "address": p.address,
        "city": _pick(r, _CITIES)[0], "highway": _pick(r, _HIGHWAYS), "incident": inc,
        "Incident": inc[0].upper() + inc[1:], "date": _fmt_date(st.report_date + timedelta(days=14), r),
    }


def _wrap(text_tpl: str, r: random.Random, phone: bool) -> str:
    if phone:
        return "caller: " + text_tpl
    return _pick(r, _OPENERS) + text_tpl + _pick(r, _CLOSERS)


def _customer_message(label: str, st: _Story, r: random.Random, phone: bool) -> str:
    tpl = _noisy(_pick(r, _TRIAGE_TEMPLATES[label]), r, phone)
    return _wrap(tpl, r, phone).format_map(_slots(st, r))


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


def _question(kb: int, r: random.Random, phone: bool) -> str:
    q = _noisy(_pick(r, KNOWLEDGE_BASE[kb]["questions"]), r, phone)
    if phone:
        return "caller: " + q
    return _pick(r, ("", "", "", "Quick question: ", "Hi, ", "Hello, ", "Hi there. ")) + q + _pick(r, ("", "", " Thanks.", " thx"))


def _fnol_message(st: _Story, r: random.Random, phone: bool) -> str:
    """A first-notice-of-loss message that states exactly the facts the extraction JSON holds."""
    p = st.p
    date_s = _fmt_date(st.loss_date, r)
    amount_s = ""
    if st.amount is not None:
        amount_s = _pick(r, ("The repair shop estimated {a}.", "I think the damage is about {a}.", "Estimate so far is {a}.",
                             "The contractor quoted {a}.", "Damage looks like around {a}.")).format(
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


# --------------------------------------------------------------------------------------------------
# Long documents: attachments and claim notes, grown to a token target drawn from the Azure shape
# --------------------------------------------------------------------------------------------------
_PARTS = (("Front bumper cover", 420, 980), ("Rear bumper cover", 390, 940), ("Headlamp assembly", 260, 1150),
          ("Hood panel", 480, 1300), ("Fender, left", 250, 720), ("Fender, right", 250, 720),
          ("Door shell, front left", 610, 1450), ("Quarter panel repair", 300, 900), ("Radiator support", 210, 640),
          ("Condenser", 240, 610), ("Windshield", 280, 1100), ("Wheel, alloy", 240, 820), ("Grille", 110, 460),
          ("Tail lamp", 120, 540), ("Airbag module", 650, 1400), ("Parking sensor", 60, 240))


def _estimate_lines(r: random.Random, n: int) -> list[tuple[str, int]]:
    idx = sorted(set(int(r.random() * len(_PARTS)) for _ in range(n)))
    items = [(_PARTS[i][0], int(_PARTS[i][1] + (_PARTS[i][2] - _PARTS[i][1]) * r.random())) for i in idx]
    hrs = round(4 + r.random() * 18, 1)
    items.append((f"Body labor {hrs} h @ $62/h", int(hrs * 62)))
    phrs = round(2 + r.random() * 8, 1)
    items.append((f"Paint labor {phrs} h @ $62/h", int(phrs * 62)))
    items.append(("Paint materials", int(phrs * 38)))
    return items


_STATEMENT_QA = {
    False: (("Where were you going at the time?", "I was heading to work like every morning."),
            ("How fast were you traveling?", "Maybe twenty-five, it's a residential street."),
            ("Did you see the other party before the loss?", "No, it happened really fast."),
            ("Had there been any prior damage to the vehicle?", "No, the car was in perfect shape before."),
            ("When did you first notice the damage?", "Right when I got back to the car that evening.")),
    True: (("Who was home when it happened?", "Just me, my kids were at school."),
           ("When did you first notice the damage?", "Right when I got home that evening."),
           ("Had there been any prior repairs in that area?", "No, the house was inspected when we bought it."),
           ("What did you do right after you noticed it?", "I called a plumber and took pictures of everything.")),
}


def _doc_template(k: int, home: bool, r: random.Random) -> str:
    """One paragraph of claim-file material of kind k, with the story's facts left as {slots}.

    Kinds: 0 estimate, 1 police/incident report, 2 recorded statement, 3 diary entry, 4 medical bills,
    5 photo log, 6 email from the insured. Dates are {d0}..{d9}: days after the report date.
    """
    d = f"{{d{int(r.random() * 10)}}}"
    if k == 0:
        lines = _estimate_lines(r, 3 + int(r.random() * 5))
        body = "\n".join(f"  {name:<34} {_money(v):>9}" for name, v in lines)
        return (f"[Attachment: supplement estimate, {_pick(r, _SHOPS)}, {d}]\n{body}\n"
                f"  {'Subtotal':<34} {_money(sum(v for _, v in lines)):>9}")
    if k == 1 and home:
        return (f"[Attachment: {_pick(r, ('fire department', 'police', 'municipal'))} incident report] Unit responded to "
                f"{{location}} at {7 + int(r.random() * 14):02d}:{int(r.random() * 60):02d}. Resident {{name}} stated that "
                f"{{tp}}. Neighbor {_pick(r, _FIRST)} {_pick(r, _LAST)} ({_phone(r)}) confirmed the timeline. Scene "
                f"secured; incident number {20260000 + int(r.random() * 99999)}.")
    if k == 1:
        return (f"[Attachment: police report excerpt] Reporting officer {_pick(r, _FIRST)} {_pick(r, _LAST)}, badge "
                f"{1000 + int(r.random() * 8999)}. Officer responded to {{location}} at {7 + int(r.random() * 14):02d}:"
                f"{int(r.random() * 60):02d}. Reporting party {{name}} stated that {{tp}}. Witness "
                f"{_pick(r, _FIRST)} {_pick(r, _LAST)} ({_phone(r)}) corroborated the sequence of events. Road surface "
                f"{_pick(r, ('dry', 'wet', 'icy', 'snow-covered'))}, visibility {_pick(r, ('good', 'fair', 'poor'))}. "
                f"No citations issued at the scene; report number {20260000 + int(r.random() * 99999)}.")
    if k == 2:
        q, a = _pick(r, _STATEMENT_QA[home])
        end = _pick(r, ("No, that is everything.", "Only that I need this fixed quickly.", "I sent photos to the email you gave me."))
        return f"[Recorded statement, {d}] Q: {q} A ({{first}}): {a} Q: Anything else we should know? A: {end}"
    if k == 4:
        lines = [(_pick(r, ("Emergency room visit", "X-ray, cervical spine", "Physical therapy session", "Orthopedic consult",
                            "Urgent care visit", "Prescription")), 80 + int(r.random() * 2400)) for _ in range(2 + int(r.random() * 4))]
        body = "; ".join(f"{n} {_money(v)}" for n, v in lines)
        return (f"[Attachment: medical bills, provider {_pick(r, ('St. Mary Medical Center', 'Lakeside Urgent Care', 'Summit Orthopedics', 'Harbor Physical Therapy'))}, "
                f"patient {{name}}] {body}.")
    if k == 5:
        return (f"[Photo log] IMG_{int(r.random() * 9000) + 1000}.jpg: {_pick(r, ('overall view', 'close-up of the damage', 'odometer reading', 'VIN plate', 'interior ceiling stain', 'debris in the driveway'))}; "
                f"IMG_{int(r.random() * 9000) + 1000}.jpg: {_pick(r, ('scrape marks', 'broken glass', 'water line on drywall', 'hail dents on the roof', 'other vehicle'))}. "
                f"Uploaded by the insured from {{email}}.")
    if k == 6:
        return (f"[Email from insured, {d}] From: {{email}}. {_pick(r, ('Hi, just checking on the claim.', 'Attached are the receipts you asked for.', 'When can the inspector come out?', 'The shop says they need approval before starting.'))} "
                f"{_pick(r, ('My address is', 'The car is at', 'Mail the check to'))} {{address}}. {{first}}")
    return (f"{d} {7 + int(r.random() * 11):02d}:{int(r.random() * 60):02d} ({_pick(r, _ADJUSTERS)}): "
            f"{_pick(r, ('Left voicemail for the insured at', 'Spoke with the insured at', 'Texted the insured at'))} "
            f"{{phone}}; {_pick(r, ('confirmed the loss details', 'requested photos of the damage', 'explained the rental process', 'discussed the repair timeline', 'insured asked about the deductible'))}. "
            f"{_pick(r, ('Diary set for 3 days.', 'Will follow up after the inspection.', 'Awaiting documents.', 'No further action today.'))}")


_BANK_SIZE = 256


@lru_cache(maxsize=1)
def _doc_bank() -> dict[tuple[bool, int], tuple[str, ...]]:
    """Pre-rendered paragraph templates per (home loss, kind); filling one is a single format_map."""
    r = random.Random(0x0DDBA11)
    return {(home, k): tuple(_doc_template(k, home, r) for _ in range(_BANK_SIZE)) for home in (False, True) for k in range(7)}


def _doc_slots(st: _Story) -> dict[str, str]:
    if st.slots is None:
        p = st.p
        st.slots = {"name": p.name, "first": p.first, "phone": p.phone, "email": p.email, "address": p.address,
                    "location": st.location, "tp": st.tp,
                    **{f"d{i}": min(st.report_date + timedelta(days=i), st.day).isoformat() for i in range(10)}}
    return st.slots


def _grow(st: _Story, r: random.Random, head: str, target_tokens: int, estimates: bool = True) -> str:
    """Append claim-file paragraphs to head until it reaches about target_tokens.

    Medical bills only when someone was hurt; no estimates where they would contradict a stated amount.
    """
    bank = _doc_bank()
    slots = _doc_slots(st)
    parts = [head]
    n = len(head)
    goal = target_tokens * 4
    while n < goal:
        k = int(r.random() * 7)
        if (k == 0 and not estimates) or (k == 4 and st.injuries is not True):
            k = 3
        para = bank[(st.home, k)][int(r.random() * _BANK_SIZE)].format_map(slots)
        parts.append(para)
        n += len(para) + 2
    return "\n\n".join(parts)


def _claim_notes(st: _Story, r: random.Random, target_tokens: int) -> str:
    p = st.p
    amount = f"Reserve/estimate: {_money(st.amount)}" if st.amount is not None else "Reserve/estimate: not yet set"
    inj = {None: "Injuries: unknown", True: f"Injuries: yes ({st.injury_tp})", False: "Injuries: none reported"}[st.injuries]
    head = (f"CLAIM FILE {st.claim}\nPolicy: {p.policy} | Insured: {p.name} | Phone: {p.phone} | Email: {p.email}\n"
            f"Loss type: {st.itype} ({st.short}) | Date of loss: {st.loss_date.isoformat()} | Location: {st.location}\n"
            f"{amount} | {inj}\nAssigned adjuster: {st.adjuster}\n\nNOTES\n"
            f"{st.report_date.isoformat()} 09:{int(r.random() * 60):02d} ({st.adjuster}): FNOL taken. Insured reports that "
            f"{st.tp}. Coverage verified on policy {p.policy}.\n"
            f"{min(st.report_date + timedelta(days=1), st.day).isoformat()} 14:{int(r.random() * 60):02d} ({st.adjuster}): Status: "
            f"{st.status[0]}. Next step: {st.status[1]}.")
    return _grow(st, r, head, target_tokens)


def _summary_answer(st: _Story, r: random.Random) -> str:
    p = st.p
    dl = f"{st.loss_date:%B} {st.loss_date.day}, {st.loss_date.year}"
    amount = f"The estimated damage is {_money(st.amount)}." if st.amount is not None else "No damage estimate is on file yet."
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


# --------------------------------------------------------------------------------------------------
# Adjusters' requests and the frontier model's long answers
# --------------------------------------------------------------------------------------------------
_GENERIC_PARAS = (
    "Documentation: make sure the file holds the signed proof of loss, the photos with their timestamps, the "
    "estimate or invoice for every amount we pay, and a diary note explaining each decision. If this claim is "
    "ever audited or reaches litigation, the reasoning has to be readable from the file alone.",
    "Regulatory timing: the acknowledgement must go out within 2 business days of the notice and the coverage "
    "decision within 15 business days of receiving the last requested document. If any of these dates slips, send "
    "a written status letter that explains why and when the member will hear from us next.",
    "Communication: call {first} before anything goes out in writing, walk through the numbers in plain language, "
    "and confirm the preferred contact channel. Members who hear the reasoning first escalate far less often, even "
    "when the answer is not what they hoped for.",
    "Reserve adequacy: compare the current reserve ({reserve}) with the indicated exposure. If the indicated amount "
    "moves by more than 20%, update the reserve the same day and note the reason, so the monthly reserve review "
    "does not flag this file.",
    "Vendor management: if we assign an independent appraiser or a contractor, give them the claim number {claim}, "
    "the loss date and the scope in writing, and ask for their report within 5 business days. Late vendor reports "
    "are the most common cause of missed decision deadlines.",
    "Coverage position: nothing in the file so far suggests a coverage problem beyond what is noted above, but "
    "confirm that the policy {policy} was in force on the date of loss and that the loss location matches the "
    "declarations before issuing any payment.",
    "Risks: the main uncertainties are hidden damage found during the teardown, a dispute over the labor rate, and "
    "the timing of parts. Each of these can add one to two weeks; set expectations with the member accordingly.",
    "Fairness check: before finalising, ask whether a reasonable member reading our letter would understand what was "
    "paid, what was not, and why. If the answer is no, rewrite the explanation rather than adding more policy text.",
    "Next review: set a diary for 7 days to confirm that the actions above are complete, that the member has "
    "received payment or a written explanation, and that the reserve reflects the remaining exposure.",
)


def _reason_request(kind: str, st: _Story, r: random.Random, target_tokens: int) -> tuple[str, dict]:
    """An adjuster's request (with attached material up to target_tokens) and the facts for its answer."""
    p = st.p
    facts: dict[str, Any] = {}
    if kind == "compare_estimates":
        shop_a, shop_b = _pick(r, _SHOPS[:4]), _pick(r, _SHOPS[4:])
        a = _estimate_lines(r, 4 + int(r.random() * 4))
        b = [(n, int(v * (0.9 + r.random() * 0.45))) for n, v in a]
        facts.update(a=a, b=b, shop_a=shop_a, shop_b=shop_b)
        fmt = lambda items: "\n".join(f"  {n:<34} {_money(v):>9}" for n, v in items)  # noqa: E731
        head = (f"Compare these two repair estimates for claim {st.claim} ({p.vehicle}, insured {p.name}) and advise "
                f"which one we should approve and why. Flag any line items that look inflated.\n\n"
                f"ESTIMATE A - {shop_a}\n{fmt(a)}\n  {'TOTAL':<34} {_money(sum(v for _, v in a)):>9}\n\n"
                f"ESTIMATE B - {shop_b}\n{fmt(b)}\n  {'TOTAL':<34} {_money(sum(v for _, v in b)):>9}\n\nClaim file material:")
    elif kind == "denial_letter":
        loss, excl = _pick(r, (("basement flooding after heavy rain", "flood and surface water"),
                               ("a roof leak caused by long-term deterioration", "wear and tear"),
                               ("foundation cracks after the ground settled", "earth movement"),
                               ("damage to the vehicle while it was used for food delivery", "business use"),
                               ("mold growth from a slow leak under the sink", "continuous seepage and mold")))
        facts.update(loss=loss, excl=excl)
        head = (f"Draft a letter to {p.name} ({p.address}) explaining that claim {st.claim} for {loss} is not covered "
                f"under policy {p.policy} because of the {excl} exclusion. Keep the tone empathetic, explain what we "
                f"reviewed, and include their appeal rights.\n\nBackground from the file:")
    elif kind == "delay_letter":
        reason = _pick(r, ("we are still waiting for the police report", "the independent appraiser needs to re-inspect the vehicle",
                           "the contractor's bid has not arrived", "we need the medical records to complete the review"))
        facts.update(reason=reason)
        head = (f"Write a letter to {p.name} explaining why claim {st.claim} is taking longer than expected: {reason}. "
                f"Apologize, give a realistic timeline and tell them what they can do to help.\n\nFile notes:")
    elif kind == "fraud_review":
        flags = [f for f in ("the policy was bound 19 days before the loss", "the insured changed the mailing address twice in a month",
                             "the repair invoice is from a shop with no web presence", "the loss was reported 11 days late",
                             "the photos' metadata predates the reported loss date", "a prior similar claim was paid in 2025",
                             "the insured is pressing for a cash settlement") if r.random() < 0.45] or ["the loss was reported 11 days late"]
        facts.update(flags=flags)
        head = (f"Review the file for claim {st.claim} ({st.short}, insured {p.name}) and list any fraud indicators. "
                f"Tell me whether to refer it to SIU. Things I noticed: {'; '.join(flags)}.\n\nFile:")
    elif kind == "total_loss_valuation":
        base = 9000 + int(r.random() * 21000)
        comps = [(f"{p.vehicle.split(' ', 1)[1]} {_pick(r, ('LE', 'SE', 'XLE', 'Sport', 'Touring', 'EX'))}",
                  int(base * (0.88 + r.random() * 0.25)), 40000 + int(r.random() * 60000)) for _ in range(3 + int(r.random() * 3))]
        repair = int(base * (0.55 + r.random() * 0.45))
        facts.update(comps=comps, repair=repair)
        rows = "\n".join(f"  Comp {i + 1}: {n}, {m:,} miles, listed {_money(v)}" for i, (n, v, m) in enumerate(comps))
        head = (f"Calculate the actual cash value for the {p.vehicle} on claim {st.claim} from these comparables and tell "
                f"me whether it is a total loss given the repair estimate of {_money(repair)}.\n{rows}\n\nFile:")
    elif kind == "subrogation_assessment":
        fault = 60 + int(r.random() * 41)
        facts.update(fault=fault, paid=st.amount or 4000 + int(r.random() * 8000))
        head = (f"Assess our subrogation potential on claim {st.claim}. We paid {_money(facts['paid'])} so far. The police "
                f"report and statements are below; the other carrier has accepted {fault}% liability in principle.\n\nFile:")
    elif kind == "coverage_analysis":
        kbs = sorted(set(int(r.random() * len(KNOWLEDGE_BASE)) for _ in range(3)))
        facts.update(kbs=kbs)
        head = (f"{p.name} (policy {p.policy}) reports that {st.tp}. They are asking what is covered, including a rental "
                f"and any medical bills. Walk me through which coverages apply, the deductibles, and what is excluded.\n\n"
                f"Relevant policy language:\n" + "\n".join(f"- {KNOWLEDGE_BASE[i]['excerpt']}" for i in kbs) + "\n\nFile:")
    elif kind == "reserve_recommendation":
        facts.update(ind=(st.amount or 6000) + int(r.random() * 4000), exp=400 + int(r.random() * 2200))
        head = (f"Recommend an initial reserve for claim {st.claim} ({st.short}, {st.location}). Split indemnity and "
                f"expense, and explain the assumptions.\n\nFile:")
    else:  # claimant_email
        d = st.report_date + timedelta(days=3 + int(r.random() * 8))
        facts.update(insp=d)
        head = (f"Write an email to {p.name} at {p.email} explaining the next steps on claim {st.claim}: the inspection "
                f"on {_fmt_date(d, r)}, how the rental car works, and what documents we still need.\n\nNotes:")
    return _grow(st, r, head, target_tokens), facts


def _reason_answer(kind: str, st: _Story, facts: dict, r: random.Random, target_tokens: int) -> str:
    p = st.p
    parts: list[str] = []
    if kind == "compare_estimates":
        a, b = facts["a"], facts["b"]
        ta, tb = sum(v for _, v in a), sum(v for _, v in b)
        diffs = sorted(((vb - va, n, va, vb) for (n, va), (_, vb) in zip(a, b)), reverse=True)[:3]
        win, shop, tot = ("A", facts["shop_a"], ta) if ta <= tb else ("B", facts["shop_b"], tb)
        parts.append(f"Recommendation: approve Estimate {win} from {shop} at {_money(tot)}, subject to a supplement "
                     f"review if hidden damage turns up during teardown.")
        parts.append(f"Totals: Estimate A ({facts['shop_a']}) comes to {_money(ta)} and Estimate B ({facts['shop_b']}) to "
                     f"{_money(tb)}, a difference of {_money(abs(tb - ta))} ({abs(tb - ta) / max(ta, 1):.0%} of Estimate A). "
                     f"Both estimates cover the same repair scope on the {p.vehicle}, so the gap comes from pricing rather "
                     f"than from what is being repaired.")
        parts.append("Line items that drive the difference:\n" + "\n".join(
            f"- {n}: {_money(va)} vs {_money(vb)} ({'+' if d >= 0 else '-'}{_money(abs(d))})" for d, n, va, vb in diffs))
        parts.append("Labor: check the body and paint hours against the standard labor guide for this model. Hours more "
                     "than 15% above the guide need a written justification from the shop before we pay them.")
    elif kind == "denial_letter":
        parts.append(f"Dear {p.name},")
        parts.append(f"Thank you for reporting claim {st.claim} and for the information you shared with us. We know that "
                     f"dealing with {facts['loss']} is stressful, and we have reviewed your claim carefully.")
        parts.append(f"After reviewing the photos, the inspection report and your policy {p.policy}, we have concluded that "
                     f"this loss is not covered. Your policy excludes loss caused by {facts['excl']}, and the evidence shows "
                     f"that this was the cause of the damage.")
        parts.append("If you have information we have not considered, such as a contractor's report or additional photos, "
                     "please send it to us and we will review our decision. You may also request an appeal in writing "
                     "within 60 days of this letter, or contact your state's Department of Insurance.")
        parts.append("We are sorry this is not the answer you hoped for. Your adjuster is available to discuss this letter "
                     "and can point you to resources that may help with repairs.")
    elif kind == "delay_letter":
        parts.append(f"Dear {p.first},")
        parts.append(f"I am writing with an update on claim {st.claim}. I am sorry it is taking longer than we expected: "
                     f"{facts['reason']}. We cannot complete our review until that is in hand.")
        parts.append("We expect to have what we need within the next 10 business days, and we will make a decision within 15 "
                     "business days after that. I will call you as soon as anything changes.")
    elif kind == "fraud_review":
        flags = facts["flags"]
        parts.append(f"Fraud indicators found on claim {st.claim} ({len(flags)}):\n" + "\n".join(f"- {f}" for f in flags))
        refer = len(flags) >= 3
        parts.append(("Recommendation: refer the claim to SIU. Three or more independent indicators meet our referral "
                      "threshold, and payment should be held until SIU responds.") if refer else
                     ("Recommendation: no SIU referral at this stage. The indicators are individually explainable; "
                      "document them, verify them with the insured, and re-evaluate if anything new appears."))
        parts.append("None of these indicators proves fraud on its own, and the member must be treated as acting in good "
                     "faith. Ask neutral verification questions and request the original photo files.")
    elif kind == "total_loss_valuation":
        comps, repair = facts["comps"], facts["repair"]
        acv = int(sum(v for _, v, _ in comps) / len(comps))
        thr = int(acv * 0.75)
        parts.append(f"Actual cash value: averaging the {len(comps)} comparables gives {_money(acv)}:\n" + "\n".join(
            f"- {n}, {m:,} miles: {_money(v)}" for n, v, m in comps))
        total = repair > thr
        parts.append(f"Total loss test: the threshold is 75% of the ACV, {_money(thr)}. The repair estimate of "
                     f"{_money(repair)} is {'above' if total else 'below'} it, so the vehicle "
                     f"{'is a total loss' if total else 'should be repaired'}." +
                     (f" The settlement is {_money(acv)} minus the deductible, plus applicable taxes and fees." if total else ""))
        parts.append("Adjust each comparable for mileage and options before finalising; a difference of 10,000 miles is worth "
                     "roughly 2 to 4 percent on vehicles of this age.")
    elif kind == "subrogation_assessment":
        fault, paid = facts["fault"], facts["paid"]
        parts.append(f"Subrogation potential is {'strong' if fault >= 80 else 'moderate'}. With the other carrier accepting "
                     f"{fault}% liability, the expected recovery on the {_money(paid)} paid is {_money(paid * fault // 100)}, "
                     f"and the member's deductible should be recovered in the same proportion.")
        parts.append("Send the demand package within 30 days: the payment ledger, the estimate, photos, the police report and "
                     "the recorded statement. If the carrier disputes the percentage, consider inter-company arbitration.")
    elif kind == "coverage_analysis":
        parts.append(f"Short answer for {p.name}: the loss itself ({st.short}) falls under the coverage that matches the "
                     f"cause of loss, subject to its deductible; the points below cover the add-ons they asked about.")
        for i in facts["kbs"]:
            parts.append(f"- {KNOWLEDGE_BASE[i]['answers'][0]}")
        parts.append("Confirm on the declarations page which endorsements are actually on the policy before quoting any "
                     "limit to the member.")
    elif kind == "reserve_recommendation":
        ind, exp = facts["ind"], facts["exp"]
        parts.append(f"Recommended initial reserve for claim {st.claim}: indemnity {_money(ind)}, expense {_money(exp)}, "
                     f"total {_money(ind + exp)}.")
        parts.append("Assumptions: indemnity reflects the current estimate plus a margin for supplements typical of a "
                     f"{st.short}; expense covers an independent appraisal and possible vendor fees.")
    else:
        parts.append(f"Subject: Next steps on your claim {st.claim}\n\nHi {p.first},")
        parts.append(f"Thank you for your patience. Our inspector will visit on {facts['insp']:%B} {facts['insp'].day}. "
                     "Please make sure the damaged area is accessible and have any photos or receipts ready.")
        parts.append("If your policy includes rental reimbursement, you can pick up a rental car at any partner location; "
                     "we pay up to $40 a day for up to 30 days while your car is being repaired.")
    goal = target_tokens * 4
    n = sum(len(x) for x in parts)
    pool = list(range(len(_GENERIC_PARAS)))
    r.shuffle(pool)
    vals = {"first": p.first, "claim": st.claim, "policy": p.policy,
            "reserve": _money(st.amount) if st.amount is not None else "not yet set"}
    for i in pool:
        if n >= goal:
            break
        para = _GENERIC_PARAS[i].format_map(vals)
        parts.append(para)
        n += len(para)
    k = 0
    while n < goal:  # very long answers: a step-by-step action plan
        k += 1
        para = (f"Step {k}: {_pick(r, ('Call', 'Email', 'Write to', 'Meet with'))} "
                f"{_pick(r, ('the insured', 'the body shop', 'the other carrier', 'the independent appraiser', 'the contractor', 'SIU'))} "
                f"to {_pick(r, ('confirm the scope of the damage', 'agree on the labor rate', 'request missing documents', 'confirm the payment details', 'set the inspection time', 'review the supplement'))}, "
                f"and record the outcome in the file for claim {st.claim} the same day.")
        parts.append(para)
        n += len(para)
    if kind in ("denial_letter", "delay_letter"):
        parts.append(f"Sincerely,\n{st.adjuster}\nClaims Department, Northwind Mutual")
    elif kind == "claimant_email":
        parts.append(f"Best regards,\n{st.adjuster}\nNorthwind Mutual Claims")
    return "\n\n".join(parts)


# --------------------------------------------------------------------------------------------------
# The plan: every call's skeleton, drawn with numpy (vectorised), then sorted in time
# --------------------------------------------------------------------------------------------------
_CH_WEB, _CH_PHONE, _CH_MOBILE, _CH_DESK = range(4)
_ST_OK, _ST_429, _ST_TIMEOUT, _ST_500 = range(4)
# flow name, steps, weight, adjuster flow
_FLOWS = (
    ("fnol", (T_TRIAGE, T_EXTRACT, T_SUMMARY), 0.14, False),
    ("status", (T_TRIAGE, T_TOOL), 0.08, False),
    ("contact", (T_TRIAGE, T_TOOL), 0.05, False),
    ("inspection", (T_TRIAGE, T_TOOL), 0.03, False),
    ("policy", (T_TRIAGE, T_TOOL), 0.04, False),
    ("question", (T_TRIAGE, T_QA), 0.09, False),
    ("question2", (T_TRIAGE, T_QA, T_QA), 0.04, False),
    ("other", (T_TRIAGE,), 0.10, False),
    ("faq", (T_QA,), 0.04, False),
    ("faq2", (T_QA, T_QA), 0.01, False),
    ("notes", (T_SUMMARY,), 0.07, True),
    ("reason", (T_REASON,), 0.11, True),
    ("reason2", (T_REASON, T_REASON), 0.02, True),
    ("notes_reason", (T_SUMMARY, T_REASON), 0.02, True),
)
_FLOW_LABEL = {"fnol": "file_new_claim", "status": "claim_status", "contact": "update_contact_details",
               "inspection": "schedule_inspection", "policy": "policy_details", "question": "coverage_question",
               "question2": "coverage_question"}
# Model routing, P(frontier, mini, internal) by task; triage moved to mini 40% into the window.
_ROUTING = {T_TRIAGE: (0.45, 0.55, 0.0), T_EXTRACT: (0.70, 0.30, 0.0), T_TOOL: (0.55, 0.45, 0.0),
            T_QA: (0.20, 0.62, 0.18), T_SUMMARY: (0.55, 0.30, 0.15), T_REASON: (1.0, 0.0, 0.0)}
_TRIAGE_ROUTING_LATE = (0.08, 0.92, 0.0)
_TEMPERATURE = {T_TRIAGE: 0.0, T_EXTRACT: 0.0, T_TOOL: 0.0, T_QA: 0.2, T_SUMMARY: 0.3, T_REASON: 0.7}


@dataclass
class _Plan:
    start_us: int
    # per record, in time order
    ts_us: np.ndarray
    sess: np.ndarray
    step: np.ndarray
    attempt: np.ndarray
    task: np.ndarray
    label: np.ndarray
    model: np.ndarray
    status: np.ndarray
    err_ms: np.ndarray
    noise: np.ndarray
    load: np.ndarray
    ctx: np.ndarray
    gen: np.ndarray
    rid: np.ndarray  # 'S29' base62 response ids
    span: np.ndarray
    # per session
    s_flow: np.ndarray
    s_user: np.ndarray
    s_insured: np.ndarray
    s_channel: np.ndarray
    s_label: np.ndarray
    s_incident: np.ndarray
    s_kb: np.ndarray
    s_sid: np.ndarray
    s_trace: np.ndarray
    s_day: np.ndarray
    # record position -> defect ("truncated", "nul", "negative_latency", "logged_twice")
    defects: dict[int, list[str]]


def _intensity(start: datetime, days: int, diurnal, weekday, rng: np.random.Generator) -> np.ndarray:
    """Relative arrival rate per minute over the window."""
    m = np.arange(days * 1440, dtype=np.float64)
    local_h = ((m / 60.0 + start.hour + _UTC_OFFSET_H) % 24.0)
    hours = np.arange(25, dtype=np.float64)
    w = np.interp(local_h, hours, np.append(diurnal, diurnal[0]))
    day = ((m / 60.0 + start.hour + _UTC_OFFSET_H) // 24).astype(np.int64)
    wd = np.asarray(weekday)[(start.weekday() + day) % 7]
    growth = (1.0 + _GROWTH_PER_DAY) ** (m / 1440.0)
    k = 1.0 / AZ_MINUTE_EXCESS_CV ** 2
    noise = rng.gamma(k, 1.0 / k, size=m.size)
    return w * wd * growth * noise


def _sample_times(w: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Arrival times in microseconds from the window start, by inverse CDF over the minute rates."""
    cdf = np.cumsum(w)
    idx = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
    return ((idx + rng.random(n)) * 60e6).astype(np.int64)


def _lognormal(rng: np.random.Generator, mu: float, sd: float, n: int, lo: int, hi: int) -> np.ndarray:
    return np.clip(rng.lognormal(mu, sd, n), lo, hi).astype(np.int32)


def _plan(n_calls: int, days: int, seed: int, bad_records: bool, otel_share: float) -> _Plan:
    if n_calls < 1 or days < 1:
        raise ValueError("n_calls and days must be at least 1")
    if not 0.0 <= otel_share <= 1.0:
        raise ValueError("otel_share must be between 0 and 1")
    rng = np.random.default_rng([seed & 0xFFFFFFFF, 0x5EED])
    start_us = int(START.timestamp() * 1e6)
    window_us = days * 86_400_000_000
    f_len = np.array([len(f[1]) for f in _FLOWS])
    f_p = np.array([f[2] for f in _FLOWS]) / sum(f[2] for f in _FLOWS)
    f_adj = np.array([f[3] for f in _FLOWS])
    steps = np.full((len(_FLOWS), 3), -1, dtype=np.int8)
    for i, f in enumerate(_FLOWS):
        steps[i, :len(f[1])] = f[1]
    calls_per_session = float((f_len * f_p).sum())
    customer_share = float((f_len * f_p * ~f_adj).sum()) / calls_per_session
    p_mobile = min(1.0, otel_share / customer_share)

    # sessions, enough to cover n_calls records with retries
    S = int(n_calls / calls_per_session / 0.97) + 16
    flow = rng.choice(len(_FLOWS), size=S, p=f_p).astype(np.int8)
    adj = f_adj[flow]
    u_ch = rng.random(S)
    channel = np.where(adj, _CH_DESK, np.where(u_ch < p_mobile, _CH_MOBILE,
                                               np.where(rng.random(S) < 0.65, _CH_WEB, _CH_PHONE))).astype(np.int8)
    n_cust = max(20, int(S * 0.7))
    cust = (n_cust * rng.random(S) ** 1.5).astype(np.int32)  # repeat customers
    insured = (n_cust * rng.random(S)).astype(np.int32)
    user = np.where(adj, (rng.random(S) * 36).astype(np.int32), cust)
    insured = np.where(adj, insured, cust)
    s_label = np.full(S, -1, dtype=np.int16)
    for name, lab in _FLOW_LABEL.items():
        s_label[flow == [f[0] for f in _FLOWS].index(name)] = TRIAGE_LABELS.index(lab)
    other = flow == [f[0] for f in _FLOWS].index("other")
    s_label[other] = np.array([TRIAGE_LABELS.index(x) for x in _OTHER_LABELS])[
        rng.choice(len(_OTHER_LABELS), size=int(other.sum()), p=_OTHER_LABEL_P)]
    incident = rng.choice(len(INCIDENT_TYPES), size=S, p=_INCIDENT_P).astype(np.int16)
    kb = rng.integers(0, len(KNOWLEDGE_BASE), S).astype(np.int16)
    sid = rng.integers(0, 2**63 - 1, S, dtype=np.int64)
    trace = rng.integers(0, 2**63 - 1, (S, 2), dtype=np.int64)
    w_c = _intensity(START, days, _DIURNAL_CUSTOMER, _WEEKDAY_CUSTOMER, rng)
    w_a = _intensity(START, days, _DIURNAL_ADJUSTER, _WEEKDAY_ADJUSTER, rng)
    s_start = np.where(adj, _sample_times(w_a, S, rng), _sample_times(w_c, S, rng))
    rel_c, rel_a = w_c / w_c.mean(), w_a / w_a.mean()
    minute = np.minimum(s_start // 60_000_000, w_c.size - 1)
    s_load = np.where(adj, rel_a[minute], rel_c[minute])

    # logical calls
    c_sess = np.repeat(np.arange(S, dtype=np.int32), f_len[flow])
    first = np.cumsum(f_len[flow]) - f_len[flow]
    c_step = (np.arange(c_sess.size) - np.repeat(first, f_len[flow])).astype(np.int8)
    C = c_sess.size
    c_task = steps[flow[c_sess], c_step]
    c_label = np.full(C, -1, dtype=np.int16)
    is_t = c_task == T_TRIAGE
    c_label[is_t] = s_label[c_sess[is_t]]
    is_tool = c_task == T_TOOL
    tool_of = np.array([TOOL_NAMES.index(_LABEL_TOOL[x]) if x in _LABEL_TOOL else -1 for x in TRIAGE_LABELS], dtype=np.int16)
    c_label[is_tool] = tool_of[s_label[c_sess[is_tool]]]
    is_qa = c_task == T_QA
    first_qa = is_qa & ((c_step == 0) | (c_task[np.maximum(np.arange(C) - 1, 0)] != T_QA))
    c_label[is_qa] = rng.integers(0, len(KNOWLEDGE_BASE), int(is_qa.sum()))
    c_label[first_qa] = kb[c_sess[first_qa]]
    is_x = (c_task == T_EXTRACT) | (c_task == T_SUMMARY)
    c_label[is_x] = incident[c_sess[is_x]]
    is_r = c_task == T_REASON
    c_label[is_r] = rng.choice(len(REASONING_KINDS), size=int(is_r.sum()), p=_REASON_P)
    # model routing (a retry keeps the request, so the model is drawn per logical call)
    u_m = rng.random(C)
    late = s_start[c_sess] > 0.4 * window_us
    c_model = np.zeros(C, dtype=np.int8)
    for t, probs in _ROUTING.items():
        if t == T_TRIAGE:
            pr = np.where(late[:, None], np.array(_TRIAGE_ROUTING_LATE), np.array(probs))
        else:
            pr = np.broadcast_to(np.array(probs), (C, 3))
        sel = c_task == t
        cum = np.cumsum(pr[sel], axis=1)
        c_model[sel] = (u_m[sel][:, None] > cum[:, :2]).sum(axis=1)
    # document and answer lengths, shaped on the Azure conversation trace
    c_ctx = np.zeros(C, dtype=np.int32)
    c_gen = np.zeros(C, dtype=np.int32)
    c_ctx[c_task == T_SUMMARY] = _lognormal(rng, AZ_CTX_LOG_MU, AZ_CTX_LOG_SD, int((c_task == T_SUMMARY).sum()), 250, 12000)
    nr = int(is_r.sum())
    long_mode = rng.random(nr) < 0.55
    c_ctx[is_r] = np.where(long_mode, _lognormal(rng, AZ_CTX_LONG_LOG_MU, AZ_CTX_LONG_LOG_SD, nr, 1500, 14000),
                           _lognormal(rng, AZ_CTX_LOG_MU, AZ_CTX_LOG_SD, nr, 300, 14000))
    c_gen[is_r] = _lognormal(rng, AZ_GEN_LONG_LOG_MU, AZ_GEN_LONG_LOG_SD, nr, 150, 1000)
    is_e = c_task == T_EXTRACT
    ne = int(is_e.sum())
    c_ctx[is_e] = np.where(rng.random(ne) < 0.25, _lognormal(rng, AZ_CTX_LOG_MU, AZ_CTX_LOG_SD, ne, 200, 6000), 0)

    # errors and retries: rate limits follow load, timeouts follow long generations
    load = s_load[c_sess]
    p429 = 0.006 * load ** 1.5
    pto = np.where(is_r, 0.012, np.where(c_task == T_SUMMARY, 0.005, 0.002))
    p500 = np.full(C, 0.003)
    ptot = p429 + pto + p500
    u = rng.random((C, 5))
    e1 = u[:, 0] < ptot
    r1 = e1 & (u[:, 1] < 0.85)
    e2 = r1 & (u[:, 2] < np.minimum(ptot * 2.5, 0.5))
    r2 = e2 & (u[:, 3] < 0.7)
    etype = np.where(u[:, 4] * ptot < p429, _ST_429, np.where(u[:, 4] * ptot < p429 + pto, _ST_TIMEOUT, _ST_500))
    n_att = 1 + r1.astype(np.int64) + r2

    # records
    R_all = int(n_att.sum())
    if R_all < n_calls:  # vanishingly rare: too few sessions drawn; draw again with another seed stream
        return _plan(n_calls, days, seed + 104_729, bad_records, otel_share)
    r_call = np.repeat(np.arange(C), n_att)[:n_calls]
    first_att = np.cumsum(n_att) - n_att
    r_att = (np.arange(n_calls) - first_att[r_call]).astype(np.int8)
    ok = ((r_att == 0) & ~e1[r_call]) | ((r_att == 1) & ~e2[r_call]) | (r_att == 2)
    status = np.where(ok, _ST_OK, np.where(r_att == 0, etype[r_call], np.where(etype[r_call] == _ST_TIMEOUT, _ST_429, etype[r_call])))
    status = status.astype(np.int8)
    task = c_task[r_call]
    R = n_calls
    err_ms = np.where(status == _ST_429, rng.lognormal(np.log(120), 0.5, R),
                      np.where(status == _ST_TIMEOUT, np.where(task == T_REASON, 60000.0, 30000.0) + rng.random(R) * 400,
                               rng.lognormal(np.log(1500), 0.6, R))).astype(np.float32)
    noise = (rng.lognormal(0.0, 0.25, R) * np.where(rng.random(R) < 0.015, 2.0 + 3.0 * rng.random(R), 1.0)).astype(np.float32)

    # timing inside sessions: automated hand-offs are quick, people are slow, retries back off
    sess = c_sess[r_call]
    step = c_step[r_call]
    prev_task = np.where(step > 0, c_task[np.maximum(r_call - 1, 0)], -1)
    think = np.where(task == T_SUMMARY, rng.lognormal(np.log(90e6), 0.6, R),  # agent gathers details first
                     np.where((task == T_QA) & (prev_task == T_QA), rng.lognormal(np.log(45e6), 0.5, R),
                              np.where(task == T_REASON, rng.lognormal(np.log(180e6), 0.7, R),
                                       0.6e6 + rng.lognormal(np.log(1.2e6), 0.4, R))))
    backoff = (2.0 ** r_att) * (0.6 + 0.8 * rng.random(R)) * 1e6
    prev_err = np.concatenate([[0.0], err_ms[:-1].astype(np.float64)]) * 1e3
    gap = np.where(r_att > 0, prev_err + backoff, np.where(step > 0, think, 0.0))
    first_rec = np.r_[True, sess[1:] != sess[:-1]]
    gap[first_rec] = 0.0
    cg = np.cumsum(gap)
    seg_start = np.maximum.accumulate(np.where(first_rec, np.arange(R), 0))
    offset = (cg - cg[seg_start]).astype(np.int64)
    span_us = np.zeros(S, dtype=np.int64)
    np.maximum.at(span_us, sess, offset)
    s_start = np.minimum(s_start, window_us - span_us - 90_000_000)  # sessions end inside the window
    s_start = np.maximum(s_start, 0)
    ts = np.minimum(s_start[sess] + offset, window_us - 1)

    rid = np.frombuffer(_ALNUM.encode(), dtype=np.uint8)[rng.integers(0, 62, (R, 29), dtype=np.uint8)].copy().view("S29").ravel()
    span = rng.integers(0, 2**63 - 1, R, dtype=np.int64)
    order = np.argsort(ts, kind="stable")
    ctx = c_ctx[r_call]
    gen = c_gen[r_call]
    label = c_label[r_call]
    model = c_model[r_call]
    loadr = load[r_call].astype(np.float32)
    s_day = (START.date().toordinal() + (s_start // 86_400_000_000)).astype(np.int32)

    p = _Plan(start_us, (start_us + ts)[order], sess[order], step[order], r_att[order], task[order], label[order],
              model[order], status[order], err_ms[order], noise[order], loadr[order], ctx[order], gen[order],
              rid[order], span[order], flow, user, insured, channel, s_label, incident, kb, sid, trace, s_day, {})
    if bad_records:
        gw = np.flatnonzero(p.s_channel[p.sess] != _CH_MOBILE)
        okgw = gw[p.status[gw] == _ST_OK]
        if okgw.size >= 8:
            for frac, what in ((0.13, "truncated"), (0.41, "truncated"), (0.77, "truncated"), (0.62, "nul"),
                               (0.27, "logged_twice"), (0.5, "negative_latency")):
                pos = int(okgw[int(frac * (okgw.size - 1))])
                p.defects.setdefault(pos, []).append(what)
    return p


# --------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------
_ERRORS = {
    _ST_429: ("rate_limit_error", "Rate limit reached for requests. Please try again in {s}s.", "rate_limit_exceeded", 429),
    _ST_TIMEOUT: ("timeout", "Request timed out.", "timeout", 504),
    _ST_500: ("server_error", "The server had an error while processing your request. Sorry about that!", "server_error", 500),
}


def _file_for(day_ord: int, mobile: bool) -> str:
    d = date.fromordinal(day_ord).isoformat()
    return f"otel/mobile-bff-{d}.json" if mobile else f"gateway/{d}.jsonl.gz"


def _iter_records(p: _Plan, seed: int) -> Iterator[dict]:
    person = lru_cache(maxsize=8192)(lambda u: _person(seed, int(u)))
    flow_names = [f[0] for f in _FLOWS]

    @lru_cache(maxsize=4096)
    def story(s: int) -> _Story:
        lab = int(p.s_label[s])
        return _story(seed, s, person(int(p.s_insured[s])), INCIDENT_TYPES[int(p.s_incident[s])],
                      date.fromordinal(int(p.s_day[s])), flow_names[int(p.s_flow[s])],
                      TRIAGE_LABELS[lab] if lab >= 0 else "", int(p.s_channel[s]), int(p.s_kb[s]))

    @lru_cache(maxsize=2048)
    def content(s: int, step: int, task: int, label: int, ctx: int, gen: int) -> tuple:
        """(messages, tools, extra request keys, response message, finish reason) for one logical call."""
        st = story(s)
        r = random.Random(_key(seed, 3, s, step))
        phone = int(p.s_channel[s]) == _CH_PHONE
        extra: dict[str, Any] = {}
        tools = None
        if task == T_TRIAGE:
            msgs = [{"role": "system", "content": _TRIAGE_SYSTEM}, {"role": "user", "content": st.first_msg}]
            out = {"role": "assistant", "content": TRIAGE_LABELS[label]}
            extra["max_tokens"] = 10
        elif task == T_EXTRACT:
            text = st.fnol_msg
            if ctx:
                text = _grow(st, r, text + "\n\n--- attachments forwarded with the message ---", ctx, estimates=False)
            msgs = [{"role": "system", "content": _EXTRACT_SYSTEM},
                    {"role": "user", "content": _pick(r, _EXTRACT_ASKS) + text}]
            out = {"role": "assistant", "content": _extraction_answer(st)}
            extra["response_format"] = {"type": "json_object"}
        elif task == T_TOOL:
            msgs = [{"role": "system", "content": _TOOL_SYSTEM}, {"role": "user", "content": st.first_msg}]
            tools = TOOLS
            cid = "call_" + "".join(_ALNUM[int(r.random() * 62)] for _ in range(24))
            out = {"role": "assistant", "content": None, "tool_calls": [
                {"id": cid, "type": "function",
                 "function": {"name": st.tool_name, "arguments": orjson.dumps(st.tool_args).decode()}}]}
            extra["tool_choice"] = "auto"
        elif task == T_QA:
            entry = KNOWLEDGE_BASE[label]
            others = [i for i in (int(r.random() * len(KNOWLEDGE_BASE)) for _ in range(3)) if i != label][:2]
            ids = [label, *others]
            r.shuffle(ids)
            sys_ = _QA_SYSTEM_HEAD + "\n".join(f"[{KNOWLEDGE_BASE[i]['id']}] {KNOWLEDGE_BASE[i]['excerpt']}" for i in ids)
            if step > 0 and _FLOWS[int(p.s_flow[s])][1][step - 1] == T_QA:  # follow-up: the first Q&A is in context
                prev = content(s, step - 1, task, int(p.s_kb[s]), 0, 0)
                q = _question(label, r, phone)
                msgs = [{"role": "system", "content": sys_}, *prev[0][1:], prev[3], {"role": "user", "content": q}]
            else:
                q = st.first_msg if st.first_msg and int(p.s_label[s]) >= 0 else _question(label, r, phone)
                msgs = [{"role": "system", "content": sys_}, {"role": "user", "content": q}]
            out = {"role": "assistant", "content": _pick(r, entry["answers"])}
        elif task == T_SUMMARY:
            if flow_names[int(p.s_flow[s])] == "fnol":
                head_ctx = max(ctx, _tok(st.fnol_msg) + 120)
                notes = _claim_notes(st, r, head_ctx) + "\n\n[Original message from the insured]\n" + st.fnol_msg
            else:
                notes = _claim_notes(st, r, ctx)
            msgs = [{"role": "system", "content": _SUMMARY_SYSTEM}, {"role": "user", "content": "Claim file:\n\n" + notes}]
            out = {"role": "assistant", "content": _summary_answer(st, r)}
            extra["max_tokens"] = 400
        else:
            kind = REASONING_KINDS[label]
            req, facts = _reason_request(kind, st, r, ctx)
            msgs = [{"role": "system", "content": _REASON_SYSTEM}, {"role": "user", "content": req}]
            out = {"role": "assistant", "content": _reason_answer(kind, st, facts, r, gen)}
        prompt_tokens = sum(_tok(m["content"]) + 4 for m in msgs) + 3
        if tools is not None:
            prompt_tokens += _TOOLS_TOKENS
        if out.get("tool_calls"):
            completion = sum(_tok(t["function"]["name"]) + _tok(t["function"]["arguments"]) + 6 for t in out["tool_calls"])
            finish = "tool_calls"
        else:
            completion = _tok(out["content"]) + 1
            finish = "stop"
        return msgs, tools, extra, out, finish, prompt_tokens, completion

    n = p.ts_us.size
    chunk = 4096
    for c0 in range(0, n, chunk):
        c1 = min(n, c0 + chunk)
        stamps = (np.datetime_as_string(p.ts_us[c0:c1].astype("datetime64[us]"), unit="ms")).tolist()
        ts_l = p.ts_us[c0:c1].tolist()
        cols = [a[c0:c1].tolist() for a in (p.sess, p.step, p.attempt, p.task, p.label, p.model, p.status,
                                            p.err_ms, p.noise, p.load, p.ctx, p.gen, p.span)]
        rids = p.rid[c0:c1].tolist()
        for j in range(c1 - c0):
            s, step, att, task, label, model, status, err, noise, load, ctx, gen, span = (c[j] for c in cols)
            i = c0 + j
            msgs, tools, extra, out, finish, ptok, ctok = content(s, step, task, label, ctx, gen)
            chan = int(p.s_channel[s])
            model_name = MODELS[model]
            meta = {"session_id": f"sess_{int(p.s_sid[s]) & 0xFFFFFFFFFFFF:012x}"}
            if chan == _CH_WEB and task == T_TRIAGE:
                meta["workload_id"] = "triage-svc"
            elif chan == _CH_WEB and task == T_EXTRACT:
                meta["workload_id"] = "fnol-extract"
            u = int(p.s_user[s])
            user = f"adj-{1000 + u * 37 % 9000:04d}" if chan == _CH_DESK else f"member-{(u * 2654435761 + seed) % 10_000_000:07d}"
            request = {"model": model_name, "messages": msgs}
            if tools is not None:
                request["tools"] = tools
            request["temperature"] = _TEMPERATURE[task]
            request.update(extra)
            request["user"] = user
            request["metadata"] = meta
            rec: dict[str, Any] = {"timestamp": stamps[j] + "Z", "request": request}
            if status == _ST_OK:
                t0, pre, tpot = _LATENCY[model]
                lat = (t0 + ptok * pre + ctok * tpot) * noise * (1.0 + 0.15 * (load - 1.0))
                resp = {"id": "chatcmpl-" + rids[j].decode(), "object": "chat.completion", "created": ts_l[j] // 1_000_000,
                        "model": model_name, "choices": [{"index": 0, "message": out, "logprobs": None, "finish_reason": finish}],
                        "usage": {"prompt_tokens": ptok, "completion_tokens": ctok, "total_tokens": ptok + ctok}}
                if model != 2:
                    resp["system_fingerprint"] = "fp_" + ("7f4b9b" if model == 0 else "0ba0d1") + rids[j][:4].decode().lower()
                rec["response"] = resp
            else:
                typ, msg, code, http = _ERRORS[status]
                rec["response"] = None
                rec["error"] = {"type": typ, "message": msg.format(s=1 + int(noise * 3) % 20), "code": code, "status": http}
                lat = err
            rec["latency_ms"] = round(float(lat), 1)
            day = START.date().toordinal() + (ts_l[j] - p.start_us) // 86_400_000_000
            mobile = chan == _CH_MOBILE
            rec["_sink"] = "otel" if mobile else "gateway"
            rec["_file"] = _file_for(day, mobile)
            if mobile:
                rec["_otel"] = {"start_ns": ts_l[j] * 1000, "trace_id": f"{int(p.s_trace[s, 0]) & (2**64 - 1):016x}{int(p.s_trace[s, 1]) & (2**64 - 1):016x}",
                                "span_id": f"{span & (2**64 - 1):016x}", "session_id": meta["session_id"], "user": user}
            rec["_task"] = {"record": i, "task_type": TASK_TYPES[task], "label": _label_name(task, label),
                            "session": s, "step": step, "attempt": att, "defect": None}
            defects = p.defects.get(i)
            if defects:
                for what in defects:
                    if what in ("truncated", "nul"):
                        line = orjson.dumps({k: v for k, v in rec.items() if not k.startswith("_")})
                        raw = line[: int(len(line) * (0.35 + 0.4 * (i % 7) / 7))] if what == "truncated" else b"\x00" * 64
                        yield {"_raw": raw, "_sink": "gateway", "_file": rec["_file"], "_task": None}
                    elif what == "negative_latency":
                        rec["latency_ms"] = -rec["latency_ms"]
                        rec["_task"]["defect"] = "negative_latency"
                    elif what == "logged_twice":
                        rec["_task"]["defect"] = "logged_twice"
                yield rec
                if "logged_twice" in defects:
                    yield rec
            else:
                yield rec


_TOOLS_TOKENS = _tok(orjson.dumps(TOOLS).decode()) + 12


def _label_name(task: int, label: int) -> str | None:
    if task == T_TRIAGE:
        return TRIAGE_LABELS[label]
    if task == T_TOOL:
        return TOOL_NAMES[label]
    if task == T_QA:
        return KNOWLEDGE_BASE[label]["id"]
    if task in (T_EXTRACT, T_SUMMARY):
        return INCIDENT_TYPES[label]
    return REASONING_KINDS[label]


def generate_demo_calls(n_calls: int = 20_000, days: int = 30, seed: int = 7, bad_records: bool = True,
                        otel_share: float = 0.1) -> Iterator[dict]:
    """Yield the demo customer's logged calls in time order, one OpenAI request/response pair dict each.

    Exactly `n_calls` records (error records and their retries included: ~2% of records are errors,
    most followed a few seconds later by a retry of the same request in the same session). With
    `bad_records`, the stream also holds the defects the ingest quarantine must catch: 4 raw lines
    that are not JSON (dicts with `_raw` bytes instead of a record), one record with a negative
    latency, and one record yielded twice (same response id); tiny runs with fewer than 8 successful
    gateway records get none.

    Private keys, stripped by `write_demo_logs`: `_sink` ("gateway" or "otel"), `_file` (relative
    path it is written to), `_otel` (trace/span ids, for OTel records), `_task` (ground truth:
    record index, task_type, label, session, step, attempt, defect; None on raw lines).
    """
    plan = _plan(n_calls, days, seed, bad_records, otel_share)
    return _iter_records(plan, seed)


# --------------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------------
def _attr(key: str, v: Any) -> dict:
    if isinstance(v, bool):
        return {"key": key, "value": {"boolValue": v}}
    if isinstance(v, int):
        return {"key": key, "value": {"intValue": str(v)}}
    if isinstance(v, float):
        return {"key": key, "value": {"doubleValue": v}}
    if isinstance(v, (list, tuple)):
        return {"key": key, "value": {"arrayValue": {"values": [{"stringValue": str(x)} for x in v]}}}
    return {"key": key, "value": {"stringValue": str(v)}}


def _to_span(rec: dict) -> dict:
    """An OpenAI-pair record as an OpenTelemetry GenAI client span (OTLP JSON)."""
    req, resp, ot = rec["request"], rec.get("response"), rec["_otel"]
    start_ns = ot["start_ns"]
    end_ns = start_ns + int(max(rec["latency_ms"], 0.0) * 1e6)
    inputs = [{"role": m["role"], "parts": [{"type": "text", "content": m.get("content") or ""}]} for m in req["messages"]]
    attrs = [_attr("gen_ai.operation.name", "chat"), _attr("gen_ai.system", "openai"),
             _attr("gen_ai.provider.name", "openai"), _attr("gen_ai.request.model", req["model"]),
             _attr("gen_ai.request.temperature", float(req["temperature"])),
             _attr("gen_ai.conversation.id", ot["session_id"]), _attr("user.id", ot["user"]),
             _attr("server.address", "api.openai.com"),
             _attr("gen_ai.input.messages", orjson.dumps(inputs).decode())]
    if req.get("tools"):
        attrs.append(_attr("gen_ai.tool.definitions", orjson.dumps(req["tools"]).decode()))
    status = {"code": 1}
    if resp is not None:
        ch = resp["choices"][0]
        msg = ch["message"]
        parts: list[dict] = []
        if msg.get("content") is not None:
            parts.append({"type": "text", "content": msg["content"]})
        for tc in msg.get("tool_calls") or ():
            parts.append({"type": "tool_call", "id": tc["id"], "name": tc["function"]["name"],
                          "arguments": orjson.loads(tc["function"]["arguments"])})
        out = [{"role": "assistant", "parts": parts, "finish_reason": ch["finish_reason"]}]
        attrs += [_attr("gen_ai.response.model", resp["model"]), _attr("gen_ai.response.id", resp["id"]),
                  _attr("gen_ai.response.finish_reasons", [ch["finish_reason"]]),
                  _attr("gen_ai.usage.input_tokens", resp["usage"]["prompt_tokens"]),
                  _attr("gen_ai.usage.output_tokens", resp["usage"]["completion_tokens"]),
                  _attr("gen_ai.output.messages", orjson.dumps(out).decode())]
    else:
        err = rec["error"]
        attrs += [_attr("error.type", err["code"]), _attr("http.response.status_code", err["status"])]
        status = {"code": 2, "message": err["message"]}
    return {"traceId": ot["trace_id"], "spanId": ot["span_id"], "name": f"chat {req['model']}", "kind": 3,
            "startTimeUnixNano": str(start_ns), "endTimeUnixNano": str(end_ns), "attributes": attrs, "status": status}


_OTEL_HEAD = orjson.dumps({"resource": {"attributes": [
    _attr("service.name", "northwind-mobile-bff"), _attr("service.version", "3.14.2"),
    _attr("deployment.environment", "prod"), _attr("telemetry.sdk.language", "python")]}})
_OTEL_SCOPE = orjson.dumps({"name": "opentelemetry.instrumentation.openai_v2", "version": "2.1b0"})


class _OtelFile:
    """Streams one day's spans into an OTLP JSON document without holding them in memory."""

    def __init__(self, path: Path) -> None:
        self.f = open(path, "wb")
        self.f.write(b'{"resourceSpans":[' + _OTEL_HEAD[:-1] + b',"scopeSpans":[{"scope":' + _OTEL_SCOPE + b',"spans":[\n')
        self.n = 0

    def add(self, span: dict) -> None:
        self.f.write((b",\n" if self.n else b"") + orjson.dumps(span))
        self.n += 1

    def close(self) -> None:
        self.f.write(b"\n]}]}]}\n")
        self.f.close()


def write_demo_logs(out_dir: str | Path, n_calls: int = 20_000, days: int = 30, seed: int = 7,
                    bad_records: bool = True, otel_share: float = 0.1) -> list[Path]:
    """Write the demo customer's logs under out_dir and return the files written, sorted.

    Layout: `gateway/YYYY-MM-DD.jsonl.gz` (the LLM gateway's OpenAI request/response pairs, one gzip
    JSONL file per UTC day; gzip level 1, mtime 0, no file name) and `otel/mobile-bff-YYYY-MM-DD.json` (about `otel_share`
    of the calls, from the mobile app's backend, as one OTLP JSON ExportTraceServiceRequest per day).
    Byte-identical for the same arguments. Ground truth is not written: see `demo_ground_truth`.
    """
    out = Path(out_dir)
    (out / "gateway").mkdir(parents=True, exist_ok=True)
    if otel_share > 0:
        (out / "otel").mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    gz_name, gz_raw, gz = None, None, None
    ot_name, ot = None, None
    try:
        for rec in generate_demo_calls(n_calls, days, seed, bad_records, otel_share):
            name = rec["_file"]
            if rec["_sink"] == "otel":
                if name != ot_name:
                    if ot is not None:
                        ot.close()
                    ot_name, ot = name, _OtelFile(out / name)
                    written.append(out / name)
                ot.add(_to_span(rec))
                continue
            if name != gz_name:
                if gz is not None:
                    gz.close()
                    gz_raw.close()
                gz_name = name
                gz_raw = open(out / name, "wb")
                gz = gzip.GzipFile(filename="", mode="wb", fileobj=gz_raw, mtime=0, compresslevel=1)
                written.append(out / name)
            if "_raw" in rec:
                gz.write(rec["_raw"] + b"\n")
            else:
                gz.write(orjson.dumps({k: v for k, v in rec.items() if k[0] != "_"}) + b"\n")
    finally:
        if gz is not None:
            gz.close()
            gz_raw.close()
        if ot is not None:
            ot.close()
    return sorted(written)


def demo_ground_truth(n_calls: int = 20_000, days: int = 30, seed: int = 7, bad_records: bool = True,
                      otel_share: float = 0.1) -> pl.DataFrame:
    """Each logged record's seeded task, regenerated from the arguments (no text is rendered).

    One row per distinct record written (a record logged twice is one row, defect "logged_twice";
    the 4 invalid lines are not calls). Columns: record (position in time order), call_id (the
    response id for gateway records, "traceId:spanId" for OTel spans, null for gateway errors,
    which have no id: join those on file and line), timestamp, file, line (1-based line in the
    gateway file; null for OTel spans), trace_id and span_id (OTel), response_id (null for errors),
    session_id, step, attempt, task_type, label (triage label / tool name / KB entry id / incident
    type / reasoning kind), model, status ("ok" or "error"), error_code, defect.
    """
    p = _plan(n_calls, days, seed, bad_records, otel_share)
    R = p.ts_us.size
    mobile = p.s_channel[p.sess] == _CH_MOBILE
    day = START.date().toordinal() + (p.ts_us - p.start_us) // 86_400_000_000
    names = {(int(d), bool(m)): _file_for(int(d), bool(m)) for d, m in set(zip(day.tolist(), mobile.tolist()))}
    # extra gateway lines: invalid lines are written just before their record, a duplicate just after
    before = np.zeros(R, dtype=np.int64)
    after = np.zeros(R, dtype=np.int64)
    defect = [None] * R
    for pos, defects in p.defects.items():
        before[pos] += sum(d in ("truncated", "nul") for d in defects)
        after[pos] += "logged_twice" in defects
        for d in defects:
            if d in ("negative_latency", "logged_twice"):
                defect[pos] = d
    label_of = {t * 1000 + l: _label_name(t, l) for t, l in set(zip(p.task.tolist(), p.label.tolist()))}
    sid = {s: f"sess_{int(p.s_sid[s]) & 0xFFFFFFFFFFFF:012x}" for s in np.unique(p.sess).tolist()}
    mask = 2**64 - 1
    span_id = [f"{x & mask:016x}" if m else None for x, m in zip(p.span.tolist(), mobile.tolist())]
    tr = p.s_trace[p.sess]
    trace_id = [f"{a & mask:016x}{b & mask:016x}" if m else None
                for a, b, m in zip(tr[:, 0].tolist(), tr[:, 1].tolist(), mobile.tolist())]
    df = pl.DataFrame({
        "record": np.arange(R), "ts": p.ts_us, "mobile": mobile, "before": before, "after": after,
        "file": [names[(d, m)] for d, m in zip(day.tolist(), mobile.tolist())],
        "sess": p.sess, "step": p.step, "attempt": p.attempt, "task": p.task.astype(np.int64),
        "label": p.label.astype(np.int64), "model": p.model, "status": p.status, "rid": p.rid.astype(str),
    })
    line = (pl.int_range(1, pl.len() + 1).over("file") + pl.col("before").cum_sum().over("file")
            + pl.col("after").cum_sum().over("file") - pl.col("after"))
    return df.with_columns(
        pl.when(pl.col("mobile")).then(None).otherwise(line).cast(pl.Int64).alias("line"),
        pl.Series("span_id", span_id, dtype=pl.String),
        pl.Series("trace_id", trace_id, dtype=pl.String),
        pl.from_epoch("ts", time_unit="us").dt.replace_time_zone("UTC").alias("timestamp"),
        pl.when(pl.col("status") == _ST_OK).then(pl.lit("chatcmpl-") + pl.col("rid")).alias("response_id"),
        pl.col("sess").replace_strict(sid, return_dtype=pl.String).alias("session_id"),
        pl.col("task").replace_strict(dict(enumerate(TASK_TYPES)), return_dtype=pl.String).alias("task_type"),
        (pl.col("task") * 1000 + pl.col("label")).replace_strict(label_of, return_dtype=pl.String).alias("label"),
        pl.col("model").replace_strict(dict(enumerate(MODELS)), return_dtype=pl.String).alias("model"),
        pl.when(pl.col("status") == _ST_OK).then(pl.lit("ok")).otherwise(pl.lit("error")).alias("status"),
        pl.col("status").replace_strict({0: None, 1: "rate_limit_exceeded", 2: "timeout", 3: "server_error"},
                                        return_dtype=pl.String).alias("error_code"),
        pl.Series("defect", defect, dtype=pl.String),
    ).with_columns(
        pl.when(pl.col("mobile")).then(pl.col("trace_id") + ":" + pl.col("span_id"))
        .otherwise(pl.col("response_id")).alias("call_id"),
    ).select("record", "call_id", "timestamp", "file", "line", "trace_id", "span_id", "response_id", "session_id",
             "step", "attempt", "task_type", "label", "model", "status", "error_code", "defect")
