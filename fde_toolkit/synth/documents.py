"""Long documents: attachments and claim notes, grown to a token target drawn from the Azure shape."""

from __future__ import annotations

import random
from datetime import timedelta
from functools import lru_cache

from fde_toolkit.synth.claims import _ADJUSTERS
from fde_toolkit.synth.pii import _phone
from fde_toolkit.synth.story import _Story
from fde_toolkit.synth.text import _money, _pick
from fde_toolkit.synth.vocab import _FIRST, _LAST, _SHOPS

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


_MEDICAL_ITEMS = ("Emergency room visit", "X-ray, cervical spine", "Physical therapy session", "Orthopedic consult",
                  "Urgent care visit", "Prescription")
_PROVIDERS = ("St. Mary Medical Center", "Lakeside Urgent Care", "Summit Orthopedics", "Harbor Physical Therapy")
_PHOTOS_1 = ("overall view", "close-up of the damage", "odometer reading", "VIN plate", "interior ceiling stain",
             "debris in the driveway")
_PHOTOS_2 = ("scrape marks", "broken glass", "water line on drywall", "hail dents on the roof", "other vehicle")
_EMAIL_LINES = ("Hi, just checking on the claim.", "Attached are the receipts you asked for.",
                "When can the inspector come out?", "The shop says they need approval before starting.")
_DIARY_CONTACTS = ("Left voicemail for the insured at", "Spoke with the insured at", "Texted the insured at")
_DIARY_TOPICS = ("confirmed the loss details", "requested photos of the damage", "explained the rental process",
                 "discussed the repair timeline", "insured asked about the deductible")
_DIARY_NEXT = ("Diary set for 3 days.", "Will follow up after the inspection.", "Awaiting documents.",
               "No further action today.")


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
        return (f"[Attachment: {_pick(r, ('fire department', 'police', 'municipal'))} incident report] Unit responded "
                f"to {{location}} at {7 + int(r.random() * 14):02d}:{int(r.random() * 60):02d}. Resident {{name}} "
                f"stated that {{tp}}. Neighbor {_pick(r, _FIRST)} {_pick(r, _LAST)} ({_phone(r)}) confirmed the "
                f"timeline. Scene secured; incident number {20260000 + int(r.random() * 99999)}.")
    if k == 1:
        return (f"[Attachment: police report excerpt] Reporting officer {_pick(r, _FIRST)} {_pick(r, _LAST)}, badge "
                f"{1000 + int(r.random() * 8999)}. Officer responded to {{location}} at {7 + int(r.random() * 14):02d}:"
                f"{int(r.random() * 60):02d}. Reporting party {{name}} stated that {{tp}}. Witness "
                f"{_pick(r, _FIRST)} {_pick(r, _LAST)} ({_phone(r)}) corroborated the sequence of events. Road surface "
                f"{_pick(r, ('dry', 'wet', 'icy', 'snow-covered'))}, visibility {_pick(r, ('good', 'fair', 'poor'))}. "
                f"No citations issued at the scene; report number {20260000 + int(r.random() * 99999)}.")
    if k == 2:
        q, a = _pick(r, _STATEMENT_QA[home])
        end = _pick(r, ("No, that is everything.", "Only that I need this fixed quickly.",
                        "I sent photos to the email you gave me."))
        return f"[Recorded statement, {d}] Q: {q} A ({{first}}): {a} Q: Anything else we should know? A: {end}"
    if k == 4:
        lines = [(_pick(r, _MEDICAL_ITEMS), 80 + int(r.random() * 2400)) for _ in range(2 + int(r.random() * 4))]
        body = "; ".join(f"{n} {_money(v)}" for n, v in lines)
        return f"[Attachment: medical bills, provider {_pick(r, _PROVIDERS)}, patient {{name}}] {body}."
    if k == 5:
        return (f"[Photo log] IMG_{int(r.random() * 9000) + 1000}.jpg: {_pick(r, _PHOTOS_1)}; "
                f"IMG_{int(r.random() * 9000) + 1000}.jpg: {_pick(r, _PHOTOS_2)}. "
                "Uploaded by the insured from {email}.")
    if k == 6:
        return (f"[Email from insured, {d}] From: {{email}}. {_pick(r, _EMAIL_LINES)} "
                f"{_pick(r, ('My address is', 'The car is at', 'Mail the check to'))} {{address}}. {{first}}")
    return (f"{d} {7 + int(r.random() * 11):02d}:{int(r.random() * 60):02d} ({_pick(r, _ADJUSTERS)}): "
            f"{_pick(r, _DIARY_CONTACTS)} {{phone}}; {_pick(r, _DIARY_TOPICS)}. {_pick(r, _DIARY_NEXT)}")


_BANK_SIZE = 256


@lru_cache(maxsize=1)
def _doc_bank() -> dict[tuple[bool, int], tuple[str, ...]]:
    """Pre-rendered paragraph templates per (home loss, kind); filling one is a single format_map."""
    r = random.Random(0x0DDBA11)
    return {(home, k): tuple(_doc_template(k, home, r) for _ in range(_BANK_SIZE))
            for home in (False, True) for k in range(7)}


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
