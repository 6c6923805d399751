"""Sessions: the flows a session follows, and each session's seeded story (customer, claim, first message)."""

from __future__ import annotations

import random
from datetime import date, timedelta

from fde_toolkit.synth.catalog import _CH_PHONE, T_EXTRACT, T_QA, T_REASON, T_SUMMARY, T_TOOL, T_TRIAGE
from fde_toolkit.synth.claim_extraction import _fnol_message
from fde_toolkit.synth.claims import _ADJUSTERS, _AMOUNT_RANGE, _INCIDENTS, _INJURY_NO, _INJURY_YES, _STATUS
from fde_toolkit.synth.intent_triage import _customer_message
from fde_toolkit.synth.pii import _address
from fde_toolkit.synth.policy_qa import _question
from fde_toolkit.synth.story import _key, _Person, _Story
from fde_toolkit.synth.text import _pick
from fde_toolkit.synth.tool_call import _LABEL_TOOL, _tool_message
from fde_toolkit.synth.vocab import _CITIES, _HIGHWAYS, _STREETS, _SUFFIXES

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


def _location(r: random.Random, where: str, person: _Person) -> tuple[str, str]:
    """Where the loss happened and how the customer phrases it ({loc} left open), for a kind of place."""
    if where == "home":
        return person.address, _pick(r, ("at my home, {loc}", "at our house at {loc}", "at {loc}"))
    x = {"road": 0.0, "xing": 0.5, "lot": 0.9, "auto": r.random()}[where]
    city, state, _ = _pick(r, _CITIES)
    if x < 0.4:
        return f"{_pick(r, _HIGHWAYS)} near {city}, {state}", "on {loc}"
    if x < 0.75:
        location = (f"{_pick(r, _STREETS)} {_pick(r, _SUFFIXES)} and {_pick(r, _STREETS)} "
                    f"{_pick(r, _SUFFIXES)} in {city}, {state}")
        return location, "at the intersection of {loc}"
    location = _address(r)
    return location, _pick(r, ("in the parking lot at {loc}", "outside {loc}", "near {loc}"))


def _injuries(r: random.Random, itype: str, home: bool) -> tuple[bool | None, str, str]:
    """(anyone hurt, as the customer writes it, as the claim file states it); None when the message is silent."""
    inj_p = {"collision": 0.3, "animal_collision": 0.15, "liability": 0.0}.get(itype, 0.0)
    if itype == "liability" and home:
        return True, "the guest went to the emergency room", "the guest went to the emergency room"
    if r.random() < 0.13:
        return None, "", ""
    if r.random() < inj_p:
        return (True, *_pick(r, _INJURY_YES))
    return False, _pick(r, _INJURY_NO), ""


def _first_message(story: _Story, r: random.Random, flow: str, label: str, phone: bool, kb: int) -> None:
    """Set the session's first customer message (and, after a loss, the FNOL message) for its flow and label."""
    if flow == "fnol":
        story.fnol_msg = _fnol_message(story, r, phone)
        story.first_msg = story.fnol_msg if r.random() < 0.4 else _customer_message(label, story, r, phone)
    elif label in _LABEL_TOOL:
        story.first_msg = _tool_message(label, story, r, phone, story.day)
    elif label == "coverage_question":
        story.first_msg = _question(kb, r, phone)
    elif label:
        story.first_msg = _customer_message(label, story, r, phone)


def _story(seed: int, s: int, person: _Person, itype: str, session_day: date, flow: str, label: str,
           channel: int, kb: int) -> _Story:
    """Session s's story: its claim (incident, place, dates, amount, injuries, status) and first message."""
    r = random.Random(_key(seed, 2, s))
    fp, tp, short, where = _pick(r, _INCIDENTS[itype])
    home = where == "home"
    veh = person.vehicle
    fp, tp = fp.format(vehicle=veh), tp.format(vehicle=veh)
    loss_date = session_day - timedelta(days=int(r.random() * 12))
    location, loc_phrase = _location(r, where, person)
    lo, hi = _AMOUNT_RANGE[itype]
    amount = int(lo + (hi - lo) * r.random() ** 1.6) // 10 * 10 if r.random() < 0.78 else None
    injuries, injury_text, injury_tp = _injuries(r, itype, home)
    st = _STATUS[int(r.random() * len(_STATUS))]
    claim = f"CLM-{int(r.random() * 90_000_000) + 10_000_000}"
    report_date = min(loss_date + timedelta(days=int(r.random() * 3)), session_day)
    story = _Story(person, claim, itype, fp, tp, short, home, loss_date, report_date, location,
                   loc_phrase.format(loc=location), amount, injuries, injury_text, injury_tp, st, _pick(r, _ADJUSTERS),
                   session_day)
    _first_message(story, r, flow, label, channel == _CH_PHONE, kb)
    return story
