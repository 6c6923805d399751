"""Seeded stories: a customer's identity and a session's claim, and the slots templates are filled from."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from fde_toolkit.synth.pii import _address, _card, _email, _phone
from fde_toolkit.synth.text import _fmt_date, _pick
from fde_toolkit.synth.vocab import _CITIES, _FIRST, _HIGHWAYS, _LAST, _VEHICLES


def _key(seed: int, tag: int, a: int, b: int = 0) -> int:
    """A random.Random seed unique to (seed, what is drawn: 1 person, 2 story, 3 call, which one, which step)."""
    return (((seed & 0xFFFFFFFF) * 16 + tag) << 48 | (a & 0xFFFFFFFFFF)) << 8 | (b & 0xFF)


@dataclass(frozen=True)
class _Person:
    """A customer's identity and PII."""

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
    """Customer u's identity: the same in every session they open."""
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


def _slots(st: _Story, r: random.Random) -> dict[str, str]:
    """The values a customer-message template's {slots} are filled with."""
    p = st.p
    inc = st.fp
    return {
        "policy": p.policy, "claim": st.claim, "vehicle": p.vehicle, "first": p.first, "name": p.name,
        "email": p.email, "phone": p.phone, "card": p.card, "card4": p.card.replace(" ", "").replace("-", "")[-4:],
        "card_exp": f"{1 + int(r.random() * 12):02d}/{28 + int(r.random() * 4)}", "address": p.address,
        "city": _pick(r, _CITIES)[0], "highway": _pick(r, _HIGHWAYS), "incident": inc,
        "Incident": inc[0].upper() + inc[1:], "date": _fmt_date(st.report_date + timedelta(days=14), r),
    }
